"""kube-proxy-stop, dns-break and control-plane-restart on a real Docker cluster (one shared by the module)."""

from __future__ import annotations

import asyncio

import pytest

from kubetui.faults import FaultLog, context_for_state_dir, inject, revert
from tests.nodes.conftest import docker, docker_cluster, node_ready, pod_ready, wait_for  # noqa: F401 - fixture

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def run_fault(state, action: str, *args, **kw):
    """inject/revert from outside the cluster's process, as `kubetui fault` does."""
    async def go():
        ctx = context_for_state_dir(state)
        try:
            return await (inject if action == "inject" else revert)(ctx, *args, **kw)
        finally:
            await ctx.client.close()
    return asyncio.run(go())


def has_rules_for(cluster, node: str, ip: str) -> bool:
    return ip in cluster.node_exec(node, "iptables-save")


HEALTHZ = """
import socket
s = socket.create_connection(("127.0.0.1", 10249), 5)
s.sendall(b"GET /healthz HTTP/1.0\\r\\n\\r\\n")
s.settimeout(2)
try:
    print("answered", s.recv(100))
except socket.timeout:
    print("frozen")
"""


def test_kube_proxy_stop_freezes_one_nodes_rules_until_revert(docker_cluster):
    c = docker_cluster
    rec = run_fault(c.state, "inject", "kube-proxy-stop", target="node-2", seed=1)
    try:
        # frozen, not dead: its metrics port accepts (the kernel does) but nothing answers
        assert c.node_exec("node-2", "python3", "-c", HEALTHZ) == "frozen\n"
        c.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kps"},
                 "spec": {"selector": {"app": "kps"}, "ports": [{"port": 80, "targetPort": 8080}]}})
        ip = c.get("service", "kps")["spec"]["clusterIP"]
        wait_for("node-1's kube-proxy to program the new Service", lambda: has_rules_for(c, "node-1", ip), 30)
        assert not has_rules_for(c, "node-2", ip)                 # the frozen one did not
        # kube-proxy froze alone: node-2's kubelet (the other thread of its process) keeps heartbeating
        assert node_ready(c.get("node", "node-2"))
    finally:
        run_fault(c.state, "revert", rec.id)
    wait_for("node-2's kube-proxy to catch up after revert", lambda: has_rules_for(c, "node-2", ip), 30)
    c.kubectl("delete", "service", "kps")


def test_kubelet_stop_freezes_the_kubelet_alone_until_revert(docker_cluster):
    """The kubelet and kube-proxy share a process: kubelet-stop freezes the kubelet's thread only."""
    c = docker_cluster
    rec = run_fault(c.state, "inject", "kubelet-stop", target="node-3", seed=1)
    try:
        wait_for("node-3 to go NotReady (no heartbeats)", lambda: not node_ready(c.get("node", "node-3")), 60)
        assert c.node_exec("node-3", "python3", "-c", HEALTHZ).startswith("answered b'HTTP/1.1 200")
    finally:
        run_fault(c.state, "revert", rec.id)
    wait_for("node-3 to be Ready again", lambda: node_ready(c.get("node", "node-3")), 60)


def test_dns_break_scales_kube_dns_to_zero_and_revert_restores_it(docker_cluster):
    c = docker_cluster
    dns = lambda: c.get("pods", "-n", "kube-system", "-l", "k8s-app=kube-dns")["items"]  # noqa: E731
    wait_for("a Ready kube-dns pod", lambda: any(pod_ready(p) for p in dns()), 90)
    replicas = c.get("deployment", "-n", "kube-system", "kube-dns")["spec"]["replicas"]
    rec = run_fault(c.state, "inject", "dns-break", seed=1)
    try:
        assert rec.data["replicas"] == replicas
        assert c.get("deployment", "-n", "kube-system", "kube-dns")["spec"]["replicas"] == 0
        wait_for("kube-dns pods to go (kubectl -n kube-system get pods)", lambda: not dns() or None, 60)
    finally:
        run_fault(c.state, "revert", rec.id)
    assert c.get("deployment", "-n", "kube-system", "kube-dns")["spec"]["replicas"] == replicas
    wait_for("kube-dns Ready again", lambda: any(pod_ready(p) for p in dns()), 90)


def test_control_plane_restart_keeps_nodes_and_pods(docker_cluster):
    c = docker_cluster
    started = {n: docker("inspect", "-f", "{{.State.StartedAt}}", c.container(n)).stdout.strip()
               for n in ("node-1", "node-2", "node-3")}
    uids = {p["metadata"]["name"]: p["metadata"]["uid"] for p in c.get("pods", "-n", "kube-system")["items"]}
    old_pid = c.proc.pid if c.proc else None
    rec = run_fault(c.state, "inject", "control-plane-restart", seed=1)
    c.proc = None            # the fixture's child was stopped (and reaped) by the fault; `down` stops the new one
    assert rec.data["old_pid"] == old_pid and rec.data["signal"] == "SIGTERM"
    assert int((c.state / "controlplane.pid").read_text()) == rec.data["new_pid"]
    wait_for("3 Ready nodes after the restart",
             lambda: sum(node_ready(n) for n in c.get("nodes")["items"]) == 3, 60)
    for n, t in started.items():                                   # the same containers, never restarted
        assert docker("inspect", "-f", "{{.State.StartedAt}}", c.container(n)).stdout.strip() == t
    after = {p["metadata"]["name"]: p["metadata"]["uid"] for p in c.get("pods", "-n", "kube-system")["items"]}
    assert after == uids
    run_fault(c.state, "revert", rec.id)
    assert FaultLog(c.state).active() == []
