"""Faults of a cluster with several control-plane nodes (``kubetui up --control-planes N --store etcd``).

What a teacher does to a kubeadm HA cluster: power off a control-plane node,
kill one etcd member, kill the process of the scheduler's or controller
manager's leader. Each acts from outside through the cluster's state
directory (``<state>/control-planes/``: each control-plane process's record,
each etcd member's pid file) and is undone by starting what was killed again,
on its old ports and data (``cluster/ha.py``).

In kubetui one control-plane process holds a node's API server, scheduler and
controller manager, so ``leader-kill`` takes that node's API server down too
(as killing the node's kubelet-less static pods all at once would); the etcd
member of that node keeps running.

With Docker control-plane nodes (``--provider docker``, ``cluster/hadocker.py``)
a node is its container: ``control-plane-node-kill`` is ``docker kill`` (revert:
``docker start``; the node's supervisor starts its etcd member, which catches up
from the leader, its control-plane process and its kubelet) and
``control-plane-node-pause`` is ``docker pause``/``unpause``: a frozen machine,
whose TCP connections are still accepted by the kernel but never answered, so
the load balancer drops it only once its ``/readyz`` checks time out. On local
processes the pause is SIGSTOP/SIGCONT of the node's process groups (control
plane, etcd member, kubelet). ``etcd-member-kill``, ``etcd-quorum-loss`` and
``leader-kill`` on a Docker node *hold* the component in its container (the node's
supervisor, ``cluster/cpnode.py``, then does not restart it, as when kubeadm's static
pod manifest is moved out) and kill it; the revert releases it and the supervisor
starts it again.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any

from kubetui.api import errors
from kubetui.cluster.ha import (ETCD_PORTS_FILE, MEMBERS_DIR, etcd_member, etcd_pid, kill_pid, member_alive,
                                member_file, read_members, spawn_member)
from kubetui.cluster.hadocker import DOCKER_NODES_FILE, read_docker_nodes
from kubetui.faults.base import Fault, FaultContext, FaultError, FaultRecord
from kubetui.faults.nodes import NodeKill

LEASES = {"scheduler": "kube-scheduler", "controller-manager": "kube-controller-manager"}


def _require_ha(ctx: FaultContext, name: str) -> None:
    d = Path(ctx.state_dir) / MEMBERS_DIR
    if not (d / ETCD_PORTS_FILE).exists() and not (d / DOCKER_NODES_FILE).exists():
        raise FaultError(f"{name}: cluster {ctx.cluster_name!r} has one control plane; start one with "
                         "`kubetui up --control-planes 3 --store etcd` (--provider local or docker)")


def _docker_nodes(ctx: FaultContext) -> bool:
    """Whether the control-plane nodes are Docker containers (else local processes)."""
    return (Path(ctx.state_dir) / MEMBERS_DIR / DOCKER_NODES_FILE).exists()


#: in a control-plane container: hold a component (its supervisor does not restart it) and kill it, or release
#: it (the supervisor starts it within a second): kubeadm's static pod manifest moved out and back
_HOLD_AND_KILL = ("mkdir -p /run/kubetui/held && touch /run/kubetui/held/{c} && "
                  "pkill -KILL {match} && while pgrep {match} >/dev/null; do sleep 0.05; done")
# (a pattern that does not match itself: the shell running pkill has it in its own command line)
_MATCH = {"etcd": "-x etcd", "control-plane": "-f 'kubetui[.]cluster[.]member'"}


async def _docker_hold_kill(ctx: FaultContext, node: str, component: str) -> None:
    c = await asyncio.to_thread(_cp_container, ctx, node)
    rc, out = await asyncio.to_thread(c.exec_run, ["sh", "-c", _HOLD_AND_KILL.format(
        c=component, match=_MATCH[component])])
    if rc != 0:
        raise FaultError(f"killing {component} on {node}: {out.decode(errors='replace').strip() or rc}")


async def _docker_etcd_running(ctx: FaultContext) -> list[str]:
    """The control-plane containers that run and whose etcd member runs."""
    out = []
    for node, st in (await asyncio.to_thread(_docker_states, ctx)).items():
        if st == "running":
            c = await asyncio.to_thread(_cp_container, ctx, node)
            rc, _ = await asyncio.to_thread(c.exec_run, ["pgrep", "-x", "etcd"])
            if rc == 0:
                out.append(node)
    return out


async def _docker_release(ctx: FaultContext, node: str, component: str, timeout: float = 120.0) -> None:
    """Let the node's supervisor start the component again; wait until it runs (the control plane: ready)."""
    c = await asyncio.to_thread(_cp_container, ctx, node)
    if component == "control-plane":
        member_file(Path(ctx.state_dir), node).unlink(missing_ok=True)  # the killed process's record says "ready"
    await asyncio.to_thread(c.exec_run, ["rm", "-f", f"/run/kubetui/held/{component}"])
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if component == "control-plane":
            if read_members(Path(ctx.state_dir)).get(node, {}).get("phase") == "ready":
                return
        else:
            rc, _ = await asyncio.to_thread(c.exec_run, ["pgrep", "-x", "etcd"])
            if rc == 0:
                return
        if loop.time() > deadline:
            raise FaultError(f"{component} on {node} not back after {timeout:.0f}s")
        await asyncio.sleep(0.2)


