"""Structural schemas (issue 14): upstream's structural check, validation messages, defaulting and
pruning (apiextensions-apiserver ``pkg/apiserver/schema``), and the CRD controllers' decisions."""

from __future__ import annotations

import pytest

from kubetui.api.customresource import schema as S
from kubetui.api.customresource.crd import set_defaults, validate_crd, version_priority
from kubetui.api.customresource.printer import eval_path, row
from kubetui.controllers.customresourcedefinition import desired_status

SPEC = {"type": "object", "properties": {
    "spec": {"type": "object", "required": ["a"], "properties": {
        "a": {"type": "string", "maxLength": 3},
        "n": {"type": "integer", "minimum": 1, "default": 2},
        "port": {"x-kubernetes-int-or-string": True},
        "list": {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "integer",
                                                                                    "default": 7}}}},
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "pod": {"type": "object", "x-kubernetes-embedded-resource": True, "properties": {}},
    }}}}


@pytest.mark.parametrize("obj, messages", [
    ({"spec": {"a": "ok"}}, []),
    ({"spec": {}}, ["spec.a: Required value"]),
    ({"spec": {"a": "long"}}, ["spec.a: Too long: may not be more than 3 bytes"]),
    ({"spec": {"a": 1}}, ['spec.a: Invalid value: "integer": spec.a in body must be of type string: "integer"']),
    ({"spec": {"a": "x", "n": 0}}, ["spec.n: Invalid value: 0: spec.n in body should be greater than or equal to 1"]),
    ({"spec": {"a": "x", "n": True}}, ['spec.n: Invalid value: "boolean": spec.n in body must be of type integer: '
                                       '"boolean"']),
    ({"spec": {"a": "x", "port": 80}}, []),
    ({"spec": {"a": "x", "port": "http"}}, []),
    ({"spec": {"a": "x", "port": 1.5}}, ['spec.port: Invalid value: "number": spec.port in body must be of type '
                                         'integer or string: "number"']),
    ({"spec": {"a": "x", "list": [{"x": "no"}]}}, ['spec.list[0].x: Invalid value: "string": spec.list[0].x in '
                                                   'body must be of type integer: "string"']),
    ({"spec": {"a": "x", "labels": {"k": 1}}}, ['spec.labels.k: Invalid value: "integer": spec.labels.k in body '
                                                'must be of type string: "integer"']),
    ({"spec": None}, ['spec: Invalid value: "null": spec in body must be of type object: "null"']),
])
def test_validation_messages(obj, messages):
    causes = S.validate(obj, SPEC)
    assert [f"{c['field']}: {c['message']}" for c in causes] == messages


def test_pruning_keeps_preserved_embedded_and_root_meta():
    obj = {"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "n"}, "junk": 1,
           "spec": {"a": "x", "b": 2, "free": {"any": {"deep": 1}}, "labels": {"k": "v"},
                    "list": [{"x": 1, "y": 2}], "pod": {"apiVersion": "v1", "kind": "Pod", "metadata": {}, "z": 1}}}
    S.prune(obj, SPEC)
    assert obj == {"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "n"},
                   "spec": {"a": "x", "free": {"any": {"deep": 1}}, "labels": {"k": "v"}, "list": [{"x": 1}],
                            "pod": {"apiVersion": "v1", "kind": "Pod", "metadata": {}}}}


def test_defaulting_fills_missing_fields_in_objects_and_list_items():
    obj = {"spec": {"a": "x", "list": [{}, {"x": 3}]}}
    S.default(obj, SPEC)
    assert obj == {"spec": {"a": "x", "n": 2, "list": [{"x": 7}, {"x": 3}]}}


