"""Hosted mode's private clusters: one per learner, for the lessons that need a whole cluster.

No Kubernetes counterpart (the nearest is a lab platform's per-user
sandbox: Killercoda's or Instruqt's VM per learner). Most lessons run in
the learner's namespace on the class's one cluster; a lesson that says
``scope: cluster`` (it pauses nodes, drains them, creates PriorityClasses or
CRDs: things one namespace cannot hold and that would reach every other
learner) gets a cluster of its own for that learner: a simulated (or local)
kubetui cluster under the class folder (``private/<namespace>/``), started
on demand when the learner opens such a lesson, stopped when nobody has
used it for ``idle_seconds`` (its state stays: opening the lesson again
starts it where the learner left it). Checks, resets and the web TUI of
that lesson all use its kubeconfig, so they only ever see that cluster.

Decide, then act: ``idle(now)`` is the pure decision (which clusters have
not been used since ``now - idle_seconds``); ``reap()`` stops them. Time is
injected (``kubetui.clock``) so the tests step it.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

from kubetui.clock import Clock

log = logging.getLogger(__name__)

#: what a private cluster runs on unless the lesson asks for ``local`` or ``docker`` (thirty learners'
#: clusters must fit on the teacher's machine; a simulated node marks pods Running, as lessons expect)
DEFAULT_PROVIDER = "simulated"
PROVIDERS = ("simulated", "local", "docker")
#: at most this many nodes per private cluster, whatever the lesson asks
MAX_NODES = 3
DEFAULT_IDLE_MINUTES = 15.0


@dataclass
class PrivateCluster:
    """One learner's cluster: where it lives, and when it was last used."""

    learner: str
    state_dir: Path
    provider: str = DEFAULT_PROVIDER
    nodes: int = 1
    #: clock time of the last use (started, a web session opened on it, a key pressed in one)
    last_used: float = 0.0
    running: bool = False
    #: closes this learner's open web sessions on it (set by the web layer; called when it stops)
    on_stop: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"


def cluster_for_lesson(provider: str, nodes: int, *, docker: bool = False) -> tuple[str, int]:
    """The provider and node count a lesson's ``cluster:`` needs, within what hosted mode runs.

    ``docker``: whether the Docker engine runs on the teacher's machine. A lesson that asks for Docker
    nodes gets them then (1-3 containers); without an engine it falls back to a simulated cluster
    (``fallback_note`` says what the learner misses).

    >>> cluster_for_lesson("any", 3), cluster_for_lesson("local", 5), cluster_for_lesson("docker", 2)
    (('simulated', 3), ('local', 3), ('simulated', 2))
    >>> cluster_for_lesson("docker", 2, docker=True), cluster_for_lesson("docker", 0, docker=True)
    (('docker', 2), ('docker', 1))
    """
    if provider == "docker" and not docker:
        provider = DEFAULT_PROVIDER
    return (provider if provider in PROVIDERS else DEFAULT_PROVIDER), max(1, min(MAX_NODES, nodes))


def fallback_note(asked: str, got: str) -> str:
    """What a learner is told when their private cluster is not the kind the lesson asked for ("" if it is).

    >>> fallback_note("docker", "docker"), fallback_note("any", "simulated")
    ('', '')
    >>> fallback_note("docker", "simulated").split(":")[0]
    'This lesson asks for Docker nodes, but the Docker engine does not run on the class machine'
    """
    if asked != "docker" or got == "docker":
        return ""
    return ("This lesson asks for Docker nodes, but the Docker engine does not run on the class machine: "
            f"your cluster is {got} instead. Its nodes run no containers (pods are marked Running but "
            "answer no traffic, `kubectl exec` and logs have nothing behind them, node faults only change "
            "the API's view). Steps that need real containers will not pass here: ask the teacher.")


