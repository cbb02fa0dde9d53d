"""EndpointSlice mirroring: hand-written Endpoints of selector-less Services become EndpointSlices."""

from __future__ import annotations

import pytest

from ctrl_helpers import events, settle
from kubetui.controllers.endpointslicemirroring import (
    CONTROLLER_NAME, desired_mirror, repack_subsets, should_mirror,
)

MIRRORED = f"kubernetes.io/service-name=db,endpointslice.kubernetes.io/managed-by={CONTROLLER_NAME}"


def ep(subsets, labels=None, annotations=None, name="db"):
    meta = {"name": name, "namespace": "default"}
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Endpoints", "metadata": meta, "subsets": subsets}


@pytest.mark.parametrize("labels,annotations,expected", [
    (None, None, True),
    ({"endpointslice.kubernetes.io/skip-mirror": "true"}, None, False),
    ({"endpointslice.kubernetes.io/skip-mirror": "false"}, None, True),
    (None, {"control-plane.alpha.kubernetes.io/leader": "{}"}, False),
])
def test_should_mirror(labels, annotations, expected):
    assert should_mirror(ep([], labels, annotations)) is expected
    assert should_mirror(None) is False


@pytest.mark.parametrize("subsets,expected", [
    ([], []),
    # the same port split over two subsets: merged
    ([{"addresses": [{"ip": "10.0.0.2"}], "ports": [{"port": 80}]},
      {"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}],
     [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}]}]),
    # ready wins over not ready for the same address
    ([{"notReadyAddresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]},
      {"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}],
     [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]),
    # two ports offered by the same addresses: one subset with both
    ([{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"name": "a", "port": 80}]},
      {"addresses": [{"ip": "10.0.0.1"}], "ports": [{"name": "b", "port": 81}]}],
     [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"name": "a", "port": 80}, {"name": "b", "port": 81}]}]),
    # no ports at all is kept (a portless subset)
    ([{"addresses": [{"ip": "10.0.0.1"}]}], [{"addresses": [{"ip": "10.0.0.1"}]}]),
])
def test_repack_subsets(subsets, expected):
    assert repack_subsets(subsets) == expected


def test_desired_mirror_splits_families_keeps_conditions_and_caps_per_subset():
    e = ep([{"addresses": [{"ip": "10.0.0.1", "nodeName": "node-1", "hostname": "db-0",
                            "targetRef": {"kind": "Pod", "name": "db-0", "namespace": "default"}},
                           {"ip": "fd00::1"}],
             "notReadyAddresses": [{"ip": "10.0.0.2"}],
             "ports": [{"name": "sql", "port": 5432, "protocol": "TCP"}]}])
    want, invalid, skipped = desired_mirror(e)
    ports = (("sql", 5432, "TCP", ""),)
    assert set(want) == {(ports, "IPv4"), (ports, "IPv6")}
    assert want[(ports, "IPv4")] == [
        {"addresses": ["10.0.0.1"], "conditions": {"ready": True}, "hostname": "db-0", "nodeName": "node-1",
         "targetRef": {"kind": "Pod", "name": "db-0", "namespace": "default"}},
        {"addresses": ["10.0.0.2"], "conditions": {"ready": False}}]
    assert want[(ports, "IPv6")] == [{"addresses": ["fd00::1"], "conditions": {"ready": True}}]
    assert (invalid, skipped) == (0, 0)
    many = ep([{"addresses": [{"ip": f"10.0.1.{i}"} for i in range(1, 8)], "ports": [{"port": 80}]}])
    want, invalid, skipped = desired_mirror(many, max_per_subset=5)
    assert [len(v) for v in want.values()] == [5] and skipped == 2
    bad = ep([{"addresses": [{"ip": "not-an-ip"}, {"ip": "10.0.0.1"}], "ports": [{"port": 80}]}])
    want, invalid, skipped = desired_mirror(bad)
    assert [len(v) for v in want.values()] == [1] and (invalid, skipped) == (1, 0)


async def mirrored(api):
    return (await api.list("endpointslices", "default", label_selector=MIRRORED))["items"]


