"""Silent nodes become Unknown and tainted; their pods are evicted and replaced; recovery untaints."""

from __future__ import annotations

import copy

import pytest

from ctrl_helpers import events, node, replicaset, run_pod, settle
from kubetui.clock import rfc3339, rfc3339_micro
from kubetui.controllers.nodelifecycle import NOT_READY, UNREACHABLE, desired_taints, reconcile_taints
from kubetui.controllers.podgc import should_force_delete
from kubetui.controllers.taint_eviction import eviction_time, tolerates
from kubetui.timings import LAB

T0 = 1_700_000_000.0


def _node(ready="True", unschedulable=False, taints=None, **conds):
    conditions = [{"type": "Ready", "status": ready}] + [{"type": k, "status": v} for k, v in conds.items()]
    return {"metadata": {"name": "n"}, "spec": {"unschedulable": unschedulable, "taints": taints or []},
            "status": {"conditions": conditions}}


@pytest.mark.parametrize("n,expected", [
    (_node("True"), set()),
    (_node("False"), {(NOT_READY, "NoSchedule"), (NOT_READY, "NoExecute")}),
    (_node("Unknown"), {(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")}),
    (_node("True", MemoryPressure="True"), {("node.kubernetes.io/memory-pressure", "NoSchedule")}),
    (_node("True", unschedulable=True), {("node.kubernetes.io/unschedulable", "NoSchedule")}),
])
def test_taints_follow_conditions(n, expected):
    assert desired_taints(n) == expected


def test_reconcile_taints_keeps_foreign_taints_and_stamps_no_execute():
    n = _node("Unknown", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
                                 {"key": NOT_READY, "effect": "NoExecute", "timeAdded": "x"}])
    taints = reconcile_taints(n, "2023-11-14T22:13:20Z")
    assert {(t["key"], t["effect"]) for t in taints} == {("dedicated", "NoSchedule"), (UNREACHABLE, "NoSchedule"),
                                                         (UNREACHABLE, "NoExecute")}
    assert next(t for t in taints if t["effect"] == "NoExecute")["timeAdded"] == "2023-11-14T22:13:20Z"
    assert reconcile_taints({**n, "spec": {"taints": taints}}, "later") is None, "idempotent"


TAINT = {"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": rfc3339(T0)}


@pytest.mark.parametrize("tolerations,expected", [
    ([], T0 + 300),                                                    # DefaultTolerationSeconds
    ([{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}], T0 + 30),
    ([{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}], None),   # forever
    ([{"operator": "Exists"}], None),                                  # tolerates everything
    ([{"key": UNREACHABLE, "operator": "Exists", "tolerationSeconds": 10},
      {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60}], T0 + 10),
])
def test_eviction_time(tolerations, expected):
    assert eviction_time({"spec": {"tolerations": tolerations}}, [TAINT], 300) == expected


def test_untolerated_custom_taint_evicts_now():
    taint = {"key": "maintenance", "value": "yes", "effect": "NoExecute", "timeAdded": rfc3339(T0)}
    assert eviction_time({"spec": {}}, [taint], 300) == T0
    assert tolerates({"key": "maintenance", "operator": "Equal", "value": "yes"}, taint)
    assert not tolerates({"key": "maintenance", "operator": "Equal", "value": "no"}, taint)


@pytest.mark.parametrize("deletion_at,taint_age,out_of_service,ready,expected", [
    (T0 - 1, 10, False, "Unknown", False),    # unreachable for long: still only the kubelet may confirm
    (T0 + 5, 10, False, "Unknown", False),    # (upstream leaves such pods Terminating; issue 12 item 7)
    (T0 - 1, 1, False, "Unknown", False),     # node only just became unreachable
    (T0 + 5, 0, True, "False", True),         # upstream: out-of-service taint on a NotReady node
    (T0 + 5, 0, True, "True", False),         # out-of-service, but the node is Ready: its kubelet will do it
    (None, 10, False, "Unknown", False),      # not terminating
])
def test_pod_gc_force_delete_rule(deletion_at, taint_age, out_of_service, ready, expected):
    pod = {"metadata": {"deletionTimestamp": rfc3339(deletion_at)} if deletion_at else {}}
    taints = [{"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": rfc3339(T0 - taint_age)}] if taint_age else []
    if out_of_service:
        taints.append({"key": "node.kubernetes.io/out-of-service", "effect": "NoExecute"})
    n = _node(ready, taints=taints)
    assert should_force_delete(pod, n) is expected


# --- behaviour: a node dies and comes back ---

async def renew(api, clock, name: str) -> None:
    try:
        lease = await api.get("leases", name, "kube-node-lease")
    except Exception:
        await api.create("leases", {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                    "metadata": {"name": name, "namespace": "kube-node-lease"},
                                    "spec": {"holderIdentity": name, "leaseDurationSeconds": 4,
                                             "renewTime": rfc3339_micro(clock.time())}}, "kube-node-lease")
        return
    lease["spec"]["renewTime"] = rfc3339_micro(clock.time())
    await api.update("leases", lease, "kube-node-lease")


async def post_ready(api, clock, name: str) -> None:
    """The kubelet's own status: Ready=True with a fresh heartbeat."""
    n = await api.get("nodes", name)
    now = rfc3339(clock.time())
    n["status"]["conditions"] = [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                  "message": "kubelet is posting ready status", "lastHeartbeatTime": now,
                                  "lastTransitionTime": now}]
    await api.update("nodes", n, subresource="status")


async def run_for(api, clock, cm, seconds: float, alive: list[str]) -> None:
    for _ in range(int(seconds / LAB.node_lease_renew_seconds)):
        for name in alive:
            await renew(api, clock, name)
        await settle(cm, clock, LAB.node_lease_renew_seconds, step=0.25)


def cond(n, type_="Ready"):
    return next(c for c in n["status"]["conditions"] if c["type"] == type_)


async def test_a_silent_node_is_marked_unknown_tainted_its_pods_evicted_and_replaced(api, clock, manager_for):
    for name in ("node-1", "node-2"):
        await node(api, name, clock)
        await renew(api, clock, name)
    cm = await manager_for("node-lifecycle", "taint-eviction", "pod-garbage-collector", "replicaset")
    await api.create("replicasets", replicaset("web", 2), "default")
    await settle(cm)
    originals = []
    for p in (await api.list("pods", "default"))["items"]:
        originals.append((await run_pod(api, p, clock, node_name="node-1"))["metadata"]["name"])
    await run_for(api, clock, cm, 3, ["node-1", "node-2"])
    assert cond(await api.get("nodes", "node-1"))["status"] == "True"

    # node-1's kubelet stops renewing its lease.
    await run_for(api, clock, cm, LAB.node_monitor_grace_seconds + 1, ["node-2"])
    n1 = await api.get("nodes", "node-1")
    ready = cond(n1)
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")
    assert {(t["key"], t["effect"]) for t in n1["spec"]["taints"]} == {(UNREACHABLE, "NoSchedule"),
                                                                        (UNREACHABLE, "NoExecute")}
    assert cond(await api.get("nodes", "node-2"))["status"] == "True"
    assert not (await api.get("nodes", "node-2")).get("spec", {}).get("taints")
    # MarkPodsNotReady: long before eviction, node-1's pods stop being Ready, so
    # the endpoints controllers take them out of every Service.
    for name in originals:
        pod = await api.get("pods", name, "default")
        assert cond(pod)["status"] == "False"
    assert len(await events(api, "NodeNotReady")) >= len(originals)

    # After default_toleration_seconds the pods are evicted (graceful DELETE) and the RS replaces
    # them; the evicted ones stay Terminating: only node-1's kubelet can confirm they stopped.
    await run_for(api, clock, cm, LAB.default_toleration_seconds + LAB.node_monitor_grace_seconds + 2, ["node-2"])
    pods = (await api.list("pods", "default"))["items"]
    terminating = sorted(p["metadata"]["name"] for p in pods if p["metadata"].get("deletionTimestamp"))
    active = [p["metadata"]["name"] for p in pods if not p["metadata"].get("deletionTimestamp")]
    assert terminating == sorted(originals) and len(active) == 2, (terminating, active)
    msgs = await events(api, "TaintManagerEviction")
    assert sorted(msgs) == sorted(f"Marking for deletion Pod default/{n}" for n in originals)

    # The kubelet comes back: lease renewed, Ready posted; the taints go.
    await renew(api, clock, "node-1")
    await post_ready(api, clock, "node-1")
    await run_for(api, clock, cm, 2, ["node-1", "node-2"])
    n1 = await api.get("nodes", "node-1")
    assert cond(n1)["status"] == "True" and not n1.get("spec", {}).get("taints")


async def test_kubelet_reporting_not_ready_gives_not_ready_taints(api, clock, manager_for):
    await node(api, "node-1", clock, ready=False)
    await renew(api, clock, "node-1")
    cm = await manager_for("node-lifecycle")
    await settle(cm)
    n1 = await api.get("nodes", "node-1")
    assert cond(n1)["status"] == "False"
    assert {(t["key"], t["effect"]) for t in n1["spec"]["taints"]} == {(NOT_READY, "NoSchedule"),
                                                                        (NOT_READY, "NoExecute")}
    # The reconcile log says why (issue 19).
    recs = [r for r in cm.reconcile_log.since(0) if r.object == "Node/node-1" and r.decided]
    assert recs and recs[0].observed[0].startswith("Ready=False; last heartbeat ")
    assert recs[0].decided[0]["text"] == f"set taints {NOT_READY}:NoExecute, {NOT_READY}:NoSchedule"
    assert [w.text().split(" rv ")[0] for w in recs[0].writes] == ["update nodes node-1"]
