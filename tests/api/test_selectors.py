"""Label and field selectors, table-tested against upstream's grammar and wording."""

import pytest

from kubetui.api.errors import BadRequest
from kubetui.api.selectors import (
    label_selector_from_dict,
    parse_field_selector,
    parse_label_selector,
    selector_from_set,
    selector_to_string,
)

LABELS = {"app": "web", "tier": "front", "version": "3"}


@pytest.mark.parametrize("selector, labels, want", [
    ("", LABELS, True),
    ("app=web", LABELS, True),
    ("app==web", LABELS, True),
    ("app=db", LABELS, False),
    ("app!=db", LABELS, True),
    ("missing!=x", LABELS, True),          # absent label is "not equal"
    ("app in (web,db)", LABELS, True),
    ("app in (db)", LABELS, False),
    ("app notin (db,cache)", LABELS, True),
    ("app notin (web)", LABELS, False),
    ("missing notin (a)", LABELS, True),
    ("tier", LABELS, True),
    ("canary", LABELS, False),
    ("!canary", LABELS, True),
    ("!app", LABELS, False),
    ("app=web,tier=front", LABELS, True),
    ("app=web,tier=back", LABELS, False),
    ("app=web, tier in (front, back), !canary", LABELS, True),
    ("version>2", LABELS, True),
    ("version<2", LABELS, False),
    ("app=", {"app": ""}, True),
    ("example.com/role=db", {"example.com/role": "db"}, True),
    ("app=web", None, False),
])
def test_label_selector_matches(selector, labels, want):
    assert parse_label_selector(selector).matches(labels) is want


@pytest.mark.parametrize("selector, message", [
    ("app in web", "unable to parse requirement: found 'web', expected: '('"),
    ("app=web=x", "unable to parse requirement: found '=', expected: ',' or 'end of string'"),
    (",app", "unable to parse requirement: found ',', expected: identifier"),
    ("app in ()", "for 'in', 'notin' operators, values set can't be empty"),
    ("a@b=c", 'unable to parse requirement: key: Invalid value: "a@b": name part must consist'),
    ("app=b@d", 'unable to parse requirement: values[0][app]: Invalid value: "b@d": a valid label'),
    ("!app=web", "unable to parse requirement: found '=', expected: ',' or 'end of string'"),
])
def test_label_selector_errors_are_bad_requests(selector, message):
    with pytest.raises(BadRequest) as e:
        parse_label_selector(selector)
    assert e.value.code == 400
    assert message in e.value.message


@pytest.mark.parametrize("sel, string", [
    ({"matchLabels": {"app": "web"}}, "app=web"),
    ({"matchLabels": {"tier": "a", "app": "web"}}, "app=web,tier=a"),   # sorted by key, as upstream
    ({"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]}]}, "env in (dev,prod)"),
    ({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["a"]}]}, "env notin (a)"),
    ({"matchExpressions": [{"key": "env", "operator": "Exists"}]}, "env"),
    ({"matchExpressions": [{"key": "env", "operator": "DoesNotExist"}]}, "!env"),
    ({}, ""),
])
def test_label_selector_from_dict_to_string(sel, string):
    assert selector_to_string(sel) == string
    assert str(parse_label_selector(string)) == string  # round-trips


def test_label_selector_dict_semantics():
    assert label_selector_from_dict({}).matches({"x": "y"})       # empty selects everything
    assert not label_selector_from_dict(None).matches({"x": "y"})  # nil selects nothing
    sel = label_selector_from_dict({"matchLabels": {"app": "web"},
                                    "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]}]})
    assert sel.matches(LABELS)
    assert not sel.matches({"app": "web"})
    with pytest.raises(BadRequest, match='"Maybe" is not a valid label selector operator'):
        label_selector_from_dict({"matchExpressions": [{"key": "a", "operator": "Maybe"}]})
    assert selector_from_set({"app": "web"}).matches(LABELS)


POD = {"metadata": {"name": "web", "namespace": "default"},
       "spec": {"nodeName": "node-1", "schedulerName": "default-scheduler"},
       "status": {"phase": "Running", "podIP": "10.244.1.5"}}
EVENT = {"metadata": {"name": "web.1", "namespace": "default"},
         "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default", "uid": "u1"},
         "reason": "Scheduled", "type": "Normal", "source": {"component": "default-scheduler"}}


@pytest.mark.parametrize("kind, obj, selector, want", [
    ("Pod", POD, "metadata.name=web", True),
    ("Pod", POD, "metadata.name==web", True),
    ("Pod", POD, "metadata.name!=web", False),
    ("Pod", POD, "metadata.namespace=default", True),
    ("Pod", POD, "spec.nodeName=node-1", True),
    ("Pod", POD, "spec.nodeName=", False),
    ("Pod", {"spec": {}}, "spec.nodeName=", True),                  # unscheduled pods
    ("Pod", POD, "spec.nodeName=node-1,status.phase!=Succeeded,status.phase!=Failed", True),
    ("Pod", POD, "status.phase=Running,status.podIP=10.244.1.5", True),
    ("Pod", POD, "spec.schedulerName=default-scheduler", True),
    ("Event", EVENT, "involvedObject.uid=u1,involvedObject.name=web,involvedObject.namespace=default", True),
    ("Event", EVENT, "involvedObject.kind=Node", False),
    ("Event", EVENT, "reason=Scheduled,type=Normal,source=default-scheduler", True),
    ("Node", {"spec": {"unschedulable": True}}, "spec.unschedulable=true", True),
    ("Node", {"spec": {}}, "spec.unschedulable=false", True),
    ("Secret", {"type": "Opaque"}, "type=Opaque", True),
    ("ConfigMap", {"metadata": {"name": "a,b"}}, r"metadata.name=a\,b", True),
])
def test_field_selector_matches(kind, obj, selector, want):
    assert parse_field_selector(selector, kind).matches(obj) is want


@pytest.mark.parametrize("kind, selector, message", [
    ("Pod", "spec.foo=bar", "field label not supported: spec.foo"),
    ("ConfigMap", "spec.nodeName=x", "field label not supported: spec.nodeName"),
    ("Pod", "metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"),
])
def test_field_selector_errors(kind, selector, message):
    with pytest.raises(BadRequest) as e:
        parse_field_selector(selector, kind)
    assert e.value.message == message


def test_field_selector_value_for_and_string():
    sel = parse_field_selector("metadata.name=web,status.phase!=Failed", "Pod")
    assert sel.value_for("metadata.name") == "web"
    assert sel.value_for("status.phase") is None
    assert str(sel) == "metadata.name=web,status.phase!=Failed"
    assert parse_field_selector("", "Pod").empty()
