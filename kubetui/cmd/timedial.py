"""``kubetui time pause|resume|step [N]|speed F|status``: the control plane's time dial.

No upstream command does this (``kubectl rollout pause`` pauses one
Deployment's rollouts only). Paused, every controller and the scheduler stop
taking work while the API server and the kubelets carry on; ``step`` lets
exactly N reconciles or scheduling cycles run and prints what each did;
``speed 0.1x`` puts the whole control plane in slow motion. The dial lives in
the control plane (``kubetui.timedial``) and is served at
``/apis/controlplane.kubetui.dev/v1alpha1/timedial``, so every TUI, the web UI
and every lesson see the same dial.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any, Callable

from kubetui.cmdutil import CLIError, resolve_state_dir


def describe_state(status: dict[str, Any]) -> str:
    """One line: ``PAUSED (timers stand still) · speed 0.25x · control-plane clock 12.0 s behind``."""
    mode = status.get("mode") or "Running"
    speed = float(status.get("speed") or 1.0)
    parts = []
    if mode == "Paused":
        parts.append("PAUSED (timers run in real time)" if status.get("realTimeTimers")
                     else "PAUSED (the control plane's timers stand still)")
    elif mode == "Slowed":
        parts.append(f"SLOW MOTION: {float(status.get('spacingSeconds') or 0):g} s after each change")
    else:
        parts.append("RUNNING")
    parts.append(f"speed {speed:g}x")
    lag = float(status.get("clockLagSeconds") or 0)
    if lag >= 0.05:
        parts.append(f"control-plane clock {lag:.1f} s behind the wall clock")
    return " · ".join(parts)


def print_dial(doc: dict[str, Any], out: Callable[[str], None] = print, *, waiting: int = 10) -> None:
    """The dial's state, and what waits at the gate (next first)."""
    status = doc.get("status") or {}
    out(describe_state(status))
    held = status.get("waiting") or []
    if held:
        out(f"waiting at the gate ({len(held)}, next first):")
        for i, w in enumerate(held[:waiting], 1):
            out(f"  {i}. {w.get('component')} {w.get('key')}")
        if len(held) > waiting:
            out(f"  … and {len(held) - waiting} more")
    elif status.get("paused"):
        out("nothing is waiting at the gate: the control plane has nothing to do yet")


def print_step(doc: dict[str, Any], count: int, out: Callable[[str], None] = print, *, writes: bool = True) -> None:
    """What a step let through (``ran: deployment default/web``), each with its reconcile record."""
    from kubetui.client import reconciles as rl

    ran = doc.get("ran") or []
    records = [rl.ReconcileRecord.from_dict(r) for r in doc.get("reconciles") or ()]
    for t in ran:
        out(f"ran: {t.get('component')} {t.get('key')}")
        mine = [r for r in records if r.controller == t.get("component")
                and "/".join(p for p in (r.namespace, r.name) if p) == t.get("key")]
        for rec in mine[:1]:
            records.remove(rec)
            for line in rl.lines(rec, with_writes=writes)[1:]:
                out(line)
    if len(ran) < count:
        out(f"{'nothing' if not ran else 'nothing else'} was waiting at the gate "
            f"({len(ran)} of {count} step{'s' if count != 1 else ''} ran)")
    nxt = ((doc.get("status") or {}).get("waiting") or [])[:1]
    if nxt:
        out(f"next: {nxt[0].get('component')} {nxt[0].get('key')}")


async def _call(kubeconfig: Path, action: str | None, body: dict[str, Any] | None) -> dict[str, Any]:
    from kubetui.client import views
    from kubetui.client.http import HTTPClient

    client = HTTPClient.from_kubeconfig(kubeconfig)
    # a step waits for the reconciles it lets through: give it longer than a plain request
    client.timeout = max(getattr(client, "timeout", 30.0), 90.0)
    try:
        if action is None:
            return await views.time_dial(client)
        return await views.turn_time_dial(client, action, body)
    finally:
        await client.close()


