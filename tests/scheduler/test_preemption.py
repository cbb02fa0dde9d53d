"""DefaultPreemption's choices, table-tested against upstream's rules (default_preemption_test.go's spirit)."""

from __future__ import annotations

import asyncio

import pytest

from helpers import make_node, make_pod
from kubetui.scheduler.cache import SchedulerCache
from kubetui.scheduler.framework import PodInfo
from kubetui.scheduler.preemption import Candidate, filter_pods_with_pdb_violation, pick_one_node
from kubetui.scheduler.profiles import build_profile
from kubetui.scheduler.runtime import Framework


def pod(name, cpu, priority, labels=None, started="2026-01-01T00:00:00Z"):
    p = make_pod(name, cpu=cpu, priority=priority)
    p["metadata"]["labels"] = labels or {"app": name}
    p["status"] = {"startTime": started}
    return p


def setup(nodes, placed, pdbs=()):
    cache = SchedulerCache()
    for n in nodes:
        cache.add_or_update_node(n)
    for node, p in placed:
        cache.assume_pod(PodInfo(p), node)
    fwk = Framework(build_profile("default", cache))
    fwk.preemption.pdbs = lambda: list(pdbs)
    return cache, fwk


def test_minimal_victims_lowest_priority_first():
    """n1 (1 cpu): low(0, 800m) and mid(100, 100m). A 500m pod of priority 1000 needs only low to go."""
    cache, fwk = setup([make_node("n1", cpu="1")], [("n1", pod("low", "800m", 0)), ("n1", pod("mid", "100m", 100))])
    r = fwk.schedule_pod(PodInfo(pod("high", "500m", 1000)), cache.node_list())
    assert (r.preemption.nominated_node, [v.name for v in r.preemption.victims]) == ("n1", ["low"])
    assert r.message == "0/1 nodes are available: 1 Insufficient cpu."


def test_equal_or_higher_priority_pods_are_never_victims():
    cache, fwk = setup([make_node("n1", cpu="1")], [("n1", pod("peer", "800m", 1000))])
    r = fwk.schedule_pod(PodInfo(pod("high", "500m", 1000)), cache.node_list())
    assert r.preemption.nominated_node is None
    assert r.message == ("0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: "
                         "1 No preemption victims found for incoming pod.")


def test_unresolvable_nodes_and_not_enough_room_even_without_victims():
    cordoned = make_node("n2", cpu="4", unschedulable=True)
    cache, fwk = setup([make_node("n1", cpu="1"), cordoned], [("n1", pod("low", "500m", 0))])
    r = fwk.schedule_pod(PodInfo(pod("huge", "2", 1000)), cache.node_list())
    assert r.preemption.nominated_node is None
    assert r.message.endswith("preemption: 0/2 nodes are available: 1 Insufficient cpu, "
                              "1 Preemption is not helpful for scheduling.")


def pdb(name, selector, allowed, disrupted=None):
    return {"metadata": {"name": name, "namespace": "default"},
            "spec": {"selector": {"matchLabels": selector}},
            "status": {"disruptionsAllowed": allowed, "disruptedPods": disrupted or {}}}


def test_pdb_violations_are_avoided_where_possible():
    """Two equal nodes; n1's victim is protected by an exhausted budget, n2's is not: n2 wins."""
    nodes = [make_node("n1", cpu="1"), make_node("n2", cpu="1")]
    placed = [("n1", pod("guarded", "800m", 0, {"app": "db"})), ("n2", pod("free", "800m", 0, {"app": "batch"}))]
    cache, fwk = setup(nodes, placed, [pdb("db", {"app": "db"}, 0)])
    r = fwk.schedule_pod(PodInfo(pod("high", "500m", 1000)), cache.node_list())
    assert (r.preemption.nominated_node, [v.name for v in r.preemption.victims]) == ("n2", ["free"])
    cands = {c.node: c.pdb_violations for c in r.preemption.candidates}
    assert cands == {"n1": 1, "n2": 0}