def _cp_container(ctx: FaultContext, node: str):
    from kubetui.faults.nodes import _docker_container  # loads Docker's SDK: only for Docker nodes
    return _docker_container(ctx, node)


def _docker_states(ctx: FaultContext) -> dict[str, str]:
    """Each control-plane node container's Docker status (running, paused, exited, ...)."""
    from kubetui.providers.docker import node_container_states
    states = node_container_states(ctx.cluster_name) or {}
    return {n: states.get(n, "missing") for n in read_docker_nodes(Path(ctx.state_dir))}


async def _docker_running(ctx: FaultContext) -> list[str]:
    """The control-plane node containers Docker reports running."""
    return [n for n, st in (await asyncio.to_thread(_docker_states, ctx)).items() if st == "running"]


async def _docker_status(ctx: FaultContext, node: str, want: str) -> None:
    c = await asyncio.to_thread(_cp_container, ctx, node)
    for _ in range(100):
        await asyncio.to_thread(c.reload)
        if c.status == want:
            return
        await asyncio.sleep(0.05)
    raise FaultError(f"container of {node} is {c.status}, not {want}, after 5 s")


async def _docker_restart(ctx: FaultContext, node: str, timeout: float = 180.0) -> None:
    """``docker start`` a killed control-plane node and wait until its control-plane process is ready again
    (its supervisor restarts etcd, which catches up from the leader, then the API server and kubelet)."""
    c = await asyncio.to_thread(_cp_container, ctx, node)
    if c.status == "running":
        return
    member_file(Path(ctx.state_dir), node).unlink(missing_ok=True)  # the killed process's record says "ready"
    await asyncio.to_thread(c.start)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while read_members(Path(ctx.state_dir)).get(node, {}).get("phase") != "ready":
        if loop.time() > deadline:
            raise FaultError(f"{node} restarted but its control plane is not ready after {timeout:.0f}s "
                             f"(see {Path(ctx.state_dir) / MEMBERS_DIR / (node + '.log')})")
        await asyncio.sleep(0.1)


def _etcd_servers(state_dir: Path) -> str:
    return json.loads((state_dir / "etcd.json").read_text())["endpoint"]


async def _restart_member(state_dir: Path, node: str, port: int) -> None:
    if member_alive(read_members(state_dir).get(node, {}), node):
        return
    await spawn_member(state_dir, node, _etcd_servers(state_dir), port=port)


async def _restart_etcd(state_dir: Path, node: str) -> None:
    if etcd_pid(state_dir, node) is None:
        await asyncio.to_thread(etcd_member(state_dir, node).start, 60)


