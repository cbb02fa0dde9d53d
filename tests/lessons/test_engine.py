"""A learner's run: start, predict, failed attempt, hints, solve, pass, resume, reset; exports."""

from __future__ import annotations

import csv
import io
import textwrap
import xml.etree.ElementTree as ET

import pytest

from kubetui.lessons.engine import LessonRun
from kubetui.lessons.export import gradebook_csv, gradebook_rows, progress_junit
from kubetui.lessons.format import load_lesson
from kubetui.lessons.progress import replay
from kubetui.lessons.runner import ActionError

LESSON = textwrap.dedent('''\
    ---
    id: tiny
    title: Tiny
    cluster: {provider: any, nodes: 2}
    cleanup:
      - shell: kubectl delete configmap one two --ignore-not-found
    ---
    ## Make one {#one}
    ```predict
    question: Will it work?
    choices: [yes, no]
    answer: 0
    explain: it will
    ```
    ```check
    - exists: {resource: configmaps, name: one}
      fail: "configmap one is missing: kubectl create configmap one"
    ```
    ```hint
    - text: first hint
    - text: second hint
      after: 1h
    ```
    ```solution
    kubectl create configmap one
    ```
    ## Make two {#two}
    ```check
    - exists: {resource: configmaps, name: two}
      fail: "configmap two is missing"
    ```
    ```hint
    use kubectl create configmap
    ```
    ```solution
    kubectl create configmap two
    ```
    ''')


@pytest.fixture
def lesson(tmp_path):
    d = tmp_path / "lessons" / "01-tiny"
    d.mkdir(parents=True)
    (d / "lesson.md").write_text(LESSON)
    return load_lesson(d)


async def test_a_learner_works_through_a_lesson_and_resumes(lab, lesson):
    run = LessonRun(lesson, lab, "ada")
    assert await run.start() is False
    assert run.step.id == "one"
    assert run.answer(1) == (False, "it will")

    h = run.hint()
    assert h.text is None and "after 1 more failed check" in h.waiting     # locked until a failed attempt
    out = await run.evaluate()
    assert not out.passed and out.message == "configmap one is missing: kubectl create configmap one"
    assert "configmaps/one not found" in out.detail
    assert run.hint().text == "first hint"
    second = run.hint()
    assert second.text is None and "in " in second.waiting                  # after: 1h

    await run.solve()
    out = await run.evaluate()
    assert out.passed and out.step_completed
    await run.next()

    # The laptop closes: a new run of the same learner resumes at step 2.
    again = LessonRun(lesson, lab, "ada")
    assert await again.start() is True
    assert again.step.id == "two" and again.step_passed(0)
    live = await again.evaluate(record=False)
    assert not live.passed
    await lab.client.create("configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "two"}},
                            "default")
    assert (await again.evaluate()).passed
    assert again.complete

    rec = replay(again.store.events("tiny"), "tiny")
    one, two = rec.steps["one"], rec.steps["two"]
    assert (one.attempts, one.failures, one.hints, one.solution_used, one.prediction_correct) == (2, 1, 1, True, False)
    assert (two.attempts, two.solution_used, two.passed) == (1, False, True)

    # gradebook and JUnit from the event log
    rows = list(csv.DictReader(io.StringIO(gradebook_csv(gradebook_rows(lab.state_dir, [lesson])))))
    assert [(r["learner"], r["step"], r["passed"], r["attempts"], r["hints"], r["solution_used"],
             r["prediction_correct"]) for r in rows] == [
        ("ada", "one", "true", "2", "1", "true", "false"), ("ada", "two", "true", "1", "0", "false", "")]
    suites = ET.fromstring(progress_junit(lab.state_dir, [lesson]))
    [suite] = suites.findall("testsuite")
    assert suite.get("name") == "tiny" and suite.get("tests") == "2" and suite.get("failures") == "0"


async def test_reset_replays_setup_and_earlier_solutions(lab, lesson):
    run = LessonRun(lesson, lab, "bob")
    await run.start()
    await run.reset(1)        # step 2: cleanup, then step 1's solution
    assert run.step.id == "two"
    await lab.client.get("configmaps", "one", "default")
    assert not (await run.evaluate()).passed
    junit = ET.fromstring(progress_junit(lab.state_dir, [lesson], ["bob"]))
    case = {c.get("name"): c for c in junit.iter("testcase")}
    assert case["two"].find("failure").get("message") == "configmap two is missing"
    # bob started step one but never passed it himself (the reset ran its solution)
    assert case["one"].find("failure") is not None and case["one"].find("skipped") is None


async def test_start_refuses_a_cluster_the_lesson_cannot_use(lab, lesson):
    lesson.requires = ["pods"]
    with pytest.raises(ActionError, match="--provider local"):
        await LessonRun(lesson, lab, "cy").start()
    lesson.requires = []
    lesson.cluster.nodes = 5
    with pytest.raises(ActionError, match="--nodes 5"):
        await LessonRun(lesson, lab, "cy").start()


async def test_watch_checks_yields_on_change(lab, lesson):
    import asyncio
    run = LessonRun(lesson, lab, "dee")
    await run.start()
    seen = []

    async def consume():
        async for out in run.watch_checks(interval=0.05):
            seen.append(out.passed)
            if out.passed:
                return
    task = asyncio.create_task(consume())
    await asyncio.sleep(0.2)
    await run.solve()
    await asyncio.wait_for(task, 10)
    assert seen == [False, True]
