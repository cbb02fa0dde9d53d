"""``kubetui bench tui``: how fast a watch event reaches the screen, and what the TUI costs when idle.

A real cluster (control plane on its own thread, simulated nodes) with N
nodes and P pods runs under the TUI, headless, on the cluster map. A writer
then changes pods continuously (a status condition's message and an
annotation, through the API), and for every change the TUI draws the bench
records:

- **event → shown**: from the bridge receiving the watch event to the frame
  after the map's panel redrew (``call_after_refresh``), p50/p99;
  target p99 <= 100 ms;
- **write → shown**: the same, but from the API call that made the change;
- **idle CPU**: the TUI thread's CPU time over a quiet window, as a share of
  one core (``time.thread_time`` on the app's loop, so the control plane's
  own thread is not counted); target < 5 %.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

TARGET_P99_MS = 100.0
TARGET_IDLE_CPU = 0.05


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (``p`` in 0..100); 0.0 for no values.

    >>> percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50), percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99)
    (5, 10)
    """
    if not values:
        return 0.0
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


def bench_pod(i: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"tui-{i:05d}", "namespace": "default", "labels": {"app": "tui-bench"}},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
                                     "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}


async def _drive(app: Any, args: argparse.Namespace, result: dict[str, Any]) -> None:
    """Runs inside the app: create pods, churn them, measure, then sit idle and measure CPU."""
    from kubetui.tui.screens.cluster_map import ClusterMapScreen

    client = app.backend.client
    t0 = time.perf_counter()
    sem = asyncio.Semaphore(32)

    async def create(i: int) -> None:
        async with sem:
            await client.create("pods", bench_pod(i), "default")
    await asyncio.gather(*(create(i) for i in range(args.pods)))
    await app.bridge.wait_until(lambda: sum(1 for p in app.bridge.objects("pods").values()
                                            if p.get("status", {}).get("phase") == "Running") >= args.pods,
                                timeout=args.timeout)
    result["setup_seconds"] = round(time.perf_counter() - t0, 2)
    while not isinstance(app.screen, ClusterMapScreen):
        await asyncio.sleep(0.05)

    event_to_shown: list[float] = []
    write_to_shown: list[float] = []
    written: dict[str, float] = {}

    def on_shown(resource: str, keys: set[str], latencies: list[float]) -> None:
        if resource != "pods":
            return
        now = time.perf_counter()
        event_to_shown.extend(latencies)
        for key in keys:
            t = written.pop(key, None)
            if t is not None:
                write_to_shown.append(now - t)
    app.on_shown = on_shown

    names = [f"tui-{i:05d}" for i in range(args.pods)]
    rng = random.Random(1)
    interval = 1.0 / args.rate
    deadline = time.perf_counter() + args.seconds
    seq = 0
    pending: set[asyncio.Task[Any]] = set()
    while time.perf_counter() < deadline:
        name = rng.choice(names)
        seq += 1
        written.setdefault(f"default/{name}", time.perf_counter())
        patch = {"metadata": {"annotations": {"kubetui.dev/bench-seq": str(seq)}}}
        task = asyncio.ensure_future(client.patch("pods", name, patch, "default"))
        pending.add(task)
        task.add_done_callback(pending.discard)
        await asyncio.sleep(interval)
    await asyncio.gather(*pending, return_exceptions=True)
    await asyncio.sleep(0.5)  # let the last frames land
    app.on_shown = None
    result["writes"] = seq
    result["event_to_shown_ms"] = {"p50": round(percentile(event_to_shown, 50) * 1000, 2),
                                   "p99": round(percentile(event_to_shown, 99) * 1000, 2),
                                   "max": round(max(event_to_shown, default=0) * 1000, 2),
                                   "samples": len(event_to_shown)}
    result["write_to_shown_ms"] = {"p50": round(percentile(write_to_shown, 50) * 1000, 2),
                                   "p99": round(percentile(write_to_shown, 99) * 1000, 2),
                                   "samples": len(write_to_shown)}
    # Idle: nothing changes (nodes still heartbeat, as on a real cluster).
    await asyncio.sleep(1.0)
    cpu0, wall0 = time.thread_time(), time.perf_counter()
    await asyncio.sleep(args.idle_seconds)
    cpu1, wall1 = time.thread_time(), time.perf_counter()
    result["idle_cpu_share"] = round((cpu1 - cpu0) / (wall1 - wall0), 4)
    result["idle_seconds"] = args.idle_seconds


