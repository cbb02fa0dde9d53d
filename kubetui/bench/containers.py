"""``kubetui bench containers``: what a container's own root filesystem adds to its start.

Inside a node (``python3 -m kubetui.runtime.startbench``), containers of ``busybox`` are
created and started until their command runs, with the image (overlay root filesystem,
``pivot_root``, its own ``/dev``: what every pod gets now) and without (the node's root
filesystem, as before images). The target (issue 15): a container from a cached image adds at
most 50 ms p50. By default a fresh one-node Docker cluster is brought up and removed;
``--cluster NAME`` uses a running one. Prints both figures and the machine's load average.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

TARGET_ADDED_MS = 50.0


async def bench_containers(args: argparse.Namespace) -> dict[str, Any]:
    name, state, settings = args.cluster, None, None
    if not name:
        from kubetui.bench.nodes import _settings
        name = f"benchcontainers{secrets.token_hex(2)}"
        state = Path(tempfile.mkdtemp(prefix="kubetui-bench-containers-"))
        args.nodes = 1
        settings = _settings(args, name)
    try:
        if settings is not None:
            from kubetui.bench.nodes import _up
            cluster, _ = await _up(settings, state)
        from kubetui.providers.docker.nodespec import container_name
        node = args.node or "node-1"
        r = await asyncio.to_thread(
            subprocess.run, ["docker", "exec", container_name(name, node), "python3", "-m",
                             "kubetui.runtime.startbench", "--runs", str(args.runs)],
            capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise RuntimeError(f"startbench in {node}: {r.stderr.strip()[-500:]}")
        figures = json.loads(r.stdout)
        if settings is not None:
            await cluster.stop()
    finally:
        if settings is not None:
            from kubetui.bench.nodes import _delete
            await _delete(settings, state)
            shutil.rmtree(state, ignore_errors=True)
    return {"benchmark": "containers", "node": node, **figures,
            "loadAverage": [round(x, 2) for x in os.getloadavg()], "targetAddedP50Ms": TARGET_ADDED_MS}


def run_containers(args: argparse.Namespace) -> int:
    r = asyncio.run(bench_containers(args))
    if args.json:
        print(json.dumps(r, indent=1))
        return 0
    for key, what in (("image", "from the busybox image (own root filesystem)"),
                      ("nodeRoot", "on the node's root filesystem (before images)")):
        f = r[key]
        print(f"container start {what}: p50 {f['p50']:.1f} ms, p90 {f['p90']:.1f} ms, max {f['max']:.1f} ms "
              f"({f['runs']} runs)")
    print(f"the image adds {r['addedP50Ms']:.1f} ms p50 (target <= {TARGET_ADDED_MS:.0f} ms); "
          f"load average: {' '.join(str(x) for x in r['loadAverage'])}")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("containers", help="container start from a cached image vs the node's root "
                              "filesystem (target: adds <= 50 ms p50)", description=__doc__.split("\n\n")[0])
    p.add_argument("--cluster", metavar="NAME", help="a running Docker cluster (default: a fresh one, removed after)")
    p.add_argument("--node", help="the node to measure on (default: node-1)")
    p.add_argument("--node-cpus", type=float, default=2.0)
    p.add_argument("--node-memory", default="2Gi")
    p.add_argument("--runs", type=int, default=40, help="containers started per variant (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.set_defaults(func=run_containers)
