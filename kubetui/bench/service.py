"""``kubetui bench service``: what a Service costs on Docker nodes (kube-proxy's iptables mode and the cluster DNS).

Upstream measures the same with its network SLIs (``perf-tests``' network
programming latency: "time from a change of a Service's endpoints to the
change being programmed on every node", and in-cluster DNS latency):

- **throughput through a ClusterIP vs straight to the pods**: one client pod
  sends rounds of HTTP requests (a new TCP connection each, as ``urllib``
  does) alternately to the Service's ClusterIP and round-robin to the same
  pods' IPs, in the same run; the ratio of the median rates shows what the
  DNAT costs (target ≥ 0.9);
- **endpoint propagation**: pods are added to the Service; for each, the time
  from the API server seeing it Ready to every node's kube-proxy having
  written its KUBE-SEP chain (its ``/traffic`` lists the endpoint), p50/p99
  (target p99 ≤ 300 ms);
- **NetworkPolicy propagation**: a policy is changed ``--policy-changes``
  times; for each, the time from the write's response to every node's
  policy agent having enforced that version (``kubetui.bench.netpol``),
  p50/p99 (target p99 ≤ 300 ms);
- **DNS lookup latency** from the client pod (``getaddrinfo`` of the Service's
  full name through the pod's resolv.conf), p50/p99.

The control plane runs in this process; every container, network and volume
it creates is removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import shutil
import ssl
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from kubetui.bench.nodes import _delete, _ensure_image, _settings, _up, percentile
from kubetui.cmdutil import CLIError

log = logging.getLogger(__name__)

TARGET_RATIO = 0.9
TARGET_PROPAGATION_P99_MS = 300.0
TARGET_POLICY_P99_MS = 300.0

# Runs in the client pod (standard library only): alternating rounds, then DNS lookups; one JSON line.
CLIENT_SCRIPT = r'''
import concurrent.futures, json, socket, sys, time, urllib.request
cfg = json.loads(sys.argv[1])
def fetch(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        r.read()
def round_(urls, n, c):
    t = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(c) as pool:
        list(pool.map(lambda i: fetch(urls[i % len(urls)]), range(n)))
    return n / (time.perf_counter() - t)
service, direct = [cfg["service"]], cfg["direct"]
deadline = time.monotonic() + 30
while True:
    try:
        fetch(service[0]); break
    except OSError:
        if time.monotonic() > deadline: raise
        time.sleep(0.2)
round_(service + direct, 100, cfg["c"])          # warm up both paths
rates = {"service": [], "direct": []}
for _ in range(cfg["rounds"]):
    rates["service"].append(round_(service, cfg["n"], cfg["c"]))
    rates["direct"].append(round_(direct, cfg["n"], cfg["c"]))
dns = []
for _ in range(cfg["lookups"]):
    t = time.perf_counter()
    socket.getaddrinfo(cfg["name"], 8080, socket.AF_INET, socket.SOCK_STREAM)
    dns.append((time.perf_counter() - t) * 1000)
print(json.dumps({"rates": rates, "dnsMs": dns}), flush=True)
'''


def _web(replicas: int) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{
                                      "name": "hello", "image": "kubetui/hello:1",
                                      "ports": [{"containerPort": 8080}],
                                      "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080},
                                                         "periodSeconds": 1}}]}}}}


def _ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


async def _until(what: str, probe, timeout: float, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = await probe()
        if got:
            return got
        await asyncio.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


async def _ready_web(client, n: int) -> list[dict] | None:
    pods = (await client.list("pods", "default", label_selector="app=web"))["items"]
    ready = [p for p in pods if _ready(p) and not p["metadata"].get("deletionTimestamp")]
    return ready if len(ready) >= n else None


async def _proxy_endpoints(address: str) -> set[str]:
    from kubetui.cluster import _fetch_traffic
    doc = await _fetch_traffic(address, timeout=2.0)
    return set((doc.get("services") or {}).get("default/web", {}))


async def _poll_endpoints(node: str, programmed: dict[str, dict[str, float]], stop: asyncio.Event) -> None:
    """Note when each endpoint first shows in ``node``'s kube-proxy ``/traffic``, until ``stop``."""
    while not stop.is_set():
        now = time.monotonic()
        for ep in await _proxy_endpoints(node):
            programmed.setdefault(ep, {}).setdefault(node, now)
        await asyncio.sleep(0.01)


