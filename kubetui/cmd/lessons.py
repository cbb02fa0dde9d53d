"""``kubetui lessons …``: learn, grade and test lessons from the command line.

    kubetui lessons                      list lessons with your progress
    kubetui lessons start ID [--fresh]   run setup and show step 1 (or resume where you left off)
    kubetui lessons start ID --tui       the same in the TUI, with the lesson panel beside the cluster
    kubetui lessons show [ID]            the current step again
    kubetui lessons check [ID]           evaluate the current step (exit 0 = passed: for graders)
    kubetui lessons predict [ID] N       answer the step's prediction (choice number, from 1)
    kubetui lessons hint|solve|next|prev [ID]
    kubetui lessons reset ID [--step S]  replay setup and the solutions before step S
    kubetui lessons test [ID…]           self-test lessons on fresh clusters (CI); --attach: this cluster
    kubetui lessons export --format junit|csv|gradebook   (gradebook: a row per learner, a column per lesson and drill)

The cluster is chosen like every other command (``--name``/``--state-dir``;
a lesson's own shell commands get ``KUBETUI_STATE_DIR``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from kubetui.cmdutil import CLIError, add_cluster_selector, resolve_state_dir
from kubetui.lessons import default_lessons_dir

DEFAULT_LEARNER = "learner"


def lessons_root(args: argparse.Namespace) -> Path:
    given = getattr(args, "lessons_dir", None) or os.environ.get("KUBETUI_LESSONS_DIR")
    if given:
        return Path(given).expanduser().resolve()
    shipped = default_lessons_dir()
    if shipped.is_dir():
        return shipped
    return Path.cwd() / "lessons"


def state_dir_of(args: argparse.Namespace) -> Path:
    env = os.environ.get("KUBETUI_STATE_DIR")
    if env and not getattr(args, "state_dir", None) and getattr(args, "name", "default") in (None, "default"):
        return Path(env)
    return resolve_state_dir(args)


def learner_of(args: argparse.Namespace) -> str:
    return getattr(args, "learner", None) or os.environ.get("KUBETUI_LEARNER") or \
        os.environ.get("USER") or DEFAULT_LEARNER


def register(sub: Any) -> None:
    p = sub.add_parser("lessons", help="interactive lessons: list, start, check, hint, test, export",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(func=cmd_list)
    ls = p.add_subparsers(dest="lessons_cmd", metavar="ACTION")

    def common(q: argparse.ArgumentParser) -> None:
        add_cluster_selector(q)
        q.add_argument("--lessons-dir", metavar="DIR", default=argparse.SUPPRESS,
                       help="folder of NN-slug/lesson.md lessons (default: the lessons shipped with kubetui)")
        q.add_argument("--learner", default=argparse.SUPPRESS, help="whose progress (default: $USER)")

    common(p)
    q = ls.add_parser("list", help="lessons with your progress")
    common(q)
    q.set_defaults(func=cmd_list)
    q = ls.add_parser("start", help="start (or resume) a lesson")
    common(q)
    q.add_argument("id")
    q.add_argument("--fresh", action="store_true", help="start over: run setup again from step 1")
    q.add_argument("--tui", action="store_true",
                   help="open the TUI with the lesson panel (attaches to the running cluster, "
                        "or starts its control plane in the background, sized for the lesson)")
    q.set_defaults(func=cmd_start)
    for name, fn, helptext in (("show", cmd_show, "show the current step"),
                               ("check", cmd_check, "check the current step (exit code 0 when it passes)"),
                               ("hint", cmd_hint, "the next hint, once it is unlocked"),
                               ("solve", cmd_solve, "run the step's solution (counts as solution used)"),
                               ("next", cmd_next, "go to the next step"),
                               ("prev", cmd_prev, "go to the previous step")):
        q = ls.add_parser(name, help=helptext)
        common(q)
        q.add_argument("id", nargs="?", help="lesson (default: the one you worked on last)")
        q.set_defaults(func=fn)
    q = ls.add_parser("predict", help="answer the current step's prediction")
    common(q)
    q.add_argument("args", nargs="+", metavar="[ID] CHOICE", help="lesson (optional) and choice number (1..n)")
    q.set_defaults(func=cmd_predict)
    q = ls.add_parser("reset", help="reset a lesson, or back to one step (setup + earlier solutions)")
    common(q)
    q.add_argument("id")
    q.add_argument("--step", default=None, help="step number or id (default: 1)")
    q.set_defaults(func=cmd_reset)
    q = ls.add_parser("test", help="self-test lessons: checks fail before each solution and pass after it")
    common(q)
    q.add_argument("ids", nargs="*", help="lessons (default: all)")
    q.add_argument("--attach", action="store_true",
                   help="use the running cluster (--name/--state-dir) instead of a fresh one per lesson")
    q.add_argument("--junit", metavar="FILE", help="also write the results as JUnit XML")
    q.add_argument("--step-timeout", type=float, default=90.0, metavar="S",
                   help="how long a step's checks may take to pass after its solution (default: 90)")
    q.set_defaults(func=cmd_test)
    q = ls.add_parser("export", help="learners' progress as JUnit XML, a CSV of steps, or an LMS gradebook")
    common(q)
    q.add_argument("--format", choices=("junit", "csv", "gradebook"), required=True,
                   help="junit: a testsuite per learner x lesson, and their drills; csv: a row per learner x "
                        "step; gradebook: a row per learner, a column per lesson and per drill (Canvas's "
                        "import layout)")
    q.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    q.add_argument("--all-clusters", action="store_true",
                   help="every cluster the learners used (progress outlives a purged cluster); default: this one")
    q.set_defaults(func=cmd_export)


# --- helpers -----------------------------------------------------------------------------------------


def _library(args: argparse.Namespace):
    from kubetui.lessons.watch import LessonLibrary
    lib = LessonLibrary.load(lessons_root(args))
    for err in lib.errors.values():
        print(f"kubetui: warning: {err}", file=sys.stderr)
    return lib


def _lesson(args: argparse.Namespace, ref: str | None):
    from kubetui.lessons.format import LessonError
    from kubetui.lessons.progress import ProgressStore

    lib = _library(args)
    if ref is None:
        pos = ProgressStore(state_dir_of(args), learner_of(args)).positions()
        if not pos:
            raise CLIError("no lesson started yet: kubetui lessons start ID")
        ref = max(pos.items(), key=lambda kv: kv[1].get("updated", 0))[0]
    try:
        return lib.get(ref)
    except (KeyError, LessonError) as e:
        raise CLIError(str(e).strip("'\"")) from None


def _run(args: argparse.Namespace, lesson):
    from kubetui.lessons.engine import LessonRun
    from kubetui.lessons.runner import ActionError, LabEnv

    kubeconfig = getattr(args, "kubeconfig", None)
    if kubeconfig:
        # `kubetui --kubeconfig FILE lessons ...`: the cluster behind a kubeconfig that is not a kubetui
        # state dir's (a hosted class's learner: their own credential, kept in their namespace). The lab
        # is what the TUI's is on that kubeconfig (tui/lesson.lab_env): its folder keeps the progress
        # position, the context's namespace is where checks look.
        from kubetui.client.http import HTTPClient
        from kubetui.client.kubeconfig import load_kubeconfig
        path = Path(kubeconfig)
        if not path.exists():
            raise CLIError(f"kubeconfig not found: {path}")
        env = LabEnv(HTTPClient.from_kubeconfig(path), path.parent, path, provider_name="unknown",
                     namespace=load_kubeconfig(path).namespace or "default")
        return LessonRun(lesson, env, learner_of(args))
    try:
        env = LabEnv.from_state_dir(state_dir_of(args))
    except ActionError as e:
        raise CLIError(str(e)) from None
    return LessonRun(lesson, env, learner_of(args))


def _async(coro_fn):
    from kubetui.lessons.runner import ActionError

    async def main():
        try:
            return await coro_fn()
        except ActionError as e:
            raise CLIError(str(e)) from None

    return asyncio.run(main())


def _print_step(run) -> None:
    from rich.console import Console
    from rich.markdown import Markdown

    console = Console()
    s = run.step
    n = len(run.lesson.steps)
    done = " ✓" if run.step_passed() else ""
    console.rule(f"{run.lesson.title} — step {run.index + 1}/{n}: {s.title}{done}")
    if run.index == 0 and run.lesson.intro:
        console.print(Markdown(run.lesson.intro))
    if s.predict:
        console.print(f"[bold]Predict first:[/] {s.predict.question}")
        for i, c in enumerate(s.predict.choices, 1):
            console.print(f"  {i}. {c}")
        console.print(f"  [dim](answer with: kubetui lessons predict {run.lesson.id} N)[/]")
    if s.body:
        console.print(Markdown(s.body))
    console.print(f"[dim]When done: kubetui lessons check {run.lesson.id}   "
                  f"(hint: kubetui lessons hint {run.lesson.id})[/]")


def _class_banner() -> None:
    """A joined learner sees the teacher's new messages, resets or drills waiting, and a pause, first."""
    from kubetui.classroom.inbox import banner_lines
    for line in banner_lines():
        print(f"[class] {line}")