async def test_manual_endpoints_are_mirrored_kept_in_sync_and_removed(api, clock, manager_for):
    cm = await manager_for("endpointslicemirroring")
    svc = await api.create("services", {"metadata": {"name": "db"}, "spec": {
        "ports": [{"name": "sql", "port": 5432, "targetPort": 5432}]}}, "default")
    await api.create("endpoints", ep(
        [{"addresses": [{"ip": "192.168.10.5"}], "notReadyAddresses": [{"ip": "192.168.10.6"}],
          "ports": [{"name": "sql", "port": 5432, "protocol": "TCP"}]}],
        labels={"team": "data"},
        annotations={"note": "outside the cluster", "kubectl.kubernetes.io/last-applied-configuration": "{}"}),
        "default")
    await settle(cm)
    (sl,) = await mirrored(api)
    e = await api.get("endpoints", "db", "default")
    assert sl["metadata"]["name"].startswith("db-")
    assert sl["metadata"]["labels"] == {"team": "data", "kubernetes.io/service-name": "db",
                                        "endpointslice.kubernetes.io/managed-by": CONTROLLER_NAME}
    assert sl["metadata"]["annotations"] == {"note": "outside the cluster"}
    assert sl["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Endpoints", "name": "db",
                                                  "uid": e["metadata"]["uid"], "controller": True,
                                                  "blockOwnerDeletion": True}]
    assert sl["addressType"] == "IPv4"
    assert sl["ports"] == [{"name": "sql", "port": 5432, "protocol": "TCP"}]
    assert [(x["addresses"], x["conditions"]) for x in sl["endpoints"]] == [
        (["192.168.10.5"], {"ready": True}), (["192.168.10.6"], {"ready": False})]
    rv = sl["metadata"]["resourceVersion"]
    await settle(cm)
    assert (await mirrored(api))[0]["metadata"]["resourceVersion"] == rv, "no churn once in sync"

    # kept in sync: new addresses update the same slice ...
    e["subsets"] = [{"addresses": [{"ip": "192.168.10.7"}], "ports": [{"name": "sql", "port": 5432}]}]
    e = await api.update("endpoints", e, "default")
    await settle(cm)
    (sl2,) = await mirrored(api)
    assert sl2["metadata"]["name"] == sl["metadata"]["name"]
    assert [x["addresses"] for x in sl2["endpoints"]] == [["192.168.10.7"]]
    # ... new ports mean a new slice (one slice per port set, as upstream), the old one goes
    e["subsets"][0]["ports"][0]["port"] = 5433
    await api.update("endpoints", e, "default")
    await settle(cm)
    (sl2,) = await mirrored(api)
    assert sl2["metadata"]["name"] != sl["metadata"]["name"] and sl2["ports"][0]["port"] == 5433

    # a slice deleted by someone else comes back (level-triggered)
    await api.delete("endpointslices", sl2["metadata"]["name"], "default")
    await settle(cm)
    (sl3,) = await mirrored(api)
    assert sl3["metadata"]["name"] != sl2["metadata"]["name"]

    # the Endpoints goes: its slices go
    await api.delete("endpoints", "db", "default")
    await settle(cm)
    assert await mirrored(api) == []

    # back again, then the Service goes: the slices go too
    await api.create("endpoints", ep([{"addresses": [{"ip": "192.168.10.5"}], "ports": [{"port": 5432}]}]),
                     "default")
    await settle(cm)
    assert len(await mirrored(api)) == 1
    await api.delete("services", "db", "default")
    await settle(cm)
    assert await mirrored(api) == []
    assert svc["metadata"]["uid"]


