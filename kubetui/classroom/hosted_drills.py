"""Hosted mode's class drills: the teacher starts a drill, every hosted learner gets it on a cluster of their own.

No Kubernetes counterpart (the nearest is a game day's per-team sandbox). A
drill needs what one namespace of the class's cluster cannot give: pods that
really run and answer a prober, and faults that reach a whole cluster (a node
NotReady, a taint), which on a shared cluster would break every learner's
lab. So ``POST /class/v1/drills`` in hosted mode also starts the drill, with
the class's one seed (the same incident for everyone), on each learner's
*drill cluster*: a private cluster (``private/<namespace>-drills/``, the
``local`` provider, or ``docker`` when the drill needs Docker nodes and the
engine runs), kept apart from the learner's ``scope: cluster`` lesson cluster
(that one may be simulated: a drill cannot run there).

The drill is started exactly as a learner would (``kubetui drill start ID
--seed N`` against that cluster) with the learner's identity: their class
link (``KUBETUI_CLASS_DIR``) and name (``KUBETUI_LEARNER``), so its progress
events (``drill_start``, then the learner's ``drill_answer``,
``drill_score``...) reach the class as the learner's own, as a join-mode
learner's do. The learner's web TUI then moves to that cluster, opened on
the drill's namespace with the briefing on screen; ``kubetui drill status |
hint | answer | report`` run from its command bar.

Decide, then act: ``plan`` (pure, table-tested) says per learner whether
and on which provider the drill starts, and why not; ``HostedDrills.start``
carries it out, a few learners at a time (each start is a ``kubetui up`` and
a drill set-up: a teacher's two cores run two or three at once, not thirty).
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)

#: learners whose drills start at once (each is a cluster start and an application set-up)
CONCURRENCY = 2
#: what ``Hosted.lab`` holds for a learner whose web TUI runs their drill
LAB_PREFIX = "drill:"
#: the nodes a drill cluster gets (a node fault takes one down: the app must have somewhere to go)
DRILL_NODES = 2
START_TIMEOUT = 600.0


@dataclass(frozen=True)
class DrillPlan:
    """What happens for one learner: ``provider`` to start the drill on, or None and ``reason`` why not."""

    learner: str
    provider: str | None
    reason: str = ""


def plan(learners: dict[str, bool], *, needs_docker: bool, docker_running: bool) -> list[DrillPlan]:
    """Per learner (name -> revoked), where their drill runs.

    >>> plan({"ada": False, "bob": True}, needs_docker=False, docker_running=False)
    [DrillPlan(learner='ada', provider='local', reason=''), DrillPlan(learner='bob', provider=None, reason='revoked')]
    >>> plan({"ada": False}, needs_docker=True, docker_running=True)[0].provider
    'docker'
    >>> plan({"ada": False}, needs_docker=True, docker_running=False)[0].reason[:46]
    'this drill needs Docker nodes, and the Docker '
    """
    out = []
    for name in sorted(learners):
        if learners[name]:
            out.append(DrillPlan(name, None, "revoked"))
        elif needs_docker and not docker_running:
            out.append(DrillPlan(name, None, "this drill needs Docker nodes, and the Docker engine does not run on "
                                             "the class machine"))
        else:
            out.append(DrillPlan(name, "docker" if needs_docker else "local"))
    return out


def drill_key(learner: str) -> str:
    """The ``PrivateClusters`` key of a learner's drill cluster (their lesson cluster is keyed by name)."""
    return f"{learner}#drills"


def drill_of(lab: str | None) -> str | None:
    """The drill a learner's web TUI runs (``Hosted.lab``'s value), or None.

    >>> drill_of("drill:oomkilled"), drill_of("rbac-for-a-team"), drill_of(None)
    ('oomkilled', None, None)
    """
    return lab[len(LAB_PREFIX):] if lab and lab.startswith(LAB_PREFIX) else None


def learner_env(link_dir: Path, learner: str) -> dict[str, str]:
    """The environment of a command run *as* the learner: their class link and progress name."""
    env = dict(os.environ)
    env.update(KUBETUI_CLASS_DIR=str(link_dir), KUBETUI_LEARNER=learner)
    env.pop("KUBETUI_STATE_DIR", None)
    return env


class HostedDrills:
    """Starts a class drill on every hosted learner's drill cluster (``hosted``: ``cmd.classhosted.Hosted``)."""

    def __init__(self, hosted: Any, *, docker_running: Callable[[], bool], needs_docker: Callable[[str], bool],
                 concurrency: int = CONCURRENCY) -> None:
        self.hosted = hosted
        self.docker_running = docker_running
        self.needs_docker = needs_docker
        self.concurrency = concurrency
        #: per learner: what ``kubetui drill start`` printed (the briefing their web TUI shows)
        self.briefing: dict[str, str] = {}

    async def start(self, drill: str, seed: int) -> list[str]:
        """The ``on_drill`` hook: start ``drill`` with ``seed`` for every hosted learner; one line each."""
        server = self.hosted.server
        revoked = {n: bool(server.learners.get(n, {}).get("revoked")) for n in self.hosted.learners}
        try:
            docker = self.needs_docker(drill)
        except KeyError as e:
            return [f"no drill {drill!r} here: {e}"]
        plans = plan(revoked, needs_docker=docker,
                     docker_running=await asyncio.to_thread(self.docker_running) if docker else False)
        gate = asyncio.Semaphore(self.concurrency)

        async def one(p: DrillPlan) -> str:
            if p.provider is None:
                if p.reason != "revoked":
                    await self._tell(p.learner, f"The teacher started drill {drill}, but it cannot run for you "
                                                f"here: {p.reason}.")
                return f"{p.learner}: not started ({p.reason})"
            async with gate:
                return await self._start_one(p, drill, seed)
        return list(await asyncio.gather(*(one(p) for p in plans)))

    async def _start_one(self, p: DrillPlan, drill: str, seed: int) -> str:
        name, hosted = p.learner, self.hosted
        ns = hosted.learners[name]["namespace"]
        folder = f"{ns}-drills"
        try:
            pc = await hosted.private.ensure(drill_key(name), folder, provider=p.provider, nodes=DRILL_NODES,
                                             docker=p.provider == "docker")
        except RuntimeError as e:
            log.warning("%s", e)
            await self._tell(name, f"The teacher started drill {drill}, but your drill cluster did not start: {e}")
            return f"{name}: failed: their drill cluster did not start ({_last_line(str(e))})"
        link_dir = hosted.folder / "links" / ns
        r = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "kubetui", "drill", "start", drill, "--seed", str(seed),
                             "--state-dir", str(pc.state_dir), "--learner", name],
            capture_output=True, text=True, timeout=START_TIMEOUT, env=learner_env(link_dir, name))
        if r.returncode != 0:
            why = _last_line(r.stderr) or f"exit {r.returncode}"
            log.warning("drill %s for %s: %s", drill, name, r.stderr.strip()[-800:])
            await self._tell(name, f"The teacher started drill {drill}, but it did not start on your cluster: {why}")
            return f"{name}: failed: {why}"
        self.briefing[name] = r.stdout.strip()
        # their web TUI moves to the drill (the sessions open now close: the page reloads onto it)
        await hosted.move_to(name, LAB_PREFIX + drill)
        return f"{name}: drill {drill} (seed {seed}) runs on their own {pc.provider} cluster"

    async def _tell(self, name: str, text: str) -> None:
        await self.hosted.server._note(name, "message", text)


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""

