"""Faults of the cluster's plumbing: a node's kube-proxy stops, cluster DNS goes away, the control plane restarts.

Upstream these are everyday incidents rather than code: a kube-proxy DaemonSet
pod stuck on one node, CoreDNS scaled to zero by a mistaken ``kubectl scale``,
the static-pod control plane restarted by its kubelet after an upgrade.

=====================  ======================================  ======================================
fault                  Docker cluster                          local cluster
=====================  ======================================  ======================================
kube-proxy-stop        freeze the node's kube-proxy, as        SIGSTOP the cluster's one userspace
                       SIGSTOP would (``python3 -m             kube-proxy (``<state>/kube-proxy/
                       kubetui.agent freeze kube-proxy`` in    kube-proxy.pid``): every ClusterIP and
                       the node: it is a thread of the node    NodePort stops answering
                       agents' process; the kubelet keeps
                       going). Its iptables rules stay as
                       they were: Services and endpoints
                       changed afterwards are not programmed
                       on that node (stale rules)
dns-break              scale ``kube-system/kube-dns`` to 0     (no cluster DNS: refused)
                       replicas; names stop resolving, IPs
                       still work
control-plane-restart  SIGTERM ``kubetui up --headless``       SIGKILL it (a graceful stop would take
                       (its pid: ``<state>/controlplane.pid``; its local nodes along), i.e. a crash;
                       Docker nodes outlive it), then run it   the store's write-ahead log keeps every
                       again with the same settings            acknowledged write
=====================  ======================================  ======================================

Reverting kube-proxy-stop thaws it (SIGCONT locally): kube-proxy resyncs and its rules
catch up. Reverting dns-break scales kube-dns back to the replicas it had.
control-plane-restart is over once it returns (the new process printed
``ready``): like ``pod-kill``, there is nothing left to revert. Simulated
clusters have no kube-proxy and no DNS; their control plane can be restarted
(their simulated nodes live in that process and come back with it).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from kubetui.api import errors
from kubetui.faults.base import Fault, FaultContext, FaultError, FaultRecord
from kubetui.faults.nodes import AGENT_CONTROL, NodeFault, _docker_container, _PACKAGE_PARENT, docker_agent_control
from kubetui.statedir import LOG_FILE, running_pid

DNS_NAMESPACE = "kube-system"
DNS_DEPLOYMENT = "kube-dns"
#: how long the restarted control plane may take to print ``ready``
READY_TIMEOUT = 180.0


# --- kube-proxy-stop -------------------------------------------------------------------------------


def _local_proxy(ctx: FaultContext) -> tuple[int, str]:
    """(pid, node name) of a local cluster's userspace kube-proxy, from ``<state>/kube-proxy/``."""
    d = Path(ctx.state_dir) / "kube-proxy"
    try:
        pid = int((d / "kube-proxy.pid").read_text())
        os.kill(pid, 0)
        argv = json.loads((d / "proxy.json").read_text())["argv"]
    except (OSError, ValueError, KeyError):
        raise FaultError(f"no running kube-proxy for this cluster (looked in {d / 'kube-proxy.pid'})") from None
    node = argv[argv.index("--node-name") + 1] if "--node-name" in argv else "?"
    return pid, node


class KubeProxyStop(NodeFault):
    name = "kube-proxy-stop"
    summary = ("freeze a node's kube-proxy: its Service rules go stale (new Services/endpoints don't work "
               "from that node); local clusters: every Service stops answering")
    reverts = "resume kube-proxy: it resyncs and the node's rules catch up"

    async def candidates(self, ctx: FaultContext, target: str | None) -> list[str]:
        if ctx.provider_name == "local":
            # One kube-proxy serves the whole local cluster, under the first node's name.
            _, node = _local_proxy(ctx)
            if target and target != node:
                raise FaultError(f"{self.name}: a local cluster has one kube-proxy, running as node {node}; "
                                 f"it serves every node (use --target {node} or no --target)")
            return [node]
        if ctx.provider_name != "docker":
            raise FaultError(f"{self.name}: {ctx.provider_name} nodes run no kube-proxy "
                             "(Services are only objects there); use --provider docker or local")
        return await super().candidates(ctx, target)

    async def inject(self, ctx: FaultContext, target: str) -> dict[str, Any]:
        if ctx.provider_name == "local":
            pid, _ = _local_proxy(ctx)
            os.kill(pid, signal.SIGSTOP)
            return {"pid": pid}
        code = await docker_agent_control(ctx, target, "freeze", "kube-proxy")
        if code != 0:
            raise FaultError(f"{self.name}: no kube-proxy found running in node {target} "
                             f"(`{' '.join(AGENT_CONTROL)} freeze kube-proxy` exited {code})")
        return {}

    async def revert(self, ctx: FaultContext, record: FaultRecord) -> None:
        if ctx.provider_name == "local":
            try:
                os.kill(record.data["pid"], signal.SIGCONT)
            except (ProcessLookupError, KeyError):
                pass         # it is gone (cluster stopped): nothing frozen is left
            return
        await docker_agent_control(ctx, record.target, "thaw", "kube-proxy")


# --- dns-break -------------------------------------------------------------------------------------


