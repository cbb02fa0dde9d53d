"""Table tests for each plugin's pure maths, with the worked examples from the docstrings."""

from __future__ import annotations

import pytest

from helpers import make_node, make_pod
from kubetui.scheduler.framework import (Code, CycleState, NodeInfo, PodInfo, default_normalize_score,
                                         pod_non_zero_requests, pod_requests)
from kubetui.scheduler.plugins.balanced_allocation import balanced_resource_score
from kubetui.scheduler.plugins.least_allocated import least_allocated_score, least_requested_score
from kubetui.scheduler.plugins.most_allocated import most_allocated_score, most_requested_score
from kubetui.api.nodeaffinity import match_requirement
from kubetui.scheduler.plugins.node_affinity import NodeAffinity, preferred_score
from kubetui.scheduler.plugins.node_ports import NodePorts, port_conflicts
from kubetui.scheduler.plugins.node_resources_fit import NodeResourcesFit
from kubetui.scheduler.plugins.node_unschedulable import NodeUnschedulable
from kubetui.scheduler.plugins.taint_toleration import (TaintToleration, count_intolerable_prefer_no_schedule,
                                                        tolerates)
from kubetui.scheduler.plugins.volume_binding import VolumeBinding, claim_problem, pv_reaches_node

GI = 1024 ** 3


@pytest.mark.parametrize("requested,capacity,want", [
    (1000, 4000, 75), (0, 4000, 100), (4000, 4000, 0), (5000, 4000, 0), (1, 0, 0), (GI, 8 * GI, 87),
])
def test_least_requested_score(requested, capacity, want):
    assert least_requested_score(requested, capacity) == want


@pytest.mark.parametrize("requested,capacity,want", [
    (1000, 4000, 25), (0, 4000, 0), (4000, 4000, 100), (5000, 4000, 100), (1, 0, 0), (GI, 8 * GI, 12),
])
def test_most_requested_score(requested, capacity, want):
    assert most_requested_score(requested, capacity) == want


def test_weighted_allocation_scores_docstring_examples():
    assert least_allocated_score([1000, GI], [4000, 8 * GI], [1, 1]) == 81
    assert most_allocated_score([1000, GI], [4000, 8 * GI], [1, 1]) == 18
    # weights matter: cpu counted three times as much as memory
    assert least_allocated_score([1000, GI], [4000, 8 * GI], [3, 1]) == (75 * 3 + 87) // 4


@pytest.mark.parametrize("requested,allocatable,want", [
    ([3000, 2 * GI], [4000, 8 * GI], 75),       # |0.75 - 0.25| / 2 = 0.25
    ([2000, 4 * GI], [4000, 8 * GI], 100),      # equal fractions
    ([8000, 0], [4000, 8 * GI], 50),            # cpu capped at 1: |1 - 0| / 2
    ([1000, GI], [0, 8 * GI], 100),             # one resource only: no spread
])
def test_balanced_resource_score(requested, allocatable, want):
    assert balanced_resource_score(requested, allocatable) == want


@pytest.mark.parametrize("scores,reverse,want", [
    ([2, 4, 0], False, [50, 100, 0]),
    ([2, 4, 0], True, [50, 0, 100]),
    ([0, 0], False, [0, 0]),
    ([0, 0], True, [100, 100]),
])
def test_default_normalize_score(scores, reverse, want):
    assert default_normalize_score(scores, reverse) == want


