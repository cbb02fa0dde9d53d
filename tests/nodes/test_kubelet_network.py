"""The kubelet's pod network (kubetui/kubelet/network.py): podCIDR from the Node, routes to the other nodes.

Pure functions get table tests; ``NodeNetwork`` and the kubelet run against the
real API server, with a fake ``ip`` that keeps a route table in memory (the
real one is exercised in the Docker acceptance tests, tests/nodes/test_docker_cluster.py).
"""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from kubetui.api.resources import resource_for
from kubetui.kubelet.apiclient import APIClient
from kubetui.kubelet.kubelet import Kubelet, KubeletConfig
from kubetui.kubelet.network import (ROUTE_PROTO, NodeNetwork, parse_routes, peer_routes, route_commands,
                                     set_sysctls)
from kubetui.runtime.clock import RealClock
from kubetui.runtime.process import ProcessRuntime
from tests.kubelet.cluster import NODE, Cluster

NODES = resource_for("nodes")


def node(name: str, cidr: str | None = None, ip: str | None = None) -> dict:
    n = {"metadata": {"name": name}, "spec": {}, "status": {"addresses": []}}
    if cidr:
        n["spec"]["podCIDR"] = cidr
    if ip:
        n["status"]["addresses"] = [{"type": "Hostname", "address": name}, {"type": "InternalIP", "address": ip}]
    return n


@pytest.mark.parametrize("nodes, expected", [
    ([], {}),
    ([node("me", "10.244.1.0/24", "172.18.0.2")], {}),                      # never a route to itself
    ([node("me", "10.244.1.0/24", "172.18.0.2"), node("b", "10.244.2.0/24", "172.18.0.3")],
     {"10.244.2.0/24": "172.18.0.3"}),
    ([node("b", "10.244.2.0/24")], {}),                                     # no InternalIP yet
    ([node("b", None, "172.18.0.3")], {}),                                  # no podCIDR yet
    ([node("b", "10.244.2.7/24", "172.18.0.3")], {"10.244.2.0/24": "172.18.0.3"}),   # normalised
    ([node("b", "not-a-cidr", "172.18.0.3"), node("c", "10.244.3.0/24", "172.18.0.4")],
     {"10.244.3.0/24": "172.18.0.4"}),
])
def test_peer_routes(nodes, expected):
    assert peer_routes(nodes, "me") == expected


@pytest.mark.parametrize("text, expected", [
    ("", {}),
    ("10.244.2.0/24 via 172.18.0.3 dev eth0 proto 77 \n10.244.3.0/24 via 172.18.0.4 dev eth1 proto 77 \n",
     {"10.244.2.0/24": "172.18.0.3", "10.244.3.0/24": "172.18.0.4"}),
    ("10.9.9.9 via 172.18.0.9 dev eth0 proto 77\n", {"10.9.9.9/32": "172.18.0.9"}),
    ("10.244.1.0/24 dev cni0 proto kernel scope link src 10.244.1.1\n", {}),
])
def test_parse_routes(text, expected):
    assert parse_routes(text) == expected


@pytest.mark.parametrize("current, desired, expected", [
    ({}, {}, []),
    ({}, {"10.244.2.0/24": "172.18.0.3"},
     [["ip", "route", "replace", "10.244.2.0/24", "via", "172.18.0.3", "proto", ROUTE_PROTO]]),
    ({"10.244.2.0/24": "172.18.0.3"}, {"10.244.2.0/24": "172.18.0.3"}, []),
    # the node came back with another address: the route follows it
    ({"10.244.2.0/24": "172.18.0.3"}, {"10.244.2.0/24": "172.18.0.9"},
     [["ip", "route", "replace", "10.244.2.0/24", "via", "172.18.0.9", "proto", ROUTE_PROTO]]),
    # the node was deleted: only our own (proto 77) routes are ever removed
    ({"10.244.2.0/24": "172.18.0.3"}, {}, [["ip", "route", "del", "10.244.2.0/24", "proto", ROUTE_PROTO]]),
])
def test_route_commands(current, desired, expected):
    assert route_commands(current, desired) == expected


