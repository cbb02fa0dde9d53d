"""``kubetui lessons test``: defects are caught, and every shipped lesson passes on a fresh cluster."""

from __future__ import annotations

import argparse
import textwrap
import xml.etree.ElementTree as ET

import pytest

from kubetui.cmd.lessons import lessons_root
from kubetui.lessons.export import selftest_junit
from kubetui.lessons.format import discover, load_lesson, parse_lesson
from kubetui.lessons.selftest import provider_for, selftest_lesson, selftest_lessons


def lesson_with(step_body: str, tmp_path):
    text = "---\nid: defect\ntitle: Defect\n---\n## Only {#only}\n" + textwrap.dedent(step_body)
    p = tmp_path / "lesson.md"
    p.write_text(text)
    return parse_lesson(text, p)


async def test_a_check_that_cannot_fail_is_reported(lab, tmp_path):
    lesson = lesson_with('''\
        ```check
        - count: {resource: nodes, gte: 1}
          fail: no nodes
        ```
        ```solution
        true
        ```
        ''', tmp_path)
    r = await selftest_lesson(lesson, lab)
    assert not r.passed
    [step] = r.steps
    assert step.phase == "before" and "check cannot fail" in step.message and "count nodes" in step.message


async def test_a_solution_that_does_not_solve_is_reported(lab, tmp_path):
    lesson = lesson_with('''\
        ```check
        - exists: {resource: configmaps, name: wanted}
          fail: "configmap wanted is missing"
        ```
        ```solution
        kubectl create configmap other
        ```
        ''', tmp_path)
    r = await selftest_lesson(lesson, lab, step_timeout=0.5)
    [step] = r.steps
    assert step.phase == "after" and "configmap wanted is missing" in step.message
    assert "configmaps/wanted not found" in step.message
    junit = ET.fromstring(selftest_junit([r]))
    assert junit.find("testsuite/testcase/failure").get("type") == "after"


async def test_a_failing_solution_command_is_reported(lab, tmp_path):
    lesson = lesson_with('''\
        ```check
        - exists: {resource: configmaps, name: wanted}
          fail: missing
        ```
        ```solution
        kubectl create configmap
        ```
        ''', tmp_path)
    r = await selftest_lesson(lesson, lab)
    assert r.steps[0].phase == "solution" and "exit 1" in r.steps[0].message


SHIPPED = [load_lesson(p) for p in discover(lessons_root(argparse.Namespace()))]
# Lessons that need etcd and a control plane in its own process have their module (test_etcd_lessons.py).
RUNNABLE = [lesson for lesson in SHIPPED
            if provider_for(lesson) in ("simulated", "local") and not lesson.cluster.out_of_process]


@pytest.mark.slow
@pytest.mark.parametrize("lesson", RUNNABLE, ids=[lesson.id for lesson in RUNNABLE])
async def test_shipped_lesson_passes_its_selftest(lesson):
    [r] = await selftest_lessons([lesson], step_timeout=60)
    problems = [r.error] + [f"{s.step} [{s.phase}]: {s.message}" for s in r.steps if not s.passed]
    assert r.passed, "\n".join(p for p in problems if p)
    assert len(r.steps) == len(lesson.steps)
