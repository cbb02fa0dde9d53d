"""The ReplicationController manager is the ReplicaSet controller over v1 RCs (plain-map selectors)."""

from __future__ import annotations

from ctrl_helpers import container, events, finish_terminating_pods, run_all_pods, settle


def rc(name="web", replicas=3):
    return {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"app": name},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container()]}}}}


async def test_rc_creates_owned_pods_scales_and_reports_status(api, clock, manager_for):
    cm = await manager_for("replicationcontroller")
    made = await api.create("replicationcontrollers", rc(replicas=3), "default")
    await settle(cm)
    pods = (await api.list("pods", "default"))["items"]
    assert len(pods) == 3
    for p in pods:
        ref = p["metadata"]["ownerReferences"][0]
        assert (ref["apiVersion"], ref["kind"], ref["uid"]) == ("v1", "ReplicationController",
                                                                made["metadata"]["uid"])
    await run_all_pods(api, clock)
    await settle(cm)
    status = (await api.get("replicationcontrollers", "web", "default"))["status"]
    assert (status["replicas"], status["readyReplicas"], status["observedGeneration"]) == (3, 3, 1)
    assert any("Created pod: web-" in e for e in await events(api, "SuccessfulCreate"))

    scale = await api.get("replicationcontrollers", "web", "default", subresource="scale")
    scale["spec"]["replicas"] = 1
    await api.update("replicationcontrollers", scale, "default", subresource="scale")
    await settle(cm)
    await finish_terminating_pods(api)
    await settle(cm)
    pods = [p for p in (await api.list("pods", "default"))["items"] if not p["metadata"].get("deletionTimestamp")]
    assert len(pods) == 1


async def test_rc_adopts_a_matching_orphan_and_ignores_others(api, clock, manager_for):
    cm = await manager_for("replicationcontroller")
    for name, app in (("orphan", "web"), ("stranger", "db")):
        await api.create("pods", {"metadata": {"name": name, "labels": {"app": app}},
                                  "spec": {"containers": [container()]}}, "default")
    await api.create("replicationcontrollers", rc(replicas=1), "default")
    await settle(cm)
    pods = {p["metadata"]["name"]: p for p in (await api.list("pods", "default"))["items"]}
    assert set(pods) == {"orphan", "stranger"}, "the adopted orphan counts: no new pod"
    assert pods["orphan"]["metadata"]["ownerReferences"][0]["kind"] == "ReplicationController"
    assert "ownerReferences" not in pods["stranger"]["metadata"]
