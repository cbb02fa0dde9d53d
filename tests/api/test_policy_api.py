"""The policy kinds' pure API parts: defaults, validation messages, Table rows (upstream's cases)."""

import pytest

from kubetui.api.defaults import apply_defaults
from kubetui.api.printers import printer_for
from kubetui.api.resources import resource_for
from kubetui.api.validation import validate


def causes(plural, obj, old=None, subresource=None):
    return [(c["field"], c["message"]) for c in validate(resource_for(plural), obj, old, subresource=subresource)]


def rc(**spec):
    return {"metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": 1, "selector": {"app": "web"},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}, **spec}}


def test_replication_controller_defaults_selector_and_labels_from_template():
    obj = rc()
    del obj["spec"]["selector"], obj["spec"]["replicas"]
    apply_defaults(resource_for("rc"), obj)
    assert obj["spec"]["selector"] == {"app": "web"} and obj["metadata"]["labels"] == {"app": "web"}
    assert obj["spec"]["replicas"] == 1
    assert obj["spec"]["template"]["spec"]["restartPolicy"] == "Always"


@pytest.mark.parametrize("spec,want", [
    ({"replicas": -1}, ("spec.replicas", "Invalid value: -1: must be greater than or equal to 0")),
    ({"selector": {"app": "other"}}, ("spec.template.metadata.labels",
                                      'Invalid value: map[string]string{"app":"web"}: selector does not match '
                                      'labels in spec.template')),
    ({"selector": {}}, ("spec.selector", "Required value")),
])
def test_replication_controller_validation(spec, want):
    assert want in causes("replicationcontrollers", rc(**spec))


def lr(*items):
    return {"metadata": {"name": "lr", "namespace": "default"}, "spec": {"limits": list(items)}}


def test_limit_range_defaults_follow_upstream_order():
    """default <- max, then defaultRequest <- default, then defaultRequest <- min (SetDefaults_LimitRangeItem)."""
    obj = lr({"type": "Container", "max": {"cpu": "1", "memory": "1Gi"}, "min": {"memory": "100Mi"},
              "default": {"memory": "512Mi"}}, {"type": "Pod", "max": {"cpu": "2"}})
    apply_defaults(resource_for("limitranges"), obj)
    container, pod = obj["spec"]["limits"]
    assert container["default"] == {"cpu": "1", "memory": "512Mi"}
    assert container["defaultRequest"] == {"cpu": "1", "memory": "512Mi"}
    assert "default" not in pod and "defaultRequest" not in pod


