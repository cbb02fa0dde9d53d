"""Lessons 08 (ConfigMaps and Secrets) and 09 (storage) pass their self-test on fresh Docker clusters.

Each runs as ``kubetui lessons test ID`` runs it in CI: a throwaway 3-node
Docker cluster named ``lt-<lesson>-<random>``, every step's checks must fail
before its solution and pass after it, then the cluster is deleted with its
containers, network and volumes. On top of what every lesson must do, these
tests pin what the two lessons teach: which checks still fail before each
solution (the ones that observe the behaviour the step is about).
"""

from __future__ import annotations

import argparse
import subprocess

import pytest

from kubetui.cmd.lessons import lessons_root
from kubetui.lessons.format import load_lesson
from kubetui.lessons.selftest import LessonTest, provider_for

pytestmark = [pytest.mark.docker, pytest.mark.slow]

ROOT = lessons_root(argparse.Namespace())
CONFIG = load_lesson(ROOT / "08-configmaps-and-secrets")
STORAGE = load_lesson(ROOT / "09-storage")
LABEL = "io.kubetui.cluster"
# which lesson's self-test each test reads (conftest.docker_lesson_results runs the selected ones)
SELFTESTED = {"test_configmaps_and_secrets_lesson_passes_its_selftest": CONFIG.id,
              "test_storage_lesson_passes_its_selftest": STORAGE.id}


def labelled(cluster: str) -> dict[str, list[str]]:
    """Containers, networks and volumes still labelled as ``cluster``'s, by kind."""
    left: dict[str, list[str]] = {}
    for kind, ls in (("container", ["ps", "-a"]), ("network", ["network", "ls"]), ("volume", ["volume", "ls"])):
        r = subprocess.run(["docker", *ls, "-q", "--filter", f"label={LABEL}={cluster}"],
                           capture_output=True, text=True, timeout=30)
        if r.stdout.split():
            left[kind] = r.stdout.split()
    return left


def remove(left: dict[str, list[str]]) -> None:
    """Remove what a failed run left behind (only the objects ``labelled`` listed for its cluster)."""
    commands = (("container", ["rm", "-f", "-v"]), ("network", ["network", "rm"]), ("volume", ["volume", "rm", "-f"]))
    for kind, rm in commands:
        if left.get(kind):
            subprocess.run(["docker", *rm, *left[kind]], capture_output=True, timeout=60)


def run(lesson, results: dict[str, LessonTest]) -> LessonTest:
    """``lesson``'s self-test (``conftest.docker_lesson_results``) passed and left nothing behind."""
    r = results[lesson.id]
    left = labelled(r.cluster) if r.cluster else {}
    remove(left)
    problems = [r.error] + [f"{s.step} [{s.phase}]: {s.message}" for s in r.steps if not s.passed]
    assert r.passed, "\n".join(p for p in problems if p)
    assert r.provider == "docker" and r.cluster.startswith("lt-")
    assert [s.step for s in r.steps] == [s.id for s in lesson.steps]
    assert left == {}, f"cluster {r.cluster} left Docker objects behind: {left}"
    return r


def still_failing(r: LessonTest, lesson) -> dict[str, list[str]]:
    """Per step, the checks that were false before its solution ran."""
    out = {}
    for s, step in zip(r.steps, lesson.steps):
        out[s.step] = [c.describe() for c in step.checks if c.describe() not in s.passed_before]
    return out


def test_both_lessons_want_a_three_node_docker_cluster():
    for lesson in (CONFIG, STORAGE):
        assert provider_for(lesson) == "docker" and lesson.cluster.nodes == 3 and "docker" in lesson.requires
        assert all(step.checks and step.solution for step in lesson.steps)


def test_configmaps_and_secrets_lesson_passes_its_selftest(docker_lesson_results):
    r = run(CONFIG, docker_lesson_results)
    before = still_failing(r, CONFIG)
    # the file follows the ConfigMap only after the patch; the env only after the pod is replaced
    assert "shell # the mounted file follows the ConfigMap, through the ..data symlink" in before["update"]
    assert before["restart"] == [c.describe() for c in CONFIG.steps[2].checks]
    # the store's copy of the Secret is checked, and CreateContainerConfigError is observed, not assumed
    assert any(label.startswith("shell # the store holds db") for label in before["secret"])
    assert "field pods/strict {.status.containerStatuses[0].state.waiting.message}" in before["missing-key"]
    assert "field pods/strict {.status.phase}" in before["unblock"]


def test_storage_lesson_passes_its_selftest(docker_lesson_results):
    r = run(STORAGE, docker_lesson_results)
    before = still_failing(r, STORAGE)
    assert "count nodes" in before["drain-shared"]          # no node was cordoned before the drain
    assert any(label.startswith("count pods app=ledger") for label in before["drain-local"])
    assert "shell # ledger is back on its PV's node, with its data" in before["uncordon"]
    assert "count persistentvolumes" in before["reclaim"]
