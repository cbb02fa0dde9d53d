"""``kubetui up --control-planes 3 --store etcd --provider docker``: kind's three control-plane node containers
(an etcd member, API server, scheduler, controller manager and kubelet each) plus a worker, behind the host's
API load balancer. kubectl (the real one) keeps working and pods keep running when a control-plane node is
paused or killed; the scheduler's and controller manager's Leases move; ``kubetui down`` removes it all.

One cluster for the module (Docker tests are slow); the tests run in file order on it."""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import time
from pathlib import Path

import pytest

from kubetui.cluster.ha import member_names, read_members
from kubetui.cmdutil import kubectl_path
from tests.cluster_process import kubetui

pytestmark = [pytest.mark.docker, pytest.mark.etcd, pytest.mark.slow]

NAME = f"cpdocker{secrets.token_hex(3)}"
ROLE = "node-role.kubernetes.io/control-plane"


def _kubectl(state: Path, *args: str, timeout: str = "10s") -> subprocess.CompletedProcess:
    return subprocess.run([kubectl_path(), "--kubeconfig", str(state / "kubeconfig"), "--request-timeout", timeout,
                           *args], capture_output=True, text=True, timeout=60)


def _json(state: Path, *args: str) -> dict:
    r = _kubectl(state, *args, "-o", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _wait(what: str, check, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def _holders(state: Path) -> dict[str, str]:
    r = _kubectl(state, "get", "lease", "-n", "kube-system", "-o", "json")
    if r.returncode != 0:
        return {}
    return {i["metadata"]["name"]: (i["spec"].get("holderIdentity") or "") for i in json.loads(r.stdout)["items"]}


def _available(state: Path, deploy: str, n: int) -> bool:
    r = _kubectl(state, "get", "deploy", deploy, "-o", "jsonpath={.status.availableReplicas}")
    return r.returncode == 0 and r.stdout == str(n)


def _docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60).stdout


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    state = tmp_path_factory.mktemp("hadocker") / NAME
    r = kubetui("up", "--name", NAME, "--state-dir", str(state), "--provider", "docker", "--nodes", "1",
                "--api-port", "0", "--store", "etcd", "--control-planes", "3", timeout=600)
    try:
        assert r.returncode == 0, r.stderr[-3000:]
        yield state
    finally:
        kubetui("down", "--state-dir", str(state), "--purge", timeout=300)


def _faults(state: Path):
    from kubetui.faults import context_for_state_dir
    return context_for_state_dir(state)


def test_three_control_plane_containers_shown_as_control_plane_nodes(cluster: Path) -> None:
    cps = member_names(NAME, 3)
    assert cps == [f"{NAME}-control-plane", f"{NAME}-control-plane2", f"{NAME}-control-plane3"]  # kind's names
    running = _docker("ps", "--filter", f"label=io.kubetui.cluster={NAME}", "--format", "{{.Names}}").split()
    assert sorted(running) == sorted([f"kubetui-{NAME}-{n}" for n in cps] + [f"kubetui-{NAME}-node-1"])
    r = _kubectl(cluster, "get", "nodes")
    assert r.returncode == 0, r.stderr
    roles = {line.split()[0]: line.split()[2] for line in r.stdout.splitlines()[1:]}
    assert roles == {**{n: "control-plane" for n in cps}, "node-1": "<none>"}, r.stdout  # kubectl's ROLES column
    for node in _json(cluster, "get", "nodes")["items"]:
        if node["metadata"]["name"] in cps:
            assert node["metadata"]["labels"][ROLE] == ""
            assert {"key": ROLE, "effect": "NoSchedule"} in node["spec"]["taints"]  # kubeadm's mark-control-plane
    # an etcd member in each container, reached by etcdctl on the ports published on 127.0.0.1
    doc = json.loads((cluster / "etcd.json").read_text())
    assert sorted(doc["members"]) == cps and len(doc["endpoint"].split(",")) == 3
    assert all(m["phase"] == "ready" for m in read_members(cluster).values())
    # the control-plane view (TUI's 5), answered by an API server in a container: every node runs, its
    # API server is ready behind the load balancer, one etcd member leads
    from kubetui.client.views import CONTROLPLANE_STATUS_PATH

    def status() -> dict:
        r = _kubectl(cluster, "get", "--raw", CONTROLPLANE_STATUS_PATH)
        return json.loads(r.stdout) if r.returncode == 0 else {}

    st = _wait("the control-plane view with three running nodes", lambda: (s := status()) and all(
        n["process"] == "Running" and n["apiServerReady"] for n in s["nodes"]) and len(s["nodes"]) == 3 and s,
        timeout=30)
    assert st["topology"] == "stacked-etcd" and st["servedBy"] in cps and not st["errors"], st
    assert sorted(m["name"] for m in st["etcd"]["members"]) == cps and st["etcd"]["leader"] in cps


def test_an_ingress_and_a_load_balancer_service_answer_on_the_hosts_ports(cluster: Path) -> None:
    """kind users reach their ingress controller on the host (extraPortMappings); here the ports kubetui up
    printed (cluster.json's) go through the host's load balancer to a control-plane node's data plane,
    which reaches the pod on the worker through its kubelet. Before: it listened on the containers' loopback."""
    from tests.ingress.helpers import hello, service
    settings = json.loads((cluster / "cluster.json").read_text())
    http, https = settings["ingress_http_port"], settings["ingress_https_port"]
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "hello"},
               "spec": {"rules": [{"host": "hello.example", "http": {"paths": [{"path": "/", "pathType": "Prefix",
                        "backend": {"service": {"name": "hello", "port": {"number": 80}}}}]}}]}}
    for obj in (hello("hello", 1), service("hello"), ingress):
        r = subprocess.run([kubectl_path(), "--kubeconfig", str(cluster / "kubeconfig"), "apply", "-f", "-"],
                           input=json.dumps(obj), capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
    status = _wait("the Ingress's address", lambda: _json(cluster, "get", "ingress", "hello")["status"].get(
        "loadBalancer", {}).get("ingress"))
    assert status == [{"ip": "127.0.0.1", "ports": [{"port": http, "protocol": "TCP"},
                                                    {"port": https, "protocol": "TCP"}]}]

    def curl(url: str) -> str:
        r = subprocess.run(["curl", "-sk", "-m", "5", "-H", "Host: hello.example", url], capture_output=True,
                           text=True, timeout=30)
        return r.stdout if r.returncode == 0 and r.stdout.startswith("pod=hello-") else ""
    assert "node=node-1" in _wait("the hello pod on 127.0.0.1's ingress HTTP port", lambda: curl(
        f"http://127.0.0.1:{http}/"), timeout=180)
    assert _wait("the same over HTTPS", lambda: curl(f"https://127.0.0.1:{https}/"), timeout=30)
    # a type: LoadBalancer Service's port answers on 127.0.0.1 too (cloud-provider-kind's part, run on the host)
    from kubetui.netutil import free_port
    port = free_port()
    lb = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "hello-lb"},
          "spec": {"type": "LoadBalancer", "selector": {"app": "hello"},
                   "ports": [{"name": "http", "port": port, "targetPort": 8080}]}}
    r = subprocess.run([kubectl_path(), "--kubeconfig", str(cluster / "kubeconfig"), "apply", "-f", "-"],
                       input=json.dumps(lb), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert _wait("the LoadBalancer Service's address", lambda: _json(cluster, "get", "service", "hello-lb")[
        "status"].get("loadBalancer", {}).get("ingress")) == [{"ip": "127.0.0.1", "ipMode": "Proxy"}]
    assert _wait("the hello pod on the LoadBalancer Service's port", lambda: curl(f"http://127.0.0.1:{port}/"),
                 timeout=60)


def test_requests_keep_succeeding_while_a_control_plane_node_is_paused(cluster: Path) -> None:
    from kubetui.faults import inject, revert

    async def go() -> None:
        ctx = _faults(cluster)
        try:
            rec = await inject(ctx, "control-plane-node-pause", seed=11)
            assert _docker("inspect", "-f", "{{.State.Status}}", f"kubetui-{NAME}-{rec.target}").strip() == "paused"
            # if the paused node's etcd member led, reads that need etcd's quorum fail until the others have
            # elected a leader; after that the load balancer keeps every request off the frozen API server
            # (a connection it does not answer goes to the next one; then its /readyz checks time out)
            _wait("a request served after etcd's election", lambda: _kubectl(
                cluster, "get", "nodes", "-o", "name").returncode == 0, timeout=30)
            for i in range(6):
                r = _kubectl(cluster, "get", "nodes", "-o", "name")
                assert r.returncode == 0, f"request {i} through the load balancer: {r.stderr}"
            # two of three etcd members keep quorum: writes commit (once a new raft leader is elected, if the
            # paused member led: a write during the election fails with "etcdserver: request timed out")
            _wait("a write with one etcd member paused", lambda: _kubectl(
                cluster, "create", "configmap", "while-paused", "--from-literal=a=b").returncode == 0 or _kubectl(
                cluster, "get", "configmap", "while-paused").returncode == 0, timeout=60)
            await revert(ctx, rec.id)
            assert _docker("inspect", "-f", "{{.State.Status}}", f"kubetui-{NAME}-{rec.target}").strip() == "running"
        finally:
            await ctx.client.close()

    asyncio.run(go())
    _wait("every node Ready after the unpause", lambda: all(
        any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])
        for n in _json(cluster, "get", "nodes")["items"]))


