"""The class's state, folded from learners' progress events: the dashboard's heatmap and the gradebook.

Pure (table-tested): events in, a view out. An event is what the lesson
engine appends to a learner's log (``lessons/progress.py``: ``t``,
``lesson``, ``step``, ``event`` and details) plus ``id`` (unique per event,
so a resent event counts once) and ``learner`` (set by the server from the
learner's credential, never taken from the event).

A cell (learner x lesson step) is ``done`` (step_pass), ``stuck`` (begun, not
passed, and either ``STUCK_FAILURES`` failed checks in a row or no pass for
``STUCK_SECONDS`` after the last failure began), ``working`` (begun) or empty;
it also counts hints and solution use.
"""

from __future__ import annotations

import csv
import io
import statistics
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any, Iterable

STUCK_FAILURES = 3        # failed checks in a row on one step
STUCK_SECONDS = 300.0     # working on one step this long, the last check failed


@dataclass
class Cell:
    lesson: str
    step: str
    started: float | None = None
    passed: float | None = None
    attempts: int = 0
    failures_in_row: int = 0
    first_failure: float | None = None     # the start of the current run of failures
    last_failure: str = ""
    hints: int = 0
    solution: bool = False
    prediction_correct: bool | None = None

    def state(self, now: float) -> str:
        if self.passed is not None:
            return "done"
        if self.started is None and not (self.attempts or self.hints or self.solution):
            return ""
        if self.failures_in_row >= STUCK_FAILURES:
            return "stuck"
        if self.first_failure is not None and now - self.first_failure >= STUCK_SECONDS:
            return "stuck"
        return "working"

    @property
    def seconds(self) -> float | None:
        if self.started is None or self.passed is None:
            return None
        return max(0.0, self.passed - self.started)


@dataclass
class Learner:
    name: str
    cells: dict[tuple[str, str], Cell] = field(default_factory=dict)
    last_seen: float = 0.0
    current: tuple[str, str] | None = None
    drills: dict[str, int] = field(default_factory=dict)       # drill id -> best score (0-100)

    def cell(self, lesson: str, step: str) -> Cell:
        key = (lesson, step)
        if key not in self.cells:
            self.cells[key] = Cell(lesson, step)
        return self.cells[key]


class ClassModel:
    """Every learner's cells, and the order steps were first seen in (the heatmap's columns)."""

    def __init__(self) -> None:
        self.learners: dict[str, Learner] = {}
        self.columns: list[tuple[str, str]] = []
        self.drills: list[str] = []
        self._seen_ids: set[str] = set()
        self.seq = 0            # grows with every event applied: the dashboard's sync point

    def learner(self, name: str) -> Learner:
        if name not in self.learners:
            self.learners[name] = Learner(name)
        return self.learners[name]

    def apply(self, ev: dict[str, Any]) -> bool:
        """Fold one event in; False when its id was already applied (a resend)."""
        eid = str(ev.get("id", ""))
        if eid:
            if eid in self._seen_ids:
                return False
            self._seen_ids.add(eid)
        who = self.learner(str(ev.get("learner", "")))
        t = float(ev.get("t", 0.0) or 0.0)
        who.last_seen = max(who.last_seen, t)
        self.seq += 1
        lesson, step, kind = ev.get("lesson"), ev.get("step"), ev.get("event")
        if kind == "drill_score" and ev.get("drill"):
            drill = str(ev["drill"])
            if drill not in self.drills:
                self.drills.append(drill)
            who.drills[drill] = max(who.drills.get(drill, 0), int(ev.get("score", 0) or 0))
            return True
        if kind == "reset" and lesson and isinstance(ev.get("cleared"), list):
            # a lesson reset to a step (the learner's, or the teacher's through the class channel): the
            # steps from there on start over, on the heatmap as in the learner's own record (progress.replay)
            for sid in ev["cleared"]:
                if (c := who.cells.get((lesson, str(sid)))) is not None:
                    who.cells[(lesson, str(sid))] = Cell(lesson, str(sid), hints=c.hints, solution=c.solution,
                                                         attempts=c.attempts,
                                                         prediction_correct=c.prediction_correct)
            return True
        if not lesson or not step:
            return True
        if (lesson, step) not in self.columns:
            self.columns.append((lesson, step))
        c = who.cell(lesson, step)
        if kind in ("step_start", "step_enter"):
            who.current = (lesson, step)
            if c.started is None:
                c.started = t
        elif kind == "check":
            c.attempts += 1
            if ev.get("passed"):
                c.failures_in_row, c.first_failure = 0, None
            else:
                if c.failures_in_row == 0:
                    c.first_failure = t
                c.failures_in_row += 1
                c.last_failure = str(ev.get("message", ""))
        elif kind == "hint":
            c.hints += 1
        elif kind == "solution":
            c.solution = True
        elif kind == "predict" and c.prediction_correct is None:
            c.prediction_correct = bool(ev.get("correct"))
        elif kind == "step_pass" and c.passed is None:
            c.passed = t
            c.failures_in_row, c.first_failure = 0, None
        return True

    def apply_all(self, events: Iterable[dict[str, Any]]) -> int:
        return sum(self.apply(ev) for ev in events)

    # --- views ---------------------------------------------------------------------------------------

    def dashboard(self, now: float, *, paused: bool = False) -> dict[str, Any]:
        """The heatmap, who is stuck longest (and on which failing check), median seconds per step."""
        rows = []
        stuck = []
        for name in sorted(self.learners):
            who = self.learners[name]
            cells = {}
            for (lesson, step), c in who.cells.items():
                st = c.state(now)
                if not st:
                    continue
                cells[f"{lesson}/{step}"] = {"state": st, "hints": c.hints, "solution": c.solution,
                                             "attempts": c.attempts}
                if st == "stuck":
                    since = c.first_failure if c.first_failure is not None else (c.started or now)
                    stuck.append({"learner": name, "lesson": lesson, "step": step,
                                  "seconds": round(now - since, 1), "failingCheck": c.last_failure})
            rows.append({"learner": name, "lastSeen": who.last_seen, "drillScores": dict(who.drills),
                         "current": "/".join(who.current) if who.current else "", "cells": cells})
        stuck.sort(key=lambda s: -s["seconds"])
        return {"seq": self.seq, "paused": paused, "columns": [f"{l}/{s}" for l, s in self.columns],
                "drills": list(self.drills),
                "learners": rows, "stuck": stuck, "medianSeconds": self.median_seconds()}

    def median_seconds(self) -> dict[str, float]:
        out = {}
        for lesson, step in self.columns:
            times = [c.seconds for who in self.learners.values()
                     if (c := who.cells.get((lesson, step))) and c.seconds is not None]
            if times:
                out[f"{lesson}/{step}"] = round(statistics.median(times), 1)
        return out

    def lessons(self) -> list[str]:
        seen: list[str] = []
        for lesson, _ in self.columns:
            if lesson not in seen:
                seen.append(lesson)
        return seen


