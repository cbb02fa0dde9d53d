"""The class server's channel to learners: messages, hints, pause, and what the teacher asks a lab to do.

The teacher's dashboard does not reach into learners' machines. It posts
*notes* to the channel; each learner's kubetui reads the ones meant for it
(``GET /class/v1/inbox?since=N``, long-polled with ``wait``) with its own
credential, and acts on them itself:

- ``message`` / ``hint``: shown in the learner's TUI and ``kubetui lessons``;
- ``pause`` / ``resume``: the lesson checks stop (start) advancing;
- ``reset``: reset lesson ``lesson`` to step ``step`` (join mode: the
  learner's kubetui runs the lessons engine's reset on its own cluster;
  hosted mode: the class server also clears the learner's namespace);
- ``drill``: ``kubetui drill start DRILL --seed SEED`` (one seed for the
  class: everyone gets the same incident).

So a learner's lab is only ever touched by that learner's own kubetui, with
that learner's own credentials: a reset meant for one learner is a note
addressed to them, which no other learner's inbox returns.

Notes are numbered (their index) and kept in ``messages.jsonl`` in the class
folder, so a restarted server keeps every learner's cursor meaningful. A
learner sees notes from the time it joined on (a drill started an hour
before someone joined is not theirs to run).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

#: what a note may ask; ``reset`` and ``drill`` are the ones a learner's kubetui acts on
KINDS = frozenset({"message", "hint", "pause", "resume", "reset", "drill"})
#: the fields of a note a learner receives (``to`` stays on the server: a learner sees only its own)
PUBLIC = ("n", "t", "kind", "text", "lesson", "step", "drill", "seed")
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
MAX_TEXT = 2000


def validate(note: dict[str, Any]) -> str:
    """Why a teacher's note is refused ("" when it is fine); pure, table-tested."""
    kind = note.get("kind")
    if kind not in KINDS:
        return f"unknown kind {kind!r}: one of {', '.join(sorted(KINDS))}"
    text = note.get("text", "")
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        return f"text must be a string of at most {MAX_TEXT} characters"
    if kind in ("message", "hint") and not text.strip():
        return "a message needs text"
    if kind == "reset":
        if not isinstance(note.get("lesson"), str) or not _ID.match(note["lesson"]):
            return "a reset needs the lesson's id (lowercase letters, digits, '.', '_', '-')"
        step = note.get("step", 1)
        if not (isinstance(step, int) and step >= 1) and not (isinstance(step, str) and _ID.match(step)):
            return "step must be a step number (from 1) or a step id"
    if kind == "drill":
        if not isinstance(note.get("drill"), str) or not _ID.match(note["drill"]):
            return "a drill needs the drill's id (kubetui drill list)"
        if not isinstance(note.get("seed"), int) or not 0 <= note["seed"] < 2**31:
            return "seed must be a whole number from 0"
    return ""


class Channel:
    """The numbered notes, in memory and in ``messages.jsonl``."""

    def __init__(self, folder: Path | None = None) -> None:
        self.path = folder / "messages.jsonl" if folder else None
        self.notes: list[dict[str, Any]] = []
        if self.path and self.path.exists():
            for raw in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    self.notes.append(json.loads(raw))
                except ValueError:
                    continue
        # paused when the last pause/resume note was a pause (so a restarted server stays paused)
        toggles = [n["kind"] for n in self.notes if n["kind"] in ("pause", "resume")]
        self.paused = bool(toggles) and toggles[-1] == "pause"

    def post(self, t: float, to: str, kind: str, text: str, **extra: Any) -> dict[str, Any]:
        note = {"n": len(self.notes), "t": t, "to": to, "kind": kind, "text": text,
                **{k: v for k, v in extra.items() if v is not None}}
        self.notes.append(note)
        if kind in ("pause", "resume"):
            self.paused = kind == "pause"
        if self.path:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(note) + "\n")
        return note

    @property
    def next(self) -> int:
        return len(self.notes)

    def for_learner(self, name: str, since: int, joined: float = 0.0) -> list[dict[str, Any]]:
        """The notes from ``since`` on meant for ``name`` (or everyone), from its joining on."""
        return [{k: n[k] for k in PUBLIC if k in n} for n in self.notes[max(0, since):]
                if n["to"] in ("", name) and n["t"] >= joined]

    def has_news(self, name: str, since: int, joined: float = 0.0) -> bool:
        return any(n["to"] in ("", name) and n["t"] >= joined for n in self.notes[max(0, since):])
