"""``kubetui bench jobs``: how long a big Job takes to Complete on simulated nodes.

Issue 13's target: a Job of 1,000 completions with parallelism 100 on 50
simulated nodes is Complete within 10 s. The control plane (API registry,
scheduler, the Job controller) and the simulated nodes run in this process;
the simulated kubelet finishes each pod at once (its command is ``exit 0``,
``kubetui.providers.simulated_run``), so the figure is the control plane's:
pod creation, scheduling, status, finalizer-tracked counting.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

TARGET_SECONDS = 10.0


def bench_job(completions: int, parallelism: int) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "bench", "namespace": "default"},
            "spec": {"completions": completions, "parallelism": parallelism, "backoffLimit": 0,
                     "template": {"spec": {"restartPolicy": "Never", "containers": [{
                         "name": "work", "image": "busybox:1.36", "command": ["sh", "-c", "exit 0"],
                         "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}}}


async def run_job(nodes: int, completions: int, parallelism: int, timeout: float) -> dict[str, Any]:
    """Bring up the in-process control plane and nodes, run the Job, return the figures."""
    from kubetui.apiserver.inprocess import InProcessClient
    from kubetui.apiserver.registry import Registry
    from kubetui.clock import Clock
    from kubetui.controllers.manager import ControllerManager
    from kubetui.providers.base import ClusterConfig, NodeConfig
    from kubetui.providers.simulated import SimulatedProvider
    from kubetui.scheduler.scheduler import Scheduler
    from kubetui.store import Store

    clock = Clock()
    store = Store(None, clock=clock)
    await store.open()
    registry = Registry(store, clock=clock)
    await registry.bootstrap()
    client = InProcessClient(registry)
    provider = SimulatedProvider(ClusterConfig("bench-jobs", Path(".")), client, clock, heartbeats=False)
    for i in range(nodes):
        await provider.start_node(NodeConfig(name=f"node-{i + 1}", api_url="", token="", ca_pem="", cpus=8,
                                             memory="32Gi", max_pods=110))
    scheduler = Scheduler(client, clock=clock)
    await scheduler.start()
    manager = ControllerManager(client, clock=clock, controllers=["job"], resync_seconds=None)
    await manager.start()
    try:
        t0 = time.perf_counter()
        await client.create("jobs", bench_job(completions, parallelism), "default")
        done = None
        deadline = t0 + timeout
        job: dict[str, Any] = {}
        while time.perf_counter() < deadline:
            job = await client.get("jobs", "bench", "default")
            conds = {c["type"]: c["status"] for c in (job.get("status") or {}).get("conditions") or []}
            if conds.get("Complete") == "True" or conds.get("Failed") == "True":
                done = time.perf_counter() - t0
                break
            await asyncio.sleep(0.05)
        st = job.get("status") or {}
        conds = [c["type"] for c in st.get("conditions") or [] if c.get("status") == "True"]
        return {"nodes": nodes, "completions": completions, "parallelism": parallelism,
                "seconds": None if done is None else round(done, 2), "conditions": conds,
                "succeeded": st.get("succeeded", 0), "failed": st.get("failed", 0),
                "podsStarted": provider.pods_started, "target": TARGET_SECONDS}
    finally:
        await manager.stop()
        await scheduler.stop()
        await provider.close()
        await store.close()


def run(args: argparse.Namespace) -> int:
    result = asyncio.run(run_job(args.nodes, args.completions, args.parallelism, args.timeout))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        ok = result["seconds"] is not None and result["seconds"] <= TARGET_SECONDS
        print(f"Job of {result['completions']} completions, parallelism {result['parallelism']}, "
              f"on {result['nodes']} simulated nodes")
        print(f"  time to Complete: {result['seconds']} s (target <= {TARGET_SECONDS:g} s) {'✔' if ok else '✘'}")
        print(f"  conditions: {', '.join(result['conditions']) or '-'}; succeeded {result['succeeded']}, "
              f"failed {result['failed']}, pods started {result['podsStarted']}")
    return 0 if "Complete" in result["conditions"] else 1


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("jobs", help="time for a Job of many completions to Complete, simulated nodes",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--nodes", type=int, default=50, help="simulated nodes (default: %(default)s)")
    p.add_argument("--completions", type=int, default=1000, help="(default: %(default)s)")
    p.add_argument("--parallelism", type=int, default=100, help="(default: %(default)s)")
    p.add_argument("--timeout", type=float, default=300.0, help="give up after this many seconds")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)
