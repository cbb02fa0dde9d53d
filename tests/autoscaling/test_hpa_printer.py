"""``kubectl get hpa`` rows: cases after upstream's TestPrintHPA (pkg/printers/internalversion/printers_test.go)."""

from __future__ import annotations

import pytest

from kubetui.api.autoscaling import v2_to_v1
from kubetui.api.printers import PRINTERS

ROW = PRINTERS["horizontalpodautoscalers.autoscaling"].row


def hpa(metrics=None, current=None, min_replicas=2):
    spec = {"scaleTargetRef": {"kind": "ReplicationController", "name": "some-rc"}, "maxReplicas": 10}
    if min_replicas is not None:
        spec["minReplicas"] = min_replicas
    if metrics is not None:
        spec["metrics"] = metrics
    status = {"currentReplicas": 4, "desiredReplicas": 5}
    if current is not None:
        status["currentMetrics"] = current
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "some-hpa", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": spec, "status": status}


def pods(target, cur=None):
    return ({"type": "Pods", "pods": {"metric": {"name": "some-pods-metric"}, "target": {
        "type": "AverageValue", "averageValue": target}}},
            None if cur is None else {"type": "Pods", "pods": {"metric": {"name": "some-pods-metric"},
                                                                 "current": {"averageValue": cur}}})


def cpu_util(target, cur=None):
    return ({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                        "averageUtilization": target}}},
            None if cur is None else {"type": "Resource", "resource": {"name": "cpu", "current": {
                "averageUtilization": cur, "averageValue": "50m"}}})


def cpu_value(target, cur=None):
    return ({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "AverageValue",
                                                                        "averageValue": target}}},
            None if cur is None else {"type": "Resource", "resource": {"name": "cpu", "current": {
                "averageValue": cur}}})


@pytest.mark.parametrize("specs, statuses, min_replicas, targets, minpods", [
    ([], None, None, "<none>", "<unset>"),                       # minReplicas unset, no metrics
    ([pods("100m")[0]], None, 2, "<unknown>/100m", "2"),           # pods source, no current
    ([pods("100m")[0]], [pods("100m", "50m")[1]], 2, "50m/100m", "2"),
    ([cpu_value("100m")[0]], None, 2, "cpu: <unknown>/100m", "2"),
    ([cpu_value("100m")[0]], [cpu_value("100m", "50m")[1]], 2, "cpu: 50m/100m", "2"),
    ([cpu_util(80)[0]], None, 2, "cpu: <unknown>/80%", "2"),
    ([cpu_util(80)[0]], [cpu_util(80, 50)[1]], 2, "cpu: 50%/80%", "2"),
    ([pods("100m")[0], cpu_util(80)[0], cpu_value("100m")[0]],
     [pods("100m", "50m")[1], cpu_util(80, 50)[1], cpu_value("100m", "50m")[1]], 2,
     "50m/100m, cpu: 50%/80% + 1 more...", "2"),
])
def test_hpa_rows(specs, statuses, min_replicas, targets, minpods):
    row = ROW(hpa(specs, statuses, min_replicas), 1_767_225_600.0 + 60)
    assert row == ["some-hpa", "ReplicationController/some-rc", targets, minpods, 10, 4, "60s"]


def test_a_v1_object_prints_as_the_v2_it_converts_to():
    obj = hpa(*([cpu_util(80)[0]], [cpu_util(80, 50)[1]]))
    assert ROW(v2_to_v1(obj), 1_767_225_660.0)[2] == "cpu: 50%/80%"
