"""``kubetui bench store``: acknowledged, durable writes per second.

etcd's own benchmark (``etcd/tools/benchmark put``) measures the same thing:
how many writes per second are *acknowledged*, i.e. fsync'd to the write-ahead
log. With one writer each write waits for its own fsync before the next one
starts, so the rate is bounded by fsync latency (measured here first, raw).
With many concurrent writers, group commit puts every waiting write into one
append and one fsync, so the rate is bounded by CPU instead.

The store holds ``--objects`` pod-sized objects (about 2 KB of JSON each)
before timing starts, in a temporary directory. Targets: 1 writer >= 600/s,
64 writers >= 5,000/s. The benchmark reports; it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kubetui.store import Store

TARGETS = {1: 600, 64: 5000}


def pod(i: int) -> dict[str, Any]:
    """A Pod as a ReplicaSet makes it, scheduled and running: about 2 KB of JSON."""
    name = f"web-7d4b9c8f6d-{i:05d}"
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "namespace": "default", "uid": f"5f0c9d2e-1b7a-4c3e-9a8f-{i:012d}",
            "generateName": "web-7d4b9c8f6d-", "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {"app": "web", "pod-template-hash": "7d4b9c8f6d", "tier": "frontend"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4b9c8f6d",
                                 "uid": "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0", "controller": True,
                                 "blockOwnerDeletion": True}],
        },
        "spec": {
            "containers": [{
                "name": "web", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent",
                "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}],
                "env": [{"name": f"SETTING_{k}", "value": f"value-{k}-of-a-realistic-length"} for k in range(3)],
                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                              "limits": {"cpu": "500m", "memory": "128Mi"}},
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": 80}, "periodSeconds": 5},
                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
            }],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default", "nodeName": f"node-{i % 3 + 1}", "schedulerName": "default-scheduler",
            "tolerations": [{"key": f"node.kubernetes.io/{t}", "operator": "Exists", "effect": "NoExecute",
                             "tolerationSeconds": 300} for t in ("not-ready", "unreachable")],
        },
        "status": {
            "phase": "Running", "hostIP": "172.18.0.3", "podIP": f"10.244.{i % 250}.{i % 200 + 2}",
            "startTime": "2026-01-01T00:00:01Z", "qosClass": "Burstable",
            "conditions": [{"type": t, "status": "True", "lastProbeTime": None,
                            "lastTransitionTime": "2026-01-01T00:00:02Z"}
                           for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
            "containerStatuses": [{"name": "web", "ready": True, "restartCount": 0, "started": True,
                                   "image": "docker.io/library/nginx:1.27", "containerID": "kubetui://" + "a" * 64,
                                   "state": {"running": {"startedAt": "2026-01-01T00:00:02Z"}}}],
        },
    }


def key(i: int) -> str:
    return f"/registry/pods/default/web-7d4b9c8f6d-{i:05d}"


def measure_fsync(directory: Path, n: int, size: int) -> dict[str, float]:
    """Raw cost of append + fdatasync of one ``size``-byte record, as the log does it."""
    path = directory / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    data = b"x" * (size - 1) + b"\n"
    times = []
    try:
        for _ in range(n):
            t = time.perf_counter()
            os.write(fd, data)
            os.fdatasync(fd)
            times.append(time.perf_counter() - t)
    finally:
        os.close(fd)
        path.unlink()
    return {"fsync_ms_p50": statistics.median(times) * 1e3,
            "fsync_ms_p99": sorted(times)[int(len(times) * 0.99) - 1] * 1e3,
            "fsyncs_per_s": n / sum(times)}


async def preload(store: Store, objects: int) -> None:
    sem = asyncio.Semaphore(256)

    async def one(i: int) -> None:
        async with sem:
            await store.create(key(i), pod(i))

    await asyncio.gather(*(one(i) for i in range(objects)))


async def storm(store: Store, writers: int, writes: int, objects: int) -> dict[str, Any]:
    """``writers`` tasks update existing pods, each awaiting its ack before the next write."""
    latencies: list[float] = []
    per_writer = max(1, writes // writers)
    before = {k: store.stats.get(k, 0) for k in ("wal_appends", "checkpoints")}

    async def writer(w: int) -> None:
        for n in range(per_writer):
            i = (w * per_writer + n) % objects
            value = pod(i)
            value["metadata"]["annotations"] = {"bench/write": str(n)}
            t = time.perf_counter()
            await store.update(key(i), value)
            latencies.append(time.perf_counter() - t)

    t0 = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    elapsed = time.perf_counter() - t0
    total = per_writer * writers
    appends = store.stats.get("wal_appends", 0) - before["wal_appends"]
    latencies.sort()
    return {
        "writers": writers, "writes": total, "seconds": round(elapsed, 3),
        "writes_per_s": round(total / elapsed, 1),
        "latency_ms_p50": round(latencies[len(latencies) // 2] * 1e3, 3),
        "latency_ms_p99": round(latencies[int(len(latencies) * 0.99) - 1] * 1e3, 3),
        "fsyncs": appends, "writes_per_fsync": round(total / appends, 1) if appends else None,
        "checkpoints": store.stats.get("checkpoints", 0) - before["checkpoints"],
        "target_per_s": TARGETS.get(writers),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Measure and return the figures (see the module docstring)."""
    objects = args.objects
    base = Path(args.dir) if args.dir else None
    with tempfile.TemporaryDirectory(prefix="kubetui-bench-store-", dir=base) as tmp:
        directory = Path(tmp)
        value_bytes = len(json.dumps(pod(0), separators=(",", ":")))
        result: dict[str, Any] = {
            "objects": objects, "value_bytes": value_bytes, "directory": str(directory),
            **{k: round(v, 3) for k, v in measure_fsync(directory, args.fsync_probes, value_bytes).items()},
            "runs": [],
        }
        store = Store(directory / "store")
        await store.open()
        try:
            t = time.perf_counter()
            await preload(store, objects)
            await store.checkpoint()
            result["preload_seconds"] = round(time.perf_counter() - t, 2)
            result["runs"].append({"mode": "durable", **await storm(store, 1, args.single_writes, objects)})
            result["runs"].append({"mode": "durable", **await storm(store, 64, args.concurrent_writes, objects)})
        finally:
            t = time.perf_counter()
            await store.close()
            result["close_seconds"] = round(time.perf_counter() - t, 2)
        state = directory / "store" / "state.json"
        result["checkpoint_mb"] = round(state.stat().st_size / 1e6, 1)
        t = time.perf_counter()
        reopened = Store(directory / "store", read_only=True)
        await reopened.open()
        result["reopen_seconds"] = round(time.perf_counter() - t, 2)
        await reopened.close()
        if args.store == "etcd":
            result["runs"] += await run_etcd(args, directory)
    result["loadavg_1m"] = round(os.getloadavg()[0], 2)
    memory = Store(None)
    await memory.open()
    await preload(memory, objects)
    result["runs"].append({"mode": "in-memory", **await storm(memory, 64, args.concurrent_writes, objects)})
    await memory.close()
    return result


