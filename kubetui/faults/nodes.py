"""Node faults: a node goes silent, dies, loses its network, or its kubelet stops.

In Kubernetes a node that stops renewing its Lease is marked ``Unknown`` by
the node lifecycle controller after ``--node-monitor-grace-period`` (40 s;
kubetui's lab timings: 4 s), tainted ``node.kubernetes.io/unreachable``, and its
pods are evicted when their toleration (300 s; lab: 5 s) runs out. These
faults cause exactly that, each the way it happens on real machines:

==============  ==============================  ===============================  ===========================
fault           Docker node                     local node (kubelet process)     simulated node (annotation)
==============  ==============================  ===============================  ===========================
node-pause      ``docker pause`` (frozen)       SIGSTOP the kubelet              ``kubetui.dev/fault=paused``
node-kill       ``docker kill`` / ``start``     SIGKILL kubelet + pods / restart ``kubetui.dev/fault=killed``
node-partition  disconnect from the network     (no network to cut: refused)     ``kubetui.dev/fault=paused``
kubelet-stop    freeze the kubelet in it [*]_   SIGSTOP the kubelet              ``kubetui.dev/fault=paused``
==============  ==============================  ===============================  ===========================

.. [*] ``python3 -m kubetui.agent freeze kubelet``: the kubelet's thread of the
   node agents' process stops as by SIGSTOP; kube-proxy, its other thread, and
   the pods keep running.

Docker nodes are found by label (``io.kubetui.cluster``, ``io.kubetui.node``),
local kubelets by ``<state>/nodes/<name>/kubelet.pid`` (and restarted from the
``argv`` saved in ``node.json``), so these work from any process. Simulated
nodes live inside the control plane's process, which watches their Node
objects: the fault annotates the Node through the API and the simulated
kubelet goes silent (``paused``) or dies (``killed``: when it comes back its
pods' containers have restarted); revert removes the annotation and it posts
Ready again at once (see ``kubetui.providers.simulated``). A frozen machine, a
stopped kubelet and a cut cable look the same from the control plane, so
those three share ``paused``. One fault per simulated node at a time.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from kubetui.api import errors
from kubetui.faults.base import Fault, FaultContext, FaultError, FaultRecord

_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])


async def node_names(ctx: FaultContext) -> list[str]:
    lst = await ctx.client.list("nodes")
    return sorted(n["metadata"]["name"] for n in lst.get("items") or [])


# --- per-provider mechanics -------------------------------------------------------------------------


async def _simulated_inject(ctx: FaultContext, fault: str, node: str, state: str) -> dict[str, Any]:
    """Annotate a simulated Node ``kubetui.dev/fault=<state>``; the provider watching it plays the fault."""
    from kubetui.providers.simulated import FAULT_ANNOTATION, SIMULATED_LABEL

    obj = await ctx.client.get("nodes", node)
    m = obj["metadata"]
    if (m.get("labels") or {}).get(SIMULATED_LABEL) != "true":
        raise FaultError(f"{fault}: node {node} is not a simulated node (no label {SIMULATED_LABEL}=true)")
    current = (m.get("annotations") or {}).get(FAULT_ANNOTATION)
    if current:
        raise FaultError(f"{fault}: node {node} is already {current} by another fault "
                         "(see `kubetui fault list`; revert that one first)")
    await ctx.client.patch("nodes", node, {"metadata": {"annotations": {FAULT_ANNOTATION: state}}})
    return {"annotation": state}


async def _simulated_revert(ctx: FaultContext, node: str, state: str) -> None:
    """Remove the annotation if it is still ours (another value means someone else set it: leave it)."""
    from kubetui.providers.simulated import FAULT_ANNOTATION

    try:
        obj = await ctx.client.get("nodes", node)
    except errors.NotFound:
        return              # the node is gone: nothing left to revert
    if (obj["metadata"].get("annotations") or {}).get(FAULT_ANNOTATION) == state:
        await ctx.client.patch("nodes", node, {"metadata": {"annotations": {FAULT_ANNOTATION: None}}})


def _docker_container(ctx: FaultContext, node: str):
    from kubetui.providers.docker import LABEL_CLUSTER, docker_client  # loads Docker's SDK: only when asked
    client = docker_client()
    found = client.containers.list(all=True, filters={"label": [f"{LABEL_CLUSTER}={ctx.cluster_name}",
                                                                f"io.kubetui.node={node}"]})
    if not found:
        raise FaultError(f"no Docker container for node {node} of cluster {ctx.cluster_name}")
    return found[0]


def _local_dir(ctx: FaultContext, node: str) -> Path:
    return Path(ctx.state_dir) / "nodes" / node


def _local_pid(ctx: FaultContext, node: str) -> int:
    try:
        pid = int((_local_dir(ctx, node) / "kubelet.pid").read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        raise FaultError(f"node {node}: no running kubelet process (looked in "
                         f"{_local_dir(ctx, node) / 'kubelet.pid'})") from None


def _local_restart(ctx: FaultContext, node: str) -> int:
    """Start the node's kubelet again with the argv the local provider saved."""
    d = _local_dir(ctx, node)
    argv = json.loads((d / "node.json").read_text())["argv"]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
    with open(d / "kubelet.log", "ab") as logf:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True, cwd=str(d))
    (d / "kubelet.pid").write_text(str(proc.pid))
    return proc.pid


class NodeFault(Fault):
    target_kind = "node"
    #: the ``kubetui.dev/fault`` value this fault puts on a simulated node
    simulated_state = "paused"

    async def candidates(self, ctx: FaultContext, target: str | None) -> list[str]:
        names = await node_names(ctx)
        if target:
            if target not in names:
                raise FaultError(f"{self.name}: no node {target!r} (nodes: {', '.join(names) or 'none'})")
            return [target]
        return names


