"""``kubetui lessons test``: defects are caught, and every shipped lesson passes on a fresh cluster."""

from __future__ import annotations

import argparse
import textwrap
import xml.etree.ElementTree as ET

import pytest

from kubetui.cmd.lessons import lessons_root
from kubetui.lessons.export import selftest_junit
from kubetui.lessons.format import discover, load_lesson, parse_lesson
from kubetui.lessons.selftest import provider_for, selftest_lesson


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


# Their self-tests (``kubetui lessons test ID --junit FILE``, a fresh cluster each, several at a time) start
# with the lessons package's first test: ``conftest.LessonSelfTests``, fixture ``shipped_results``.


@pytest.mark.slow
@pytest.mark.parametrize("lesson", RUNNABLE, ids=[lesson.id for lesson in RUNNABLE])
def test_shipped_lesson_passes_its_selftest(lesson, shipped_results):
    code, out, suite = shipped_results[lesson.id]
    assert suite is not None, f"kubetui lessons test {lesson.id} wrote no JUnit (exit {code}):\n{out[-3000:]}"
    problems = [f"{case.get('name')} [{bad.get('type')}]: {bad.get('message')}"
                for case in suite.findall("testcase") for bad in case.findall("*") if bad.tag in ("failure", "error")]
    assert code == 0 and suite.get("failures") == "0" and suite.get("errors") == "0", \
        "\n".join(problems) or out[-3000:]
    # every step ran (a testcase per step), none skipped by an earlier failure
    assert [case.get("name") for case in suite.findall("testcase")] == [step.id for step in lesson.steps]
