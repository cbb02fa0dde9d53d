"""The disruption controller keeps PDB status; the Eviction API honours it (what kubectl drain relies on)."""

from __future__ import annotations

import pytest

from ctrl_helpers import finish_terminating_pods, replicaset, run_all_pods, settle
from kubetui.api import errors


def evict_body(name):
    return {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": "default"}}


async def live_pods(api):
    return sorted(p["metadata"]["name"] for p in (await api.list("pods", "default"))["items"]
                  if not p["metadata"].get("deletionTimestamp"))


async def test_budget_status_and_evictions(api, clock, manager_for):
    cm = await manager_for("replicaset", "disruption")
    await api.create("replicasets", replicaset("web", 3), "default")
    await settle(cm)
    await run_all_pods(api, clock)
    await api.create("poddisruptionbudgets", {"metadata": {"name": "web"},
                                              "spec": {"minAvailable": 2,
                                                       "selector": {"matchLabels": {"app": "web"}}}}, "default")
    await settle(cm)
    st = (await api.get("poddisruptionbudgets", "web", "default"))["status"]
    assert {k: st[k] for k in ("expectedPods", "desiredHealthy", "currentHealthy", "disruptionsAllowed",
                               "observedGeneration")} == {"expectedPods": 3, "desiredHealthy": 2,
                                                          "currentHealthy": 3, "disruptionsAllowed": 1,
                                                          "observedGeneration": 1}
    cond = st["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == ("DisruptionAllowed", "True", "SufficientPods")

    first, second = (await live_pods(api))[:2]
    await api.create("pods", evict_body(first), "default", subresource="eviction", name=first)
    evicted = await api.get("pods", first, "default")
    assert evicted["metadata"].get("deletionTimestamp")
    target = [c for c in evicted["status"]["conditions"] if c["type"] == "DisruptionTarget"][0]
    assert (target["reason"], target["message"]) == ("EvictionByEvictionAPI", "Eviction API: evicting")
    st = (await api.get("poddisruptionbudgets", "web", "default"))["status"]
    assert st["disruptionsAllowed"] == 0 and first in st["disruptedPods"]

    await settle(cm)
    with pytest.raises(errors.TooManyRequests) as e:
        await api.create("pods", evict_body(second), "default", subresource="eviction", name=second)
    assert str(e.value) == "Cannot evict pod as it would violate the pod's disruption budget."
    assert e.value.causes == [{"reason": "DisruptionBudget",
                               "message": "The disruption budget web needs 2 healthy pods and has 2 currently"}]

    # The ReplicaSet replaces the evicted pod; once it is Ready the budget allows one again.
    await finish_terminating_pods(api)
    await settle(cm)
    await run_all_pods(api, clock)
    await settle(cm)
    st = (await api.get("poddisruptionbudgets", "web", "default"))["status"]
    assert (st["currentHealthy"], st["disruptionsAllowed"]) == (3, 1)
    assert "disruptedPods" not in st
    await api.create("pods", evict_body(second), "default", subresource="eviction", name=second)


async def test_max_unavailable_counts_the_controllers_scale(api, clock, manager_for):
    cm = await manager_for("replicaset", "disruption")
    await api.create("replicasets", replicaset("web", 4), "default")
    await settle(cm)
    await run_all_pods(api, clock)
    await api.create("poddisruptionbudgets", {"metadata": {"name": "web"},
                                              "spec": {"maxUnavailable": "50%",
                                                       "selector": {"matchLabels": {"app": "web"}}}}, "default")
    await settle(cm)
    st = (await api.get("poddisruptionbudgets", "web", "default"))["status"]
    assert (st["expectedPods"], st["desiredHealthy"], st["disruptionsAllowed"]) == (4, 2, 2)
    # a budget over a lone pod with maxUnavailable cannot be computed: upstream's SyncFailed
    await api.create("pods", {"metadata": {"name": "lone", "labels": {"app": "lone"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}, "default")
    await api.create("poddisruptionbudgets", {"metadata": {"name": "lone"},
                                              "spec": {"maxUnavailable": 1,
                                                       "selector": {"matchLabels": {"app": "lone"}}}}, "default")
    await settle(cm)
    cond = (await api.get("poddisruptionbudgets", "lone", "default"))["status"]["conditions"][0]
    assert (cond["status"], cond["reason"]) == ("False", "SyncFailed")
