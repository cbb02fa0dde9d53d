"""The framework end to end over a fake snapshot: filter, score, select, messages, explanations."""

from __future__ import annotations

import pytest

from helpers import make_node, make_pod
from kubetui.clock import FakeClock
from kubetui.scheduler.cache import SchedulerCache
from kubetui.scheduler.explain import AttemptRecord
from kubetui.scheduler.framework import PodInfo
from kubetui.scheduler.profiles import build_profile
from kubetui.scheduler.runtime import Framework, num_feasible_nodes_to_find


@pytest.mark.parametrize("nodes,percentage,want", [
    (3, 0, 3), (99, 0, 99), (100, 0, 100), (200, 0, 100), (500, 0, 230), (5000, 0, 500),
    (10000, 0, 500), (500, 10, 100), (1000, 50, 500),
])
def test_num_feasible_nodes_to_find(nodes, percentage, want):
    assert num_feasible_nodes_to_find(percentage, nodes) == want


def cluster(*nodes, profile="default", seed=0):
    cache = SchedulerCache()
    for n in nodes:
        cache.add_or_update_node(n)
    return cache, Framework(build_profile(profile, cache), seed=seed)


def place(cache, fwk, n, cpu="500m", memory="512Mi"):
    placed = []
    for i in range(n):
        pi = PodInfo(make_pod(f"web-{i}", cpu, memory))
        r = fwk.schedule_pod(pi, cache.node_list())
        assert r.scheduled, r.message
        cache.assume_pod(pi, r.suggested_host)
        placed.append(r.suggested_host)
    return placed


def test_default_profile_spreads_and_bin_packing_packs():
    nodes = [make_node(f"node-{i}", cpu="4", memory="8Gi") for i in range(1, 11)]
    cache, fwk = cluster(*nodes)
    spread = place(cache, fwk, 30)
    assert len(set(spread)) == 10
    assert max(spread.count(n) for n in set(spread)) == 3
    cache, fwk = cluster(*nodes, profile="bin-packing")
    packed = place(cache, fwk, 30)
    # 8 pods of 500m/512Mi fill a 4-CPU node: 30 pods need 4 nodes, and use exactly 4
    assert len(set(packed)) == 4


def test_failed_scheduling_message_is_worded_like_kubernetes():
    nodes = [make_node("node-1", cpu="1"), make_node("node-2", cpu="1"),
             make_node("node-3", taints=[{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}])]
    cache, fwk = cluster(*nodes)
    r = fwk.schedule_pod(PodInfo(make_pod("big", cpu="2")), cache.node_list())
    assert not r.scheduled
    assert r.message == ("0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 Insufficient cpu. "
                         "preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
                         "2 No preemption victims found for incoming pod.")
    assert r.unschedulable_plugins() == {"NodeResourcesFit", "TaintToleration"}


def test_prefilter_rejection_message():
    cache, fwk = cluster(make_node("n1"), make_node("n2"))
    r = fwk.schedule_pod(PodInfo(make_pod("p", pvcs=["data"])), cache.node_list())
    assert r.message == ('0/2 nodes are available: persistentvolumeclaim "data" not found. '
                         "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.")


def test_no_nodes():
    cache, fwk = cluster()
    r = fwk.schedule_pod(PodInfo(make_pod("p")), cache.node_list())
    assert not r.scheduled and r.message == "no nodes available to schedule pods"


def test_lower_priority_pods_change_the_preemption_verdict():
    cache, fwk = cluster(make_node("n1", cpu="1"))
    low = PodInfo(make_pod("low", cpu="800m", priority=0))
    cache.assume_pod(low, "n1")
    r = fwk.schedule_pod(PodInfo(make_pod("high", cpu="500m", priority=1000)), cache.node_list())
    # DefaultPreemption nominates n1 with "low" as victim; the FailedScheduling message has no "preemption:" part
    assert r.message == "0/1 nodes are available: 1 Insufficient cpu."
    assert (r.preemption.nominated_node, [v.name for v in r.preemption.victims]) == ("n1", ["low"])
    never = make_pod("never", cpu="500m", priority=1000)
    never["spec"]["preemptionPolicy"] = "Never"
    r = fwk.schedule_pod(PodInfo(never), cache.node_list())
    assert r.message.endswith("preemption: not eligible due to preemptionPolicy=Never.")


