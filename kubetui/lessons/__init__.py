"""The lessons engine: lessons written in Markdown, checked against the cluster's real state.

Modules: ``format`` (parse ``lessons/NN-slug/lesson.md``), ``checks`` (declarative
checks), ``runner`` (setup/cleanup/solution actions), ``engine`` (a learner's
run), ``progress`` (event log), ``watch`` (library + hot reload), ``selftest``
(``kubetui lessons test``), ``export`` (JUnit, CSV), ``commands`` (the CLI).

Public API for the TUI's lesson panel (everything the panel needs; all
cluster access goes through the ``Client`` given in ``LabEnv``)::

    from kubetui.lessons import (LessonLibrary, LessonRun, LabEnv, LessonUpdate, LessonError,
                                 watch_library, default_lessons_dir)

    # list lessons (and broken files, each a LessonError with .file/.line/.message)
    lib = LessonLibrary.load(default_lessons_dir())
    lib.ordered() -> list[Lesson]; lib.errors -> {Path: LessonError}; lib.get("03") / lib.get("deployments")

    # the cluster: client + state dir + kubeconfig (+ the in-process provider for simulated node faults)
    env = LabEnv(client, state_dir, state_dir / "kubeconfig", provider_name="simulated",
                 cluster_name=name, provider=cluster.provider)      # or LabEnv.from_state_dir(state_dir)

    # start / resume (runs setup only on a fresh start; resumes the same step after a restart)
    run = LessonRun(lesson, env, learner="ada")
    resumed: bool = await run.start()          # await run.start(fresh=True) to start over

    # the current step
    run.index, run.step                        # Step: .id .title .body (Markdown, machine blocks removed)
    run.step.predict                           # Predict | None: .question .choices .answer .explain
    run.step_passed(), run.complete

    # checks -> CheckOutcome(results=[CheckResult(check, passed, message, detail)], passed, message, detail)
    out = await run.evaluate()                 # an explicit attempt (counted; unlocks hints on failure)
    out = await run.evaluate(record=False)     # live re-evaluation (not counted)
    async for out in run.watch_checks(interval=1.0): ...   # yields only when something changed
    r.label (e.g. "count pods app=web"), r.passed, r.message (teacher's diagnosis), r.detail (observed)

    correct, explanation = run.answer(choice_index)    # the prediction, 0-based
    h = run.hint()       # HintAnswer(text | None, number, total, waiting="unlocks in 40s or after …")
    run.next(); run.prev(); run.goto(i)
    await run.solve()    # runs the step's solution (recorded as solution used)
    await run.reset(step_index)

    # hot reload: a LessonUpdate per changed lesson (parsed lesson, or the error with file:line)
    async for update in watch_library(lib, stop=stop_event):
        update.lesson, update.error, update.one_line

    # what the step is about, for highlighting in the cluster view: the resources its checks name
    step_focus(run.step) -> list[tuple[kind/resource, name or selector]]
"""

from __future__ import annotations

from pathlib import Path

from kubetui.lessons.checks import CheckResult
from kubetui.lessons.engine import CheckOutcome, HintAnswer, LessonRun
from kubetui.lessons.format import Check, Lesson, LessonError, Step, load_lesson, parse_lesson
from kubetui.lessons.runner import ActionError, LabEnv
from kubetui.lessons.watch import LessonLibrary, LessonUpdate, watch_library

__all__ = ["ActionError", "Check", "CheckOutcome", "CheckResult", "HintAnswer", "LabEnv", "Lesson", "LessonError",
           "LessonLibrary", "LessonRun", "LessonUpdate", "Step", "default_lessons_dir", "load_lesson",
           "parse_lesson", "step_focus", "watch_library"]


def default_lessons_dir() -> Path:
    """Where the lessons are: ``$KUBETUI_LESSONS_DIR``, else the ones shipped with kubetui.

    A wheel or sdist carries the repository's top-level ``lessons/`` folder
    inside the package, as ``kubetui/lessons/library/`` (see setup.py); in a
    checkout (an editable install) that folder is ``lessons/`` beside the
    package, so edits to a lesson show at once. Teachers point
    ``--lessons-dir`` or ``$KUBETUI_LESSONS_DIR`` at their own.
    """
    import os
    env = os.environ.get("KUBETUI_LESSONS_DIR")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent
    bundled = here / "library"
    if bundled.is_dir():
        return bundled
    return here.parents[1] / "lessons"


def step_focus(step: Step) -> list[tuple[str, str]]:
    """What a step is about: ``(resource, name-or-selector)`` from its checks, for the cluster view.

    >>> from kubetui.lessons.format import Check
    >>> s = Step("s", "t", "", 1, checks=[Check("count", {"resource": "pods", "selector": "app=web"}, "x"),
    ...                                   Check("endpoints", {"service": "web"}, "x")])
    >>> step_focus(s)
    [('pods', 'app=web'), ('services', 'web')]
    """
    out: list[tuple[str, str]] = []
    for c in step.checks:
        s = c.spec
        if c.kind in ("exists", "field"):
            item = (str(s["resource"]), str(s["name"]))
        elif c.kind == "count":
            item = (str(s["resource"]), str(s.get("selector") or ""))
        elif c.kind == "endpoints":
            item = ("services", str(s["service"]))
        else:
            continue
        if item not in out:
            out.append(item)
    return out
