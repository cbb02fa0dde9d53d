"""autoscaling/v1 <-> v2 conversion (pure): upstream's round-trip annotations and the implicit 80% CPU target."""

from __future__ import annotations

import copy
import json

from kubetui.api import autoscaling as a

FULL = {
    "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "web", "namespace": "default", "annotations": {"team": "blue"}},
    "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": 2, "maxReplicas": 10,
        "metrics": [
            {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue",
                                                                           "averageValue": "10"}}},
            {"type": "Object", "object": {"describedObject": {"apiVersion": "v1", "kind": "Service", "name": "s"},
                                          "metric": {"name": "rps"}, "target": {"type": "Value", "value": "2k"}}},
            {"type": "External", "external": {"metric": {"name": "queue", "selector": {"matchLabels": {"q": "a"}}},
                                              "target": {"type": "AverageValue", "averageValue": "30"}}},
            {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue",
                                                                           "averageValue": "100Mi"}}},
            {"type": "ContainerResource", "containerResource": {"name": "cpu", "container": "app", "target": {
                "type": "Utilization", "averageUtilization": 60}}},
            {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                        "averageUtilization": 50}}},
        ],
        "behavior": {"scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                                 "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}]},
                     "scaleDown": {"stabilizationWindowSeconds": 300, "selectPolicy": "Min",
                                   "policies": [{"type": "Percent", "value": 10, "periodSeconds": 60}]}},
    },
    "status": {
        "currentReplicas": 3, "desiredReplicas": 4, "lastScaleTime": "2026-01-01T00:00:00Z",
        "currentMetrics": [
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 73,
                                                                          "averageValue": "146m"}}},
            {"type": "Pods", "pods": {"metric": {"name": "qps"}, "current": {"averageValue": "12"}}},
        ],
        "conditions": [{"type": "AbleToScale", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z",
                        "reason": "ReadyForNewScale", "message": "recommended size matches current size"}],
    },
}


def test_v2_to_v1_keeps_the_cpu_target_in_spec_and_the_rest_in_annotations():
    v1 = a.v2_to_v1(copy.deepcopy(FULL))
    assert v1["apiVersion"] == "autoscaling/v1"
    assert v1["spec"] == {"scaleTargetRef": FULL["spec"]["scaleTargetRef"], "minReplicas": 2, "maxReplicas": 10,
                          "targetCPUUtilizationPercentage": 50}
    assert v1["status"]["currentCPUUtilizationPercentage"] == 73
    ann = v1["metadata"]["annotations"]
    assert ann["team"] == "blue"
    other = json.loads(ann[a.METRIC_SPECS_ANNOTATION])
    assert other[0] == {"type": "Pods", "pods": {"metricName": "qps", "targetAverageValue": "10"}}
    assert other[3] == {"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "100Mi"}}
    assert json.loads(ann[a.BEHAVIOR_ANNOTATION])["ScaleDown"] == {
        "StabilizationWindowSeconds": 300, "SelectPolicy": "Min",
        "Policies": [{"Type": "Percent", "Value": 10, "PeriodSeconds": 60}]}
    assert json.loads(ann[a.CONDITIONS_ANNOTATION])[0]["reason"] == "ReadyForNewScale"
    assert json.loads(ann[a.METRIC_STATUSES_ANNOTATION])[0] == {
        "type": "Resource", "resource": {"name": "cpu", "currentAverageUtilization": 73,
                                         "currentAverageValue": "146m"}}


def test_round_trip_through_v1_loses_nothing():
    back = a.v1_to_v2(a.v2_to_v1(copy.deepcopy(FULL)))
    assert back["metadata"] == FULL["metadata"]
    assert back["spec"]["behavior"] == FULL["spec"]["behavior"]
    assert back["status"] == FULL["status"]
    # upstream's conversion puts the CPU target after the other metrics (it is last here already)
    assert back["spec"]["metrics"] == FULL["spec"]["metrics"]


def test_v1_without_a_target_gets_the_implicit_80_percent():
    v2 = a.v1_to_v2({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "x"},
                     "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "x"}, "maxReplicas": 3}})
    assert v2["spec"]["metrics"] == [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": 80}}}]


def test_v2_defaults_fill_behavior_rules_and_keep_what_was_set():
    obj = {"spec": {"maxReplicas": 3, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}}
    a.default_hpa(obj)
    assert obj["spec"]["minReplicas"] == 1
    assert obj["spec"]["behavior"]["scaleDown"] == {"selectPolicy": "Max", "stabilizationWindowSeconds": 60,
                                                    "policies": [{"type": "Percent", "value": 100,
                                                                  "periodSeconds": 15}]}
    assert obj["spec"]["behavior"]["scaleUp"]["policies"][0] == {"type": "Pods", "value": 4, "periodSeconds": 15}
