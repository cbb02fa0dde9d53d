"""The built-in image catalogue: kubetui's stand-in for a registry (upstream: the CRI ImageService).

A real node pulls ``nginx:1.25`` from a registry. kubetui is offline, so an
image name picks one of the small programs shipped with the node
(``kubetui.workloads``). Each entry has an ENTRYPOINT and a CMD, and a pod's
``command``/``args`` override them exactly as Kubernetes documents
("Define a command and arguments for a container"):

===========  ========  ======================================
command      args      runs
===========  ========  ======================================
unset        unset     ENTRYPOINT + CMD
unset        set       ENTRYPOINT + args
set          unset     command
set          set       command + args
===========  ========  ======================================

This catalogue is what the local provider runs (programs on the host) and
what ``imagebuild`` turns into real images for Docker nodes, where each
container gets the image's own root filesystem. On the local provider the
``busybox`` image runs BusyBox's applets (``kubetui.runtime.busybox``) on the
host's files.

An unknown image fails like a missing tag does on a real node: ErrImagePull,
then ImagePullBackOff, with a message listing what is available.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from kubetui.runtime.cri import ImagePullError

#: stands for the node's Python interpreter in an entrypoint
PYTHON = "{python}"


@dataclass(frozen=True)
class Image:
    name: str                      # repository, e.g. "kubetui/hello"
    tag: str
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    description: str = ""
    size_bytes: int = 5_000_000
    #: run with BusyBox's applets first on PATH where the node has BusyBox (kubetui.runtime.busybox)
    busybox: bool = False

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.tag}"

    @property
    def image_id(self) -> str:
        """A stable content-address-like ID (``sha256:...``), as ``kubectl describe`` shows."""
        return "sha256:" + hashlib.sha256(self.ref.encode()).hexdigest()


def _py(module: str) -> tuple[str, ...]:
    return (PYTHON, "-m", f"kubetui.workloads.{module}")


_CATALOGUE: list[Image] = [
    Image("kubetui/hello", "1", _py("hello"), env={"KUBETUI_VERSION": "1"},
          description="web server on :8080 answering its pod name, node and version"),
    Image("kubetui/hello", "2", _py("hello"), env={"KUBETUI_VERSION": "2"},
          description="the same web server, version 2 (for rolling updates)"),
    Image("kubetui/hello", "broken", _py("hello"), env={"KUBETUI_VERSION": "broken"},
          description="the web server whose /healthz always fails: never becomes ready"),
    Image("kubetui/crash", "latest", _py("crash"),
          description="prints a message and exits 1 after a few seconds (CrashLoopBackOff)"),
    Image("kubetui/memhog", "latest", _py("memhog"),
          description="allocates memory until its limit kills it (OOMKilled)"),
    Image("kubetui/cpuhog", "latest", _py("cpuhog"),
          description="burns CPU (see throttling under a CPU limit, kubectl top)"),
    Image("kubetui/kv", "latest", _py("kv"),
          description="key-value HTTP store on :8080 persisting to /data (volumes)"),
    Image("kubetui/loadgen", "latest", _py("loadgen"),
          description="sends N requests to a URL and prints which pods answered"),
    Image("kubetui/prober", "latest", _py("prober"),
          description="probes Services once a second, one JSON line each (a failure drill's SLO prober)"),
    Image("kubetui/dns", "1", (PYTHON, "-m", "kubetui.dns"),
          description="the cluster DNS server (what kube-system/kube-dns runs; CoreDNS's role)"),
    # busybox: no ENTRYPOINT, CMD ["sh"], like the real image. Any tag is accepted. Its sh, wget,
    # nslookup, ... are the node's BusyBox (Docker nodes have busybox); on a node without
    # BusyBox (the local provider on a host without it) they are the node's dash and tools.
    Image("busybox", "latest", (), ("sh",), busybox=True,
          description="BusyBox: ash, wget, nslookup, nc, httpd, ... (the node's own tools where "
                      "the node has no BusyBox); any tag"),
]

_ANY_TAG = {"busybox"}


def parse_ref(image: str) -> tuple[str, str]:
    """``docker.io/library/busybox:1.36`` -> (``busybox``, ``1.36``); no tag means ``latest``.

    >>> parse_ref("kubetui/hello:2")
    ('kubetui/hello', '2')
    """
    ref = image.strip()
    if "@" in ref:                       # digests name no image of ours
        ref = ref.split("@", 1)[0]
    # Docker Hub's spellings, and the Kubernetes project's own registry (old and new name): the
    # Kubernetes documentation's manifests say registry.k8s.io/busybox, which is busybox.
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/library/", "library/",
                   "registry.k8s.io/", "k8s.gcr.io/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix):]
    name, tag = ref, "latest"
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = ref.rsplit(":", 1)
    return name, tag


def available() -> list[str]:
    """Every image a pod may use, for error messages and Node.status.images."""
    return [img.ref for img in _CATALOGUE]


def catalogue() -> list[Image]:
    return list(_CATALOGUE)


def resolve(image: str) -> Image:
    """The built-in image an image reference names, or ``ImagePullError``."""
    name, tag = parse_ref(image)
    for img in _CATALOGUE:
        if img.name == name and (img.tag == tag or name in _ANY_TAG):
            return img
    if name == "kubetui/hello" and tag == "latest":
        return resolve("kubetui/hello:1")
    raise ImagePullError(
        f'Failed to pull image "{image}": kubetui nodes have no registry; '
        f"the images available are: {', '.join(available())} (busybox with any tag)")


def container_argv(img: Image, command: list[str] | None, args: list[str] | None,
                   python: str) -> list[str]:
    """The process a container runs, applying Kubernetes' command/args rules (table above)."""
    if command:
        argv = list(command) + list(args or [])
    elif args:
        argv = list(img.entrypoint) + list(args)
    else:
        argv = list(img.entrypoint) + list(img.cmd)
    return [python if a == PYTHON else a for a in argv]