async def _gone(still: Any, what: str) -> None:
    """SIGKILL is delivered asynchronously: wait (bounded) until the process is gone (or a zombie)."""
    for _ in range(100):
        if not still():
            return
        await asyncio.sleep(0.05)
    raise FaultError(f"{what} is still running 5 s after SIGKILL")


def _check(name: str, candidates: list[str], target: str | None, what: str) -> list[str]:
    if target is None:
        return candidates
    if target not in candidates:
        raise FaultError(f"{name}: no running {what} {target!r} (running: {', '.join(candidates) or 'none'})")
    return [target]


class ControlPlaneNodeKill(Fault):
    name = "control-plane-node-kill"
    target_kind = "control-plane node"
    summary = ("kill -9 one control-plane node: its API server, scheduler, controller manager, etcd member "
               "and kubelet (Docker: docker kill of its container)")
    reverts = "starts its etcd member, control-plane process and kubelet again, on their old ports and data"

    async def candidates(self, ctx: FaultContext, target: str | None) -> list[str]:
        _require_ha(ctx, self.name)
        if _docker_nodes(ctx):
            return _check(self.name, await _docker_running(ctx), target, "control-plane node")
        running = [n for n, r in read_members(Path(ctx.state_dir)).items() if member_alive(r, n)]
        return _check(self.name, running, target, "control-plane node")

    async def inject(self, ctx: FaultContext, target: str) -> dict[str, Any]:
        state = Path(ctx.state_dir)
        if _docker_nodes(ctx):
            c = await asyncio.to_thread(_cp_container, ctx, target)
            await asyncio.to_thread(c.kill)  # SIGKILL to every process of the node: the machine loses power
            await _docker_status(ctx, target, "exited")
            return {"docker": True, "container": c.name}
        rec = read_members(state)[target]
        kill_pid(int(rec["pid"]))
        pid = etcd_pid(state, target)
        if pid is not None:
            kill_pid(pid)
        await _gone(lambda: member_alive(rec, target) or etcd_pid(state, target) is not None, target)
        # the machine dies with its kubelet (and pods): node-kill's own local path
        kubelet = (state / "nodes" / target / "kubelet.pid").exists()
        if kubelet:
            await NodeKill().inject(ctx, target)
        return {"port": rec["port"], "pid": rec["pid"], "etcdPid": pid, "kubelet": kubelet}

    async def revert(self, ctx: FaultContext, record: FaultRecord) -> None:
        if record.data.get("docker"):
            await _docker_restart(ctx, record.target)
            return
        state = Path(ctx.state_dir)
        await _restart_etcd(state, record.target)
        await _restart_member(state, record.target, int(record.data["port"]))
        if record.data.get("kubelet"):
            await NodeKill().revert(ctx, record)


def _local_groups(state: Path, node: str) -> list[int]:
    """The process groups of a local control-plane node: its control-plane process, its etcd member and its
    kubelet, each started in a session of its own (so its group id is its pid)."""
    groups = []
    rec = read_members(state).get(node)
    if rec is not None and member_alive(rec, node):
        groups.append(int(rec["pid"]))
    pid = etcd_pid(state, node)
    if pid is not None:
        groups.append(pid)
    try:
        groups.append(int((state / "nodes" / node / "kubelet.pid").read_text()))
    except (OSError, ValueError):
        pass
    return groups


def _signal_groups(groups: list[int], sig: int) -> list[int]:
    done = []
    for g in groups:
        try:
            os.killpg(g, sig)
            done.append(g)
        except (ProcessLookupError, PermissionError):
            pass
    return done


