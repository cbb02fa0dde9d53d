"""One learner working through one lesson: the lessons engine's state machine.

No Kubernetes counterpart; it plays the part of Instruqt's track runner, with
declarative checks. A ``LessonRun`` moves through a lesson's steps:

    start ──setup──▶ step 1 ──(checks pass)──▶ step 2 … ──▶ complete
                       │  predict → act → check (first failing check's message)
                       │  hint (unlocked by time or failed attempts), solve (runs the solution)
                       └─ reset(step S): cleanup, setup, the solutions of steps before S

Everything a learner does is appended to the event log (``progress.py``), and
the run is rebuilt from it, so ``start`` after a closed laptop resumes the same
step with the same hints unlocked.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import AsyncIterator, Callable

from kubetui.classroom.inbox import hold_reason
from kubetui.lessons.checks import CheckResult, current_rv, evaluate, first_failure
from kubetui.lessons.format import Hint, Lesson, Step
from kubetui.lessons.progress import LessonRecord, ProgressStore
from kubetui.lessons.runner import ActionError, LabEnv, run_action, run_actions

log = logging.getLogger(__name__)


@dataclass
class HintAnswer:
    """What "hint please" gives: the hint's text, or when the next one unlocks."""

    text: str | None
    number: int = 0              # 1-based index of this hint
    total: int = 0
    waiting: str = ""            # e.g. "the next hint unlocks in 40s or after a failed check"


@dataclass
class CheckOutcome:
    results: list[CheckResult]
    passed: bool
    message: str                 # the first failing check's message ("" when passed)
    detail: str                  # what was observed for it
    step_completed: bool = False # this evaluation completed the step
    held: str = ""               # why a passing step was not marked passed (the class is paused), else ""


