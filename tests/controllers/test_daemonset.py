"""The DaemonSet controller: pure decisions (table tests) and the controller on a fake clock."""

from __future__ import annotations

import copy

import pytest

from ctrl_helpers import container, events, finish_terminating_pods, names, node, run_pod, settle
from kubetui.controllers import daemonset_util as dsu
from kubetui.controllers.history import REVISION_HASH_LABEL


def ds_obj(name="agent", **spec):
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container()]}},
                     **spec}}


def node_obj(name, labels=None, taints=None, unschedulable=False):
    spec = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": spec}


NOT_READY = {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}
CP = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


@pytest.mark.parametrize("node, template_spec, expected", [
    (node_obj("n"), {}, (True, True)),
    (node_obj("n", {"disk": "ssd"}), {"nodeSelector": {"disk": "ssd"}}, (True, True)),
    (node_obj("n"), {"nodeSelector": {"disk": "ssd"}}, (False, False)),
    # automatic tolerations: not-ready (NoExecute), cordoned (unschedulable taint), pressure
    (node_obj("n", taints=[NOT_READY]), {}, (True, True)),
    (node_obj("n", taints=[{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]), {}, (True, True)),
    (node_obj("n", taints=[{"key": "node.kubernetes.io/memory-pressure", "effect": "NoSchedule"}]), {},
     (True, True)),
    # network-unavailable only for host-network pods
    (node_obj("n", taints=[{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}]), {},
     (False, True)),
    (node_obj("n", taints=[{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}]),
     {"hostNetwork": True}, (True, True)),
    # a control-plane taint: not placed, an existing pod may stay; a toleration lets it in
    (node_obj("n", taints=[CP]), {}, (False, True)),
    (node_obj("n", taints=[CP]), {"tolerations": [{"key": CP["key"], "operator": "Exists"}]}, (True, True)),
    (node_obj("n", taints=[{"key": "evict", "effect": "NoExecute"}]), {}, (False, False)),
    # required node affinity
    (node_obj("n", {"zone": "a"}), {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]}]}}}},
     (False, False)),
    (node_obj("n", {"zone": "b"}), {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]}]}}}},
     (True, True)),
])
def test_node_should_run(node, template_spec, expected):
    ds = ds_obj()
    ds["spec"]["template"]["spec"].update(template_spec)
    assert dsu.node_should_run(ds, node) == expected