def test_taints_tolerations_and_node_selector_behave_as_documented():
    gpu_taint = [{"key": "gpu", "value": "true", "effect": "NoSchedule"}]
    cache, fwk = cluster(make_node("plain"), make_node("gpu", labels={"accel": "gpu"}, taints=gpu_taint))
    # without a toleration the tainted node is never chosen
    hosts = {fwk.schedule_pod(PodInfo(make_pod(f"p{i}")), cache.node_list()).suggested_host for i in range(20)}
    assert hosts == {"plain"}
    # a toleration *allows* the node, the selector *requires* it
    tol = [{"key": "gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]
    r = fwk.schedule_pod(PodInfo(make_pod("g", tolerations=tol, node_selector={"accel": "gpu"})),
                         cache.node_list())
    assert r.suggested_host == "gpu"
    # the selector alone is not enough
    r = fwk.schedule_pod(PodInfo(make_pod("h", node_selector={"accel": "gpu"})), cache.node_list())
    assert not r.scheduled
    assert r.message.startswith("0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
                                "1 node(s) had untolerated taint(s).")


def test_prefer_no_schedule_taint_is_avoided_when_possible():
    soft = [{"key": "spot", "effect": "PreferNoSchedule"}]
    cache, fwk = cluster(make_node("a", taints=soft), make_node("b"))
    r = fwk.schedule_pod(PodInfo(make_pod("p")), cache.node_list())
    assert r.suggested_host == "b"
    taint_scores = next(s for s in r.scores if s.plugin == "TaintToleration")
    assert taint_scores.weight == 3


def test_one_feasible_node_skips_scoring():
    cache, fwk = cluster(make_node("a", unschedulable=True), make_node("b"))
    r = fwk.schedule_pod(PodInfo(make_pod("p")), cache.node_list())
    assert r.suggested_host == "b" and r.scoring_skipped == "only one feasible node" and not r.scores


def test_ties_are_broken_by_a_seeded_random_choice():
    nodes = [make_node(f"n{i}") for i in range(5)]
    picks = []
    for _ in range(2):
        cache, fwk = cluster(*nodes, seed=42)
        picks.append([fwk.schedule_pod(PodInfo(make_pod(f"p{i}")), cache.node_list()).suggested_host
                      for i in range(10)])
    assert picks[0] == picks[1]
    assert len(set(picks[0])) > 1          # not always the first node


def test_sampling_evaluates_only_enough_nodes_and_rotates():
    nodes = [make_node(f"n{i:03d}") for i in range(300)]
    cache, fwk = cluster(*nodes)
    r1 = fwk.schedule_pod(PodInfo(make_pod("a")), cache.node_list())
    assert (r1.num_to_find, r1.evaluated_nodes, len(r1.feasible)) == (144, 144, 144)   # 50 - 300 // 125 = 48% of 300
    r2 = fwk.schedule_pod(PodInfo(make_pod("b")), cache.node_list())
    assert r2.node_order[0] == "n144"


def test_explanation_shape():
    nodes = [make_node("node-1"), make_node("node-2"),
             make_node("node-3", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])]
    cache, fwk = cluster(*nodes)
    pi = PodInfo(make_pod("web-1", cpu="1"))
    r = fwk.schedule_pod(pi, cache.node_list())
    rec = AttemptRecord(1, FakeClock().time(), "default", "default", "web-1", pi.uid, r).to_dict()
    assert rec["outcome"] == "Scheduled"
    assert rec["message"] == f"Successfully assigned default/web-1 to {r.suggested_host}"
    assert rec["feasibleNodes"] == 2 and rec["numAllNodes"] == 3
    by_name = {n["name"]: n for n in rec["nodes"]}
    assert by_name["node-3"]["filter"]["verdict"] == "Rejected"
    assert by_name["node-3"]["filter"]["plugin"] == "TaintToleration"
    assert "dedicated" in by_name["node-3"]["filter"]["detail"]
    winner = by_name[r.suggested_host]
    assert winner["selected"] is True
    plugins = [s["plugin"] for s in winner["scores"]]
    assert plugins == ["TaintToleration", "NodeResourcesFit", "NodeResourcesBalancedAllocation", "ImageLocality"]
    for s in winner["scores"]:
        assert s["weighted"] == s["normalized"] * s["weight"]
    assert winner["total"] == sum(s["weighted"] for s in winner["scores"])
    assert {p["plugin"]: p["code"] for p in rec["preFilter"]}["NodeAffinity"] == "Skip"
    assert "NodeAffinity" in rec["preScoreSkipped"]
