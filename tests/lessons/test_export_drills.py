"""``kubetui lessons export`` includes drill scores: the LMS gradebook (a row per learner, a column per lesson
and per drill) and JUnit (a drills testsuite per learner), from the progress store alone."""

from __future__ import annotations

import csv
import io
import textwrap
import xml.etree.ElementTree as ET

import pytest

from kubetui.cli import main
from kubetui.lessons.export import lms_gradebook_csv, progress_junit
from kubetui.lessons.format import load_lesson
from kubetui.lessons.progress import ProgressStore

LESSON = textwrap.dedent('''\
    ---
    id: tiny
    title: Tiny
    ---
    ## One {#one}
    ```check
    - exists: {resource: configmaps, name: one}
      fail: "no one"
    ```
    ## Two {#two}
    ```check
    - exists: {resource: configmaps, name: two}
      fail: "no two"
    ```
    ''')


@pytest.fixture(autouse=True)
def _own_progress(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBETUI_PROGRESS_DIR", str(tmp_path / "progress"))


def _events(state, tmp_path):
    d = tmp_path / "lessons" / "01-tiny"
    d.mkdir(parents=True)
    (d / "lesson.md").write_text(LESSON)
    ada, bo = ProgressStore(state, "ada"), ProgressStore(state, "bo")
    for s in (ada, bo):
        s.append("tiny", "lesson_start")
        s.append("tiny", "step_start", "one", index=0)
    ada.append("tiny", "step_pass", "one", index=0)
    for score, mitigated in ((40, False), (85, True)):            # two runs: the best counts
        ada.append("drill:dns-broken", "drill_score", None, drill="dns-broken", run=f"r{score}", score=score,
                   mitigated=mitigated, seconds_to_mitigate=120.0, hints=1, collateral=[], gave_up=False)
    bo.append("drill:oomkilled", "drill_score", None, drill="oomkilled", run="r1", score=0, mitigated=False,
              gave_up=True, collateral=["deployments/web"])
    return load_lesson(d)


def test_gradebook_has_a_column_per_lesson_and_per_drill(tmp_path):
    lesson = _events(tmp_path / "state", tmp_path)
    rows = list(csv.reader(io.StringIO(lms_gradebook_csv(tmp_path / "state", [lesson]))))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "tiny", "drill dns-broken",
                       "drill oomkilled"]
    assert rows[1][0] == "Points Possible" and rows[1][5:] == ["100", "100", "100"]
    assert rows[2] == ["ada", "", "", "ada", "", "50.0", "85", ""]
    assert rows[3] == ["bo", "", "", "bo", "", "0.0", "", "0"]


def test_junit_has_each_learners_drills(tmp_path):
    lesson = _events(tmp_path / "state", tmp_path)
    root = ET.fromstring(progress_junit(tmp_path / "state", [lesson]))
    drills = {s.get("hostname"): s for s in root.findall("testsuite") if s.get("name") == "drills"}
    case = drills["ada"].find("testcase")
    assert case.get("name") == "dns-broken" and case.find("failure") is None
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["score"] == "85" and props["mitigated"] == "true"
    bad = drills["bo"].find("testcase")
    assert bad.find("failure").get("message") == "gave up" and drills["bo"].get("failures") == "1"


def test_export_command_gradebook(tmp_path, capsys, monkeypatch):
    _events(tmp_path / "state", tmp_path)
    code = main(["lessons", "export", "--format", "gradebook", "--state-dir", str(tmp_path / "state"),
                 "--lessons-dir", str(tmp_path / "lessons")])
    out = capsys.readouterr().out
    assert code in (0, None) and "drill dns-broken" in out.splitlines()[0] and "ada,,,ada,,50.0,85," in out
