"""The StatefulSet controller: pure decisions (table tests) and the controller on a fake clock."""

from __future__ import annotations

import pytest

from ctrl_helpers import container, finish_terminating_pods, names, node, run_pod, settle
from kubetui.controllers import statefulset_util as ssu
from kubetui.controllers.history import REVISION_HASH_LABEL


def sts_obj(name="web", replicas=3, claims=True, **spec):
    obj = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "namespace": "default"},
           "spec": {"serviceName": name, "replicas": replicas, "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container()]}},
                    **spec}}
    if claims:
        obj["spec"]["volumeClaimTemplates"] = [{"metadata": {"name": "www"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
    return obj


def pod(name, rev="r1", ready=True, deleting=False):
    p = {"metadata": {"name": name, "labels": {REVISION_HASH_LABEL: rev, ssu.POD_NAME_LABEL: name,
                                               ssu.POD_INDEX_LABEL: name.rsplit("-", 1)[1]}},
         "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}
    if deleting:
        p["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return p


def test_identity_and_storage():
    sts = sts_obj()
    sts["metadata"]["uid"] = "u"
    p = ssu.stateful_pod(sts, sts["spec"]["template"], 1, "web-abc")
    assert p["metadata"]["name"] == "web-1"
    assert p["metadata"]["labels"] == {"app": "web", "statefulset.kubernetes.io/pod-name": "web-1",
                                       "apps.kubernetes.io/pod-index": "1", REVISION_HASH_LABEL: "web-abc"}
    assert p["spec"]["hostname"] == "web-1" and p["spec"]["subdomain"] == "web"
    assert p["spec"]["volumes"] == [{"name": "www", "persistentVolumeClaim": {"claimName": "www-web-1"}}]
    claim = ssu.claims_for(sts, 1)[0]
    assert claim["metadata"]["name"] == "www-web-1" and claim["metadata"]["labels"] == {"app": "web"}


@pytest.mark.parametrize("pods, policy, create, delete, waiting", [
    # OrderedReady: web-1 waits for web-0 to be ready
    ({0: pod("web-0", ready=False)}, "OrderedReady", [], [], "web-0 to be Running and Ready"),
    ({0: pod("web-0")}, "OrderedReady", [1], [], "web-1 to be Running and Ready"),
    # Parallel: all missing at once
    ({0: pod("web-0", ready=False)}, "Parallel", [1, 2], [], "web-0 to be healthy during the update"),
    # scale down in reverse order, one at a time, only when all are healthy
    ({0: pod("web-0"), 1: pod("web-1"), 2: pod("web-2"), 3: pod("web-3"), 4: pod("web-4")}, "OrderedReady",
     [], ["web-4"], ""),
    ({0: pod("web-0"), 1: pod("web-1"), 2: pod("web-2"), 3: pod("web-3"), 4: pod("web-4", deleting=True)},
     "OrderedReady", [], [], "web-4 to terminate"),
    ({0: pod("web-0"), 1: pod("web-1"), 2: pod("web-2"), 3: pod("web-3"), 4: pod("web-4")}, "Parallel",
     [], ["web-4", "web-3"], ""),
])
def test_decide_ordering(pods, policy, create, delete, waiting):
    sts = sts_obj(podManagementPolicy=policy)
    actions = ssu.decide(sts, pods, {"www-web-0", "www-web-1", "www-web-2"}, "r1", 0)
    assert actions.create_pods == create
    assert [n for n, _ in actions.delete_pods] == delete
    assert actions.waiting_for == waiting


def test_decide_rolling_update_with_partition():
    sts = sts_obj(updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 1}})
    pods = {0: pod("web-0"), 1: pod("web-1"), 2: pod("web-2")}
    actions = ssu.decide(sts, pods, set(), "r2", 0)
    assert actions.delete_pods == [("web-2", "rolling update")]
    pods[2] = pod("web-2", rev="r2")
    assert [n for n, _ in ssu.decide(sts, pods, set(), "r2", 0).delete_pods] == ["web-1"]
    pods[1] = pod("web-1", rev="r2")
    assert not ssu.decide(sts, pods, set(), "r2", 0)     # web-0 is below the partition
    assert ssu.uses_current_revision(sts, 0) and not ssu.uses_current_revision(sts, 1)
    # maxUnavailable 2: two at a time
    sts = sts_obj(updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 0, "maxUnavailable": 2}})
    pods = {0: pod("web-0"), 1: pod("web-1"), 2: pod("web-2")}
    assert [n for n, _ in ssu.decide(sts, pods, set(), "r2", 0).delete_pods] == ["web-2", "web-1"]


def test_status_completes_rollout():
    sts = sts_obj()
    pods = [pod("web-0", "r2"), pod("web-1", "r2"), pod("web-2", "r2")]
    st = ssu.stateful_set_status(sts, pods, "r1", "r2", 0, 0)
    assert st["currentRevision"] == "r2" and st["currentReplicas"] == 3 and st["updatedReplicas"] == 3
    st = ssu.stateful_set_status(sts, pods[:2] + [pod("web-2", "r1")], "r1", "r2", 0, 0)
    assert st["currentRevision"] == "r1" and st["currentReplicas"] == 1 and st["updatedReplicas"] == 2


# --- the controller ------------------------------------------------------------------------


async def _run_pending(api, clock):
    n = 0
    for p in (await api.list("pods", "default"))["items"]:
        if not p["metadata"].get("deletionTimestamp") and (p.get("status") or {}).get("phase") != "Running":
            await run_pod(api, p, clock)
            n += 1
    return n


async def test_ordered_creation_scale_down_and_partitioned_rollout(api, clock, manager_for):
    await node(api, "node-1", clock)
    cm = await manager_for("statefulset")
    await api.create("statefulsets", sts_obj(), "default")
    await settle(cm)
    assert await names(api, "pods") == ["web-0"]
    assert await names(api, "persistentvolumeclaims") == ["www-web-0"]
    await _run_pending(api, clock)
    await settle(cm)
    assert await names(api, "pods") == ["web-0", "web-1"]
    for _ in range(3):
        await _run_pending(api, clock)
        await settle(cm)
    assert await names(api, "pods") == ["web-0", "web-1", "web-2"]
    sts = await api.get("statefulsets", "web", "default")
    assert sts["status"]["readyReplicas"] == 3 and sts["status"]["currentRevision"] == sts["status"]["updateRevision"]
    # Scale down: web-2 goes first, its claim stays (whenScaled Retain).
    sts["spec"]["replicas"] = 1
    await api.update("statefulsets", sts, "default")
    await settle(cm)
    deleting = [p["metadata"]["name"] for p in (await api.list("pods", "default"))["items"]
                if p["metadata"].get("deletionTimestamp")]
    assert deleting == ["web-2"]
    await finish_terminating_pods(api)
    await settle(cm)
    deleting = [p["metadata"]["name"] for p in (await api.list("pods", "default"))["items"]
                if p["metadata"].get("deletionTimestamp")]
    assert deleting == ["web-1"]
    await finish_terminating_pods(api)
    await settle(cm)
    assert await names(api, "pods") == ["web-0"]
    assert await names(api, "persistentvolumeclaims") == ["www-web-0", "www-web-1", "www-web-2"]
    # Back to 3, then a rollout with partition 2: only web-2 is updated.
    sts = await api.get("statefulsets", "web", "default")
    sts["spec"]["replicas"] = 3
    await api.update("statefulsets", sts, "default")
    for _ in range(3):
        await settle(cm)
        await _run_pending(api, clock)
    await settle(cm)
    sts = await api.get("statefulsets", "web", "default")
    sts["spec"]["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}
    sts["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    await api.update("statefulsets", sts, "default")
    for _ in range(3):
        await settle(cm)
        await finish_terminating_pods(api)
        await settle(cm)
        await _run_pending(api, clock)
    await settle(cm)
    images = {p["metadata"]["name"]: p["spec"]["containers"][0]["image"]
              for p in (await api.list("pods", "default"))["items"]}
    assert images == {"web-0": "nginx:1.27", "web-1": "nginx:1.27", "web-2": "nginx:1.28"}
    sts = await api.get("statefulsets", "web", "default")
    assert sts["status"]["updatedReplicas"] == 1 and sts["status"]["currentReplicas"] == 2
    assert sts["status"]["currentRevision"] != sts["status"]["updateRevision"]
    # A deleted pod below the partition comes back at the current revision, with its claim.
    await api.delete("pods", "web-0", "default", grace_period_seconds=0)
    await settle(cm)
    web0 = await api.get("pods", "web-0", "default")
    assert web0["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert web0["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "www-web-0"
    assert web0["metadata"]["labels"][REVISION_HASH_LABEL] == sts["status"]["currentRevision"]


async def test_retention_policy_delete_ties_claims_to_set_and_pod(api, clock, manager_for):
    await node(api, "node-1", clock)
    cm = await manager_for("statefulset")
    await api.create("statefulsets", sts_obj(replicas=2, podManagementPolicy="Parallel",
                                             persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete",
                                                                                   "whenScaled": "Delete"}),
                     "default")
    await settle(cm)
    await _run_pending(api, clock)
    await settle(cm)
    sts = await api.get("statefulsets", "web", "default")
    claim = await api.get("persistentvolumeclaims", "www-web-1", "default")
    assert [r["uid"] for r in claim["metadata"]["ownerReferences"]] == [sts["metadata"]["uid"]]
    sts["spec"]["replicas"] = 1
    await api.update("statefulsets", sts, "default")
    await settle(cm)
    web1 = await api.get("pods", "web-1", "default")
    claim = await api.get("persistentvolumeclaims", "www-web-1", "default")
    assert [r["uid"] for r in claim["metadata"]["ownerReferences"]] == [web1["metadata"]["uid"]]


def test_on_delete_waits_for_the_user_and_recreates_at_the_update_revision():
    sts = sts_obj(updateStrategy={"type": "OnDelete"})
    pods = {0: pod("web-0"), 1: pod("web-1"), 2: pod("web-2")}
    assert not ssu.decide(sts, pods, {"www-web-0", "www-web-1", "www-web-2"}, "r2", 0)
    del pods[1]
    actions = ssu.decide(sts, pods, {"www-web-0", "www-web-1", "www-web-2"}, "r2", 0)
    assert actions.create_pods == [1] and actions.create_claims == []
    assert not ssu.uses_current_revision(sts, 1)


def test_a_pod_that_lost_its_identity_labels_gets_them_back():
    sts = sts_obj(replicas=1)
    p = pod("web-0")
    del p["metadata"]["labels"][ssu.POD_NAME_LABEL]
    actions = ssu.decide(sts, {0: p}, {"www-web-0"}, "r1", 0)
    assert actions.relabel == [("web-0", {ssu.POD_NAME_LABEL: "web-0"})]
