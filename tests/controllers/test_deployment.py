"""The Deployment controller, driven like kubectl drives it (set image, scale, undo, pause)."""

from __future__ import annotations

from typing import Any

from ctrl_helpers import deployment, events, finish_terminating_pods, names, run_all_pods, settle
from kubetui.client.base import JSON_PATCH, STRATEGIC_MERGE_PATCH
from kubetui.controllers import deployment_util as du

CONTROLLERS = ("deployment", "replicaset")


async def rollout(api, clock, cm, check=None, rounds: int = 30) -> int:
    """Play kubelets until the Deployment's rollout is complete; ``check`` sees every step."""
    for i in range(rounds):
        await settle(cm)
        if check:
            await check()
        d = await api.get("deployments", "web", "default")
        st = d.get("status") or {}
        if (st.get("observedGeneration") == d["metadata"]["generation"]
                and st.get("updatedReplicas") == st.get("replicas") == st.get("availableReplicas")
                == d["spec"]["replicas"]):
            return i
        await run_all_pods(api, clock)
        await settle(cm)
        await finish_terminating_pods(api)
    raise AssertionError(f"rollout did not finish: {st}")


def condition(d: dict[str, Any], type_: str) -> dict[str, Any]:
    return next(c for c in d["status"]["conditions"] if c["type"] == type_)


async def rss(api) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for r in (await api.list("replicasets", "default"))["items"]}


async def test_create_rolls_out_and_reports_status_and_conditions(api, clock, manager_for):
    cm = await manager_for(*CONTROLLERS)
    dep = await api.create("deployments", deployment("web", 3), "default")
    await settle(cm)
    (rs,) = (await rss(api)).values()
    h = rs["metadata"]["labels"][du.POD_TEMPLATE_HASH]
    assert rs["metadata"]["name"] == f"web-{h}" and h == du.compute_hash(dep["spec"]["template"])
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", du.POD_TEMPLATE_HASH: h}
    assert rs["metadata"]["ownerReferences"][0]["uid"] == dep["metadata"]["uid"]
    ann = rs["metadata"]["annotations"]
    assert (ann[du.REVISION], ann[du.DESIRED_REPLICAS], ann[du.MAX_REPLICAS]) == ("1", "3", "4")
    assert await events(api, "ScalingReplicaSet") == [f"Scaled up replica set web-{h} from 0 to 3"]
    d = await api.get("deployments", "web", "default")
    # NewReplicaSetCreated first; once the RS reports pods, progress -> ReplicaSetUpdated (as upstream).
    prog = condition(d, "Progressing")
    assert (prog["reason"], prog["message"]) == ("ReplicaSetUpdated", f'ReplicaSet "web-{h}" is progressing.')
    assert condition(d, "Available")["status"] == "False"
    await rollout(api, clock, cm)
    d = await api.get("deployments", "web", "default")
    st = d["status"]
    assert (st["replicas"], st["updatedReplicas"], st["readyReplicas"], st["availableReplicas"],
            st.get("unavailableReplicas", 0), st["observedGeneration"]) == (3, 3, 3, 3, 0, 1)
    assert condition(d, "Available")["reason"] == "MinimumReplicasAvailable"
    assert condition(d, "Progressing")["reason"] == "NewReplicaSetAvailable"
    assert d["metadata"]["annotations"][du.REVISION] == "1"


