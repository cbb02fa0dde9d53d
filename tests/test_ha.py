"""``kubetui up --control-planes 3 --store etcd`` (local provider): three control-plane processes on a
three-member etcd cluster behind the API load balancer; kubectl and the controllers survive ``kill -9``
of a control-plane process, and the scheduler's and controller manager's Leases move to a survivor."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from kubetui.cluster.ha import initial_cluster, member_names, read_members
from kubetui.cmd.cluster import settings_from_args
from kubetui.cmdutil import CLIError
from kubetui.store.etcdserver import EtcdServer
from tests.cluster_process import kubetui

KUBECTL = shutil.which("kubectl")


def test_member_names_and_initial_cluster(tmp_path: Path) -> None:
    assert member_names("lab", 3) == ["lab-control-plane", "lab-control-plane2", "lab-control-plane3"]
    a = EtcdServer(tmp_path / "a", 1, 2380, tmp_path / "a.log", name="a", tls=object(), initial_cluster="-")
    b = EtcdServer(tmp_path / "b", 1, 2381, tmp_path / "b.log", name="b", tls=object(), initial_cluster="-")
    assert initial_cluster([a, b]) == "a=https://127.0.0.1:2380,b=https://127.0.0.1:2381", "peers talk TLS"
    single = EtcdServer(tmp_path / "c", 1, 2382, tmp_path / "c.log", name="c")
    assert single.peer_url == "http://127.0.0.1:2382", "the single-member default is unchanged"


@pytest.mark.parametrize("flags, wording", [
    ({"store": "tinydb", "provider": "local"}, "needs --store etcd"),
    ({"store": "etcd", "provider": "simulated"}, "--provider local or docker"),
])
def test_several_control_planes_need_etcd_and_local(tmp_path: Path, flags: dict, wording: str) -> None:
    args = SimpleNamespace(control_planes=3, **flags)
    with pytest.raises(CLIError, match=wording):
        settings_from_args(args, tmp_path / "c")


def _kubectl(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([KUBECTL, "--kubeconfig", str(kubeconfig), "--request-timeout", "10s", *args],
                          capture_output=True, text=True, timeout=60)


def _holders(kubeconfig: Path) -> dict[str, str]:
    r = _kubectl(kubeconfig, "get", "lease", "-n", "kube-system", "-o", "json")
    assert r.returncode == 0, r.stderr
    return {i["metadata"]["name"]: (i["spec"].get("holderIdentity") or "") for i in json.loads(r.stdout)["items"]}


def _node_of(identity: str) -> str:
    return identity.rpartition("_")[0]


def _wait(what: str, check, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def ha_cluster(tmp_path_factory):
    state = tmp_path_factory.mktemp("ha") / "c"
    r = kubetui("up", "--state-dir", str(state), "--provider", "local", "--nodes", "1",
                "--api-port", "0", "--store", "etcd", "--control-planes", "3", timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    try:
        yield state
    finally:
        kubetui("down", "--state-dir", str(state))


@pytest.mark.etcd
@pytest.mark.skipif(KUBECTL is None, reason="needs kubectl")
def test_three_control_planes_survive_a_killed_leader(ha_cluster: Path) -> None:
    kubeconfig = ha_cluster / "kubeconfig"
    members = read_members(ha_cluster)
    assert sorted(members) == member_names(json.loads((ha_cluster / "cluster.json").read_text())["name"], 3)
    assert all(m["phase"] == "ready" for m in members.values())
    server = json.loads(Path(ha_cluster / "etcd.json").read_text())
    assert len(server["endpoint"].split(",")) == 3 and len(server["members"]) == 3

    # one holder per component, each one of the control-plane nodes
    holders = _wait("both Leases held", lambda: (h := _holders(kubeconfig)) and all(
        h.get(n) for n in ("kube-scheduler", "kube-controller-manager")) and h)
    for lease in ("kube-scheduler", "kube-controller-manager"):
        assert _node_of(holders[lease]) in members, holders

    r = _kubectl(kubeconfig, "create", "deployment", "web", "--image=busybox", "--replicas=1", "--", "sleep", "3600")
    assert r.returncode == 0, r.stderr
    _wait("1 available replica", lambda: _kubectl(kubeconfig, "get", "deploy", "web", "-o",
                                                  "jsonpath={.status.availableReplicas}").stdout == "1")

    # a kubelet on each control-plane node, labelled and tainted by kubeadm's mark-control-plane phase
    r = _kubectl(kubeconfig, "get", "nodes", "-o", "json")
    assert r.returncode == 0, r.stderr
    nodes = {n["metadata"]["name"]: n for n in json.loads(r.stdout)["items"]}
    for name in members:
        assert "node-role.kubernetes.io/control-plane" in nodes[name]["metadata"]["labels"]
        assert {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"} in nodes[name]["spec"]["taints"]
    r = _kubectl(kubeconfig, "get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].spec.nodeName}")
    assert r.stdout and set(r.stdout.split()) <= set(nodes) - set(members), "no pod on a tainted control plane"

    # kill -9 the process of the controller manager's leader: a control-plane node failure
    victim = _node_of(holders["kube-controller-manager"])
    os.kill(members[victim]["pid"], signal.SIGKILL)
    r = _kubectl(kubeconfig, "get", "nodes")
    assert r.returncode == 0, f"the load balancer sends kubectl to a live API server at once: {r.stderr}"

    moved = _wait("both Leases held by survivors", lambda: (h := _holders(kubeconfig)) and all(
        h.get(n) and _node_of(h[n]) != victim for n in ("kube-scheduler", "kube-controller-manager")) and h)
    assert _node_of(moved["kube-controller-manager"]) in set(members) - {victim}

    # the new controller manager reconciles the Deployment; the new scheduler places its pods
    r = _kubectl(kubeconfig, "scale", "deployment", "web", "--replicas=2")
    assert r.returncode == 0, r.stderr
    _wait("2 available replicas", lambda: _kubectl(kubeconfig, "get", "deploy", "web", "-o",
                                                   "jsonpath={.status.availableReplicas}").stdout == "2")


@pytest.mark.etcd
@pytest.mark.skipif(KUBECTL is None, reason="needs kubectl")
def test_ingress_answers_on_the_clusters_ports_through_any_control_plane_node(ha_cluster: Path) -> None:
    """The ingress ports kubetui up printed (cluster.json's) answer from this machine whichever control-plane
    node leads, and after one died (runs after the kill test): every node's ingress data plane is programmed
    and the host's load balancer fronts them; the Ingress's status names those ports, not a node's own."""
    from tests.ingress.helpers import hello, service
    kubeconfig = ha_cluster / "kubeconfig"
    settings = json.loads((ha_cluster / "cluster.json").read_text())
    http, https = settings["ingress_http_port"], settings["ingress_https_port"]
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "hello"},
               "spec": {"rules": [{"host": "hello.example", "http": {"paths": [{"path": "/", "pathType": "Prefix",
                        "backend": {"service": {"name": "hello", "port": {"number": 80}}}}]}}]}}
    for obj in (hello("hello", 1), service("hello"), ingress):
        r = subprocess.run([KUBECTL, "--kubeconfig", str(kubeconfig), "apply", "-f", "-"], input=json.dumps(obj),
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
    status = _wait("the Ingress's address", lambda: _kubectl(kubeconfig, "get", "ingress", "hello", "-o",
                                                             "jsonpath={.status.loadBalancer.ingress}").stdout)
    assert json.loads(status) == [{"ip": "127.0.0.1", "ports": [{"port": http, "protocol": "TCP"},
                                                                {"port": https, "protocol": "TCP"}]}]

    def curl() -> str:
        r = subprocess.run(["curl", "-s", "-m", "5", "-H", "Host: hello.example", f"http://127.0.0.1:{http}/"],
                           capture_output=True, text=True, timeout=30)
        return r.stdout if r.returncode == 0 and r.stdout.startswith("pod=hello-") else ""
    assert _wait("the hello pod through the ingress port", curl)


@pytest.mark.etcd
@pytest.mark.skipif(KUBECTL is None, reason="needs kubectl")
def test_control_plane_faults_are_seeded_and_reversible(ha_cluster: Path) -> None:
    """leader-kill, etcd-member-kill and control-plane-node-kill, each reverted (runs after the kill test:
    one control-plane process may already be down, as a teacher may find a cluster)."""
    import asyncio

    from kubetui.cluster.ha import etcd_pid, member_alive
    from kubetui.faults import context_for_state_dir, inject, revert

    kubeconfig = ha_cluster / "kubeconfig"

    def alive() -> set[str]:
        return {n for n, r in read_members(ha_cluster).items() if member_alive(r, n)}

    async def go() -> None:
        ctx = context_for_state_dir(ha_cluster)
        try:
            holder = _wait("a scheduler leader", lambda: _holders(kubeconfig).get("kube-scheduler"))
            rec = await inject(ctx, "leader-kill", target="scheduler", seed=3)
            assert rec.data["node"] == _node_of(holder) and rec.data["node"] not in alive()
            _wait("the scheduler Lease moved", lambda: _node_of(_holders(kubeconfig).get("kube-scheduler", ""))
                  not in ("", rec.data["node"]))
            await revert(ctx, rec.id)
            assert rec.data["node"] in alive(), "reverting starts the control-plane process again"

            one = await inject(ctx, "etcd-member-kill", seed=7)
            assert etcd_pid(ha_cluster, one.target) is None
            # two of three members keep quorum: writes succeed (once a new raft leader is elected, if the
            # killed member led: a write during the election fails with "etcdserver: request timed out")
            _wait("a write with two of three etcd members", lambda: _kubectl(
                kubeconfig, "create", "configmap", "quorum-2-of-3", "--from-literal=a=b").returncode == 0 or _kubectl(
                kubeconfig, "get", "configmap", "quorum-2-of-3").returncode == 0, timeout=30)
            await revert(ctx, one.id)
            assert etcd_pid(ha_cluster, one.target) is not None

            node = sorted(alive())[0]
            down = await inject(ctx, "control-plane-node-kill", target=node, seed=1)
            assert node not in alive() and etcd_pid(ha_cluster, node) is None
            assert down.data["kubelet"] and not (ha_cluster / "nodes" / node / "kubelet.pid").exists(), \
                "the node's kubelet dies with it"
            r = _kubectl(kubeconfig, "get", "configmap", "quorum-2-of-3")
            assert r.returncode == 0, r.stderr
            await revert(ctx, down.id)
            assert node in alive() and etcd_pid(ha_cluster, node) is not None
            assert (ha_cluster / "nodes" / node / "kubelet.pid").exists(), "and its kubelet is started again"
        finally:
            await ctx.client.close()

    asyncio.run(go())


@pytest.mark.etcd
@pytest.mark.skipif(KUBECTL is None, reason="needs kubectl")
def test_quorum_loss_fails_writes_with_etcds_wording_and_recovers(ha_cluster: Path) -> None:
    import asyncio

    from kubetui.faults import context_for_state_dir, inject, revert

    kubeconfig = ha_cluster / "kubeconfig"

    async def go() -> None:
        ctx = context_for_state_dir(ha_cluster)
        try:
            rec = await inject(ctx, "etcd-quorum-loss", seed=5)
            assert len(rec.data["killed"]) == 2
            r = _kubectl(kubeconfig, "create", "configmap", "no-quorum", "--from-literal=a=b")
            assert r.returncode != 0, "no write commits without a majority"
            assert ("etcdserver: request timed out" in r.stderr or "context deadline exceeded" in r.stderr), r.stderr
            assert "etcdserver: etcdserver:" not in r.stderr, r.stderr
            await revert(ctx, rec.id)
            _wait("a write after the quorum is back", lambda: _kubectl(
                kubeconfig, "create", "configmap", "quorum-back", "--from-literal=a=b").returncode == 0 or _kubectl(
                kubeconfig, "get", "configmap", "quorum-back").returncode == 0, timeout=60)
        finally:
            await ctx.client.close()

    asyncio.run(go())


@pytest.mark.etcd
def test_the_control_plane_view_and_the_failover_bench(ha_cluster: Path) -> None:
    """The view's API through the load balancer of a real three-control-plane cluster, and
    ``kubetui bench failover``'s rounds end to end (one of each; its figures are not asserted)."""
    import asyncio

    from kubetui.bench.failover import run_bench
    from kubetui.client import views
    from kubetui.client.http import HTTPClient

    async def view() -> dict:
        client = HTTPClient.from_kubeconfig(ha_cluster / "kubeconfig")
        try:
            for _ in range(3):
                await client.request("GET", "/api/v1/namespaces")
            return await views.control_plane_status(client)
        finally:
            await client.close()

    doc = asyncio.run(view())
    names = sorted(read_members(ha_cluster))
    assert doc["topology"] == "stacked-etcd" and doc["servedBy"] in names, doc
    assert sorted(n["name"] for n in doc["nodes"]) == names
    assert sorted(m["name"] for m in doc["etcd"]["members"]) == names and doc["etcd"]["leader"] in names
    assert sorted(a["node"] for a in doc["apiServers"]) == names, "the load balancer's backends, by node"
    assert doc["recentRequests"] and set(doc["recentRequests"]) <= set(names)
    assert {r["name"] for r in doc["leases"]} == {"kube-scheduler", "kube-controller-manager"}

    out = asyncio.run(run_bench(ha_cluster, rounds=1, workers=1, timeout=60))
    assert [r["component"] for r in out["leader"]] == ["scheduler", "controller-manager"]
    assert all(r["newLeader"] in names and r["newLeader"] != r["killed"] for r in out["leader"]), out["leader"]
    assert out["api"][0]["killed"] in names and out["api"][0]["fresh"]["requests"] > 0


@pytest.mark.skipif(KUBECTL is None, reason="needs kubectl")
def test_control_plane_node_pause_freezes_its_processes_and_kubectl_goes_on(ha_cluster: Path) -> None:
    """control-plane-node-pause on local processes: SIGSTOP of the node's control-plane and etcd process
    groups (a frozen machine: connections accepted, never answered); the load balancer sends kubectl to
    another API server; the revert's SIGCONT lets them run again."""
    import asyncio

    from kubetui.cluster.ha import etcd_pid
    from kubetui.faults import context_for_state_dir, inject, revert
    from kubetui.faults.controlplane import _stopped

    kubeconfig = ha_cluster / "kubeconfig"

    async def go() -> None:
        ctx = context_for_state_dir(ha_cluster)
        try:
            rec = await inject(ctx, "control-plane-node-pause", seed=4)
            pid = int(read_members(ha_cluster)[rec.target]["pid"])
            etcd = etcd_pid(ha_cluster, rec.target)
            assert _stopped(pid) and etcd is not None and _stopped(etcd)
            # if the frozen etcd member led, consistent reads fail ("etcdserver: leader changed") until the
            # others have elected a leader; after that every request is served by a live API server
            _wait("a request served after etcd's election",
                  lambda: _kubectl(kubeconfig, "get", "nodes", "-o", "name").returncode == 0, timeout=30)
            for i in range(4):
                r = _kubectl(kubeconfig, "get", "nodes", "-o", "name")
                assert r.returncode == 0, f"request {i}: {r.stderr}"
            await revert(ctx, rec.id)
            assert not _stopped(pid) and not _stopped(etcd)
        finally:
            await ctx.client.close()

    asyncio.run(go())
