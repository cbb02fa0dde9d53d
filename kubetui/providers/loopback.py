"""Which loopback block a local cluster owns: chosen at start-up, machine-wide, kept across restarts.

No Kubernetes counterpart: kind needs none, as each cluster has network
namespaces of its own; the local provider's clusters share this machine's
loopback, so each takes distinct ranges of it (``kubetui.agent.loopback``
says what a block holds). The nearest upstream idea is each cluster's own
``--cluster-cidr`` and ``--service-cluster-ip-range``.

The registry is a folder of this user's (``$KUBETUI_LOOPBACK_DIR``, else
``$XDG_DATA_HOME/kubetui-loopback``, else ``~/.local/share/kubetui-loopback``)::

    registry.lock    held (flock) while a block is being chosen: one chooser at a time
    block-P.lock     the claim on block P: the owning cluster's state dir; every live process
                     of that cluster (its control plane, kubelets, kube-proxy) holds a shared
                     flock on it (the kubelets and kube-proxy inherit the descriptor)

A claim is *live* while its file is locked: the kernel drops the lock when the
last process holding it exits, however it dies (SIGKILL, a crash, a reboot),
so a stale claim needs no cleanup and is simply reusable. The block chosen is
also written to the cluster's state dir (``loopback.json``), so a restart gets
the same addresses back when nobody took them meanwhile.

Decide, then act: ``choose_block`` is the pure decision (claims + liveness ->
block, table-tested); ``claim`` takes the locks, reads the claims and writes
the result.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Mapping

from kubetui.agent.loopback import POOL, LoopbackBlock

log = logging.getLogger(__name__)

STATE_FILE = "loopback.json"


class NoFreeBlock(RuntimeError):
    pass


def choose_block(me: str, recorded: int | None, claims: Mapping[int, str], live: set[int],
                 pool: Iterable[int] = POOL) -> int:
    """The block cluster ``me`` (its state dir) gets.

    ``recorded``: the block its state dir remembers; ``claims``: block -> owner,
    as the registry says; ``live``: blocks some running process holds.

    * its recorded block, unless another cluster holds it live (it went stale and was reused);
    * else a block it holds live (its state file was lost while its nodes run);
    * else a block nobody ever claimed, then a stale claim (its cluster is not running).

    >>> choose_block("/a", 4, {4: "/b"}, set())        # stale claim of /b: /a takes its block back
    4
    >>> choose_block("/a", 4, {4: "/b"}, {4}, pool=(2, 4, 6))
    2
    """
    pool = list(pool)
    if recorded in pool and (recorded not in live or claims.get(recorded) == me):
        return recorded
    mine = [b for b in pool if claims.get(b) == me and b in live]
    if mine:
        return mine[0]
    unclaimed = [b for b in pool if b not in claims and b not in live]
    if unclaimed:
        return unclaimed[0]
    stale = [b for b in pool if b not in live]
    if stale:
        return stale[0]
    raise NoFreeBlock(f"every loopback block ({len(pool)}) is held by a running local cluster: "
                      "stop one (`kubetui down --name NAME`) or use --provider docker")


def registry_dir() -> Path:
    if os.environ.get("KUBETUI_LOOPBACK_DIR"):
        return Path(os.environ["KUBETUI_LOOPBACK_DIR"])
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "kubetui-loopback"


def recorded(state_dir: str | os.PathLike[str]) -> LoopbackBlock | None:
    """The block a cluster's state dir remembers (None: never started with one)."""
    try:
        return LoopbackBlock(int(json.loads((Path(state_dir) / STATE_FILE).read_text())["block"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass
class Claim:
    """A held claim: ``fd`` carries the shared lock (pass it to every process of the cluster)."""

    block: LoopbackBlock
    fd: int

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _is_live(path: Path) -> bool:
    """Some process holds a lock on ``path`` (our own other descriptors count too)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def read_claims(root: Path) -> tuple[dict[int, str], set[int]]:
    """The registry as it is: block -> owner, and the live blocks."""
    claims: dict[int, str] = {}
    live: set[int] = set()
    for f in root.glob("block-*.lock"):
        try:
            block = int(f.stem.split("-", 1)[1])
            claims[block] = f.read_text().strip()
        except (OSError, ValueError):
            continue
        if _is_live(f):
            live.add(block)
    return claims, live


def claim(state_dir: str | os.PathLike[str], root: Path | None = None) -> Claim:
    """Choose this cluster's block and hold it (shared lock) until the returned claim is closed."""
    root = root or registry_dir()
    root.mkdir(parents=True, exist_ok=True)
    me = str(Path(state_dir).resolve())
    with _locked(root / "registry.lock"):
        claims, live = read_claims(root)
        old = recorded(state_dir)
        block = choose_block(me, old.pods if old else None, claims, live)
        fd = os.open(root / f"block-{block}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)   # shared: several processes of this cluster hold it at once
            if claims.get(block) != me:      # written in place: the lock belongs to this inode
                os.ftruncate(fd, 0)
                os.pwrite(fd, (me + "\n").encode(), 0)
        except BaseException:
            os.close(fd)
            raise
    chosen = LoopbackBlock(block)
    if old != chosen:
        if old is not None:
            log.warning("loopback block %s of %s is held by another running cluster: this one moves to %s",
                        old.pod_range, me, chosen.pod_range)
        Path(state_dir).mkdir(parents=True, exist_ok=True)
        (Path(state_dir) / STATE_FILE).write_text(json.dumps(
            {"block": block, "pods": chosen.pod_range, "services": chosen.service_range}) + "\n")
    return Claim(chosen, fd)