def test_pdb_budget_is_spent_pod_by_pod_and_disrupted_pods_are_free():
    victims = [PodInfo(pod(n, "100m", 0, {"app": "web"})) for n in ("a", "b", "c")]
    violating, ok = filter_pods_with_pdb_violation(victims, [pdb("web", {"app": "web"}, 1, {"b": "t"})])
    assert [v.name for v in ok] == ["a", "b"] and [v.name for v in violating] == ["c"]


def pi(name, priority, started="2026-01-01T00:00:00Z"):
    return PodInfo(pod(name, "100m", priority, started=started))


@pytest.mark.parametrize("candidates,want", [
    ([Candidate("n1", [pi("a", 0)], 1), Candidate("n2", [pi("b", 0), pi("c", 0)], 0)], "n2"),   # PDB violations
    ([Candidate("n1", [pi("a", 50)], 0), Candidate("n2", [pi("b", 10), pi("c", 10)], 0)], "n2"),  # highest prio
    ([Candidate("n1", [pi("a", 10), pi("b", 5)], 0), Candidate("n2", [pi("c", 10), pi("d", 1)], 0)], "n2"),  # sum
    ([Candidate("n1", [pi("a", 10), pi("b", 0)], 0), Candidate("n2", [pi("c", 10)], 0)], "n2"),  # fewer victims
    ([Candidate("n1", [pi("a", 10, "2026-01-01T00:00:00Z")], 0),
      Candidate("n2", [pi("b", 10, "2026-01-02T00:00:00Z")], 0)], "n2"),                       # latest start
    ([Candidate("n1", [pi("a", 10)], 0), Candidate("n2", [pi("b", 10)], 0)], "n1"),             # first found
])
def test_pick_one_node_criteria_in_upstream_order(candidates, want):
    assert pick_one_node(candidates).node == want


def test_nominated_pod_keeps_its_room_from_lower_priority_pods():
    cache, fwk = setup([make_node("n1", cpu="1")], [])
    high = PodInfo(pod("high", "800m", 1000))
    fwk.nominate(high, "n1")
    r = fwk.schedule_pod(PodInfo(pod("low", "500m", 0)), cache.node_list())
    assert not r.scheduled
    r = fwk.schedule_pod(PodInfo(pod("higher", "500m", 2000)), cache.node_list())
    assert r.scheduled, "a more important pod is not held back by a nomination"


def test_never_policy_is_not_eligible():
    cache, fwk = setup([make_node("n1", cpu="1")], [("n1", pod("low", "800m", 0))])
    p = pod("polite", "500m", 1000)
    p["spec"]["preemptionPolicy"] = "Never"
    r = fwk.schedule_pod(PodInfo(p), cache.node_list())
    assert r.preemption.nominated_node is None
    assert r.message.endswith("preemption: not eligible due to preemptionPolicy=Never.")


async def test_scheduler_preempts_a_low_priority_pod_end_to_end():
    """Real scheduler, real registry, simulated node: the victim gets DisruptionTarget and is deleted,
    the Preempted event names the preemptor's uid and the node, nominatedNodeName is set, and once the
    simulated kubelet has removed the victim the high-priority pod is bound there."""
    from cluster_fixture import MiniCluster, settle

    c = await MiniCluster().start()
    try:
        await c.client.create("priorityclasses", {"metadata": {"name": "high"}, "value": 1000}, None)
        await c.add_node("node-1", cpus=1)
        low = make_pod("low", cpu="800m")
        low["metadata"].pop("uid")
        await c.client.create("pods", low, "default")
        await settle(lambda: c.scheduler.bound >= 1, "low bound")
        high = make_pod("high", cpu="500m")
        high["metadata"].pop("uid")
        high["spec"]["priorityClassName"] = "high"
        made = await c.client.create("pods", high, "default")
        assert made["spec"]["priority"] == 1000

        async def victim_marked():
            p = (await c.pods()).get("low")
            return p is None or p["metadata"].get("deletionTimestamp")
        for _ in range(2000):
            if await victim_marked():
                break
            await asyncio.sleep(0.002)
        low_now = (await c.pods()).get("low")
        if low_now is not None:
            cond = [x for x in low_now["status"]["conditions"] if x["type"] == "DisruptionTarget"][0]
            assert (cond["reason"], cond["message"]) == (
                "PreemptionByScheduler", "default-scheduler: preempting to accommodate a higher priority pod")
        await c.scheduler.wait_for_bindings()
        events = [(e["reason"], e["message"], e["involvedObject"]["name"]) for e in await c.events()]
        assert ("Preempted", f"Preempted by pod {made['metadata']['uid']} on node node-1", "low") in events
        # the simulated kubelet finishes the victim's graceful deletion; then "high" is bound to node-1
        for _ in range(200):
            await c.clock.advance(1.0)
            pods = await c.pods()
            if "low" not in pods and pods["high"]["spec"].get("nodeName"):
                break
        pods = await c.pods()
        assert "low" not in pods and pods["high"]["spec"]["nodeName"] == "node-1"
        assert pods["high"]["status"].get("nominatedNodeName") == "node-1"
        assert c.scheduler.preempted == 1
    finally:
        await c.stop()