async def test_rolling_update_respects_surge_and_unavailable_then_undo_reuses_the_old_rs(api, clock, manager_for):
    cm = await manager_for(*CONTROLLERS)
    spec = {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}}
    await api.create("deployments", deployment("web", 4, **spec), "default")
    await rollout(api, clock, cm)
    first = next(iter(await rss(api)))
    # kubectl set image (strategic merge patch) with a change-cause annotation
    await api.patch("deployments", "web", {"metadata": {"annotations": {"kubernetes.io/change-cause": "nginx 1.28"}},
                                           "spec": {"template": {"spec": {"containers": [
                                               {"name": "web", "image": "nginx:1.28"}]}}}},
                    "default", patch_type=STRATEGIC_MERGE_PATCH)

    async def invariants() -> None:
        pods = [p for p in (await api.list("pods", "default"))["items"] if not p["metadata"].get("deletionTimestamp")]
        assert len(pods) <= 5, "never more than replicas + maxSurge pods"
        total = sum(r["spec"]["replicas"] for r in (await rss(api)).values())
        assert total <= 5
        ready = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]
        assert len(ready) >= 4 or len(pods) > len(ready), "maxUnavailable 0: old pods stay until new are ready"

    steps = await rollout(api, clock, cm, check=invariants)
    assert steps >= 4, "one pod at a time with maxSurge 1"
    sets = await rss(api)
    second = next(n for n in sets if n != first)
    assert sets[first]["spec"]["replicas"] == 0 and sets[second]["spec"]["replicas"] == 4
    assert sets[second]["metadata"]["annotations"][du.REVISION] == "2"
    assert sets[second]["metadata"]["annotations"]["kubernetes.io/change-cause"] == "nginx 1.28"
    msgs = await events(api, "ScalingReplicaSet")
    assert f"Scaled down replica set {first} from 4 to 3" in msgs

    # kubectl rollout undo: json-patch the old RS's template (minus pod-template-hash) back in.
    old_template = sets[first]["spec"]["template"]
    old_template["metadata"]["labels"].pop(du.POD_TEMPLATE_HASH)
    old_template["metadata"]["creationTimestamp"] = None
    for c in old_template["spec"]["containers"]:
        c["resources"] = {}
    await api.patch("deployments", "web", [{"op": "replace", "path": "/spec/template", "value": old_template}],
                    "default", patch_type=JSON_PATCH)
    await rollout(api, clock, cm)
    sets = await rss(api)
    assert sorted(sets) == sorted([first, second]), "the old ReplicaSet is reused, no third one"
    assert sets[first]["spec"]["replicas"] == 4 and sets[second]["spec"]["replicas"] == 0
    assert sets[first]["metadata"]["annotations"][du.REVISION] == "3"
    assert sets[first]["metadata"]["annotations"][du.REVISION_HISTORY] == "1"
    d = await api.get("deployments", "web", "default")
    assert d["metadata"]["annotations"][du.REVISION] == "3"


async def test_scale_up_and_down(api, clock, manager_for):
    cm = await manager_for(*CONTROLLERS)
    await api.create("deployments", deployment("web", 2), "default")
    await rollout(api, clock, cm)
    await api.patch("deployments", "web", {"spec": {"replicas": 5}}, "default", subresource="scale")
    await rollout(api, clock, cm)
    assert len(await names(api, "pods")) == 5
    (rs,) = (await rss(api)).values()
    assert rs["metadata"]["annotations"][du.DESIRED_REPLICAS] == "5"
    await api.patch("deployments", "web", {"spec": {"replicas": 1}}, "default", subresource="scale")
    await rollout(api, clock, cm)
    await finish_terminating_pods(api)
    assert len(await names(api, "pods")) == 1
    assert len(await rss(api)) == 1, "scaling never creates a new ReplicaSet"


async def test_recreate_kills_old_pods_before_starting_new_ones(api, clock, manager_for):
    cm = await manager_for(*CONTROLLERS)
    await api.create("deployments", deployment("web", 2, strategy={"type": "Recreate"}), "default")
    await rollout(api, clock, cm)
    await api.patch("deployments", "web", {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "nginx:1.28"}]}}}}, "default", patch_type=STRATEGIC_MERGE_PATCH)
    await settle(cm)
    assert len(await rss(api)) == 1, "no new ReplicaSet while old pods still run"
    await finish_terminating_pods(api)
    await settle(cm)
    sets = await rss(api)
    assert len(sets) == 2
    await rollout(api, clock, cm)