class DNSBreak(Fault):
    name = "dns-break"
    target_kind = "deploy"
    summary = "scale the cluster DNS (kube-system/kube-dns) to 0: Service names stop resolving, IPs still work"
    reverts = "scale kube-dns back to the replicas it had"

    async def candidates(self, ctx: FaultContext, target: str | None) -> list[str]:
        try:
            await ctx.client.get("deployments", DNS_DEPLOYMENT, DNS_NAMESPACE)
        except errors.NotFound:
            raise FaultError(f"{self.name}: this cluster has no cluster DNS ({DNS_NAMESPACE}/{DNS_DEPLOYMENT}); "
                             f"{ctx.provider_name} clusters run none, use --provider docker") from None
        if target and target not in (DNS_DEPLOYMENT, f"{DNS_NAMESPACE}/{DNS_DEPLOYMENT}"):
            raise FaultError(f"{self.name}: the cluster DNS is {DNS_NAMESPACE}/{DNS_DEPLOYMENT}, not {target!r}")
        return [DNS_DEPLOYMENT]

    async def inject(self, ctx: FaultContext, target: str) -> dict[str, Any]:
        dep = await ctx.client.get("deployments", DNS_DEPLOYMENT, DNS_NAMESPACE)
        replicas = dep["spec"].get("replicas", 1)
        if replicas == 0:
            raise FaultError(f"{self.name}: {DNS_NAMESPACE}/{DNS_DEPLOYMENT} is already scaled to 0")
        # What `kubectl -n kube-system scale deployment kube-dns --replicas=0` does: the scale subresource.
        await ctx.client.patch("deployments", DNS_DEPLOYMENT, {"spec": {"replicas": 0}}, DNS_NAMESPACE,
                               subresource="scale")
        return {"replicas": replicas}

    async def revert(self, ctx: FaultContext, record: FaultRecord) -> None:
        await ctx.client.patch("deployments", DNS_DEPLOYMENT, {"spec": {"replicas": record.data["replicas"]}},
                               DNS_NAMESPACE, subresource="scale")


# --- control-plane-restart -------------------------------------------------------------------------


def _wait_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:                       # our own child (a test's): reap it, or it stays a zombie
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            pass
        time.sleep(0.1)
    return False


def restart_argv(state_dir: Path) -> list[str]:
    """``kubetui up --headless`` for this state dir; cluster.json supplies the rest, but not ``--insecure-http``.

    >>> restart_argv(Path("/nonexistent"))[1:]
    ['-m', 'kubetui', 'up', '--headless', '--state-dir', '/nonexistent']
    """
    from kubetui.cluster.settings import ClusterSettings

    argv = [sys.executable, "-m", "kubetui", "up", "--headless", "--state-dir", str(state_dir)]
    settings = ClusterSettings.load(state_dir)
    if settings is not None and settings.insecure_http:
        argv.append("--insecure-http")      # the one flag cluster.json does not bring back
    return argv


def _restart(state_dir: Path, provider_name: str) -> dict[str, Any]:

    old = running_pid(state_dir)
    if old is None:
        raise FaultError(f"control-plane-restart: no control plane process serves {state_dir} "
                         "(start one with `kubetui up --headless`)")
    if old == os.getpid():
        raise FaultError("control-plane-restart: the control plane runs inside this process (the TUI or a "
                         "lesson test); restart needs one started by `kubetui up --headless`")
    # A graceful stop of a local cluster stops its kubelets too; killing it is a crash that leaves them be.
    sig = signal.SIGKILL if provider_name == "local" else signal.SIGTERM
    os.kill(old, sig)
    if not _wait_exit(old, 60):
        raise FaultError(f"control-plane-restart: pid {old} did not exit within 60s of {sig.name}")
    log_path = state_dir / LOG_FILE
    start = log_path.stat().st_size if log_path.exists() else 0
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
    with open(log_path, "ab") as logf:
        proc = subprocess.Popen(restart_argv(state_dir), stdin=subprocess.DEVNULL, stdout=logf,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        with open(log_path, "rb") as f:
            f.seek(start)
            text = f.read().decode(errors="replace")
        if any(line.startswith("ready ") for line in text.splitlines()):
            return {"old_pid": old, "new_pid": proc.pid, "signal": sig.name, "log": str(log_path)}
        if proc.poll() is not None:
            raise FaultError(f"control-plane-restart: `kubetui up --headless` exited {proc.returncode} "
                             f"before ready; see {log_path}:\n{text[-1500:]}")
        time.sleep(0.2)
    raise FaultError(f"control-plane-restart: the new control plane (pid {proc.pid}) was not ready within "
                     f"{READY_TIMEOUT:.0f}s; see {log_path}")


class ControlPlaneRestart(Fault):
    name = "control-plane-restart"
    target_kind = "cluster"
    summary = "restart the API server, scheduler and controllers (`kubetui up --headless`); nodes and pods carry on"
    reverts = "nothing to undo: the control plane is back when the fault returns"

    async def candidates(self, ctx: FaultContext, target: str | None) -> list[str]:
        if target and target != ctx.cluster_name:
            raise FaultError(f"{self.name}: this is cluster {ctx.cluster_name!r}, not {target!r}")
        return [ctx.cluster_name]

    async def inject(self, ctx: FaultContext, target: str) -> dict[str, Any]:
        return await asyncio.to_thread(_restart, Path(ctx.state_dir), ctx.provider_name)

    async def revert(self, ctx: FaultContext, record: FaultRecord) -> None:
        return None
