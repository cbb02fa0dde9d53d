"""The scheduler against the real registry, with simulated nodes: the issue's acceptance items."""

from __future__ import annotations

import pytest

from cluster_fixture import MiniCluster, settle
from helpers import make_pod


def spec_pod(name, **kw):
    pod = make_pod(name, **kw)
    pod["metadata"].pop("uid")
    return pod


@pytest.fixture
async def cluster():
    clusters = []

    async def make(profile="default", **kw):
        c = await MiniCluster(profile).start(**kw)
        clusters.append(c)
        return c

    yield make
    for c in clusters:
        await c.stop()


async def bound_nodes(c, n):
    await settle(lambda: c.scheduler.bound >= n, f"{n} pods bound")
    pods = await c.pods()
    return {name: p["spec"].get("nodeName") for name, p in pods.items()}


async def test_thirty_replicas_spread_under_default_and_pack_under_bin_packing(cluster):
    for profile, expect_nodes in (("default", 6), ("bin-packing", 3)):
        c = await cluster(profile)
        for i in range(1, 7):
            await c.add_node(f"node-{i}", cpus=2, memory="4Gi")
        for i in range(30):
            await c.client.create("pods", spec_pod(f"web-{i}", cpu="200m", memory="256Mi"), "default")
        placement = await bound_nodes(c, 30)
        used = set(placement.values())
        assert None not in used
        assert len(used) == expect_nodes, (profile, placement)
        if profile == "default":
            counts = sorted(list(placement.values()).count(n) for n in used)
            assert counts == [5] * 6          # evenly spread
        else:
            counts = sorted(list(placement.values()).count(n) for n in used)
            assert counts == [10, 10, 10]     # 10 × 200m fill a 2-CPU node


async def test_unschedulable_pod_gets_kubernetes_event_then_schedules_when_room_appears(cluster):
    c = await cluster()
    await c.add_node("node-1", cpus=1)
    await c.add_node("node-2", cpus=1)
    await c.client.create("pods", spec_pod("big", cpu="2"), "default")
    await settle(lambda: c.scheduler.failed >= 1, "a failed attempt")
    await c.scheduler.wait_for_bindings()
    want = ("0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: "
            "2 No preemption victims found for incoming pod.")

    async def failed_event():
        return [e for e in await c.events() if e["reason"] == "FailedScheduling"]

    events = await failed_event()
    assert events and events[0]["message"] == want and events[0]["type"] == "Warning"
    assert events[0]["involvedObject"]["name"] == "big"
    pod = (await c.pods())["big"]
    cond = next(x for x in pod["status"]["conditions"] if x["type"] == "PodScheduled")
    assert (cond["status"], cond["reason"], cond["message"]) == ("False", "Unschedulable", want)
    assert c.scheduler.queue.where("default/big") == "unschedulablePods"
    # nothing changes: no retry storm while we wait (only the periodic flush, long after)
    attempts = c.scheduler.attempts
    await c.clock.advance(2, step=0.1)
    assert c.scheduler.attempts == attempts
    # a node with room appears: retried after its short backoff and bound there
    await c.add_node("node-3", cpus=4)
    await c.clock.advance(0.5, step=0.1)
    placement = await bound_nodes(c, 1)
    assert placement["big"] == "node-3"
    await c.scheduler.wait_for_bindings()
    scheduled = [e for e in await c.events() if e["reason"] == "Scheduled"]
    assert scheduled[0]["message"] == "Successfully assigned default/big to node-3"