class NodePause(NodeFault):
    name = "node-pause"
    summary = "freeze a node (every process on it stops): its heartbeats stop, it goes NotReady"
    reverts = "unfreeze it: heartbeats resume and it turns Ready again"

    async def inject(self, ctx: FaultContext, target: str) -> dict[str, Any]:
        if ctx.provider_name == "simulated":
            return await _simulated_inject(ctx, self.name, target, self.simulated_state)
        elif ctx.provider_name == "docker":
            await asyncio.to_thread(_docker_container(ctx, target).pause)
        elif ctx.provider_name == "local":
            os.kill(_local_pid(ctx, target), signal.SIGSTOP)
        else:
            raise FaultError(f"{self.name}: unknown provider {ctx.provider_name!r}")
        return {}

    async def revert(self, ctx: FaultContext, record: FaultRecord) -> None:
        if ctx.provider_name == "simulated":
            await _simulated_revert(ctx, record.target, record.data.get("annotation", self.simulated_state))
        elif ctx.provider_name == "docker":
            await asyncio.to_thread(_docker_container(ctx, record.target).unpause)
        else:
            os.kill(_local_pid(ctx, record.target), signal.SIGCONT)


#: a Docker node runs its kubelet and kube-proxy as two threads of one process (``kubetui/agent/main.py``):
#: this freezes or thaws one of them alone, as ``kill -STOP``/``-CONT`` would a process of its own
AGENT_CONTROL = ["python3", "-m", "kubetui.agent"]


async def docker_agent_control(ctx: FaultContext, node: str, action: str, agent: str) -> int:
    """``freeze``/``thaw`` one node agent (kubelet, kube-proxy) inside a Docker node; its exit code."""
    r = await asyncio.to_thread(_docker_container(ctx, node).exec_run, [*AGENT_CONTROL, action, agent])
    return r.exit_code


class KubeletStop(NodePause):
    name = "kubelet-stop"
    summary = "stop the node's kubelet (its pods keep running): heartbeats stop, the node goes NotReady"
    reverts = "resume the kubelet"

    async def inject(self, ctx: FaultContext, target: str) -> dict[str, Any]:
        if ctx.provider_name == "docker":
            code = await docker_agent_control(ctx, target, "freeze", "kubelet")
            if code != 0:
                raise FaultError(f"{self.name}: no kubelet found running in node {target} "
                                 f"(`{' '.join(AGENT_CONTROL)} freeze kubelet` exited {code})")
            return {}
        return await super().inject(ctx, target)

    async def revert(self, ctx: FaultContext, record: FaultRecord) -> None:
        if ctx.provider_name == "docker":
            await docker_agent_control(ctx, record.target, "thaw", "kubelet")
            return
        await super().revert(ctx, record)


class NodeKill(NodeFault):
    name = "node-kill"
    summary = "kill a node outright (the machine dies): its pods die with it"
    reverts = "start the node again: its kubelet re-registers and the node turns Ready"
    simulated_state = "killed"

    async def inject(self, ctx: FaultContext, target: str) -> dict[str, Any]:
        if ctx.provider_name == "simulated":
            return await _simulated_inject(ctx, self.name, target, self.simulated_state)
        elif ctx.provider_name == "docker":
            await asyncio.to_thread(_docker_container(ctx, target).kill)
        elif ctx.provider_name == "local":
            pid = _local_pid(ctx, target)
            try:
                os.killpg(pid, signal.SIGKILL)     # the kubelet's session: it and its pods
            except OSError:
                os.kill(pid, signal.SIGKILL)
            # pods run in sessions of their own: they die with the machine too
            root = _local_dir(ctx, target) / "kubelet" / "runtime"
            if (root / "pods").exists():
                from kubetui.runtime.process import ProcessRuntime
                ProcessRuntime(root, node_name=target).cleanup_leftovers()
            (_local_dir(ctx, target) / "kubelet.pid").unlink(missing_ok=True)
        return {}

    async def revert(self, ctx: FaultContext, record: FaultRecord) -> None:
        if ctx.provider_name == "simulated":
            await _simulated_revert(ctx, record.target, record.data.get("annotation", self.simulated_state))
        elif ctx.provider_name == "docker":
            await asyncio.to_thread(_docker_container(ctx, record.target).start)
        else:
            _local_restart(ctx, record.target)


class NodePartition(NodeFault):
    name = "node-partition"
    summary = "disconnect a node from the cluster network: it runs on but nobody hears it"
    reverts = "reconnect it"

    async def inject(self, ctx: FaultContext, target: str) -> dict[str, Any]:
        if ctx.provider_name == "simulated":
            return await _simulated_inject(ctx, self.name, target, self.simulated_state)
        if ctx.provider_name == "docker":
            c = _docker_container(ctx, target)
            net = f"kubetui-{ctx.cluster_name}"
            from kubetui.providers.docker import docker_client
            network = docker_client().networks.get(net)
            await asyncio.to_thread(network.disconnect, c)
            return {"network": net}
        raise FaultError(f"{self.name}: local nodes share this machine's loopback, there is no cable to cut; "
                         "use node-pause, or --provider docker")

    async def revert(self, ctx: FaultContext, record: FaultRecord) -> None:
        if ctx.provider_name == "simulated":
            await _simulated_revert(ctx, record.target, record.data.get("annotation", self.simulated_state))
            return
        from kubetui.providers.docker import docker_client
        network = docker_client().networks.get(record.data["network"])
        await asyncio.to_thread(network.connect, _docker_container(ctx, record.target))
