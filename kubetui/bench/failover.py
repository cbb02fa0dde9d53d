"""``kubetui bench failover``: how fast a three-control-plane cluster recovers from losing a leader or an API server.

Issue 16's targets, on ``kubetui up --control-planes 3 --store etcd --provider local``
with lab timings (Lease 2 s, renew deadline 1.5 s, retry 0.5 s; upstream's are
15 s / 10 s / 2 s):

- **leader failover**: kill -9 the control-plane process whose kube-scheduler
  (then, separately, kube-controller-manager) holds its Lease
  (``kubetui faults inject leader-kill``); right after, create a pod
  (a Deployment). The figure is from the kill to the new leader's first
  action: the pod bound to a node (the Deployment's ReplicaSet created).
  It is bounded below by the dead holder's lease running out (the others
  cannot know it died), plus one retry period, plus the component starting
  (informers listing). Target ≤ 3 s.
- **API server failover**: while clients send kubectl's requests (a consistent
  LIST) in a bounded loop, kill -9 one of the three API servers (a process
  leading nothing, when there is one). The figure is from the kill to the end
  of the last request that failed (0 when none did), for clients that open a
  connection per request (kubectl: one process per command) and for clients
  that keep theirs open (informers, the TUI), whose connection to the dead
  API server breaks. Target ≤ 1 s.

Each round reverts its fault (the process starts again on its old port) and
waits for both Leases to be held before the next. The figures are printed with
the machine's load average; timings are never asserted by tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

LEADER_TARGET_SECONDS = 3.0
API_TARGET_SECONDS = 1.0
LEASES = {"scheduler": "kube-scheduler", "controller-manager": "kube-controller-manager"}
POLL = 0.02


def _holder_node(lease: dict[str, Any]) -> str:
    return ((lease.get("spec") or {}).get("holderIdentity") or "").rpartition("_")[0]


async def _until(what: str, check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            got = await check()
        except Exception:  # noqa: BLE001 - a request during a failover may fail: ask again
            got = None
        if got:
            return got
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(POLL)


async def _create(client: Any, resource: str, obj: dict, timeout: float) -> None:
    """Create ``obj`` through the load balancer while a control-plane process dies.

    A kept-alive connection to the API server that was just killed ends in "Server
    disconnected" (the load balancer passes TCP through, so the client sees the cut).
    kubectl opens a new connection and the request goes to a live API server; do the
    same: try again. A retried create that had landed the first time is AlreadyExists.
    """
    from kubetui.api.errors import AlreadyExists

    async def attempt() -> bool:
        try:
            await client.create(resource, obj, "default")
        except AlreadyExists:
            pass
        return True
    await _until(f"the {resource} create", attempt, timeout)


async def _leases_held(client: Any, alive: Any) -> bool:
    for name in LEASES.values():
        lease = await client.get("leases", name, "kube-system")
        if _holder_node(lease) not in alive():
            return False
    return True


async def leader_round(client: Any, ctx: Any, component: str, n: int, alive: Any, timeout: float) -> dict[str, Any]:
    """Kill the ``component``'s leader, then time its successor's first action on a new object."""
    from kubetui.faults import inject, revert

    await _until("both Leases held by running control planes", lambda: _leases_held(client, alive), timeout)
    name = f"failover-{component}-{n}"
    t0 = time.monotonic()
    rec = await inject(ctx, "leader-kill", target=component)
    killed_at = time.monotonic()
    try:
        if component == "scheduler":
            await _create(client, "pods", {"metadata": {"name": name, "labels": {"app": name}}, "spec": {
                "terminationGracePeriodSeconds": 0,
                "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]}}, timeout)

            async def acted() -> bool:
                return bool(((await client.get("pods", name, "default")).get("spec") or {}).get("nodeName"))
        else:
            await _create(client, "deployments", {"metadata": {"name": name}, "spec": {
                "replicas": 0, "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": {
                    "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]}}}},
                timeout)

            async def acted() -> bool:
                rs = await client.list("replicasets", "default", label_selector=f"app={name}")
                return bool(rs.get("items"))
        await _until(f"the new {component} leader's first action", acted, timeout)
        acted_at = time.monotonic()
        lease = await client.get("leases", LEASES[component], "kube-system")
    finally:
        await revert(ctx, rec.id)
    for resource in ("pods", "deployments"):
        try:
            await client.delete(resource, name, "default")
        except Exception:  # noqa: BLE001 - the other kind was not created
            pass
    return {"component": component, "killed": rec.data["node"], "newLeader": _holder_node(lease),
            "seconds": round(acted_at - t0, 3), "killSeconds": round(killed_at - t0, 3)}


async def api_round(state: Path, server: str, token: str, ssl_ctx: Any, n: int, alive: Any, leaders: list[str],
                    workers: int, before: float, after: float) -> dict[str, Any]:
    """kubectl-like requests through the load balancer while one API server is killed."""
    import aiohttp

    from kubetui.cluster.ha import kill_pid, read_members, spawn_member
    from kubetui.faults.controlplane import _etcd_servers

    members = read_members(state)
    running = sorted(alive())
    victim = next((m for m in running if m not in leaders), running[-1])
    rec = members[victim]
    results: list[tuple[str, float, float, bool, str]] = []   # mode, start, end, ok, error
    stop_at = time.monotonic() + before + after
    url = f"{server}/api/v1/namespaces/default/pods"
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    async def loop(mode: str) -> None:
        keep = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl_ctx), headers=headers) \
            if mode == "keepalive" else None
        try:
            while time.monotonic() < stop_at:
                s = keep or aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl_ctx, force_close=True),
                                                  headers=headers)
                start = time.monotonic()
                try:
                    async with s.get(url, timeout=aiohttp.ClientTimeout(total=10)) as r:
                        await r.read()
                        ok, err = r.status == 200, "" if r.status == 200 else f"HTTP {r.status}"
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
                    ok, err = False, f"{type(e).__name__}: {e}"
                finally:
                    if keep is None:
                        await s.close()
                results.append((mode, start, time.monotonic(), ok, err))
        finally:
            if keep is not None:
                await keep.close()

    tasks = [asyncio.create_task(loop(mode)) for mode in ("fresh", "keepalive") for _ in range(workers)]
    await asyncio.sleep(before)
    killed_at = time.monotonic()
    kill_pid(int(rec["pid"]), signal.SIGKILL)
    await asyncio.gather(*tasks)
    await spawn_member(state, victim, _etcd_servers(state), port=int(rec["port"]))
    out: dict[str, Any] = {"killed": victim, "requests": len(results)}
    for mode in ("fresh", "keepalive"):
        mine = [r for r in results if r[0] == mode]
        failed = [r for r in mine if not r[3] and r[2] >= killed_at]
        out[mode] = {"requests": len(mine), "failed": len(failed),
                     "seconds": round(max(r[2] for r in failed) - killed_at, 3) if failed else 0.0,
                     "errors": sorted({r[4] for r in failed})[:3]}
    return out


def _summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 3), "max": round(max(values), 3)} if values else {}


async def run_bench(state: Path, rounds: int, workers: int, timeout: float) -> dict[str, Any]:
    from kubetui.client.kubeconfig import load_kubeconfig
    from kubetui.cluster.ha import member_alive, read_members
    from kubetui.faults import context_for_state_dir

    def alive() -> set[str]:
        return {n for n, r in read_members(state).items() if member_alive(r, n)}

    ctx = context_for_state_dir(state)
    client = ctx.client
    cfg = load_kubeconfig(state / "kubeconfig")
    out: dict[str, Any] = {"leader": [], "api": []}
    try:
        for n in range(rounds):
            for component in ("scheduler", "controller-manager"):
                out["leader"].append(await leader_round(client, ctx, component, n, alive, timeout))
        for n in range(rounds):
            await _until("both Leases held by running control planes", lambda: _leases_held(client, alive), timeout)
            leaders = [_holder_node(await client.get("leases", name, "kube-system")) for name in LEASES.values()]
            out["api"].append(await api_round(state, cfg.server, cfg.token, cfg.ssl_context(), n, alive, leaders,
                                              workers, before=1.0, after=3.0))
    finally:
        await client.close()
    out["summary"] = {
        **{f"{c}Seconds": _summary([r["seconds"] for r in out["leader"] if r["component"] == c]) for c in LEASES},
        "apiFreshSeconds": _summary([r["fresh"]["seconds"] for r in out["api"]]),
        "apiKeepaliveSeconds": _summary([r["keepalive"]["seconds"] for r in out["api"]]),
    }
    return out


def _up(state: Path, timeout: float) -> None:
    r = subprocess.run([sys.executable, "-m", "kubetui", "up", "--state-dir", str(state), "--provider", "local",
                        "--nodes", "1", "--api-port", "0", "--store", "etcd", "--control-planes", "3"],
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"kubetui up failed: {r.stderr[-2000:]}")


def _down(state: Path) -> None:
    subprocess.run([sys.executable, "-m", "kubetui", "down", "--state-dir", str(state)], capture_output=True,
                   timeout=180)


def run(args: argparse.Namespace) -> int:
    own = args.state_dir is None
    state = Path(args.state_dir) if args.state_dir else Path(tempfile.mkdtemp(prefix="kubetui-bench-failover-")) / "c"
    t0 = time.monotonic()
    try:
        if own:
            _up(state, args.timeout * 4)
        up_seconds = time.monotonic() - t0
        result = asyncio.run(run_bench(state, args.rounds, args.workers, args.timeout))
    finally:
        if own:
            _down(state)
            shutil.rmtree(state.parent, ignore_errors=True)
    load = os.getloadavg()
    result["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                         "loadavg": [round(x, 2) for x in load]}
    result["upSeconds"] = round(up_seconds, 1)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    s = result["summary"]
    print(f"kubetui bench failover: 3 control planes on etcd (local provider), lab timings, {args.rounds} rounds; "
          f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in load)}")
    for r in result["leader"]:
        print(f"  leader-kill {r['component']:<18} {r['killed']} -> {r['newLeader']}: first action after "
              f"{r['seconds']:.2f} s")
    for r in result["api"]:
        print(f"  kill API server on {r['killed']}: kubectl-like (new connection per request) "
              f"{r['fresh']['failed']} failed, no failure after {r['fresh']['seconds']:.2f} s; keep-alive clients "
              f"{r['keepalive']['failed']} failed, no failure after {r['keepalive']['seconds']:.2f} s "
              f"({r['requests']} requests) {'; '.join(r['fresh']['errors'] + r['keepalive']['errors'])}")
    for c in LEASES:
        v = s[f"{c}Seconds"]
        print(f"{c} leader failover: median {v['median']:.2f} s, max {v['max']:.2f} s "
              f"(target <= {LEADER_TARGET_SECONDS:.0f} s: {'met' if v['max'] <= LEADER_TARGET_SECONDS else 'missed'})")
    for key, label in (("apiFreshSeconds", "kubectl-like"), ("apiKeepaliveSeconds", "keep-alive")):
        v = s[key]
        print(f"API server failover, {label} clients: median {v['median']:.2f} s, max {v['max']:.2f} s "
              f"(target <= {API_TARGET_SECONDS:.0f} s: {'met' if v['max'] <= API_TARGET_SECONDS else 'missed'})")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("failover", help="leader and API server failover on 3 control planes (etcd)",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3, help="kills of each kind (default: %(default)s)")
    p.add_argument("--workers", type=int, default=3,
                   help="request loops per client kind during the API server kill (default: %(default)s)")
    p.add_argument("--state-dir", default=None,
                   help="an existing --control-planes 3 cluster (default: start one in a temporary dir, then remove it)")
    p.add_argument("--timeout", type=float, default=60.0, help="give up waiting after this many seconds")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)
