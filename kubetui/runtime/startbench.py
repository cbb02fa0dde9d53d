"""How long a container takes to start on this node, from an image or on the node's root filesystem.

What ``kubetui bench containers`` runs inside a node (``python3 -m kubetui.runtime.startbench``):
an isolated runtime of its own (its own bridge, pod range, netns prefix and cgroup parent,
all removed afterwards) creates and starts ``--runs`` containers of ``busybox`` running
``sleep``, once with the node's images (each container gets its own overlay root filesystem,
``pivot_root``, ``/dev``, ...) and once without them (the built-in program on the node's own
root filesystem, what every container did before images), and times each from
``CreateContainer`` until the command runs. Prints JSON. Standard library only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import sys
import time

from kubetui.runtime import cri
from kubetui.runtime.imagestore import BUILTIN_ROOT


async def _command_runs(rt, cid: str, name: str) -> None:
    """Wait until the container's PID 1 is ``name`` (the node-root path returns from start earlier)."""
    for _ in range(4000):
        pid = rt._init_pid(rt._containers[cid])
        if pid:
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().strip() == name:
                        return
            except OSError:
                pass
        await asyncio.sleep(0.0005)


async def measure(mode: str, runs: int, subnet: int) -> list[float]:
    from kubetui.runtime.isolated import IsolatedRuntime
    tag = secrets.token_hex(2)
    rt = IsolatedRuntime(f"/var/lib/kubelet/startbench-{tag}/runtime", node_name="startbench",
                         pod_cidr=f"10.250.{subnet}.0/24", bridge=f"sbbr{tag}", netns_prefix=f"sb{tag}-",
                         cgroup_parent=f"startbench-{tag}",
                         builtin_images_root=BUILTIN_ROOT if mode == "image" else None)
    await rt.start()
    times = []
    try:
        sb = await rt.run_pod_sandbox(cri.PodSandboxConfig(name="startbench", namespace="default", uid=tag))
        for i in range(runs):
            t = time.perf_counter()
            cid = await rt.create_container(sb.id, cri.ContainerConfig(name=f"c{i}", image="busybox",
                                                                        command=["sleep", "600"]))
            await rt.start_container(cid)
            await _command_runs(rt, cid, "sleep")
            times.append((time.perf_counter() - t) * 1000)
    finally:
        for s in rt.list_pod_sandboxes():
            await rt.remove_pod_sandbox(s.id)
        await rt.close()
        rt.cleanup_leftovers()
        rt.teardown_node_network()
        import shutil
        shutil.rmtree(f"/var/lib/kubelet/startbench-{tag}", ignore_errors=True)
    return times


def summary(times: list[float]) -> dict:
    s = sorted(times)
    return {"p50": round(statistics.median(s), 1), "p90": round(s[int(0.9 * (len(s) - 1))], 1),
            "max": round(s[-1], 1), "runs": len(s)}


async def main_async(runs: int) -> dict:
    out = {}
    # alternate the two, twice each, so a burst of load on the machine hits both alike
    samples: dict[str, list[float]] = {"image": [], "nodeRoot": []}
    for rnd in range(2):
        for i, mode in enumerate(("image", "nodeRoot")):
            samples[mode] += await measure("image" if mode == "image" else "node", runs // 2 or 1, 2 * rnd + i + 1)
    for mode, times in samples.items():
        out[mode] = summary(times)
    out["addedP50Ms"] = round(out["image"]["p50"] - out["nodeRoot"]["p50"], 1)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m kubetui.runtime.startbench")
    p.add_argument("--runs", type=int, default=40)
    a = p.parse_args(argv)
    json.dump(asyncio.run(main_async(a.runs)), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