async def _stop(tasks: list[asyncio.Task], stop: asyncio.Event, timeout: float = 5.0) -> None:
    """End the pollers: set ``stop``, cancel, and wait (bounded). Cancelling alone is not enough on
    Python 3.11, whose ``asyncio.wait_for`` can swallow a cancellation that arrives as the awaited
    call completes: a ``while True`` poller then never ends, and gathering it hung the bench."""
    stop.set()
    for t in tasks:
        t.cancel()
    await asyncio.wait(tasks, timeout=timeout)


async def _propagation(cp, nodes: list[str], add: int, batch: int) -> list[float]:
    """Seconds from Ready (as a watch on the API server sees it) to the endpoint on every node."""
    client = cp.client
    ready_at: dict[str, float] = {}       # pod IP -> monotonic time the watch saw it Ready
    programmed: dict[str, dict[str, float]] = {}

    async def watch() -> None:
        w = client.watch("pods", "default", label_selector="app=web")
        if hasattr(w, "start"):
            await w.start()
        async for ev in w:
            pod = ev.object
            ip = (pod.get("status") or {}).get("podIP")
            if ip and _ready(pod) and f"{ip}:8080" not in ready_at:
                ready_at[f"{ip}:8080"] = time.monotonic()

    stop = asyncio.Event()
    before = {f"{p['status']['podIP']}:8080" for p in await _ready_web(client, 1) or []}
    tasks = [asyncio.create_task(watch())] + [asyncio.create_task(_poll_endpoints(n, programmed, stop))
                                              for n in nodes]
    try:
        replicas = len(before)
        for _ in range(max(1, add // batch)):
            replicas += batch
            await client.patch("deployments", "web", {"spec": {"replicas": replicas}}, "default")
            await _until(f"{replicas} ready pods", lambda r=replicas: _ready_web(client, r), 120)
            new = lambda: [ep for ep in ready_at if ep not in before]   # noqa: E731
            await _until("every node's rules", lambda: asyncio.sleep(0, all(
                len(programmed.get(ep, {})) == len(nodes) for ep in new())), 30, 0.02)
    finally:
        await _stop(tasks, stop)
    # a rule written before the watch delivered Ready counts as 0 (the proxy was faster than our watch)
    return [max(0.0, max(programmed[ep].values()) - ready_at[ep]) for ep in ready_at if ep not in before]


def _api_get(cp, path: str) -> str:
    ctx = ssl.create_default_context(cadata=cp.pki.ca_pem().decode())
    req = urllib.request.Request(cp.apiserver.url + path,
                                 headers={"Authorization": f"Bearer {cp.authenticator.admin_token()}"})
    with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
        return r.read().decode()


async def _client_run(cp, cluster_ip: str, pod_ips: list[str], args: argparse.Namespace) -> dict[str, Any]:
    cfg = {"service": f"http://{cluster_ip}:8080/", "direct": [f"http://{ip}:8080/" for ip in pod_ips],
           "n": args.requests, "c": args.concurrency, "rounds": args.rounds, "lookups": args.lookups,
           "name": "web.default.svc.cluster.local"}
    await cp.client.create("pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bench-client"},
        "spec": {"restartPolicy": "Never", "containers": [{
            "name": "client", "image": "busybox", "command": ["python3", "-c", CLIENT_SCRIPT, json.dumps(cfg)]}]}},
        "default")

    async def done():
        pod = await cp.client.get("pods", "bench-client", "default")
        phase = (pod.get("status") or {}).get("phase")
        return phase if phase in ("Succeeded", "Failed") else None
    phase = await _until("the client pod to finish", done, args.timeout, 0.5)
    logs = await asyncio.to_thread(_api_get, cp, "/api/v1/namespaces/default/pods/bench-client/log")
    if phase != "Succeeded":
        raise RuntimeError(f"the client pod failed: {logs[-2000:]}")
    return json.loads(logs.strip().splitlines()[-1])


