"""Registry: delete (graceful, finalizers, namespaces), list, subresources, Service allocation."""

import pytest

from kubetui.api import errors
from kubetui.api.patch import MERGE_PATCH
from tests.apiserver.conftest_registry import (  # noqa: F401 - fixtures
    CONFIGMAPS, DEPLOYS, NAMESPACES, PODS, SERVICES, clock, deployment, pod, registry, store,
)


async def bound_pod(registry, name="web", grace=None):
    body = pod(name)
    if grace is not None:
        body["spec"]["terminationGracePeriodSeconds"] = grace
    await registry.create(PODS, "default", body)
    await registry.create(PODS, "default", {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                                            "target": {"kind": "Node", "name": "n1"}},
                          subresource="binding", name=name)
    return await registry.get(PODS, "default", name)


# --------------------------------------------------------------------- delete

async def test_unbound_pod_is_deleted_at_once(registry):
    await registry.create(PODS, "default", pod())
    out = await registry.delete(PODS, "default", "web", propagation_policy="Background")
    assert out["metadata"]["name"] == "web"
    with pytest.raises(errors.NotFound):
        await registry.get(PODS, "default", "web")


async def test_bound_pod_is_deleted_gracefully_then_by_the_kubelet(registry, clock):
    await bound_pod(registry, grace=30)
    out = await registry.delete(PODS, "default", "web")
    meta = out["metadata"]
    assert meta["deletionGracePeriodSeconds"] == 30
    assert meta["deletionTimestamp"] == "2023-11-14T22:13:50Z"   # now + 30 s
    assert meta["generation"] == 2
    # a second delete with a longer grace changes nothing; a shorter one shortens it
    assert (await registry.delete(PODS, "default", "web", grace_period_seconds=60))["metadata"][
        "deletionGracePeriodSeconds"] == 30
    assert (await registry.delete(PODS, "default", "web", grace_period_seconds=10))["metadata"][
        "deletionGracePeriodSeconds"] == 10
    # the kubelet finishes with grace 0
    await registry.delete(PODS, "default", "web", grace_period_seconds=0)
    with pytest.raises(errors.NotFound):
        await registry.get(PODS, "default", "web")


async def test_finalizers_hold_an_object_until_removed(registry):
    await registry.create(CONFIGMAPS, "default", {"metadata": {"name": "c", "finalizers": ["example.com/keep"]}})
    out = await registry.delete(CONFIGMAPS, "default", "c")
    assert out["metadata"]["deletionTimestamp"] and out["metadata"]["deletionGracePeriodSeconds"] == 0
    with pytest.raises(errors.Invalid, match="no new finalizers can be added"):
        await registry.patch(CONFIGMAPS, "default", "c", {"metadata": {"finalizers": ["example.com/keep", "x"]}},
                             MERGE_PATCH)
    await registry.patch(CONFIGMAPS, "default", "c", {"metadata": {"finalizers": None}}, MERGE_PATCH)
    with pytest.raises(errors.NotFound):
        await registry.get(CONFIGMAPS, "default", "c")


@pytest.mark.parametrize("policy, finalizer", [("Foreground", "foregroundDeletion"), ("Orphan", "orphan")])
async def test_propagation_policy_becomes_a_gc_finalizer(registry, policy, finalizer):
    await registry.create(DEPLOYS, "default", deployment())
    out = await registry.delete(DEPLOYS, "default", "web", propagation_policy=policy)
    assert out["metadata"]["finalizers"] == [finalizer]
    assert out["metadata"]["deletionTimestamp"]
    await registry.get(DEPLOYS, "default", "web")  # still there for the GC to handle


async def test_delete_preconditions(registry):
    d = await registry.create(DEPLOYS, "default", deployment())
    with pytest.raises(errors.Conflict, match="Precondition failed: UID in precondition: nope"):
        await registry.delete(DEPLOYS, "default", "web", preconditions={"uid": "nope"})
    await registry.delete(DEPLOYS, "default", "web", preconditions={"uid": d["metadata"]["uid"]})


async def test_namespace_deletion_waits_for_its_finalizer(registry):
    await registry.create(NAMESPACES, None, {"metadata": {"name": "team"}})
    ns = await registry.delete(NAMESPACES, None, "team")
    assert ns["status"]["phase"] == "Terminating"
    assert ns["spec"]["finalizers"] == ["kubernetes"]
    # the namespace controller empties it, then finalizes: that completes the deletion
    await registry.update(NAMESPACES, None, "team", {**ns, "spec": {"finalizers": []}}, subresource="finalize")
    with pytest.raises(errors.NotFound):
        await registry.get(NAMESPACES, None, "team")