class PrivateClusters:
    """Every learner's private cluster, started on demand and stopped when idle."""

    def __init__(self, root: Path, *, clock: Clock | None = None,
                 idle_seconds: float = DEFAULT_IDLE_MINUTES * 60) -> None:
        self.root = Path(root)
        self.clock = clock or Clock()
        self.idle_seconds = idle_seconds
        self.clusters: dict[str, PrivateCluster] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def get(self, learner: str, folder: str) -> PrivateCluster:
        """The learner's cluster record (``folder``: its directory name under the root)."""
        if learner not in self.clusters:
            self.clusters[learner] = PrivateCluster(learner, self.root / folder)
        return self.clusters[learner]

    def touch(self, learner: str) -> None:
        """The learner used their cluster now (a key pressed in its web TUI, a session opened)."""
        pc = self.clusters.get(learner)
        if pc is not None:
            pc.last_used = self.clock.time()

    async def ensure(self, learner: str, folder: str, *, provider: str = "any", nodes: int = 1,
                     docker: bool = False) -> PrivateCluster:
        """Start the learner's cluster if it is not running (``kubetui up``: returns once nodes are Ready).

        ``docker``: the Docker engine runs (a lesson asking for Docker nodes gets them). The cluster is
        named after its folder (the learner's namespace), so a Docker cluster's containers
        (``kubetui-<folder>-node-1``...) say whose they are.
        """
        pc = self.get(learner, folder)
        async with self._locks.setdefault(learner, asyncio.Lock()):
            pc.last_used = self.clock.time()
            if pc.running and await asyncio.to_thread(_alive, pc.state_dir):
                return pc
            pc.provider, pc.nodes = cluster_for_lesson(provider, max(pc.nodes, nodes), docker=docker)
            pc.state_dir.mkdir(parents=True, exist_ok=True)
            log.info("starting %s's private cluster (%s, %d nodes) in %s", learner, pc.provider, pc.nodes,
                     pc.state_dir)
            r = await asyncio.to_thread(
                subprocess.run, [sys.executable, "-m", "kubetui", "up", "--state-dir", str(pc.state_dir),
                                 "--name", pc.state_dir.name, "--provider", pc.provider, "--nodes", str(pc.nodes), "--api-port", "0"],
                capture_output=True, text=True, timeout=300)
            if r.returncode != 0:
                raise RuntimeError(f"starting {learner}'s private cluster: {r.stderr.strip()[-500:]}")
            # The class server decides when this cluster stops: a web session that quits must neither
            # ask the learner nor stop it (the last-UI choice of `kubetui`).
            from kubetui.statedir import KEEP, remember_last_ui_choice
            remember_last_ui_choice(pc.state_dir, KEEP)
            pc.running, pc.last_used = True, self.clock.time()
            return pc

    def idle(self, now: float | None = None) -> list[str]:
        """Learners whose running cluster nobody used for ``idle_seconds`` (the decision; ``reap`` acts)."""
        now = self.clock.time() if now is None else now
        return sorted(n for n, pc in self.clusters.items()
                      if pc.running and now - pc.last_used >= self.idle_seconds)

    async def stop(self, learner: str, *, purge: bool = False) -> bool:
        """Stop the learner's cluster (``purge``: and delete its state, so the next start is a new cluster)."""
        pc = self.clusters.get(learner)
        if pc is None:
            return False
        async with self._locks.setdefault(learner, asyncio.Lock()):
            for close in list(pc.on_stop):
                try:
                    await close()
                except Exception as exc:  # noqa: BLE001 - a session already gone
                    log.debug("closing %s's session: %s", learner, exc)
            was = pc.running
            args = ["down", "--state-dir", str(pc.state_dir)] + (["--purge"] if purge else [])
            r = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "kubetui", *args],
                                        capture_output=True, text=True, timeout=120)
            if r.returncode != 0:
                log.warning("stopping %s's private cluster: %s", learner, r.stderr.strip()[-500:])
            pc.running = False
            log.info("%s %s's private cluster", "purged" if purge else "stopped", learner)
            return was

    async def reap(self) -> list[str]:
        """Stop every cluster ``idle()`` names; returns whose."""
        stopped = []
        for learner in self.idle():
            if await self.stop(learner):
                stopped.append(learner)
        return stopped

    async def run_reaper(self, every: float = 30.0) -> None:
        """Reap every ``every`` seconds, until cancelled (the class server runs this beside itself)."""
        while True:
            await asyncio.sleep(every)
            try:
                await self.reap()
            except Exception as exc:  # loop boundary: one failed stop must not end the reaping
                log.warning("reaping private clusters: %s", exc)

    async def stop_all(self) -> None:
        for learner in [n for n, pc in self.clusters.items() if pc.running]:
            await self.stop(learner)


def _alive(state_dir: Path) -> bool:
    from kubetui.statedir import running_pid
    return running_pid(state_dir) is not None