async def bench_service(args: argparse.Namespace) -> dict[str, Any]:
    image = await asyncio.to_thread(_ensure_image)
    name = f"bench{secrets.token_hex(3)}"
    state = Path(tempfile.mkdtemp(prefix="kubetui-bench-service-"))
    settings = _settings(args, name)
    try:
        cluster, up = await _up(settings, state)
        cp = cluster.control_plane
        try:
            await cp.client.create("deployments", _web(args.replicas), "default")
            svc = await cp.client.create("services", {
                "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 8080, "targetPort": 8080}]}}, "default")
            log.info("cluster up in %.1f s; waiting for the web pods and the cluster DNS", up["totalSeconds"])
            pods = await _until("the web pods", lambda: _ready_web(cp.client, args.replicas), 120)
            await _until("the cluster DNS", lambda: _ready_dns(cp.client), 120)
            if args.soak:
                from kubetui.bench.service_soak import soak
                log.info("soak: %d requests to %s from %d client pods", args.soak, args.url, args.clients)
                return {**await soak(cp, args, _api_get), "nodes": args.nodes, "replicas": args.replicas}
            log.info("running the client pod (throughput rounds, DNS lookups)")
            run = await _client_run(cp, svc["spec"]["clusterIP"], [p["status"]["podIP"] for p in pods], args)
            nodes = [f"{a['address']}:10249" for n in (await cp.client.list("nodes"))["items"]
                     for a in n["status"]["addresses"] if a["type"] == "InternalIP"]
            from kubetui.bench.netpol import policy_propagation
            log.info("changing a NetworkPolicy %d times", args.policy_changes)
            policy = await policy_propagation(cp, [n.replace(":10249", ":9099") for n in nodes], args.policy_changes)
            log.info("adding %d pods for the propagation figure", args.add)
            prop = await _propagation(cp, nodes, args.add, args.batch)
        finally:
            await cluster.stop()
    finally:
        await _delete(settings, state)
        shutil.rmtree(state, ignore_errors=True)
    svc_rate, direct_rate = (statistics.median(run["rates"][k]) for k in ("service", "direct"))
    prop_ms = [s * 1000 for s in prop]
    policy_ms = [s * 1000 for s in policy]
    return {"benchmark": "service", "nodes": args.nodes, "image": image["image"], "clusterUpSeconds": up["totalSeconds"],
            "throughput": {"requestsPerRound": args.requests, "concurrency": args.concurrency, "rounds": args.rounds,
                           "serviceRps": round(svc_rate, 1), "directRps": round(direct_rate, 1),
                           "ratio": round(svc_rate / direct_rate, 3),
                           "serviceRoundsRps": [round(r, 1) for r in run["rates"]["service"]],
                           "directRoundsRps": [round(r, 1) for r in run["rates"]["direct"]]},
            "propagation": {"endpoints": len(prop_ms), "p50Ms": _r(percentile(prop_ms, 50)),
                            "p99Ms": _r(percentile(prop_ms, 99)), "maxMs": _r(max(prop_ms) if prop_ms else None)},
            "networkPolicy": {"changes": len(policy_ms), "p50Ms": _r(percentile(policy_ms, 50)),
                              "p99Ms": _r(percentile(policy_ms, 99)), "maxMs": _r(max(policy_ms) if policy_ms else None)},
            "loadAverage": [round(x, 2) for x in os.getloadavg()],
            "dns": {"lookups": len(run["dnsMs"]), "p50Ms": _r(percentile(run["dnsMs"], 50)),
                    "p99Ms": _r(percentile(run["dnsMs"], 99))},
            "target": {"ratio": TARGET_RATIO, "propagationP99Ms": TARGET_PROPAGATION_P99_MS,
                       "networkPolicyP99Ms": TARGET_POLICY_P99_MS}}


async def _ready_dns(client) -> bool:
    pods = (await client.list("pods", "kube-system", label_selector="k8s-app=kube-dns"))["items"]
    return any(_ready(p) for p in pods)


def _r(v: float | None) -> float | None:
    return round(v, 2) if v is not None else None


def print_service(r: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"Services on {r['nodes']} Docker nodes (kube-proxy iptables mode)")
    t.add_column("measure")
    t.add_column("value", justify="right")
    t.add_column("target", justify="right")
    th, pr, dns = r["throughput"], r["propagation"], r["dns"]
    ok = "✔" if th["ratio"] >= TARGET_RATIO else "✘"
    t.add_row("requests/s through the ClusterIP (median)", f"{th['serviceRps']:.0f}", "")
    t.add_row("requests/s straight to the pod IPs (median)", f"{th['directRps']:.0f}", "")
    t.add_row("ratio ClusterIP / direct", f"{th['ratio']:.3f}", f"≥ {TARGET_RATIO} {ok}")
    p99 = pr["p99Ms"]
    ok = "✔" if p99 is not None and p99 <= TARGET_PROPAGATION_P99_MS else "✘"
    t.add_row(f"endpoint Ready → rules on every node, p50 ({pr['endpoints']} endpoints)", f"{pr['p50Ms']} ms", "")
    t.add_row("endpoint Ready → rules on every node, p99", f"{p99} ms", f"≤ {TARGET_PROPAGATION_P99_MS:.0f} ms {ok}")
    np_ = r.get("networkPolicy")
    if np_:
        ok = "✔" if np_["p99Ms"] is not None and np_["p99Ms"] <= TARGET_POLICY_P99_MS else "✘"
        t.add_row(f"NetworkPolicy change → enforced on every node, p50 ({np_['changes']} changes)",
                  f"{np_['p50Ms']} ms", "")
        t.add_row("NetworkPolicy change → enforced on every node, p99", f"{np_['p99Ms']} ms",
                  f"≤ {TARGET_POLICY_P99_MS:.0f} ms {ok}")
    t.add_row(f"DNS lookup from a pod, p50 ({dns['lookups']} lookups)", f"{dns['p50Ms']} ms", "")
    t.add_row("DNS lookup from a pod, p99", f"{dns['p99Ms']} ms", "")
    Console().print(t)


def run_service(args: argparse.Namespace) -> int:
    from kubetui.providers.docker.image import ImageError
    try:
        r = asyncio.run(bench_service(args))
    except (ImageError, TimeoutError, RuntimeError) as e:
        raise CLIError(str(e)) from None
    if args.json:
        print(json.dumps(r, indent=2))
    elif args.soak:
        from kubetui.bench.service_soak import print_soak
        print_soak(r)
    else:
        print_service(r)
    return 1 if args.soak and r["failures"] else 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("service", help="Service throughput vs pod IPs, endpoint propagation, DNS latency",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--nodes", type=int, default=3, help="Docker nodes (default: %(default)s)")
    p.add_argument("--node-cpus", type=float, default=1.0, help="CPUs per node (default: %(default)s)")
    p.add_argument("--node-memory", default="1Gi", help="memory per node (default: %(default)s)")
    p.add_argument("--replicas", type=int, default=3, help="pods behind the Service (default: %(default)s)")
    p.add_argument("--requests", type=int, default=1000, help="requests per round (default: %(default)s)")
    p.add_argument("--concurrency", type=int, default=4, help="concurrent requests (default: %(default)s)")
    p.add_argument("--rounds", type=int, default=5, help="rounds per path, alternating (default: %(default)s)")
    p.add_argument("--lookups", type=int, default=500, help="DNS lookups (default: %(default)s)")
    p.add_argument("--add", type=int, default=12, help="pods added for the propagation figure (default: %(default)s)")
    p.add_argument("--batch", type=int, default=3, help="pods added per scale-up (default: %(default)s)")
    p.add_argument("--policy-changes", type=int, default=20,
                   help="NetworkPolicy changes for the policy-propagation figure (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=180.0, help="give up on the client after this many seconds")
    p.add_argument("--json", action="store_true", help="print JSON")
    soak = p.add_argument_group("soak (--soak N): N requests by name from several pods on a busy machine")
    soak.add_argument("--soak", type=int, default=0, metavar="N",
                      help="run the soak instead: N requests in all (exit status 1 if any fails)")
    soak.add_argument("--clients", type=int, default=4, help="client pods (default: %(default)s)")
    soak.add_argument("--url", default="http://web:8080/", help="what they request (default: %(default)s)")
    soak.add_argument("--request-timeout", type=float, default=2.0,
                      help="each request's socket timeout, seconds (default: %(default)s)")
    soak.add_argument("--burn", type=int, default=os.cpu_count() or 2,
                      help="CPU burner processes on this machine meanwhile (default: one per CPU, %(default)s)")
    p.set_defaults(func=run_service)
