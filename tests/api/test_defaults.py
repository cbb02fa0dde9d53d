"""Defaulting, as kube-apiserver's defaulters fill objects (pkg/apis/*/v1/defaults.go)."""

from __future__ import annotations

import pytest

from kubetui.api.defaults import apply_defaults, image_pull_policy, qos_class
from kubetui.api.resources import resource_for


def _pod(**container):
    return {"metadata": {"name": "web", "namespace": "default"},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27", **container}]}}


def test_pod_spec_defaults():
    pod = _pod(ports=[{"containerPort": 80}],
               livenessProbe={"httpGet": {"port": 80}}, readinessProbe={"tcpSocket": {"port": 80}})
    apply_defaults(resource_for("pods"), pod)
    spec = pod["spec"]
    assert spec["restartPolicy"] == "Always"
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["schedulerName"] == "default-scheduler"
    assert spec["securityContext"] == {}
    assert spec["enableServiceLinks"] is True
    c = spec["containers"][0]
    assert c["terminationMessagePath"] == "/dev/termination-log"
    assert c["terminationMessagePolicy"] == "File"
    assert c["imagePullPolicy"] == "IfNotPresent"
    assert c["ports"][0]["protocol"] == "TCP"
    for probe in (c["livenessProbe"], c["readinessProbe"]):
        assert (probe["periodSeconds"], probe["timeoutSeconds"], probe["successThreshold"],
                probe["failureThreshold"]) == (10, 1, 1, 3)
    assert c["livenessProbe"]["httpGet"] == {"port": 80, "path": "/", "scheme": "HTTP"}
    assert pod["status"]["phase"] == "Pending"
    assert pod["status"]["qosClass"] == "BestEffort"


def test_defaults_never_overwrite_user_values():
    pod = _pod(imagePullPolicy="Never", livenessProbe={"exec": {"command": ["true"]}, "periodSeconds": 3})
    pod["spec"]["restartPolicy"] = "Never"
    apply_defaults(resource_for("pods"), pod)
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == "Never"
    assert pod["spec"]["containers"][0]["livenessProbe"]["periodSeconds"] == 3


@pytest.mark.parametrize("image, policy", [
    ("nginx", "Always"), ("nginx:latest", "Always"), ("nginx:1.27", "IfNotPresent"),
    ("localhost:5000/app", "Always"), ("localhost:5000/app:v2", "IfNotPresent"),
    ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
])
def test_image_pull_policy(image, policy):
    assert image_pull_policy(image) == policy


def test_pod_requests_default_to_limits_and_qos():
    pod = _pod(resources={"limits": {"cpu": "500m", "memory": "128Mi"}})
    apply_defaults(resource_for("pods"), pod)
    assert pod["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "500m", "memory": "128Mi"}
    assert pod["status"]["qosClass"] == "Guaranteed"


@pytest.mark.parametrize("resources, qos", [
    ({}, "BestEffort"),
    ({"requests": {"cpu": "100m"}}, "Burstable"),
    ({"limits": {"cpu": "1", "memory": "1Gi"}}, "Guaranteed"),
    ({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}, "Burstable"),
    ({"limits": {"cpu": "1000m", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1024Mi"}}, "Guaranteed"),
])
def test_qos_class(resources, qos):
    assert qos_class({"containers": [{"name": "c", "resources": resources}]}) == qos


def test_volume_defaults():
    pod = _pod()
    pod["spec"]["volumes"] = [{"name": "scratch"}, {"name": "cfg", "configMap": {"name": "c"}}]
    apply_defaults(resource_for("pods"), pod)
    assert pod["spec"]["volumes"][0] == {"name": "scratch", "emptyDir": {}}
    assert pod["spec"]["volumes"][1]["configMap"]["defaultMode"] == 420


def test_service_defaults():
    svc = {"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}
    apply_defaults(resource_for("services"), svc)
    spec = svc["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["sessionAffinity"] == "None"
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    assert spec["ipFamilies"] == ["IPv4"] and spec["ipFamilyPolicy"] == "SingleStack"
    assert spec["internalTrafficPolicy"] == "Cluster"
    assert "externalTrafficPolicy" not in spec


def test_nodeport_service_defaults():
    svc = {"metadata": {"name": "web"}, "spec": {"type": "NodePort", "ports": [{"port": 80, "targetPort": "http"}]}}
    apply_defaults(resource_for("services"), svc)
    assert svc["spec"]["externalTrafficPolicy"] == "Cluster"
    assert svc["spec"]["ports"][0]["targetPort"] == "http"


def test_deployment_defaults_reach_the_template():
    d = {"metadata": {"name": "web"}, "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
        "metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}
    apply_defaults(resource_for("deployments"), d)
    spec = d["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    tspec = spec["template"]["spec"]
    assert tspec["restartPolicy"] == "Always" and tspec["dnsPolicy"] == "ClusterFirst"
    assert tspec["containers"][0]["imagePullPolicy"] == "Always"
    # Pod-only defaults (enableServiceLinks, status) are not applied to templates.
    assert "enableServiceLinks" not in tspec and "status" not in spec["template"]


def test_recreate_strategy_gets_no_rolling_update():
    d = {"spec": {"strategy": {"type": "Recreate"}, "template": {"spec": {"containers": []}}}}
    apply_defaults(resource_for("deployments"), d)
    assert d["spec"]["strategy"] == {"type": "Recreate"}


@pytest.mark.parametrize("kind, obj, path, value", [
    ("replicasets", {"spec": {}}, ("spec", "replicas"), 1),
    ("secrets", {}, ("type",), "Opaque"),
    ("namespaces", {"metadata": {"name": "team"}}, ("spec", "finalizers"), ["kubernetes"]),
    ("namespaces", {"metadata": {"name": "team"}}, ("metadata", "labels", "kubernetes.io/metadata.name"), "team"),
    ("namespaces", {"metadata": {"name": "team"}}, ("status", "phase"), "Active"),
    ("persistentvolumeclaims", {"spec": {}}, ("spec", "volumeMode"), "Filesystem"),
    ("persistentvolumes", {"spec": {}}, ("spec", "persistentVolumeReclaimPolicy"), "Retain"),
    ("storageclasses", {"provisioner": "x"}, ("reclaimPolicy",), "Delete"),
    ("storageclasses", {"provisioner": "x"}, ("volumeBindingMode",), "Immediate"),
    ("endpointslices", {"ports": [{"port": 80}]}, ("ports", 0, "protocol"), "TCP"),
    ("endpoints", {"subsets": [{"ports": [{"port": 80}]}]}, ("subsets", 0, "ports", 0, "protocol"), "TCP"),
    ("nodes", {"status": {"capacity": {"cpu": "2"}}}, ("status", "allocatable"), {"cpu": "2"}),
])
def test_other_defaults(kind, obj, path, value):
    apply_defaults(resource_for(kind), obj)
    for p in path:
        obj = obj[p]
    assert obj == value


def test_unknown_kinds_and_malformed_objects_are_left_alone():
    cm = {"data": {"a": "b"}}
    apply_defaults(resource_for("configmaps"), cm)
    assert cm == {"data": {"a": "b"}}
    weird = {"spec": {"containers": "not-a-list"}}
    apply_defaults(resource_for("pods"), weird)  # must not raise
    assert weird["spec"]["containers"] == "not-a-list"


def test_secret_string_data_is_folded_into_data():
    secret = {"data": {"a": "eA==", "b": "eQ=="}, "stringData": {"b": "new", "c": "hello"}}
    apply_defaults(resource_for("secrets"), secret)
    assert "stringData" not in secret
    assert secret["data"] == {"a": "eA==", "b": "bmV3", "c": "aGVsbG8="}