def test_daemon_pod_is_pinned_by_affinity_with_automatic_tolerations():
    ds = ds_obj()
    ds["metadata"].update(uid="u1", annotations={"deprecated.daemonset.template.generation": "3"})
    pod = dsu.daemon_pod(ds, "node-2", "abc")
    assert pod["metadata"]["generateName"] == "agent-"
    assert pod["metadata"]["labels"] == {"app": "agent", "pod-template-generation": "3",
                                         REVISION_HASH_LABEL: "abc"}
    assert "nodeName" not in pod["spec"]
    assert pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-2"]}]}]}
    keys = [(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]]
    assert keys == [("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
                    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
                    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
                    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
                    ("node.kubernetes.io/unschedulable", "NoSchedule")]
    assert dsu.target_node(pod) == "node-2"


def _pod(name, node, hash_, ready=True, created="2026-01-01T00:00:00Z"):
    return {"metadata": {"name": name, "labels": {REVISION_HASH_LABEL: hash_}, "creationTimestamp": created},
            "spec": {"nodeName": node},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def _setup(n, rolling):
    ds = ds_obj(updateStrategy={"type": "RollingUpdate", "rollingUpdate": rolling})
    nodes = [node_obj(f"n{i}") for i in range(n)]
    return ds, nodes, dsu.template_hash(ds)


def test_rolling_update_deletes_at_most_max_unavailable():
    ds, nodes, h = _setup(10, {"maxUnavailable": "20%", "maxSurge": 0})
    pods = {f"n{i}": [_pod(f"p{i}", f"n{i}", "old")] for i in range(10)}
    actions = dsu.decide(ds, nodes, pods, 0)
    assert actions.create_on == [] and len(actions.delete) == 2
    # One new pod not yet available counts against the budget: one more deletion only.
    pods["n0"] = [_pod("q0", "n0", h, ready=False)]
    actions = dsu.decide(ds, nodes, pods, 0)
    assert len(actions.delete) == 1 and actions.delete[0][0] != "q0"
    # An old pod that is unavailable anyway is replaced on top of the budget (upstream's
    # allowedReplacementPods): p5 plus two available old pods.
    pods["n5"] = [_pod("p5", "n5", "old", ready=False)]
    pods["n0"] = [_pod("q0", "n0", h)]
    names_ = [n for n, _ in dsu.decide(ds, nodes, pods, 0).delete]
    assert names_[0] == "p5" and len(names_) == 3


def test_rolling_update_with_surge_creates_beside_then_deletes_old():
    ds, nodes, h = _setup(4, {"maxUnavailable": 0, "maxSurge": 1})
    pods = {f"n{i}": [_pod(f"p{i}", f"n{i}", "old")] for i in range(4)}
    actions = dsu.decide(ds, nodes, pods, 0)
    assert actions.create_on == ["n0"] and actions.delete == []
    pods["n0"].append(_pod("q0", "n0", h, ready=False, created="2026-01-01T00:01:00Z"))
    assert not dsu.decide(ds, nodes, pods, 0)          # waiting for q0
    pods["n0"][1] = _pod("q0", "n0", h, ready=True, created="2026-01-01T00:01:00Z")
    assert [n for n, _ in dsu.decide(ds, nodes, pods, 0).delete] == ["p0"]


def test_manage_creates_missing_and_removes_extra_and_ineligible():
    ds, nodes, h = _setup(3, {"maxUnavailable": 1, "maxSurge": 0})
    ds["spec"]["template"]["spec"]["nodeSelector"] = {"run": "yes"}
    for n in nodes[:2]:
        n["metadata"]["labels"] = {"run": "yes"}
    pods = {"n1": [_pod("a", "n1", h), _pod("b", "n1", h, created="2026-01-02T00:00:00Z")],
            "n2": [_pod("c", "n2", h)]}
    actions = dsu.decide(ds, nodes, pods, 0)
    assert actions.create_on == ["n0"]
    assert sorted(n for n, _ in actions.delete) == ["b", "c"]


def test_status_counts():
    ds, nodes, h = _setup(3, {"maxUnavailable": 1, "maxSurge": 0})
    nodes[2]["spec"]["taints"] = [CP]
    pods = {"n0": [_pod("a", "n0", h)], "n1": [_pod("b", "n1", "old", ready=False)], "n2": [_pod("c", "n2", h)]}
    st = dsu.daemon_set_status(ds, nodes, pods, 0)
    assert (st["desiredNumberScheduled"], st["currentNumberScheduled"], st["numberReady"], st["numberAvailable"],
            st["updatedNumberScheduled"], st["numberMisscheduled"], st["numberUnavailable"]) == (2, 2, 1, 1, 1, 1, 1)


# --- the controller, against the real registry, on a fake clock -------------------------


async def _bind_daemon_pods(api, clock):
    """Play the scheduler and the kubelet: bind each pod to the node its affinity names, run it."""
    for p in (await api.list("pods", "default"))["items"]:
        if p["metadata"].get("deletionTimestamp") or (p.get("status") or {}).get("phase") == "Running":
            continue
        await run_pod(api, p, clock, node_name=dsu.target_node(p))


async def _pods_per_node(api):
    out = {}
    for p in (await api.list("pods", "default"))["items"]:
        if not p["metadata"].get("deletionTimestamp"):
            out.setdefault(dsu.target_node(p), []).append(p)
    return out


async def test_controller_one_pod_per_node_new_node_taint_and_rollout(api, clock, manager_for):
    for i in (1, 2, 3):
        await node(api, f"node-{i}", clock)
    tainted = await api.get("nodes", "node-3")
    tainted["spec"] = {"taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]}
    await api.update("nodes", tainted)
    cm = await manager_for("daemonset")
    await api.create("daemonsets", ds_obj(), "default")
    await settle(cm)
    per_node = await _pods_per_node(api)
    assert sorted(per_node) == ["node-1", "node-2"] and all(len(v) == 1 for v in per_node.values())
    await _bind_daemon_pods(api, clock)
    await settle(cm)
    ds = await api.get("daemonsets", "agent", "default")
    assert ds["status"]["desiredNumberScheduled"] == 2 and ds["status"]["numberReady"] == 2
    revisions = (await api.list("controllerrevisions", "default"))["items"]
    assert [r["revision"] for r in revisions] == [1]
    # A new node gets its pod.
    await node(api, "node-4", clock)
    await settle(cm)
    assert sorted(await _pods_per_node(api)) == ["node-1", "node-2", "node-4"]
    await _bind_daemon_pods(api, clock)
    await settle(cm)
    # Rollout: maxUnavailable 1 -> one old pod deleted at a time.
    ds = await api.get("daemonsets", "agent", "default")
    ds["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    await api.update("daemonsets", ds, "default")
    await settle(cm)
    deleting = [p for p in (await api.list("pods", "default"))["items"] if p["metadata"].get("deletionTimestamp")]
    assert len(deleting) == 1
    for _ in range(6):
        await finish_terminating_pods(api)
        await settle(cm)
        await _bind_daemon_pods(api, clock)
        await settle(cm)
    ds = await api.get("daemonsets", "agent", "default")
    assert ds["status"]["updatedNumberScheduled"] == 3 and ds["status"]["numberAvailable"] == 3
    images = {p["spec"]["containers"][0]["image"] for p in (await api.list("pods", "default"))["items"]}
    assert images == {"nginx:1.28"}
    assert sorted(r["revision"] for r in (await api.list("controllerrevisions", "default"))["items"]) == [1, 2]
    assert "Created pod" in " ".join(await events(api, "SuccessfulCreate"))


async def test_rollback_reuses_the_old_revision(api, clock, manager_for):
    await node(api, "node-1", clock)
    cm = await manager_for("daemonset")
    await api.create("daemonsets", ds_obj(updateStrategy={"type": "OnDelete"}), "default")
    await settle(cm)
    ds = await api.get("daemonsets", "agent", "default")
    first_template = copy.deepcopy(ds["spec"]["template"])
    ds["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    await api.update("daemonsets", ds, "default")
    await settle(cm)
    # OnDelete: the old pod stays until someone deletes it.
    pods = (await api.list("pods", "default"))["items"]
    assert len(pods) == 1 and pods[0]["spec"]["containers"][0]["image"] == "nginx:1.27"
    ds = await api.get("daemonsets", "agent", "default")
    ds["spec"]["template"] = first_template
    await api.update("daemonsets", ds, "default")
    await settle(cm)
    revs = sorted((r["revision"], r["data"]["spec"]["template"]["spec"]["containers"][0]["image"])
                  for r in (await api.list("controllerrevisions", "default"))["items"])
    assert revs == [(2, "nginx:1.28"), (3, "nginx:1.27")]
    assert await names(api, "controllerrevisions") == sorted(r["metadata"]["name"] for r in (
        await api.list("controllerrevisions", "default"))["items"])


async def test_deleting_the_daemonset_collects_its_pods_and_revisions(api, clock, manager_for):
    await node(api, "node-1", clock)
    cm = await manager_for("daemonset", "garbage-collector")
    await api.create("daemonsets", ds_obj(), "default")
    await settle(cm)
    assert len(await names(api, "pods")) == 1 and len(await names(api, "controllerrevisions")) == 1
    await api.delete("daemonsets", "agent", "default")
    await settle(cm)
    await finish_terminating_pods(api)
    await settle(cm)
    assert await names(api, "controllerrevisions") == []
    assert [p for p in (await api.list("pods", "default"))["items"] if not p["metadata"].get("deletionTimestamp")] == []


async def test_a_failed_daemon_pod_is_replaced_with_backoff(api, clock, manager_for):
    """A kubelet that rejects the pod must not make the controller hot-loop (failedPodsBackoff)."""
    await node(api, "node-1", clock)
    cm = await manager_for("daemonset")
    await api.create("daemonsets", ds_obj(), "default")
    await settle(cm)

    async def fail_current():
        [p] = [p for p in (await api.list("pods", "default"))["items"] if not p["metadata"].get("deletionTimestamp")]
        p["status"] = {"phase": "Failed", "reason": "OutOfcpu"}
        await api.update("pods", p, "default", subresource="status")
        return p["metadata"]["name"]

    first = await fail_current()
    await settle(cm)
    await finish_terminating_pods(api)
    await settle(cm)
    second = await fail_current()
    assert second != first                       # replaced once at once
    await settle(cm)
    await finish_terminating_pods(api)
    await settle(cm)
    live = [p["metadata"]["name"] for p in (await api.list("pods", "default"))["items"]]
    assert live == [second]                      # within the backoff: the failed pod stays
    await settle(cm, clock, 2.5)
    await finish_terminating_pods(api)
    await settle(cm)
    live = [p["metadata"]["name"] for p in (await api.list("pods", "default"))["items"]]
    assert second not in live and len(live) == 1
    assert "Found failed daemon pod" in " ".join(await events(api, "FailedDaemonPod"))


async def test_a_revision_name_taken_by_another_template_bumps_collision_count(api, clock, manager_for):
    await node(api, "node-1", clock)
    ds = await api.create("daemonsets", ds_obj(), "default")
    hash_ = dsu.template_hash(ds)
    await api.create("controllerrevisions", {"apiVersion": "apps/v1", "kind": "ControllerRevision",
                                             "metadata": {"name": f"agent-{hash_}", "namespace": "default"},
                                             "data": {"spec": {"template": {"other": True}}}, "revision": 7},
                     "default")
    cm = await manager_for("daemonset")
    await settle(cm, clock, 1.0)
    ds = await api.get("daemonsets", "agent", "default")
    assert ds["status"]["collisionCount"] == 1
    mine = [r for r in (await api.list("controllerrevisions", "default"))["items"]
            if (r["metadata"].get("ownerReferences") or [{}])[0].get("name") == "agent"]
    assert [r["metadata"]["name"] for r in mine] == [f"agent-{dsu.template_hash(ds)}"]
    assert dsu.template_hash(ds) != hash_
