"""Moving container images from the host's Docker engine into node containers (kind's ``load docker-image``).

Upstream: kind's ``pkg/cmd/kind/load/docker-image`` (``docker save`` the
image, then ``ctr images import`` it inside each node) and ``load
image-archive``. kubetui does the same: one ``docker save`` stream written
to a temporary file, copied into every node at once (``put_archive``, one
thread per node), then ``python3 -m kubetui.runtime.imagestore import`` in
the node unpacks it into the node's content-addressed image store.

The Docker calls sit behind two small interfaces, ``HostEngine`` (the
host's engine: inspect, pull, save) and ``NodeTransport`` (the cluster's
node containers: copy a file in, run a command), so the pull-through path
(``kubetui/cluster/imagepulls.py``) is tested against fakes.
"""

from __future__ import annotations

import json
import logging
import os
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol

import docker
import docker.errors

from kubetui.providers.docker.nodespec import KUBELET_ROOT, LABEL_CLUSTER, LABEL_NODE, LABEL_ROLE

log = logging.getLogger(__name__)

#: where archives wait in a node before the image store imports them (the kubelet's Docker volume: no
#: directory to create first, and on the same filesystem as the store)
IMPORT_DIR = KUBELET_ROOT
IMAGESTORE = ["python3", "-m", "kubetui.runtime.imagestore"]
CHUNK = 1 << 20


class EngineError(Exception):
    """The host's engine could not do it; the message is the engine's own."""


@dataclass(frozen=True)
class EngineImage:
    id: str
    repo_tags: tuple[str, ...] = ()
    size: int = 0


class HostEngine(Protocol):
    """The host's Docker engine, as far as images go."""

    def inspect(self, ref: str) -> EngineImage | None: ...

    def pull(self, ref: str, auth: dict | None = None) -> EngineImage:
        """Pull from a registry; ``EngineError`` with the engine's message when it cannot."""

    def save(self, refs: list[str]) -> Iterable[bytes]:
        """``docker save`` of the images (tags kept), as a stream of chunks."""


class NodeTransport(Protocol):
    """The cluster's node containers."""

    def nodes(self) -> list[str]: ...

    def put_file(self, node: str, path: str, source: Path) -> None: ...

    def run(self, node: str, argv: list[str]) -> tuple[int, str]: ...


# -- Docker implementations ----------------------------------------------------------------

class DockerEngine:
    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client

    def inspect(self, ref: str) -> EngineImage | None:
        try:
            img = self.client.images.get(ref)
        except docker.errors.ImageNotFound:
            return None
        except docker.errors.APIError as e:
            raise EngineError(e.explanation or str(e)) from None
        return EngineImage(img.id, tuple(img.tags), int(img.attrs.get("Size") or 0))

    def pull(self, ref: str, auth: dict | None = None) -> EngineImage:
        repo, tag = split_tag(ref)
        try:
            self.client.images.pull(repo, tag=tag, auth_config=auth or None)
        except docker.errors.APIError as e:
            raise EngineError(e.explanation or str(e)) from None
        found = self.inspect(ref)
        if found is None:
            raise EngineError(f"{ref}: pulled, but the engine does not have it")
        return found

    def save(self, refs: list[str]) -> Iterable[bytes]:
        try:
            if len(refs) == 1:
                return self.client.api.get_image(refs[0], chunk_size=CHUNK)
            return self.client.api.get_images(refs, chunk_size=CHUNK) if hasattr(self.client.api, "get_images") \
                else self._save_many(refs)
        except docker.errors.APIError as e:
            raise EngineError(e.explanation or str(e)) from None

    def _save_many(self, refs: list[str]) -> Iterator[bytes]:
        res = self.client.api._get(self.client.api._url("/images/get"), params={"names": refs}, stream=True)
        self.client.api._raise_for_status(res)
        yield from res.iter_content(CHUNK)


class DockerNodes:
    """A cluster's node containers, found by their labels (the source of truth, as in kind)."""

    def __init__(self, client: docker.DockerClient, cluster: str) -> None:
        self.client = client
        self.cluster = cluster
        self._containers: dict[str, object] = {}

    def nodes(self) -> list[str]:
        found = self.client.containers.list(
            filters={"label": [f"{LABEL_CLUSTER}={self.cluster}", f"{LABEL_ROLE}=node"], "status": "running"})
        self._containers = {c.labels.get(LABEL_NODE, c.name): c for c in found}
        return sorted(self._containers)

    def _container(self, node: str):
        if node not in self._containers:
            self.nodes()
        try:
            return self._containers[node]
        except KeyError:
            raise EngineError(f"node {node} is not running in cluster {self.cluster}") from None

    def put_file(self, node: str, path: str, source: Path) -> None:
        c = self._container(node)
        self.client.api.put_archive(c.id, os.path.dirname(path), _tar_of_one(os.path.basename(path), source))

    def run(self, node: str, argv: list[str]) -> tuple[int, str]:
        rc, out = self._container(node).exec_run(argv, environment={"PYTHONPATH": "/opt/kubetui"})
        return rc, (out or b"").decode(errors="replace")


