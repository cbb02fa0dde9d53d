"""Registry: create, get, update and patch semantics as kube-apiserver has them."""

import pytest

from kubetui.api import errors
from kubetui.api.patch import APPLY_PATCH, JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH
from tests.apiserver.conftest_registry import (  # noqa: F401 - fixtures
    CONFIGMAPS, DEPLOYS, NAMESPACES, PODS, SERVICES, clock, deployment, pod, registry, store,
)


# ------------------------------------------------------------------ bootstrap

async def test_bootstrap_creates_system_namespaces_service_and_service_accounts(registry):
    names = [n["metadata"]["name"] for n in (await registry.list(NAMESPACES, None))["items"]]
    assert names == ["default", "kube-node-lease", "kube-public", "kube-system"]
    svc = await registry.get(SERVICES, "default", "kubernetes")
    assert svc["spec"]["clusterIP"] == "10.96.0.1"
    assert svc["spec"]["ports"][0]["port"] == 443
    from kubetui.api.resources import resource_for
    sa = await registry.get(resource_for("serviceaccounts"), "kube-system", "default")
    assert sa["kind"] == "ServiceAccount"
    await registry.bootstrap()  # idempotent
    assert len((await registry.list(NAMESPACES, None))["items"]) == 4


# --------------------------------------------------------------------- create

async def test_create_fills_type_meta_and_system_fields(registry, clock):
    p = await registry.create(PODS, "default", pod())
    # stored in the order kube-apiserver writes an object (Go's TypeMeta: kind, then apiVersion),
    # so the stored JSON is the response body (encoding.response_order)
    assert list(p)[:3] == ["kind", "apiVersion", "metadata"]
    assert (p["apiVersion"], p["kind"]) == ("v1", "Pod")
    meta = p["metadata"]
    assert meta["namespace"] == "default"
    assert len(meta["uid"]) == 36
    assert meta["creationTimestamp"] == "2023-11-14T22:13:20Z"  # FakeClock's start
    assert meta["generation"] == 1
    assert meta["resourceVersion"] == str(registry.store.revision)
    assert p["status"] == {"phase": "Pending", "qosClass": "BestEffort"}


async def test_create_resets_client_status_and_system_fields(registry):
    body = deployment()
    body["status"] = {"replicas": 9}
    body["metadata"].update(uid="mine", generation=7, creationTimestamp="2000-01-01T00:00:00Z")
    d = await registry.create(DEPLOYS, "default", body)
    assert d["status"] == {}
    assert d["metadata"]["uid"] != "mine"
    assert d["metadata"]["generation"] == 1
    p = pod()
    p["status"] = {"phase": "Running"}
    assert (await registry.create(PODS, "default", p))["status"]["phase"] == "Pending"


@pytest.mark.parametrize("body, ns, exc, message", [
    ({**deployment(), "apiVersion": "v1"}, "default", errors.BadRequest,
     "the API version in the data (v1) does not match the expected API version (apps/v1)"),
    ({**deployment(), "kind": "ReplicaSet"}, "default", errors.BadRequest, "cannot be handled as a Deployment"),
    ({**deployment(), "metadata": {"name": "x", "namespace": "other"}}, "default", errors.BadRequest,
     "the namespace of the provided object does not match the namespace sent on the request"),
    (deployment(), "nope", errors.NotFound, 'namespaces "nope" not found'),
    ({**deployment(), "metadata": {}}, "default", errors.Invalid,
     "metadata.name: Required value: name or generateName is required"),
    ({**deployment(), "metadata": {"name": "a", "resourceVersion": "5"}}, "default", errors.BadRequest,
     "resourceVersion should not be set on objects to be created"),
])
async def test_create_errors(registry, body, ns, exc, message):
    with pytest.raises(exc) as e:
        await registry.create(DEPLOYS, ns, body)
    assert message in e.value.message


async def test_create_already_exists_is_worded_like_kube_apiserver(registry):
    await registry.create(DEPLOYS, "default", deployment("pyd"))
    with pytest.raises(errors.AlreadyExists) as e:
        await registry.create(DEPLOYS, "default", deployment("pyd"))
    assert e.value.status() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'deployments.apps "pyd" already exists', "reason": "AlreadyExists",
        "details": {"name": "pyd", "group": "apps", "kind": "deployments"}, "code": 409}


async def test_generate_name(registry):
    body = {"metadata": {"generateName": "web-"}, "spec": pod()["spec"]}
    p = await registry.create(PODS, "default", body)
    name = p["metadata"]["name"]
    assert name.startswith("web-") and len(name) == 9
    assert set(name[4:]) <= set("bcdfghjklmnpqrstvwxz2456789")


