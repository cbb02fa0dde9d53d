"""The node image: a minimal Debian with python3 and kubetui's node agent.

kind ships a prebuilt ``kindest/node`` image from a registry. Classrooms and
these machines often have no registry, so kubetui can build its node image
offline: ``debootstrap`` a minimal Debian (python3, iproute2, iptables,
procps, busybox) into a folder, ``docker import`` it as the base, then layer the node
agent (kubelet, runtime, kube-proxy, built-in workloads) on top. Where a
registry is reachable, ``assets/node/Dockerfile`` builds the same image
``FROM python:3.11-slim-bookworm``.

Debian's ``busybox`` puts one ``/bin/busybox`` on the node and nothing else
(no applet links, so the node's own ``sh`` stays dash and ``ip`` stays
iproute2's): the runtime links its applets into a directory that only
containers of the built-in ``busybox`` image have first on ``PATH``
(``kubetui.runtime.busybox``). Not ``busybox-static``: that build's ash runs
its own applets before searching PATH (``FEATURE_SH_STANDALONE``), so its
crashing ``wget -T`` could not be wrapped (measured).

Images are tagged by a hash of their inputs, so each is built once and reused.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Callable

import docker
import docker.errors

import kubetui

log = logging.getLogger(__name__)

BASE_REPO = "kubetui/node-base"
NODE_REPO = "kubetui/node"
SUITE = "bookworm"
PACKAGES = ("python3", "iproute2", "iptables", "procps", "busybox")
# Bump when the recipe below changes: it is part of the base image's tag.
BASE_RECIPE = f"debootstrap minbase {SUITE} {' '.join(PACKAGES)} strip-v1"

# The node agent's packages: standard library only, copied into the image.
AGENT_PACKAGES = ("agent", "kubelet", "runtime", "workloads", "proxy", "dns", "netpol")
PKG_ROOT = Path(kubetui.__file__).parent
ENTRYPOINT = Path(__file__).with_name("entrypoint.sh")

Progress = Callable[[str, str], None]


class ImageError(Exception):
    """The node image cannot be built here; the message says what to do."""


def _noop(phase: str, detail: str) -> None:
    pass


def base_tag() -> str:
    return f"{BASE_REPO}:{SUITE}-{hashlib.sha256(BASE_RECIPE.encode()).hexdigest()[:10]}"


def agent_files() -> list[tuple[Path, str]]:
    """(source path, path inside the image) for every file of the node agent."""
    files = [(PKG_ROOT / "__init__.py", "kubetui/__init__.py"), (ENTRYPOINT, "entrypoint.sh")]
    for pkg in AGENT_PACKAGES:
        root = PKG_ROOT / pkg
        if not root.is_dir():
            continue
        for p in sorted(root.rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts and p.suffix in (".py", ".sh", ".txt", ".json"):
                files.append((p, f"kubetui/{p.relative_to(PKG_ROOT)}"))
    return files


def node_tag() -> str:
    """``kubetui/node:<hash>``: the hash covers the base recipe and every agent file."""
    h = hashlib.sha256(BASE_RECIPE.encode())
    h.update(DOCKERFILE.encode())
    for src, dst in agent_files():
        h.update(dst.encode())
        h.update(src.read_bytes())
    return f"{NODE_REPO}:{h.hexdigest()[:12]}"


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses (it is reachable; others may not be)."""
    for f in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        m = re.search(r"^URIs:\s*(\S+)", f.read_text(), re.M)
        if m and "security" not in m.group(1):
            return m.group(1)
    sl = Path("/etc/apt/sources.list")
    if sl.exists():
        m = re.search(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+\S+", sl.read_text(), re.M)
        if m:
            return m.group(1)
    return "http://deb.debian.org/debian"


def image_exists(client: docker.DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def build_base(client: docker.DockerClient, progress: Progress = _noop) -> str:
    """debootstrap + strip + ``docker import``; about a minute, once."""
    tag = base_tag()
    if image_exists(client, tag):
        return tag
    if not shutil.which("debootstrap"):
        raise ImageError("building the node image offline needs debootstrap: "
                         "run `apt-get install debootstrap` (or use a machine that can pull python:3.11-slim)")
    if os.geteuid() != 0:
        raise ImageError("debootstrap needs root to build the node image: run `sudo kubetui image build` once")
    mirror = debian_mirror()
    with tempfile.TemporaryDirectory(prefix="kubetui-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        progress("debootstrap", f"installing a minimal Debian {SUITE} with {', '.join(PACKAGES)} from {mirror}")
        r = subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(rootfs), mirror],
            capture_output=True, text=True)
        if r.returncode != 0:
            tail = (r.stdout + r.stderr).strip().splitlines()[-3:]
            raise ImageError(f"debootstrap failed (is the Debian mirror {mirror} reachable?): {' | '.join(tail)}")
        progress("strip", "removing apt caches, docs and locales (keeping .pyc files: they halve start-up)")
        for sub in ("var/cache/apt", "var/lib/apt/lists", "usr/share/doc", "usr/share/man",
                    "usr/share/info", "usr/share/locale", "usr/share/lintian", "usr/lib/x86_64-linux-gnu/gconv"):
            d = rootfs / sub
            if d.is_dir():
                for child in d.iterdir():
                    shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink()
        # Byte-compile the stdlib once so every python3 start in a node is fast.
        subprocess.run(["chroot", str(rootfs), "python3", "-m", "compileall", "-q", "-j0",
                        "/usr/lib/python3.11"], capture_output=True)
        progress("import", f"docker import of the root filesystem as {tag}")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imp = subprocess.run(["docker", "import", "-c", 'CMD ["/bin/bash"]', "-", tag],
                             stdin=tar.stdout, capture_output=True, text=True)
        tar.wait()
        if imp.returncode != 0:
            raise ImageError(f"docker import failed: {imp.stderr.strip()}")
    return tag


# The built-in images (kubetui/hello, busybox, ...) are built from the base's own Debian files in a
# stage of their own (kubetui.runtime.imagebuild) and baked into the node image as a read-only image
# store. The stage copies only what it runs, so a change to the kubelet does not rebuild them.
IMAGES_STAGE_FILES = ("__init__.py", "workloads", "dns", "agent", "runtime/__init__.py", "runtime/busybox.py",
                      "runtime/cri.py", "runtime/images.py", "runtime/imagestore.py", "runtime/imagearchive.py",
                      "runtime/imagebuild.py", "runtime/imageref.py")
BUILTIN_STORE = "/var/lib/kubetui/images"

DOCKERFILE = """\
FROM {base} AS images
{images_copy}
RUN python3 -m compileall -q /opt/kubetui && PYTHONPATH=/opt/kubetui python3 -m kubetui.runtime.imagebuild {store}

FROM {base}
# The node's agents run with python3 -OO (no docstrings in memory: ~1 MiB of each node), so the
# standard library gets its opt-2 bytecode too; before the agents' files, so this layer is kept
# when they change.
RUN python3 -m compileall -q -j0 -o 2 /usr/lib/python3.11 >/dev/null 2>&1; true
COPY --from=images {store} {store}
COPY kubetui /opt/kubetui/kubetui
COPY entrypoint.sh /usr/local/bin/kubetui-node-entrypoint
RUN chmod +x /usr/local/bin/kubetui-node-entrypoint && python3 -m compileall -q -o 0 -o 2 /opt/kubetui
ENV PYTHONPATH=/opt/kubetui PYTHONDONTWRITEBYTECODE=1
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/kubetui-node-entrypoint"]
"""


def dockerfile(base: str) -> str:
    copies = "\n".join(f"COPY kubetui/{f} /opt/kubetui/kubetui/{f}" for f in IMAGES_STAGE_FILES)
    return DOCKERFILE.format(base=base, images_copy=copies, store=BUILTIN_STORE)


def build_node_image(client: docker.DockerClient | None = None, progress: Progress = _noop,
                     force: bool = False) -> str:
    """The node image for this version of the agent, built if missing. Returns its tag."""
    client = client or docker.from_env()
    tag = node_tag()
    if not force and image_exists(client, tag):
        progress("cached", f"node image {tag} is already built")
        return tag
    base = build_base(client, progress)
    progress("agent", f"layering the kubelet, kube-proxy and workloads on {base}, and building the "
                      f"built-in images (kubetui/hello, busybox, ...) from its files")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        df = dockerfile(base).encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(df)
        tar.addfile(info, io.BytesIO(df))
        for src, dst in agent_files():
            tar.add(str(src), arcname=dst)
    buf.seek(0)
    try:
        client.images.build(fileobj=buf, custom_context=True, tag=tag, rm=True,
                            labels={"io.kubetui.image": "node"})
    except docker.errors.BuildError as e:
        raise ImageError(f"building {tag} failed: {e}") from e
    progress("done", f"node image {tag} ready")
    return tag


def save_image(path: Path, client: docker.DockerClient | None = None) -> str:
    """``docker save`` the current node image to a file a teacher can hand out."""
    client = client or docker.from_env()
    tag = build_node_image(client)
    with open(path, "wb") as f:
        for chunk in client.images.get(tag).save(named=True):
            f.write(chunk)
    return tag


def load_image(path: Path, client: docker.DockerClient | None = None) -> list[str]:
    client = client or docker.from_env()
    with open(path, "rb") as f:
        images = client.images.load(f.read())
    return [t for img in images for t in img.tags]
