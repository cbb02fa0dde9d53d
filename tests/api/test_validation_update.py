"""Update validation: immutable fields, as kube-apiserver's ValidateXUpdate enforces."""

from __future__ import annotations

import copy

import pytest

from kubetui.api.defaults import apply_defaults
from kubetui.api.resources import resource_for
from kubetui.api.validation import validate
from tests.api.test_validation import B64, GOOD


def _stored(plural: str) -> dict:
    obj = copy.deepcopy(GOOD[plural])
    meta = obj["metadata"]
    meta.update(uid="1b4e28ba-2fa1-11d2-883f-0016d3cca427", creationTimestamp="2025-01-01T00:00:00Z",
                resourceVersion="7")
    apply_defaults(resource_for(plural), obj)
    return obj


def _update(plural: str, change, subresource: str | None = None) -> list[dict]:
    old = _stored(plural)
    new = copy.deepcopy(old)
    change(new)
    return validate(resource_for(plural), new, old, subresource=subresource)


def _fields(causes):
    return [(c["field"], c["reason"]) for c in causes]


def test_unchanged_update_is_valid():
    for plural in GOOD:
        assert _update(plural, lambda o: None) == [], plural


@pytest.mark.parametrize("field", ["name", "namespace", "uid", "creationTimestamp"])
def test_identity_metadata_is_immutable(field):
    causes = _update("configmaps", lambda o: o["metadata"].__setitem__(field, "changed"))
    assert (f"metadata.{field}", "FieldValueInvalid") in _fields(causes)
    assert any(c["message"].endswith("field is immutable") for c in causes)


def test_labels_may_change():
    assert _update("pods", lambda o: o["metadata"]["labels"].__setitem__("tier", "x")) == []


def test_pod_image_may_change():
    assert _update("pods", lambda o: o["spec"]["containers"][0].__setitem__("image", "nginx:1.28")) == []


def test_pod_spec_is_otherwise_immutable():
    causes = _update("pods", lambda o: o["spec"]["containers"][0].__setitem__("command", ["sleep"]))
    assert _fields(causes) == [("spec", "FieldValueForbidden")]
    assert causes[0]["message"].startswith(
        "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,")


def test_pod_tolerations_may_only_be_added():
    extra = {"key": "x", "operator": "Exists"}
    assert _update("pods", lambda o: o["spec"]["tolerations"].append(extra)) == []
    causes = _update("pods", lambda o: o["spec"].__setitem__("tolerations", []))
    assert ("spec.tolerations", "FieldValueForbidden") in _fields(causes)


def test_pod_status_and_binding_updates_skip_spec_rules():
    def running(o):
        o["status"] = {"phase": "Running", "podIP": "10.244.1.5"}
        o["spec"]["containers"][0]["command"] = ["ignored"]
    assert _update("pods", running, subresource="status") == []
    bad = _update("pods", lambda o: o.__setitem__("status", {"phase": "Dancing"}), subresource="status")
    assert _fields(bad) == [("status.phase", "FieldValueNotSupported")]


def test_pod_resize_subresource_may_change_resources():
    def more_cpu(o):
        o["spec"]["containers"][0]["resources"]["limits"]["cpu"] = "1"
    assert _update("pods", more_cpu, subresource="resize") == []
    assert _fields(_update("pods", more_cpu)) == [("spec", "FieldValueForbidden")]


def test_service_cluster_ip_is_immutable():
    def allocate(o):
        o["spec"]["clusterIP"] = "10.96.0.10"
    old = _stored("services")
    allocate(old)
    new = copy.deepcopy(old)
    new["spec"]["clusterIP"] = "10.96.0.11"
    causes = validate(resource_for("services"), new, old)
    assert _fields(causes) == [("spec.clusterIP", "FieldValueInvalid")]
    assert causes[0]["message"] == 'Invalid value: "10.96.0.11": field is immutable'


def test_deployment_selector_is_immutable():
    def change(o):
        o["spec"]["selector"] = {"matchLabels": {"app": "web", "v": "2"}}
        o["spec"]["template"]["metadata"]["labels"]["v"] = "2"
    causes = _update("deployments", change)
    assert _fields(causes) == [("spec.selector", "FieldValueInvalid")]
    assert causes[0]["message"] == ('Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", '
                                    '"v":"2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: '
                                    'field is immutable')


