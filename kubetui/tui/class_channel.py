"""The app's link to a class it joined: the teacher's messages, pause, resets and drills, on screen.

No Kubernetes counterpart (issue 17). Mixed into ``KubetuiApp``. When this
machine joined a class (``kubetui class join``), a daemon thread long-polls
the class server for notes meant for this learner (``classroom/inbox.py``)
and posts them to the app as ``ClassNotes``; the app

- shows each message and hint as a notification (Textual's toast), and keeps
  the latest in the lesson panel's class line;
- shows "the class is paused" in the lesson panel while it is: the lessons
  engine then holds checks (``LessonRun.hold``: a passing step does not pass
  until the class resumes), and on resume the live checks run again at once;
- carries out ``reset`` and ``drill`` notes on this TUI's cluster
  (``kubetui/classwork.py``), through the open lesson run when it is the
  lesson reset, so the panel follows; in a hosted class the class server
  has carried them out already, and the panel only follows;
- in a hosted class's drill session, opens on the drill's namespace with
  its briefing (``show_class_notice``).

A thread, not a Textual worker: a long-poll blocks in ``urllib`` and a
thread worker would hold the app's exit until it returns; a daemon thread
just ends with the process. It only ever calls ``post_message``, which is
thread-safe.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import TYPE_CHECKING, Any, Mapping

from textual import work
from textual.message import Message

if TYPE_CHECKING:
    from kubetui.classroom.inbox import Inbox

log = logging.getLogger(__name__)

#: seconds one long-poll may wait for a note; after a failure, seconds before trying again
POLL_WAIT = 20
RETRY_SECONDS = 5.0


class ClassNotes(Message):
    """New notes from the class server (possibly none), and whether the class is paused now."""

    def __init__(self, notes: list[dict[str, Any]], paused: bool) -> None:
        super().__init__()
        self.notes = notes
        self.paused = paused


def follow(app: Any, box: "Inbox", stop: threading.Event, wait: float = POLL_WAIT) -> None:
    """The follower thread's loop: poll, post what came; bounded waits, ends when ``stop`` is set."""
    from kubetui.classroom.link import ClassError

    first = True
    while not stop.is_set():
        try:
            box.poll(wait=0 if first else wait)
        except ClassError as e:
            log.info("class server not reached: %s", e)
            stop.wait(RETRY_SECONDS)
            continue
        except Exception as e:  # noqa: BLE001 - loop boundary: the TUI goes on without the class
            log.warning("following the class: %s", e)
            stop.wait(RETRY_SECONDS)
            continue
        first = False
        notes = box.unseen()
        app.post_message(ClassNotes(notes, box.paused))


class ClassChannel:
    """What ``KubetuiApp`` does with the class it joined (see the module docstring)."""

    #: the lesson panel's class line: "the class is paused…", the latest message, or ""
    class_banner: str = ""
    class_paused: bool = False
    #: the latest message or hint from the teacher, as shown
    _class_last: str = ""
    _class_lock: "asyncio.Lock | None" = None
    _class_stop: threading.Event | None = None

    def start_class_follow(self, *, wait: float = POLL_WAIT) -> bool:
        """Follow the class this machine joined, if any (True when it did)."""
        from kubetui.classroom.inbox import Inbox

        box = Inbox()
        if not box.linked():
            return False
        box.unseen()            # what came before this session was shown then (or by `kubetui lessons`)
        self._class_stop = threading.Event()
        threading.Thread(target=follow, args=(self, box, self._class_stop, wait), name="kubetui-class-follow",
                         daemon=True).start()
        return True

    def show_class_notice(self, env: "Mapping[str, str] | None" = None) -> None:
        """A hosted class's web session opened on a lab of its own: the namespace it is about (a drill's)
        and what the class server wants said on opening (the drill's briefing; what a fallback cluster
        lacks), from the session's environment (``cmd/classhosted.session_command``)."""
        env = os.environ if env is None else env
        ns = env.get("KUBETUI_CLASS_NAMESPACE")
        if ns:
            self.namespace = ns  # type: ignore[attr-defined]
        notice = env.get("KUBETUI_CLASS_NOTICE", "")
        if notice:
            self.notify(notice, title="class", timeout=120)  # type: ignore[attr-defined]

    def stop_class_follow(self) -> None:
        if self._class_stop is not None:
            self._class_stop.set()

    def on_class_notes(self, message: ClassNotes) -> None:
        from kubetui.classroom.inbox import ACTIONS, PAUSED_TEXT, describe

        was_paused = self.class_paused
        self.class_paused = message.paused
        last = ""
        for note in message.notes:
            kind = note.get("kind")
            if kind in ACTIONS:
                continue                      # said when carried out
            text = describe(note)
            severity = "warning" if kind == "pause" else "information"
            self.notify(text, title="class", severity=severity, timeout=12)  # type: ignore[attr-defined]
            if kind in ("message", "hint"):
                last = text
        if last:
            self._class_last = last
        self.class_banner = "\n".join(x for x in (PAUSED_TEXT if message.paused else "", self._class_last) if x)
        if was_paused and not message.paused:
            self._lesson_dirty.set()  # type: ignore[attr-defined]  # resumed: the held step may pass now
        self.lesson_changed()  # type: ignore[attr-defined]
        from kubetui.classroom.inbox import Inbox
        if Inbox().pending():
            self._class_carry_out()

    @work(group="class-work")
    async def _class_carry_out(self) -> None:
        """Carry out the pending resets and drills on this TUI's cluster (one at a time, in order).

        Not an exclusive worker: cancelling one mid-reset would leave a note
        taken and half done. A lock keeps them one at a time instead; a later
        call finds nothing left to take, or the notes that came since.
        """
        if self._class_lock is None:
            self._class_lock = asyncio.Lock()
        async with self._class_lock:
            await self._class_carry_out_locked()

    async def _class_carry_out_locked(self) -> None:
        from kubetui.classwork import Lab, carry_out_pending
        from kubetui.tui.lesson import lab_env

        await self.cluster_ready.wait()  # type: ignore[attr-defined]
        try:
            env = lab_env(self.backend)  # type: ignore[attr-defined]
        except Exception as e:  # noqa: BLE001 - no cluster folder: say so, nothing to reset
            self.notify(f"cannot do what the teacher asked: {e}",  # type: ignore[attr-defined]
                        severity="error", timeout=12)
            return
        from kubetui.classroom.inbox import Inbox

        session = self.lesson  # type: ignore[attr-defined]
        # a drill's set-up takes a minute or two: its progress lines are shown as they come
        lab = Lab(env.state_dir, self.learner, self.lesson_library(), client=env.client,  # type: ignore[attr-defined]
                  say=lambda m: self.notify(m, title="class", timeout=6))  # type: ignore[attr-defined]
        if session is not None and any(n.get("kind") == "reset" and n.get("lesson") == session.lesson.id
                                       for n in Inbox().pending()):
            session.busy = "the teacher is resetting your lab…"
            self.lesson_changed()  # type: ignore[attr-defined]
        try:
            lines = await carry_out_pending(lab, run=session.run if session is not None else None)
        finally:
            if session is not None:
                session.busy = ""
        for line in lines:
            self.notify(line, title="class", timeout=12,  # type: ignore[attr-defined]
                        severity="error" if line.startswith("Could not") else "information")
        if session is not None:
            session.outcome = None
            session.hint_note = ""
            self._lesson_step_entered()  # type: ignore[attr-defined]
        self.lesson_changed()  # type: ignore[attr-defined]