async def test_system_namespaces_cannot_be_deleted(registry):
    with pytest.raises(errors.Forbidden, match='namespaces "default" is forbidden: this namespace may not be deleted'):
        await registry.delete(NAMESPACES, None, "default")


async def test_delete_collection(registry):
    for n in ("a", "b", "c"):
        await registry.create(CONFIGMAPS, "default", {"metadata": {"name": n, "labels": {"x": "1" if n != "c" else "2"}}})
    out = await registry.delete_collection(CONFIGMAPS, "default", label_selector="x=1")
    assert [i["metadata"]["name"] for i in out["items"]] == ["a", "b"]
    assert [i["metadata"]["name"] for i in (await registry.list(CONFIGMAPS, "default"))["items"]] == ["c"]


# ----------------------------------------------------------------------- list

async def test_list_shape_selectors_and_all_namespaces(registry):
    await registry.create(NAMESPACES, None, {"metadata": {"name": "other"}})
    await registry.create(PODS, "default", pod("a", {"app": "web"}))
    await registry.create(PODS, "default", pod("b", {"app": "db"}))
    await registry.create(PODS, "other", pod("c", {"app": "web"}))
    out = await registry.list(PODS, "default")
    assert out["kind"] == "PodList" and out["apiVersion"] == "v1"
    assert out["metadata"]["resourceVersion"] == str(registry.store.revision)
    assert [i["kind"] for i in out["items"]] == ["Pod", "Pod"]
    everywhere = await registry.list(PODS, None, label_selector="app=web")
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in everywhere["items"]] == [
        ("default", "a"), ("other", "c")]
    by_field = await registry.list(PODS, None, field_selector="metadata.namespace=other")
    assert [i["metadata"]["name"] for i in by_field["items"]] == ["c"]
    with pytest.raises(errors.BadRequest, match="field label not supported: spec.foo"):
        await registry.list(PODS, None, field_selector="spec.foo=x")


async def test_list_paging_with_continue(registry):
    for i in range(5):
        await registry.create(CONFIGMAPS, "default", {"metadata": {"name": f"cm-{i}"}})
    page = await registry.list(CONFIGMAPS, "default", limit=2)
    names = [i["metadata"]["name"] for i in page["items"]]
    assert names == ["cm-0", "cm-1"] and page["metadata"]["remainingItemCount"] == 3
    while page["metadata"].get("continue"):
        page = await registry.list(CONFIGMAPS, "default", limit=2, continue_=page["metadata"]["continue"])
        names += [i["metadata"]["name"] for i in page["items"]]
    assert names == [f"cm-{i}" for i in range(5)]
    with pytest.raises(errors.BadRequest, match="continue key is not valid"):
        await registry.list(CONFIGMAPS, "default", continue_="%%%")


# --------------------------------------------------------------- subresources

async def test_scale_subresource(registry):
    await registry.create(DEPLOYS, "default", deployment())
    scale = await registry.get(DEPLOYS, "default", "web", subresource="scale")
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"] == {"replicas": 2} and scale["status"] == {"replicas": 0, "selector": "app=web"}
    out = await registry.patch(DEPLOYS, "default", "web", b'{"spec":{"replicas":5}}', MERGE_PATCH,
                               subresource="scale")
    assert out["spec"]["replicas"] == 5
    d = await registry.get(DEPLOYS, "default", "web")
    assert d["spec"]["replicas"] == 5 and d["metadata"]["generation"] == 2
    await registry.update(DEPLOYS, "default", "web", {**out, "spec": {"replicas": 1}}, subresource="scale")
    assert (await registry.get(DEPLOYS, "default", "web"))["spec"]["replicas"] == 1
    with pytest.raises(errors.Invalid, match="spec.replicas: Invalid value: -1"):
        await registry.patch(DEPLOYS, "default", "web", {"spec": {"replicas": -1}}, MERGE_PATCH, subresource="scale")
    with pytest.raises(errors.Conflict):
        await registry.update(DEPLOYS, "default", "web", out, subresource="scale")  # stale resourceVersion


