"""Pod lifecycles the kubelet drives, against the real API server with real processes."""

from __future__ import annotations

import asyncio

import pytest

from kubetui.api.resources import resource_for
from tests.kubelet.cluster import NODE, Cluster

PODS = resource_for("pods")


@pytest.fixture
async def cluster(tmp_path, kubectl_bin):
    c = await Cluster().start(tmp_path, kubectl_bin)
    yield c
    await c.stop()


def pod(name, containers, **spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": NODE, "terminationGracePeriodSeconds": 1, "containers": containers, **spec}}


def state_of(p, name="c", key="containerStatuses"):
    for s in (p.get("status") or {}).get(key) or []:
        if s["name"] == name:
            return s
    return {}


async def test_init_containers_in_order_then_env_from_configmap_and_fieldref(cluster):
    await cluster.registry.create(resource_for("configmaps"), "default", {
        "metadata": {"name": "cfg"}, "data": {"greeting": "hola"}})
    await cluster.registry.create(PODS, "default", pod("init", [
        {"name": "c", "image": "busybox",
         "command": ["sh", "-c", "cat order; echo $GREETING $MY_POD $(MY_NODE); sleep 30"],
         "env": [{"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "greeting"}}},
                 {"name": "MY_POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                 {"name": "MY_NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]}],
        initContainers=[{"name": "first", "image": "busybox", "command": ["sh", "-c", "echo first > order"]},
                        {"name": "second", "image": "busybox", "command": ["sh", "-c", "echo second >> order"]}]))
    p = await cluster.wait_pod("init", lambda p: "running" in state_of(p).get("state", {}))
    inits = p["status"]["initContainerStatuses"]
    assert [(s["name"], s["state"]["terminated"]["reason"]) for s in inits] == [
        ("first", "Completed"), ("second", "Completed")]
    conds = {c["type"]: c["status"] for c in p["status"]["conditions"]}
    assert conds["Initialized"] == "True"
    for _ in range(50):
        rc, out, _ = await cluster.kubectl("logs", "init")
        if "hola" in out:
            break
        await asyncio.sleep(0.1)
    assert out == f"first\nsecond\nhola init {NODE}\n"


async def test_failed_init_with_never_fails_the_pod(cluster):
    await cluster.registry.create(PODS, "default", pod(
        "badinit", [{"name": "c", "image": "busybox", "command": ["sleep", "30"]}], restartPolicy="Never",
        initContainers=[{"name": "i", "image": "busybox", "command": ["sh", "-c", "exit 7"]}]))
    p = await cluster.wait_pod("badinit", lambda p: p.get("status", {}).get("phase") == "Failed")
    assert state_of(p, "i", "initContainerStatuses")["state"]["terminated"]["exitCode"] == 7
    assert state_of(p)["state"]["waiting"]["reason"] == "PodInitializing"


async def test_liveness_failure_restarts_the_container(cluster):
    await cluster.registry.create(PODS, "default", pod("live", [
        {"name": "c", "image": "busybox",
         "command": ["sh", "-c", "touch alive; sleep 0.5; rm alive; sleep 60"],
         "livenessProbe": {"exec": {"command": ["cat", "alive"]}, "periodSeconds": 1, "failureThreshold": 1,
                           "initialDelaySeconds": 1}}]))
    p = await cluster.wait_pod("live", lambda p: state_of(p).get("restartCount", 0) >= 1)
    assert p["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] in (137, 143)
    msgs = [e["message"] for e in cluster.kubelet.events.recorded if e["pod"] == "live"]
    assert "Container c failed liveness probe, will be restarted" in msgs
    assert any(m.startswith("Liveness probe failed:") for m in msgs)


async def test_graceful_termination_kills_after_grace_period(cluster):
    await cluster.registry.create(PODS, "default", pod("stubborn", [
        {"name": "c", "image": "busybox",
         "command": ["sh", "-c", "trap 'echo got TERM' TERM; while :; do sleep 0.1; done"]}]))
    await cluster.wait_pod("stubborn", lambda p: "running" in state_of(p).get("state", {}))
    rc, out, err = await cluster.kubectl("delete", "pod", "stubborn", "--wait=true")
    assert rc == 0, err
    stops = [e for e in cluster.kubelet.events.recorded if e["pod"] == "stubborn" and e["reason"] == "Killing"]
    assert stops and stops[0]["message"] == "Stopping container c"


async def test_restart_on_failure_policy_and_kubectl_top(cluster):
    await cluster.registry.create(PODS, "default", pod("onfail", [
        {"name": "c", "image": "kubetui/crash", "args": ["0", "0"]}], restartPolicy="OnFailure"))
    p = await cluster.wait_pod("onfail", lambda p: p.get("status", {}).get("phase") == "Succeeded")
    assert state_of(p)["restartCount"] == 0
    await cluster.registry.create(PODS, "default", pod("busy", [
        {"name": "c", "image": "kubetui/memhog", "args": ["4", "0", "8"]}]))
    await cluster.wait_pod("busy", lambda p: "running" in state_of(p).get("state", {}))
    await asyncio.sleep(0.6)
    await cluster.connector.stats(NODE)          # a first sample, so the next gives a rate
    await asyncio.sleep(0.6)
    rc, out, err = await cluster.kubectl("top", "pod", "busy")
    assert rc == 0, err
    mem = out.splitlines()[1].split()[2]
    assert mem.endswith("Mi") and int(mem[:-2]) >= 8


async def test_restarted_kubelet_cleans_up_and_continues_restart_count(cluster, tmp_path):
    await cluster.registry.create(PODS, "default", pod("survivor", [
        {"name": "c", "image": "busybox", "command": ["sleep", "60"]}]))
    p = await cluster.wait_pod("survivor", lambda p: "running" in state_of(p).get("state", {}))
    old_id = state_of(p)["containerID"]
    # the node dies without stopping its pods (kill -9 of a node)
    old = cluster.kubelet
    for t in old._tasks:
        t.cancel()
    for w in old.workers.values():
        w.task.cancel()
    if old.server:
        await old.server.close()
    await cluster.start_kubelet(tmp_path)
    p = await cluster.wait_pod("survivor", lambda p: state_of(p).get("containerID") not in (None, old_id)
                               and "running" in state_of(p).get("state", {}))
    assert state_of(p)["restartCount"] == 1
    await old.runtime.wait_container(old_id.split("://")[1])      # the leftover was killed
