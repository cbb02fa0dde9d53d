"""NodeResourcesFit and extended resources (issue 12, item 9): ``example.com/dongle`` and hugepages."""

from __future__ import annotations

import pytest

from helpers import make_node
from kubetui.scheduler.preemption import DefaultPreemption
from kubetui.scheduler.framework import CycleState, NodeInfo, PodInfo, Resource, pod_requests
from kubetui.scheduler.plugins.node_resources_fit import NodeResourcesFit, insufficient_resources


def dongle_pod(name: str, n: int | None, *, hugepages: str | None = None, ns: str = "default") -> dict:
    req: dict = {"cpu": "100m"}
    if n is not None:
        req["example.com/dongle"] = str(n)
    if hugepages:
        req["hugepages-2Mi"] = hugepages
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "uid": f"u-{name}"},
            "spec": {"containers": [{"name": "c", "image": "x", "resources": {"requests": req, "limits": dict(req)}}]}}


def node_with(name: str, **extra: str) -> NodeInfo:
    node = make_node(name)
    node["status"]["allocatable"].update({k.replace("__", "/").replace("_", "."): v for k, v in extra.items()})
    return NodeInfo(node)


def test_resource_list_keeps_extended_and_hugepages_but_not_native_names():
    r = Resource.from_list({"cpu": "1", "memory": "1Gi", "example.com/dongle": "3", "hugepages-2Mi": "4Mi",
                            "pods": "10"})
    assert r.scalar == {"example.com/dongle": 3, "hugepages-2Mi": 4 * 1024 * 1024}
    assert pod_requests(dongle_pod("p", 3)).scalar == {"example.com/dongle": 3}


@pytest.mark.parametrize("offered,used,want,missing", [
    (None, 0, 3, [("example.com/dongle", 3, 0, 0)]),     # the node offers none
    ("4", 0, 3, []),
    ("4", 2, 3, [("example.com/dongle", 3, 2, 4)]),     # 2 of 4 already taken
    ("4", 1, 3, []),                                    # exactly fits
    (None, 0, 0, []),                                   # asking 0 never fails
])
def test_insufficient_extended_resource(offered, used, want, missing):
    ni = node_with("n1", **({"example_com__dongle": offered} if offered else {}))
    if used:
        ni.add_pod(PodInfo(dongle_pod("running", used)))
    assert insufficient_resources(PodInfo(dongle_pod("p", want)), ni) == missing


def test_filter_reason_is_upstreams_and_detail_names_counts():
    fit = NodeResourcesFit()
    st = fit.filter(CycleState(), PodInfo(dongle_pod("p", 3)), node_with("n1"))
    assert st is not None and st.reasons == ["Insufficient example.com/dongle"]
    assert "example.com/dongle: pod requests 3, 0 of 0 already requested" in st.detail
    assert fit.filter(CycleState(), PodInfo(dongle_pod("p", 3)), node_with("n2", example_com__dongle="3")) is None


def test_hugepages_fit():
    fit = NodeResourcesFit()
    pod = PodInfo(dongle_pod("p", None, hugepages="4Mi"))
    st = fit.filter(CycleState(), pod, node_with("n1", **{"hugepages-2Mi": "2Mi"}))
    assert st is not None and st.reasons == ["Insufficient hugepages-2Mi"]
    assert fit.filter(CycleState(), pod, node_with("n2", **{"hugepages-2Mi": "8Mi"})) is None


def test_removing_a_pod_gives_its_dongles_back():
    ni = node_with("n1", example_com__dongle="4")
    ni.add_pod(PodInfo(dongle_pod("a", 3)))
    assert insufficient_resources(PodInfo(dongle_pod("b", 2)), ni)
    ni.remove_pod("default/a")
    assert ni.requested.scalar["example.com/dongle"] == 0
    assert insufficient_resources(PodInfo(dongle_pod("b", 2)), ni) == []


def test_preemption_dry_run_counts_victims_dongles():
    ni = node_with("n1", example_com__dongle="4")
    low = dongle_pod("low", 3)
    low["spec"]["priority"] = -1
    ni.add_pod(PodInfo(low))
    pod = PodInfo(dongle_pod("p", 2))
    fit = NodeResourcesFit()
    st = fit.filter(CycleState(), pod, ni)
    result = DefaultPreemption([(fit.name, fit.filter)]).post_filter(CycleState(), pod, [ni], {"n1": st})
    # evicting "low" frees enough dongles: n1 is nominated with low as the only victim
    assert (result.nominated_node, [v.name for v in result.victims], result.message) == ("n1", ["low"], "")
