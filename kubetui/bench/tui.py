"""``kubetui bench tui``: how fast a watch event reaches the screen, and what the TUI costs when idle.

As ``kubetui`` runs: the control plane in its own process (``kubetui up``,
simulated nodes), the TUI attached over HTTPS, headless, on the cluster map.
For each size (default 1,000 and 5,000 pods over 50 nodes) a writer process
creates the pods, then changes them continuously (an annotation carrying the
time of the write) at ``--rate`` per second, and for every change the TUI
draws the bench records:

- **event → shown**: from the bridge receiving the watch event to the frame
  after the map's panel redrew (``call_after_refresh``), p50/p99;
  targets p99 <= 50 ms at 1,000 pods and <= 100 ms at 5,000 (issue 18);
- **write → shown**: the same, but from the writer's API call (wall clock);
- **idle CPU**: the TUI thread's CPU time over a quiet window, as a share of
  one core (``time.thread_time``); target <= 2 %.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: pods -> p99 target (ms) for watch event -> shown
TARGET_P99_MS = {1000: 50.0, 5000: 100.0}
TARGET_IDLE_CPU = 0.02
WRITTEN_ANNOTATION = "kubetui.dev/bench-written"


def target_p99(pods: int) -> float:
    """The p99 target for a size: the nearest size with a target at or above it (else the largest)."""
    for size in sorted(TARGET_P99_MS):
        if pods <= size:
            return TARGET_P99_MS[size]
    return TARGET_P99_MS[max(TARGET_P99_MS)]


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


async def _write(kubeconfig: Path, pods: int, rate: float, seconds: float) -> None:
    """The writer process: create the pods, say so, wait for "go", change pods at ``rate``/s, report."""
    from kubetui.client.http import HTTPClient

    client = HTTPClient.from_kubeconfig(kubeconfig)
    try:
        sem = asyncio.Semaphore(32)

        async def create(i: int) -> None:
            async with sem:
                await client.create("pods", bench_pod(i), "default")
        await asyncio.gather(*(create(i) for i in range(pods)))
        print("created", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        names = [f"tui-{i:05d}" for i in range(pods)]
        rng = random.Random(1)
        interval = 1.0 / rate
        deadline = time.perf_counter() + seconds
        seq = 0
        pending: set[asyncio.Task[Any]] = set()
        while time.perf_counter() < deadline:
            seq += 1
            patch = {"metadata": {"annotations": {WRITTEN_ANNOTATION: repr(time.time())}}}
            task = asyncio.ensure_future(client.patch("pods", rng.choice(names), patch, "default"))
            pending.add(task)
            task.add_done_callback(pending.discard)
            await asyncio.sleep(interval)
        await asyncio.gather(*pending, return_exceptions=True)
        print(f"done {seq}", flush=True)
    finally:
        await client.close()


async def _drive(app: Any, args: argparse.Namespace, pods: int, kubeconfig: Path,
                 result: dict[str, Any]) -> None:
    """Runs inside the app: start the writer, wait for its pods, measure while it writes, then sit idle."""
    from kubetui.tui.screens.cluster_map import ClusterMapScreen

    t0 = time.perf_counter()
    writer = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kubetui.bench.tui", "--writer", str(kubeconfig), str(pods), str(args.rate),
        str(args.seconds), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert writer.stdout is not None and writer.stdin is not None
    try:
        line = await asyncio.wait_for(writer.stdout.readline(), args.timeout)
        if line.strip() != b"created":
            raise RuntimeError(f"the bench writer failed before creating its pods ({line!r})")
        await app.bridge.wait_until(lambda: sum(1 for p in app.bridge.objects("pods").values()
                                                if p.get("status", {}).get("phase") == "Running") >= pods,
                                    timeout=args.timeout)
        result["setup_seconds"] = round(time.perf_counter() - t0, 2)
        while not isinstance(app.screen, ClusterMapScreen):
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)

        event_to_shown: list[float] = []
        write_to_shown: list[float] = []
        seen_writes: set[str] = set()

        def on_shown(resource: str, keys: set[str], latencies: list[float]) -> None:
            if resource != "pods":
                return
            now = time.time()
            event_to_shown.extend(latencies)
            for key in keys:
                obj = app.bridge.get("pods", key) or {}
                written = (obj.get("metadata", {}).get("annotations") or {}).get(WRITTEN_ANNOTATION)
                if written and written not in seen_writes:
                    seen_writes.add(written)
                    write_to_shown.append(now - float(written))
        app.on_shown = on_shown
        writer.stdin.write(b"go\n")
        await writer.stdin.drain()
        done = await asyncio.wait_for(writer.stdout.readline(), args.seconds + args.timeout)
        await asyncio.sleep(0.5)  # let the last frames land
        app.on_shown = None
        result["writes"] = int(done.split()[1]) if done.startswith(b"done ") else 0
    finally:
        if writer.returncode is None:
            writer.kill()
        await writer.wait()
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


def _kubetui(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kubetui", *argv], capture_output=True, text=True, timeout=600)


def run_bench(args: argparse.Namespace, pods: int | None = None) -> dict[str, Any]:
    """One size: a fresh cluster (its own control-plane process), the TUI attached, the writer process."""
    from kubetui.tui.app import KubetuiApp
    from kubetui.tui.backends import KubeconfigBackend

    pods = pods if pods is not None else (args.pods[0] if isinstance(args.pods, list) else args.pods)
    result: dict[str, Any] = {"nodes": args.nodes, "pods": pods, "rate_per_second": args.rate,
                              "seconds": args.seconds, "target_p99_ms": target_p99(pods)}
    with tempfile.TemporaryDirectory(prefix="kubetui-bench-tui-") as tmp:
        state = Path(tmp) / "state"
        up = _kubetui("up", "--state-dir", str(state), "--provider", "simulated", "--nodes", str(args.nodes),
                      "--api-port", "0", "--node-cpus", "64", "--node-memory", "256Gi")
        if up.returncode != 0:
            raise RuntimeError(f"kubetui up failed: {up.stderr.strip().splitlines()[-1:]}")
        try:
            backend = KubeconfigBackend(state / "kubeconfig", state_dir=state)
            app = KubetuiApp(backend)
            app.animation_level = "none"
            errors: list[BaseException] = []

            async def main() -> None:
                async def drive() -> None:
                    try:
                        while not app.is_running:
                            await asyncio.sleep(0.05)
                        await _drive(app, args, pods, state / "kubeconfig", result)
                    except BaseException as exc:  # reported after the app exits
                        errors.append(exc)
                    finally:
                        app.exit()
                task = asyncio.ensure_future(drive())
                await app.run_async(headless=True, size=(160, 50))
                await task
            asyncio.run(main())
            if errors:
                raise errors[0]
        finally:
            _kubetui("down", "--state-dir", str(state))
    return result


def cmd_bench_tui(args: argparse.Namespace) -> int:
    logging.getLogger("kubetui").setLevel(logging.WARNING)
    results = [run_bench(args, pods) for pods in args.pods]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for r in results:
        e, w = r["event_to_shown_ms"], r["write_to_shown_ms"]
        target = r["target_p99_ms"]
        ok_lat = "ok" if e["p99"] <= target else "MISSED"
        ok_cpu = "ok" if r["idle_cpu_share"] <= TARGET_IDLE_CPU else "MISSED"
        print(f"kubetui bench tui: {r['nodes']} nodes, {r['pods']} pods, {r['writes']} changes "
              f"over {r['seconds']}s (setup {r['setup_seconds']}s); control plane in its own process")
        print(f"{'figure':<28}{'p50':>10}{'p99':>10}{'target':>14}")
        print(f"{'watch event -> shown (ms)':<28}{e['p50']:>10}{e['p99']:>10}{f'p99 <= {target:g}':>14}  {ok_lat}")
        print(f"{'API write -> shown (ms)':<28}{w['p50']:>10}{w['p99']:>10}{'':>14}")
        print(f"{'idle CPU (share of a core)':<28}{r['idle_cpu_share']:>20.1%}{'<= 2%':>14}  {ok_cpu}")
        print()
    return 0


def register(bench_subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = bench_subparsers.add_parser("tui", help="watch event to screen latency and idle CPU of the TUI",
                                    description=__doc__.split("\n\n")[0])
    p.add_argument("--nodes", type=int, default=50, help="simulated nodes (default: %(default)s)")
    p.add_argument("--pods", type=int, nargs="+", default=[1000, 5000],
                   help="pods, one run per size (default: 1000 5000)")
    p.add_argument("--rate", type=float, default=100.0, help="pod changes per second (default: %(default)s)")
    p.add_argument("--seconds", type=float, default=5.0, help="how long pods keep changing (default: %(default)s)")
    p.add_argument("--idle-seconds", type=float, default=3.0, help="idle CPU window (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=300.0, help="setup timeout (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_bench_tui)


if __name__ == "__main__":  # the writer process: python -m kubetui.bench.tui --writer KUBECONFIG PODS RATE SECONDS
    if sys.argv[1:2] == ["--writer"]:
        kc, n, r, secs = sys.argv[2:6]
        asyncio.run(_write(Path(kc), int(n), float(r), float(secs)))
