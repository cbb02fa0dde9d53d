"""``kubetui bench service --soak``: many requests to a Service *by name*, from several pods, on a busy machine.

What a user's client does on every request: resolve ``web`` through the
pod's resolv.conf (the cluster DNS behind the ``kube-dns`` Service, itself a
DNAT'd ClusterIP), open a new TCP connection to the ``web`` ClusterIP
(kube-proxy's DNAT to one of the pods) and read the answer. Upstream's
equivalent is the network SLO "in-cluster DNS lookups and requests to a
Service succeed" soaked in perf-tests.

Several client pods (``--clients``, at least 4) run at once, while a bounded
CPU burner (``--burn`` processes spinning for at most the soak's length)
keeps the machine busy, since failures that show "now and then" show under
load. Every failure is classified (DNS, connect timeout, refused, reset,
read timeout) with when it happened, and slow successes are counted: a lost
DNS packet costs a 5 s resolver retry, a lost SYN a 1 s retransmission.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Any, Iterator

log = logging.getLogger(__name__)

# Runs in each client pod (standard library only); prints one JSON line.
SOAK_CLIENT = r'''
import collections, concurrent.futures, json, socket, sys, threading, time, urllib.error, urllib.request
cfg = json.loads(sys.argv[1])
_gai, dns_ms, lock = socket.getaddrinfo, [], threading.Lock()
def timed_gai(*a, **k):
    t = time.perf_counter()
    try:
        return _gai(*a, **k)
    finally:
        with lock:
            dns_ms.append((time.perf_counter() - t) * 1000)
socket.getaddrinfo = timed_gai
def kind(e):
    r = getattr(e, "reason", None) if isinstance(e, urllib.error.URLError) else None
    if isinstance(r, socket.gaierror): return "dns: " + str(r)
    if isinstance(r, (socket.timeout, TimeoutError)): return "connect timeout"
    if r is not None: return "connect: " + type(r).__name__ + ": " + str(r)
    if isinstance(e, (socket.timeout, TimeoutError)): return "read timeout"
    return type(e).__name__ + ": " + str(e)[:80]
deadline = time.monotonic() + 60
while True:
    try:
        urllib.request.urlopen(cfg["url"], timeout=cfg["timeout"]).read(); break
    except OSError:
        if time.monotonic() > deadline: raise
        time.sleep(0.2)
dns_ms.clear()
t0 = time.monotonic()
def one(i):
    t = time.monotonic()
    try:
        with urllib.request.urlopen(cfg["url"], timeout=cfg["timeout"]) as r:
            body = r.read(256).decode(errors="replace")
        who = next((w[4:] for w in body.split() if w.startswith("pod=")), "?")
        return who, None, (time.monotonic() - t) * 1000, t - t0
    except Exception as e:
        return None, kind(e), (time.monotonic() - t) * 1000, t - t0
with concurrent.futures.ThreadPoolExecutor(cfg["c"]) as pool:
    results = list(pool.map(one, range(cfg["n"])))
took = time.monotonic() - t0
ok = sorted(ms for who, err, ms, _ in results if err is None)
print(json.dumps({
    "requests": len(results), "seconds": round(took, 2),
    "pods": collections.Counter(who for who, err, _, _ in results if err is None),
    "errors": collections.Counter(err for _, err, _, _ in results if err is not None),
    "errorSamples": [[round(at, 2), err, round(ms)] for _, err, ms, at in results if err is not None][:20],
    "okMs": ok, "dnsMs": sorted(dns_ms)}), flush=True)
'''


@contextmanager
def cpu_burner(processes: int, seconds: float) -> Iterator[list[subprocess.Popen]]:
    """``processes`` busy loops on this machine, each stopping by itself after ``seconds`` (and killed on exit)."""
    code = f"import time\nend = time.monotonic() + {float(seconds)}\nwhile time.monotonic() < end:\n    pass\n"
    procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(max(0, processes))]
    try:
        yield procs
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()


def _client_pod(name: str, cfg: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "soak-client"}},
            "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0, "containers": [{
                "name": "client", "image": "busybox", "command": ["python3", "-c", SOAK_CLIENT, json.dumps(cfg)]}]}}


async def soak(cp, args: argparse.Namespace, api_get) -> dict[str, Any]:
    """Run the client pods under a CPU burner; returns the merged figures."""
    from kubetui.bench.service import _until

    clients = max(1, args.clients)
    per = -(-args.soak // clients)
    cfg = {"url": args.url, "n": per, "c": args.concurrency, "timeout": args.request_timeout}
    names = [f"soak-client-{i}" for i in range(clients)]
    burn_for = args.timeout
    with cpu_burner(args.burn, burn_for):
        t = time.monotonic()
        for name in names:
            await cp.client.create("pods", _client_pod(name, cfg), "default")

        async def finished():
            phases = []
            for name in names:
                pod = await cp.client.get("pods", name, "default")
                phases.append((pod.get("status") or {}).get("phase"))
            return phases if all(p in ("Succeeded", "Failed") for p in phases) else None
        await _until("the soak clients to finish", finished, args.timeout, 0.5)
        wall = time.monotonic() - t
    runs = []
    for name in names:
        logs = await asyncio.to_thread(api_get, cp, f"/api/v1/namespaces/default/pods/{name}/log")
        try:
            runs.append(json.loads(logs.strip().splitlines()[-1]))
        except (ValueError, IndexError):
            raise RuntimeError(f"{name} printed no result: {logs[-2000:]}") from None
    return merge(runs, clients=clients, concurrency=args.concurrency, burn=args.burn, wall=wall,
                 timeout=args.request_timeout, url=args.url)


def merge(runs: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """The client pods' results as one figure set (pure, tested)."""
    from kubetui.bench.nodes import percentile

    pods: dict[str, int] = {}
    errors: dict[str, int] = {}
    samples: list[list[Any]] = []
    ok: list[float] = []
    dns: list[float] = []
    for r in runs:
        for k, v in r["pods"].items():
            pods[k] = pods.get(k, 0) + v
        for k, v in r["errors"].items():
            errors[k] = errors.get(k, 0) + v
        samples += r["errorSamples"]
        ok += r["okMs"]
        dns += r["dnsMs"]
    requests = sum(r["requests"] for r in runs)
    failures = sum(errors.values())

    def pct(values: list[float], p: float) -> float | None:
        v = percentile(values, p)
        return round(v, 2) if v is not None else None
    return {"benchmark": "service-soak", **extra, "requests": requests, "failures": failures,
            "errors": errors, "errorSamples": sorted(samples)[:20], "pods": dict(sorted(pods.items())),
            "requestsPerSecond": round(requests / max(extra.get("wall") or 1e-9, 1e-9), 1),
            "latencyMs": {"p50": pct(ok, 50), "p99": pct(ok, 99), "p999": pct(ok, 99.9),
                          "max": round(max(ok), 1) if ok else None,
                          "over1s": sum(1 for v in ok if v > 1000)},
            "dnsMs": {"lookups": len(dns), "p50": pct(dns, 50), "p99": pct(dns, 99), "p999": pct(dns, 99.9),
                      "max": round(max(dns), 1) if dns else None, "over1s": sum(1 for v in dns if v > 1000)},
            "loadAverage": [round(x, 2) for x in os.getloadavg()]}


