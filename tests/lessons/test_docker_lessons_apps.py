"""Lesson 13 (StatefulSets: stable identity and storage) passes its self-test on a fresh Docker cluster.

As ``kubetui lessons test statefulsets`` runs it in CI: a throwaway 3-node Docker
cluster, every step's checks must fail before its solution and pass after it.
This is also kubetui's end-to-end test of a StatefulSet on real nodes: its pods
resolve each other through the headless Service (``web-1.web`` from ``web-0``),
and ``kubectl delete pod web-1`` brings back ``web-1`` with its claim and its data.
"""

from __future__ import annotations

import argparse

import pytest

from kubetui.cmd.lessons import lessons_root
from kubetui.lessons.format import load_lesson
from kubetui.lessons.selftest import provider_for
from tests.lessons.test_docker_lessons_storage import run, still_failing

pytestmark = [pytest.mark.docker, pytest.mark.slow]

STATEFULSETS = load_lesson(lessons_root(argparse.Namespace()) / "13-statefulsets")
# which lesson's self-test each test reads (conftest.docker_lesson_results runs the selected ones)
SELFTESTED = {"test_statefulsets_lesson_passes_its_selftest": STATEFULSETS.id}


def test_the_lesson_wants_a_three_node_docker_cluster():
    assert provider_for(STATEFULSETS) == "docker" and STATEFULSETS.cluster.nodes == 3
    assert all(step.checks and step.hints and step.solution for step in STATEFULSETS.steps)


def test_statefulsets_lesson_passes_its_selftest(docker_lesson_results):
    r = run(STATEFULSETS, docker_lesson_results)
    before = still_failing(r, STATEFULSETS)
    # the data and the name were observed, not assumed: both failed before their solutions
    assert "shell # web-1 stores color=blue" in before["dns"]
    assert "shell # the StatefulSet created web-1 a second time" in before["kill"]
    assert "count pods app=web" in before["scale"]
