"""The PersistentVolume controller on the real registry: binding, WaitForFirstConsumer, reclaim, events."""

from __future__ import annotations

import pytest

from ctrl_helpers import bind, node
from kubetui.api import errors
from kubetui.controllers import pv_binder as binder
from kubetui.storage.classes import ensure_storage_classes
from kubetui.storage.provisioners import Provisioners
from kubetui.storage.volumes import LocalVolumeHost


def pv(name: str, size: str = "1Gi", modes=("ReadWriteOnce",), sc: str = "manual", policy: str = "Retain",
       labels: dict | None = None, **spec) -> dict:
    return {"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name, "labels": labels or {}},
            "spec": {"capacity": {"storage": size}, "accessModes": list(modes), "storageClassName": sc,
                     "persistentVolumeReclaimPolicy": policy, "hostPath": {"path": f"/data/{name}"}, **spec}}


def pvc(name: str, size: str = "1Gi", modes=("ReadWriteOnce",), sc: str | None = "manual", **spec) -> dict:
    body = {"accessModes": list(modes), "resources": {"requests": {"storage": size}}, **spec}
    if sc is not None:
        body["storageClassName"] = sc
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": "default"}, "spec": body}


def pod_using(name: str, claim: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}],
                     "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]}}


async def settled(cm) -> None:
    """Let work settle: a delete reaches the controller through store -> watch -> informer,
    more hops than one ``settle`` waits for, so settle a few times (bounded, no clock)."""
    for _ in range(3):
        await cm.settle()


async def events_for(api, name: str) -> list[tuple[str, str, str]]:
    items = (await api.list("events", "default"))["items"]
    return [(e["type"], e["reason"], e["message"]) for e in items if e["involvedObject"]["name"] == name]


@pytest.fixture
async def pvctl(api, clock, manager_for, tmp_path):
    cm = await manager_for("persistentvolume-binder")
    ctl = cm.controllers["persistentvolume-binder"]
    ctl.provisioners = Provisioners(LocalVolumeHost(tmp_path))
    return cm


async def test_the_smallest_fitting_volume_wins_and_both_halves_are_bound(api, clock, pvctl):
    for name, size in (("big", "10Gi"), ("small", "2Gi"), ("tiny", "500Mi")):
        await api.create("persistentvolumes", pv(name, size))
    await api.create("persistentvolumes", pv("rwx", "2Gi", modes=("ReadWriteMany",)))
    await api.create("persistentvolumeclaims", pvc("data", "1Gi"))
    await settled(pvctl)
    claim = await api.get("persistentvolumeclaims", "data", "default")
    assert claim["spec"]["volumeName"] == "small"
    assert claim["status"] == {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "2Gi"}}
    assert claim["metadata"]["annotations"][binder.ANN_BIND_COMPLETED] == "yes"
    assert claim["metadata"]["annotations"][binder.ANN_BOUND_BY_CONTROLLER] == "yes"
    vol = await api.get("persistentvolumes", "small")
    assert vol["status"]["phase"] == "Bound"
    assert vol["spec"]["claimRef"]["uid"] == claim["metadata"]["uid"]
    assert vol["metadata"]["annotations"][binder.ANN_BOUND_BY_CONTROLLER] == "yes"
    for other in ("big", "tiny", "rwx"):
        assert (await api.get("persistentvolumes", other))["status"]["phase"] == "Available"


async def test_selector_and_access_modes_decide(api, clock, pvctl):
    await api.create("persistentvolumes", pv("fast", "5Gi", labels={"speed": "fast"}))
    await api.create("persistentvolumes", pv("slow", "1Gi", labels={"speed": "slow"}))
    await api.create("persistentvolumeclaims", pvc("want-fast", selector={"matchExpressions": [
        {"key": "speed", "operator": "In", "values": ["fast"]}]}))
    await api.create("persistentvolumeclaims", pvc("want-rwx", modes=("ReadWriteMany",)))
    await settled(pvctl)
    assert (await api.get("persistentvolumeclaims", "want-fast", "default"))["spec"]["volumeName"] == "fast"
    stuck = await api.get("persistentvolumeclaims", "want-rwx", "default")
    assert stuck["status"]["phase"] == "Pending" and not stuck["spec"].get("volumeName")


async def test_a_claim_without_class_says_why_it_is_pending(api, clock, pvctl):
    await api.create("persistentvolumeclaims", pvc("orphan", sc=""))
    await api.create("persistentvolumeclaims", pvc("typo", sc="fastest"))
    await settled(pvctl)
    assert ("Normal", "FailedBinding", "no persistent volumes available for this claim and no storage class is set") \
        in await events_for(api, "orphan")
    assert ("Warning", "ProvisioningFailed", 'storageclass.storage.k8s.io "fastest" not found') \
        in await events_for(api, "typo")
    # A matching volume appears later: the waiting claim binds.
    await api.create("persistentvolumes", pv("late", sc=""))
    await settled(pvctl)
    assert (await api.get("persistentvolumeclaims", "orphan", "default"))["status"]["phase"] == "Bound"


async def test_retain_keeps_a_released_volume(api, clock, pvctl):
    await api.create("persistentvolumes", pv("keep", policy="Retain"))
    await api.create("persistentvolumeclaims", pvc("data"))
    await settled(pvctl)
    await api.delete("persistentvolumeclaims", "data", "default")
    await settled(pvctl)
    vol = await api.get("persistentvolumes", "keep")
    assert vol["status"]["phase"] == "Released"
    # A new claim of the same name does not get the released volume (its data is the old claim's).
    await api.create("persistentvolumeclaims", pvc("data"))
    await settled(pvctl)
    assert (await api.get("persistentvolumes", "keep"))["status"]["phase"] == "Released"
    assert not (await api.get("persistentvolumeclaims", "data", "default"))["spec"].get("volumeName")