def print_soak(r: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"{r['requests']:,} requests to {r['url']} by name: {r['clients']} client pods × "
                    f"{r['concurrency']} at once, {r['burn']} CPU burners")
    t.add_column("measure")
    t.add_column("value", justify="right")
    ok = "✔" if r["failures"] == 0 else "✘"
    t.add_row("failed requests", f"{r['failures']} {ok}")
    for k, v in sorted(r["errors"].items()):
        t.add_row(f"  {k}", str(v))
    t.add_row("requests/s (all clients)", f"{r['requestsPerSecond']:.0f}")
    lat, dns = r["latencyMs"], r["dnsMs"]
    t.add_row("request p50 / p99 / p99.9 / max", f"{lat['p50']} / {lat['p99']} / {lat['p999']} / {lat['max']} ms")
    t.add_row("requests slower than 1 s", str(lat["over1s"]))
    t.add_row(f"DNS lookups ({dns['lookups']:,}) p50 / p99 / p99.9 / max",
              f"{dns['p50']} / {dns['p99']} / {dns['p999']} / {dns['max']} ms")
    t.add_row("DNS lookups slower than 1 s", str(dns["over1s"]))
    t.add_row("answered by", ", ".join(f"{k} {v}" for k, v in r["pods"].items()))
    t.add_row("load average at the end", " ".join(str(x) for x in r["loadAverage"]))
    Console().print(t)
