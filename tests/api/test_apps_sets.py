"""DaemonSet, StatefulSet and ControllerRevision: defaulting, validation and printing as upstream.

Cases from pkg/apis/apps/v1/defaults_test.go, pkg/apis/apps/validation/validation_test.go
and pkg/printers/internalversion/printers_test.go.
"""

from __future__ import annotations

import copy

import pytest

from kubetui.api.defaults import apply_defaults
from kubetui.api.printers import printer_for
from kubetui.api.resources import resource_for
from kubetui.api.validation import validate


def template(labels=None):
    return {"metadata": {"labels": labels or {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}


def daemon_set(**spec):
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template(), **spec}}


def stateful_set(**spec):
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"serviceName": "web", "selector": {"matchLabels": {"app": "web"}}, "template": template(),
                     **spec}}


def defaulted(kind, obj):
    apply_defaults(resource_for(kind), obj)
    return obj


def causes(kind, obj, old=None, subresource=None):
    return [(c["field"], c["message"]) for c in validate(resource_for(kind), obj, old, subresource=subresource)]


def test_daemon_set_defaults():
    spec = defaulted("ds", daemon_set())["spec"]
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert spec["revisionHistoryLimit"] == 10
    assert spec["template"]["spec"]["restartPolicy"] == "Always"
    spec = defaulted("ds", daemon_set(updateStrategy={"type": "OnDelete"}))["spec"]
    assert spec["updateStrategy"] == {"type": "OnDelete"}


def test_stateful_set_defaults():
    sts = stateful_set(volumeClaimTemplates=[{"metadata": {"name": "www"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}])
    spec = defaulted("sts", sts)["spec"]
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert spec["replicas"] == 1 and spec["revisionHistoryLimit"] == 10
    claim = spec["volumeClaimTemplates"][0]
    assert claim["apiVersion"] == "v1" and claim["kind"] == "PersistentVolumeClaim"
    assert claim["spec"]["volumeMode"] == "Filesystem" and claim["status"] == {"phase": "Pending"}
    # OnDelete given: no rollingUpdate is invented; a user's values are kept.
    spec = defaulted("sts", stateful_set(updateStrategy={"type": "OnDelete"}, podManagementPolicy="Parallel",
                                         replicas=3))["spec"]
    assert spec["updateStrategy"] == {"type": "OnDelete"}
    assert spec["podManagementPolicy"] == "Parallel" and spec["replicas"] == 3


def test_valid_objects_have_no_causes():
    assert causes("ds", defaulted("ds", daemon_set())) == []
    sts = stateful_set(volumeClaimTemplates=[{"metadata": {"name": "www"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}])
    sts["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = [{"name": "www", "mountPath": "/data"}]
    assert causes("sts", defaulted("sts", sts)) == []


def test_stateful_set_selector_must_match_template():
    sts = defaulted("sts", stateful_set(template=template({"app": "other"})))
    assert causes("sts", sts) == [("spec.template.metadata.labels",
                                   'Invalid value: map[string]string{"app":"other"}: '
                                   "`selector` does not match template `labels`")]


@pytest.mark.parametrize("change, expected", [
    ({"podManagementPolicy": "Random"},
     ("spec.podManagementPolicy", 'Invalid value: "Random": must be \'OrderedReady\' or \'Parallel\'')),
    ({"replicas": -1}, ("spec.replicas", "Invalid value: -1: must be greater than or equal to 0")),
    ({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": -1}}},
     ("spec.updateStrategy.rollingUpdate.partition", "Invalid value: -1: must be greater than or equal to 0")),
    ({"updateStrategy": {"type": "OnDelete", "rollingUpdate": {"partition": 1}}},
     ("spec.updateStrategy.rollingUpdate", 'Invalid value: {"partition":1}: only allowed for updateStrategy '
                                           "'RollingUpdate'")),
    ({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}}},
     ("spec.updateStrategy.rollingUpdate.maxUnavailable", "Invalid value: 0: cannot be 0")),
    ({"persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Keep", "whenScaled": "Retain"}},
     ("spec.persistentVolumeClaimRetentionPolicy.whenDeleted",
      'Unsupported value: "Keep": supported values: "Retain", "Delete"')),
    ({"selector": {}}, ("spec.selector", "Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
                                         "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: "
                                         "empty selector is invalid for statefulset")),
])
def test_stateful_set_invalid(change, expected):
    sts = defaulted("sts", stateful_set())
    sts["spec"].update(change)
    assert expected in causes("sts", sts)


def test_stateful_set_template_rules():
    sts = defaulted("sts", stateful_set())
    sts["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    sts["spec"]["template"]["spec"]["activeDeadlineSeconds"] = 5
    got = causes("sts", sts)
    assert ("spec.template.spec.restartPolicy", 'Unsupported value: "Never": supported values: "Always"') in got
    assert ("spec.template.spec.activeDeadlineSeconds",
            "Forbidden: activeDeadlineSeconds in StatefulSet is not Supported") in got


def test_stateful_set_update_only_some_fields():
    old = defaulted("sts", stateful_set())
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 5
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    new["spec"]["updateStrategy"] = {"type": "OnDelete"}
    assert causes("sts", new, old) == []
    new["spec"]["serviceName"] = "other"
    assert causes("sts", new, old) == [("spec", "Forbidden: updates to statefulset spec for fields other than "
                                                "'replicas', 'ordinals', 'template', 'updateStrategy', "
                                                "'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' "
                                                "and 'minReadySeconds' are forbidden")]


def test_stateful_set_status():
    sts = defaulted("sts", stateful_set())
    sts["status"] = {"replicas": 1, "readyReplicas": 2, "availableReplicas": 2}
    assert ("status.readyReplicas", "Invalid value: 2: cannot be greater than status.replicas") in causes(
        "sts", sts, sts, "status")


@pytest.mark.parametrize("rolling, expected", [
    ({"maxUnavailable": 1, "maxSurge": 1},
     ("spec.updateStrategy.rollingUpdate.maxSurge", "Invalid value: 1: may not be set when maxUnavailable is "
                                                    "non-zero")),
    ({"maxUnavailable": 0, "maxSurge": 0},
     ("spec.updateStrategy.rollingUpdate.maxUnavailable", "Required value: cannot be 0 when maxSurge is 0")),
    ({"maxUnavailable": "150%", "maxSurge": 0},
     ("spec.updateStrategy.rollingUpdate.maxUnavailable", 'Invalid value: "150%": must not be greater than 100%')),
])
def test_daemon_set_rolling_update_invalid(rolling, expected):
    ds = defaulted("ds", daemon_set(updateStrategy={"type": "RollingUpdate", "rollingUpdate": rolling}))
    assert expected in causes("ds", ds)


def test_daemon_set_invalid_strategy_template_and_selector_update():
    ds = defaulted("ds", daemon_set(updateStrategy={"type": "Sometimes"}))
    ds["spec"]["template"]["spec"]["activeDeadlineSeconds"] = 5
    got = causes("ds", ds)
    assert ("spec.updateStrategy", 'Unsupported value: "Sometimes": supported values: "RollingUpdate", '
                                   '"OnDelete"') in got
    assert ("spec.template.spec.activeDeadlineSeconds",
            "Forbidden: activeDeadlineSeconds in DaemonSet is not Supported") in got
    old = defaulted("ds", daemon_set())
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "web", "x": "y"}}
    new["spec"]["template"]["metadata"]["labels"]["x"] = "y"
    assert [f for f, m in causes("ds", new, old)] == ["spec.selector"]
    ds = defaulted("ds", daemon_set(template=template({"app": "db"})))
    assert [f for f, _ in causes("ds", ds)] == ["spec.template.metadata.labels"]