async def _close(run) -> None:
    await run.env.client.close()


async def _next(run, back: bool = False) -> None:
    try:
        await (run.prev() if back else run.next())
    finally:
        await _close(run)


# --- commands ---------------------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    from kubetui.lessons.progress import ProgressStore

    lib = _library(args)
    store = ProgressStore(state_dir_of(args), learner_of(args))
    lessons = lib.ordered()
    _class_banner()
    # The ID column fits the longest id (kubectl-style: columns two spaces apart), so a
    # long id never runs into its title.
    w = max([len("ID"), *(len(lesson.id) for lesson in lessons)]) + 2
    print(f"{'#':<4}{'ID':<{w}}{'TITLE':<48}{'STEPS':>6}  PROGRESS")
    for lesson in lessons:
        rec = store.replay(lesson.id)
        passed = sum(1 for s in lesson.steps if rec.step(s.id).passed)
        status = rec.status if rec.status != "in progress" else \
            f"step {rec.current + 1}, {passed}/{len(lesson.steps)} passed"
        need = f" [{', '.join(lesson.requires)}]" if lesson.requires else ""
        print(f"{lesson.dir.name.split('-', 1)[0]:<4}{lesson.id:<{w}}{(lesson.title + need)[:46]:<48}"
              f"{len(lesson.steps):>6}  {status}")
    for path, err in sorted(lib.errors.items()):
        print(f"{'!':<4}{path.parent.name:<{w}}{'(broken) ' + err.message[:60]}")
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    lesson = _lesson(args, args.id)
    if getattr(args, "tui", False):
        return _start_in_tui(args, lesson)
    run = _run(args, lesson)

    async def go():
        try:
            resumed = await run.start(fresh=args.fresh)
        finally:
            await _close(run)
        return resumed

    resumed = _async(go)
    _class_banner()
    if resumed:
        print(f"Resuming {lesson.id} at step {run.index + 1} (start over with --fresh)")
    _print_step(run)
    return 0


