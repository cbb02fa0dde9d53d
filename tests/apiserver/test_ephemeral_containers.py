"""``pods/ephemeralcontainers``: what ``kubectl debug POD --image=…`` writes.

Upstream: pkg/registry/core/pod/storage (``EphemeralContainersREST``),
strategy.go (``podEphemeralContainersStrategy``: only
``spec.ephemeralContainers`` changes), validation.go
(``validateEphemeralContainers``, ``ValidatePodEphemeralContainersUpdate``)
and test/integration/pods/pods_test.go (``TestPodPatchEphemeralContainers``,
whose cases these follow).
"""

from __future__ import annotations

import pytest

from kubetui.api import errors
from kubetui.api.patch import JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH
from tests.apiserver.conftest_registry import PODS, clock, pod, registry, store  # noqa: F401 - fixtures

EC = "ephemeralcontainers"


def debugger(name: str = "debugger", **extra) -> dict:
    return {"name": name, "image": "busybox:1.36", **extra}


async def add(registry, *containers: dict, patch_type: str = STRATEGIC_MERGE_PATCH) -> dict:
    return await registry.patch(PODS, "default", "web", {"spec": {"ephemeralContainers": list(containers)}},
                                patch_type, subresource=EC)


async def invalid(registry, body, patch_type: str = STRATEGIC_MERGE_PATCH) -> errors.Invalid:
    before = await registry.get(PODS, "default", "web")
    with pytest.raises(errors.Invalid) as e:
        await registry.patch(PODS, "default", "web", body, patch_type, subresource=EC)
    after = await registry.get(PODS, "default", "web")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"], "half-stored"
    assert e.value.code == 422
    return e.value


def messages(err: errors.Invalid) -> list[str]:
    return [f"{c['field']}: {c['message']}" for c in err.causes]


@pytest.fixture
async def web(registry):
    return await registry.create(PODS, "default", pod())


async def test_get_returns_the_pod_and_kubectl_debugs_patch_adds_a_defaulted_container(registry, web):
    got = await registry.get(PODS, "default", "web", subresource=EC)
    assert got["kind"] == "Pod" and got["metadata"]["name"] == "web"
    # The body kubectl v1.37 sends for `kubectl debug web --image=busybox:1.36 --target=c -- true`.
    out = await add(registry, {"command": ["true"], "image": "busybox:1.36", "name": "debugger-f8gwm",
                               "resources": {}, "securityContext": {"capabilities": {"add": ["SYS_PTRACE"]}},
                               "targetContainerName": "c", "terminationMessagePolicy": "File"})
    (ec,) = out["spec"]["ephemeralContainers"]
    assert ec["imagePullPolicy"] == "IfNotPresent"            # defaulted like any container
    assert ec["terminationMessagePath"] == "/dev/termination-log"
    assert out["spec"]["containers"] == web["spec"]["containers"]
    assert out["metadata"]["generation"] == web["metadata"]["generation"] + 1  # a spec change


async def test_add_by_merge_json_patch_and_put(registry, web):
    await add(registry, debugger("d1"), patch_type=MERGE_PATCH)
    cur = await registry.get(PODS, "default", "web")
    await registry.patch(PODS, "default", "web", [{"op": "add", "path": "/spec/ephemeralContainers/-",
                                                   "value": debugger("d2")}], JSON_PATCH, subresource=EC)
    body = await registry.get(PODS, "default", "web", subresource=EC)
    body = {**body, "spec": {**body["spec"], "ephemeralContainers": [*body["spec"]["ephemeralContainers"],
                                                                     debugger("d3")]}}
    out = await registry.update(PODS, "default", "web", body, subresource=EC)
    assert [c["name"] for c in out["spec"]["ephemeralContainers"]] == ["d1", "d2", "d3"]
    assert cur["spec"]["ephemeralContainers"][0]["name"] == "d1"


async def test_only_ephemeral_containers_change_through_the_subresource(registry, web):
    body = {"metadata": {"labels": {"sneaky": "yes"}},
            "spec": {"containers": [{"name": "c", "image": "evil:2"}], "ephemeralContainers": [debugger()]},
            "status": {"phase": "Failed"}}
    out = await registry.patch(PODS, "default", "web", body, STRATEGIC_MERGE_PATCH, subresource=EC)
    assert out["metadata"]["labels"] == {"app": "web"}
    assert out["spec"]["containers"][0]["image"] == "nginx:1"
    assert out["status"]["phase"] == "Pending"
    assert [c["name"] for c in out["spec"]["ephemeralContainers"]] == ["debugger"]


