"""``kubetui bench up`` and ``kubetui bench pods``: how fast Docker worker nodes come up and start pods.

Upstream measures the same things with its SLIs: cluster bring-up is what
kind reports as "Creating cluster", and **pod startup latency** ("time from
pod creation to all its containers reported started, observed via watch",
``test/e2e/node/density`` and ``perf-tests``' pod startup SLO) is measured
from creation to Running and to Ready, as percentiles.

- ``bench up``: a fresh cluster with the node image already built, N Docker
  nodes, from ``up`` to every Node Ready ("cold": containers created), then
  the same ``up`` again on the same state ("warm": running nodes reused, as
  after a control-plane restart); then the idle memory of each node
  container as ``docker stats`` shows it.
- ``bench pods``: on a fresh cluster, P pods created at once; each pod's
  latency from its creation (the API answered) to Running and to Ready, as
  seen by a watch; p50/p99/max, and each node's memory with the pods running.

Both run the control plane in this process (as ``kubetui up`` does) and
remove every container, network and volume they created.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import secrets
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from kubetui.cmdutil import CLIError

log = logging.getLogger(__name__)

TARGET_UP_SECONDS = 3.0
TARGET_HA_UP_SECONDS = 6.0       # issue 16: `kubetui up --control-planes 3` on Docker, images cached
TARGET_POD_P99_SECONDS = 0.5     # issue 18 (was 1 s)
TARGET_IDLE_MIB = 25.0           # issue 18, the DNS pod's node included (was 40 MiB)

_UNITS = {"b": 1, "kib": 2 ** 10, "mib": 2 ** 20, "gib": 2 ** 30, "kb": 1e3, "mb": 1e6, "gb": 1e9}


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100) of ``values``; None when empty."""
    if not values:
        return None
    s = sorted(values)
    rank = max(1, -(-len(s) * p // 100))       # ceil(n * p / 100), at least the first
    return s[int(min(rank, len(s))) - 1]


def parse_mem(text: str) -> float:
    """``docker stats`` memory (``11.3MiB``) in bytes."""
    m = re.fullmatch(r"\s*([\d.]+)\s*([kKmMgG]?i?B)\s*", text)
    if not m:
        raise ValueError(f"not a docker stats memory figure: {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2).lower()]


def docker_stats_mib(containers: list[str]) -> dict[str, float]:
    """{container: MiB} from one ``docker stats --no-stream`` (usage minus page cache, as the CLI shows)."""
    r = subprocess.run(["docker", "stats", "--no-stream", "--format", "{{.Name}}\t{{.MemUsage}}", *containers],
                       capture_output=True, text=True, timeout=60)
    out: dict[str, float] = {}
    for line in r.stdout.splitlines():
        name, _, usage = line.partition("\t")
        out[name] = round(parse_mem(usage.split("/")[0]) / 2 ** 20, 1)
    return out


#: run inside a node: every process's anonymous memory (what its pages cost the node) and command line
_PROCESSES = ("import json, os\nout = []\nfor p in os.listdir('/proc'):\n    if not p.isdigit(): continue\n"
              "    try:\n        st = open(f'/proc/{p}/status').read()\n"
              "        cmd = open(f'/proc/{p}/cmdline', 'rb').read().replace(b'\\0', b' ').decode().strip()\n"
              "    except OSError: continue\n"
              "    kb = [int(l.split()[1]) for l in st.splitlines() if l.startswith('RssAnon:')]\n"
              "    pp = [int(l.split()[1]) for l in st.splitlines() if l.startswith('PPid:')]\n"
              "    out.append([int(p), kb[0] if kb else 0, cmd, pp[0] if pp else 0])\nprint(json.dumps(out))\n")


def memory_breakdown(total_mib: float, processes: list[list], self_pid: int | None = None) -> dict[str, float]:
    """Split a node's ``docker stats`` figure (pure): the agents' process, each other program (by
    command), and what is left, the kernel's share (page tables, sockets, network namespaces) and
    page cache. ``processes`` is ``[[pid, RssAnon KiB, cmdline(, parent pid)], ...]``; ``self_pid``
    (the reader) is left out, and so is a child with its parent's command line: a fork not yet
    turned into its program (the agents start ``iptables``, mounts, containers) shares its
    parent's pages copy-on-write, and counting it too doubled the agents once (32.2 MiB).

    >>> memory_breakdown(28.0, [[7, 16384, "python3 -m kubetui.agent run kubetui.kubelet --x"],
    ...                         [90, 8192, "python3 -OO -m kubetui.dns --listen 0.0.0.0:53"], [1, 64, "/sbin/docker-init --"]])
    {'agents': 16.0, 'python3 -m kubetui.dns': 8.0, '/sbin/docker-init': 0.1, 'kernel and cache': 3.9}
    """
    out: dict[str, float] = {}
    used = 0.0
    cmd_of = {row[0]: row[2] for row in processes}
    for pid, kb, cmd, *parent in processes:
        if pid == self_pid or not cmd or (parent and cmd_of.get(parent[0]) == cmd):
            continue
        if "kubetui.agent" in cmd:
            label = "agents"
        elif "containerinit" in cmd and "--zygote" in cmd:
            label = "container fork server"         # runtime/zygote.py: one per node running pods
        else:
            words = cmd.split()
            # ``python3 -OO -m kubetui.dns ...`` -> ``python3 -m kubetui.dns`` (interpreter flags left out)
            module = words[words.index("-m") + 1] if words[0] == "python3" and "-m" in words[:-1] else None
            label = f"python3 -m {module}" if module else words[0]
        out[label] = out.get(label, 0.0) + kb / 1024
        used += kb / 1024
    out = {k: round(v, 1) for k, v in out.items()}
    out["kernel and cache"] = round(max(0.0, total_mib - used), 1)
    return out


def node_memory_breakdown(container: str, total_mib: float) -> dict[str, float]:
    """``memory_breakdown`` of one node container, read with ``docker exec`` (after ``docker stats``)."""
    r = subprocess.run(["docker", "exec", container, "python3", "-c", _PROCESSES + "print(os.getpid())"],
                       capture_output=True, text=True, timeout=60)
    lines = r.stdout.strip().splitlines()
    if r.returncode != 0 or len(lines) < 2:
        return {}
    return memory_breakdown(total_mib, json.loads(lines[0]), int(lines[1]))


# -- bringing a cluster up ----------------------------------------------------------


class _Phases:
    """Timestamps of ``Cluster.up``'s progress messages, folded into phases."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.marks: list[tuple[str, float]] = []

    def __call__(self, phase: str, detail: str) -> None:
        self.marks.append((phase, time.perf_counter() - self.t0))

    def first(self, *phases: str) -> float | None:
        return next((t for p, t in self.marks if p in phases), None)

    def summary(self, total: float) -> dict[str, float]:
        store = self.first("store") or 0.0
        nodes = self.first("node-1") or store
        ready = self.first("ready") or total
        return {"prepareSeconds": round(store, 3), "controlPlaneSeconds": round(nodes - store, 3),
                "startNodesSeconds": round(ready - nodes, 3), "waitReadySeconds": round(total - ready, 3),
                "totalSeconds": round(total, 3)}


async def _up(settings, state: Path, *, wait_heartbeats: bool = False):
    from kubetui.cluster import Cluster

    phases = _Phases()
    wall0 = time.time()
    cluster = Cluster(settings, state, progress=phases)
    await cluster.up(ready_timeout=120)
    summary = phases.summary(time.perf_counter() - phases.t0)
    if wait_heartbeats:
        # Reused nodes' Ready condition is the one recorded before the restart; the
        # honest figure is when every kubelet has reached the new API server (Lease renewed).
        await _wait_leases_after(cluster.control_plane.client, settings.nodes, wall0, 30.0)
        summary["heartbeatsSeconds"] = round(time.perf_counter() - phases.t0, 3)
    return cluster, summary


def _rfc3339(text: str) -> float:
    from datetime import datetime
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def _wait_leases_after(client, nodes: int, since: float, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        leases = (await client.list("leases", "kube-node-lease")).get("items") or []
        fresh = [le for le in leases if (le.get("spec") or {}).get("renewTime")
                 and _rfc3339(le["spec"]["renewTime"]) > since]
        if len(fresh) >= nodes:
            return
        await asyncio.sleep(0.02)
    raise TimeoutError(f"the kubelets did not renew their leases within {timeout:.0f}s of the restart")


def _settings(args: argparse.Namespace, name: str):
    from kubetui.cluster import ClusterSettings
    cps = getattr(args, "control_planes", None) or 1     # `kubetui bench pods` has none (None)
    # several control planes share one etcd cluster (kubeadm's stacked etcd: a member in each container)
    return ClusterSettings(name=name, provider="docker", nodes=args.nodes, api_port=0,
                           node_cpus=args.node_cpus, node_memory=args.node_memory,
                           control_planes=cps, store="etcd" if cps > 1 else "tinydb")


def _target_up(r: dict[str, Any]) -> float:
    return TARGET_HA_UP_SECONDS if r.get("controlPlanes", 1) > 1 else TARGET_UP_SECONDS


async def _delete(settings, state: Path) -> None:
    from kubetui.cluster import make_provider
    provider = make_provider(settings, state)
    try:
        await provider.delete(purge=True)
    finally:
        await provider.close()


def _ensure_image(control_planes: int = 1) -> dict[str, Any]:
    from kubetui.providers.docker import docker_client
    from kubetui.providers.docker.image import build_node_image, image_exists, node_tag

    client = docker_client()
    try:
        cached = image_exists(client, node_tag())
        t = time.perf_counter()
        tag = build_node_image(client)
        out = {"image": tag, "wasCached": cached, "buildSeconds": round(time.perf_counter() - t, 3)}
        if control_planes > 1:  # the control-plane image too: `up` is measured with both cached
            from kubetui.providers.docker.cpimage import build_control_plane_image, control_plane_tag, distributions
            out["controlPlaneImageWasCached"] = image_exists(client, control_plane_tag(tag, distributions()))
            out["controlPlaneImage"] = build_control_plane_image(client, node_tag=tag)
        return out
    finally:
        client.close()


async def bench_up(args: argparse.Namespace) -> dict[str, Any]:
    image = await asyncio.to_thread(_ensure_image, args.control_planes)
    runs = []
    memory: dict[str, float] = {}
    cp_memory: dict[str, float] = {}
    breakdown: dict[str, dict[str, float]] = {}
    for i in range(args.runs):
        name = f"bench{secrets.token_hex(3)}"
        state = Path(tempfile.mkdtemp(prefix="kubetui-bench-up-"))
        settings = _settings(args, name)
        try:
            cluster, cold = await _up(settings, state)
            if i == 0:
                await asyncio.sleep(args.settle)
                from kubetui.cluster.ha import member_names
                cps = member_names(name, args.control_planes) if args.control_planes > 1 else []
                memory = await asyncio.to_thread(
                    docker_stats_mib, [f"kubetui-{name}-node-{n}" for n in range(1, args.nodes + 1)])
                if cps:  # an etcd member, the control-plane process and the agents: not a worker's budget
                    cp_memory = await asyncio.to_thread(docker_stats_mib, [f"kubetui-{name}-{n}" for n in cps])
                breakdown = {c: await asyncio.to_thread(node_memory_breakdown, c, mib) for c, mib in memory.items()}
            await cluster.stop()
            from kubetui.cluster import ClusterSettings
            cluster, warm = await _up(ClusterSettings.load(state), state, wait_heartbeats=True)
            await cluster.stop()
            runs.append({"cold": cold, "warm": warm})
        finally:
            await _delete(settings, state)
            shutil.rmtree(state, ignore_errors=True)
    cold_totals = [r["cold"]["totalSeconds"] for r in runs]
    warm_totals = [r["warm"]["heartbeatsSeconds"] for r in runs]
    return {"benchmark": "up", "nodes": args.nodes, "controlPlanes": args.control_planes, **image, "runs": runs,
            "coldMedianSeconds": round(statistics.median(cold_totals), 3),
            "warmMedianSeconds": round(statistics.median(warm_totals), 3),
            "idleMemoryMiB": memory,
            "idleMemoryMaxMiB": max(memory.values()) if memory else None,
            "idleMemoryBreakdownMiB": breakdown,
            "controlPlaneIdleMemoryMiB": cp_memory,
            "target": {"upSeconds": TARGET_HA_UP_SECONDS if args.control_planes > 1 else TARGET_UP_SECONDS,
                       "idleMemoryMiB": TARGET_IDLE_MIB}}


# -- pod start latency ---------------------------------------------------------------


def bench_pod(i: int, image: str, command: list[str]) -> dict[str, Any]:
    c: dict[str, Any] = {"name": "main", "image": image}
    if command:
        c["command"] = command
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"start-{i:04d}", "namespace": "default", "labels": {"bench": "pods"}},
            "spec": {"terminationGracePeriodSeconds": 0, "containers": [c]}}


def _is_ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


async def _measure_pods(client, args: argparse.Namespace, containers: list[str] | None = None) -> dict[str, Any]:
    from kubetui.bench import podstart
    created: dict[str, float] = {}
    wall: dict[str, dict[str, float]] = {}     # pod -> {step: epoch seconds}: the breakdown's timelines
    scheduled: dict[str, float] = {}
    running: dict[str, float] = {}
    ready: dict[str, float] = {}
    nodes: dict[str, str] = {}
    done = asyncio.Event()

    async def watch() -> None:
        async for ev in client.watch("pods", "default", label_selector="bench=pods"):
            pod, now = ev.object, time.perf_counter()
            name = pod.get("metadata", {}).get("name")
            if not name:
                continue
            marks = wall.setdefault(name, {})
            if pod.get("spec", {}).get("nodeName"):
                scheduled.setdefault(name, now)
                marks.setdefault("scheduled", time.time())
                nodes[name] = pod["spec"]["nodeName"]
            if (pod.get("status") or {}).get("phase") == "Running":
                running.setdefault(name, now)
            if _is_ready(pod):
                ready.setdefault(name, now)
                marks.setdefault("watched", time.time())
                if len(ready) == args.pods:
                    done.set()
                    return

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.1)      # the watch is open before the first pod exists
    command = args.command.split() if args.command else []

    async def create(i: int) -> None:
        await client.create("pods", bench_pod(i, args.image, command), "default")
        created[f"start-{i:04d}"] = time.perf_counter()
        wall.setdefault(f"start-{i:04d}", {})["apiCreated"] = time.time()

    containers = containers or []
    cpu0 = await asyncio.gather(*(asyncio.to_thread(podstart.node_cpu_seconds, c) for c in containers))
    cp0, wall0 = os.times(), time.time()
    t0 = time.perf_counter()
    await asyncio.gather(*(create(i) for i in range(args.pods)))
    create_seconds = time.perf_counter() - t0
    try:
        await asyncio.wait_for(done.wait(), args.timeout)
        timed_out = False
    except asyncio.TimeoutError:
        timed_out = True
    cp1 = os.times()
    watcher.cancel()
    await asyncio.gather(watcher, return_exceptions=True)
    cpu1 = await asyncio.gather(*(asyncio.to_thread(podstart.node_cpu_seconds, c) for c in containers))
    for c in containers:
        for key, marks in (await asyncio.to_thread(podstart.node_log_marks, c, wall0 - 1)).items():
            name = key.split("/", 1)[-1]
            if name in wall:
                wall[name].update(marks)
    cpu = {"nodes": {c.rsplit("-", 2)[-2] + "-" + c.rsplit("-", 1)[-1]: {k: round(b[k] - a[k], 3) for k in a}
                     for c, a, b in zip(containers, cpu0, cpu1) if a is not None and b is not None},
           "controlPlane": round((cp1.user + cp1.system) - (cp0.user + cp0.system), 3)}

    def latencies(seen: dict[str, float]) -> dict[str, float | None]:
        vals = [seen[n] - created[n] for n in seen if n in created]
        return {"count": len(vals), "p50": _r(percentile(vals, 50)), "p99": _r(percentile(vals, 99)),
                "max": _r(max(vals) if vals else None)}

    per_node: dict[str, int] = {}
    for n in nodes.values():
        per_node[n] = per_node.get(n, 0) + 1
    return {"pods": args.pods, "image": args.image, "command": command, "timedOut": timed_out,
            "createSeconds": round(create_seconds, 3),
            "allReadySeconds": round(max(ready.values()) - t0, 3) if ready and not timed_out else None,
            "toScheduled": latencies(scheduled), "toRunning": latencies(running), "toReady": latencies(ready),
            "podsPerNode": dict(sorted(per_node.items())),
            "breakdown": podstart.breakdown(wall), "cpuSeconds": cpu,
            "loadAverage": [round(x, 2) for x in os.getloadavg()]}


def _r(v: float | None) -> float | None:
    return round(v, 3) if v is not None else None


async def bench_pods(args: argparse.Namespace) -> dict[str, Any]:
    image = await asyncio.to_thread(_ensure_image)
    name = f"bench{secrets.token_hex(3)}"
    state = Path(tempfile.mkdtemp(prefix="kubetui-bench-pods-"))
    settings = _settings(args, name)
    try:
        cluster, up = await _up(settings, state)
        try:
            result = await _measure_pods(cluster.control_plane.client, args,
                                         [f"kubetui-{name}-node-{n}" for n in range(1, args.nodes + 1)])
            result["memoryWithPodsMiB"] = await asyncio.to_thread(
                docker_stats_mib, [f"kubetui-{name}-node-{n}" for n in range(1, args.nodes + 1)])
        finally:
            await cluster.stop()
    finally:
        await _delete(settings, state)
        shutil.rmtree(state, ignore_errors=True)
    return {"benchmark": "pods", "nodes": args.nodes, "image": image["image"], "clusterUpSeconds": up["totalSeconds"],
            **result, "target": {"p99Seconds": TARGET_POD_P99_SECONDS}}


# -- CLI ------------------------------------------------------------------------------


def _mark(ok: bool) -> str:
    return "✔" if ok else "✘"


def print_up(r: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    cps = r.get("controlPlanes", 1)
    t = Table(title=f"kubetui up: {r['nodes']} Docker nodes"
                    + (f" + {cps} control-plane node containers (etcd)" if cps > 1 else "")
                    + f", node image {'cached' if r['wasCached'] else 'BUILT'}")
    t.add_column("run")
    for col in ("prepare", "control plane", "start nodes", "wait Ready", "total (s)", "kubelets back (s)"):
        t.add_column(col, justify="right")
    for i, run in enumerate(r["runs"], 1):
        for kind in ("cold", "warm"):
            p = run[kind]
            t.add_row(f"{i} {kind}", *(f"{p[k]:.2f}" for k in ("prepareSeconds", "controlPlaneSeconds",
                                                                  "startNodesSeconds", "waitReadySeconds",
                                                                  "totalSeconds")),
                      f"{p['heartbeatsSeconds']:.2f}" if "heartbeatsSeconds" in p else "")
    Console().print(t)
    console = Console()
    console.print(f"cold up → all Ready, median: {r['coldMedianSeconds']:.2f} s "
                  f"(target ≤ {_target_up(r):.0f} s) {_mark(r['coldMedianSeconds'] <= _target_up(r))}")
    console.print(f"warm up (nodes reused) → every kubelet heartbeating again, median: "
                  f"{r['warmMedianSeconds']:.2f} s")
    if r.get("controlPlaneIdleMemoryMiB"):
        console.print("idle memory per control-plane node (docker stats): " + ", ".join(
            f"{k.split('-', 2)[-1]} {v} MiB" for k, v in r["controlPlaneIdleMemoryMiB"].items()))
    if r["idleMemoryMiB"]:
        mem = ", ".join(f"{k.rsplit('-', 2)[-2]}-{k.rsplit('-', 1)[-1]} {v} MiB" for k, v in r["idleMemoryMiB"].items())
        console.print(f"idle memory per node (docker stats): {mem} (target ≤ {TARGET_IDLE_MIB:.0f} MiB) "
                      f"{_mark(r['idleMemoryMaxMiB'] <= TARGET_IDLE_MIB)}")
        for node, parts in (r.get("idleMemoryBreakdownMiB") or {}).items():
            if parts:
                console.print(f"  {node.rsplit('-', 2)[-2]}-{node.rsplit('-', 1)[-1]}: "
                              + ", ".join(f"{k} {v}" for k, v in parts.items()) + " MiB (processes: RssAnon)")


def print_pods(r: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"pod start latency: {r['pods']} pods ({r['image']}"
                    f"{' ' + ' '.join(r['command']) if r['command'] else ''}) created at once over {r['nodes']} nodes")
    t.add_column("from creation to")
    for col in ("pods", "p50 (s)", "p99 (s)", "max (s)"):
        t.add_column(col, justify="right")
    for label, key in (("scheduled", "toScheduled"), ("Running", "toRunning"), ("Ready", "toReady")):
        lat = r[key]
        t.add_row(label, str(lat["count"]), *(f"{lat[k]:.3f}" if lat[k] is not None else "-"
                                              for k in ("p50", "p99", "max")))
    Console().print(t)
    console = Console()
    p99 = r["toReady"]["p99"]
    console.print(f"Ready p99: {p99 if p99 is not None else '-'} s (target ≤ {TARGET_POD_P99_SECONDS:g} s) "
                  f"{_mark(p99 is not None and not r['timedOut'] and p99 <= TARGET_POD_P99_SECONDS)}")
    console.print(f"creating the pods took {r['createSeconds']} s; all Ready after {r['allReadySeconds']} s; "
                  f"pods per node {r['podsPerNode']}" + ("  TIMED OUT" if r["timedOut"] else ""))
    console.print("memory with the pods running (docker stats): "
                  + ", ".join(f"{k} {v} MiB" for k, v in r["memoryWithPodsMiB"].items()))
    from kubetui.bench.podstart import print_breakdown
    print_breakdown(r)
    console.print(f"load average at the end: {' '.join(str(x) for x in r.get('loadAverage') or [])}")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nodes", type=int, default=3, help="Docker nodes (default: %(default)s)")
    p.add_argument("--node-cpus", type=float, default=2.0, help="CPUs per node (default: %(default)s)")
    p.add_argument("--node-memory", default="2Gi", help="memory per node (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print JSON")


def run_up(args: argparse.Namespace) -> int:
    from kubetui.providers.docker.image import ImageError
    try:
        r = asyncio.run(bench_up(args))
    except ImageError as e:
        raise CLIError(str(e)) from None
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        print_up(r)
    return 0


def run_pods(args: argparse.Namespace) -> int:
    from kubetui.providers.docker.image import ImageError
    try:
        r = asyncio.run(bench_pods(args))
    except ImageError as e:
        raise CLIError(str(e)) from None
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        print_pods(r)
    return 1 if r["timedOut"] else 0


def register(subparsers: Any) -> None:
    up = subparsers.add_parser("up", help="Docker cluster up → all nodes Ready, and idle memory per node",
                               description=__doc__.split("\n\n")[0])
    _common(up)
    up.add_argument("--runs", type=int, default=3, help="fresh clusters to bring up (default: %(default)s)")
    up.add_argument("--control-planes", type=int, default=1, metavar="N",
                    help="control-plane node containers, each an etcd member (N > 1: kubetui up --control-planes N "
                         "--store etcd; default: %(default)s, the control plane in this process)")
    up.add_argument("--settle", type=float, default=3.0,
                    help="seconds to let nodes go idle before docker stats (default: %(default)s)")
    up.set_defaults(func=run_up)
    pods = subparsers.add_parser("pods", help="pod start latency: P pods at once over Docker nodes, p50/p99",
                                 description=__doc__.split("\n\n")[0])
    _common(pods)
    pods.add_argument("--pods", type=int, default=100, help="pods created at once (default: %(default)s)")
    pods.add_argument("--image", default="busybox:1.36", help="pod image (default: %(default)s)")
    pods.add_argument("--command", default="sleep 3600",
                      help="the container's command ('' for the image's own; default: %(default)s)")
    pods.add_argument("--timeout", type=float, default=120.0, help="give up after this many seconds")
    pods.set_defaults(func=run_pods)