class LessonRun:
    """A learner's run of one lesson on one cluster."""

    def __init__(self, lesson: Lesson, env: LabEnv, learner: str = "learner", *,
                 now: Callable[[], float] = time.time, hold: Callable[[], str] = hold_reason) -> None:
        self.lesson = lesson
        #: why checks must not advance right now ("" when they may): a class the learner joined is paused
        self.hold = hold
        self.env = env
        self.learner = learner
        self.store = ProgressStore(env.state_dir, learner)
        self.now = now
        self.record: LessonRecord = self.store.replay(lesson.id)
        self.index = min(self.record.current, len(lesson.steps) - 1)

    # --- where we are -------------------------------------------------------------------------------

    @property
    def step(self) -> Step:
        return self.lesson.steps[self.index]

    @property
    def started(self) -> bool:
        return self.record.status != "not started"

    @property
    def complete(self) -> bool:
        return self.record.status == "complete"

    def step_passed(self, index: int | None = None) -> bool:
        i = self.index if index is None else index
        return self.record.step(self.lesson.steps[i].id).passed

    def _log(self, event: str, step: str | None = None, **details) -> None:
        self.store.append(self.lesson.id, event, step, **details)
        self.record = self.store.replay(self.lesson.id)
        self.store.save_position(self.lesson.id, self.index, self.record.status,
                                 [s.id for s in self.lesson.steps if self.record.step(s.id).passed])

    def reload(self) -> None:
        """Where the learner stands, read again from the progress log: another process moved this run
        (a hosted class's server reset the learner's lab to a step; see ``kubetui.classwork``)."""
        self.record = self.store.replay(self.lesson.id)
        self.index = min(self.record.current, len(self.lesson.steps) - 1)

    # --- lifecycle ---------------------------------------------------------------------------------------

    async def start(self, *, fresh: bool = False) -> bool:
        """Run setup and enter step 1, or resume where the learner left off. True if resumed."""
        if self.started and not fresh:
            log.info("resuming %s at step %d", self.lesson.id, self.index + 1)
            await self._enter(self.index)
            return True
        problem = self.env.unmet_needs(self.lesson)
        if problem:
            raise ActionError(problem)
        await run_actions(self.lesson.setup, self.env, self.lesson.dir)
        self._log("lesson_start", None, title=self.lesson.title)
        self.index = 0
        await self._enter(0)
        return False

    async def _enter(self, index: int) -> None:
        self.index = index
        s = self.lesson.steps[index]
        if self.record.step(s.id).started_at is None:
            # the store's revision now: event checks count only what happens from here on
            self._log("step_start", s.id, index=index, rv=await current_rv(self.env.client))
        else:
            # back to a step already begun (prev/next/goto): the log must say so, or the next
            # replay (another `kubetui lessons` command, the TUI) would put the learner elsewhere
            self._log("step_enter", s.id, index=index)

    async def goto(self, index: int) -> Step:
        if not 0 <= index < len(self.lesson.steps):
            raise IndexError(f"lesson {self.lesson.id} has steps 1..{len(self.lesson.steps)}")
        await self._enter(index)
        return self.step

    async def next(self) -> Step:
        """The next step (stays on the last one)."""
        return await self.goto(min(self.index + 1, len(self.lesson.steps) - 1))

    async def prev(self) -> Step:
        return await self.goto(max(self.index - 1, 0))

    # --- predict → observe → explain -----------------------------------------------------------------

    def answer(self, choice: int) -> tuple[bool, str]:
        """Record the learner's prediction for this step; (correct, explanation)."""
        p = self.step.predict
        if p is None:
            raise ValueError(f"step {self.step.id} asks no prediction")
        if not 0 <= choice < len(p.choices):
            raise ValueError(f"choose 0..{len(p.choices) - 1}")
        correct = choice == p.answer
        self._log("predict", self.step.id, choice=choice, correct=correct)
        return correct, p.explain

    # --- checks ----------------------------------------------------------------------------------------

    async def evaluate(self, *, record: bool = True, index: int | None = None) -> CheckOutcome:
        """Evaluate the step's checks. ``record=False`` for live re-evaluation (the TUI): no attempt
        is counted, but a step whose checks pass is still marked passed."""
        i = self.index if index is None else index
        s = self.lesson.steps[i]
        srec = self.record.step(s.id)
        ctx = self.env.check_context(since=srec.started_at, cwd=self.lesson.dir, since_rv=srec.since_rv)
        results = await evaluate(s.checks, ctx)
        bad = first_failure(results)
        passed = bad is None
        if record:
            self._log("check", s.id, passed=passed, failing=(results.index(bad) if bad else None),
                      message=bad.message if bad else "", detail=bad.detail if bad else "")
        completed = False
        held = self.hold() if passed and not srec.passed else ""
        if held:
            # the teacher paused the class: the checks are shown, but the step does not pass (nor the
            # lesson advance) until the class resumes; the next evaluation after that passes it
            return CheckOutcome(results, passed, "", "", False, held)
        if passed and not srec.passed:
            self._log("step_pass", s.id, index=i)
            completed = True
            if all(self.record.step(x.id).passed for x in self.lesson.steps) and not self.complete:
                self._log("lesson_complete")
        return CheckOutcome(results, passed, bad.message if bad else "", bad.detail if bad else "", completed)

    async def watch_checks(self, interval: float = 1.0, *, stop: asyncio.Event | None = None
                           ) -> AsyncIterator[CheckOutcome]:
        """Re-evaluate the current step's checks every ``interval`` seconds; yield when the outcome
        changes (or the step changes). For the TUI's live ✓/✗; cancel or set ``stop`` to end it."""
        last: tuple | None = None
        while stop is None or not stop.is_set():
            out = await self.evaluate(record=False)
            key = (self.index, tuple((r.passed, r.detail) for r in out.results))
            if key != last:
                last = key
                yield out
            await asyncio.sleep(interval)

    # --- hints and solutions --------------------------------------------------------------------------

    def _unlocked(self, h: Hint) -> bool:
        srec = self.record.step(self.step.id)
        by_time = h.after_seconds is not None and srec.started_at is not None and \
            self.now() - srec.started_at >= h.after_seconds
        by_fail = h.after_failures is not None and srec.failures >= h.after_failures
        return by_time or by_fail

    def hint(self) -> HintAnswer:
        """The next hint if it is unlocked (recorded), else when it will be."""
        hints = self.step.hints
        srec = self.record.step(self.step.id)
        total = len(hints)
        if not hints:
            return HintAnswer(None, 0, 0, "this step has no hints")
        if srec.hints >= total:
            h = hints[-1]
            return HintAnswer(h.text, total, total, "that was the last hint: the solution is next (solve)")
        h = hints[srec.hints]
        if not self._unlocked(h):
            parts = []
            if h.after_seconds is not None and srec.started_at is not None:
                parts.append(f"in {max(0, int(h.after_seconds - (self.now() - srec.started_at)))}s")
            if h.after_failures is not None:
                left = h.after_failures - srec.failures
                parts.append(f"after {left} more failed check{'s' if left != 1 else ''}")
            return HintAnswer(None, srec.hints + 1, total, "the next hint unlocks " + " or ".join(parts))
        self._log("hint", self.step.id, number=srec.hints + 1)
        return HintAnswer(h.text, srec.hints + 1, total)

    async def solve(self, index: int | None = None, *, log_use: bool = True) -> list[str]:
        """Run the step's solution (skip); counted as solution use."""
        i = self.index if index is None else index
        s = self.lesson.steps[i]
        if log_use:
            self._log("solution", s.id)
        return await run_actions(s.solution, self.env, self.lesson.dir)

    async def reset(self, step: int = 0) -> None:
        """Back to step ``step`` (0-based): cleanup, setup, then the solutions of the steps before it."""
        await self.cleanup(quiet=True)
        await run_actions(self.lesson.setup, self.env, self.lesson.dir)
        for i in range(step):
            await run_actions(self.lesson.steps[i].solution, self.env, self.lesson.dir)
            # let each step settle before the next (and before the new step's events baseline)
            await self._settle(i)
        cleared = [s.id for s in self.lesson.steps[step:]]
        self._log("reset", None, index=step, from_step=step, cleared=cleared)
        self.index = step
        await self._enter(step)

    async def _settle(self, index: int, timeout: float = 60.0) -> None:
        s = self.lesson.steps[index]
        ctx = self.env.check_context(cwd=self.lesson.dir)
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            bad = first_failure(await evaluate(s.checks, ctx))
            if bad is None:
                return
            if asyncio.get_running_loop().time() >= deadline:
                raise ActionError(f"reset: step {index + 1} ({s.id}) did not settle after its solution: "
                                  f"{bad.message} [{bad.detail}]")
            await asyncio.sleep(0.25)

    async def cleanup(self, *, quiet: bool = False) -> list[str]:
        """Run cleanup and revert faults this cluster still has; errors are logged when ``quiet``."""
        out = []
        for a in self.lesson.cleanup:
            try:
                out.append(await run_action(a, self.env, self.lesson.dir))
            except ActionError as e:
                if not quiet:
                    raise
                log.warning("cleanup of %s: %s", self.lesson.id, e)
        from kubetui.faults import FaultError, revert_all
        try:
            for rec in await revert_all(self.env.fault_context()):
                out.append(f"reverted {rec.name} on {rec.target}")
        except FaultError as e:
            log.warning("reverting faults: %s", e)
        return out