@pytest.mark.parametrize("toleration,taint,want", [
    ({"key": "gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"},
     {"key": "gpu", "value": "true", "effect": "NoSchedule"}, True),
    ({"key": "gpu", "operator": "Exists"}, {"key": "gpu", "value": "true", "effect": "NoSchedule"}, True),
    ({"key": "gpu", "value": "false"}, {"key": "gpu", "value": "true", "effect": "NoSchedule"}, False),
    ({"operator": "Exists"}, {"key": "anything", "effect": "NoExecute"}, True),
    ({"key": "gpu", "operator": "Exists", "effect": "NoExecute"}, {"key": "gpu", "effect": "NoSchedule"}, False),
    ({"key": "other", "operator": "Exists"}, {"key": "gpu", "effect": "NoSchedule"}, False),
    ({"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
     {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}, True),
])
def test_tolerates(toleration, taint, want):
    assert tolerates(toleration, taint) is want


def test_taint_filter_and_prefer_no_schedule_score():
    plugin = TaintToleration()
    tainted = NodeInfo(make_node("n1", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]))
    st = plugin.filter(CycleState(), PodInfo(make_pod("p")), tainted)
    assert st.code == Code.UnschedulableAndUnresolvable
    assert st.reasons == ["node(s) had untolerated taint(s)"]
    assert st.detail == "untolerated taint dedicated=gpu:NoSchedule"
    tolerant = PodInfo(make_pod("p", tolerations=[{"key": "dedicated", "operator": "Equal", "value": "gpu",
                                                   "effect": "NoSchedule"}]))
    assert plugin.filter(CycleState(), tolerant, tainted) is None
    # PreferNoSchedule never filters, only scores
    soft = [{"key": "a", "effect": "PreferNoSchedule"}, {"key": "b", "effect": "PreferNoSchedule"},
            {"key": "c", "effect": "NoSchedule"}]
    assert count_intolerable_prefer_no_schedule(soft, [{"key": "a", "operator": "Exists"}]) == 1
    # a toleration for a *different* effect does not count
    assert count_intolerable_prefer_no_schedule(soft, [{"key": "a", "operator": "Exists",
                                                        "effect": "NoSchedule"}]) == 2
    assert plugin.normalize_score(CycleState(), tolerant, [1, 0]) == [0, 100]


@pytest.mark.parametrize("req,want", [
    ({"key": "zone", "operator": "In", "values": ["a", "b"]}, True),
    ({"key": "zone", "operator": "NotIn", "values": ["a"]}, False),
    ({"key": "gpu", "operator": "NotIn", "values": ["x"]}, True),
    ({"key": "zone", "operator": "Exists"}, True),
    ({"key": "zone", "operator": "DoesNotExist"}, False),
    ({"key": "cores", "operator": "Gt", "values": ["4"]}, True),
    ({"key": "cores", "operator": "Lt", "values": ["4"]}, False),
    ({"key": "zone", "operator": "Gt", "values": ["4"]}, False),     # not an integer
])
def test_match_requirement(req, want):
    assert match_requirement(req, {"zone": "a", "cores": "8"}) is want


def test_node_selector_and_required_affinity():
    plugin = NodeAffinity()
    ssd = NodeInfo(make_node("n1", labels={"disk": "ssd", "zone": "a"}))
    hdd = NodeInfo(make_node("n2", labels={"disk": "hdd", "zone": "b"}))
    pod = PodInfo(make_pod("p", node_selector={"disk": "ssd"}))
    state = CycleState()
    assert plugin.pre_filter(state, pod) is None
    assert plugin.filter(state, pod, ssd) is None
    assert plugin.filter(state, pod, hdd).reasons == ["node(s) didn't match Pod's node affinity/selector"]
    # no selector, no required affinity: PreFilter says Skip
    assert plugin.pre_filter(state, PodInfo(make_pod("q"))).code == Code.Skip
    # terms are ORed, expressions within a term ANDed
    aff = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]},
                              {"key": "disk", "operator": "In", "values": ["ssd"]}]},
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]}}}
    pod = PodInfo(make_pod("p", affinity=aff))
    assert plugin.filter(state, pod, ssd) is None        # by name
    assert plugin.filter(state, pod, hdd) is not None    # zone b but hdd


def test_preferred_affinity_score_docstring_example():
    preferred = [{"weight": 80, "preference": {"matchExpressions": [{"key": "zone", "operator": "In",
                                                                     "values": ["a"]}]}},
                 {"weight": 20, "preference": {"matchExpressions": [{"key": "disk", "operator": "In",
                                                                     "values": ["ssd"]}]}}]
    raw = [preferred_score(preferred, {"zone": "a", "disk": "hdd"}, "n1"),
           preferred_score(preferred, {"zone": "b", "disk": "ssd"}, "n2")]
    assert raw == [80, 20]
    assert NodeAffinity().normalize_score(CycleState(), None, raw) == [100, 25]


