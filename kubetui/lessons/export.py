"""Exports for teachers and CI: JUnit XML and a CSV gradebook.

JUnit (as Jenkins, GitLab and GitHub report tooling read it): one
``<testsuite>`` per lesson, one ``<testcase>`` per step; a step not passed is a
``<failure>`` whose ``message`` is the last failing check's message, a step
never reached is ``<skipped/>``; hints and solution use go in
``<properties>``. The CSV gradebook has one row per learner × lesson × step:
``learner, lesson, step, passed, attempts, hints, solution_used, seconds,
prediction_correct``. The LMS gradebook (``lms_gradebook_csv``) has one row
per learner and one column per lesson (share of its steps passed, 0-100) and
per drill (the best score, 0-100), in Canvas's import layout as the class
server's (``classroom/model.py``); JUnit adds a ``drills`` testsuite per
learner, a testcase per drill (failed when its best run did not mitigate).
All are computed from the append-only event logs (``progress.py``: outside any cluster,
so a purged cluster keeps its gradebook); by default for the cluster asked
about, with ``all_clusters`` for every cluster a learner used. Drill results
are the ``drill_score`` events the drill runner appends to the same log.
"""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from pathlib import Path

from kubetui.lessons.format import Lesson
from kubetui.lessons.progress import ProgressStore, progress_root
from kubetui.lessons.selftest import LessonTest

GRADEBOOK_COLUMNS = ("learner", "lesson", "step", "passed", "attempts", "hints", "solution_used", "seconds",
                     "prediction_correct")


def learners(state_dir: Path, *, all_clusters: bool = False) -> list[str]:
    """Learners with events on this cluster (or on any, with ``all_clusters``), from the progress folder."""
    root = progress_root()
    if not root.exists():
        return []
    names = []
    for d in sorted(p for p in root.iterdir() if (p / "events.jsonl").exists()):
        store = ProgressStore(state_dir, d.name)
        first = next(store.events(all_clusters=all_clusters), None)
        if first is not None:
            names.append(first.get("learner", d.name))
    return names


def gradebook_rows(state_dir: Path, lessons: list[Lesson], only: list[str] | None = None, *,
                   all_clusters: bool = False) -> list[dict]:
    rows = []
    for learner in only or learners(state_dir, all_clusters=all_clusters):
        store = ProgressStore(state_dir, learner)
        for lesson in lessons:
            rec = store.replay(lesson.id, all_clusters=all_clusters)
            if rec.status == "not started":
                continue
            for step in lesson.steps:
                s = rec.step(step.id)
                rows.append({
                    "learner": learner, "lesson": lesson.id, "step": step.id,
                    "passed": s.passed, "attempts": s.attempts, "hints": s.hints,
                    "solution_used": s.solution_used,
                    "seconds": "" if s.seconds is None else round(s.seconds, 1),
                    "prediction_correct": "" if s.prediction_correct is None else s.prediction_correct,
                })
    return rows


def drill_scores(store: ProgressStore, *, all_clusters: bool = False) -> dict[str, dict]:
    """Each drill's best scored run for one learner: its ``drill_score`` event (score, mitigated, …)."""
    best: dict[str, dict] = {}
    for ev in store.events(all_clusters=all_clusters):
        if ev.get("event") != "drill_score" or not ev.get("drill"):
            continue
        d = str(ev["drill"])
        if d not in best or int(ev.get("score", 0) or 0) > int(best[d].get("score", 0) or 0):
            best[d] = ev
    return best


def lms_gradebook_csv(state_dir: Path, lessons: list[Lesson], only: list[str] | None = None, *,
                      all_clusters: bool = False) -> str:
    """One row per learner; one column per lesson anyone started and per drill anyone scored.

    Canvas's gradebook import layout (``Student, ID, SIS User ID, SIS Login
    ID, Section``, a ``Points Possible`` row, then a column per assignment),
    which Moodle's CSV import maps by ``SIS Login ID``. A lesson's cell is the
    share of *its* steps passed (0-100), a drill's the best score (0-100);
    empty when never begun.
    """
    names = only or learners(state_dir, all_clusters=all_clusters)
    table: dict[str, tuple[dict[str, str], dict[str, dict]]] = {}
    started: list[Lesson] = []
    drills: list[str] = []
    for learner in names:
        store = ProgressStore(state_dir, learner)
        cells = {}
        for lesson in lessons:
            rec = store.replay(lesson.id, all_clusters=all_clusters)
            if rec.status == "not started":
                continue
            if lesson not in started:
                started.append(lesson)
            passed = sum(1 for st in lesson.steps if rec.step(st.id).passed)
            cells[lesson.id] = f"{100.0 * passed / max(1, len(lesson.steps)):.1f}"
        scores = drill_scores(store, all_clusters=all_clusters)
        drills += [d for d in scores if d not in drills]
        table[learner] = (cells, scores)
    started.sort(key=lessons.index)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *[l.id for l in started],
                *[f"drill {d}" for d in drills]])
    w.writerow(["Points Possible", "", "", "", "", *["100"] * (len(started) + len(drills))])
    for learner in names:
        cells, scores = table[learner]
        w.writerow([learner, "", "", learner, "", *[cells.get(l.id, "") for l in started],
                    *[str(scores[d].get("score", 0)) if d in scores else "" for d in drills]])
    return buf.getvalue()


