"""``kubetui bench images``: how fast ``kubetui image load`` copies an image into every node.

kind's ``kind load docker-image`` is the reference: ``docker save`` once,
then into each node's image store. The target (issue 15) is a 50 MB image
into 3 nodes in at most 5 s. The image is ``imghost/bench:50mb``, one
incompressible 50 MB file ``FROM scratch``, built on first use. By default
the benchmark brings up a fresh Docker cluster, loads the image ``--runs``
times (each run into a store that does not hold it yet: the image is removed
from every node first) and removes the cluster; ``--cluster NAME`` uses a
running one instead. It prints the median and each run, and the machine's
load average (the figure depends on it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_SECONDS = 5.0


def _load_runs(cluster: str, megabytes: int, runs: int) -> dict[str, Any]:
    from kubetui.providers.docker import docker_client
    from kubetui.providers.docker.examples import build_bench_image
    from kubetui.providers.docker.images import IMAGESTORE, DockerEngine, DockerNodes, load_images
    client = docker_client()
    try:
        tag = build_bench_image(client, megabytes)
        transport = DockerNodes(client, cluster)
        nodes = transport.nodes()
        if not nodes:
            raise RuntimeError(f"cluster {cluster!r} has no running nodes")
        out = []
        for _ in range(runs):
            for n in nodes:
                transport.run(n, [*IMAGESTORE, "rm", tag])       # absent before each run (ignore "not found")
            t = time.perf_counter()
            result = load_images(DockerEngine(client), transport, [tag], nodes)
            total = time.perf_counter() - t
            if not result.ok:
                raise RuntimeError("; ".join(f"{n.node}: {n.error}" for n in result.nodes if n.error))
            out.append({"seconds": round(total, 3), "saveSeconds": round(result.save_seconds, 3),
                        "perNodeSeconds": {n.node: round(n.seconds, 3) for n in result.nodes},
                        "bytes": result.bytes})
        return {"image": tag, "nodes": nodes, "runs": out}
    finally:
        client.close()


async def bench_images(args: argparse.Namespace) -> dict[str, Any]:
    state = None
    settings = None
    name = args.cluster
    if not name:
        from kubetui.bench.nodes import _delete, _settings, _up
        name = f"benchimghost{secrets.token_hex(2)}"
        state = Path(tempfile.mkdtemp(prefix="kubetui-bench-images-"))
        settings = _settings(args, name)
    try:
        if settings is not None:
            cluster, _ = await _up(settings, state)
        r = await asyncio.to_thread(_load_runs, name, args.megabytes, args.runs)
        if settings is not None:
            await cluster.stop()
    finally:
        if settings is not None:
            await _delete(settings, state)
            shutil.rmtree(state, ignore_errors=True)
    secs = [x["seconds"] for x in r["runs"]]
    return {"benchmark": "images", **r, "medianSeconds": round(statistics.median(secs), 3),
            "loadAverage": [round(x, 2) for x in os.getloadavg()],
            "target": {"seconds": TARGET_SECONDS, "megabytes": 50, "nodes": 3}}


def run_images(args: argparse.Namespace) -> int:
    r = asyncio.run(bench_images(args))
    if args.json:
        print(json.dumps(r, indent=1))
        return 0
    print(f"kubetui image load of {r['image']} ({r['runs'][0]['bytes'] / 1e6:.1f} MB saved) "
          f"into {len(r['nodes'])} nodes: median {r['medianSeconds']:.2f} s "
          f"(target <= {TARGET_SECONDS:.0f} s for 50 MB into 3 nodes)")
    for i, run in enumerate(r["runs"], 1):
        per = ", ".join(f"{n} {s:.2f}s" for n, s in run["perNodeSeconds"].items())
        print(f"  run {i}: {run['seconds']:.2f} s (docker save {run['saveSeconds']:.2f} s; per node: {per})")
    print(f"  load average: {' '.join(str(x) for x in r['loadAverage'])}")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("images", help="kubetui image load: a 50 MB image into every node (target <= 5 s)",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--cluster", metavar="NAME", help="a running Docker cluster (default: a fresh one, removed after)")
    p.add_argument("--nodes", type=int, default=3, help="nodes of the fresh cluster (default: %(default)s)")
    p.add_argument("--node-cpus", type=float, default=2.0)
    p.add_argument("--node-memory", default="2Gi")
    p.add_argument("--megabytes", type=int, default=50, help="image size (default: %(default)s)")
    p.add_argument("--runs", type=int, default=3, help="loads to time (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.set_defaults(func=run_images)
