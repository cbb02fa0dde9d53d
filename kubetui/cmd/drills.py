"""``kubetui drill …``: failure drills (incident response practice), scored.

    kubetui drill list                       the drills, and what each needs
    kubetui drill start ID [--seed N]        set up the app, then break it (the same seed: the same incident)
    kubetui drill status                     what the prober sees; "mitigated" once service is back
    kubetui drill hint                       the next hint (costs 5 points)
    kubetui drill answer [TEXT|CHOICE]       the root cause (without an argument: the question)
    kubetui drill give-up                    the answer and a mitigation that works (scores 0 for them)
    kubetui drill report                     the score and a timeline of your kubectl actions beside the fault's
    kubetui drill clean                      delete the drill's namespace and undo its cluster-wide changes
    kubetui drill test [ID…] [--fresh local]   self-test drills on this cluster, or a throwaway one (CI)

Drills run on the local and docker providers (simulated nodes run no
containers to probe). Your actions are read from the API server's audit log:
use the cluster's kubeconfig as usual; the drill's own writes are made as
``kubetui:drill``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from typing import Any

from kubetui.cmdutil import CLIError, add_cluster_selector


def register(sub: Any) -> None:
    p = sub.add_parser("drill", help="failure drills: mitigate and diagnose a seeded incident, scored",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ds = p.add_subparsers(dest="drill_cmd", metavar="ACTION", required=True)

    def common(q: argparse.ArgumentParser) -> None:
        add_cluster_selector(q)
        q.add_argument("--learner", default=argparse.SUPPRESS, help="whose progress (default: $USER)")
        q.add_argument("--drills-dir", metavar="DIR", default=argparse.SUPPRESS,
                       help="folder of <id>/drill.yaml drills (default: the ones shipped with kubetui)")

    q = ds.add_parser("list", help="the drills")
    common(q)
    q.set_defaults(func=cmd_list)
    q = ds.add_parser("start", help="start a drill (cleans up any other drill on this cluster)")
    common(q)
    q.add_argument("id")
    q.add_argument("--seed", type=int, default=None, help="the incident's seed (default: drawn, and shown)")
    q.set_defaults(func=cmd_start)
    for name, fn, text in (("status", cmd_status, "what the prober sees, and whether it is mitigated"),
                           ("hint", cmd_hint, "the next hint (each costs points)"),
                           ("give-up", cmd_give_up, "end the drill: the root cause and a mitigation that works"),
                           ("report", cmd_report, "the score and the timeline"),
                           ("clean", cmd_clean, "delete the drill's namespace and undo its changes")):
        q = ds.add_parser(name, help=text)
        common(q)
        q.add_argument("--drill", dest="id", default=None, help="which drill (default: the one running)")
        q.set_defaults(func=fn)
    q = ds.add_parser("answer", help="answer the root-cause question (no argument: show it)")
    common(q)
    q.add_argument("answer", nargs="*", metavar="TEXT|CHOICE")
    q.add_argument("--drill", dest="id", default=None, help="which drill (default: the one running)")
    q.set_defaults(func=cmd_answer)
    q = ds.add_parser("test", help="self-test drills on this cluster: the fault breaks the service, the wrong "
                                   "mitigations do not count, the reference one does")
    common(q)
    q.add_argument("ids", nargs="*", help="drills (default: every one this cluster can run)")
    q.add_argument("--seed", type=int, default=1)
    q.add_argument("--fresh", choices=("local", "docker"), default=None, metavar="PROVIDER",
                   help="run on a throwaway cluster of this provider (local or docker) instead of the "
                        "running one, as `kubetui lessons test` does")
    q.add_argument("--parallel", type=int, default=None, metavar="N",
                   help="drills tested side by side, each in its own namespace (default 3; the exclusive "
                        "ones always run alone)")
    q.set_defaults(func=cmd_test)


# --- helpers -----------------------------------------------------------------------------------------


def _root(args: argparse.Namespace):
    from pathlib import Path
    given = getattr(args, "drills_dir", None)
    return Path(given).expanduser().resolve() if given else None


def _runner(args: argparse.Namespace):
    from kubetui.cmd.lessons import learner_of, state_dir_of
    from kubetui.drills import DrillEnv, DrillRunError, DrillRunner
    try:
        env = DrillEnv.from_state_dir(state_dir_of(args))
    except DrillRunError as e:
        raise CLIError(str(e)) from None
    return DrillRunner(env, learner_of(args), progress=lambda m: print(f"... {m}", file=sys.stderr, flush=True))


def _drill(args: argparse.Namespace, runner=None):
    from kubetui.drills import DrillError, find
    ref = getattr(args, "id", None)
    if ref is None:
        active = runner.active() if runner is not None else None
        if not active:
            raise CLIError("no drill is running on this cluster: kubetui drill start ID (kubetui drill list)")
        ref = active["drill"]
    try:
        return find(ref, _root(args))
    except DrillError as e:
        raise CLIError(e.message) from None


def _run(coro):
    from kubetui.drills import DrillRunError

    async def main():
        try:
            return await coro
        except DrillRunError as e:
            raise CLIError(str(e)) from None
    return asyncio.run(main())


# --- commands ---------------------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    from kubetui.drills import DrillError, load_all
    try:
        drills = load_all(_root(args))
    except DrillError as e:
        raise CLIError(str(e)) from None
    width = max((len(d.id) for d in drills), default=2)
    print(f"{'ID':<{width}}  {'NEEDS':<6}  {'TARGET':>6}  TITLE")
    for d in drills:
        needs = "docker" if "docker" in d.requires else "local"
        print(f"{d.id:<{width}}  {needs:<6}  {d.minutes:>5}m  {d.title}")
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    runner = _runner(args)
    drill = _drill(args)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10_000)
    inc, rec = _run(runner.start(drill, seed))
    print(f"Drill {drill.id}: {drill.title}   (seed {seed}: `--seed {seed}` replays this incident)")
    print(f"Namespace: {rec.namespace}    target time: {drill.minutes} min")
    print()
    from kubetui.drills.format import render
    print(render(drill.briefing or drill.summary, inc.values(rec.namespace)))
    print()
    print("Mitigate first (kubetui drill status says when the service is back), then find the root cause:")
    print(f"  {drill.question.text}")
    print("  kubetui drill answer ...   |   kubetui drill hint   |   kubetui drill give-up   |   kubetui drill report")
    return 0


def _fmt_samples(samples: list[dict], t0: float) -> str:
    recent = [s for s in samples if s.get("t", 0) >= t0][-30:]
    return "".join("▇" if s.get("ok") else "_" for s in recent) or "(no samples yet)"


def cmd_status(args: argparse.Namespace) -> int:
    runner = _runner(args)
    drill = _drill(args, runner)
    st = _run(runner.status(drill))
    rec = runner.record(drill)
    print(f"Drill {drill.id}: {drill.title}   {int(st.elapsed // 60)}m{int(st.elapsed % 60):02d}s since the page")
    print(f"prober (last 30 s, ▇ healthy, _ down): {_fmt_samples(st.samples, rec.t0 or 0)}")
    if st.samples:
        last = st.samples[-1]
        print("  now: " + ", ".join(f"{k} {v}" for k, v in (last.get("results") or {}).items()))
    if st.mitigated_at is not None:
        print(f"MITIGATED: service healthy since +{st.mitigated_at - (rec.t0 or 0):.0f}s and the drill's checks pass")
        if not rec.answers:
            print(f"Now the root cause: {drill.question.text}  (kubetui drill answer)")
        return 0
    passed = sum(r.passed for r in st.checks)
    print(f"not mitigated yet: service {'healthy' if st.healthy_now else 'DOWN'}, "
          f"{passed}/{len(st.checks)} of the drill's checks pass")
    return 1


def cmd_hint(args: argparse.Namespace) -> int:
    runner = _runner(args)
    drill = _drill(args, runner)
    from kubetui.drills import DrillRunError
    try:
        text, n = runner.hint(drill)
    except DrillRunError as e:
        raise CLIError(str(e)) from None
    if text is None:
        print(f"no more hints ({n} taken): kubetui drill give-up shows the answer")
        return 1
    print(f"hint {n}/{len(drill.hints)} (−5 points): {text}")
    return 0


def cmd_answer(args: argparse.Namespace) -> int:
    runner = _runner(args)
    drill = _drill(args, runner)
    q = drill.question
    if not args.answer:
        print(q.text)
        for i, c in enumerate(q.choices, 1):
            print(f"  {i}. {c}")
        print("answer: kubetui drill answer " + ("N" if q.choices else "TEXT"))
        return 0
    from kubetui.drills import DrillRunError
    try:
        correct, explain, left = runner.answer(drill, " ".join(args.answer))
    except DrillRunError as e:
        raise CLIError(str(e)) from None
    if correct:
        print("Right." + (f" {explain}" if explain else ""))
    else:
        print("Not that." + (f" {left} more try." if left else f" {explain}" if explain else ""))
    rec = runner.record(drill)
    if rec.over:
        print("The drill is over: kubetui drill report")
    elif rec.mitigated_at is None:
        print("Service is not restored yet (kubetui drill status).")
    return 0 if correct else 1


def cmd_give_up(args: argparse.Namespace) -> int:
    runner = _runner(args)
    drill = _drill(args, runner)
    from kubetui.drills import DrillRunError
    try:
        runner.give_up(drill)
    except DrillRunError as e:
        raise CLIError(str(e)) from None
    return cmd_report(args, runner, drill)


def cmd_report(args: argparse.Namespace, runner=None, drill=None) -> int:
    from kubetui.drills.report import render_report
    runner = runner or _runner(args)
    drill = drill or _drill(args, runner)
    rec, sc, samples, audit = _run(runner.report(drill))
    events = list(runner.store.events(f"drill:{drill.id}"))
    print(render_report(drill, rec, sc, events, audit, samples, time.time(), runner.values(drill, rec)))
    if rec.over:
        print("\nkubetui drill clean removes the drill's namespace and undoes its changes.")
    return 0


def cmd_clean(args: argparse.Namespace) -> int:
    runner = _runner(args)
    ref = getattr(args, "id", None)
    done = _run(runner.clean(ref))
    print("\n".join(done) if done else "no drill to clean up")
    return 0


async def _fresh_selftest(provider: str, drills: list, seed: int, say, parallel: int) -> list:
    """A throwaway cluster in this process (2 nodes), the drills on it, then gone (Docker containers too)."""
    import secrets
    import tempfile
    from pathlib import Path

    from kubetui.cluster import Cluster, ClusterSettings
    from kubetui.drills import DrillEnv
    from kubetui.drills.selftest import selftest_drills
    with tempfile.TemporaryDirectory(prefix="kubetui-drills-") as tmp:
        settings = ClusterSettings(name=f"drills-{secrets.token_hex(3)}", provider=provider, nodes=2, api_port=0)
        cluster = Cluster(settings, Path(tmp))
        try:
            say(f"starting a throwaway {provider} cluster {settings.name}")
            await cluster.up()
            env = DrillEnv(Path(tmp), provider, settings.name)
            return await selftest_drills(drills, env, seed=seed, parallel=parallel, progress=say)
        finally:
            await cluster.stop()
            if provider == "docker" and cluster.provider is not None:
                await cluster.provider.delete(purge=True)


def cmd_test(args: argparse.Namespace) -> int:
    from kubetui.drills import DrillEnv, load_all
    from kubetui.drills.selftest import PARALLEL, selftest_drills
    say = lambda m: print(f"... {m}", file=sys.stderr, flush=True)  # noqa: E731
    drills = load_all(_root(args))
    parallel = PARALLEL if args.parallel is None else args.parallel
    if parallel < 1:
        raise CLIError("--parallel must be at least 1")
    if args.ids:
        unknown = set(args.ids) - {d.id for d in drills}
        if unknown:
            raise CLIError(f"no drill {sorted(unknown)[0]!r}")
        drills = [d for d in drills if d.id in args.ids]
    if args.fresh:
        if not args.ids:
            from pathlib import Path
            probe = DrillEnv(Path("."), args.fresh)
            drills = [d for d in drills if probe.unmet(d) is None]
        results = _run(_fresh_selftest(args.fresh, drills, args.seed, say, parallel))
    else:
        runner = _runner(args)
        if not args.ids:
            drills = [d for d in drills if runner.env.unmet(d) is None]
        results = _run(selftest_drills(drills, runner.env, seed=args.seed, parallel=parallel, progress=say))
    for r in results:
        mark = "PASS" if r.passed else "FAIL"
        print(f"{mark}  {r.drill:<22} {r.seconds:5.0f}s  {r.variant}"
              + ("" if r.passed else f"  [{r.phase}] {r.message}"))
    failed = sum(not r.passed for r in results)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0