def test_pod_requests_init_containers_take_the_max_app_containers_sum():
    pod = make_pod("p", "250m", "64Mi")
    pod["spec"]["containers"].append({"name": "b", "image": "x", "resources": {"requests": {"cpu": "500m"}}})
    pod["spec"]["initContainers"] = [{"name": "init", "image": "x",
                                      "resources": {"requests": {"cpu": "1", "memory": "32Mi"}}}]
    r = pod_requests(pod)
    assert (r.milli_cpu, r.memory) == (1000, 64 * 1024 ** 2)     # max(750m, 1) ; max(64Mi, 32Mi)
    # a sidecar (restartPolicy Always) keeps running: it adds to the app containers
    pod["spec"]["initContainers"].insert(0, {"name": "proxy", "image": "x", "restartPolicy": "Always",
                                             "resources": {"requests": {"cpu": "100m"}}})
    r = pod_requests(pod)
    assert r.milli_cpu == max(750 + 100, 1000 + 100)
    # overhead is added on top
    pod["spec"]["overhead"] = {"cpu": "50m"}
    assert pod_requests(pod).milli_cpu == 1150


def test_non_zero_requests_for_scoring():
    assert pod_non_zero_requests(make_pod("p")) == (100, 200 * 1024 ** 2)
    assert pod_non_zero_requests(make_pod("p", "1")) == (1000, 200 * 1024 ** 2)


def test_node_resources_fit_filter_reasons():
    plugin = NodeResourcesFit()
    ni = NodeInfo(make_node("n1", cpu="2", memory="1Gi", pods=2))
    ni.add_pod(PodInfo(make_pod("a", "1500m", "512Mi")))
    assert plugin.filter(CycleState(), PodInfo(make_pod("b", "500m", "512Mi")), ni) is None
    st = plugin.filter(CycleState(), PodInfo(make_pod("b", "1", "1Gi")), ni)
    assert st.code == Code.Unschedulable
    assert st.reasons == ["Insufficient cpu", "Insufficient memory"]
    ni.add_pod(PodInfo(make_pod("c")))
    st = plugin.filter(CycleState(), PodInfo(make_pod("d")), ni)
    assert st.reasons == ["Too many pods"]
    # assumed pods count the same as bound ones; removing frees the room
    ni.remove_pod("default/c")
    ni.remove_pod("default/a")
    assert plugin.filter(CycleState(), PodInfo(make_pod("b", "2", "1Gi")), ni) is None


def test_node_resources_fit_scores_spread_vs_pack():
    empty = NodeInfo(make_node("empty"))
    busy = NodeInfo(make_node("busy"))
    busy.add_pod(PodInfo(make_pod("x", "2", "4Gi")))
    pod = PodInfo(make_pod("p", "500m", "1Gi"))
    least, most = NodeResourcesFit("LeastAllocated"), NodeResourcesFit("MostAllocated")
    assert least.score(None, pod, empty) > least.score(None, pod, busy)
    assert most.score(None, pod, empty) < most.score(None, pod, busy)
    with pytest.raises(ValueError):
        NodeResourcesFit("Random")


def test_node_unschedulable():
    plugin = NodeUnschedulable()
    cordoned = NodeInfo(make_node("n1", unschedulable=True))
    st = plugin.filter(CycleState(), PodInfo(make_pod("p")), cordoned)
    assert st.reasons == ["node(s) were unschedulable"]
    ds_pod = PodInfo(make_pod("p", tolerations=[{"key": "node.kubernetes.io/unschedulable",
                                                 "operator": "Exists", "effect": "NoSchedule"}]))
    assert plugin.filter(CycleState(), ds_pod, cordoned) is None


@pytest.mark.parametrize("wanted,used,want", [
    ([("0.0.0.0", "TCP", 80)], {("10.0.0.1", "TCP", 80)}, True),
    ([("10.0.0.2", "TCP", 80)], {("10.0.0.1", "TCP", 80)}, False),
    ([("0.0.0.0", "UDP", 80)], {("0.0.0.0", "TCP", 80)}, False),
    ([("0.0.0.0", "TCP", 8080)], {("0.0.0.0", "TCP", 80)}, False),
])
def test_port_conflicts(wanted, used, want):
    assert port_conflicts(wanted, used) is want


