"""Fixtures for lessons tests: a real in-process cluster (simulated nodes) and a LabEnv on it."""

from __future__ import annotations

import pytest

from kubetui.cluster import Cluster, ClusterSettings
from kubetui.lessons.runner import LabEnv


@pytest.fixture
async def lab(tmp_path):
    """A 3-node simulated cluster in this process, as ``kubetui lessons test`` makes one."""
    settings = ClusterSettings(name="lt", provider="simulated", nodes=3, api_port=0)
    cluster = Cluster(settings, tmp_path / "state")
    kubeconfig = await cluster.up()
    env = LabEnv(cluster.control_plane.client, tmp_path / "state", kubeconfig, "simulated", "lt",
                 provider=cluster.provider, scheduler_profile="default", nodes=3)
    try:
        yield env
    finally:
        await cluster.stop()


# --- the Docker lessons' self-tests, two at a time -------------------------------------------------------

#: Docker lessons self-tested side by side (each a fresh 3-node Docker cluster of its own)
DOCKER_LANES = 2

# One lesson's self-test in a process of its own, as `kubetui lessons test ID` runs it (a fresh cluster,
# deleted after), printing the whole LessonTest (the modules check which checks failed before each step).
_SELFTEST_ONE = """
import argparse, asyncio, dataclasses, json, sys
from kubetui.cmd.lessons import lessons_root
from kubetui.lessons.format import discover, load_lesson
from kubetui.lessons.selftest import selftest_lessons
lesson = next(l for l in map(load_lesson, discover(lessons_root(argparse.Namespace()))) if l.id == sys.argv[1])
[r] = asyncio.run(selftest_lessons([lesson], step_timeout=60))
print("LESSONTEST " + json.dumps(dataclasses.asdict(r)))
"""


def _docker_lessons_wanted(session) -> list[str]:
    """The Docker lessons whose self-test a selected test reads: its ``lesson`` parameter, else its
    module's ``SELFTESTED`` (test name -> lesson id)."""
    wanted: list[str] = []
    for item in session.items:
        if "docker_lesson_results" not in getattr(item, "fixturenames", ()):
            continue
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "lesson" in callspec.params:
            lesson_id = callspec.params["lesson"].id
        else:
            lesson_id = getattr(item.module, "SELFTESTED", {}).get(getattr(item, "originalname", item.name))
        if lesson_id and lesson_id not in wanted:
            wanted.append(lesson_id)
    return wanted


@pytest.fixture(scope="package")
def docker_lesson_results(request):
    """``lesson id -> LessonTest`` for the selected Docker lessons, ``DOCKER_LANES`` at a time.

    Each in a process of its own: the API server's served custom resources are process-wide, so two
    clusters in one process are not independent. Each lesson still gets a fresh Docker cluster
    (``lt-<lesson>-<random>``: its own containers, network and volumes), so its result cannot depend
    on another's; most of a lesson's time is waiting on pods and probes, which overlap.
    """
    import asyncio
    import json
    import sys

    from kubetui.lessons.selftest import LessonTest, StepTest

    async def one(lesson_id: str, lanes: asyncio.Semaphore) -> tuple[str, LessonTest]:
        async with lanes:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-c", _SELFTEST_ONE, lesson_id,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            try:
                out, err = await asyncio.wait_for(proc.communicate(), 900)
            except asyncio.TimeoutError:
                proc.kill()
                out, err = await proc.communicate()
        line = next((ln for ln in out.decode().splitlines() if ln.startswith("LESSONTEST ")), None)
        if line is None:
            return lesson_id, LessonTest(lesson_id, "", error=f"the self-test process failed (exit "
                                         f"{proc.returncode}): {err.decode(errors='replace')[-3000:]}")
        data = json.loads(line.split(" ", 1)[1])
        data["steps"] = [StepTest(**s) for s in data["steps"]]
        return lesson_id, LessonTest(**data)

    async def run_all() -> dict:
        lanes = asyncio.Semaphore(DOCKER_LANES)
        return dict(await asyncio.gather(*(one(i, lanes) for i in _docker_lessons_wanted(request.session))))
    return asyncio.run(run_all())
