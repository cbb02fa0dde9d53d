"""Simulated nodes (KWOK-like) against the real registry, on a FakeClock."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from pathlib import Path

import pytest

from kubetui.clock import FakeClock, parse_rfc3339
from kubetui.providers.base import ClusterConfig, NodeConfig
from kubetui.providers.simulated import SimulatedProvider
from kubetui.timings import LAB


async def settle(cond, what="condition", limit=10.0):
    deadline = time.monotonic() + limit
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.001)


async def until(fn, what, limit=10.0):
    """Poll an async predicate through the API (bounded)."""
    deadline = time.monotonic() + limit
    while True:
        value = await fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.001)


@pytest.fixture
async def api():
    from kubetui.apiserver.registry import Registry
    from kubetui.apiserver.inprocess import InProcessClient
    from kubetui.store import Store

    clock = FakeClock()
    store = Store(None, clock=clock)
    await store.open()
    registry = Registry(store, clock=clock)
    await registry.bootstrap()
    client = InProcessClient(registry)
    provider = SimulatedProvider(ClusterConfig("t", Path("."), timings=LAB), client, clock)
    yield clock, client, provider
    await provider.close()
    await store.close()


def cfg(name, **kw):
    return NodeConfig(name=name, api_url="", token="", ca_pem="", **kw)


async def test_registers_a_ready_node_with_capacity_and_a_lease(api):
    clock, client, provider = api
    handle = await provider.start_node(cfg("node-1", cpus=4, memory="8Gi", max_pods=50, labels={"zone": "a"}))
    assert handle.status == "running" and handle.provider == "simulated"
    node = await client.get("nodes", "node-1")
    st = node["status"]
    assert st["allocatable"] == {"cpu": "4", "memory": "8Gi", "pods": "50", "ephemeral-storage": "100Gi"}
    assert {c["type"]: c["status"] for c in st["conditions"]}["Ready"] == "True"
    assert st["nodeInfo"]["containerRuntimeVersion"].startswith("simulated://")
    assert st["nodeInfo"]["kubeletVersion"]
    assert {a["type"] for a in st["addresses"]} == {"InternalIP", "Hostname"}
    assert node["metadata"]["labels"]["zone"] == "a"
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "node-1"
    assert node["spec"]["podCIDR"]
    lease = await client.get("leases", "node-1", "kube-node-lease")
    assert lease["spec"]["holderIdentity"] == "node-1"
    assert lease["spec"]["leaseDurationSeconds"] == LAB.node_lease_duration_seconds
    assert lease["metadata"]["ownerReferences"][0]["uid"] == node["metadata"]["uid"]
    assert len(await provider.list_nodes()) == 1


async def test_lease_is_renewed_on_the_clock_and_stops_when_paused(api):
    clock, client, provider = api
    await provider.start_node(cfg("node-1"))

    async def renew_time():
        return parse_rfc3339((await client.get("leases", "node-1", "kube-node-lease"))["spec"]["renewTime"])

    first = await renew_time()
    await clock.advance(LAB.node_lease_renew_seconds * 3, step=LAB.node_lease_renew_seconds)
    later = await until(lambda: _newer(renew_time, first), "a lease renewal")
    provider.pause_node("node-1")
    assert (await provider.list_nodes())[0].status == "paused"
    await clock.advance(LAB.node_lease_renew_seconds * 5, step=LAB.node_lease_renew_seconds)
    for _ in range(20):
        await asyncio.sleep(0)
    paused_at = await renew_time()
    assert paused_at - later <= LAB.node_lease_renew_seconds * 3   # at most the renewals already under way
    await clock.advance(LAB.node_lease_renew_seconds * 5, step=LAB.node_lease_renew_seconds)
    for _ in range(20):
        await asyncio.sleep(0)
    assert await renew_time() == paused_at                           # silent while paused
    provider.unpause_node("node-1")
    await clock.advance(LAB.node_lease_renew_seconds * 2, step=LAB.node_lease_renew_seconds)
    await until(lambda: _newer(renew_time, paused_at), "renewals after unpausing")


async def _newer(renew_time, than):
    value = await renew_time()
    return value if value > than else None


def bound_pod(name, node, init=False):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"nodeName": node, "containers": [{"name": "app", "image": "nginx"}]}}
    if init:
        pod["spec"]["initContainers"] = [{"name": "setup", "image": "busybox"}]
    return pod


async def test_bound_pods_are_marked_running_and_ready(api):
    clock, client, provider = api
    await provider.start_node(cfg("node-1"))
    node = await client.get("nodes", "node-1")
    await client.create("pods", bound_pod("web", "node-1", init=True), "default")
    await client.create("pods", bound_pod("elsewhere", "not-simulated"), "default")

    async def running():
        p = await client.get("pods", "web", "default")
        return p if (p.get("status") or {}).get("phase") == "Running" else None

    pod = await until(running, "the pod Running")
    st = pod["status"]
    assert {c["type"]: c["status"] for c in st["conditions"]} == {
        "PodReadyToStartContainers": "True", "Initialized": "True", "Ready": "True",
        "ContainersReady": "True", "PodScheduled": "True"}
    cs = st["containerStatuses"][0]
    assert cs["ready"] and cs["state"]["running"]["startedAt"] and cs["containerID"].startswith("simulated://")
    assert st["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    assert ipaddress.ip_address(st["podIP"]) in ipaddress.ip_network(node["spec"]["podCIDR"])
    assert st["hostIP"] == next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
    other = await client.get("pods", "elsewhere", "default")
    assert (other.get("status") or {}).get("phase") in (None, "Pending")


async def test_terminating_pods_are_finished_like_a_kubelet(api):
    clock, client, provider = api
    await provider.start_node(cfg("node-1"))
    await client.create("pods", bound_pod("web", "node-1"), "default")

    async def phase():
        return ((await client.get("pods", "web", "default")).get("status") or {}).get("phase") == "Running"

    await until(phase, "the pod Running")
    await client.delete("pods", "web", "default")          # graceful: only sets deletionTimestamp

    async def gone():
        names = [p["metadata"]["name"] for p in (await client.list("pods", "default"))["items"]]
        return "web" not in names

    await until(gone, "the pod deleted")
    assert provider.pods_finished == 1


async def test_delete_removes_nodes_and_leases(api):
    clock, client, provider = api
    await provider.start_node(cfg("node-1"))
    await provider.start_node(cfg("node-2"))
    await provider.delete()
    assert (await client.list("nodes"))["items"] == []
    assert (await client.list("leases", "kube-node-lease"))["items"] == []
    assert await provider.list_nodes() == []


# --- faults through the kubetui.dev/fault annotation (what `kubetui fault` writes from another process) ---

async def annotate(client, node, value):
    await client.patch("nodes", node, {"metadata": {"annotations": {"kubetui.dev/fault": value}}})


async def ready_condition(client, node):
    n = await client.get("nodes", node)
    return next(c for c in n["status"]["conditions"] if c["type"] == "Ready")


async def mark_unknown(client, node):
    """Play the node lifecycle controller: Ready=Unknown after the grace period."""
    n = await client.get("nodes", node)
    conds = [dict(c, status="Unknown", reason="NodeStatusUnknown") if c["type"] == "Ready" else c
             for c in n["status"]["conditions"]]
    await client.patch("nodes", node, {"status": {"conditions": conds}}, subresource="status")


async def test_paused_annotation_silences_the_node_and_removing_it_resumes_at_once(api):
    clock, client, provider = api
    await provider.start_node(cfg("node-1"))
    await provider.start_node(cfg("node-2"))
    sim = provider.nodes["node-1"]

    async def renew_time(node="node-1"):
        return (await client.get("leases", node, "kube-node-lease"))["spec"]["renewTime"]

    await annotate(client, "node-1", "paused")
    await settle(lambda: sim.fault == "paused", "the annotation acted on")
    assert {h.name: h.status for h in await provider.list_nodes()} == {"node-1": "paused", "node-2": "running"}
    before = await renew_time()
    await clock.advance(LAB.node_lease_renew_seconds * 5, step=LAB.node_lease_renew_seconds)
    for _ in range(20):
        await asyncio.sleep(0)
    assert await renew_time() == before, "a paused node renews nothing"
    # a pod bound while paused is not started; the rest of the cluster goes on
    await client.create("pods", bound_pod("late", "node-1"), "default")
    await client.create("pods", bound_pod("elsewhere", "node-2"), "default")

    async def phase(name):
        return ((await client.get("pods", name, "default")).get("status") or {}).get("phase")

    await until(lambda: _eq(phase("elsewhere"), "Running"), "node-2's pod Running")
    assert await phase("late") in (None, "Pending")
    await mark_unknown(client, "node-1")
    # another change to the Node (a label) does not resume it: only the annotation does
    await client.patch("nodes", "node-1", {"metadata": {"labels": {"x": "y"}}})
    for _ in range(20):
        await asyncio.sleep(0)
    assert sim.fault == "paused"

    await client.patch("nodes", "node-1", {"metadata": {"annotations": {"kubetui.dev/fault": None}}})
    # no clock advance needed: a kubelet coming back posts Ready and renews its Lease at once
    await until(lambda: _eq(_status(ready_condition(client, "node-1")), "True"), "Ready again")
    assert (await ready_condition(client, "node-1"))["reason"] == "KubeletReady"
    assert await renew_time() != before
    await until(lambda: _eq(phase("late"), "Running"), "the pod bound meanwhile started")
    assert (await provider.list_nodes())[0].status == "running"


async def test_killed_annotation_then_back_restarts_the_pods_like_a_reboot(api):
    clock, client, provider = api
    await provider.start_node(cfg("node-1"))
    await client.create("pods", bound_pod("web", "node-1"), "default")

    async def pod():
        return await client.get("pods", "web", "default")

    await until(lambda: _eq(_phase(pod()), "Running"), "the pod Running")
    first = (await pod())["status"]["containerStatuses"][0]
    await annotate(client, "node-1", "killed")
    await settle(lambda: provider.nodes["node-1"].fault == "killed", "the annotation acted on")
    assert (await provider.list_nodes())[0].status == "stopped"
    await mark_unknown(client, "node-1")
    await client.patch("nodes", "node-1", {"metadata": {"annotations": {"kubetui.dev/fault": None}}})
    await until(lambda: _eq(_status(ready_condition(client, "node-1")), "True"), "Ready again")

    async def restarted():
        cs = (await pod())["status"]["containerStatuses"][0]
        return cs if cs["restartCount"] == 1 else None

    cs = await until(restarted, "the container restarted")
    assert cs["lastState"]["terminated"]["reason"] == "Unknown"
    assert cs["lastState"]["terminated"]["startedAt"] == first["state"]["running"]["startedAt"]
    assert cs["ready"] and "running" in cs["state"]
    assert cs["containerID"] != first["containerID"] == cs["lastState"]["terminated"]["containerID"]


async def test_a_node_that_carries_the_fault_when_the_provider_starts_stays_down(api):
    clock, client, provider = api
    await provider.start_node(cfg("node-1"))
    await annotate(client, "node-1", "killed")
    await settle(lambda: provider.nodes["node-1"].fault == "killed", "the annotation acted on")
    await provider.stop_node("node-1")
    await mark_unknown(client, "node-1")
    await provider.start_node(cfg("node-1"))           # e.g. `kubetui up` again after a restart
    assert provider.nodes["node-1"].fault == "killed"
    assert (await ready_condition(client, "node-1"))["status"] == "Unknown"
    await annotate(client, "node-1", None)
    await until(lambda: _eq(_status(ready_condition(client, "node-1")), "True"), "Ready once the fault goes")


async def test_pause_node_in_process_is_not_undone_by_node_updates(api):
    clock, client, provider = api
    await provider.start_node(cfg("node-1"))
    provider.pause_node("node-1")
    await client.patch("nodes", "node-1", {"metadata": {"labels": {"x": "y"}}})
    await mark_unknown(client, "node-1")
    for _ in range(50):
        await asyncio.sleep(0)
    assert provider.nodes["node-1"].fault == "paused"
    assert (await ready_condition(client, "node-1"))["status"] == "Unknown"
    provider.unpause_node("node-1")
    await until(lambda: _eq(_status(ready_condition(client, "node-1")), "True"), "Ready after unpausing")


async def _eq(aw, value):
    return (await aw) == value


async def _status(aw):
    return (await aw)["status"]


async def _phase(aw):
    return ((await aw).get("status") or {}).get("phase")


async def test_extended_resource_patched_into_capacity_becomes_allocatable(api):
    """Issue 12 item 9: a device plugin (or an operator) advertises ``example.com/dongle`` by patching
    the node's ``status.capacity``; the kubelet copies it into ``allocatable``, and drops it when it goes."""
    from kubetui.client.base import JSON_PATCH

    clock, client, provider = api
    await provider.start_node(cfg("node-1"))
    await client.patch("nodes", "node-1",
                       [{"op": "add", "path": "/status/capacity/example.com~1dongle", "value": "4"}],
                       subresource="status", patch_type=JSON_PATCH)

    async def allocatable():
        return (await client.get("nodes", "node-1"))["status"]["allocatable"]

    await until(lambda: _has(allocatable, "example.com/dongle", "4"), "dongles in allocatable")
    assert (await allocatable())["cpu"] == "2"
    await client.patch("nodes", "node-1", [{"op": "remove", "path": "/status/capacity/example.com~1dongle"}],
                       subresource="status", patch_type=JSON_PATCH)
    await until(lambda: _has(allocatable, "example.com/dongle", None), "dongles gone from allocatable")


async def _has(get, key, value):
    return (await get()).get(key) == value
