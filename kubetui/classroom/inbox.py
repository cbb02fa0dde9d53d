"""The learner's end of the class channel: the teacher's notes as they reach this machine.

The class server keeps numbered notes (``channel.py``); a joined learner's
kubetui fetches the ones meant for it (its own credential: it cannot read
another learner's) and keeps them here, beside the link in the class folder:

- ``notes.jsonl``: every note received, in order (the learner's record of
  what the teacher said and asked);
- ``inbox.json``: the server cursor (``next``), whether the class is paused
  (so the lessons engine can hold checks without asking the network on every
  evaluation), the notes already shown (``shown``) and the ``reset``/``drill``
  notes already taken by a kubetui to carry out (``taken``: a TUI and
  ``kubetui class follow`` running together never both run a reset).

Several kubetui processes share it, so every change is made under an flock.
Standard library only (the lessons engine reads ``hold_reason`` on every check).
"""

from __future__ import annotations

import fcntl
import json
import os
import ssl
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from kubetui.classroom.link import ClassError, class_dir, load_link, read_jsonl, request, ssl_context

#: notes a learner's kubetui carries out (the others are only shown)
ACTIONS = ("reset", "drill")
PAUSED_TEXT = "The class is paused by the teacher: checks do not advance until the class resumes."


class Inbox:
    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or class_dir()
        self.state_path = self.folder / "inbox.json"
        self.notes_path = self.folder / "notes.jsonl"

    # --- local state -----------------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """The state, read under the lock and written back when the block ends."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "inbox.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            state = self.state()
            yield state
            tmp = self.state_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(state))
            os.replace(tmp, self.state_path)

    def state(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            data = {}
        return {"next": 0, "paused": False, "shown": 0, "taken": [], **data}

    def notes(self) -> list[dict[str, Any]]:
        return read_jsonl(self.notes_path)

    def linked(self) -> bool:
        return load_link(self.folder) is not None

    @property
    def paused(self) -> bool:
        return self.linked() and bool(self.state()["paused"])

    def remember_paused(self, paused: bool) -> None:
        """The server said whether the class is paused (every reply to a report says so)."""
        with self._locked() as st:
            st["paused"] = bool(paused)

    # --- from the server -----------------------------------------------------------------------------

    def poll(self, wait: float = 0, timeout: float = 3.0) -> list[dict[str, Any]]:
        """Fetch the notes the server has for this learner past our cursor (long-poll up to ``wait`` s).

        Returns the new notes; raises ClassError when the server cannot be
        reached or refuses (the cached state stays as it was).
        """
        link = load_link(self.folder)
        if not link:
            raise ClassError("this machine has not joined a class: kubetui class join URL --code CODE --name NAME")
        since = self.state()["next"]
        try:
            ctx = ssl_context((self.folder / "ca.crt").read_text())
        except (OSError, ssl.SSLError) as e:
            raise ClassError(f"the class CA in {self.folder} is missing or broken ({e}): join the class again") from None
        got = request(f"{link['url']}/class/v1/inbox?since={since}&wait={int(wait)}", token=link["token"],
                      ctx=ctx, timeout=timeout + wait)
        if int(got["next"]) < since:
            # a new class channel (the class folder was made anew): our numbers mean nothing there;
            # keep the old notes aside and start over from its first note
            with self._locked() as st:
                if self.notes_path.exists():
                    self.notes_path.rename(self.notes_path.with_suffix(".old.jsonl"))
                st.update(next=0, shown=0, taken=[])
            return self.poll(wait=0, timeout=timeout)
        with self._locked() as st:
            if st["next"] != since:         # another kubetui fetched meanwhile: keep its notes, not twice
                fresh = [n for n in got["messages"] if n.get("n", -1) >= st["next"]]
            else:
                fresh = got["messages"]
            if fresh:
                with open(self.notes_path, "a", encoding="utf-8") as f:
                    f.writelines(json.dumps(n) + "\n" for n in fresh)
            st["next"] = max(st["next"], int(got["next"]))
            st["paused"] = bool(got["paused"])
        return fresh

    # --- for the screens and the followers -------------------------------------------------------

    def unseen(self, *, mark: bool = True) -> list[dict[str, Any]]:
        """Notes not shown yet (marked shown unless ``mark`` is False)."""
        with self._locked() as st:
            out = [n for n in self.notes() if n.get("n", -1) >= st["shown"]]
            if mark and out:
                st["shown"] = max(n["n"] for n in out) + 1
        return out

    def pending(self) -> list[dict[str, Any]]:
        """``reset``/``drill`` notes no kubetui has taken yet."""
        taken = set(self.state()["taken"])
        return [n for n in self.notes() if n.get("kind") in ACTIONS and n.get("n") not in taken]

    def take(self) -> list[dict[str, Any]]:
        """Take the pending ``reset``/``drill`` notes to carry out (no other kubetui will)."""
        with self._locked() as st:
            taken = set(st["taken"])
            out = [n for n in self.notes() if n.get("kind") in ACTIONS and n.get("n") not in taken]
            st["taken"] = sorted(taken | {n["n"] for n in out})
        return out


def hold_reason(folder: Path | None = None) -> str:
    """Why lesson checks must not advance now ("" when they may): the class is paused."""
    box = Inbox(folder)
    return PAUSED_TEXT if box.paused else ""


def describe(note: dict[str, Any]) -> str:
    """One line for a note, as the learner's screens show it."""
    kind = note.get("kind")
    if kind == "hint":
        return f"Hint from the teacher: {note.get('text', '')}"
    if kind == "message":
        return f"Message from the teacher: {note.get('text', '')}"
    if kind == "pause":
        return PAUSED_TEXT
    if kind == "resume":
        return "The class resumed: checks advance again."
    if kind == "reset":
        return f"The teacher reset your lab: lesson {note.get('lesson')}, step {note.get('step')}."
    if kind == "drill":
        return f"The teacher started drill {note.get('drill')} for the class (seed {note.get('seed')})."
    return str(note.get("text", ""))


def banner_lines(box: Inbox | None = None, *, fetch: bool = True, timeout: float = 2.0) -> list[str]:
    """What ``kubetui lessons`` prints about the class: new notes, notes waiting to be carried out, pause.

    Fetches first (briefly: an unreachable server leaves the cached state);
    the notes printed are marked shown. Nothing when this machine joined no class.
    """
    box = box or Inbox()
    if not box.linked():
        return []
    if fetch:
        try:
            box.poll(timeout=timeout)
        except ClassError:
            pass
    lines = [describe(n) for n in box.unseen() if n.get("kind") not in ("pause", "resume", *ACTIONS)]
    for n in box.pending():
        lines.append(describe(n) + " `kubetui class follow` (or the TUI) carries it out.")
    if box.paused:
        lines.append(PAUSED_TEXT)
    return lines