def gradebook_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=GRADEBOOK_COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (str(v).lower() if isinstance(v, bool) else v) for k, v in r.items()})
    return buf.getvalue()


def _props(case: ET.Element, props: dict[str, object]) -> None:
    p = ET.SubElement(case, "properties")
    for k, v in props.items():
        ET.SubElement(p, "property", name=k, value=str(v))


def _xml(root: ET.Element) -> str:
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def progress_junit(state_dir: Path, lessons: list[Lesson], only: list[str] | None = None, *,
                   all_clusters: bool = False) -> str:
    """Learners' progress as JUnit: a testsuite per learner × lesson, a testcase per step."""
    root = ET.Element("testsuites", name="kubetui lessons")
    for learner in only or learners(state_dir, all_clusters=all_clusters):
        store = ProgressStore(state_dir, learner)
        for lesson in lessons:
            rec = store.replay(lesson.id, all_clusters=all_clusters)
            if rec.status == "not started":
                continue
            suite = ET.SubElement(root, "testsuite", name=f"{lesson.id}", hostname=learner)
            failures = skipped = 0
            total = 0.0
            for step in lesson.steps:
                s = rec.step(step.id)
                case = ET.SubElement(suite, "testcase", classname=f"{learner}.{lesson.id}", name=step.id,
                                     time=f"{s.seconds or 0:.1f}")
                total += s.seconds or 0
                _props(case, {"title": step.title, "attempts": s.attempts, "hints": s.hints,
                              "solution_used": str(s.solution_used).lower(),
                              "prediction_correct": "" if s.prediction_correct is None else
                              str(s.prediction_correct).lower()})
                if s.passed:
                    continue
                if s.started_at is None:
                    ET.SubElement(case, "skipped", message="not reached")
                    skipped += 1
                else:
                    f = ET.SubElement(case, "failure", message=s.last_failure or "not passed yet",
                                      type="StepNotPassed")
                    f.text = s.last_failure
                    failures += 1
            suite.set("tests", str(len(lesson.steps)))
            suite.set("failures", str(failures))
            suite.set("errors", "0")
            suite.set("skipped", str(skipped))
            suite.set("time", f"{total:.1f}")
        _drills_suite(root, learner, drill_scores(store, all_clusters=all_clusters))
    return _xml(root)


def _drills_suite(root: ET.Element, learner: str, scores: dict[str, dict]) -> None:
    """A learner's drills as a testsuite: a testcase per drill, its best run; failed when not mitigated."""
    if not scores:
        return
    suite = ET.SubElement(root, "testsuite", name="drills", hostname=learner, tests=str(len(scores)))
    failures = 0
    for drill, ev in scores.items():
        secs = ev.get("seconds_to_mitigate")
        case = ET.SubElement(suite, "testcase", classname=f"{learner}.drills", name=drill,
                             time=f"{float(secs or 0):.1f}")
        _props(case, {"score": ev.get("score", 0), "mitigated": str(bool(ev.get("mitigated"))).lower(),
                      "diagnosis": ev.get("diagnosis", ""), "hints": ev.get("hints", 0),
                      "collateral": len(ev.get("collateral") or []) if isinstance(ev.get("collateral"), list)
                      else ev.get("collateral", 0), "gave_up": str(bool(ev.get("gave_up"))).lower()})
        if not ev.get("mitigated"):
            f = ET.SubElement(case, "failure", type="NotMitigated",
                              message="gave up" if ev.get("gave_up") else "service not restored")
            f.text = f"score {ev.get('score', 0)}"
            failures += 1
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", "0")


def selftest_junit(results: list[LessonTest]) -> str:
    """``kubetui lessons test`` results as JUnit: a testsuite per lesson, a testcase per step."""
    root = ET.Element("testsuites", name="kubetui lessons test")
    for r in results:
        suite = ET.SubElement(root, "testsuite", name=r.lesson, tests=str(max(1, len(r.steps))),
                              time=f"{r.seconds:.1f}")
        _props(suite, {"title": r.title, "provider": r.provider})
        failures = errors = 0
        if r.error:
            case = ET.SubElement(suite, "testcase", classname=r.lesson, name="lesson")
            e = ET.SubElement(case, "error", message=r.error, type="LessonError")
            e.text = r.error
            errors += 1
        for s in r.steps:
            case = ET.SubElement(suite, "testcase", classname=r.lesson, name=s.step, time=f"{s.seconds:.1f}")
            if not s.passed:
                f = ET.SubElement(case, "failure", message=s.message, type=s.phase or "failure")
                f.text = s.message
                failures += 1
        suite.set("failures", str(failures))
        suite.set("errors", str(errors))
    return _xml(root)