def test_node_ports_filter():
    plugin = NodePorts()
    ni = NodeInfo(make_node("n1"))
    ni.add_pod(PodInfo(make_pod("a", host_port=8080)))
    pod = PodInfo(make_pod("b", host_port=8080))
    assert plugin.pre_filter(CycleState(), pod) is None
    assert plugin.filter(CycleState(), pod, ni).reasons == [
        "node(s) didn't have free ports for the requested pod ports"]
    assert plugin.pre_filter(CycleState(), PodInfo(make_pod("c"))).code == Code.Skip


class _Volumes:
    def __init__(self, pvcs=None, pvs=None, scs=None):
        self.pvcs, self.pvs, self.scs = pvcs or {}, pvs or {}, scs or {}

    def get_pvc(self, ns, name):
        return self.pvcs.get((ns, name))

    def get_pv(self, name):
        return self.pvs.get(name)

    def get_storage_class(self, name):
        return self.scs.get(name)


def test_claim_problem_table():
    assert claim_problem(None, "data", None) == 'persistentvolumeclaim "data" not found'
    assert claim_problem({"metadata": {"deletionTimestamp": "x"}, "spec": {}}, "data", None) == \
        'persistentvolumeclaim "data" is being deleted'
    assert claim_problem({"spec": {"volumeName": "pv"}, "status": {"phase": "Bound"}}, "data", None) is None
    assert claim_problem({"spec": {"storageClassName": "local"}, "status": {"phase": "Pending"}}, "data",
                         {"volumeBindingMode": "WaitForFirstConsumer"}) is None
    assert claim_problem({"spec": {}, "status": {"phase": "Pending"}}, "data", None) == \
        "pod has unbound immediate PersistentVolumeClaims"


def test_volume_binding_pv_node_affinity():
    pv = {"metadata": {"name": "local-1"}, "spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["n1"]}]}]}}}}
    lister = _Volumes(pvcs={("default", "data"): {"metadata": {"name": "data"}, "spec": {"volumeName": "local-1"},
                                                  "status": {"phase": "Bound"}}},
                      pvs={"local-1": pv})
    plugin = VolumeBinding(lister)
    pod = PodInfo(make_pod("p", pvcs=["data"]))
    state = CycleState()
    assert plugin.pre_filter(state, pod) is None
    assert plugin.filter(state, pod, NodeInfo(make_node("n1"))) is None
    assert plugin.filter(state, pod, NodeInfo(make_node("n2"))).reasons == [
        "node(s) had volume node affinity conflict"]
    assert pv_reaches_node({"spec": {}}, {}, "any")
    missing = PodInfo(make_pod("q", pvcs=["nope"]))
    st = plugin.pre_filter(CycleState(), missing)
    assert st.code == Code.UnschedulableAndUnresolvable and st.reasons == ['persistentvolumeclaim "nope" not found']
    assert plugin.pre_filter(CycleState(), PodInfo(make_pod("r"))).code == Code.Skip


def test_batch_scorers_equal_the_pure_functions():
    """The inlined hot paths (``score_nodes``) must give exactly what the documented maths gives."""
    import random

    from kubetui.scheduler.plugins.balanced_allocation import BalancedAllocation

    rng = random.Random(7)
    nodes = []
    for i in range(60):
        ni = NodeInfo(make_node(f"n{i}", cpu=rng.choice(["0", "1", "2", "3500m", "64"]),
                                memory=rng.choice(["0", "1Gi", "3Gi", "128Gi"]),
                                taints=rng.choice([None, [{"key": "a", "effect": "PreferNoSchedule"}]])))
        for j in range(rng.randrange(4)):
            ni.add_pod(PodInfo(make_pod(f"x{i}-{j}", rng.choice([None, "100m", "900m", "2"]),
                                        rng.choice([None, "64Mi", "1Gi"]))))
        nodes.append(ni)
    for pod in (make_pod("p", "250m", "300Mi"), make_pod("q"), make_pod("r", "3")):
        pi = PodInfo(pod)
        for plugin in (NodeResourcesFit("LeastAllocated"), NodeResourcesFit("MostAllocated"),
                       NodeResourcesFit("LeastAllocated", {"cpu": 3, "memory": 1}), BalancedAllocation(),
                       TaintToleration()):
            assert plugin.score_nodes(CycleState(), pi, nodes) == [plugin.score(CycleState(), pi, n)
                                                                   for n in nodes], plugin.name