def test_set_sysctls_writes_what_exists_and_reports_the_rest(tmp_path):
    (tmp_path / "net" / "ipv4").mkdir(parents=True)
    (tmp_path / "net" / "ipv4" / "ip_forward").write_text("0")
    missing = set_sysctls(tmp_path)
    assert (tmp_path / "net" / "ipv4" / "ip_forward").read_text() == "1"
    assert len(missing) == 1 and missing[0].startswith("net.bridge.bridge-nf-call-iptables")


class FakeIP:
    """``ip route`` over an in-memory table: show/replace/del with ``proto``."""

    def __init__(self) -> None:
        self.table: dict[str, str] = {}
        self.calls: list[list[str]] = []

    def __call__(self, argv: list[str]) -> subprocess.CompletedProcess:
        self.calls.append(argv)
        assert argv[:2] == ["ip", "route"] and argv[-2:] == ["proto", ROUTE_PROTO], argv
        verb = argv[2]
        out = ""
        if verb == "show":
            out = "".join(f"{d} via {v} dev eth0 proto {ROUTE_PROTO} \n" for d, v in self.table.items())
        elif verb == "replace":
            self.table[argv[3]] = argv[5]
        elif verb == "del":
            if self.table.pop(argv[3], None) is None:
                return subprocess.CompletedProcess(argv, 2, "", "RTNETLINK answers: No such process")
        return subprocess.CompletedProcess(argv, 0, out, "")


@pytest.fixture
async def api_cluster(tmp_path, kubectl_bin):
    c = await Cluster().start(tmp_path, kubectl_bin, kubelet=False)
    yield c
    await c.stop()


