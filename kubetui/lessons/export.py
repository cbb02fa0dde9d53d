"""Exports for teachers and CI: JUnit XML and a CSV gradebook.

JUnit (as Jenkins, GitLab and GitHub report tooling read it): one
``<testsuite>`` per lesson, one ``<testcase>`` per step; a step not passed is a
``<failure>`` whose ``message`` is the last failing check's message, a step
never reached is ``<skipped/>``; hints and solution use go in
``<properties>``. The CSV gradebook has one row per learner × lesson × step:
``learner, lesson, step, passed, attempts, hints, solution_used, seconds,
prediction_correct``. Both are computed from the append-only event logs (``progress.py``: outside any cluster,
so a purged cluster keeps its gradebook); by default for the cluster asked
about, with ``all_clusters`` for every cluster a learner used.
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
    return _xml(root)


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
