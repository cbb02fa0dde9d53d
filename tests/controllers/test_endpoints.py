"""Endpoints and EndpointSlices follow Services and pods: readiness, named ports, terminating pods."""

from __future__ import annotations

import pytest

from ctrl_helpers import run_pod, settle
from kubetui.controllers.endpoints import compute_subsets, resolve_port
from kubetui.controllers.endpointslice import desired_slices


def pod(name, ip="10.0.0.1", ready=True, named_port=8080, deleting=False, phase="Running"):
    meta = {"name": name, "namespace": "default", "uid": f"uid-{name}", "labels": {"app": "web"}}
    if deleting:
        meta["deletionTimestamp"] = "2023-11-14T22:13:20Z"
    return {"metadata": meta,
            "spec": {"nodeName": "node-1", "containers": [{"name": "c", "ports": [
                {"name": "http", "containerPort": named_port, "protocol": "TCP"}]}]},
            "status": {"phase": phase, "podIP": ip,
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


SVC = {"metadata": {"name": "web", "namespace": "default"},
       "spec": {"selector": {"app": "web"}, "ports": [{"name": "web", "port": 80, "targetPort": "http", "protocol": "TCP"}]}}


@pytest.mark.parametrize("target,expected", [(9000, 9000), ("9000", 9000), ("http", 8080), ("nope", None)])
def test_resolve_port(target, expected):
    assert resolve_port(pod("a"), {"port": 80, "targetPort": target, "protocol": "TCP"}) == expected


def test_subsets_split_ready_and_not_ready_and_skip_pods_without_ip_or_deleting():
    pods = [pod("a", "10.0.0.2"), pod("b", "10.0.0.1", ready=False), pod("c", ip=""),
            pod("d", "10.0.0.9", deleting=True), pod("e", "10.0.0.8", phase="Succeeded")]
    (subset,) = compute_subsets(SVC, pods)
    assert [a["ip"] for a in subset["addresses"]] == ["10.0.0.2"]
    assert [a["ip"] for a in subset["notReadyAddresses"]] == ["10.0.0.1"]
    assert subset["addresses"][0]["targetRef"] == {"kind": "Pod", "namespace": "default", "name": "a", "uid": "uid-a"}
    assert subset["addresses"][0]["nodeName"] == "node-1"
    assert subset["ports"] == [{"name": "web", "port": 8080, "protocol": "TCP"}]


def test_pods_resolving_a_named_port_differently_get_separate_subsets_and_slices():
    pods = [pod("a", "10.0.0.1", named_port=8080), pod("b", "10.0.0.2", named_port=9090)]
    assert sorted(s["ports"][0]["port"] for s in compute_subsets(SVC, pods)) == [8080, 9090]
    assert len(desired_slices(SVC, pods)) == 2


def test_a_pod_whose_subdomain_is_the_service_is_published_under_its_hostname():
    """ShouldSetHostname: what makes a StatefulSet's web-0.web.<ns>.svc resolve."""
    a, b, c = pod("a", "10.0.0.1"), pod("b", "10.0.0.2"), pod("c", "10.0.0.3")
    a["spec"].update(hostname="web-0", subdomain="web")
    b["spec"].update(hostname="web-1", subdomain="other")
    c["spec"].update(subdomain="web")
    (subset,) = compute_subsets(SVC, [a, b, c])
    assert [ad.get("hostname") for ad in subset["addresses"]] == ["web-0", None, None]
    ((_, eps),) = desired_slices(SVC, [a, b, c])
    assert [e.get("hostname") for e in eps] == ["web-0", None, None]


def test_slices_keep_terminating_pods_with_conditions():
    ((_, eps),) = desired_slices(SVC, [pod("a", "10.0.0.1"), pod("d", "10.0.0.2", deleting=True)])
    assert [e["conditions"] for e in eps] == [
        {"ready": True, "serving": True, "terminating": False},
        {"ready": False, "serving": True, "terminating": True}]


async def test_endpoints_and_slices_follow_pods_and_leave_manual_services_alone(api, clock, manager_for):
    cm = await manager_for("endpoints", "endpointslice", api_server_endpoint=("127.0.0.1", 16443))
    await api.create("services", {"metadata": {"name": "web"}, "spec": {
        "selector": {"app": "web"}, "ports": [{"name": "web", "port": 80, "targetPort": "http"}]}}, "default")
    await api.create("services", {"metadata": {"name": "manual"}, "spec": {"ports": [{"port": 80}]}}, "default")
    p = await api.create("pods", {"metadata": {"name": "web-1", "labels": {"app": "web"}}, "spec": {"containers": [
        {"name": "c", "image": "nginx", "ports": [{"name": "http", "containerPort": 8080}]}]}}, "default")
    await settle(cm)
    ep = await api.get("endpoints", "web", "default")
    assert not ep.get("subsets"), "no pod IP yet"
    await run_pod(api, p, clock, ip="10.244.1.5", ready=False)
    await settle(cm)
    ep = await api.get("endpoints", "web", "default")
    assert ep["subsets"][0]["notReadyAddresses"][0]["ip"] == "10.244.1.5"
    await run_pod(api, p, clock, ip="10.244.1.5", ready=True)
    await settle(cm)
    ep = await api.get("endpoints", "web", "default")
    assert ep["subsets"] == [{"addresses": [{"ip": "10.244.1.5", "nodeName": "node-1", "targetRef": {
        "kind": "Pod", "namespace": "default", "name": "web-1", "uid": p["metadata"]["uid"]}}],
        "ports": [{"name": "web", "port": 8080, "protocol": "TCP"}]}]
    (sl,) = (await api.list("endpointslices", "default", label_selector="kubernetes.io/service-name=web"))["items"]
    assert sl["addressType"] == "IPv4"
    assert sl["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io"
    assert sl["endpoints"][0]["addresses"] == ["10.244.1.5"] and sl["endpoints"][0]["conditions"]["ready"] is True
    assert sl["ports"][0]["port"] == 8080
    with pytest.raises(Exception):
        await api.get("endpoints", "manual", "default")
    k = await api.get("endpoints", "kubernetes", "default")
    assert k["subsets"] == [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "https", "port": 16443, "protocol": "TCP"}]}]


