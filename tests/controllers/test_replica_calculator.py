"""The HPA replica calculator, table-tested with cases ported from upstream's replica_calculator_test.go.

Each upstream case: pods ``test-pod-N`` with two containers, each requesting
``requests[i]`` and using ``levels[i]`` millicores (pods past ``len(levels)``
have no metric); ``cool`` pods started long ago, ``hot`` ones inside the CPU
initialization period (2 min in upstream's tests; the readiness delay 10 s).
"""

from __future__ import annotations

import pytest

from kubetui.clock import rfc3339
from kubetui.controllers import replica_calculator as rc

NOW = 1_800_000_000.0
COOL, HOT = NOW - 3 * 60, NOW - 60
TIMING = rc.Timing(NOW, cpu_initialization_period=120, delay_of_initial_readiness_status=10)


def pods_and_metrics(requests, levels, readiness=None, start=None, phase=None, deleting=None, count=None):
    n = count if count is not None else max(len(requests), len(phase or []))
    pods, metrics = [], {}
    for i in range(n):
        name = f"test-pod-{i}"
        containers = [{"name": f"container{j}", "resources": (
            {"requests": {"cpu": requests[i]}} if i < len(requests) else {})} for j in range(2)]
        status = {"phase": (phase or ["Running"] * n)[i], "startTime": rfc3339((start or [COOL] * n)[i]),
                  "conditions": [{"type": "Ready", "status": (readiness or ["True"] * n)[i]}]}
        meta = {"name": name, "labels": {"name": "test-pod"}}
        if deleting and deleting[i]:
            meta["deletionTimestamp"] = rfc3339(NOW)
        pods.append({"metadata": meta, "spec": {"containers": containers}, "status": status})
    for i, level in enumerate(levels):
        metrics[f"test-pod-{i}"] = rc.PodMetric(2 * level, 0.0, 60.0)
    return pods, metrics


CASES = [
    # name, current, expected, requests, levels, target, utilization, raw value, extra
    ("ScaleUp", 3, 5, ["1.0"] * 3, [300, 500, 700], 30, 50, 2 * 500, {}),
    ("ScaleUpUnreadyLessScale", 3, 4, ["1.0"] * 3, [300, 500, 700], 30, 60, 2 * 600,
     {"readiness": ["False", "True", "True"]}),
    ("ScaleUpHotCpuLessScale", 3, 4, ["1.0"] * 3, [300, 500, 700], 30, 60, 2 * 600, {"start": [HOT, COOL, COOL]}),
    ("ScaleUpUnreadyNoScale", 3, 3, ["1.0"] * 3, [400, 500, 700], 30, 40, 2 * 400,
     {"readiness": ["True", "False", "False"]}),
    ("ScaleHotCpuNoScale", 3, 3, ["1.0"] * 3, [400, 500, 700], 30, 40, 2 * 400,
     {"readiness": ["True", "False", "False"], "start": [COOL, HOT, HOT]}),
    ("ScaleUpIgnoresFailedPods", 2, 4, ["1.0"] * 4, [500, 700], 30, 60, 2 * 600,
     {"readiness": ["True", "True", "False", "False"], "phase": ["Running", "Running", "Failed", "Failed"]}),
    ("ScaleUpIgnoresDeletionPods", 2, 4, ["1.0"] * 4, [500, 700], 30, 60, 2 * 600,
     {"readiness": ["True", "True", "False", "False"], "deleting": [False, False, True, True]}),
    ("ScaleDown", 5, 3, ["1.0"] * 5, [100, 300, 500, 250, 250], 50, 28, 2 * 280, {}),
    ("ScaleDownIncludeUnreadyPods", 5, 2, ["1.0"] * 5, [100, 300, 500, 250, 250], 50, 30, 2 * 300,
     {"readiness": ["True", "True", "True", "False", "False"]}),
    ("ScaleDownExcludeUnscheduledPods", 5, 1, ["1.0"] * 5, [100], 50, 10, 2 * 100,
     {"readiness": ["True"] + ["False"] * 4, "phase": ["Running"] + ["Pending"] * 4}),
    ("ScaleDownIgnoreHotCpuPods", 5, 2, ["1.0"] * 5, [100, 300, 500, 250, 250], 50, 30, 2 * 300,
     {"start": [COOL, COOL, COOL, HOT, HOT]}),
    ("ScaleDownIgnoresFailedPods", 5, 3, ["1.0"] * 7, [100, 300, 500, 250, 250], 50, 28, 2 * 280,
     {"readiness": ["True"] * 5 + ["False"] * 2, "phase": ["Running"] * 5 + ["Failed"] * 2}),
    ("ScaleDownIgnoresDeletionPods", 5, 3, ["1.0"] * 7, [100, 300, 500, 250, 250], 50, 28, 2 * 280,
     {"readiness": ["True"] * 5 + ["False"] * 2, "deleting": [False] * 5 + [True] * 2}),
    ("Tolerance", 3, 3, ["0.9", "1.0", "1.1"], [1010, 1030, 1020], 100, 102, 2 * 1020, {}),
    ("SuperfluousMetrics", 4, 24, ["1.0"] * 4, [4000, 9500, 3000, 7000, 3200, 2000], 100, 587, 2 * 5875, {}),
    ("MissingMetrics", 4, 3, ["1.0"] * 4, [400, 95], 100, 24, 495, {}),
    ("MissingMetricsNoChangeEq", 2, 2, ["1.0"] * 2, [1000], 100, 100, 2 * 1000, {}),
    ("MissingMetricsNoChangeGt", 2, 2, ["1.0"] * 2, [1900], 100, 190, 2 * 1900, {}),
    ("MissingMetricsNoChangeLt", 2, 2, ["1.0"] * 2, [600], 100, 60, 2 * 600, {}),
    ("MissingMetricsUnreadyChange", 3, 3, ["1.0"] * 3, [100, 450], 50, 45, 2 * 450,
     {"readiness": ["False", "True", "True"]}),
    ("MissingMetricsHotCpuNoChange", 3, 3, ["1.0"] * 3, [100, 450], 50, 45, 2 * 450, {"start": [HOT, COOL, COOL]}),
    ("MissingMetricsUnreadyScaleUp", 3, 4, ["1.0"] * 3, [100, 2000], 50, 200, 2 * 2000,
     {"readiness": ["False", "True", "True"]}),
    ("MissingMetricsHotCpuScaleUp", 3, 4, ["1.0"] * 3, [100, 2000], 50, 200, 2 * 2000,
     {"readiness": ["False", "True", "True"], "start": [HOT, COOL, COOL]}),
    ("MissingMetricsUnreadyScaleDown", 4, 3, ["1.0"] * 4, [100, 100, 100], 50, 10, 2 * 100,
     {"readiness": ["False", "True", "True", "True"]}),
    ("DuringRollingUpdateWithMaxSurge", 2, 2, ["1.0"] * 3, [100, 100], 50, 10, 2 * 100,
     {"phase": ["Running"] * 3}),
]