async def test_forbidden_fields_as_upstream(registry, web):
    err = await invalid(registry, {"spec": {"ephemeralContainers": [debugger(
        ports=[{"containerPort": 80}], resources={"limits": {"cpu": "1"}},
        readinessProbe={"exec": {"command": ["true"]}}, lifecycle={"preStop": {"exec": {"command": ["x"]}}},
        volumeMounts=[{"name": "v", "mountPath": "/v", "subPath": "a"}])]}})
    msgs = messages(err)
    for field in ("lifecycle", "ports", "readinessProbe", "resources"):
        assert f"spec.ephemeralContainers[0].{field}: Forbidden: cannot be set for an Ephemeral Container" in msgs
    assert "spec.ephemeralContainers[0].volumeMounts[0].subPath: Forbidden: cannot be set for an " \
           "Ephemeral Container" in msgs
    assert str(err).startswith('Pod "web" is invalid: ')


async def test_names_are_unique_across_all_containers_and_the_target_must_exist(registry, web):
    err = await invalid(registry, {"spec": {"ephemeralContainers": [debugger("c")]}})
    assert messages(err) == ['spec.ephemeralContainers[0].name: Duplicate value: "c"']
    err = await invalid(registry, {"spec": {"ephemeralContainers": [debugger(targetContainerName="nope")]}})
    assert messages(err) == ['spec.ephemeralContainers[0].targetContainerName: Not found: "nope"']
    err = await invalid(registry, {"spec": {"ephemeralContainers": [{"name": "x"}]}})
    assert messages(err) == ["spec.ephemeralContainers[0].image: Required value"]


@pytest.mark.parametrize("patch_type,body", [
    (MERGE_PATCH, {"spec": {"ephemeralContainers": []}}),
    (JSON_PATCH, [{"op": "remove", "path": "/spec/ephemeralContainers/0"}]),
    (JSON_PATCH, [{"op": "remove", "path": "/spec/ephemeralContainers"}]),
])
async def test_existing_ephemeral_containers_may_not_be_removed(registry, web, patch_type, body):
    await add(registry, debugger())
    err = await invalid(registry, body, patch_type)
    assert messages(err) == ['spec.ephemeralContainers: Forbidden: existing ephemeral containers "debugger" '
                             'may not be removed\n']


async def test_existing_ephemeral_containers_may_not_be_changed(registry, web):
    await add(registry, debugger())
    err = await invalid(registry, {"spec": {"ephemeralContainers": [debugger(image="alpine:3")]}})
    (msg,) = messages(err)
    assert msg.startswith('spec.ephemeralContainers: Forbidden: existing ephemeral containers "debugger" '
                          'may not be changed\n')
    assert '- \timage: "busybox:1.36"' in msg and '+ \timage: "alpine:3"' in msg


async def test_not_on_create_nor_through_a_pod_update(registry, web):
    with pytest.raises(errors.Invalid) as e:
        await registry.create(PODS, "default", {**pod("other"), "spec": {
            **pod()["spec"], "ephemeralContainers": [debugger()]}})
    assert "spec.ephemeralContainers: Forbidden: cannot be set on create" in messages(e.value)
    with pytest.raises(errors.Invalid) as e:
        await registry.patch(PODS, "default", "web", {"spec": {"ephemeralContainers": [debugger()]}},
                             STRATEGIC_MERGE_PATCH)
    assert messages(e.value)[0].startswith("spec: Forbidden: pod updates may not change fields")


async def test_static_pods_take_none(registry):
    await registry.create(PODS, "default", {**pod(), "metadata": {
        "name": "web", "annotations": {"kubernetes.io/config.mirror": "x"}}, "spec": {
        **pod()["spec"], "nodeName": "node-1"}})
    err = await invalid(registry, {"spec": {"ephemeralContainers": [debugger()]}})
    assert messages(err) == [": Forbidden: static pods do not support ephemeral containers"]


async def test_unknown_pod_is_404_and_dry_run_stores_nothing(registry, web):
    with pytest.raises(errors.NotFound):
        await registry.patch(PODS, "default", "nope", {"spec": {"ephemeralContainers": [debugger()]}},
                             STRATEGIC_MERGE_PATCH, subresource=EC)
    out = await registry.patch(PODS, "default", "web", {"spec": {"ephemeralContainers": [debugger()]}},
                               STRATEGIC_MERGE_PATCH, subresource=EC, dry_run=True)
    assert out["spec"]["ephemeralContainers"]
    assert "ephemeralContainers" not in (await registry.get(PODS, "default", "web"))["spec"]


async def test_a_pod_template_takes_none(registry):
    from tests.apiserver.conftest_registry import DEPLOYS, deployment
    body = deployment()
    body["spec"]["template"]["spec"]["ephemeralContainers"] = [debugger()]
    with pytest.raises(errors.Invalid) as e:
        await registry.create(DEPLOYS, "default", body)
    assert "spec.template.spec.ephemeralContainers: Forbidden: ephemeral containers not allowed in pod template" \
        in messages(e.value)