def test_deployment_scale_and_status_subresources():
    assert _update("deployments", lambda o: o["spec"].__setitem__("replicas", 5), subresource="scale") == []
    causes = _update("deployments", lambda o: o["spec"].__setitem__("replicas", -1), subresource="scale")
    assert _fields(causes) == [("spec.replicas", "FieldValueInvalid")]
    causes = _update("deployments", lambda o: o.__setitem__("status", {"replicas": 1, "readyReplicas": 2}),
                     subresource="status")
    assert ("status.readyReplicas", "FieldValueInvalid") in _fields(causes)


@pytest.mark.parametrize("plural, field", [("configmaps", "data"), ("secrets", "data")])
def test_immutable_configmaps_and_secrets(plural, field):
    old = _stored(plural)
    old["immutable"] = True
    new = copy.deepcopy(old)
    new[field] = {**new[field], "extra": B64("x")}
    causes = validate(resource_for(plural), new, old)
    assert (field, "FieldValueForbidden") in _fields(causes)
    assert "field is immutable when `immutable` is set" in causes[0]["message"]
    unset = copy.deepcopy(old)
    unset["immutable"] = False
    assert ("immutable", "FieldValueForbidden") in _fields(validate(resource_for(plural), unset, old))


def test_secret_type_is_immutable():
    causes = _update("secrets", lambda o: o.__setitem__("type", "Opaque"))
    assert ("type", "FieldValueInvalid") in _fields(causes)


def test_pvc_spec_immutable_except_requests_and_binding():
    grow = _update("persistentvolumeclaims",
                   lambda o: o["spec"]["resources"]["requests"].__setitem__("storage", "2Gi"))
    assert grow == []
    bind = _update("persistentvolumeclaims", lambda o: o["spec"].__setitem__("volumeName", "pv-1"))
    assert bind == []
    causes = _update("persistentvolumeclaims", lambda o: o["spec"].__setitem__("accessModes", ["ReadWriteMany"]))
    assert _fields(causes) == [("spec", "FieldValueForbidden")]
    shrink = _update("persistentvolumeclaims",
                     lambda o: o["spec"]["resources"]["requests"].__setitem__("storage", "512Mi"))
    assert ("spec.resources.requests.storage", "FieldValueForbidden") in _fields(shrink)


def test_storage_class_parameters_are_immutable():
    causes = _update("storageclasses", lambda o: o.__setitem__("parameters", {"type": "ssd"}))
    assert _fields(causes) == [("parameters", "FieldValueForbidden")]


def test_pv_source_is_immutable():
    causes = _update("persistentvolumes", lambda o: o["spec"]["hostPath"].__setitem__("path", "/elsewhere"))
    assert ("spec.persistentvolumesource", "FieldValueForbidden") in _fields(causes)


def test_binding_may_set_node_name_once():
    assert _update("pods", lambda o: o["spec"].__setitem__("nodeName", "node-1")) == []
    old = _stored("pods")
    old["spec"]["nodeName"] = "node-1"
    new = copy.deepcopy(old)
    new["spec"]["nodeName"] = "node-2"
    assert _fields(validate(resource_for("pods"), new, old)) == [("spec", "FieldValueForbidden")]


def test_lifecycle_hooks_may_sleep_but_must_name_a_handler():
    """preStop/postStart accept ``sleep`` (KEP-3960) besides exec/httpGet; an empty hook is refused."""
    from kubetui.api.resources import resource_for
    from kubetui.api.validation import validate

    def pod(hook):
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "default"},
                "spec": {"containers": [{"name": "c", "image": "busybox", "lifecycle": {"preStop": hook}}]}}

    assert validate(resource_for("pods"), pod({"sleep": {"seconds": 2}})) == []
    causes = validate(resource_for("pods"), pod({}))
    assert [(c["field"], c["reason"]) for c in causes] == [
        ("spec.containers[0].lifecycle.preStop", "FieldValueRequired")]