async def test_paused_deployment_makes_no_progress_until_resumed(api, clock, manager_for):
    cm = await manager_for(*CONTROLLERS)
    await api.create("deployments", deployment("web", 2), "default")
    await rollout(api, clock, cm)
    await api.patch("deployments", "web", {"spec": {"paused": True}}, "default")
    await settle(cm)
    d = await api.get("deployments", "web", "default")
    assert (condition(d, "Progressing")["status"], condition(d, "Progressing")["reason"]) == ("Unknown", "DeploymentPaused")
    await api.patch("deployments", "web", {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "nginx:1.28"}]}}}}, "default", patch_type=STRATEGIC_MERGE_PATCH)
    await settle(cm)
    assert len(await rss(api)) == 1
    await api.patch("deployments", "web", {"spec": {"paused": False}}, "default")
    await rollout(api, clock, cm)
    assert len(await rss(api)) == 2


async def test_progress_deadline_exceeded(api, clock, manager_for):
    cm = await manager_for(*CONTROLLERS)
    await api.create("deployments", deployment("web", 2, progressDeadlineSeconds=30), "default")
    await settle(cm)   # pods never become ready
    await settle(cm, clock, 31, step=1)
    d = await api.get("deployments", "web", "default")
    cond = condition(d, "Progressing")
    assert (cond["status"], cond["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert cond["message"].endswith("has timed out progressing.")


async def test_revision_history_limit_deletes_the_oldest_scaled_down_rs(api, clock, manager_for):
    cm = await manager_for(*CONTROLLERS)
    await api.create("deployments", deployment("web", 1, revisionHistoryLimit=1), "default")
    await rollout(api, clock, cm)
    for tag in ("1.28", "1.29"):
        await api.patch("deployments", "web", {"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": f"nginx:{tag}"}]}}}}, "default", patch_type=STRATEGIC_MERGE_PATCH)
        await rollout(api, clock, cm)
    await settle(cm)
    revs = sorted(r["metadata"]["annotations"][du.REVISION] for r in (await rss(api)).values())
    assert revs == ["2", "3"]


async def test_a_stale_replicaset_status_never_scales_an_old_replicaset_up(api, clock, manager_for):
    """Just after the controller scaled the old RS from 5 to 4 it still reports 5 available.

    Issue 12 item 1: "unhealthy" = 4 - 5 = -1 scaled the old RS back up to 5
    ("Scaled up replica set web-… from 4 to 5"), creating a fresh old pod only
    to kill it. Upstream's cleanupUnhealthyReplicas refuses to "scale down" by
    a negative count. Only the Deployment controller runs here; the test writes
    ReplicaSet statuses itself, so the stale moment lasts as long as it likes.
    """
    cm = await manager_for("deployment")
    spec = {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}}
    await api.create("deployments", deployment("web", 5, **spec), "default")
    await settle(cm)

    async def set_status(name: str, replicas: int, available: int) -> None:
        rs = await api.get("replicasets", name, "default")
        rs["status"] = {"replicas": replicas, "readyReplicas": available, "availableReplicas": available,
                        "observedGeneration": rs["metadata"]["generation"]}
        await api.update("replicasets", rs, "default", subresource="status")
        await settle(cm)

    (old,) = await rss(api)
    await set_status(old, 5, 5)
    await api.patch("deployments", "web", {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "nginx:1.28"}]}}}}, "default", patch_type=STRATEGIC_MERGE_PATCH)
    await settle(cm)
    sets = await rss(api)
    new = next(n for n in sets if n != old)
    # new 1 (surge) -> old 5 -> 4 (one may be unavailable) -> new 2; old's status still says 5.
    assert (sets[old]["spec"]["replicas"], sets[new]["spec"]["replicas"]) == (4, 2)
    await set_status(new, 2, 2)          # the new pods became available; old is still stale
    sets = await rss(api)
    assert sets[old]["spec"]["replicas"] <= 4
    ups = [m for m in await events(api, "ScalingReplicaSet") if m.startswith(f"Scaled up replica set {old}")]
    assert ups == [f"Scaled up replica set {old} from 0 to 5"]
    await set_status(old, 4, 4)          # the ReplicaSet controller caught up: the rollout goes on
    assert (await rss(api))[old]["spec"]["replicas"] < 4
