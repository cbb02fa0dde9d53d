"""``kubetui bench hpa``: from load start to the HPA's first scale-up, on Docker nodes with lab timings.

Issue 13's target: ≤ 20 s. The chain it measures is upstream's: the
container burns CPU -> the kubelet's stats (``/stats/summary``, a rate between
two samples) -> ``metrics.k8s.io`` (what metrics-server serves) -> the HPA
controller's next sync (lab: every 2 s) -> ``scale`` -> the Deployment's
``spec.replicas``. The load is ``kubetui/cpuhog`` with ``IDLE_SECONDS``: its
pod starts idle (so the HPA first measures ~0% and stays at 1 replica), then
at a moment it logs, burns a CPU. The figure is from that logged moment to
the first time the API shows more than one replica (polled every 50 ms).

The control plane runs in this process; every container and network it
creates is removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from kubetui.bench.nodes import _delete, _ensure_image, _settings, _up
from kubetui.cmdutil import CLIError

log = logging.getLogger(__name__)

TARGET_SECONDS = 20.0
_START = re.compile(r"load starts at (\d+\.\d+)")


def deployment(name: str, idle: float) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{
                                      "name": "hog", "image": "kubetui/cpuhog:latest",
                                      "env": [{"name": "IDLE_SECONDS", "value": str(idle)}],
                                      "resources": {"requests": {"cpu": "200m"}}}]}}}}


def hpa(name: str) -> dict[str, Any]:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                     "minReplicas": 1, "maxReplicas": 4,
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                         "type": "Utilization", "averageUtilization": 50}}}]}}


async def _until(probe, what: str, timeout: float, interval: float = 0.05) -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = await probe()
        if value:
            return value
        await asyncio.sleep(interval)
    raise CLIError(f"gave up after {timeout:.0f}s waiting for {what}")


async def _one_run(client, connector, i: int, idle: float, timeout: float) -> dict[str, Any]:
    name = f"hog{i}"
    await client.create("deployments", deployment(name, idle), "default")

    async def pod():
        pods = (await client.list("pods", "default", label_selector=f"app={name}")).get("items") or []
        return next((p for p in pods if (p.get("status") or {}).get("phase") == "Running"), None)
    running = await _until(pod, f"{name}'s pod to run", timeout)
    await client.create("horizontalpodautoscalers", hpa(name), "default")

    async def logged_start():
        pod_obj = await client.get("pods", running["metadata"]["name"], "default")
        try:
            text = b"".join([chunk async for chunk in connector.logs(pod_obj, "hog")]).decode()
        except Exception:  # noqa: BLE001 - the kubelet may not answer yet: try again
            return None
        m = _START.search(text)
        return float(m.group(1)) if m else None

    async def scaled():
        d = await client.get("deployments", name, "default")
        return time.time() if (d.get("spec") or {}).get("replicas", 1) > 1 else None
    scaled_at = await _until(scaled, f"hpa/{name} to scale up", idle + timeout)
    started = await _until(logged_start, f"{name}'s load-start line", 30, interval=0.5)
    h = await client.get("horizontalpodautoscalers", name, "default")
    await client.delete("horizontalpodautoscalers", name, "default")
    await client.delete("deployments", name, "default")
    return {"seconds": round(scaled_at - started, 3),
            "measured": [(m.get("resource") or {}).get("current") for m in (h.get("status") or {}).get(
                "currentMetrics") or []]}


async def bench_hpa(args: argparse.Namespace) -> dict[str, Any]:
    image = await asyncio.to_thread(_ensure_image)
    name = f"bench{secrets.token_hex(3)}"
    state = Path(tempfile.mkdtemp(prefix="kubetui-bench-hpa-"))
    settings = _settings(args, name)
    runs: list[dict[str, Any]] = []
    try:
        cluster, _ = await _up(settings, state)
        try:
            client = cluster.control_plane.client
            connector = cluster.control_plane.apiserver.rest.node_connector
            for i in range(args.runs):
                runs.append(await _one_run(client, connector, i, args.idle, args.timeout))
                log.info("run %d: %.2fs", i, runs[-1]["seconds"])
        finally:
            await cluster.stop()
    finally:
        await _delete(settings, state)
    secs = [r["seconds"] for r in runs]
    return {"image": image, "nodes": args.nodes, "timings": "lab", "runs": secs,
            "medianSeconds": round(statistics.median(secs), 3), "maxSeconds": max(secs),
            "targetSeconds": TARGET_SECONDS, "met": max(secs) <= TARGET_SECONDS}


def print_hpa(r: dict[str, Any]) -> None:
    print(f"HPA reaction on {r['nodes']} Docker node(s), lab timings (sync 2 s): load start -> first scale-up")
    print(f"  runs:    {', '.join(f'{s:.2f}s' for s in r['runs'])}")
    print(f"  median:  {r['medianSeconds']:.2f}s   max: {r['maxSeconds']:.2f}s   "
          f"target ≤ {r['targetSeconds']:.0f}s  {'✓' if r['met'] else '✗'}")


def run_hpa(args: argparse.Namespace) -> int:
    r = asyncio.run(bench_hpa(args))
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        print_hpa(r)
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("hpa", help="HPA: load start to first scale-up on Docker nodes (lab timings)",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--nodes", type=int, default=2, help="Docker nodes (default: %(default)s)")
    p.add_argument("--node-cpus", type=float, default=1.0, help="CPUs per node (default: %(default)s)")
    p.add_argument("--node-memory", default="1Gi", help="memory per node (default: %(default)s)")
    p.add_argument("--runs", type=int, default=3, help="load/scale-up runs, one after another (default: %(default)s)")
    p.add_argument("--idle", type=float, default=8.0,
                   help="seconds each cpuhog idles before the load starts (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=120.0, help="give up on a run after this many seconds")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run_hpa)