#: etcd's own benchmark (etcd.io "Performance"): 1 client, sequential puts, its reference hardware
ETCD_PUBLISHED_1_CLIENT = 583


async def run_etcd(args: argparse.Namespace, directory: Path) -> list[dict[str, Any]]:
    """The same storms against a real etcd member (TLS, as ``kubetui up --store etcd`` runs it)."""
    from kubetui.apiserver.certs import ensure_pki
    from kubetui.apiserver.etcdcerts import ensure_etcd_certs
    from kubetui.netutil import free_port
    from kubetui.store.etcd import EtcdStore
    from kubetui.store.etcdserver import EtcdServer
    tls = ensure_etcd_certs(ensure_pki(directory, "bench"))
    server = EtcdServer(directory / "etcd", free_port(), free_port(), directory / "etcd.log", tls=tls)
    await asyncio.to_thread(server.start)
    store = EtcdStore(server.endpoint, ssl_context=tls.client_context())
    runs = []
    try:
        await store.open()
        await preload(store, args.objects)
        for writers, writes in ((1, args.single_writes), (64, args.concurrent_writes)):
            r = {"mode": "etcd", **await storm(store, writers, writes, args.objects)}
            r["fsyncs"] = r["writes_per_fsync"] = None  # etcd batches its own WAL fsyncs
            if writers == 1:
                r["vs_etcd_published"] = round(r["writes_per_s"] / ETCD_PUBLISHED_1_CLIENT, 2)
            runs.append(r)
    finally:
        await store.close()
        await asyncio.to_thread(server.stop)
    return runs