def cmd_time(args: argparse.Namespace) -> int:
    from kubetui.api.errors import StatusError

    action = args.time_action
    if action is None:
        args.time_parser.print_help()
        return 0
    kubeconfig = Path(getattr(args, "kubeconfig", None) or resolve_state_dir(args) / "kubeconfig")
    if not kubeconfig.exists():
        raise CLIError(f"no cluster at {kubeconfig.parent}: start one with `kubetui up`")
    body: dict[str, Any] | None = None
    if action == "pause":
        body = {"realTimeTimers": bool(args.real_time_timers)}
    elif action == "step":
        if args.count < 1:
            raise CLIError(f"step needs a positive count, not {args.count}")
        body = {"count": args.count, "waitSeconds": args.wait}
    elif action == "speed":
        from kubetui.timedial import DialError, parse_speed
        try:
            body = {"speed": parse_speed(args.speed)}
        except DialError as e:
            raise CLIError(str(e)) from None
    try:
        doc = asyncio.run(_call(kubeconfig, None if action == "status" else action, body))
    except StatusError as e:
        raise CLIError(f"time {action}: {e.message}") from None
    if getattr(args, "json", False):
        print(json.dumps(doc, indent=2))
        return 0
    if action == "step":
        print_step(doc, args.count, writes=not args.no_writes)
    else:
        print_dial(doc)
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "time", help="pause, step or slow down the control plane (the time dial)",
        description="Turn the control plane's time dial. Paused, the controllers and the scheduler stop "
                    "taking work (the API server and the kubelets carry on, and nothing is lost); step lets "
                    "exactly N reconciles or scheduling cycles run and shows what each did; speed puts the "
                    "whole control plane in slow motion.")
    sub = p.add_subparsers(dest="time_action", metavar="ACTION")

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--json", action="store_true", help="print the TimeDial object as JSON")
        q.add_argument("--kubeconfig", metavar="FILE", default=argparse.SUPPRESS,
                       help="the cluster's kubeconfig (default: the cluster's state dir)")
        q.add_argument("--name", default=argparse.SUPPRESS, help="cluster name (default: default)")
        q.add_argument("--state-dir", metavar="DIR", default=argparse.SUPPRESS, help="the cluster's state dir")

    pause = sub.add_parser("pause", help="stop every controller and the scheduler taking work",
                           description="Pause the control plane. Its timers (backoffs, the node lifecycle "
                                       "controller's grace period, CronJob schedules, Job deadlines) stand "
                                       "still too, so nothing expires in the background.")
    pause.add_argument("--real-time-timers", action="store_true",
                       help="keep the control plane's timers on the wall clock while paused (what expires "
                            "meanwhile acts on resume)")
    resume = sub.add_parser("resume", help="let the control plane work again (at the current speed)")
    step = sub.add_parser("step", help="let exactly N reconciles or scheduling cycles run (paused only)",
                          description="Let the next N work items through the gate, one at a time, in the order "
                                      "they reached it, and print what each did.")
    step.add_argument("count", type=int, nargs="?", default=1, metavar="N", help="how many (default: 1)")
    step.add_argument("--wait", type=float, default=2.0, metavar="SECONDS",
                      help="how long to wait for work to reach the gate (default: 2)")
    step.add_argument("--no-writes", action="store_true", help="leave out each reconcile's API writes")
    speed = sub.add_parser("speed", help="slow motion: 0.1x (slowest) to 1x (normal)",
                           description="Space the control plane's reconciles out: at speed f one work item "
                                       "runs at a time, and after each that changed the cluster the next waits "
                                       "(1/f - 1) x 0.05 s; the control plane's timers run at f.")
    speed.add_argument("speed", metavar="FACTOR", help="e.g. 0.25x, 0.1, 50%%, 1x")
    status = sub.add_parser("status", help="the dial's state and what waits at the gate")
    for q in (pause, resume, step, speed, status):
        common(q)
    p.set_defaults(func=cmd_time, time_action=None, time_parser=p)
