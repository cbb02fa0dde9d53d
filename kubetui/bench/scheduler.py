"""``kubetui bench scheduler``: how fast pods get scheduled, with and without the API in the way.

Upstream measures this with ``scheduler_perf`` (``test/integration/scheduler_perf``):
create N nodes and P pods, and report pods scheduled per second. Two figures:

- **end to end**: an in-memory store + registry + in-process client, N
  simulated nodes (registered through the API, no heartbeats), P pods
  created through the API with bounded concurrency; the clock stops when a
  watch has seen every pod bound (``spec.nodeName`` set by the binding
  subresource). Events and explanations are recorded as in a real cluster.
- **decisions only**: the same profile over the same nodes with no API at
  all — filter, score, select and assume — the scheduler's own ceiling.

Like kube-scheduler, both sample nodes: with 500 nodes each pod is filtered
until 230 feasible nodes are found (``percentageOfNodesToScore`` adaptive:
50% minus nodes/125, at least 5% and at least 100 nodes).

The reconcile log (``kubetui.client.reconciles``) records every scheduling
cycle and controller sync; ``--reconcile-log both`` (the default) measures
the end-to-end figure and a controller figure (the ReplicaSet controller
creating the pods of many ReplicaSets: reconciles per second) with the log on
and off, alternating runs (``--repeat``) and keeping each side's best, and
prints what the log costs (target: at most 5 %).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from kubetui.providers.base import ClusterConfig, NodeConfig

DEFAULT_NODES = 500
DEFAULT_PODS = 5000


def bench_pod(i: int, cpu: str, memory: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"bench-{i:06d}", "namespace": "default", "labels": {"app": "bench"}},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
                                     "resources": {"requests": {"cpu": cpu, "memory": memory}}}]}}


def node_configs(n: int, cpus: float, memory: str, max_pods: int) -> list[NodeConfig]:
    return [NodeConfig(name=f"sim-{i:04d}", api_url="", token="", ca_pem="", cpus=cpus, memory=memory,
                       max_pods=max_pods) for i in range(1, n + 1)]


def decision_rate(args: argparse.Namespace) -> dict[str, Any]:
    """The framework alone over a cache of N nodes: no API, no events."""
    from kubetui.clock import rfc3339
    from kubetui.providers.simulated import node_object
    from kubetui.scheduler.cache import SchedulerCache
    from kubetui.scheduler.framework import PodInfo
    from kubetui.scheduler.profiles import build_profile
    from kubetui.scheduler.runtime import Framework

    cache = SchedulerCache()
    now = rfc3339(time.time())
    for i, cfg in enumerate(node_configs(args.nodes, args.node_cpus, args.node_memory, args.max_pods)):
        cache.add_or_update_node(node_object(cfg, i, now))
    profile = build_profile(args.profile, cache)
    profile.percentage_of_nodes_to_score = args.percentage_of_nodes_to_score
    fwk = Framework(profile, seed=args.seed)
    pods = [PodInfo({**bench_pod(i, args.pod_cpu, args.pod_memory),
                     "metadata": {"name": f"bench-{i:06d}", "namespace": "default", "uid": str(i)}})
            for i in range(args.pods)]
    t0 = time.perf_counter()
    unschedulable = 0
    evaluated = 0
    for pi in pods:
        r = fwk.schedule_pod(pi, cache.node_list())
        evaluated += r.evaluated_nodes
        if r.suggested_host:
            cache.assume_pod(pi, r.suggested_host)
        else:
            unschedulable += 1
    dt = time.perf_counter() - t0
    used = sum(1 for ni in cache.node_list() if ni.pods)
    return {"pods": args.pods, "seconds": round(dt, 3), "podsPerSecond": round(args.pods / dt, 1),
            "unschedulable": unschedulable, "nodesUsed": used,
            "meanNodesEvaluated": round(evaluated / max(args.pods, 1), 1)}


def _reconcile_log(enabled: bool, clock: Any) -> Any:
    from kubetui.client.reconciles import ReconcileLog
    return ReconcileLog(clock=clock, enabled=enabled)


async def controller_rate(args: argparse.Namespace, log_enabled: bool) -> dict[str, Any]:
    """The ReplicaSet controller making ``--rs-pods`` pods for each of ``--replicasets`` ReplicaSets:
    from the first ReplicaSet created until every one reports its pods in status."""
    from kubetui.apiserver.inprocess import InProcessClient
    from kubetui.apiserver.registry import Registry
    from kubetui.clock import Clock
    from kubetui.controllers.manager import ControllerManager
    from kubetui.store import Store

    clock = Clock()
    store = Store(None, clock=clock)
    await store.open()
    registry = Registry(store, clock=clock)
    await registry.bootstrap()
    client = InProcessClient(registry)
    log = _reconcile_log(log_enabled, clock)
    cm = ControllerManager(client, clock=clock, controllers=["replicaset"], resync_seconds=None, reconcile_log=log)
    await cm.start()
    rs_informer = cm.controllers["replicaset"].rs_informer
    n, per = args.replicasets, args.rs_pods

    def done() -> bool:
        items = rs_informer.list("default")
        return len(items) == n and all(int((r.get("status") or {}).get("replicas") or 0) == per for r in items)

    pending = iter(range(n))

    async def creator() -> None:
        for i in pending:
            await client.create("replicasets", {
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": f"bench-{i:05d}", "namespace": "default"},
                "spec": {"replicas": per, "selector": {"matchLabels": {"rs": f"bench-{i:05d}"}},
                         "template": {"metadata": {"labels": {"rs": f"bench-{i:05d}"}},
                                      "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}}},
                "default")

    t0, cpu0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(creator() for _ in range(args.concurrency)))
    deadline = t0 + args.timeout
    while not done() and time.perf_counter() < deadline:
        await asyncio.sleep(0.005)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    reconciles = sum(int(d["reconciles"]) for d in cm.activity().values())
    ok = done()
    await cm.stop()
    await store.close()
    return {"replicaSets": n, "podsEach": per, "seconds": round(seconds, 3), "timedOut": not ok,
            "reconciles": reconciles, "reconcilesPerSecond": round(reconciles / seconds, 1),
            "podsPerSecond": round(n * per / seconds, 1), "cpuSeconds": round(cpu, 3), "records": log.last_seq}


async def end_to_end(args: argparse.Namespace, log_enabled: bool = True) -> dict[str, Any]:
    """Pods created through the API, scheduled and bound through the store."""
    from kubetui.apiserver.registry import Registry
    from kubetui.apiserver.inprocess import InProcessClient
    from kubetui.clock import Clock
    from kubetui.providers.simulated import SimulatedProvider
    from kubetui.scheduler.scheduler import Scheduler
    from kubetui.store import Store

    clock = Clock()
    store = Store(None, clock=clock)
    await store.open()
    registry = Registry(store, clock=clock)
    await registry.bootstrap()
    client = InProcessClient(registry)
    provider = SimulatedProvider(ClusterConfig("bench", Path(".")), client, clock,
                                 heartbeats=False, run_pods=args.run_pods)
    t_nodes = time.perf_counter()
    for cfg in node_configs(args.nodes, args.node_cpus, args.node_memory, args.max_pods):
        await provider.start_node(cfg)
    nodes_seconds = time.perf_counter() - t_nodes
    log = _reconcile_log(log_enabled, clock)
    scheduler = Scheduler(client, clock=clock, profile=args.profile, seed=args.seed,
                          percentage_of_nodes_to_score=args.percentage_of_nodes_to_score, reconcile_log=log)
    await scheduler.start()

    created_at: dict[str, float] = {}
    bound_at: dict[str, float] = {}
    running: set[str] = set()
    all_bound = asyncio.Event()
    all_running = asyncio.Event()
    listed = await client.list("pods", "default")

    async def observe() -> None:
        # An independent watch, as a user would: a pod counts once the API shows it bound.
        async for ev in client.watch("pods", "default", resource_version=listed["metadata"]["resourceVersion"]):
            obj = ev.object
            name = obj["metadata"]["name"]
            if obj["spec"].get("nodeName") and name not in bound_at:
                bound_at[name] = time.perf_counter()
                if len(bound_at) >= args.pods:
                    all_bound.set()
            if (obj.get("status") or {}).get("phase") == "Running":
                running.add(name)
                if len(running) >= args.pods:
                    all_running.set()

    watcher = asyncio.create_task(observe())
    pending = iter(range(args.pods))

    async def creator() -> None:
        for i in pending:
            pod = bench_pod(i, args.pod_cpu, args.pod_memory)
            created_at[pod["metadata"]["name"]] = time.perf_counter()
            await client.create("pods", pod, "default")

    t0, cpu0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(creator() for _ in range(args.concurrency)))
    created_seconds = time.perf_counter() - t0
    timed_out = False
    try:
        await asyncio.wait_for(all_bound.wait(), args.timeout)
    except asyncio.TimeoutError:
        timed_out = True
    total, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    running_seconds = None
    if args.run_pods and not timed_out:
        try:
            await asyncio.wait_for(all_running.wait(), args.timeout)
            running_seconds = round(time.perf_counter() - t0, 3)
        except asyncio.TimeoutError:
            timed_out = True
    latencies = sorted(bound_at[n] - created_at[n] for n in bound_at if n in created_at)
    stats = scheduler.stats()
    watcher.cancel()
    await scheduler.stop()
    await provider.close()
    await store.close()

    def pct(p: float) -> float | None:
        if not latencies:
            return None
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 1)

    return {"pods": args.pods, "bound": len(bound_at), "timedOut": timed_out,
            "nodeRegistrationSeconds": round(nodes_seconds, 3),
            "createSeconds": round(created_seconds, 3), "seconds": round(total, 3),
            "podsPerSecond": round(len(bound_at) / total, 1) if total else None,
            "latencyMsP50": pct(0.50), "latencyMsP99": pct(0.99),
            "latencyMsMean": round(statistics.fmean(latencies) * 1000, 1) if latencies else None,
            "allRunningSeconds": running_seconds,
            "attempts": stats["attempts"], "bindingErrors": stats["bindingErrors"], "cpuSeconds": round(cpu, 3),
            "records": log.last_seq}


def reconcile_log_cost(args: argparse.Namespace) -> dict[str, Any]:
    """End to end and controllers, the log on and off in alternating runs; each side's best run, and the cost."""
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {"on": {"e2e": [], "ctl": []}, "off": {"e2e": [], "ctl": []}}
    # a warm-up of each (imports, caches, the allocator), not counted
    small = argparse.Namespace(**{**vars(args), "pods": max(1, args.pods // 5),
                                  "replicasets": max(1, args.replicasets // 5)})
    asyncio.run(end_to_end(small, True))
    asyncio.run(controller_rate(small, True))
    for _ in range(args.repeat):
        for side in ("off", "on"):
            runs[side]["e2e"].append(asyncio.run(end_to_end(args, side == "on")))
            runs[side]["ctl"].append(asyncio.run(controller_rate(args, side == "on")))

    def best(items: list[dict[str, Any]], key: str) -> dict[str, Any]:
        return max(items, key=lambda r: r[key] or 0)
    out: dict[str, Any] = {"repeat": args.repeat}
    # The same work each run, so the cost is the extra CPU this process spent (least CPU of each side):
    # on a shared machine that moves far less than the wall-clock rates, which are shown beside it.
    # The controller's rate is pods made per second: the number of reconciles varies from run to
    # run (keys queued while being worked on coalesce), the work does not.
    for name, key in (("e2e", "podsPerSecond"), ("ctl", "podsPerSecond")):
        on, off = best(runs["on"][name], key), best(runs["off"][name], key)
        cpu_on = min(r["cpuSeconds"] for r in runs["on"][name])
        cpu_off = min(r["cpuSeconds"] for r in runs["off"][name])
        out[name] = {"on": on, "off": off, "allOn": [r[key] for r in runs["on"][name]],
                     "allOff": [r[key] for r in runs["off"][name]], "cpuOn": cpu_on, "cpuOff": cpu_off,
                     "costPercent": round(100.0 * (cpu_on - cpu_off) / cpu_off, 1) if cpu_off else None,
                     "rateCostPercent": round(100.0 * (off[key] - on[key]) / off[key], 1) if off[key] else None}
    out["perRecord"] = record_cost()
    ctl_off = out["ctl"]["off"]
    if ctl_off["reconciles"]:
        # the same, as a share of the mean reconcile (log off), which includes its API writes
        per_reconcile_us = ctl_off["seconds"] / ctl_off["reconciles"] * 1e6
        out["perRecord"]["shareOfAReconcilePercent"] = round(100.0 * out["perRecord"]["microseconds"]
                                                             / per_reconcile_us, 2)
    return out


def record_cost(n: int = 20_000) -> dict[str, Any]:
    """What one record costs, without noise from the rest: begin, the context variable, three writes
    captured by the recording client, two lines of words, end (into a full ring)."""
    from kubetui.client import reconciles as rl

    class Answer:
        async def update(self, resource: str, obj: dict[str, Any], namespace: str | None = None,
                         **kw: Any) -> dict[str, Any]:
            return obj

    async def run(log: Any) -> float:
        # off: the plain client and no context variable, as a controller without a log runs
        client = rl.RecordingClient(Answer()) if log else Answer()
        body = {"metadata": {"name": "web-7d9f", "namespace": "default", "resourceVersion": "41"}}
        t0 = time.perf_counter()
        for i in range(n):
            if log is None:
                for _ in range(3):
                    await client.update("replicasets", body, "default")
                continue
            rec = log.begin("replicaset", "ReplicaSet", "default", "web-7d9f")
            token = rl.CURRENT.set(rec)
            try:
                rec.observe(f"want {i}, have {i} pods")
                rec.decide(f"create {i} pods", action="create", count=i)
                for _ in range(3):
                    await client.update("replicasets", body, "default")
            finally:
                rl.CURRENT.reset(token)
            log.end(rec)
        return time.perf_counter() - t0

    async def both() -> tuple[float, float]:
        # best of three each, alternating: the machine may be busy
        offs, ons = [], []
        for _ in range(3):
            offs.append(await run(None))
            ons.append(await run(rl.ReconcileLog(capacity=10_000)))
        return min(offs), min(ons)
    off, on = asyncio.run(both())
    return {"records": n, "microseconds": round((on - off) / n * 1e6, 2)}


def run(args: argparse.Namespace) -> int:
    result: dict[str, Any] = {
        "benchmark": "scheduler", "nodes": args.nodes, "pods": args.pods, "profile": args.profile,
        "node": {"cpu": args.node_cpus, "memory": args.node_memory, "pods": args.max_pods},
        "podRequests": {"cpu": args.pod_cpu, "memory": args.pod_memory},
        "concurrency": args.concurrency, "target": {"endToEndPodsPerSecond": 500},
    }
    try:
        result["loadAverage"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    if not args.skip_e2e:
        if args.reconcile_log == "both":
            cost = reconcile_log_cost(args)
            result["reconcileLog"] = cost
            result["endToEnd"] = cost["e2e"]["on"]
        else:
            result["endToEnd"] = asyncio.run(end_to_end(args, args.reconcile_log == "on"))
        result["endToEnd"]["reconcileLog"] = args.reconcile_log
    result["decisionsOnly"] = decision_rate(args)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    e2e = result.get("endToEnd")
    return 1 if e2e and (e2e["timedOut"] or e2e["bound"] < args.pods) else 0


def print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"kube-scheduler: {result['pods']} pods over {result['nodes']} simulated nodes "
                        f"(profile {result['profile']})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    e2e = result.get("endToEnd")
    if e2e:
        ok = "✔" if e2e["podsPerSecond"] and e2e["podsPerSecond"] >= 500 else "✘"
        table.add_row("end to end: pods bound / s (target ≥ 500)", f"{e2e['podsPerSecond']} {ok}")
        table.add_row("end to end: seconds until all bound", str(e2e["seconds"]))
        table.add_row("  pods bound", f"{e2e['bound']} / {e2e['pods']}")
        table.add_row("  creating the pods took (s)", str(e2e["createSeconds"]))
        table.add_row("  create → bound latency p50 / p99 (ms)", f"{e2e['latencyMsP50']} / {e2e['latencyMsP99']}")
        table.add_row("  scheduling attempts / binding errors", f"{e2e['attempts']} / {e2e['bindingErrors']}")
        table.add_row("  registering the nodes took (s)", str(e2e["nodeRegistrationSeconds"]))
        if e2e.get("allRunningSeconds") is not None:
            table.add_row("  seconds until all Running", str(e2e["allRunningSeconds"]))
    cost = result.get("reconcileLog")
    if cost:
        e, c = cost["e2e"], cost["ctl"]
        mark = lambda pct: "✔" if pct is not None and pct <= 5.0 else "✘"   # noqa: E731
        table.add_row(f"reconcile log: end to end pods bound / s, log off / on (best of {cost['repeat']})",
                      f"{e['off']['podsPerSecond']} / {e['on']['podsPerSecond']}")
        table.add_row("  CPU seconds, log off / on (least of each)", f"{e['cpuOff']} / {e['cpuOn']}")
        table.add_row("  cost of the log in CPU (target ≤ 5 %)", f"{e['costPercent']} % {mark(e['costPercent'])}")
        table.add_row(f"reconcile log: ReplicaSet controller pods made / s, log off / on "
                      f"({c['on']['replicaSets']} ReplicaSets x {c['on']['podsEach']} pods)",
                      f"{c['off']['podsPerSecond']} / {c['on']['podsPerSecond']}")
        table.add_row("  CPU seconds, log off / on (least of each)", f"{c['cpuOff']} / {c['cpuOn']}")
        table.add_row("  cost of the log in CPU (target ≤ 5 %)", f"{c['costPercent']} % {mark(c['costPercent'])}")
        table.add_row("  records kept (log on)", f"{e['on']['records']} scheduling cycles, "
                                                 f"{c['on']['records']} reconciles")
        pr = cost["perRecord"]
        table.add_row("  one record's own cost (µs; share of a mean reconcile)",
                      f"{pr['microseconds']} ({pr.get('shareOfAReconcilePercent', '?')} %)")
    if result.get("loadAverage"):
        table.add_row("load average (1, 5, 15 min)", " ".join(str(x) for x in result["loadAverage"]))
    d = result["decisionsOnly"]
    table.add_row("decisions only (no API): pods / s", str(d["podsPerSecond"]))
    table.add_row("  mean nodes filtered per pod", str(d["meanNodesEvaluated"]))
    table.add_row("  nodes used", str(d["nodesUsed"]))
    Console().print(table)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("scheduler", help="pods scheduled per second, with simulated nodes",
                              description=__doc__.split("\n\n")[0] + ". Prints a table, or JSON with --json.")
    p.add_argument("--nodes", type=int, default=DEFAULT_NODES, help="simulated nodes (default: %(default)s)")
    p.add_argument("--pods", type=int, default=DEFAULT_PODS, help="pods to create (default: %(default)s)")
    p.add_argument("--profile", choices=("default", "bin-packing"), default="default",
                   help="scheduler profile (default: %(default)s)")
    p.add_argument("--node-cpus", type=float, default=32.0, help="CPUs per node (default: %(default)s)")
    p.add_argument("--node-memory", default="128Gi", help="memory per node (default: %(default)s)")
    p.add_argument("--max-pods", type=int, default=110, help="pods per node (default: %(default)s)")
    p.add_argument("--pod-cpu", default="100m", help="CPU request per pod (default: %(default)s)")
    p.add_argument("--pod-memory", default="128Mi", help="memory request per pod (default: %(default)s)")
    p.add_argument("--concurrency", type=int, default=32, help="pods created at once (default: %(default)s)")
    p.add_argument("--percentage-of-nodes-to-score", type=int, default=0, metavar="PCT",
                   help="0 = upstream's adaptive default (default: %(default)s)")
    p.add_argument("--run-pods", action="store_true",
                   help="also let the simulated nodes mark pods Running (and time that)")
    p.add_argument("--skip-e2e", action="store_true", help="only measure decisions (no API)")
    p.add_argument("--timeout", type=float, default=300.0, help="give up after this many seconds")
    p.add_argument("--seed", type=int, default=0, help="tie-break seed (default: %(default)s)")
    p.add_argument("--reconcile-log", choices=("both", "on", "off"), default="both",
                   help="measure with the reconcile log on and off and print its cost (both, the default), "
                        "or one run with it on or off")
    p.add_argument("--repeat", type=int, default=3,
                   help="with --reconcile-log both: alternating runs of each (best kept; default: %(default)s)")
    p.add_argument("--replicasets", type=int, default=500,
                   help="the controller figure's ReplicaSets (default: %(default)s)")
    p.add_argument("--rs-pods", type=int, default=4, help="pods of each of them (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)
