"""InterPodAffinity and PodTopologySpread (issue 12, item 9): table tests of the pure maths and the
plugins run through the framework on hand-built NodeInfos, with upstream's reasons and messages."""

from __future__ import annotations

import pytest

from helpers import make_node, make_pod
from kubetui.scheduler.framework import AffinityTerm, CycleState, NodeInfo, PodInfo
from kubetui.scheduler.plugins import inter_pod_affinity as ipa
from kubetui.scheduler.plugins import pod_topology_spread as pts
from kubetui.scheduler.profiles import build_profile
from kubetui.scheduler.runtime import Framework

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"


def pod(name, labels=None, *, ns="default", node=None, affinity=None, spread=None, node_selector=None):
    p = make_pod(name, cpu="100m", ns=ns, affinity=affinity, node_name=node, node_selector=node_selector)
    p["metadata"]["labels"] = labels or {}
    if spread:
        p["spec"]["topologySpreadConstraints"] = spread
    return p


def term(labels, key=ZONE, **kw):
    return {"labelSelector": {"matchLabels": labels}, "topologyKey": key, **kw}


def zones(*spec, taints=None):
    """``zones(("node-1", "a"), ("node-2", "b"))`` → NodeInfos with zone labels (None: no zone label)."""
    out = []
    for name, zone in spec:
        out.append(NodeInfo(make_node(name, labels={ZONE: zone} if zone else {},
                                      taints=(taints or {}).get(name))))
    return out


def place(nodes, *pods):
    by = {n.name: n for n in nodes}
    for p in pods:
        by[p["spec"]["nodeName"]].add_pod(PodInfo(p))
    return nodes


def schedule(nodes, p, namespaces=None):
    profile = build_profile("default", namespaces)
    return Framework(profile, seed=1).schedule_pod(PodInfo(p), nodes)


# --- AffinityTerm ------------------------------------------------------------------------------

@pytest.mark.parametrize("t,ns,labels,ns_labels,want", [
    (term({"app": "db"}), "default", {"app": "db"}, None, True),
    (term({"app": "db"}), "other", {"app": "db"}, None, False),                 # own namespace only
    (term({"app": "db"}, namespaces=["other"]), "other", {"app": "db"}, None, True),
    (term({"app": "db"}, namespaceSelector={}), "any", {"app": "db"}, {}, True),   # {} = every namespace
    (term({"app": "db"}, namespaceSelector={"matchLabels": {"team": "x"}}), "n1", {"app": "db"},
     {"team": "x"}, True),
    (term({"app": "db"}, namespaceSelector={"matchLabels": {"team": "x"}}), "n2", {"app": "db"},
     {"team": "y"}, False),
    (term({"app": "db"}, matchLabelKeys=["rev"]), "default", {"app": "db", "rev": "1"}, None, True),
    (term({"app": "db"}, matchLabelKeys=["rev"]), "default", {"app": "db", "rev": "2"}, None, False),
    (term({"app": "db"}, mismatchLabelKeys=["rev"]), "default", {"app": "db", "rev": "1"}, None, False),
    ({"topologyKey": ZONE}, "default", {"app": "db"}, None, False),             # no labelSelector: nothing
    ({"labelSelector": {"matchExpressions": [{"key": "app", "operator": "Like"}]}, "topologyKey": ZONE},
     "default", {"app": "db"}, None, False),                                   # malformed: nothing, no crash
])
def test_affinity_term_matches(t, ns, labels, ns_labels, want):
    owner = {"rev": "1"}
    assert AffinityTerm("default", owner, t).matches(ns, labels, ns_labels) is want


# --- InterPodAffinity pure functions ----------------------------------------------------------

def _t(labels, key=ZONE):
    return AffinityTerm("default", {}, term(labels, key))


@pytest.mark.parametrize("counts,node_labels,itself,want", [
    ({(ZONE, "a"): 1}, {ZONE: "a"}, False, True),
    ({(ZONE, "a"): 1}, {ZONE: "b"}, False, False),
    ({(ZONE, "a"): 1}, {ZONE: "b"}, True, False),     # a peer exists elsewhere: no "first pod" pass
    ({}, {ZONE: "b"}, True, True),                     # first of its group
    ({}, {ZONE: "b"}, False, False),
    ({}, {}, True, False),                             # the node lacks the topology key
])
def test_satisfies_pod_affinity(counts, node_labels, itself, want):
    assert ipa.satisfies_pod_affinity([_t({"app": "db"})], counts, node_labels, itself) is want