async def test_taints_tolerations_and_node_selector(cluster):
    c = await cluster()
    await c.add_node("plain")
    await c.add_node("gpu", labels={"accelerator": "gpu"})
    await c.client.patch("nodes", "gpu", {"spec": {"taints": [{"key": "gpu", "value": "true",
                                                               "effect": "NoSchedule"}]}})
    await settle(lambda: "gpu" in c.scheduler.cache.nodes and c.scheduler.cache.nodes["gpu"].taints,
                 "the taint in the scheduler's cache")
    for i in range(6):
        await c.client.create("pods", spec_pod(f"any-{i}"), "default")
    tol = [{"key": "gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]
    await c.client.create("pods", spec_pod("trainer", tolerations=tol, node_selector={"accelerator": "gpu"}),
                          "default")
    await c.client.create("pods", spec_pod("no-toleration", node_selector={"accelerator": "gpu"}), "default")
    placement = await bound_nodes(c, 7)
    assert {placement[f"any-{i}"] for i in range(6)} == {"plain"}
    assert placement["trainer"] == "gpu"
    assert placement["no-toleration"] is None
    await settle(lambda: c.scheduler.failed >= 1, "the failed attempt")
    await c.scheduler.wait_for_bindings()
    msgs = [e["message"] for e in await c.events() if e["reason"] == "FailedScheduling"]
    assert msgs[-1].startswith("0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
                               "1 node(s) had untolerated taint(s). preemption: 0/2 nodes are available: "
                               "2 Preemption is not helpful for scheduling.")
    # adding the toleration (an allowed pod update: tolerations may be added, not removed, so the
    # not-ready/unreachable ones DefaultTolerationSeconds admission added stay) lets it schedule
    pod = await c.client.get("pods", "no-toleration", "default")
    await c.client.patch("pods", "no-toleration", {"spec": {"tolerations": pod["spec"]["tolerations"] + tol}},
                         "default")
    await c.clock.advance(0.5, step=0.1)
    placement = await bound_nodes(c, 8)
    assert placement["no-toleration"] == "gpu"


async def test_explanations_of_a_real_attempt(cluster):
    from rich.console import Console

    from kubetui.cmd.scheduler import render_attempt
    from kubetui.scheduler.explain import handle_decisions

    c = await cluster()
    await c.add_node("node-1", cpus=1)
    await c.add_node("node-2", cpus=4)
    await c.add_node("node-3", cpus=4)
    await c.client.create("pods", spec_pod("web", cpu="2"), "default")
    placement = await bound_nodes(c, 1)
    code, body = handle_decisions(c.scheduler, "default", "web")
    assert code == 200 and body["kind"] == "PodSchedulingDecisions"
    attempt = body["attempts"][-1]
    assert attempt["outcome"] == "Scheduled" and attempt["selectedNode"] == placement["web"]
    nodes = {n["name"]: n for n in attempt["nodes"]}
    assert nodes["node-1"]["filter"]["reasons"] == ["Insufficient cpu"]
    assert nodes["node-2"]["filter"]["verdict"] == "Passed" and "total" in nodes["node-2"]
    console = Console(width=200, record=True)
    for part in render_attempt(attempt, node=placement["web"]):
        console.print(part)
    text = console.export_text()
    assert "Insufficient cpu" in text and "★ selected" in text and "NodeResourcesFit" in text
    assert handle_decisions(c.scheduler, "default", "nope")[0] == 404


async def test_deleting_a_pod_frees_room_for_a_pending_one(cluster):
    c = await cluster()
    await c.add_node("node-1", cpus=1)
    await c.client.create("pods", spec_pod("first", cpu="800m"), "default")
    await bound_nodes(c, 1)
    await c.client.create("pods", spec_pod("second", cpu="800m"), "default")
    await settle(lambda: c.scheduler.queue.where("default/second") == "unschedulablePods", "second unschedulable")
    await c.client.delete("pods", "first", "default", grace_period_seconds=0)
    await c.clock.advance(0.5, step=0.1)
    placement = await bound_nodes(c, 2)
    assert placement == {"second": "node-1"}


async def test_pod_waits_for_its_claim(cluster):
    c = await cluster()
    await c.add_node("node-1")
    pod = spec_pod("db", pvcs=["data"])
    await c.client.create("pods", pod, "default")
    await settle(lambda: c.scheduler.failed >= 1, "a failed attempt")
    await c.scheduler.wait_for_bindings()
    msgs = [e["message"] for e in await c.events() if e["reason"] == "FailedScheduling"]
    assert msgs == ['0/1 nodes are available: persistentvolumeclaim "data" not found. '
                    "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."]
    await c.client.create("storageclasses", {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "local"},
        "provisioner": "kubernetes.io/no-provisioner", "volumeBindingMode": "WaitForFirstConsumer"})
    await c.client.create("persistentvolumeclaims", {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
        "spec": {"storageClassName": "local", "accessModes": ["ReadWriteOnce"],
                 "resources": {"requests": {"storage": "1Gi"}}}}, "default")
    await c.clock.advance(0.5, step=0.1)
    placement = await bound_nodes(c, 1)
    assert placement["db"] == "node-1"
