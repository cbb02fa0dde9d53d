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


# --- the lessons' self-tests, in the background (tests/lesson_selftests.py) ----------------------------------


@pytest.fixture(scope="package", autouse=True)
def lesson_selftests(request) -> tuple:
    """The selected lessons' self-tests: the Docker group (started by the drills package if it ran) and the
    simulated/local group, started with this package's first test at the latest."""
    from tests.lesson_selftests import start
    return start(request, "docker"), start(request, "shipped")


@pytest.fixture
def docker_lesson_results(lesson_selftests) -> dict:
    """``lesson id -> LessonTest`` for the selected Docker lessons (``LessonSelfTests``)."""
    return lesson_selftests[0].docker.result(timeout=1800)


@pytest.fixture
def shipped_results(lesson_selftests) -> dict:
    """``lesson id -> (exit code, output, JUnit testsuite)`` for the selected simulated/local lessons, each
    ``kubetui lessons test ID --junit FILE`` on a fresh cluster of its own (``LessonSelfTests``)."""
    return lesson_selftests[1].shipped.result(timeout=1800)


@pytest.fixture
def lesson_selftests_over(lesson_selftests) -> None:
    """Until every lesson self-test of ``LessonSelfTests`` is over (see there why)."""
    for run in lesson_selftests:
        assert run.done.wait(timeout=1800), "the lessons' self-tests never finished"