@pytest.mark.parametrize("counts,node_labels,want", [
    ({(ZONE, "a"): 1}, {ZONE: "a"}, False),
    ({(ZONE, "a"): 1}, {ZONE: "b"}, True),
    ({(ZONE, "a"): 1}, {}, True),                      # no domain, no conflict
])
def test_satisfies_pod_anti_affinity(counts, node_labels, want):
    assert ipa.satisfies_pod_anti_affinity([_t({"app": "web"})], counts, node_labels) is want


@pytest.mark.parametrize("raw,want", [([80, -20, 0], [100, 0, 20]), ([5, 5], [0, 0]), ([], []),
                                      ([0, 3, 1], [0, 100, 33])])
def test_inter_pod_affinity_normalize(raw, want):
    assert ipa.normalize_min_max(raw) == want


def test_topology_scores_docstring_example():
    nodes = place(zones(("node-1", "a"), ("node-2", "b")),
                  pod("cache", {"app": "cache"}, node="node-1"), pod("web", {"app": "web"}, node="node-2"))
    affinity = {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 80, "podAffinityTerm": term({"app": "cache"})}]},
                "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 20, "podAffinityTerm": term({"app": "web"})}]}}
    scores = ipa.topology_scores(PodInfo(pod("new", affinity=affinity)), nodes, lambda ns: None)
    assert scores == {ZONE: {"a": 80, "b": -20}}
    assert [ipa.node_score(scores, n.labels) for n in nodes] == [80, -20]


def test_existing_pods_required_affinity_attracts_with_hard_weight():
    want_web = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term({"app": "web"})]}}
    nodes = place(zones(("node-1", "a"), ("node-2", "b")), pod("sidecar", {"app": "side"}, node="node-1",
                                                                affinity=want_web))
    assert ipa.topology_scores(PodInfo(pod("web", {"app": "web"})), nodes, lambda ns: None) == {ZONE: {"a": 1}}


# --- InterPodAffinity through the framework -----------------------------------------------------

REQUIRED_DB = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term({"app": "db"})]}}
ANTI_WEB_HOST = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
    term({"app": "web"}, HOST)]}}


def test_required_affinity_without_a_peer_is_unschedulable_with_upstreams_message():
    nodes = zones(("node-1", "a"), ("node-2", "b"), ("node-3", "c"))
    r = schedule(nodes, pod("app", {"app": "app"}, affinity=REQUIRED_DB))
    assert not r.scheduled
    assert r.message == ("0/3 nodes are available: 3 node(s) didn't match pod affinity rules. preemption: "
                         "0/3 nodes are available: 3 Preemption is not helpful for scheduling.")
    assert r.unschedulable_plugins() == {"InterPodAffinity"}


def test_required_affinity_goes_to_the_peers_zone():
    nodes = place(zones(("node-1", "a"), ("node-2", "b"), ("node-3", "b")), pod("db", {"app": "db"}, node="node-2"))
    for i in range(5):
        r = schedule(nodes, pod(f"app-{i}", {"app": "app"}, affinity=REQUIRED_DB))
        assert r.suggested_host in ("node-2", "node-3")
        assert r.statuses["node-1"].reasons == ["node(s) didn't match pod affinity rules"]


def test_first_pod_of_a_self_affine_group_may_land_anywhere():
    self_affine = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term({"app": "db"})]}}
    nodes = zones(("node-1", "a"), ("node-2", None))
    r = schedule(nodes, pod("db-0", {"app": "db"}, affinity=self_affine))
    assert r.suggested_host == "node-1"        # node-2 has no zone label
    assert r.statuses["node-2"].reasons == ["node(s) didn't match pod affinity rules"]


def test_anti_affinity_one_per_node_then_pending():
    nodes = zones(("node-1", "a"), ("node-2", "a"))
    for i in range(2):
        r = schedule(nodes, pod(f"web-{i}", {"app": "web"}, affinity=ANTI_WEB_HOST))
        assert r.scheduled
        by = {n.name: n for n in nodes}
        by[r.suggested_host].add_pod(PodInfo(pod(f"web-{i}", {"app": "web"}, node=r.suggested_host,
                                                 affinity=ANTI_WEB_HOST)))
    assert len({n.name for n in nodes if n.pods}) == 2
    r = schedule(nodes, pod("web-2", {"app": "web"}, affinity=ANTI_WEB_HOST))
    assert r.message.startswith("0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules.")
    # a pod without anti-affinity of its own is kept away by the running pods' anti-affinity
    r = schedule(nodes, pod("plain", {"app": "web"}))
    assert r.message.startswith(
        "0/2 nodes are available: 2 node(s) didn't satisfy existing pods anti-affinity rules.")
    # ... but a pod they do not select is welcome
    assert schedule(nodes, pod("other", {"app": "other"})).scheduled