@pytest.mark.parametrize("name, current, expected, requests, levels, target, util, raw, extra", CASES,
                         ids=[c[0] for c in CASES])
def test_resource_replicas_as_upstream(name, current, expected, requests, levels, target, util, raw, extra):
    count = None
    if "phase" not in extra:
        count = current  # upstream lists currentReplicas pods (more only when podPhase says so)
    pods, metrics = pods_and_metrics(requests, levels, count=count, **extra)
    replicas, utilization, raw_value = rc.resource_replicas(current, target, "cpu", pods, metrics, TIMING)
    assert (replicas, utilization, raw_value) == (expected, util, raw)


def test_errors_are_upstreams():
    pods, metrics = pods_and_metrics(["1.0"], [100], count=1)
    with pytest.raises(rc.ReplicaCalcError, match="no metrics returned matched known pods"):
        rc.resource_replicas(1, 100, "cpu", pods, {"an-older-pod-name": rc.PodMetric(200)}, TIMING)
    pods, metrics = pods_and_metrics([], [200], count=1)
    with pytest.raises(rc.ReplicaCalcError, match="missing request for cpu in container container0 of Pod "
                                                  "test-pod-0"):
        rc.resource_replicas(1, 100, "cpu", pods, metrics, TIMING)
    with pytest.raises(rc.ReplicaCalcError, match="no pods returned by selector"):
        rc.resource_replicas(1, 100, "cpu", [], metrics, TIMING)
    pods, _ = pods_and_metrics(["1.0"] * 3, [], readiness=["False"] * 3, count=3)
    with pytest.raises(rc.ReplicaCalcError, match="did not receive metrics for targeted pods"):
        rc.resource_replicas(3, 50, "cpu", pods, {f"test-pod-{i}": rc.PodMetric(100) for i in range(3)}, TIMING)


def test_computed_tolerance_regression():
    """TestReplicaCalcComputedToleranceAlgImplementation: just past the tolerance scales, just inside does not."""
    per_pod = 300
    requests = [f"{per_pod + d}m" for d in (100, -100, 10, -10, 2, -2, 1, -1, 0, 0)]
    pods, metrics = pods_and_metrics(requests, [150] * 10, count=10)
    target = int((abs(1 / (2.0 * (1 - 0.1))) + .01) * 100)        # 56%
    final = -(-int(1500 / (3000 * target / 100) * 10 * 1000) // 1000)  # ceil(0.5/0.56 * 10) = 9
    assert rc.resource_replicas(10, target, "cpu", pods, metrics, TIMING)[:2] == (final, 50)
    target = int((abs(1 / (2.0 * (1 - 0.1))) + .004) * 100)       # 55%: within tolerance
    assert rc.resource_replicas(10, target, "cpu", pods, metrics, TIMING)[0] == 10


def test_raw_average_value_scales_on_usage():
    pods, metrics = pods_and_metrics(["1.0"] * 3, [300, 500, 700], count=3)
    # each pod uses 2 x level (two containers): 1000m on average; target 500m -> ratio 2 -> 6
    assert rc.raw_resource_replicas(3, 500, "cpu", pods, metrics, TIMING) == (6, 1000)
    assert rc.raw_resource_replicas(3, 1000, "cpu", pods, metrics, TIMING) == (3, 1000)


def test_pod_metrics_from_the_api_sum_containers_and_skip_incomplete():
    items = [{"metadata": {"name": "a"}, "timestamp": "2027-01-15T08:00:00Z", "window": "10s",
              "containers": [{"name": "x", "usage": {"cpu": "150m"}}, {"name": "y", "usage": {"cpu": "250000000n"}}]},
             {"metadata": {"name": "b"}, "containers": [{"name": "x", "usage": {"memory": "1Mi"}}]},
             {"metadata": {"name": "c"}, "containers": []}]
    out = rc.pod_metrics_from_api(items, "cpu")
    assert set(out) == {"a"} and out["a"].value == 400 and out["a"].window == 10.0
    assert rc.pod_metrics_from_api(items, "cpu", container="y")["a"].value == 250
