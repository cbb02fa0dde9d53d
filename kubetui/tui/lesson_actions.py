"""The app's lesson actions: start a lesson, keys and buttons, live checks, hot reload.

No Kubernetes counterpart. Mixed into ``KubetuiApp``. The lessons engine does
the work (``kubetui.lessons``); this module only decides *when*:

- checks are re-evaluated when the watch bridge reports a change to a
  resource the step's checks read (coalesced: at most ``1 / LIVE_MIN_INTERVAL``
  evaluations a second, plus one every ``LIVE_RECHECK_SECONDS`` for checks no
  watch can see, such as shell or http), in a worker, so the UI never waits;
- lesson files are watched with ``watchfiles`` (``kubetui.lessons.watch``) in a
  worker; a reload replaces the lesson in place, a broken file shows its one-line
  ``path:line: message`` in the panel while the last good version keeps working.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work

from kubetui.tui.bridge import ObjectsChanged

if TYPE_CHECKING:
    from kubetui.lessons import LessonUpdate
    from kubetui.tui.lesson import LessonSession

log = logging.getLogger(__name__)

#: at most this often (seconds) the live checks run, however fast the cluster changes
LIVE_MIN_INTERVAL = 0.3
#: and at least this often, for checks no watch can see (shell, http, dns)
LIVE_RECHECK_SECONDS = 5.0
LESSON_ACTIONS = ("lesson_step", "lesson_hint", "lesson_check")


class LessonActions:
    """What ``KubetuiApp`` does for lessons (see the module docstring)."""

    lesson: "LessonSession | None"
    lesson_visible: bool

    # -- starting ------------------------------------------------------------------------

    def lesson_library(self) -> Any:
        """The lesson library (loaded once; the hot reload keeps it current)."""
        from kubetui.lessons import default_lessons_dir
        from kubetui.tui.lesson import load_library

        if self._lesson_library is None:  # type: ignore[has-type]
            self._lesson_library = load_library(self.lessons_dir or default_lessons_dir())  # type: ignore[attr-defined]
            self._lesson_reload()
        return self._lesson_library

    @work(group="lesson-start", exclusive=True)
    async def start_lesson(self, ref: str, *, fresh: bool = False) -> None:
        """Open the panel on lesson ``ref`` (id, folder or number); run its setup or resume it."""
        from kubetui.lessons import ActionError, LessonRun
        from kubetui.tui.lesson import LessonSession, find_lesson, lab_env

        await self.cluster_ready.wait()  # type: ignore[attr-defined]
        try:
            lesson = find_lesson(self.lesson_library(), ref)
        except LookupError as e:
            self.notify(str(e), severity="error", timeout=10)  # type: ignore[attr-defined]
            return
        from kubetui.tui import hosted_lab
        if hosted_lab.needs_move(lesson.scope, lesson.id):
            await self._move_lab(lesson)
            return
        try:
            env = lab_env(self.backend)  # type: ignore[attr-defined]
        except ActionError as e:
            self.notify(str(e), severity="error", timeout=10)  # type: ignore[attr-defined]
            return
        session = LessonSession(self.lesson_library(), LessonRun(lesson, env, self.learner))  # type: ignore[attr-defined]
        setting_up = fresh or not session.run.started
        session.busy = "running the lesson's setup…" if setting_up else "resuming…"
        self.lesson, self.lesson_visible = session, True
        self.lesson_changed()
        if setting_up:
            # Objects the lesson makes that exist already (an earlier lesson's web Deployment, a pod
            # called hello): say so before the setup runs, while it is still true.
            from kubetui.tui.lesson import leftovers, leftovers_notice
            session.notice = leftovers_notice(await leftovers(lesson, env.client, env.namespace))
            if session.notice:
                self.notify(session.notice, severity="warning", timeout=12)  # type: ignore[attr-defined]
        try:
            resumed = await session.run.start(fresh=fresh)
        except ActionError as e:
            session.busy, session.error = "", str(e)
            self.lesson_changed()
            return
        session.busy = ""
        if resumed:
            self.notify(f"Resuming {lesson.title} at step {session.run.index + 1}", timeout=4)  # type: ignore[attr-defined]
        self._lesson_step_entered()
        self._lesson_live_checks()

    async def _move_lab(self, lesson: Any) -> None:
        """A hosted class: this lesson runs on the other lab (see ``kubetui.tui.hosted_lab``); the class
        moves the learner, then the page reloads onto the session that runs it."""
        from kubetui.classroom.link import ClassError
        from kubetui.tui import hosted_lab

        private = lesson.scope == "cluster"
        self.notify(f"{lesson.title}: " + ("starting a cluster of your own for this lesson…" if private  # type: ignore[attr-defined]
                                           else "back to the class's cluster…"), timeout=30)
        try:
            answer = await asyncio.to_thread(hosted_lab.move, lesson.id)
        except ClassError as e:
            self.notify(f"cannot open {lesson.title} here: {e}", severity="error", timeout=15)  # type: ignore[attr-defined]
            return
        self.open_url(str(answer["url"]), new_tab=False)  # type: ignore[attr-defined]

    def open_lesson_picker(self) -> None:
        from kubetui.tui.screens.lessons import LessonPickerScreen

        def chosen(ref: str | None) -> None:
            if ref:
                self.start_lesson(ref)
        self.push_screen(LessonPickerScreen(self.lesson_library()), chosen)  # type: ignore[attr-defined]

    # -- what the panel and the map listen to -------------------------------------------------

    def lesson_changed(self) -> None:
        """Tell every lesson panel (and the map's highlight) to redraw, and the footer its keys."""
        if self.lesson is not None:
            self.lesson.changed()
        self.lesson_signal.publish(self.lesson)  # type: ignore[attr-defined]
        self.refresh_bindings()  # type: ignore[attr-defined]

    def _lesson_step_entered(self) -> None:
        """A new step (or lesson version): watch what its checks read, re-check, offer its prediction."""
        from kubetui.tui.lesson import watched_resources

        if self.lesson is None:
            return
        self.bridge.subscribe(self, *watched_resources(self.lesson.step))  # type: ignore[attr-defined]
        self._lesson_dirty.set()  # type: ignore[attr-defined]
        self.lesson_changed()
        self.call_after_refresh(self._focus_prediction)  # type: ignore[attr-defined]

    def _focus_prediction(self) -> None:
        from kubetui.tui.widgets.lesson_panel import LessonPanel
        for panel in self.screen.query(LessonPanel):  # type: ignore[attr-defined]
            panel.focus_choices()

    def on_objects_changed(self, message: ObjectsChanged) -> None:
        # Screens' own pings bubble up here too; only the app's own changes count.
        if message.bridge.take_changes(self):  # type: ignore[arg-type]
            self._lesson_dirty.set()  # type: ignore[attr-defined]

    @work(group="lesson-live", exclusive=True)
    async def _lesson_live_checks(self) -> None:
        """Re-evaluate the step's checks as the cluster changes (coalesced, never counted as attempts)."""
        dirty: asyncio.Event = self._lesson_dirty  # type: ignore[attr-defined]
        while True:
            try:
                await asyncio.wait_for(dirty.wait(), LIVE_RECHECK_SECONDS)
            except asyncio.TimeoutError:
                pass
            dirty.clear()
            session = self.lesson
            if session is None or session.busy or not session.run.started:
                continue
            try:
                out = await session.evaluate(record=False)
            except Exception as exc:  # loop boundary: a check that crashed must not stop the others
                log.warning("lesson %s step %s: live check failed: %s", session.lesson.id, session.step.id, exc)
                out = None
            if out is not None:
                if out.step_completed:
                    self.notify(f"✓ Step {session.run.index + 1} passed: {session.step.title}",  # type: ignore[attr-defined]
                                timeout=4)
                self.lesson_changed()
            await asyncio.sleep(LIVE_MIN_INTERVAL)  # coalesce bursts of changes

    # -- hot reload ------------------------------------------------------------------------------

    @work(group="lesson-reload", exclusive=True)
    async def _lesson_reload(self) -> None:
        from kubetui.lessons import watch_library

        try:
            async for update in watch_library(self._lesson_library, stop=self._lesson_stop):  # type: ignore[attr-defined]
                self.lesson_reloaded(update)
        except Exception as exc:  # loop boundary: without hot reload the lessons still work
            log.warning("lesson hot reload stopped: %s", exc)

    def lesson_reloaded(self, update: "LessonUpdate") -> None:
        session = self.lesson
        mine = session is not None and Path(update.path).resolve() == Path(session.lesson.path).resolve()
        if not mine:
            if update.error is not None:
                self.notify(update.one_line, severity="warning", timeout=8)  # type: ignore[attr-defined]
            return
        assert session is not None
        if update.error is not None:
            session.reload_error = update.one_line
            self.lesson_changed()
        elif update.lesson is not None:
            session.replace_lesson(update.lesson)
            self._lesson_step_entered()
        elif update.deleted:
            session.reload_error = update.one_line
            self.lesson_changed()

    # -- keys -------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in LESSON_ACTIONS:
            from kubetui.tui.screens.base import MainScreen
            # Only beside a panel: on a pushed screen (detail, logs) these letters mean nothing.
            return (self.lesson is not None and self.lesson_visible and self.lesson.run.started
                    and isinstance(self.screen, MainScreen))  # type: ignore[attr-defined]
        return True

    def action_toggle_lesson(self) -> None:
        if self.lesson is None:
            self.open_lesson_picker()
            return
        self.lesson_visible = not self.lesson_visible
        self.lesson_changed()
        if self.lesson_visible:
            self.call_after_refresh(self._focus_prediction)  # type: ignore[attr-defined]

    @work(group="lesson-actions", exclusive=True)
    async def action_lesson_step(self, delta: int) -> None:
        session = self.lesson
        if session is None:
            return
        target = min(max(session.run.index + delta, 0), len(session.lesson.steps) - 1)
        if target != session.run.index:
            await session.goto(target)
            self._lesson_step_entered()

    def action_lesson_hint(self) -> None:
        if self.lesson is not None:
            self.lesson.hint()
            self.lesson_changed()

    @work(group="lesson-actions", exclusive=True)
    async def action_lesson_check(self) -> None:
        """Check now: an explicit attempt, recorded (a failure unlocks hints that wait for one)."""
        session = self.lesson
        if session is None:
            return
        out = await session.evaluate(record=True)
        if out is not None and not out.passed:
            self.notify(f"✗ {out.message}", severity="warning", timeout=6)  # type: ignore[attr-defined]
        elif out is not None:
            self.notify(f"✓ Step {session.run.index + 1} passed", timeout=4)  # type: ignore[attr-defined]
        self.lesson_changed()

    def answer_prediction(self, choice: int) -> None:
        session = self.lesson
        if session is None or session.step.predict is None:
            return
        if session.prediction()[1] is not None:
            return  # the first answer counts
        session.answer(choice)
        self.lesson_changed()
        self.screen.set_focus(None)  # type: ignore[attr-defined]  # back to the view's own keys

    @work(group="lesson-actions", exclusive=True)
    async def solve_lesson_step(self) -> None:
        """Run the step's solution (counted as solution used), as ``kubetui lessons solve``."""
        from kubetui.lessons import ActionError

        session = self.lesson
        if session is None:
            return
        session.busy, session.error = "running the solution…", ""
        self.lesson_changed()
        try:
            await session.run.solve()
        except ActionError as e:
            session.error = str(e)
        session.busy = ""
        self._lesson_dirty.set()  # type: ignore[attr-defined]
        self.lesson_changed()