@pytest.mark.parametrize("item,want", [
    ({"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}},
     ("spec.limits[0].min[cpu]", 'Invalid value: "2": min value 2 is greater than max value 1')),
    ({"type": "Container", "default": {"cpu": "2"}, "max": {"cpu": "1"}},
     ("spec.limits[0].default[cpu]", 'Invalid value: "1": default value 2 is greater than max value 1')),
    ({"type": "Container", "defaultRequest": {"cpu": "500m"}, "default": {"cpu": "200m"}},
     ("spec.limits[0].defaultRequest[cpu]",
      'Invalid value: "500m": default request value 500m is greater than default limit value 200m')),
    ({"type": "Container", "maxLimitRequestRatio": {"cpu": "500m"}},
     ("spec.limits[0].maxLimitRequestRatio[cpu]", 'Invalid value: "500m": ratio 500m is less than 1')),
    ({"type": "Pod", "default": {"cpu": "1"}},
     ("spec.limits[0].default", "Forbidden: may not be specified when `type` is 'Pod'")),
    ({"type": "Widget"}, ("spec.limits[0].type",
                          'Invalid value: "Widget": must be a standard limit type or fully qualified')),
])
def test_limit_range_validation(item, want):
    assert want in causes("limitranges", lr(item))


def quota(hard=None, scopes=None):
    return {"metadata": {"name": "q", "namespace": "default"},
            "spec": {"hard": hard or {"pods": "2"}, **({"scopes": scopes} if scopes else {})}}


@pytest.mark.parametrize("obj,want", [
    (quota({"cpu": "-1"}), ("spec.hard[cpu]", 'Invalid value: "-1": must be greater than or equal to 0')),
    (quota(scopes=["Bogus"]), ("spec.scopes", "Invalid value: [Bogus]: unsupported scope")),
    (quota(scopes=["Terminating", "NotTerminating"]),
     ("spec.scopes", "Invalid value: [Terminating NotTerminating]: conflicting scopes")),
    (quota({"cpu": "1"}, scopes=["BestEffort"]),
     ("spec.hard[cpu]", 'Invalid value: "cpu": unsupported scope applied to resource')),
])
def test_resource_quota_validation(obj, want):
    assert want in causes("resourcequotas", obj)


def pdb(**spec):
    return {"metadata": {"name": "p", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec}}


def test_pdb_validation():
    assert ("spec.minAvailable", 'Invalid value: "120%": must not be greater than 100%') in causes(
        "pdb", pdb(minAvailable="120%"))
    both = causes("pdb", pdb(minAvailable=1, maxUnavailable=1))
    assert any(f == "spec" and m.endswith("minAvailable and maxUnavailable cannot be both set") for f, m in both)
    assert ("spec.unhealthyPodEvictionPolicy",
            'Unsupported value: "Sometimes": supported values: "AlwaysAllow", "IfHealthyBudget"') in causes(
        "pdb", pdb(unhealthyPodEvictionPolicy="Sometimes"))
    assert causes("pdb", pdb(maxUnavailable="25%")) == []


def test_priority_class_validation():
    pc = {"metadata": {"name": "high"}, "value": 2_000_000_000}
    assert ("value", "Forbidden: maximum allowed value of a user defined priority is 1000000000") in causes(
        "priorityclasses", pc)
    sys = {"metadata": {"name": "system-foo"}, "value": 10}
    assert ("metadata.name", "Forbidden: priority class names with 'system-' prefix are reserved for system use "
                             "only. error: system-foo is not a known system priority class") in causes(
        "priorityclasses", sys)
    old = {"metadata": {"name": "high", "resourceVersion": "1"}, "value": 10, "preemptionPolicy": "Never"}
    new = {"metadata": {"name": "high", "resourceVersion": "1"}, "value": 11, "preemptionPolicy": "Never"}
    assert ("value", "Forbidden: may not be changed in an update.") in causes("priorityclasses", new, old)


def row(plural, obj):
    return printer_for(resource_for(plural).group_resource).row(obj, 0.0)


def test_printers():
    """Upstream's printResourceQuota / printPodDisruptionBudget / printPriorityClass / printPodTemplate cells."""
    q = {"metadata": {"name": "q"}, "status": {"hard": {"limits.cpu": "2", "pods": "4", "requests.memory": "1Gi"},
                                               "used": {"limits.cpu": "500m", "pods": "1"}}}
    assert row("resourcequotas", q)[:3] == ["q", "pods: 1/4, requests.memory: 0/1Gi", "limits.cpu: 500m/2"]
    assert row("pdb", pdb(minAvailable=2))[:4] == ["p", "2", "N/A", 0]
    assert row("pdb", {**pdb(maxUnavailable="50%"), "status": {"disruptionsAllowed": 1}})[:4] == [
        "p", "N/A", "50%", 1]
    assert row("priorityclasses", {"metadata": {"name": "high"}, "value": 1000, "preemptionPolicy": "Never"}) == [
        "high", 1000, False, "<unknown>", "Never"]
    pt = {"metadata": {"name": "t"}, "template": {"metadata": {"labels": {"app": "web"}},
                                                   "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
    assert row("podtemplates", pt) == ["t", "c", "nginx", "app=web"]
    assert row("rc", rc())[:4] == ["web", 1, 0, 0] and row("rc", rc())[-1] == "app=web"
