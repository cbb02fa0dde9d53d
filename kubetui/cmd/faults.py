"""``kubetui fault …``: inject, list and revert faults on a running cluster (like a teacher would).

    kubetui fault list                               the faults, and which are active now
    kubetui fault inject NAME [--target T] [--seed N]
    kubetui fault revert ID | --all
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from kubetui.cmdutil import CLIError, add_cluster_selector


def register(sub: Any) -> None:
    p = sub.add_parser("fault", help="inject and revert faults (node-pause, pod-kill, ...): seeded, reversible",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_cluster_selector(p)
    p.set_defaults(func=cmd_list)
    fs = p.add_subparsers(dest="fault_cmd", metavar="ACTION")
    q = fs.add_parser("list", help="the faults kubetui can inject, and the active ones")
    add_cluster_selector(q)
    q.set_defaults(func=cmd_list)
    q = fs.add_parser("inject", help="inject a fault")
    add_cluster_selector(q)
    q.add_argument("fault", metavar="NAME")
    q.add_argument("--target", help="node name; for pod faults a pod name or a label selector (app=web)")
    q.add_argument("--seed", type=int, help="seed for choosing the target: the same seed, the same target")
    q.add_argument("--namespace", "-n", default="default", help="namespace for pod faults (default: default)")
    q.set_defaults(func=cmd_inject)
    q = fs.add_parser("revert", help="revert an active fault (by id, or --all)")
    add_cluster_selector(q)
    q.add_argument("id", nargs="?")
    q.add_argument("--all", action="store_true", help="revert every active fault")
    q.set_defaults(func=cmd_revert)


def _state(args: argparse.Namespace):
    from kubetui.cmd.lessons import state_dir_of
    return state_dir_of(args)


def _ctx(args: argparse.Namespace):
    from kubetui.faults import FaultError, context_for_state_dir
    try:
        return context_for_state_dir(_state(args), namespace=getattr(args, "namespace", "default"))
    except FaultError as e:
        raise CLIError(str(e)) from None


def _go(fn):
    from kubetui.faults import FaultError

    async def main():
        try:
            return await fn()
        except FaultError as e:
            raise CLIError(str(e)) from None
    return asyncio.run(main())


def cmd_list(args: argparse.Namespace) -> int:
    from kubetui.faults import FAULTS, FaultLog

    # kubectl's columns: as wide as the longest cell plus two spaces ("control-plane node" and
    # "cplessons-control-plane2" ran into the next column with fixed widths)
    faults = list(FAULTS.values())
    name_w = max(len("FAULT"), *(len(f.name) for f in faults)) + 2
    target_w = max(len("TARGET"), *(len(f.target_kind) for f in faults)) + 2
    print(f"{'FAULT':<{name_w}}{'TARGET':<{target_w}}WHAT IT DOES")
    for f in faults:
        print(f"{f.name:<{name_w}}{f.target_kind:<{target_w}}{f.summary}")
    active = FaultLog(_state(args)).active()
    print()
    if not active:
        print("No active faults.")
    else:
        id_w = max(len("ID"), *(len(r.id) for r in active)) + 2
        name_w = max(len("FAULT"), *(len(r.name) for r in active)) + 2
        target_w = max(len("TARGET"), *(len(str(r.target)) for r in active)) + 2
        print(f"{'ID':<{id_w}}{'FAULT':<{name_w}}{'TARGET':<{target_w}}SEED")
        for r in active:
            print(f"{r.id:<{id_w}}{r.name:<{name_w}}{str(r.target):<{target_w}}{r.seed}")
    return 0


def cmd_inject(args: argparse.Namespace) -> int:
    ctx = _ctx(args)

    async def go():
        from kubetui.faults import inject
        try:
            return await inject(ctx, args.fault, args.target, args.seed)
        finally:
            await ctx.client.close()

    rec = _go(go)
    print(f"injected {rec.name} on {rec.target} (id {rec.id}, seed {rec.seed}); "
          f"undo: kubetui fault revert {rec.id}")
    return 0


def cmd_revert(args: argparse.Namespace) -> int:
    if not args.id and not args.all:
        raise CLIError("give a fault id (kubetui fault list) or --all")
    ctx = _ctx(args)

    async def go():
        from kubetui.faults import revert, revert_all
        try:
            return await revert_all(ctx) if args.all else [await revert(ctx, args.id)]
        finally:
            await ctx.client.close()

    done = _go(go)
    for rec in done:
        print(f"reverted {rec.name} on {rec.target} (id {rec.id})")
    if not done:
        print("no active faults", file=sys.stderr)
    return 0
