"""The ReplicaSet controller keeps N pods, adopts/releases by selector, ranks deletions as upstream."""

from __future__ import annotations

import pytest

from ctrl_helpers import events, finish_terminating_pods, names, replicaset, run_all_pods, run_pod, settle
from kubetui.clock import rfc3339
from kubetui.controllers.replicaset import pods_to_delete, replica_set_status

NOW = 1_700_000_000.0


def _pod(name, node="n1", phase="Running", ready=True, ready_for=100.0, age=1000.0, restarts=0, cost=None):
    meta = {"name": name, "creationTimestamp": rfc3339(NOW - age)}
    if cost is not None:
        meta["annotations"] = {"controller.kubernetes.io/pod-deletion-cost": str(cost)}
    return {"metadata": meta, "spec": {"nodeName": node},
            "status": {"phase": phase, "containerStatuses": [{"restartCount": restarts}],
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                       "lastTransitionTime": rfc3339(NOW - ready_for)}]}}


@pytest.mark.parametrize("pods,first", [
    ([_pod("scheduled"), _pod("unscheduled", node="")], "unscheduled"),
    ([_pod("running"), _pod("pending", phase="Pending", ready=False)], "pending"),
    ([_pod("ready"), _pod("notready", ready=False)], "notready"),
    ([_pod("cheap", cost=-5), _pod("dear", cost=10)], "cheap"),
    ([_pod("old-ready", ready_for=4000), _pod("new-ready", ready_for=10)], "new-ready"),
    ([_pod("stable"), _pod("crashy", restarts=7)], "crashy"),
    ([_pod("older", age=100_000), _pod("newer", age=10)], "newer"),
    # doubled up: two pods on n1, one alone on n2 -> one of n1's goes first
    ([_pod("alone", node="n2"), _pod("twin-a", age=5000), _pod("twin-b", age=5000)], "twin-a"),
])
def test_deletion_ranking_follows_upstream(pods, first):
    assert pods_to_delete(pods, 1, NOW)[0]["metadata"]["name"] == first


def test_status_counts_ready_and_available_with_min_ready_seconds():
    rs = {"metadata": {"generation": 4}, "spec": {"minReadySeconds": 30,
                                                    "template": {"metadata": {"labels": {"app": "web"}}}}}
    pods = [_pod("a", ready_for=60), _pod("b", ready_for=5), _pod("c", ready=False)]
    pods[0]["metadata"]["labels"] = {"app": "web"}
    st = replica_set_status(rs, pods, NOW)
    assert (st["replicas"], st["fullyLabeledReplicas"], st["readyReplicas"], st["availableReplicas"],
            st["observedGeneration"]) == (3, 1, 2, 1, 4)


async def test_creates_pods_with_generate_name_and_owner_then_scales_down(api, clock, manager_for):
    cm = await manager_for("replicaset")
    rs = await api.create("replicasets", replicaset("web", 3), "default")
    await settle(cm)
    pods = (await api.list("pods", "default"))["items"]
    assert len(pods) == 3
    for p in pods:
        assert p["metadata"]["name"].startswith("web-")
        ref = p["metadata"]["ownerReferences"][0]
        assert (ref["kind"], ref["uid"], ref["controller"]) == ("ReplicaSet", rs["metadata"]["uid"], True)
    await run_all_pods(api, clock)
    await settle(cm)
    st = (await api.get("replicasets", "web", "default"))["status"]
    assert (st["replicas"], st["readyReplicas"], st["availableReplicas"], st["observedGeneration"]) == (3, 3, 3, 1)
    assert len(await events(api, "SuccessfulCreate")) == 3
    await api.patch("replicasets", "web", {"spec": {"replicas": 1}}, "default")
    await settle(cm)
    live = [p for p in (await api.list("pods", "default"))["items"] if not p["metadata"].get("deletionTimestamp")]
    assert len(live) == 1
    await finish_terminating_pods(api)
    await settle(cm)
    assert (await api.get("replicasets", "web", "default"))["status"]["replicas"] == 1


async def test_a_deleted_pod_is_replaced(api, clock, manager_for):
    cm = await manager_for("replicaset")
    await api.create("replicasets", replicaset("web", 2), "default")
    await settle(cm)
    victim = (await names(api, "pods"))[0]
    await api.delete("pods", victim, "default")
    await settle(cm)
    now = await names(api, "pods")
    assert len(now) == 2 and victim not in now


async def test_adopts_matching_orphans_and_releases_pods_that_stop_matching(api, clock, manager_for):
    cm = await manager_for("replicaset")
    orphan = await api.create("pods", {"metadata": {"name": "stray", "labels": {"app": "web"}},
                                       "spec": {"containers": [{"name": "c", "image": "nginx"}]}}, "default")
    await run_pod(api, orphan, clock)
    rs = await api.create("replicasets", replicaset("web", 2), "default")
    await settle(cm)
    stray = await api.get("pods", "stray", "default")
    assert stray["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]
    assert len(await names(api, "pods")) == 2, "the adopted pod counts, so only one is created"
    stray["metadata"]["labels"] = {"app": "debug"}
    await api.update("pods", stray, "default")
    await settle(cm)
    stray = await api.get("pods", "stray", "default")
    assert not stray["metadata"].get("ownerReferences"), "released when its labels no longer match"
    assert len(await names(api, "pods")) == 3, "and a replacement was created"


async def test_expectations_stop_overcreation_while_the_informer_lags(api, clock, manager_for):
    cm = await manager_for("replicaset")
    rsc = cm.controllers["replicaset"]
    await api.create("replicasets", replicaset("web", 3), "default")
    await settle(cm)
    key = "default/web"
    # Pretend the informer has not seen the pods yet: expectations must hold further creations.
    rsc.expectations.expect_creations(key, 3)
    for p in list(rsc.pod_informer.list("default")):
        rsc.pod_informer.store.remove(f"default/{p['metadata']['name']}")
    await rsc.process(key)
    assert len(await names(api, "pods")) == 3