async def test_skip_mirror_selector_services_and_the_kubernetes_service_are_not_mirrored(api, clock, manager_for):
    cm = await manager_for("endpointslicemirroring")
    await api.create("services", {"metadata": {"name": "db"}, "spec": {"ports": [{"port": 5432}]}}, "default")
    await api.create("endpoints", ep([{"addresses": [{"ip": "192.168.10.5"}], "ports": [{"port": 5432}]}]),
                     "default")
    await settle(cm)
    assert len(await mirrored(api)) == 1

    # opting out with the skip-mirror label removes the mirrored slice
    e = await api.get("endpoints", "db", "default")
    e["metadata"]["labels"] = {"endpointslice.kubernetes.io/skip-mirror": "true"}
    await api.update("endpoints", e, "default")
    await settle(cm)
    assert await mirrored(api) == []
    e = await api.get("endpoints", "db", "default")
    e["metadata"]["labels"] = {}
    await api.update("endpoints", e, "default")
    await settle(cm)
    assert len(await mirrored(api)) == 1

    # the Service gains a selector: the endpoints controllers own it now, the mirror goes
    s = await api.get("services", "db", "default")
    s["spec"]["selector"] = {"app": "db"}
    await api.update("services", s, "default")
    await settle(cm)
    assert await mirrored(api) == []

    # Endpoints without a Service are not mirrored; nor is default/kubernetes
    await api.create("endpoints", ep([{"addresses": [{"ip": "192.168.10.9"}], "ports": [{"port": 1}]}],
                                     name="orphan"), "default")
    await settle(cm)
    every = (await api.list("endpointslices", None))["items"]
    assert [s for s in every if s["metadata"]["labels"].get("endpointslice.kubernetes.io/managed-by")
            == CONTROLLER_NAME] == []


async def test_too_many_addresses_are_capped_with_a_warning_event(api, clock, manager_for):
    cm = await manager_for("endpointslicemirroring")
    cm.controllers["endpointslicemirroring"].max_endpoints_per_subset = 3
    await api.create("services", {"metadata": {"name": "db"}, "spec": {"ports": [{"port": 5432}]}}, "default")
    await api.create("endpoints", ep([{"addresses": [{"ip": f"192.168.10.{i}"} for i in range(1, 6)],
                                       "ports": [{"port": 5432}]}]), "default")
    await settle(cm)
    (sl,) = await mirrored(api)
    assert len(sl["endpoints"]) == 3
    assert any("2 addresses were skipped" in m for m in await events(api, "TooManyAddressesToMirror"))


async def test_a_mirrored_selectorless_service_gets_slices_the_proxy_reads(api, clock, manager_for):
    """With every controller running, the manual Service has exactly one slice: the mirrored one."""
    cm = await manager_for("endpoints", "endpointslice", "endpointslicemirroring",
                           api_server_endpoint=("127.0.0.1", 16443))
    await api.create("services", {"metadata": {"name": "db"}, "spec": {"ports": [{"port": 5432}]}}, "default")
    await api.create("endpoints", ep([{"addresses": [{"ip": "192.168.10.5"}], "ports": [{"port": 5432}]}]),
                     "default")
    await settle(cm)
    slices = (await api.list("endpointslices", "default", label_selector="kubernetes.io/service-name=db"))["items"]
    assert [s["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] for s in slices] == [CONTROLLER_NAME]
    # what kube-proxy makes of it: the Service port reaches the hand-written address
    from kubetui.proxy.model import endpoints_for, service_ports
    (sp,) = service_ports(await api.get("services", "db", "default"))
    assert [(e.ip, e.port, e.ready) for e in endpoints_for(sp, slices)] == [("192.168.10.5", 5432, True)]
    # the hand-written Endpoints is left alone by the endpoints controller
    assert (await api.get("endpoints", "db", "default"))["subsets"][0]["addresses"] == [{"ip": "192.168.10.5"}]


async def test_duplicate_mirrored_slices_are_collapsed_to_one(api, clock, manager_for):
    cm = await manager_for("endpointslicemirroring")
    await api.create("services", {"metadata": {"name": "db"}, "spec": {"ports": [{"port": 5432}]}}, "default")
    await api.create("endpoints", ep([{"addresses": [{"ip": "192.168.10.5"}], "ports": [{"port": 5432}]}]),
                     "default")
    await settle(cm)
    (sl,) = await mirrored(api)
    twin = {k: v for k, v in sl.items() if k != "metadata"}
    twin["metadata"] = {"name": "db-zzzzzz", "labels": sl["metadata"]["labels"]}
    await api.create("endpointslices", twin, "default")
    await settle(cm)
    assert [s["metadata"]["name"] for s in await mirrored(api)] == [sl["metadata"]["name"]]