async def test_binding_sets_node_and_condition_and_refuses_rebinding(registry):
    p = await bound_pod(registry)
    assert p["spec"]["nodeName"] == "n1"
    assert [c for c in p["status"]["conditions"] if c["type"] == "PodScheduled"][0]["status"] == "True"
    with pytest.raises(errors.Conflict) as e:
        await registry.create(PODS, "default", {"target": {"kind": "Node", "name": "n2"}},
                              subresource="binding", name="web")
    assert e.value.message == ('Operation cannot be fulfilled on pods/binding "web": '
                               'pod web is already assigned to node "n1"')


async def test_eviction_deletes_the_pod(registry):
    await registry.create(PODS, "default", pod())
    out = await registry.create(PODS, "default", {"apiVersion": "policy/v1", "kind": "Eviction",
                                                  "metadata": {"name": "web"}}, subresource="eviction", name="web")
    assert out["status"] == "Success"
    with pytest.raises(errors.NotFound):
        await registry.get(PODS, "default", "web")


async def test_unknown_subresource(registry):
    await registry.create(CONFIGMAPS, "default", {"metadata": {"name": "c"}})
    with pytest.raises(errors.NotFound):
        await registry.get(CONFIGMAPS, "default", "c", subresource="scale")


# ------------------------------------------------------------------- services

def service(name, **spec):
    return {"metadata": {"name": name}, "spec": {"selector": {"app": name}, "ports": [{"port": 80}], **spec}}


async def test_cluster_ip_allocation_and_release(registry):
    a = await registry.create(SERVICES, "default", service("a"))
    ip = a["spec"]["clusterIP"]
    assert ip.startswith("10.96.0.") and ip != "10.96.0.1"
    assert a["spec"]["clusterIPs"] == [ip]
    with pytest.raises(errors.Invalid, match="provided IP is already allocated"):
        await registry.create(SERVICES, "default", service("b", clusterIP=ip))
    with pytest.raises(errors.Invalid, match="is not in the valid range"):
        await registry.create(SERVICES, "default", service("b", clusterIP="192.168.1.1"))
    headless = await registry.create(SERVICES, "default", service("h", clusterIP="None"))
    assert headless["spec"]["clusterIP"] == "None"
    await registry.delete(SERVICES, "default", "a")
    b = await registry.create(SERVICES, "default", service("b", clusterIP=ip))  # released, so free again
    assert b["spec"]["clusterIP"] == ip


async def test_update_keeps_cluster_ip_and_refuses_changing_it(registry):
    a = await registry.create(SERVICES, "default", service("a"))
    body = {**a, "spec": {k: v for k, v in a["spec"].items() if k not in ("clusterIP", "clusterIPs")}}
    body["metadata"] = {k: v for k, v in a["metadata"].items() if k != "resourceVersion"}
    a2 = await registry.update(SERVICES, "default", "a", body)
    assert a2["spec"]["clusterIP"] == a["spec"]["clusterIP"]
    with pytest.raises(errors.Invalid, match="may not change once set"):
        await registry.patch(SERVICES, "default", "a", {"spec": {"clusterIP": "10.96.0.77"}}, MERGE_PATCH)


async def test_node_ports(registry):
    s = await registry.create(SERVICES, "default", service("np", type="NodePort"))
    port = s["spec"]["ports"][0]["nodePort"]
    assert 30000 <= port <= 30009
    with pytest.raises(errors.Invalid, match="provided port is already allocated"):
        await registry.create(SERVICES, "default", {**service("np2", type="NodePort"),
                                                    "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": port}]}})
    with pytest.raises(errors.Invalid, match=r"spec.ports\[0\].nodePort"):
        await registry.create(SERVICES, "default", {"metadata": {"name": "np3"},
                                                    "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 80}]}})
    # back to ClusterIP releases the node port
    s2 = await registry.patch(SERVICES, "default", "np", {"spec": {"type": "ClusterIP"}}, MERGE_PATCH)
    assert "nodePort" not in s2["spec"]["ports"][0]
    again = await registry.create(SERVICES, "default", {"metadata": {"name": "np4"},
                                                        "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": port}]}})
    assert again["spec"]["ports"][0]["nodePort"] == port


async def test_allocations_survive_a_registry_restart(registry, store, clock):
    from kubetui.apiserver.registry import Registry
    a = await registry.create(SERVICES, "default", service("a"))
    fresh = Registry(store, clock=clock, service_cidr="10.96.0.0/24")
    with pytest.raises(errors.Invalid, match="already allocated"):
        await fresh.create(SERVICES, "default", service("b", clusterIP=a["spec"]["clusterIP"]))