async def test_create_in_terminating_namespace_is_forbidden(registry):
    await registry.create(NAMESPACES, None, {"metadata": {"name": "gone"}})
    ns = await registry.delete(NAMESPACES, None, "gone")
    assert ns["status"]["phase"] == "Terminating"
    with pytest.raises(errors.Forbidden) as e:
        await registry.create(CONFIGMAPS, "gone", {"metadata": {"name": "c"}})
    assert e.value.message == ('configmaps "c" is forbidden: unable to create new content in namespace gone '
                               "because it is being terminated")


async def test_dry_run_create_stores_nothing(registry):
    rev = registry.store.revision
    out = await registry.create(CONFIGMAPS, "default", {"metadata": {"name": "c"}}, dry_run=True)
    assert out["metadata"]["name"] == "c"
    assert registry.store.revision == rev
    with pytest.raises(errors.NotFound):
        await registry.get(CONFIGMAPS, "default", "c")


async def test_get_not_found_message(registry):
    with pytest.raises(errors.NotFound) as e:
        await registry.get(PODS, "default", "nope")
    assert e.value.status()["message"] == 'pods "nope" not found'
    assert e.value.status()["details"] == {"name": "nope", "kind": "pods"}


# --------------------------------------------------------------------- update

async def test_update_with_stale_resource_version_conflicts(registry):
    d = await registry.create(DEPLOYS, "default", deployment())
    stale = dict(d, metadata=dict(d["metadata"]))
    d2 = dict(d, spec=dict(d["spec"], replicas=3))
    await registry.update(DEPLOYS, "default", "web", d2)
    stale["spec"] = dict(stale["spec"], replicas=4)
    with pytest.raises(errors.Conflict) as e:
        await registry.update(DEPLOYS, "default", "web", stale)
    assert e.value.message == ('Operation cannot be fulfilled on deployments.apps "web": the object has been '
                               "modified; please apply your changes to the latest version and try again")


async def test_update_bumps_generation_only_on_spec_change_and_keeps_status(registry):
    d = await registry.create(DEPLOYS, "default", deployment())
    body = {**d, "metadata": {**d["metadata"], "labels": {"x": "y"}}, "status": {"replicas": 5}}
    d2 = await registry.update(DEPLOYS, "default", "web", body)
    assert d2["metadata"]["generation"] == 1
    assert d2["status"] == {}                       # main resource ignores status
    assert d2["metadata"]["uid"] == d["metadata"]["uid"]
    body = {**d2, "spec": {**d2["spec"], "replicas": 7}}
    body["metadata"] = {k: v for k, v in d2["metadata"].items() if k != "resourceVersion"}  # unconditional
    d3 = await registry.update(DEPLOYS, "default", "web", body)
    assert d3["metadata"]["generation"] == 2


async def test_status_update_changes_only_status(registry):
    d = await registry.create(DEPLOYS, "default", deployment())
    body = {**d, "spec": {**d["spec"], "replicas": 50}, "status": {"replicas": 2, "observedGeneration": 1}}
    d2 = await registry.update(DEPLOYS, "default", "web", body, subresource="status")
    assert d2["spec"]["replicas"] == 2
    assert d2["status"] == {"replicas": 2, "observedGeneration": 1}
    assert d2["metadata"]["generation"] == 1


async def test_noop_update_writes_nothing(registry):
    d = await registry.create(DEPLOYS, "default", deployment())
    rev = registry.store.revision
    d2 = await registry.update(DEPLOYS, "default", "web", dict(d))
    assert registry.store.revision == rev
    assert d2["metadata"]["resourceVersion"] == d["metadata"]["resourceVersion"]


async def test_update_name_mismatch_and_missing(registry):
    d = await registry.create(DEPLOYS, "default", deployment())
    with pytest.raises(errors.BadRequest, match=r"does not match the name on the URL \(other\)"):
        await registry.update(DEPLOYS, "default", "other", d)
    with pytest.raises(errors.NotFound):
        await registry.update(DEPLOYS, "default", "ghost", {**deployment("ghost")})


# ---------------------------------------------------------------------- patch

async def test_merge_patch_and_strategic_merge_patch(registry):
    await registry.create(DEPLOYS, "default", deployment())
    d = await registry.patch(DEPLOYS, "default", "web", {"spec": {"replicas": 5}}, MERGE_PATCH)
    assert d["spec"]["replicas"] == 5 and d["metadata"]["generation"] == 2
    body = b'{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"c"}],"containers":[{"image":"nginx:2","name":"c"}]}}}}'
    d = await registry.patch(DEPLOYS, "default", "web", body, STRATEGIC_MERGE_PATCH)
    c = d["spec"]["template"]["spec"]["containers"][0]
    assert c["image"] == "nginx:2" and c["terminationMessagePolicy"] == "File"
    assert d["metadata"]["generation"] == 3