def test_explain_pod_shows_the_post_filter_step():
    """``kubetui explain pod``: the decisions carry DefaultPreemption's real result and the table prints it."""
    from rich.console import Console

    from kubetui.cmd.scheduler import render_attempt
    from kubetui.scheduler.explain import AttemptRecord

    cache, fwk = setup([make_node("n1", cpu="1"), make_node("n2", cpu="1")],
                       [("n1", pod("low", "800m", 0)), ("n2", pod("mid", "800m", 500))])
    p = PodInfo(pod("high", "500m", 1000))
    r = fwk.schedule_pod(p, cache.node_list())
    attempt = AttemptRecord(1, 0.0, "default", "default", "high", "uid-high", r).to_dict()
    pf = attempt["postFilter"]
    assert (pf["plugin"], pf["nominatedNode"], pf["victims"]) == ("DefaultPreemption", "n1",
                                                                  [{"name": "default/low", "priority": 0}])
    console = Console(width=200, record=True)
    for part in render_attempt(attempt):
        console.print(part)
    text = console.export_text()
    assert "PostFilter DefaultPreemption: preempting on n1: default/low (priority 0)" in text
    assert "also possible on n2: 1 victim(s), 0 PodDisruptionBudget violation(s)" in text


async def test_a_higher_priority_preemptor_takes_over_a_lower_priority_nomination():
    """getLowerPriorityNominatedPods: mid was nominated to node-1; high preempts there too, so mid loses
    its nomination (status.nominatedNodeName cleared) and high is the one bound when the room appears."""
    from cluster_fixture import MiniCluster, settle

    c = await MiniCluster().start()
    try:
        await c.add_node("node-1", cpus=1)

        async def create(name, cpu, priority):
            p = make_pod(name, cpu=cpu)
            p["metadata"].pop("uid")
            if name == "low":
                # a finalizer holds the victim while it terminates, as a slow shutdown would
                p["metadata"]["finalizers"] = ["example.com/hold"]
            if priority:
                await c.client.create("priorityclasses", {"metadata": {"name": name}, "value": priority}, None)
                p["spec"]["priorityClassName"] = name
            return await c.client.create("pods", p, "default")

        await create("low", "800m", 0)
        await settle(lambda: c.scheduler.bound >= 1, "low bound")
        mid = await create("mid", "600m", 100)
        await settle(lambda: c.scheduler.framework.nominated_node_of("default/mid") == "node-1", "mid nominated")
        await create("high", "500m", 1000)
        await settle(lambda: c.scheduler.framework.nominated_node_of("default/high") == "node-1", "high nominated")
        assert c.scheduler.framework.nominated_node_of("default/mid") is None
        await c.scheduler.wait_for_bindings()
        assert (await c.client.get("pods", "mid", "default"))["status"].get("nominatedNodeName") is None
        await c.client.patch("pods", "low", {"metadata": {"finalizers": None}}, "default")
        for _ in range(200):
            await c.clock.advance(1.0)
            pods = await c.pods()
            if "low" not in pods and pods["high"]["spec"].get("nodeName"):
                break
        pods = await c.pods()
        assert pods["high"]["spec"].get("nodeName") == "node-1" and not pods["mid"]["spec"].get("nodeName")
        assert mid["metadata"]["uid"]
    finally:
        await c.stop()