def test_etcd_member_kill_and_leader_kill_hold_the_component_in_its_container(cluster: Path) -> None:
    """On a Docker node the supervisor restarts what exits (the kubelet's static pods); these faults hold the
    component first, as moving its manifest out would, and the revert lets the supervisor start it again."""
    from kubetui.faults import inject, revert

    def pgrep(node: str, *pattern: str) -> bool:
        return subprocess.run(["docker", "exec", f"kubetui-{NAME}-{node}", "pgrep", *pattern],
                              capture_output=True, timeout=60).returncode == 0

    async def go() -> None:
        ctx = _faults(cluster)
        try:
            etcd = await inject(ctx, "etcd-member-kill", seed=5)
            await asyncio.sleep(2)  # longer than the supervisor's restart delay
            assert not pgrep(etcd.target, "-x", "etcd"), "held: not restarted"
            _wait("a write with two of three etcd members", lambda: _kubectl(
                cluster, "create", "configmap", "etcd-2-of-3", "--from-literal=a=b").returncode == 0 or _kubectl(
                cluster, "get", "configmap", "etcd-2-of-3").returncode == 0, timeout=60)
            await revert(ctx, etcd.id)
            assert pgrep(etcd.target, "-x", "etcd")

            holder = _wait("a scheduler leader", lambda: _holders(cluster).get("kube-scheduler"))
            leader = await inject(ctx, "leader-kill", target="scheduler", seed=3)
            assert leader.data["node"] == holder.rpartition("_")[0]
            assert not pgrep(leader.data["node"], "-f", "kubetui.cluster.member")
            _wait("the scheduler Lease moved", lambda: _holders(cluster).get("kube-scheduler", "").rpartition("_")[0]
                  not in ("", leader.data["node"]))
            await revert(ctx, leader.id)
            assert read_members(cluster)[leader.data["node"]]["phase"] == "ready"
        finally:
            await ctx.client.close()

    asyncio.run(go())