class ControlPlaneNodePause(Fault):
    name = "control-plane-node-pause"
    target_kind = "control-plane node"
    summary = ("freeze one control-plane node (Docker: docker pause; local: SIGSTOP of its control-plane, etcd "
               "and kubelet process groups): connections hang, its /readyz stops answering, the load balancer "
               "drops it, its Leases and etcd leadership move once they run out")
    reverts = "unpauses it (docker unpause / SIGCONT): it catches up and the load balancer takes it back"

    async def candidates(self, ctx: FaultContext, target: str | None) -> list[str]:
        _require_ha(ctx, self.name)
        if _docker_nodes(ctx):
            return _check(self.name, await _docker_running(ctx), target, "control-plane node")
        state = Path(ctx.state_dir)
        running = [n for n, r in read_members(state).items() if member_alive(r, n) and not _stopped(int(r["pid"]))]
        return _check(self.name, running, target, "control-plane node")

    async def inject(self, ctx: FaultContext, target: str) -> dict[str, Any]:
        if _docker_nodes(ctx):
            c = await asyncio.to_thread(_cp_container, ctx, target)
            await asyncio.to_thread(c.pause)  # the cgroup freezer: every process of the node stops at once
            await _docker_status(ctx, target, "paused")
            return {"docker": True, "container": c.name}
        groups = _signal_groups(_local_groups(Path(ctx.state_dir), target), signal.SIGSTOP)
        if not groups:
            raise FaultError(f"{self.name}: nothing of control-plane node {target!r} runs")
        await _until(lambda: all(_stopped(g) for g in groups), f"{target}'s processes stopped")  # signals are async
        return {"groups": groups}

    async def revert(self, ctx: FaultContext, record: FaultRecord) -> None:
        if record.data.get("docker"):
            c = await asyncio.to_thread(_cp_container, ctx, record.target)
            if c.status == "paused":
                await asyncio.to_thread(c.unpause)
            return
        groups = _signal_groups([int(g) for g in record.data.get("groups", [])], signal.SIGCONT)
        await _until(lambda: not any(_stopped(g) for g in groups), f"{record.target}'s processes running")


async def _until(check: Any, what: str) -> None:
    for _ in range(100):
        if check():
            return
        await asyncio.sleep(0.05)
    raise FaultError(f"{what}: not after 5 s")