def gradebook_csv(model: ClassModel) -> str:
    """One row per learner, one column per lesson (the share of its steps passed, 0-100) and per drill
    (the best score, 0-100; empty when never scored).

    The layout of Canvas's gradebook import (``Student, ID, SIS User ID, SIS
    Login ID, Section``, then one column per assignment, a ``Points
    Possible`` row first); Moodle's CSV import maps the same file by its
    ``SIS Login ID`` column. A step counts out of the steps anyone in the class
    reached in that lesson (the server does not know a lesson's full length).
    """
    lessons = model.lessons()
    steps = {l: [s for ll, s in model.columns if ll == l] for l in lessons}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    drills = model.drills
    w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *lessons, *[f"drill {d}" for d in drills]])
    w.writerow(["Points Possible", "", "", "", "", *["100" for _ in lessons], *["100" for _ in drills]])
    for name in sorted(model.learners):
        who = model.learners[name]
        scores = []
        for l in lessons:
            passed = sum(1 for s in steps[l] if (c := who.cells.get((l, s))) and c.passed is not None)
            scores.append(f"{100.0 * passed / len(steps[l]):.1f}")
        scores += [str(who.drills[d]) if d in who.drills else "" for d in drills]
        w.writerow([name, "", "", name, "", *scores])
    return buf.getvalue()


def gradebook_junit(model: ClassModel, now: float) -> str:
    """A testsuite per learner x lesson, a testcase per step (not passed: failure; not begun: skipped)."""
    root = ET.Element("testsuites", name="kubetui class")
    for name in sorted(model.learners):
        who = model.learners[name]
        for lesson in model.lessons():
            cols = [s for l, s in model.columns if l == lesson]
            if not any((lesson, s) in who.cells for s in cols):
                continue
            suite = ET.SubElement(root, "testsuite", name=lesson, hostname=name, tests=str(len(cols)))
            failures = skipped = 0
            for step in cols:
                c = who.cells.get((lesson, step)) or Cell(lesson, step)
                case = ET.SubElement(suite, "testcase", classname=f"{name}.{lesson}", name=step,
                                     time=f"{c.seconds or 0:.1f}")
                props = ET.SubElement(case, "properties")
                for k, v in (("attempts", c.attempts), ("hints", c.hints), ("solution_used", str(c.solution).lower())):
                    ET.SubElement(props, "property", name=k, value=str(v))
                if c.passed is not None:
                    continue
                if c.state(now) == "":
                    ET.SubElement(case, "skipped", message="not reached")
                    skipped += 1
                else:
                    f = ET.SubElement(case, "failure", message=c.last_failure or "not passed yet",
                                      type="StepNotPassed")
                    f.text = c.last_failure
                    failures += 1
            suite.set("failures", str(failures))
            suite.set("errors", "0")
            suite.set("skipped", str(skipped))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
