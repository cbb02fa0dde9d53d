"""Pods evicted from an unreachable node stay Terminating until its kubelet answers (issue 12, item 7).

Upstream: the taint eviction controller DELETEs the pods gracefully (a
``deletionTimestamp``, nothing more); only the node's kubelet can confirm that
the containers stopped, so the pods stay ``Terminating`` while the node is
silent - however long that is - and go when it answers again. Pod GC
force-deletes them only on a node marked ``node.kubernetes.io/out-of-service``
(or once the Node object is gone). Replacements start elsewhere at once.

Simulated (KWOK-like) kubelets on a fake clock play the nodes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ctrl_helpers import replicaset
from kubetui.controllers.manager import ControllerManager
from kubetui.providers.base import ClusterConfig, NodeConfig
from kubetui.providers.simulated import SimulatedProvider
from kubetui.scheduler.scheduler import Scheduler
from kubetui.timings import LAB


@pytest.fixture
async def cluster(api, clock):
    provider = SimulatedProvider(ClusterConfig("evict", Path("."), timings=LAB), api, clock)
    for name in ("node-a", "node-b"):
        await provider.start_node(NodeConfig(name=name, api_url="", token="", ca_pem=""))
    scheduler = Scheduler(api, clock=clock, seed=1, record_explanations=False)
    await scheduler.start()
    cm = ControllerManager(api, clock=clock, resync_seconds=None, controllers=[
        "node-lifecycle", "taint-eviction", "pod-garbage-collector", "replicaset"])
    await cm.start()
    yield provider, cm
    await cm.stop()
    await scheduler.stop()
    await provider.close()


async def pods(api) -> dict[str, dict]:
    return {p["metadata"]["name"]: p for p in (await api.list("pods", "default"))["items"]}


async def run(clock, cm, seconds: float) -> None:
    """Let ``seconds`` of cluster time pass, a quarter second at a time (heartbeats, monitor passes)."""
    for _ in range(int(seconds * 4)):
        await clock.advance(0.25)
        await cm.settle()
        await asyncio.sleep(0)


async def until(clock, cm, api, pred, what: str, seconds: float = 30.0) -> dict[str, dict]:
    for _ in range(int(seconds * 4)):
        now = await pods(api)
        if pred(now):
            return now
        await run(clock, cm, 0.25)
    raise AssertionError(f"{what}: {sorted(now)}")


def on(pods_: dict[str, dict], node: str) -> set[str]:
    return {n for n, p in pods_.items() if p["spec"].get("nodeName") == node}


def terminating(pods_: dict[str, dict]) -> set[str]:
    return {n for n, p in pods_.items() if p["metadata"].get("deletionTimestamp")}


def running(pods_: dict[str, dict]) -> set[str]:
    return {n for n, p in pods_.items() if not p["metadata"].get("deletionTimestamp")
            and (p.get("status") or {}).get("phase") == "Running"}


async def start_web(api, clock, cm) -> tuple[set[str], dict[str, dict]]:
    await api.create("replicasets", replicaset("web", 4), "default")
    now = await until(clock, cm, api, lambda p: len(running(p)) == 4, "4 web pods running")
    victims = on(now, "node-a")
    assert victims, "the scheduler spread the pods over both nodes"
    return victims, now


async def test_evicted_pods_stay_terminating_until_the_node_answers_again(api, clock, cluster):
    provider, cm = cluster
    victims, _ = await start_web(api, clock, cm)
    provider.pause_node("node-a")
    # grace period -> Unknown + unreachable taint; tolerationSeconds later -> evicted.
    now = await until(clock, cm, api, lambda p: terminating(p) == victims, "node-a's pods evicted",
                      LAB.node_monitor_grace_seconds + LAB.default_toleration_seconds + 10)
    assert len(running(now) - victims) == 4, "replacements run on node-b at once"
    assert not on({n: now[n] for n in running(now)}, "node-a")
    for name in victims:
        cond = next(c for c in now[name]["status"]["conditions"] if c["type"] == "DisruptionTarget")
        assert cond["reason"] == "DeletionByTaintManager"

    # Minutes later - far past the pods' 30 s termination grace period - they are still there,
    # Terminating: nobody knows whether their containers still run behind the silent node.
    await run(clock, cm, 90)
    now = await pods(api)
    assert terminating(now) == victims

    # node-a answers again: its kubelet stops the containers and confirms; the pods go.
    provider.unpause_node("node-a")
    now = await until(clock, cm, api, lambda p: not terminating(p), "terminating pods finished by node-a")
    assert not victims & set(now) and len(running(now)) == 4


async def test_out_of_service_taint_or_a_force_delete_removes_them(api, clock, cluster):
    provider, cm = cluster
    victims, _ = await start_web(api, clock, cm)
    provider.pause_node("node-a")
    await until(clock, cm, api, lambda p: terminating(p) == victims, "node-a's pods evicted",
                LAB.node_monitor_grace_seconds + LAB.default_toleration_seconds + 10)
    # kubectl delete pod NAME --force --grace-period=0 removes one at once.
    first = sorted(victims)[0]
    await api.delete("pods", first, "default", grace_period_seconds=0)
    assert first not in await pods(api)
    # kubectl taint node node-a node.kubernetes.io/out-of-service=nodeshutdown:NoExecute: pod GC does the rest,
    # marking each pod Failed before it goes (markFailedAndDeletePod).
    last: dict[str, dict] = {}
    rv = (await api.list("pods", "default"))["metadata"]["resourceVersion"]

    async def watch() -> None:
        async for ev in api.watch("pods", "default", resource_version=rv):
            if ev.type in ("MODIFIED", "DELETED"):
                last.setdefault(ev.object["metadata"]["name"], {})[ev.type] = ev.object
    watcher = asyncio.create_task(watch())
    await api.patch("nodes", "node-a", {"spec": {"taints": [
        *(await api.get("nodes", "node-a"))["spec"]["taints"],
        {"key": "node.kubernetes.io/out-of-service", "value": "nodeshutdown", "effect": "NoExecute"}]}})
    now = await until(clock, cm, api, lambda p: not terminating(p), "pod GC force-deleted the rest", 5)
    assert not victims & set(now) and len(running(now)) == 4
    await asyncio.sleep(0)
    watcher.cancel()
    for name in victims - {first}:
        assert last[name]["DELETED"]["status"]["phase"] == "Failed", name


async def test_a_pod_bound_to_a_node_that_is_gone_is_failed_and_deleted_by_pod_gc(api, clock, cluster):
    """``gcOrphaned``: after a quarantine, Failed with DisruptionTarget DeletionByPodGC, then deleted."""
    provider, cm = cluster
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "orphan", "namespace": "default"},
           "spec": {"nodeName": "gone", "containers": [{"name": "c", "image": "nginx"}]}}
    await api.create("pods", pod, "default")
    rv = (await api.list("pods", "default"))["metadata"]["resourceVersion"]
    seen: list[dict] = []

    async def watch() -> None:
        async for ev in api.watch("pods", "default", resource_version=rv):
            seen.append(ev.object)
    watcher = asyncio.create_task(watch())
    await until(clock, cm, api, lambda p: "orphan" not in p, "the orphan deleted", LAB.node_monitor_grace_seconds + 5)
    await asyncio.sleep(0)
    watcher.cancel()
    final = seen[-1]["status"]
    assert final["phase"] == "Failed"
    cond = next(c for c in final["conditions"] if c["type"] == "DisruptionTarget")
    assert (cond["reason"], cond["message"]) == ("DeletionByPodGC", "PodGC: node no longer exists")