def test_killing_a_control_plane_node_moves_the_leaders_and_keeps_pods_running(cluster: Path) -> None:
    from kubetui.faults import inject, revert

    r = _kubectl(cluster, "create", "deployment", "before", "--image=busybox", "--replicas=1", "--", "sleep", "3600")
    assert r.returncode == 0, r.stderr
    _wait("the first Deployment available", lambda: _available(cluster, "before", 1))
    pods = {p["metadata"]["name"] for p in _json(cluster, "get", "pods", "-l", "app=before")["items"]}
    holders = _wait("both Leases held", lambda: (h := _holders(cluster)) and all(
        h.get(n) for n in ("kube-scheduler", "kube-controller-manager")) and h)
    victim = holders["kube-controller-manager"].rpartition("_")[0]

    async def kill() -> None:
        ctx = _faults(cluster)
        try:
            rec = await inject(ctx, "control-plane-node-kill", target=victim, seed=2)
            assert rec.data["docker"]
            assert _docker("inspect", "-f", "{{.State.Status}}", f"kubetui-{NAME}-{victim}").strip() == "exited"
        finally:
            await ctx.client.close()

    asyncio.run(kill())
    # kubectl goes on through the load balancer; if the killed node held etcd's raft leadership, a consistent
    # read fails ("etcdserver: leader changed") until the survivors have elected a leader (about a second)
    _wait("kubectl get nodes through the load balancer after the kill",
          lambda: _kubectl(cluster, "get", "nodes").returncode == 0, timeout=30)
    moved = _wait("both Leases held by survivors", lambda: (h := _holders(cluster)) and all(
        h.get(n) and h[n].rpartition("_")[0] not in ("", victim)
        for n in ("kube-scheduler", "kube-controller-manager")) and h)
    assert moved["kube-controller-manager"] != holders["kube-controller-manager"]
    # the new controller manager creates the ReplicaSet and pods, the new scheduler places them
    _wait("the new Deployment created (after etcd's election, if its leader was killed)", lambda: _kubectl(
        cluster, "create", "deployment", "after", "--image=busybox", "--replicas=2", "--", "sleep", "3600"
    ).returncode == 0 or _kubectl(cluster, "get", "deploy", "after").returncode == 0, timeout=60)
    _wait("the new Deployment available", lambda: _available(cluster, "after", 2))
    after = _json(cluster, "get", "pods", "-l", "app=after")["items"]
    assert {p["spec"]["nodeName"] for p in after} == {"node-1"}, "not on the tainted control-plane nodes"
    still = _json(cluster, "get", "pods", "-l", "app=before")["items"]
    assert {p["metadata"]["name"] for p in still} == pods and all(p["status"]["phase"] == "Running" for p in still)

    async def bring_back() -> None:
        from kubetui.faults import FaultLog
        ctx = _faults(cluster)
        try:
            for rec in FaultLog(cluster).active():
                await revert(ctx, rec.id)
        finally:
            await ctx.client.close()

    asyncio.run(bring_back())
    assert read_members(cluster)[victim]["phase"] == "ready", "the restarted node's control plane rejoined"
    _wait(f"{victim} Ready again", lambda: any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in _json(cluster, "get", "node", victim)["status"]["conditions"]))


def test_down_removes_the_control_plane_containers_and_their_volumes(cluster: Path) -> None:
    r = kubetui("down", "--state-dir", str(cluster), timeout=300)
    assert r.returncode == 0, r.stderr
    assert _docker("ps", "-a", "-q", "--filter", f"label=io.kubetui.cluster={NAME}").split() == []
    volumes = _docker("volume", "ls", "-q", "--filter", f"label=io.kubetui.cluster={NAME}").split()
    assert not [v for v in volumes if v.endswith(("-etcd", "-kubelet"))], volumes
