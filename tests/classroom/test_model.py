"""The class model folded from progress events (pure): heatmap states, stuck, medians, gradebook."""

import csv
import io
import xml.etree.ElementTree as ET

import pytest

from kubetui.classroom.model import STUCK_FAILURES, STUCK_SECONDS, ClassModel, gradebook_csv, gradebook_junit


def ev(i, learner, event, step="s1", t=0.0, lesson="pods", **kw):
    return {"id": f"event-{i:04d}", "learner": learner, "lesson": lesson, "step": step, "event": event, "t": t, **kw}


@pytest.mark.parametrize("events,now,state", [
    ([], 0, ""),
    ([ev(1, "a", "step_start")], 1, "working"),
    ([ev(1, "a", "step_start"), ev(2, "a", "step_pass", t=5)], 6, "done"),
    ([ev(1, "a", "step_start")] + [ev(10 + i, "a", "check", passed=False, message="x") for i in range(STUCK_FAILURES)],
     1, "stuck"),
    ([ev(1, "a", "step_start"), ev(2, "a", "check", passed=False, t=10, message="x")], 10 + STUCK_SECONDS, "stuck"),
    ([ev(1, "a", "step_start"), ev(2, "a", "check", passed=False, t=10), ev(3, "a", "check", passed=True, t=11)],
     10 + STUCK_SECONDS, "working"),
])
def test_cell_states(events, now, state):
    m = ClassModel()
    m.apply_all(events)
    view = m.dashboard(now)
    cells = view["learners"][0]["cells"] if view["learners"] else {}
    assert cells.get("pods/s1", {}).get("state", "") == state


def test_resent_event_counts_once():
    m = ClassModel()
    assert m.apply(ev(1, "a", "hint")) is True
    assert m.apply(ev(1, "a", "hint")) is False
    assert m.dashboard(0)["learners"][0]["cells"]["pods/s1"]["hints"] == 1


def test_stuck_longest_first_with_failing_check_and_medians():
    m = ClassModel()
    m.apply_all([ev(1, "a", "step_start", t=0), ev(2, "a", "check", t=10, passed=False, message="no pod web"),
                 ev(3, "b", "step_start", t=0), ev(4, "b", "check", t=100, passed=False, message="wrong image"),
                 ev(5, "c", "step_start", t=0), ev(6, "c", "step_pass", t=30),
                 ev(7, "d", "step_start", t=0), ev(8, "d", "step_pass", t=50),
                 ev(9, "e", "step_start", t=0), ev(10, "e", "step_pass", t=90)])
    view = m.dashboard(10 + STUCK_SECONDS + 200)
    assert [(s["learner"], s["failingCheck"]) for s in view["stuck"]] == [("a", "no pod web"), ("b", "wrong image")]
    assert view["medianSeconds"] == {"pods/s1": 50.0}


def test_gradebook_csv_one_row_per_learner_one_column_per_lesson():
    m = ClassModel()
    m.apply_all([ev(1, "a", "step_pass", "s1"), ev(2, "b", "step_start", "s2"), ev(3, "a", "step_pass", "x", lesson="svc")])
    rows = list(csv.reader(io.StringIO(gradebook_csv(m))))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "pods", "svc"]
    assert rows[1][0] == "Points Possible"
    assert rows[2] == ["a", "", "", "a", "", "50.0", "100.0"]
    assert rows[3] == ["b", "", "", "b", "", "0.0", "0.0"]


def test_gradebook_junit():
    m = ClassModel()
    m.apply_all([ev(1, "a", "step_pass", "s1"), ev(2, "a", "check", "s2", passed=False, message="no svc")])
    root = ET.fromstring(gradebook_junit(m, 0).split("\n", 1)[1])
    suite = root.find("testsuite")
    assert suite.get("hostname") == "a" and suite.get("failures") == "1"
    assert suite.find("testcase[@name='s2']/failure").get("message") == "no svc"


def test_drill_scores_best_of_runs_in_dashboard_and_gradebook():
    m = ClassModel()
    m.apply_all([{"id": "d-00000001", "learner": "a", "lesson": "drill:bad-image", "step": None,
                  "event": "drill_score", "drill": "bad-image", "score": 40, "t": 1},
                 {"id": "d-00000002", "learner": "a", "lesson": "drill:bad-image", "step": None,
                  "event": "drill_score", "drill": "bad-image", "score": 85, "t": 2},
                 ev(3, "b", "step_pass")])
    assert m.dashboard(3)["learners"][0]["drillScores"] == {"bad-image": 85}
    rows = list(csv.reader(io.StringIO(gradebook_csv(m))))
    assert rows[0][-1] == "drill bad-image" and rows[2][-1] == "85" and rows[3][-1] == ""


def test_a_reset_clears_the_steps_from_its_step_on():
    """The learner's ``reset`` event (lessons engine: ``cleared`` step ids) puts those cells back to not begun;
    what was counted (attempts, hints, solution) stays, as in the learner's own record."""
    m = ClassModel()
    m.apply_all([ev(1, "a", "step_pass", "s1"), ev(2, "a", "step_start", "s2"), ev(3, "a", "hint", "s2"),
                 ev(4, "a", "step_pass", "s2"),
                 {"id": "event-0005", "learner": "a", "lesson": "pods", "step": None, "event": "reset", "t": 5,
                  "index": 1, "cleared": ["s2"]}])
    cells = m.dashboard(6)["learners"][0]["cells"]
    assert cells["pods/s1"]["state"] == "done"
    assert cells["pods/s2"] == {"state": "working", "hints": 1, "solution": False, "attempts": 0}  # not done
    rows = list(csv.reader(io.StringIO(gradebook_csv(m))))
    assert rows[2][5] == "50.0"
