"""The four patch types, with the exact bodies real kubectl sends (docs: kubectl-wire.md)."""

import copy
import json

import pytest

from kubetui.api.errors import BadRequest, Invalid, UnsupportedMediaType
from kubetui.api.patch import (
    APPLY_PATCH,
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    apply_patch,
    decode_patch,
    json_patch,
    list_merge_key,
    merge_patch,
    strategic_merge_patch,
)

DEPLOY = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "app", "namespace": "default", "labels": {"app": "webd"},
                 "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "webd"}},
        "template": {
            "metadata": {"labels": {"app": "webd"}},
            "spec": {"containers": [
                {"name": "c", "image": "nginx:1", "ports": [{"containerPort": 80, "protocol": "TCP"}],
                 "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
                {"name": "side", "image": "busybox", "args": ["sleep", "1"]},
            ]},
        },
    },
}


def deploy():
    return copy.deepcopy(DEPLOY)


# --- merge patch (RFC 7386) ---

@pytest.mark.parametrize("target, patch, want", [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),                 # lists are replaced whole
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
])
def test_merge_patch_rfc7386_examples(target, patch, want):
    assert merge_patch(target, patch) == want


def test_kubectl_scale_merge_patch():
    d = merge_patch(deploy(), {"spec": {"replicas": 5}})
    assert d["spec"]["replicas"] == 5
    assert d["spec"]["template"] == DEPLOY["spec"]["template"]


def test_kubectl_label_and_annotate_merge_patches():
    d = merge_patch(deploy(), {"metadata": {"labels": {"tier": "front", "app": None}}})
    assert d["metadata"]["labels"] == {"tier": "front"}


# --- JSON patch (RFC 6902) ---

