"""A learner's progress and append-only event log (``<state>/lessons/<learner>/``).

No Kubernetes counterpart: this is the teacher's record. ``events.jsonl`` is
append-only (one JSON object a line: ``t``, ``learner``, ``lesson``, ``step``,
``event`` and details) and is the source of truth: per-step attempts, hints,
solution use, prediction answers and timings are all replayed from it, so a
learner can close the laptop and resume the same step, and the gradebook is
computed from the same lines. ``progress.json`` only remembers where each
lesson stands, for a quick ``kubetui lessons`` listing.

Events: ``lesson_start``, ``step_start`` (first entry into a step), ``step_enter``
(back to a step already begun), ``predict``, ``check`` (an explicit
attempt: ``passed``, ``failing`` check index, ``message``), ``hint``,
``solution``, ``step_pass``, ``lesson_complete``, ``reset``.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def learner_dir(state_dir: Path, learner: str) -> Path:
    return Path(state_dir) / "lessons" / (_SAFE.sub("_", learner) or "learner")


@dataclass
class StepRecord:
    """One step of one lesson for one learner, replayed from the event log."""

    step: str
    started_at: float | None = None
    since_rv: int | None = None          # the store's revision when the step began (event checks)
    passed_at: float | None = None
    attempts: int = 0
    failures: int = 0
    hints: int = 0
    solution_used: bool = False
    prediction_correct: bool | None = None
    last_failure: str = ""

    @property
    def passed(self) -> bool:
        return self.passed_at is not None

    @property
    def seconds(self) -> float | None:
        if self.started_at is None or self.passed_at is None:
            return None
        return max(0.0, self.passed_at - self.started_at)


@dataclass
class LessonRecord:
    lesson: str
    current: int = 0
    status: str = "not started"         # not started / in progress / complete
    steps: dict[str, StepRecord] = field(default_factory=dict)

    def step(self, sid: str) -> StepRecord:
        return self.steps.setdefault(sid, StepRecord(sid))


class ProgressStore:
    def __init__(self, state_dir: Path, learner: str) -> None:
        self.learner = learner
        self.dir = learner_dir(state_dir, learner)
        self.events_path = self.dir / "events.jsonl"
        self.progress_path = self.dir / "progress.json"

    # --- the log -----------------------------------------------------------------------------------

    def append(self, lesson: str, event: str, step: str | None = None, **details: Any) -> dict[str, Any]:
        self.dir.mkdir(parents=True, exist_ok=True)
        line = {"t": round(time.time(), 3), "learner": self.learner, "lesson": lesson, "step": step,
                "event": event, **details}
        with open(self.events_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")
            f.flush()
            os.fsync(f.fileno())
        return line

    def events(self, lesson: str | None = None) -> Iterator[dict[str, Any]]:
        try:
            with open(self.events_path, encoding="utf-8") as f:
                for raw in f:
                    try:
                        ev = json.loads(raw)
                    except ValueError:
                        continue        # a torn last line after a crash: skip it
                    if lesson is None or ev.get("lesson") == lesson:
                        yield ev
        except FileNotFoundError:
            return

    def replay(self, lesson: str) -> LessonRecord:
        return replay(self.events(lesson), lesson)

    # --- the summary ---------------------------------------------------------------------------------

    def positions(self) -> dict[str, dict[str, Any]]:
        try:
            return json.loads(self.progress_path.read_text())
        except (OSError, ValueError):
            return {}

    def save_position(self, lesson: str, current: int, status: str, passed: list[str]) -> None:
        data = self.positions()
        data[lesson] = {"step": current, "status": status, "passed": passed, "updated": time.time()}
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.progress_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        os.replace(tmp, self.progress_path)


def replay(events: Any, lesson: str) -> LessonRecord:
    """Fold a lesson's events into its record (pure: table-tested)."""
    rec = LessonRecord(lesson)
    for ev in events:
        kind, sid, t = ev.get("event"), ev.get("step"), ev.get("t", 0.0)
        if kind == "lesson_start":
            rec.status = "in progress"
        elif kind == "reset":
            rec.status = "in progress"
            rec.current = int(ev.get("index", 0))
            for s in list(rec.steps.values()):
                # steps from the reset point on start over; earlier ones keep their record
                if ev.get("from_step") is None or s.step in ev.get("cleared", []):
                    s.passed_at = None
                    s.started_at = None
                    s.since_rv = None
        elif kind == "step_enter" and sid:
            rec.current = int(ev.get("index", rec.current))
        elif kind == "step_start" and sid:
            rec.current = int(ev.get("index", rec.current))
            s = rec.step(sid)
            if s.started_at is None:
                s.started_at = t
                s.since_rv = ev.get("rv")
        elif kind == "check" and sid:
            s = rec.step(sid)
            s.attempts += 1
            if not ev.get("passed"):
                s.failures += 1
                s.last_failure = ev.get("message", "")
        elif kind == "hint" and sid:
            rec.step(sid).hints += 1
        elif kind == "solution" and sid:
            rec.step(sid).solution_used = True
        elif kind == "predict" and sid:
            s = rec.step(sid)
            if s.prediction_correct is None:       # the first answer counts
                s.prediction_correct = bool(ev.get("correct"))
        elif kind == "step_pass" and sid:
            s = rec.step(sid)
            if s.passed_at is None:
                s.passed_at = t
        elif kind == "lesson_complete":
            rec.status = "complete"
    return rec