def print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"kubetui store: acknowledged writes/s ({result['objects']:,} objects of "
                        f"{result['value_bytes']:,} B present)")
    for col in ("mode", "writers", "writes/s", "target", "p50 ms", "p99 ms", "per fsync", "ckpts"):
        table.add_column(col, justify="left" if col == "mode" else "right", no_wrap=True)
    for r in result["runs"]:
        target = r["target_per_s"] if r["mode"] == "durable" else None
        if "vs_etcd_published" in r:
            target = None
        ok = "" if target is None or r["mode"] != "durable" else (
            " [green]met[/]" if r["writes_per_s"] >= target else " [red]missed[/]")
        table.add_row(r["mode"], str(r["writers"]), f"{r['writes_per_s']:,.0f}",
                      (f"{target:,}" if target else "-") + ok,
                      f"{r['latency_ms_p50']:.2f}", f"{r['latency_ms_p99']:.2f}",
                      str(r["writes_per_fsync"] or "-"), str(r["checkpoints"]))
    console = Console()
    console.print(table)
    console.print(f"raw append+fdatasync of one record here: p50 {result['fsync_ms_p50']:.3f} ms, "
                  f"p99 {result['fsync_ms_p99']:.3f} ms ({result['fsyncs_per_s']:,.0f}/s): "
                  "the ceiling for one writer that waits for each ack.")
    for r in result["runs"]:
        if "vs_etcd_published" in r:
            console.print(f"etcd, 1 writer: {r['writes_per_s']:,.0f} writes/s = {r['vs_etcd_published']}x etcd's "
                          f"published ~{ETCD_PUBLISHED_1_CLIENT}/s for 1 client on its reference hardware.")
    console.print(f"load average (1 min) after the runs: {result['loadavg_1m']}")
    console.print(f"preload {result['preload_seconds']} s, checkpoint file {result['checkpoint_mb']} MB, "
                  f"close {result['close_seconds']} s, read-only reopen {result['reopen_seconds']} s.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--objects", type=int, default=10_000, help="objects present (default: %(default)s)")
    p.add_argument("--single-writes", type=int, default=3_000,
                   help="writes timed with 1 writer (default: %(default)s)")
    p.add_argument("--concurrent-writes", type=int, default=25_600,
                   help="writes timed with 64 writers (default: %(default)s)")
    p.add_argument("--fsync-probes", type=int, default=500, help="raw fsyncs timed (default: %(default)s)")
    p.add_argument("--dir", metavar="DIR", help="where to make the temporary store (default: the system's)")
    p.add_argument("--store", choices=("tinydb", "etcd"), default="tinydb",
                   help="etcd: also run the storms against a real etcd member, beside TinyDB's (needs kubetui[ha])")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _cmd(args: argparse.Namespace) -> int:
    result = asyncio.run(run(args))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    return 0


def register(subparsers: Any) -> None:
    """Add ``kubetui bench store``."""
    p = subparsers.add_parser("store", help="durable writes/s of the store (1 and 64 writers)",
                              description=__doc__.split("\n\n")[1])
    add_arguments(p)
    p.set_defaults(func=_cmd)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m kubetui.bench.store")
    add_arguments(parser)
    sys.exit(_cmd(parser.parse_args()))