@pytest.mark.parametrize("schema, messages", [
    ({"type": "object"}, []),
    ({}, ["s.type: Required value: must not be empty at the root"]),
    ({"type": "string"}, ['s.type: Invalid value: "string": must be object at the root']),
    ({"type": "object", "properties": {"a": {}}}, ["s.properties[a].type: Required value: must not be empty for "
                                                   "specified object fields"]),
    ({"type": "object", "properties": {"a": {"type": "array", "items": {}}}},
     ["s.properties[a].items.type: Required value: must not be empty for specified array items"]),
    ({"type": "object", "properties": {"a": {"type": "array"}}}, ["s.properties[a].items: Required value: must be "
                                                                  "specified"]),
    ({"type": "object", "properties": {"a": {"type": "strin"}}},
     ['s.properties[a].type: Unsupported value: "strin": supported values: "array", "boolean", "integer", '
      '"number", "object", "string"']),
    ({"type": "object", "properties": {"metadata": {"type": "object", "properties": {"labels": {"type": "object"}}}}},
     ["s.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but "
      "metadata is implicitly specified"]),
    ({"type": "object", "properties": {"a": {"x-kubernetes-preserve-unknown-fields": True}}}, []),
])
def test_structural_errors(schema, messages):
    assert [f"{c['field']}: {c['message']}" for c in S.structural_errors(schema, "s")] == messages


def crd(**spec):
    base = {"group": "stable.example.com", "scope": "Namespaced",
            "names": {"plural": "crontabs", "kind": "CronTab"},
            "versions": [{"name": "v1", "served": True, "storage": True,
                          "schema": {"openAPIV3Schema": {"type": "object"}}}]}
    base.update(spec)
    obj = {"metadata": {"name": "crontabs.stable.example.com"}, "spec": base}
    set_defaults(obj)
    return obj


def test_crd_defaults_and_validation():
    c = crd()
    assert c["spec"]["names"] == {"plural": "crontabs", "kind": "CronTab", "singular": "crontab",
                                  "listKind": "CronTabList"}
    assert c["spec"]["conversion"] == {"strategy": "None"}
    assert validate_crd(c) == []
    c = crd(group="example", scope="Global")
    msgs = [f"{e['field']}: {e['message']}" for e in validate_crd(c)]
    assert 'metadata.name: Invalid value: "crontabs.stable.example.com": must be spec.names.plural+"."+spec.group' in msgs
    assert 'spec.group: Invalid value: "example": should be a domain with at least one dot' in msgs
    assert 'spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"' in msgs


def test_version_priority_orders_as_kubernetes():
    names = ["v1alpha1", "foo", "v2", "v1beta2", "v1", "v10", "v1beta1", "v11alpha2"]
    assert sorted(names, key=version_priority) == ["v10", "v2", "v1", "v1beta2", "v1beta1", "v11alpha2",
                                                   "v1alpha1", "foo"]


def test_printer_columns_and_jsonpath():
    obj = {"metadata": {"name": "a", "labels": {"app": "x"}}, "spec": {"r": 3, "c": [{"t": "ok"}]}}
    assert eval_path(obj, ".spec.c[0].t") == "ok" and eval_path(obj, ".metadata.labels['app']") == "x"
    version = {"additionalPrinterColumns": [{"name": "R", "type": "integer", "jsonPath": ".spec.r"},
                                            {"name": "Missing", "type": "string", "jsonPath": ".spec.nope"}]}
    assert row(version, obj, 0) == ["a", 3, None]


def test_desired_status_accepts_names_then_establishes_and_reports_conflicts():
    now = "2026-01-01T00:00:00Z"
    a = crd()
    st = desired_status(a, [], now)
    assert st["acceptedNames"]["plural"] == "crontabs"
    assert [(c["type"], c["status"], c["reason"]) for c in st["conditions"]] == [
        ("NamesAccepted", "True", "NoConflicts"), ("Established", "True", "InitialNamesAccepted")]
    assert desired_status(dict(a, status=st), [], "later") == st  # idempotent, transition times kept
    b = crd(names={"plural": "crontabz", "singular": "crontabz", "kind": "CronTab"})
    b["metadata"]["name"] = "crontabz.stable.example.com"
    st_b = desired_status(b, [dict(a, status=st)], now)
    assert [(c["type"], c["status"], c["reason"], c["message"]) for c in st_b["conditions"]] == [
        ("NamesAccepted", "False", "KindConflict", '"CronTab" is already in use'),
        ("Established", "False", "NotAccepted", "not all names are accepted")]