def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    from kubetui.cluster import Cluster, ClusterSettings, ControlPlaneThread
    from kubetui.tui.app import KubetuiApp
    from kubetui.tui.backends import InProcessBackend

    result: dict[str, Any] = {"nodes": args.nodes, "pods": args.pods, "rate_per_second": args.rate,
                              "seconds": args.seconds}
    with tempfile.TemporaryDirectory(prefix="kubetui-bench-tui-") as tmp:
        settings = ClusterSettings(name="bench-tui", provider="simulated", nodes=args.nodes, api_port=0,
                                   node_cpus=8.0, node_memory="16Gi")
        backend = InProcessBackend(Cluster(settings, Path(tmp) / "state"), ControlPlaneThread)
        app = KubetuiApp(backend)
        app.animation_level = "none"
        errors: list[BaseException] = []

        async def main() -> None:
            async def drive() -> None:
                try:
                    while not app.is_running or backend.thread.ready.is_set() is False:
                        await asyncio.sleep(0.05)
                    while backend.client.__class__.__name__ == "_NotReadyClient":
                        await asyncio.sleep(0.05)
                    await _drive(app, args, result)
                except BaseException as exc:  # reported after the app exits
                    errors.append(exc)
                finally:
                    app.exit()
            task = asyncio.ensure_future(drive())
            await app.run_async(headless=True, size=(160, 50))
            await task
        try:
            asyncio.run(main())
        finally:
            backend.stop()
        if errors:
            raise errors[0]
    return result


def cmd_bench_tui(args: argparse.Namespace) -> int:
    logging.getLogger("kubetui").setLevel(logging.WARNING)
    r = run_bench(args)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    e, w = r["event_to_shown_ms"], r["write_to_shown_ms"]
    ok_lat = "ok" if e["p99"] <= TARGET_P99_MS else "MISSED"
    ok_cpu = "ok" if r["idle_cpu_share"] < TARGET_IDLE_CPU else "MISSED"
    print(f"kubetui bench tui: {r['nodes']} nodes, {r['pods']} pods, {r['writes']} changes "
          f"over {r['seconds']}s (setup {r['setup_seconds']}s)")
    print(f"{'figure':<28}{'p50':>10}{'p99':>10}{'target':>14}")
    print(f"{'watch event -> shown (ms)':<28}{e['p50']:>10}{e['p99']:>10}{'p99 <= 100':>14}  {ok_lat}")
    print(f"{'API write -> shown (ms)':<28}{w['p50']:>10}{w['p99']:>10}{'':>14}")
    print(f"{'idle CPU (share of a core)':<28}{r['idle_cpu_share']:>20.1%}{'< 5%':>14}  {ok_cpu}")
    return 0


def register(bench_subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = bench_subparsers.add_parser("tui", help="watch event to screen latency and idle CPU of the TUI",
                                    description=__doc__.split("\n\n")[0])
    p.add_argument("--nodes", type=int, default=50, help="simulated nodes (default: %(default)s)")
    p.add_argument("--pods", type=int, default=1000, help="pods (default: %(default)s)")
    p.add_argument("--rate", type=float, default=200.0, help="pod changes per second (default: %(default)s)")
    p.add_argument("--seconds", type=float, default=5.0, help="how long pods keep changing (default: %(default)s)")
    p.add_argument("--idle-seconds", type=float, default=3.0, help="idle CPU window (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=120.0, help="setup timeout (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_bench_tui)


if __name__ == "__main__":  # python -m kubetui.bench.tui [args]: until BENCH_MODULES lists this module
    import sys

    parser = argparse.ArgumentParser(prog="kubetui bench")
    sub = parser.add_subparsers()
    register(sub)
    ns = parser.parse_args(["tui", *sys.argv[1:]])
    raise SystemExit(ns.func(ns))
