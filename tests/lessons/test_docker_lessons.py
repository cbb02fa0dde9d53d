"""The lessons that need real pods on Docker nodes pass their self-test (``kubetui lessons test ID``).

Each lesson runs as CI runs it: a fresh 3-node Docker cluster (``selftest.fresh_cluster``, in a
process of its own, two lessons at a time: ``conftest.docker_lesson_results``), every step's checks must fail before its
solution and pass after it, then the cluster is deleted. A fresh cluster per
lesson rather than one shared: with the node image built, a cluster is up in a
few seconds, and a lesson's result then cannot depend on what the one before
it left behind (re-used pod IPs, deleted-and-recreated Services).
"""

from __future__ import annotations

import argparse
import subprocess

import pytest

from kubetui.cmd.lessons import lessons_root
from kubetui.lessons.format import discover, load_lesson
from kubetui.lessons.selftest import provider_for

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SHIPPED = [load_lesson(p) for p in discover(lessons_root(argparse.Namespace()))]
# 08 and 09 have their own module (test_docker_lessons_storage.py), 13 too (test_docker_lessons_apps.py),
# with checks of their own: each lesson's self-test (a fresh Docker cluster) runs once in the suite.
OWN_MODULE = {"configmaps-and-secrets", "storage", "statefulsets"}
DOCKER_LESSONS = [lesson for lesson in SHIPPED if provider_for(lesson) == "docker" and lesson.id not in OWN_MODULE]


def labelled(cluster: str) -> list[str]:
    """Every container, network and volume still labelled as belonging to ``cluster``."""
    left = []
    for kind in (["ps", "-a"], ["network", "ls"], ["volume", "ls"]):
        r = subprocess.run(["docker", *kind, "-q", "--filter", f"label=io.kubetui.cluster={cluster}"],
                           capture_output=True, text=True, timeout=30)
        left += r.stdout.split()
    return left


def test_the_docker_lessons_are_found():
    ids = {lesson.id for lesson in DOCKER_LESSONS}
    assert {"pods-are-processes", "services-and-dns"} <= ids
    # the lessons left to their own modules are shipped Docker lessons (a rename must not drop their self-test)
    assert OWN_MODULE <= {lesson.id for lesson in SHIPPED if provider_for(lesson) == "docker"}
    for lesson in DOCKER_LESSONS:
        assert lesson.cluster.provider == "docker" and lesson.cluster.nodes == 3 and "docker" in lesson.requires


@pytest.mark.parametrize("lesson", DOCKER_LESSONS, ids=[lesson.id for lesson in DOCKER_LESSONS])
def test_docker_lesson_passes_its_selftest(lesson, docker_lesson_results):
    r = docker_lesson_results[lesson.id]        # its self-test on a fresh Docker cluster (conftest)
    problems = [r.error] + [f"{s.step} [{s.phase}]: {s.message}" for s in r.steps if not s.passed]
    assert r.passed, "\n".join(p for p in problems if p)
    assert r.provider == "docker"
    assert [s.step for s in r.steps] == [s.id for s in lesson.steps]
    # every step's checks failed before its solution: at least one was still false
    assert all(len(s.passed_before) < len(step.checks) for s, step in zip(r.steps, lesson.steps))
    # the throwaway cluster is gone: containers, its network and its volumes
    assert r.cluster.startswith("lt-")
    assert labelled(r.cluster) == []