def test_controller_revision():
    cr = {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": {"name": "web-5d9", "namespace": "default"},
          "revision": 1}
    assert causes("controllerrevisions", cr) == [("data", "Required value: data is mandatory")]
    cr["data"] = {"spec": {}}
    assert causes("controllerrevisions", cr) == []
    new = copy.deepcopy(cr)
    new["data"] = {"spec": {"x": 1}}
    assert [f for f, _ in causes("controllerrevisions", new, cr)] == ["data"]


def test_printers():
    ds = defaulted("ds", daemon_set())
    ds["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    ds["spec"]["template"]["spec"]["nodeSelector"] = {"disk": "ssd"}
    ds["status"] = {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                    "updatedNumberScheduled": 1, "numberAvailable": 2}
    p = printer_for("daemonsets.apps")
    assert [c["name"] for c in p.columns if c["priority"] == 0] == [
        "Name", "Desired", "Current", "Ready", "Up-to-date", "Available", "Node Selector", "Age"]
    assert p.row(ds, 0)[:7] == ["agent", 3, 3, 2, 1, 2, "disk=ssd"]
    sts = defaulted("sts", stateful_set(replicas=3))
    sts["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    sts["status"] = {"readyReplicas": 2}
    p = printer_for("statefulsets.apps")
    assert [c["name"] for c in p.columns if c["priority"] == 0] == ["Name", "Ready", "Age"]
    assert p.row(sts, 0)[:2] == ["web", "2/3"]
    cr = {"metadata": {"name": "web-5d9", "creationTimestamp": "2026-01-01T00:00:00Z", "ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "u", "controller": True}]},
        "revision": 2}
    p = printer_for("controllerrevisions.apps")
    assert [c["name"] for c in p.columns] == ["Name", "Controller", "Revision", "Age"]
    assert p.row(cr, 0)[:3] == ["web-5d9", "statefulset.apps/web", 2]