def _tar_of_one(name: str, source: Path) -> Iterator[bytes]:
    """A tar stream holding one file, produced while it is sent (no second copy of a big archive)."""
    size = source.stat().st_size
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o600, int(time.time())
    yield info.tobuf(format=tarfile.GNU_FORMAT)
    with open(source, "rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk
    yield b"\0" * ((512 - size % 512) % 512) + b"\0" * 1024


def split_tag(ref: str) -> tuple[str, str]:
    """``nginx`` -> (``nginx``, ``latest``); ``host:5000/app:1`` -> (``host:5000/app``, ``1``)."""
    if "@" in ref:
        repo, digest = ref.split("@", 1)
        return repo, digest
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = ref.rsplit(":", 1)
        return repo, tag
    return ref, "latest"


# -- loading ------------------------------------------------------------------------------------

@dataclass
class NodeLoad:
    node: str
    seconds: float = 0.0
    error: str = ""
    output: str = ""


@dataclass
class LoadResult:
    images: list[str]
    bytes: int = 0
    save_seconds: float = 0.0
    nodes: list[NodeLoad] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(not n.error for n in self.nodes)


def import_into(transport: NodeTransport, node: str, archive: Path, label: str = "") -> NodeLoad:
    """Copy an archive into one node and import it into the node's image store.

    ``label`` names the archive in errors (the node's temporary copy means nothing to the user)."""
    started = time.monotonic()
    target = f"{IMPORT_DIR}/image-import-{os.getpid()}-{time.monotonic_ns()}.tar"
    try:
        transport.put_file(node, target, archive)
        # one exec: import, then remove the archive whatever happened
        rc, out = transport.run(node, ["sh", "-c", f'{" ".join(IMAGESTORE)} import "$1"; rc=$?; rm -f "$1"; exit $rc',
                                       "import", target])
    except (EngineError, docker.errors.APIError, OSError) as e:
        return NodeLoad(node, time.monotonic() - started, error=str(e))
    if rc != 0:
        last = out.strip().splitlines()[-1] if out.strip() else f"import exited {rc}"
        return NodeLoad(node, time.monotonic() - started, error=last.replace(target, label or archive.name))
    return NodeLoad(node, time.monotonic() - started, output=out)


def load_archive(transport: NodeTransport, archive: Path, nodes: list[str] | None = None,
                 images: list[str] | None = None) -> LoadResult:
    """``kubetui image load --archive``: one archive into every node (or ``nodes``), all at once."""
    targets = nodes or transport.nodes()
    result = LoadResult(images or [str(archive)], archive.stat().st_size)
    if not targets:
        return result
    with ThreadPoolExecutor(max_workers=len(targets), thread_name_prefix="image-load") as pool:
        label = str(archive) if not images else f"the docker save of {', '.join(images)}"
        result.nodes = list(pool.map(lambda n: import_into(transport, n, archive, label), targets))
    return result


def load_images(engine: HostEngine, transport: NodeTransport, refs: list[str], nodes: list[str] | None = None,
                progress: Callable[[str, str], None] = lambda p, d: None) -> LoadResult:
    """``kubetui image load NAME...``: ``docker save`` once, then into every node in parallel."""
    missing = [r for r in refs if engine.inspect(r) is None]
    if missing:
        raise EngineError(f"image {missing[0]!r} is not present on this machine's Docker engine "
                          f"(`docker pull {missing[0]}` or `docker build -t {missing[0]} .` first)")
    with tempfile.TemporaryDirectory(prefix="kubetui-imghost-") as tmp:
        archive = Path(tmp) / "images.tar"
        started = time.monotonic()
        progress("save", f"docker save {' '.join(refs)}")
        with open(archive, "wb") as f:
            for chunk in engine.save(refs):
                f.write(chunk)
        save_seconds = time.monotonic() - started
        progress("copy", f"{archive.stat().st_size / 1e6:.1f} MB into {', '.join(nodes or transport.nodes())}")
        result = load_archive(transport, archive, nodes, refs)
        result.save_seconds = save_seconds
        return result


def node_images(transport: NodeTransport, node: str) -> list[dict]:
    """What one node's image store holds (``imagestore ls --json``)."""
    rc, out = transport.run(node, [*IMAGESTORE, "ls", "--json"])
    if rc != 0:
        raise EngineError(f"{node}: {out.strip() or f'imagestore ls exited {rc}'}")
    data = json.loads(out or "[]")
    if isinstance(data, dict):
        return data.get("images") or data.get("items") or []
    return data


class DockerPullSource:
    """What ``cluster/imagepulls.PullThrough`` needs, from the host's engine and the cluster's nodes.

    One ``docker save`` per image serves every node that asks for it at about the same time.
    """

    def __init__(self, engine: HostEngine, transport: NodeTransport) -> None:
        import threading
        self.engine = engine
        self.transport = transport
        self._lock = threading.Lock()
        self._saving: dict[str, threading.Lock] = {}
        self._archives: dict[str, tuple[Path, float]] = {}
        self._tmp = tempfile.TemporaryDirectory(prefix="kubetui-imghost-pulls-")

    def pull(self, image: str, auth: dict | None) -> tuple[str, int]:
        img = self.engine.pull(image, auth)
        return img.id, img.size

    def inspect(self, image: str) -> tuple[str, int] | None:
        img = self.engine.inspect(image)
        return None if img is None else (img.id, img.size)

    def _archive(self, image: str) -> Path:
        with self._lock:
            lock = self._saving.setdefault(image, __import__("threading").Lock())
        with lock:
            hit = self._archives.get(image)
            if hit and time.monotonic() - hit[1] < 60 and hit[0].exists():
                return hit[0]
            path = Path(self._tmp.name) / f"{len(self._archives)}-{time.monotonic_ns()}.tar"
            with open(path, "wb") as f:
                for chunk in self.engine.save([image]):
                    f.write(chunk)
            self._archives[image] = (path, time.monotonic())
            return path

    def copy_to_node(self, node: str, image: str) -> str:
        """Save (once) and import into ``node``; returns the error ("" when it worked)."""
        try:
            archive = self._archive(image)
        except (EngineError, OSError) as e:
            return f"docker save {image}: {e}"
        return import_into(self.transport, node, archive).error

    def close(self) -> None:
        self._tmp.cleanup()