@pytest.mark.parametrize("doc, ops, want", [
    ({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"foo": "bar", "baz": "qux"}),
    ({"foo": ["bar", "baz"]}, [{"op": "add", "path": "/foo/1", "value": "qux"}], {"foo": ["bar", "qux", "baz"]}),
    ({"foo": ["bar"]}, [{"op": "add", "path": "/foo/-", "value": "x"}], {"foo": ["bar", "x"]}),
    ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
    ({"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]}),
    ({"baz": "qux", "foo": "bar"}, [{"op": "replace", "path": "/baz", "value": "boo"}], {"baz": "boo", "foo": "bar"}),
    ({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
     [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
     {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}),
    ({"foo": ["all", "grass", "cows", "eat"]}, [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
     {"foo": ["all", "cows", "eat", "grass"]}),
    ({"a": {"b": 1}}, [{"op": "copy", "from": "/a", "path": "/c"}], {"a": {"b": 1}, "c": {"b": 1}}),
    ({"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "qux"}], {"baz": "qux"}),
    ({"a/b": 1, "m~n": 2}, [{"op": "replace", "path": "/a~1b", "value": 3},
                            {"op": "remove", "path": "/m~0n"}], {"a/b": 3}),
])
def test_json_patch_rfc6902_examples(doc, ops, want):
    assert json_patch(doc, ops) == want


@pytest.mark.parametrize("doc, ops, message", [
    ({"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "bar"}], "testing value /baz failed: test failed"),
    ({"a": 1}, [{"op": "replace", "path": "/b", "value": 1}], "replace operation does not apply"),
    ({"a": 1}, [{"op": "remove", "path": "/b"}], 'remove operation does not apply: doc is missing path: "/b"'),
    ({"a": 1}, [{"op": "add", "path": "/x/y", "value": 1}], 'doc is missing path: "/x/y"'),
    ({"a": [1]}, [{"op": "add", "path": "/a/5", "value": 1}], "out of bounds"),
])
def test_json_patch_failures_are_422(doc, ops, message):
    before = copy.deepcopy(doc)
    with pytest.raises(Invalid) as e:
        json_patch(copy.deepcopy(doc), ops)
    assert e.value.code == 422
    assert message in e.value.message
    assert doc == before


def test_kubectl_rollout_undo_json_patch():
    old_template = {"metadata": {"labels": {"app": "webd"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx:1", "resources": {}}]}}
    ops = [{"op": "replace", "path": "/spec/template", "value": old_template},
           {"op": "replace", "path": "/metadata/annotations",
            "value": {"deployment.kubernetes.io/revision": "3"}}]
    d = apply_patch(deploy(), ops, JSON_PATCH)
    assert d["spec"]["template"] == old_template
    assert d["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "3"}
    ops[0]["value"]["spec"]["containers"][0]["image"] = "changed"
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1"  # values were copied


# --- strategic merge patch ---

@pytest.mark.parametrize("path, key", [
    (("spec", "containers"), "name"),
    (("spec", "template", "spec", "containers"), "name"),
    (("spec", "template", "spec", "containers", "ports"), "containerPort"),
    (("spec", "containers", "env"), "name"),
    (("spec", "containers", "volumeMounts"), "mountPath"),
    (("spec", "volumes"), "name"),
    (("spec", "ports"), "port"),
    (("status", "conditions"), "type"),
    (("metadata", "ownerReferences"), "uid"),
    (("metadata", "finalizers"), None),
    (("spec", "tolerations"), False),
    (("spec", "containers", "args"), False),
    (("spec", "taints"), False),
])
def test_list_merge_keys(path, key):
    assert list_merge_key(path) == key


def test_kubectl_apply_patch_with_set_element_order():
    # The second `kubectl apply -f` (image changed), byte for byte from kubectl-wire.md.
    body = json.loads('{"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\\"x\\":1}"}},'
                      '"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"c"}],'
                      '"containers":[{"image":"nginx:2","name":"c"}]}}}}')
    d = apply_patch(deploy(), decode_patch(json.dumps(body), STRATEGIC_MERGE_PATCH), STRATEGIC_MERGE_PATCH)
    containers = d["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["c", "side"]
    assert containers[0]["image"] == "nginx:2"
    assert containers[0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]  # merged, not replaced
    assert d["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] == '{"x":1}'
    assert "$setElementOrder/containers" not in d["spec"]["template"]["spec"]


def test_kubectl_set_image_patch():
    body = {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "side"}],
                                           "containers": [{"image": "busybox:2", "name": "side"}]}}}}
    d = strategic_merge_patch(deploy(), body)
    assert [(c["name"], c["image"]) for c in d["spec"]["template"]["spec"]["containers"]] == [
        ("c", "nginx:1"), ("side", "busybox:2")]


def test_set_element_order_reorders():
    body = {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "side"}, {"name": "c"}]}}}}
    d = strategic_merge_patch(deploy(), body)
    assert [c["name"] for c in d["spec"]["template"]["spec"]["containers"]] == ["side", "c"]


@pytest.mark.parametrize("patch, check", [
    # env merged by name, new entries appended, null deletes a field inside an element
    ({"env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}]},
     lambda c: c["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "20"}, {"name": "C", "value": "3"}]),
    ({"env": [{"name": "A", "$patch": "delete"}]}, lambda c: c["env"] == [{"name": "B", "value": "2"}]),
    ({"env": [{"name": "Z", "value": "9"}, {"$patch": "replace"}]}, lambda c: c["env"] == [{"name": "Z", "value": "9"}]),
    ({"ports": [{"containerPort": 443}]}, lambda c: [p["containerPort"] for p in c["ports"]] == [80, 443]),
    ({"ports": None}, lambda c: "ports" not in c),
    ({"args": ["x"]}, lambda c: c["args"] == ["x"]),
    ({"image": None}, lambda c: "image" not in c),
])
def test_strategic_merge_list_semantics(patch, check):
    body = {"spec": {"template": {"spec": {"containers": [{"name": "c", **patch}]}}}}
    d = strategic_merge_patch(deploy(), body)
    assert check(d["spec"]["template"]["spec"]["containers"][0])


def test_strategic_merge_directives_on_maps_and_containers():
    d = strategic_merge_patch(deploy(), {"spec": {"template": {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}}}})
    assert [c["name"] for c in d["spec"]["template"]["spec"]["containers"]] == ["c"]
    d = strategic_merge_patch(deploy(), {"metadata": {"labels": {"$patch": "replace", "new": "x"}}})
    assert d["metadata"]["labels"] == {"new": "x"}
    d = strategic_merge_patch(deploy(), {"spec": {"selector": {"$patch": "delete"}}})
    assert "selector" not in d["spec"]


def test_strategic_merge_primitive_lists_and_retain_keys():
    obj = {"metadata": {"finalizers": ["a", "b"]}, "spec": {"tolerations": [{"key": "x"}],
           "volumes": [{"name": "v", "emptyDir": {}}]}}
    d = strategic_merge_patch(copy.deepcopy(obj), {"metadata": {"finalizers": ["c", "a"]}})
    assert d["metadata"]["finalizers"] == ["a", "b", "c"]          # merged as a set
    d = strategic_merge_patch(copy.deepcopy(obj), {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}})
    assert d["metadata"]["finalizers"] == ["b"]
    d = strategic_merge_patch(copy.deepcopy(obj), {"spec": {"tolerations": [{"key": "y"}]}})
    assert d["spec"]["tolerations"] == [{"key": "y"}]                # atomic: no merge key upstream
    d = strategic_merge_patch(copy.deepcopy(obj), {"spec": {"volumes": [
        {"name": "v", "$retainKeys": ["name", "hostPath"], "hostPath": {"path": "/x"}}]}})
    assert d["spec"]["volumes"] == [{"name": "v", "hostPath": {"path": "/x"}}]


def test_strategic_merge_conditions_by_type():
    obj = {"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "PodScheduled", "status": "True"}]}}
    d = strategic_merge_patch(obj, {"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    assert d["status"]["conditions"] == [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}]


def test_strategic_merge_missing_merge_key_is_bad_request():
    with pytest.raises(BadRequest, match="does not contain declared merge key: name"):
        strategic_merge_patch(deploy(), {"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}})


# --- decoding ---

def test_decode_patch_errors():
    with pytest.raises(BadRequest):
        decode_patch(b"{not json", MERGE_PATCH)
    with pytest.raises(BadRequest):
        decode_patch(b'{"op": "add"}', JSON_PATCH)
    with pytest.raises(UnsupportedMediaType):
        decode_patch(b"{}", "application/xml")
    assert decode_patch(b"apiVersion: v1\nkind: ConfigMap\n", APPLY_PATCH) == {"apiVersion": "v1", "kind": "ConfigMap"}