def _start_in_tui(args: argparse.Namespace, lesson) -> int:
    """``lessons start ID --tui``: the TUI on this cluster (started if none runs), which starts the lesson."""
    from kubetui.cluster import ClusterSettings
    from kubetui.cmd.cluster import run_tui, settings_from_args
    from kubetui.statedir import running_pid

    state = state_dir_of(args)
    options = {"lesson": lesson.id, "lessons_dir": lessons_root(args), "learner": learner_of(args),
               "fresh": args.fresh}
    if getattr(args, "kubeconfig", None) is None and running_pid(state) is None:
        settings = settings_from_args(args, state)
        if ClusterSettings.load(state) is None:
            # A new cluster: make it the one the lesson needs (an existing one keeps its shape; the
            # panel then says what the lesson needs instead).
            if getattr(args, "nodes", None) is None:
                settings.nodes = max(settings.nodes, lesson.cluster.nodes)
            if lesson.cluster.provider != "any" and not getattr(args, "provider", None):
                settings.provider = lesson.cluster.provider
            if getattr(args, "control_planes", None) is None and lesson.cluster.control_planes > 1:
                settings.control_planes = lesson.cluster.control_planes
                settings.provider = "local"  # several control planes run as local processes
            if lesson.cluster.store != "any" and not getattr(args, "store", None):
                settings.store = lesson.cluster.store
        options["settings"] = settings
    return run_tui(args, state, **options)


def cmd_show(args: argparse.Namespace) -> int:
    run = _run(args, _lesson(args, args.id))
    _async(lambda: _close(run))
    _class_banner()
    _print_step(run)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    run = _run(args, _lesson(args, args.id))
    checked = run.index
    _class_banner()         # also fetches whether the class is paused, which holds the check below

    async def go():
        try:
            out = await run.evaluate()
            if out.passed and not out.held and run.index + 1 < len(run.lesson.steps):
                await run.next()
            return out
        finally:
            await _close(run)

    out = _async(go)
    step = run.lesson.steps[checked]
    for r in out.results:
        print(f"  {'✓' if r.passed else '✗'} {r.label}" + ("" if r.passed else f"  — {r.detail}"))
    if out.held:
        print(f"⏸ the checks pass, but the step does not advance yet: {out.held}")
        return 1
    if out.passed:
        print(f"✓ step {checked + 1} passed: {step.title}")
        if step.predict:
            print(f"  Why: {step.predict.explain}")
        if run.index != checked:
            print(f"Next: kubetui lessons show {run.lesson.id}")
        elif run.complete:
            print(f"Lesson {run.lesson.id} complete.")
        return 0
    print(f"✗ {out.message}")
    return 1