def test_preferred_affinity_scores_the_peers_zone_highest():
    affinity = {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "podAffinityTerm": term({"app": "cache"})}]}}
    nodes = place(zones(("node-1", "a"), ("node-2", "b"), ("node-3", "c")),
                  pod("cache", {"app": "cache"}, node="node-3"))
    r = schedule(nodes, pod("web", {"app": "web"}, affinity=affinity))
    assert r.suggested_host == "node-3"
    ipa_scores = next(s for s in r.scores if s.plugin == "InterPodAffinity")
    assert ipa_scores.weight == 2 and max(ipa_scores.normalized) == 100


def test_namespace_selector_reads_namespace_labels():
    class Namespaces:
        def namespace_labels(self, name):
            return {"team-a": {"team": "a"}, "team-b": {"team": "b"}}.get(name)

    aff = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        term({"app": "db"}, namespaceSelector={"matchLabels": {"team": "a"}})]}}
    nodes = place(zones(("node-1", "a"), ("node-2", "b")),
                  pod("db", {"app": "db"}, ns="team-b", node="node-1"),
                  pod("db", {"app": "db"}, ns="team-a", node="node-2"))
    assert schedule(nodes, pod("x", {}, affinity=aff), Namespaces()).suggested_host == "node-2"


# --- PodTopologySpread pure functions ---------------------------------------------------------

def spread(max_skew=1, key=ZONE, labels=None, when="DoNotSchedule", **kw):
    return {"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": when,
            "labelSelector": {"matchLabels": labels or {"app": "web"}}, **kw}


@pytest.mark.parametrize("count,self_match,domains,min_domains,want", [
    (2, True, {"a": 2, "b": 1}, 1, 2),
    (1, True, {"a": 2, "b": 1}, 1, 1),
    (0, True, {"a": 2, "b": 0}, 1, 1),
    (1, False, {"a": 1, "b": 1}, 1, 0),
    (1, True, {"a": 1, "b": 1}, 3, 2),            # fewer domains than minDomains: minimum 0
    (0, True, {}, 1, 1),
])
def test_skew_if_placed(count, self_match, domains, min_domains, want):
    assert pts.skew_if_placed(count, self_match, domains, min_domains) == want


@pytest.mark.parametrize("raw,ignored,want", [
    ([3, 2, 0], [False] * 3, [0, 33, 100]),
    ([2, 2], [False, False], [100, 100]),
    ([0, 0], [False, False], [100, 100]),
    ([2, 2, 0], [False, False, True], [100, 100, 0]),
    ([5], [True], [0]),
])
def test_normalize_spread_scores(raw, ignored, want):
    assert pts.normalize_spread_scores(raw, ignored) == want


@pytest.mark.parametrize("count,max_skew,size,want", [(2, 1, 3, 3.219), (0, 1, 3, 0.0), (2, 3, 1, 4.197)])
def test_score_for_count(count, max_skew, size, want):
    assert round(pts.score_for_count(count, max_skew, pts.topology_normalizing_weight(size)), 3) == want


def test_build_constraints_filters_by_action_and_merges_match_label_keys():
    cs = [spread(matchLabelKeys=["pod-template-hash"]), spread(when="ScheduleAnyway", key=HOST)]
    dns = pts.build_constraints(cs, {"app": "web", "pod-template-hash": "abc"}, "DoNotSchedule")
    assert len(dns) == 1 and str(dns[0].selector) == "app=web,pod-template-hash in (abc)"
    assert (dns[0].min_domains, dns[0].node_affinity_policy, dns[0].node_taints_policy) == (1, "Honor", "Ignore")
    assert [c.topology_key for c in pts.build_constraints(cs, {}, "ScheduleAnyway")] == [HOST]


def test_count_domains_policies():
    nodes = place(zones(("node-1", "a"), ("node-2", "a"), ("node-3", "b"), ("node-4", None),
                        taints={"node-3": [{"key": "k", "effect": "NoSchedule"}]}),
                  pod("w1", {"app": "web"}, node="node-1"), pod("w2", {"app": "web"}, node="node-1"),
                  pod("w3", {"app": "web"}, node="node-3"), pod("x", {"app": "x"}, node="node-2"),
                  pod("w4", {"app": "web"}, node="node-4"), pod("w5", {"app": "web"}, ns="other", node="node-2"))
    p = PodInfo(pod("new", {"app": "web"}))
    ignore = pts.build_constraints([spread()], {}, "DoNotSchedule")
    assert pts.count_domains(p, ignore, nodes) == [{"a": 2, "b": 1}]
    honor = pts.build_constraints([spread(nodeTaintsPolicy="Honor")], {}, "DoNotSchedule")
    assert pts.count_domains(p, honor, nodes) == [{"a": 2}]
    selective = PodInfo(pod("new", {"app": "web"}, node_selector={ZONE: "b"}))
    assert pts.count_domains(selective, ignore, nodes) == [{"b": 1}]