async def test_delete_on_a_static_volume_fails_with_upstream_words(api, clock, pvctl):
    await api.create("persistentvolumes", pv("static", policy="Delete"))
    await api.create("persistentvolumeclaims", pvc("data"))
    await settled(pvctl)
    await api.delete("persistentvolumeclaims", "data", "default")
    await settled(pvctl)
    vol = await api.get("persistentvolumes", "static")
    assert vol["status"]["phase"] == "Failed"
    assert "no deletable volume plugin matched" in vol["status"]["message"]


async def test_default_class_is_assigned_by_admission(api, clock, pvctl):
    await ensure_storage_classes(api)
    created = await api.create("persistentvolumeclaims", pvc("nameless", sc=None))
    assert created["spec"]["storageClassName"] == "standard"
    explicit_none = await api.create("persistentvolumeclaims", pvc("none", sc=""))
    assert explicit_none["spec"]["storageClassName"] == ""


async def test_shared_class_provisions_binds_and_deletes_data(api, clock, pvctl, tmp_path):
    await ensure_storage_classes(api)
    await api.create("persistentvolumeclaims", pvc("files", "2Gi", modes=("ReadWriteMany",), sc="shared"))
    await settled(pvctl)
    claim = await api.get("persistentvolumeclaims", "files", "default")
    assert claim["status"]["phase"] == "Bound"
    name = claim["spec"]["volumeName"]
    assert name == f"pvc-{claim['metadata']['uid']}"
    vol = await api.get("persistentvolumes", name)
    assert vol["spec"]["hostPath"]["path"] == str(tmp_path / "shared" / name)
    assert vol["spec"]["accessModes"] == ["ReadWriteMany"]
    assert vol["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    assert claim["metadata"]["annotations"][binder.ANN_STORAGE_PROVISIONER] == "kubetui.dev/shared"
    reasons = [e[1] for e in await events_for(api, "files")]
    assert "ProvisioningSucceeded" in reasons
    data = tmp_path / "shared" / name
    (data / "hello.txt").write_text("kept across nodes")
    await api.delete("persistentvolumeclaims", "files", "default")
    await settled(pvctl)
    with pytest.raises(errors.NotFound):
        await api.get("persistentvolumes", name)
    assert not data.exists()


async def test_wait_for_first_consumer_then_node_local_volume_pinned_to_the_pods_node(api, clock, pvctl, tmp_path):
    await ensure_storage_classes(api)
    await node(api, "node-2", clock)
    await api.create("persistentvolumeclaims", pvc("db", sc=None))
    await settled(pvctl)
    claim = await api.get("persistentvolumeclaims", "db", "default")
    assert claim["status"]["phase"] == "Pending"
    assert ("Normal", "WaitForFirstConsumer", "waiting for first consumer to be created before binding") \
        in await events_for(api, "db")
    await api.create("pods", pod_using("db-0", "db"))
    await settled(pvctl)
    assert (await api.get("persistentvolumeclaims", "db", "default"))["status"]["phase"] == "Pending"
    await bind(api, "default", "db-0", "node-2")  # the scheduler's choice
    await settled(pvctl)
    claim = await api.get("persistentvolumeclaims", "db", "default")
    assert claim["metadata"]["annotations"][binder.ANN_SELECTED_NODE] == "node-2"
    assert claim["status"]["phase"] == "Bound"
    vol = await api.get("persistentvolumes", claim["spec"]["volumeName"])
    terms = vol["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
    assert terms == [{"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["node-2"]}]}]
    data = tmp_path / "nodes" / "node-2" / "volumes" / vol["metadata"]["name"]
    assert vol["spec"]["hostPath"]["path"] == str(data)
    assert data.is_dir()
    await api.delete("pods", "db-0", "default", grace_period_seconds=0)
    await api.delete("persistentvolumeclaims", "db", "default")
    # The claim's deletion reaches the controller through its informer: wait
    # for the level-triggered outcome rather than for one settle round.
    for _ in range(50):
        await settled(pvctl)
        try:
            await api.get("persistentvolumes", vol["metadata"]["name"])
        except errors.NotFound:
            break
    else:
        pytest.fail("the Delete reclaim policy never removed the volume")
    assert not data.exists()


async def test_node_local_refuses_read_write_many(api, clock, pvctl):
    await ensure_storage_classes(api)
    await node(api, "node-1", clock)
    await api.create("persistentvolumeclaims", pvc("many", modes=("ReadWriteMany",), sc="standard"))
    await api.create("pods", pod_using("p", "many"))
    await bind(api, "default", "p", "node-1")
    await settled(pvctl)
    failed = [e for e in await events_for(api, "many") if e[1] == "ProvisioningFailed"]
    assert failed and "only supports ReadWriteOnce" in failed[0][2]


async def test_a_bound_claim_whose_volume_vanished_is_lost(api, clock, pvctl):
    await api.create("persistentvolumes", pv("gone"))
    await api.create("persistentvolumeclaims", pvc("data"))
    await settled(pvctl)
    await api.delete("persistentvolumes", "gone")
    await settled(pvctl)
    claim = await api.get("persistentvolumeclaims", "data", "default")
    assert claim["status"]["phase"] == "Lost"
    assert any(e[1] == "ClaimLost" for e in await events_for(api, "data"))
