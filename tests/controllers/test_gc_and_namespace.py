"""Deleting owners cascades (Background, Foreground, Orphan); deleting a namespace empties it."""

from __future__ import annotations

import pytest

from ctrl_helpers import deployment, finish_terminating_pods, names, run_all_pods, settle

CONTROLLERS = ("deployment", "replicaset", "garbage-collector")


async def deployed(api, clock, manager_for):
    cm = await manager_for(*CONTROLLERS)
    await api.create("deployments", deployment("web", 2), "default")
    await settle(cm)
    assert len(await names(api, "replicasets")) == 1 and len(await names(api, "pods")) == 2
    return cm


async def gone(api, cm, rounds=6):
    for _ in range(rounds):
        await settle(cm)
        await finish_terminating_pods(api)
    await settle(cm)


async def test_background_delete_removes_replicasets_and_pods(api, clock, manager_for):
    cm = await deployed(api, clock, manager_for)
    await api.delete("deployments", "web", "default", propagation_policy="Background")
    await gone(api, cm)
    assert await names(api, "deployments") == []
    assert await names(api, "replicasets") == [] and await names(api, "pods") == []


async def test_foreground_delete_keeps_the_owner_until_dependents_are_gone(api, clock, manager_for):
    cm = await deployed(api, clock, manager_for)
    await run_all_pods(api, clock)  # bound pods terminate gracefully, so the cascade has to wait
    await settle(cm)
    await api.delete("deployments", "web", "default", propagation_policy="Foreground")
    await settle(cm)
    d = await api.get("deployments", "web", "default")
    assert "foregroundDeletion" in d["metadata"]["finalizers"] and d["metadata"]["deletionTimestamp"]
    pods = (await api.list("pods", "default"))["items"]
    assert len(pods) == 2 and all(p["metadata"].get("deletionTimestamp") for p in pods)
    await gone(api, cm)
    assert await names(api, "pods") == [] and await names(api, "replicasets") == []
    assert await names(api, "deployments") == []


async def test_orphan_delete_keeps_dependents_and_drops_their_owner_reference(api, clock, manager_for):
    cm = await deployed(api, clock, manager_for)
    (rs_name,) = await names(api, "replicasets")
    await api.delete("deployments", "web", "default", propagation_policy="Orphan")
    await gone(api, cm)
    assert await names(api, "deployments") == []
    rs = await api.get("replicasets", rs_name, "default")
    assert not rs["metadata"].get("ownerReferences")
    assert len(await names(api, "pods")) == 2, "kubectl delete --cascade=orphan keeps the pods"


async def test_a_dependent_whose_owner_uid_no_longer_exists_is_deleted(api, clock, manager_for):
    cm = await manager_for("garbage-collector")
    await api.create("configmaps", {"metadata": {"name": "child", "ownerReferences": [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "parent", "uid": "not-a-real-uid"}]}}, "default")
    await api.create("configmaps", {"metadata": {"name": "parent"}}, "default")  # same name, other uid
    await api.create("configmaps", {"metadata": {"name": "kept", "ownerReferences": [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "parent", "uid": (await api.get("configmaps", "parent", "default"))["metadata"]["uid"]}]}}, "default")
    await settle(cm)
    left = await names(api, "configmaps")
    assert "child" not in left and "kept" in left and "parent" in left


async def test_deleting_a_namespace_deletes_everything_then_the_namespace(api, clock, manager_for):
    cm = await manager_for("namespace", "replicaset", "garbage-collector")
    await api.create("namespaces", {"metadata": {"name": "lab"}})
    await api.create("configmaps", {"metadata": {"name": "cfg"}}, "lab")
    from ctrl_helpers import replicaset
    rs = replicaset("web", 1)
    rs["metadata"]["namespace"] = "lab"
    await api.create("replicasets", rs, "lab")
    await settle(cm)
    assert len(await names(api, "pods", "lab")) == 1
    await run_all_pods(api, clock, "lab")
    await api.delete("namespaces", "lab")
    await settle(cm)
    ns = await api.get("namespaces", "lab")
    assert ns["status"]["phase"] == "Terminating"
    for _ in range(5):
        await settle(cm, clock, 1.0)
        await finish_terminating_pods(api, "lab")
    from kubetui.api import errors
    with pytest.raises(errors.NotFound):
        await api.get("namespaces", "lab")
    assert await names(api, "configmaps", "lab") == [] and await names(api, "pods", "lab") == []
