"""The lesson file format: what parses, and errors that name the file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kubetui.lessons.format import LessonError, discover, load_lesson, parse_duration, parse_lesson
from kubetui.cmd.lessons import lessons_root

GOOD = textwrap.dedent('''\
    ---
    id: demo
    title: A demo
    minutes: 5
    requires: [pods]
    cluster: {provider: simulated, nodes: 2}
    setup:
      - apply: web.yaml
      - fault: {name: node-pause, target: node-1}
    cleanup:
      - shell: kubectl delete deploy web
    ---
    Intro text.

    ## First step {#one}
    Do this.
    ```predict
    question: Which?
    choices: [a, b]
    answer: 1
    explain: because
    ```
    ```check
    - exists: {resource: pods, name: web}
      fail: no web
    - field: {resource: deployments, name: web, path: .spec.replicas, gte: 2}
      fail: too few
      timeout: 30s
    ```
    ```hint
    - text: first
      after: 1m
    - second
    ```
    ```solution
    kubectl create deployment web --image=kubetui/hello:1
    ```
    ```sh
    kubectl get pods
    ```

    ## Second step
    ```check
    - shell: "true"
      fail: never
    ```
    ```solution
    - fault: {revert: all}
    - shell: echo hi
    ```
    ''')


def test_parses_front_matter_steps_and_blocks():
    lesson = parse_lesson(GOOD, "lessons/00-demo/lesson.md")
    assert (lesson.id, lesson.title, lesson.minutes, lesson.requires) == ("demo", "A demo", 5, ["pods"])
    assert (lesson.cluster.provider, lesson.cluster.nodes) == ("simulated", 2)
    assert [a.kind for a in lesson.setup] == ["apply", "fault"]
    assert lesson.intro == "Intro text."
    one, two = lesson.steps
    assert (one.id, one.title, one.line) == ("one", "First step", 15)
    assert one.predict.answer == 1 and one.predict.choices == ["a", "b"]
    assert [(c.kind, c.line) for c in one.checks] == [("exists", 24), ("field", 26)]
    assert one.checks[1].timeout == 30.0 and one.checks[1].spec["gte"] == 2
    assert [(h.text, h.after_seconds, h.after_failures) for h in one.hints] == [("first", 60.0, None),
                                                                               ("second", None, 1)]
    assert [a.kind for a in one.solution] == ["shell"]
    assert "```sh" in one.body and "```check" not in one.body     # other code blocks stay in the text
    assert two.id == "second-step"                                  # slug from the title
    assert [a.kind for a in two.solution] == ["fault", "shell"]     # a YAML list of actions


BAD = [
    # (text, line, fragment of the message)
    ("id: x\n", 1, "front matter"),
    ("---\nid: x\ntitle: y\n", 1, "not closed"),
    ("---\nid: x\n---\n## s\n", 2, "needs 'title'"),
    ("---\nid: x\ntitle: y\ncolour: red\n---\n## s\n", 4, "unknown front matter key 'colour'"),
    ("---\nid: x\ntitle: y\nrequires: [gpu]\n---\n## s\n", 4, "unknown capability 'gpu'"),
    ("---\nid: x\ntitle: y\ncluster: {provider: cloud}\n---\n## s\n", 4, "cluster.provider"),
    ("---\nid: x\ntitle: y\ncluster: {control_planes: 3}\n---\n## s\n", 4, "needs store: etcd"),
    ("---\nid: x\ntitle: y\ncluster: {control_planes: 3, store: etcd, provider: docker}\n---\n## s\n", 4,
     "local provider only"),
    ("---\nid: x\ntitle: y\ncluster: {control_planes: 0}\n---\n## s\n", 4, "control_planes must be"),
    ("---\nid: x\ntitle: y\ncluster: {store: mysql}\n---\n## s\n", 4, "cluster.store must be one of"),
    ("---\nid: x\ntitle: y\n---\nno steps\n", 5, "at least one step"),
    ("---\nid: x\ntitle: y\n---\n## s\n```check\n- exist: {resource: pods, name: a}\n  fail: x\n```\n", 7,
     "unknown kind 'exist'"),
    ("---\nid: x\ntitle: y\n---\n## s\n```check\n- exists: {resource: pods, name: a}\n```\n", 7, "'fail:'"),
    ("---\nid: x\ntitle: y\n---\n## s\n```check\n- count: {selector: a=b}\n  fail: x\n```\n", 7, "count needs resource"),
    ("---\nid: x\ntitle: y\n---\n## s\n```check\n- exists: {resource: pods, name: a}\n  fail: x\n"
     "- field: {resource: pods, name: a, path: .x}\n  fail: y\n- shell: {}\n  fail: z\n```\n", 11, "shell needs run"),
    ("---\nid: x\ntitle: y\n---\n## s\n```predict\nquestion: q\nchoices: [a, b]\nanswer: 2\n```\n", 7,
     "0-based index"),
    ("---\nid: x\ntitle: y\n---\n## s\n```predict\nquestion: q\nexplain: a: b\n```\n", 8, "put in quotes"),
    ("---\nid: x\ntitle: y\n---\n## s\n```hint\nafter: soon\ntext: t\n```\n", 7, "not a duration"),
    ("---\nid: x\ntitle: y\n---\n## s\n```check\n- exists: {resource: pods, name: a}\n  fail: x\n", 6, "never closed"),
    ("---\nid: x\ntitle: y\n---\n```check\n```\n## s\n", 5, "belongs inside a step"),
    ("---\nid: x\ntitle: y\n---\n## s\n## s\n", 6, "two steps have the id 's'"),
    ("---\nid: x\ntitle: y\nsetup:\n  - run: ls\n---\n## s\n", 4, "each action is one of"),
]


@pytest.mark.parametrize("text,line,fragment", BAD)
def test_errors_name_file_and_line(text, line, fragment):
    with pytest.raises(LessonError) as e:
        parse_lesson(text, "lessons/09-x/lesson.md")
    assert e.value.line == line, str(e.value)
    assert fragment in e.value.message
    assert str(e.value).startswith(f"lessons/09-x/lesson.md:{line}: ")
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("value,seconds", [(5, 5.0), ("90s", 90.0), ("2m", 120.0), ("500ms", 0.5), ("1h", 3600.0)])
def test_parse_duration(value, seconds):
    assert parse_duration(value) == seconds


def test_every_shipped_lesson_parses_with_predictions_checks_hints_solutions():
    import argparse
    paths = discover(lessons_root(argparse.Namespace()))
    assert len(paths) >= 5
    ids = set()
    for p in paths:
        lesson = load_lesson(p)
        assert lesson.id not in ids
        ids.add(lesson.id)
        assert any(s.predict for s in lesson.steps), f"{lesson.id}: no prediction"
        for s in lesson.steps:
            assert s.checks and s.solution and s.hints, f"{lesson.id}/{s.id}: needs checks, hints and a solution"


def test_a_lesson_asks_for_the_control_planes_shape():
    from kubetui.lessons.runner import LabEnv
    text = "---\nid: x\ntitle: y\ncluster: {nodes: 1, control_planes: 3, store: etcd}\n---\n## s\n"
    lesson = parse_lesson(text)
    assert (lesson.cluster.control_planes, lesson.cluster.store, lesson.cluster.out_of_process) == (3, "etcd", True)
    assert not parse_lesson("---\nid: x\ntitle: y\n---\n## s\n").cluster.out_of_process
    # a cluster of another shape says how to start one that fits
    env = LabEnv(client=None, state_dir=Path("/s"), kubeconfig=Path("/k"), provider_name="local", cluster_name="lab",
                 kubectl="kubectl", nodes=3, control_planes=1, store="tinydb")
    problem = env.unmet_needs(lesson)
    assert problem and "`kubetui --name ha up --provider local --nodes 1 --store etcd --control-planes 3`" in problem
    env.control_planes, env.store = 3, "etcd"
    assert env.unmet_needs(lesson) is None