def cmd_hint(args: argparse.Namespace) -> int:
    run = _run(args, _lesson(args, args.id))
    _async(lambda: _close(run))
    h = run.hint()
    if h.text:
        print(f"Hint {h.number}/{h.total}: {h.text}")
        return 0
    print(h.waiting)
    return 1


def cmd_solve(args: argparse.Namespace) -> int:
    run = _run(args, _lesson(args, args.id))
    print(run.step.solution_text or "(this step has no solution)")

    async def go():
        try:
            return await run.solve()
        finally:
            await _close(run)

    for out in _async(go):
        if out.strip():
            print(out.rstrip())
    print(f"Solution applied. Check it: kubetui lessons check {run.lesson.id}")
    return 0


def cmd_next(args: argparse.Namespace) -> int:
    run = _run(args, _lesson(args, args.id))
    _async(lambda: _next(run))
    _print_step(run)
    return 0


def cmd_prev(args: argparse.Namespace) -> int:
    run = _run(args, _lesson(args, args.id))
    _async(lambda: _next(run, back=True))
    _print_step(run)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    ref, choice = (args.args[0], args.args[1]) if len(args.args) > 1 else (None, args.args[0])
    run = _run(args, _lesson(args, ref))
    _async(lambda: _close(run))
    try:
        correct, explain = run.answer(int(choice) - 1)
    except ValueError as e:
        raise CLIError(str(e)) from None
    print("Right." if correct else "Not quite — watch what happens and see why.")
    print("Now do the step, and compare what you see with your prediction.")
    if correct and explain:
        print(f"  {explain}")
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    lesson = _lesson(args, args.id)
    run = _run(args, lesson)
    try:
        index = lesson.step_index(args.step) if args.step else 0
    except ValueError as e:
        raise CLIError(str(e)) from None

    async def go():
        try:
            await run.reset(index)
        finally:
            await _close(run)

    _async(go)
    print(f"Reset {lesson.id} to step {index + 1}")
    _print_step(run)
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    from kubetui.lessons.export import selftest_junit
    from kubetui.lessons.runner import ActionError, LabEnv
    from kubetui.lessons.selftest import selftest_lessons

    lib = _library(args)
    try:
        lessons = [lib.get(i) for i in args.ids] if args.ids else lib.ordered()
    except KeyError as e:
        raise CLIError(str(e).strip("'\"")) from None
    broken = [] if args.ids else list(lib.errors.values())

    async def go():
        env = None
        if args.attach:
            try:
                env = LabEnv.from_state_dir(state_dir_of(args))
            except ActionError as e:
                raise CLIError(str(e)) from None
        try:
            return await selftest_lessons(lessons, attach=env, step_timeout=args.step_timeout,
                                          progress=lambda m: print(f"  … {m}", file=sys.stderr, flush=True))
        finally:
            if env is not None:
                await env.client.close()

    results = asyncio.run(go())
    for r in results:
        mark = "PASS" if r.passed else "FAIL"
        print(f"{mark} {r.lesson} ({r.provider}, {len(r.steps)} step(s), {r.seconds:.1f}s)")
        if r.error:
            print(f"     {r.error}")
        for s in r.steps:
            if not s.passed:
                print(f"     step {s.step} [{s.phase}]: {s.message}")
    for err in broken:
        print(f"FAIL {err}")
    if args.junit:
        Path(args.junit).write_text(selftest_junit(results))
    return 0 if results and all(r.passed for r in results) and not broken else 1


def cmd_export(args: argparse.Namespace) -> int:
    from kubetui.lessons.export import gradebook_csv, gradebook_rows, lms_gradebook_csv, progress_junit

    lib = _library(args)
    state = state_dir_of(args)
    only = [args.learner] if getattr(args, "learner", None) else None
    if args.format == "csv":
        text = gradebook_csv(gradebook_rows(state, lib.ordered(), only, all_clusters=args.all_clusters))
    elif args.format == "gradebook":
        text = lms_gradebook_csv(state, lib.ordered(), only, all_clusters=args.all_clusters)
    else:
        text = progress_junit(state, lib.ordered(), only, all_clusters=args.all_clusters)
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0