# --- PodTopologySpread through the framework ---------------------------------------------------

def test_constraint_on_a_label_no_node_has_is_unschedulable():
    nodes = zones(("node-1", "a"), ("node-2", "b"), ("node-3", "c"))
    r = schedule(nodes, pod("web", {"app": "web"}, spread=[spread(key="example.com/rack")]))
    assert r.message == ("0/3 nodes are available: 3 node(s) didn't match pod topology spread constraints "
                         "(missing required label). preemption: 0/3 nodes are available: "
                         "3 Preemption is not helpful for scheduling.")


def test_do_not_schedule_balances_zones_and_rejects_skew():
    nodes = zones(("node-1", "a"), ("node-2", "a"), ("node-3", "b"))
    placed = {"a": 0, "b": 0}
    for i in range(6):
        r = schedule(nodes, pod(f"web-{i}", {"app": "web"}, spread=[spread()]))
        assert r.scheduled, r.message
        zone = "a" if r.suggested_host in ("node-1", "node-2") else "b"
        placed[zone] += 1
        assert abs(placed["a"] - placed["b"]) <= 1
        place(nodes, pod(f"web-{i}", {"app": "web"}, node=r.suggested_host))
    # zone b full-ish: put two extra in a by hand, then a new pod may only go to b
    place(nodes, pod("extra-1", {"app": "web"}, node="node-1"))
    r = schedule(nodes, pod("web-x", {"app": "web"}, spread=[spread()]))
    assert r.suggested_host == "node-3"
    assert r.statuses["node-1"].reasons == ["node(s) didn't match pod topology spread constraints"]


def test_schedule_anyway_prefers_the_emptier_zone():
    nodes = place(zones(("node-1", "a"), ("node-2", "b")), pod("w1", {"app": "web"}, node="node-1"),
                  pod("w2", {"app": "web"}, node="node-1"))
    r = schedule(nodes, pod("web", {"app": "web"}, spread=[spread(when="ScheduleAnyway")]))
    s = next(s for s in r.scores if s.plugin == "PodTopologySpread")
    assert s.weight == 2
    assert s.raw == [3, 0]          # 2 zones: weight log(2 + 2) = 1.386; 2 pods × 1.386 = 2.77 → 3
    assert s.normalized == [0, 100]
    assert r.suggested_host == "node-2"


def test_default_profile_order_and_weights_match_upstream():
    d = build_profile("default").describe()
    names = [p["name"] for p in d["plugins"]]
    assert names == ["NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity", "NodePorts",
                     "NodeResourcesFit", "VolumeBinding", "PodTopologySpread", "InterPodAffinity",
                     "NodeResourcesBalancedAllocation", "ImageLocality"]
    weights = {p["name"]: p.get("weight") for p in d["plugins"] if "weight" in p}
    assert weights["PodTopologySpread"] == 2 and weights["InterPodAffinity"] == 2
    assert [p["name"] for p in build_profile("bin-packing").describe()["plugins"]] == names


def test_cache_lists_nodes_with_affinity_pods_for_the_real_scheduler():
    from kubetui.scheduler.cache import SchedulerCache

    cache = SchedulerCache()
    for name, zone in (("node-1", "a"), ("node-2", "b")):
        cache.add_or_update_node(make_node(name, labels={ZONE: zone}))
    cache.add_or_update_pod(pod("plain", {"app": "x"}, node="node-1"))
    assert cache.have_pods_with_affinity_list() == [] == cache.have_pods_with_required_anti_affinity_list()
    guard = pod("guard", {"app": "guard"}, node="node-2", affinity=ANTI_WEB_HOST)
    cache.add_or_update_pod(guard)
    assert [n.name for n in cache.have_pods_with_required_anti_affinity_list()] == ["node-2"]
    fw = Framework(build_profile("default", cache), seed=1)
    r = fw.schedule_pod(PodInfo(pod("web", {"app": "web"})), cache.node_list())
    assert r.suggested_host == "node-1"
    assert r.statuses["node-2"].reasons == ["node(s) didn't satisfy existing pods anti-affinity rules"]
    cache.remove_pod("default/guard")
    assert cache.have_pods_with_affinity_list() == []
    r = fw.schedule_pod(PodInfo(pod("web", {"app": "web"})), cache.node_list())
    assert {s.plugin: s.code.name for s in r.pre_filter}["InterPodAffinity"] == "Skip"