async def test_a_service_recreated_under_the_same_name_gets_its_slice_again(api, clock, manager_for):
    """Lessons create a Service `web` more than once: the new one must not inherit the old slice's fate."""
    cm = await manager_for("endpointslice", "garbage-collector")
    p = await api.create("pods", {"metadata": {"name": "web-1", "labels": {"app": "web"}}, "spec": {"containers": [
        {"name": "c", "image": "nginx", "ports": [{"name": "http", "containerPort": 8080}]}]}}, "default")
    await run_pod(api, p, clock, ip="10.244.1.5", ready=True)
    svc = {"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}

    async def slices() -> list[dict]:
        return (await api.list("endpointslices", "default", label_selector="kubernetes.io/service-name=web"))["items"]

    first = await api.create("services", svc, "default")
    await settle(cm)
    assert [s["endpoints"][0]["addresses"] for s in await slices()] == [["10.244.1.5"]]
    await api.delete("services", "web", "default")
    for _ in range(20):          # the garbage collector removes the old Service's slice
        await settle(cm)
        if not await slices():
            break
    second = await api.create("services", svc, "default")
    assert second["metadata"]["uid"] != first["metadata"]["uid"]
    for _ in range(20):
        await settle(cm)
        got = await slices()
        if got and all(r["uid"] == second["metadata"]["uid"] for s in got for r in s["metadata"]["ownerReferences"]):
            break
    (sl,) = await slices()
    assert sl["metadata"]["ownerReferences"][0]["uid"] == second["metadata"]["uid"]
    assert sl["endpoints"][0]["addresses"] == ["10.244.1.5"]
