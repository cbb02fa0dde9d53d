"""A learner's progress and append-only event log, kept outside any cluster.

Where: ``$KUBETUI_PROGRESS_DIR``, else ``$XDG_DATA_HOME/kubetui-progress``, else
``~/.local/share/kubetui-progress``, one folder per learner. Not in the
cluster's state dir, so ``kubetui down --purge`` never deletes a gradebook
(progress used to live in ``<state>/lessons/<learner>/``: such logs are moved
here the first time they are opened). Every event names the cluster it happened
on (its state dir); where a lesson stands is replayed from that cluster's
events, while exports may read every cluster's.

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


def progress_root() -> Path:
    """Where learners' progress lives on this machine (outside every cluster's state dir)."""
    explicit = os.environ.get("KUBETUI_PROGRESS_DIR")
    if explicit:
        return Path(explicit)
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "kubetui-progress"


def safe_name(learner: str) -> str:
    return _SAFE.sub("_", learner) or "learner"


def learner_dir(learner: str, root: Path | None = None) -> Path:
    return (root or progress_root()) / safe_name(learner)


def cluster_id(state_dir: Path) -> str:
    """How events name the cluster they happened on: its state dir."""
    return str(Path(state_dir).resolve())


def _legacy_dir(state_dir: Path, learner: str) -> Path:
    return Path(state_dir) / "lessons" / safe_name(learner)


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
    """One learner's log, as seen from one cluster (``state_dir``)."""

    def __init__(self, state_dir: Path, learner: str, *, root: Path | None = None) -> None:
        self.learner = learner
        self.cluster = cluster_id(state_dir)
        self.dir = learner_dir(learner, root)
        self.events_path = self.dir / "events.jsonl"
        self.progress_path = self.dir / "progress.json"
        self._migrate(_legacy_dir(state_dir, learner))

    def _migrate(self, legacy: Path) -> None:
        """Move a log kept in the cluster's state dir (before progress lived outside it) here, once."""
        old = legacy / "events.jsonl"
        if not old.exists():
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        lines = []
        for raw in old.read_text(encoding="utf-8").splitlines():
            try:
                ev = json.loads(raw)
            except ValueError:
                continue
            ev.setdefault("cluster", self.cluster)
            lines.append(json.dumps(ev) + "\n")
        with open(self.events_path, "a", encoding="utf-8") as f:
            f.writelines(lines)
            f.flush()
            os.fsync(f.fileno())
        old.rename(legacy / "events.jsonl.moved")  # kept, renamed: never read twice

    # --- the log -----------------------------------------------------------------------------------

    def append(self, lesson: str, event: str, step: str | None = None, **details: Any) -> dict[str, Any]:
        self.dir.mkdir(parents=True, exist_ok=True)
        line = {"t": round(time.time(), 3), "learner": self.learner, "cluster": self.cluster, "lesson": lesson,
                "step": step, "event": event, **details}
        with open(self.events_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")
            f.flush()
            os.fsync(f.fileno())
        # a learner who joined a class also reports the event to it (queued, sent in the background)
        from kubetui.classroom.link import report
        report(line)
        return line

    def events(self, lesson: str | None = None, *, all_clusters: bool = False) -> Iterator[dict[str, Any]]:
        """The log's events (of one lesson), on this cluster unless ``all_clusters``."""
        try:
            with open(self.events_path, encoding="utf-8") as f:
                for raw in f:
                    try:
                        ev = json.loads(raw)
                    except ValueError:
                        continue        # a torn last line after a crash: skip it
                    if lesson is not None and ev.get("lesson") != lesson:
                        continue
                    if all_clusters or ev.get("cluster", self.cluster) == self.cluster:
                        yield ev
        except FileNotFoundError:
            return

    def replay(self, lesson: str, *, all_clusters: bool = False) -> LessonRecord:
        return replay(self.events(lesson, all_clusters=all_clusters), lesson)

    def clusters(self) -> set[str]:
        """The clusters this learner has events on."""
        return {ev.get("cluster", "") for ev in self.events(all_clusters=True)}

    # --- the summary ---------------------------------------------------------------------------------

    def _all_positions(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.progress_path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def positions(self) -> dict[str, dict[str, Any]]:
        """Where each lesson stands on this cluster."""
        return self._all_positions().get(self.cluster, {})

    def save_position(self, lesson: str, current: int, status: str, passed: list[str]) -> None:
        everything = self._all_positions()
        data = everything.setdefault(self.cluster, {})
        data[lesson] = {"step": current, "status": status, "passed": passed, "updated": time.time()}
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.progress_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(everything, indent=2) + "\n")
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
