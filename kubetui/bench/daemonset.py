"""``kubetui bench daemonset``: how long a DaemonSet rollout takes over many simulated nodes.

Issue 13's target: rolling a new image out to a DaemonSet on 100 simulated
nodes with ``maxUnavailable: 10%`` completes within 5 s. The control plane
(API registry, scheduler, the DaemonSet controller) and the simulated nodes
run in this process. The DaemonSet is created and left to become ready on
every node first (timed apart); the figure is from the image change until
every node runs an available pod of the new template (``updatedNumberScheduled``
and ``numberAvailable`` equal to ``desiredNumberScheduled``), which is what
``kubectl rollout status`` waits for.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

TARGET_SECONDS = 5.0


def bench_daemon_set(max_unavailable: str) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "bench", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "bench"}},
                     "updateStrategy": {"type": "RollingUpdate",
                                        "rollingUpdate": {"maxUnavailable": max_unavailable, "maxSurge": 0}},
                     "template": {"metadata": {"labels": {"app": "bench"}}, "spec": {
                         "terminationGracePeriodSeconds": 0,
                         "containers": [{"name": "agent", "image": "busybox:1.36",
                                         "command": ["sh", "-c", "sleep 3600"],
                                         "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}}}


def _done(ds: dict[str, Any], nodes: int) -> bool:
    st = ds.get("status") or {}
    return (st.get("observedGeneration") == ds["metadata"].get("generation")
            and st.get("desiredNumberScheduled") == nodes and st.get("updatedNumberScheduled") == nodes
            and st.get("numberAvailable") == nodes)


async def _wait(client: Any, nodes: int, deadline: float, worst: list[int]) -> float | None:
    t0 = time.perf_counter()
    while time.perf_counter() < deadline:
        ds = await client.get("daemonsets", "bench", "default")
        st = ds.get("status") or {}
        worst[0] = max(worst[0], int(st.get("desiredNumberScheduled") or 0) - int(st.get("numberAvailable") or 0))
        if _done(ds, nodes):
            return time.perf_counter() - t0
        await asyncio.sleep(0.02)
    return None


async def run_rollout(nodes: int, max_unavailable: str, timeout: float) -> dict[str, Any]:
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
    provider = SimulatedProvider(ClusterConfig("bench-ds", Path(".")), client, clock, heartbeats=False)
    for i in range(nodes):
        await provider.start_node(NodeConfig(name=f"node-{i + 1}", api_url="", token="", ca_pem="", cpus=8,
                                             memory="32Gi", max_pods=110))
    scheduler = Scheduler(client, clock=clock)
    await scheduler.start()
    manager = ControllerManager(client, clock=clock, controllers=["daemonset"], resync_seconds=None)
    await manager.start()
    try:
        t0 = time.perf_counter()
        await client.create("daemonsets", bench_daemon_set(max_unavailable), "default")
        created = await _wait(client, nodes, t0 + timeout, [0])
        rolled = None
        worst = [0]
        if created is not None:
            ds = await client.get("daemonsets", "bench", "default")
            ds["spec"]["template"]["spec"]["containers"][0]["image"] = "busybox:1.37"
            t1 = time.perf_counter()
            await client.update("daemonsets", ds, "default")
            rolled = await _wait(client, nodes, t1 + timeout, worst)
        return {"nodes": nodes, "maxUnavailable": max_unavailable,
                "createSeconds": None if created is None else round(created, 2),
                "rolloutSeconds": None if rolled is None else round(rolled, 2),
                "mostNodesWithoutAvailablePod": worst[0], "target": TARGET_SECONDS}
    finally:
        await manager.stop()
        await scheduler.stop()
        await provider.close()
        await store.close()


def run(args: argparse.Namespace) -> int:
    result = asyncio.run(run_rollout(args.nodes, args.max_unavailable, args.timeout))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        secs = result["rolloutSeconds"]
        ok = secs is not None and secs <= TARGET_SECONDS
        print(f"DaemonSet on {result['nodes']} simulated nodes, maxUnavailable {result['maxUnavailable']}")
        print(f"  every node ready (create): {result['createSeconds']} s")
        print(f"  rollout of a new image:    {secs} s (target <= {TARGET_SECONDS:g} s) {'✔' if ok else '✘'}")
        print(f"  most nodes without an available pod during the rollout: "
              f"{result['mostNodesWithoutAvailablePod']}")
    return 0 if result["rolloutSeconds"] is not None else 1


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("daemonset", help="time for a DaemonSet rollout over many simulated nodes",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--nodes", type=int, default=100, help="simulated nodes (default: %(default)s)")
    p.add_argument("--max-unavailable", default="10%", help="rollingUpdate.maxUnavailable (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=120.0, help="give up after this many seconds (each phase)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)