async def test_json_patch_test_failure_is_422_and_changes_nothing(registry):
    await registry.create(DEPLOYS, "default", deployment())
    rev = registry.store.revision
    with pytest.raises(errors.Invalid):
        await registry.patch(DEPLOYS, "default", "web",
                             [{"op": "test", "path": "/spec/replicas", "value": 9},
                              {"op": "replace", "path": "/spec/replicas", "value": 1}], JSON_PATCH)
    assert registry.store.revision == rev


async def test_patch_with_stale_resource_version_conflicts(registry):
    d = await registry.create(DEPLOYS, "default", deployment())
    await registry.patch(DEPLOYS, "default", "web", {"spec": {"replicas": 3}}, MERGE_PATCH)
    with pytest.raises(errors.Conflict):
        await registry.patch(DEPLOYS, "default", "web",
                             {"metadata": {"resourceVersion": d["metadata"]["resourceVersion"]},
                              "spec": {"replicas": 4}}, MERGE_PATCH)


async def test_status_patch(registry):
    await registry.create(PODS, "default", pod())
    p = await registry.patch(PODS, "default", "web", {"status": {"phase": "Running", "podIP": "10.244.0.5"},
                                                      "spec": {"nodeName": "sneaky"}},
                             STRATEGIC_MERGE_PATCH, subresource="status")
    assert p["status"]["phase"] == "Running"
    assert "nodeName" not in p["spec"]


async def test_server_side_apply_creates_then_merges_and_detects_conflicts(registry):
    cfg = deployment("ssa")
    d = await registry.patch(DEPLOYS, "default", "ssa", cfg, APPLY_PATCH, field_manager="kubectl")
    assert d["spec"]["replicas"] == 2
    mf = d["metadata"]["managedFields"]
    assert mf[0]["manager"] == "kubectl" and mf[0]["operation"] == "Apply"
    assert "f:replicas" in mf[0]["fieldsV1"]["f:spec"]
    # another manager changes replicas with an ordinary update
    await registry.patch(DEPLOYS, "default", "ssa", {"spec": {"replicas": 3}}, MERGE_PATCH, field_manager="hpa")
    cfg2 = deployment("ssa", replicas=4)
    with pytest.raises(errors.Conflict) as e:
        await registry.patch(DEPLOYS, "default", "ssa", cfg2, APPLY_PATCH, field_manager="kubectl")
    assert e.value.message == 'Apply failed with 1 conflict: conflict with "hpa" using apps/v1: .spec.replicas'
    d = await registry.patch(DEPLOYS, "default", "ssa", cfg2, APPLY_PATCH, field_manager="kubectl", force=True)
    assert d["spec"]["replicas"] == 4
    assert [m["manager"] for m in d["metadata"]["managedFields"]] == ["kubectl"]


async def test_server_side_apply_removes_fields_no_longer_applied(registry):
    cfg = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "1", "b": "2"}},
           "data": {"x": "1", "y": "2"}}
    await registry.patch(CONFIGMAPS, "default", "c", cfg, APPLY_PATCH, field_manager="me")
    cfg2 = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "1"}},
            "data": {"x": "1"}}
    c = await registry.patch(CONFIGMAPS, "default", "c", cfg2, APPLY_PATCH, field_manager="me")
    assert c["data"] == {"x": "1"}
    assert c["metadata"]["labels"] == {"a": "1"}


async def test_patch_missing_object_is_not_found(registry):
    with pytest.raises(errors.NotFound):
        await registry.patch(DEPLOYS, "default", "ghost", {"spec": {}}, MERGE_PATCH)


async def test_timestamps_are_rfc3339_of_the_clock_at_every_instant(registry, clock):
    """The registry formats its timestamps once a second (Registry._now); what it writes is
    still rfc3339 of the clock's instant, also a microsecond from the next second, and after
    the clock goes back."""
    from kubetui.clock import rfc3339
    for t in (1_700_000_000.0, 1_700_000_000.5, 1_700_000_000.9999994, 1_700_000_000.9999996,
              1_700_000_001.0, 1_699_999_999.25, 1_700_000_000.25, 1_800_000_000.999999):
        clock._now = t
        assert registry._now() == rfc3339(t), t


def test_new_uid_is_a_random_rfc4122_version_4_uuid():
    import uuid

    from kubetui.apiserver.registry import new_uid
    uids = [new_uid() for _ in range(2000)]
    assert len(set(uids)) == len(uids)
    for s in uids:
        u = uuid.UUID(s)
        assert str(u) == s and u.version == 4 and u.variant == uuid.RFC_4122