def _stopped(pid: int) -> bool:
    """A process stopped by SIGSTOP (state T in /proc/PID/stat)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] in ("T", "t")
    except (OSError, IndexError):
        return False


class EtcdMemberKill(Fault):
    name = "etcd-member-kill"
    target_kind = "etcd member"
    summary = "kill -9 one etcd member (named after its control-plane node): the others keep quorum"
    reverts = "starts the member again on its data dir: it catches up from the leader"

    async def candidates(self, ctx: FaultContext, target: str | None) -> list[str]:
        _require_ha(ctx, self.name)
        if _docker_nodes(ctx):
            return _check(self.name, await _docker_etcd_running(ctx), target, "etcd member")
        state = Path(ctx.state_dir)
        nodes = json.loads((state / MEMBERS_DIR / ETCD_PORTS_FILE).read_text())
        return _check(self.name, [n for n in nodes if etcd_pid(state, n) is not None], target, "etcd member")

    async def inject(self, ctx: FaultContext, target: str) -> dict[str, Any]:
        if _docker_nodes(ctx):
            await _docker_hold_kill(ctx, target, "etcd")
            return {"docker": True}
        pid = etcd_pid(Path(ctx.state_dir), target)
        if pid is None or not kill_pid(pid):
            raise FaultError(f"{self.name}: etcd member {target!r} is not running")
        await _gone(lambda: etcd_pid(Path(ctx.state_dir), target) is not None, f"etcd member {target}")
        return {"pid": pid}

    async def revert(self, ctx: FaultContext, record: FaultRecord) -> None:
        if record.data.get("docker"):
            await _docker_release(ctx, record.target, "etcd")
            return
        await _restart_etcd(Path(ctx.state_dir), record.target)


class LeaderKill(Fault):
    name = "leader-kill"
    target_kind = "component"
    summary = ("kill -9 the control-plane process leading the scheduler or the controller manager "
               "(target: scheduler|controller-manager): another takes the Lease once it has run out")
    reverts = "starts that control-plane process again (it stands as a candidate)"

    async def candidates(self, ctx: FaultContext, target: str | None) -> list[str]:
        _require_ha(ctx, self.name)
        if target is not None and target not in LEASES:
            raise FaultError(f"{self.name}: target is one of {', '.join(LEASES)}, not {target!r}")
        return [target] if target else sorted(LEASES)

    async def inject(self, ctx: FaultContext, target: str) -> dict[str, Any]:
        state = Path(ctx.state_dir)
        try:
            lease = await ctx.client.get("leases", LEASES[target], "kube-system")
        except errors.NotFound:
            raise FaultError(f"{self.name}: no Lease kube-system/{LEASES[target]}: nobody leads yet") from None
        holder = (lease.get("spec") or {}).get("holderIdentity") or ""
        node = holder.rpartition("_")[0]
        if _docker_nodes(ctx):
            if node not in await _docker_running(ctx):
                raise FaultError(f"{self.name}: the {LEASES[target]} Lease's holder {holder!r} runs nowhere here "
                                 "(its lease may be running out: try again in a few seconds)")
            await _docker_hold_kill(ctx, node, "control-plane")
            return {"node": node, "holder": holder, "docker": True}
        rec = read_members(state).get(node)
        if not holder or rec is None or not member_alive(rec, node):
            raise FaultError(f"{self.name}: the {LEASES[target]} Lease's holder {holder!r} runs nowhere here "
                             "(its lease may be running out: try again in a few seconds)")
        kill_pid(int(rec["pid"]), signal.SIGKILL)
        await _gone(lambda: member_alive(rec, node), f"control plane {node}")
        return {"node": node, "holder": holder, "port": rec["port"], "pid": rec["pid"]}

    def describe(self, target: str) -> str:
        return f"{self.name}: the {LEASES.get(target, target)} leader's control-plane process"

    async def revert(self, ctx: FaultContext, record: FaultRecord) -> None:
        if record.data.get("docker"):
            await _docker_release(ctx, record.data["node"], "control-plane")
            return
        await _restart_member(Path(ctx.state_dir), record.data["node"], int(record.data["port"]))


class EtcdQuorumLoss(Fault):
    name = "etcd-quorum-loss"
    target_kind = "etcd member"
    summary = ("kill -9 all etcd members but one (the target survives): no majority, so no write commits "
               "(etcdserver: request timed out); API servers still serve reads from their caches")
    reverts = "starts the killed members again: a leader is elected and writes commit again"

    async def candidates(self, ctx: FaultContext, target: str | None) -> list[str]:
        return await EtcdMemberKill().candidates(ctx, target)

    async def inject(self, ctx: FaultContext, target: str) -> dict[str, Any]:
        state = Path(ctx.state_dir)
        if _docker_nodes(ctx):
            killed = [n for n in await _docker_etcd_running(ctx) if n != target]
            await asyncio.gather(*(_docker_hold_kill(ctx, n, "etcd") for n in killed))
            return {"killed": killed, "docker": True}
        killed = []
        for node in json.loads((state / MEMBERS_DIR / ETCD_PORTS_FILE).read_text()):
            pid = etcd_pid(state, node)
            if node != target and pid is not None and kill_pid(pid):
                killed.append(node)
        await _gone(lambda: any(etcd_pid(state, n) is not None for n in killed), "an etcd member")
        return {"killed": killed}

    def describe(self, target: str) -> str:
        return f"{self.name}: only etcd member {target} left"

    async def revert(self, ctx: FaultContext, record: FaultRecord) -> None:
        state = Path(ctx.state_dir)
        if record.data.get("docker"):
            await asyncio.gather(*(_docker_release(ctx, n, "etcd") for n in record.data["killed"]))
            return
        # started together: each waits for /health, which needs the quorum they restore together
        await asyncio.gather(*(_restart_etcd(state, n) for n in record.data["killed"]))