async def put_node(c: Cluster, name: str, cidr: str | None, ip: str | None) -> None:
    try:
        obj = await c.registry.get(NODES, None, name)
    except Exception:  # noqa: BLE001 - not there yet
        obj = await c.registry.create(NODES, None, {"apiVersion": "v1", "kind": "Node",
                                                     "metadata": {"name": name}, "spec": {}})
    if cidr:
        obj = await c.registry.patch(NODES, None, name, {"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}},
                                     "application/merge-patch+json")
    if ip:
        await c.registry.patch(NODES, None, name, {"status": {"addresses": [{"type": "InternalIP", "address": ip}]}},
                               "application/merge-patch+json", subresource="status")


async def until(pred, timeout: float = 5.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not pred():
        assert loop.time() < deadline, "condition never held"
        await asyncio.sleep(0.02)


async def test_node_network_follows_nodes_and_repairs_lost_routes(api_cluster):
    c = api_cluster
    fake = FakeIP()
    api = APIClient(c.server.url, token=c.auth.node_token("me"), ca_data=c.pki.ca_pem().decode())
    net = NodeNetwork(api, "me", manage_routes=True, clock=RealClock(), runner=fake, resync_seconds=0.05)
    got: list[str] = []
    net.on_pod_cidr = got.append
    await put_node(c, "me", None, "172.18.0.2")
    await put_node(c, "b", "10.244.2.0/24", "172.18.0.3")
    tasks = [asyncio.create_task(net.run()), asyncio.create_task(net.resync_loop())]
    try:
        await until(lambda: fake.table == {"10.244.2.0/24": "172.18.0.3"})
        assert not net.pod_cidr_known.is_set() and got == []
        # The node IPAM controller gives this node its podCIDR: taken once, as the kubelet does.
        await put_node(c, "me", "10.244.1.0/24", None)
        await asyncio.wait_for(net.pod_cidr_known.wait(), 5)
        assert got == ["10.244.1.0/24"] and net.pod_cidr == "10.244.1.0/24"
        # A third node joins; then node b comes back with another address.
        await put_node(c, "c", "10.244.3.0/24", "172.18.0.4")
        await until(lambda: fake.table == {"10.244.2.0/24": "172.18.0.3", "10.244.3.0/24": "172.18.0.4"})
        await put_node(c, "b", None, "172.18.0.9")
        await until(lambda: fake.table.get("10.244.2.0/24") == "172.18.0.9")
        # The interface was reconnected and the kernel dropped the routes: the resync puts them back.
        fake.table.clear()
        await until(lambda: len(fake.table) == 2)
        # A deleted node's route goes away.
        await c.registry.delete(NODES, None, "c")
        await until(lambda: fake.table == {"10.244.2.0/24": "172.18.0.9"})
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_node_update_that_changes_no_route_does_not_ask_the_kernel():
    """Every kubelet posts its Node's status every few seconds; each post made every node fork
    ``ip route show``. Only the periodic resync reads the kernel's routes when none changed."""
    fake = FakeIP()
    net = NodeNetwork(None, "me", manage_routes=True, clock=RealClock(), runner=fake)

    def shows() -> int:
        return sum(argv[2] == "show" for argv in fake.calls)
    net.nodes = {"me": {"metadata": {"name": "me"}},
                 "b": {"metadata": {"name": "b"}, "spec": {"podCIDR": "10.244.2.0/24"},
                       "status": {"addresses": [{"type": "InternalIP", "address": "172.18.0.3"}]}}}
    assert await net.sync_routes(verify=False) == [["ip", "route", "replace", "10.244.2.0/24", "via", "172.18.0.3",
                                                   "proto", ROUTE_PROTO]]
    net.nodes["b"]["status"]["conditions"] = [{"type": "Ready", "status": "True"}]   # a status post
    assert await net.sync_routes(verify=False) == [] and shows() == 1
    fake.table.clear()                                                              # the kernel lost it
    assert await net.sync_routes(verify=False) == [] and shows() == 1
    assert len(await net.sync_routes()) == 1 and shows() == 2                   # the resync repairs
    net.nodes["b"]["status"]["addresses"][0]["address"] = "172.18.0.9"              # b moved: asked again
    assert len(await net.sync_routes(verify=False)) == 1 and fake.table == {"10.244.2.0/24": "172.18.0.9"}


async def test_kubelet_waits_for_its_pod_cidr_not_ready_until_then(api_cluster, tmp_path):
    c = api_cluster
    api = APIClient(c.server.url, token=c.auth.node_token(NODE), ca_data=c.pki.ca_pem().decode())
    config = KubeletConfig(node_name=NODE, root_dir=tmp_path / "node", node_ip="127.0.0.1", address="127.0.0.1",
                           port=0, cpus=2, memory_bytes=2 * 2 ** 30, lease_renew=0.2, status_update=0.3)
    runtime = ProcessRuntime(tmp_path / "node" / "runtime", node_name=NODE, pod_cidr=None)
    kubelet = Kubelet(config, api, runtime, server_token=c.auth.node_token(NODE))
    await kubelet.start()
    try:
        await asyncio.wait_for(kubelet.registered.wait(), 10)
        n = await c.registry.get(NODES, None, NODE)
        ready = next(x for x in n["status"]["conditions"] if x["type"] == "Ready")
        assert ready["status"] == "False" and "NetworkPluginNotReady" in ready["message"]
        rc, _, err = await c.kubectl("run", "early", "--image=kubetui/hello:1", f"--overrides="
                                     f'{{"spec":{{"nodeName":"{NODE}"}}}}')
        assert rc == 0, err
        await asyncio.sleep(0.5)
        assert (await c.pod("early"))["status"].get("phase", "Pending") == "Pending"   # no address to give yet
        # What the node IPAM controller does: the kubelet takes it, goes Ready and starts the pod.
        cidr = c.claim.block.pod_cidr(77)        # the test cluster's own loopback block (tests/kubelet/cluster.py)
        await c.registry.patch(NODES, None, NODE, {"spec": {"podCIDR": cidr}}, "application/merge-patch+json")
        pod = await c.wait_pod("early", lambda p: p["status"].get("phase") == "Running")
        assert pod["status"]["podIP"].startswith(cidr.rsplit(".", 1)[0] + ".")
        n = await c.registry.get(NODES, None, NODE)
        assert next(x for x in n["status"]["conditions"] if x["type"] == "Ready")["status"] == "True"
        assert runtime.pod_cidr == cidr
    finally:
        await kubelet.stop()
