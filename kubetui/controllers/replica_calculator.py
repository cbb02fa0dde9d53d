"""The HPA's replica calculator: from pod metrics to a replica count (pure, table-tested).

Upstream: ``pkg/controller/podautoscaler/replica_calculator.go``
(``GetResourceReplicas``, ``GetRawResourceReplicas``, ``calcPlainMetricReplicas``,
``groupPods``, ``calculatePodRequests``) and ``metrics/utilization.go``
(``GetResourceUtilizationRatio``, ``GetMetricUsageRatio``).

The idea, with numbers: 3 ready pods each request 200m CPU and use 300m, the
target is 50% -> utilization is 900m / 600m = 150%, the ratio 150/50 = 3.0,
so the HPA wants ceil(3.0 * 3) = 9 pods. A ratio within the tolerance (0.1:
between 0.9 and 1.1) changes nothing, so the count does not flap.

The care is in the pods that cannot be trusted:

- a pod being deleted, or Failed, is ignored;
- a Pending pod, or (for CPU) one not ready or still starting
  (inside the *CPU initialization period*, its first samples may be startup
  noise), counts as *unready*;
- a running pod with no metric yet is *missing*.

If the first ratio says "scale up", unready pods are assumed to use 0% and
missing ones 0%; if it says "scale down", missing pods are assumed to use 100%
of their request. The ratio is recomputed with those assumptions, and if it
then falls within the tolerance or flips direction, nothing changes: the HPA
only acts when even the pessimistic reading agrees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from kubetui.api.quantity import quantity_millis
from kubetui.clock import parse_rfc3339

Obj = dict[str, Any]

DEFAULT_TOLERANCE = 0.1


class ReplicaCalcError(Exception):
    """A metric that cannot give a replica count (upstream returns an ``error``)."""


@dataclass(frozen=True)
class PodMetric:
    """One pod's usage (milli-units: millicores for CPU, milli-bytes for memory) and when it was sampled."""

    value: int
    timestamp: float = 0.0
    window: float = 0.0


@dataclass(frozen=True)
class Tolerances:
    """``tolerances.isWithin``: a ratio in [1 - scaleDown, 1 + scaleUp] is close enough to 1."""

    scale_down: float = DEFAULT_TOLERANCE
    scale_up: float = DEFAULT_TOLERANCE

    def is_within(self, ratio: float) -> bool:
        return (1.0 - self.scale_down) <= ratio <= (1.0 + self.scale_up)


@dataclass
class PodGroups:
    ready_count: int = 0
    unready: set[str] = field(default_factory=set)
    missing: set[str] = field(default_factory=set)
    ignored: set[str] = field(default_factory=set)


def _ready_condition(pod: Obj) -> Obj | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c
    return None


def group_pods(pods: list[Obj], metrics: dict[str, PodMetric], resource: str, *, now: float,
               cpu_initialization_period: float, delay_of_initial_readiness_status: float) -> PodGroups:
    """``groupPods``: which pods count (ready), which are unready, missing a metric, or ignored."""
    g = PodGroups()
    for pod in pods:
        name = pod["metadata"]["name"]
        status = pod.get("status") or {}
        if pod["metadata"].get("deletionTimestamp") or status.get("phase") == "Failed":
            g.ignored.add(name)
            continue
        if status.get("phase", "Pending") == "Pending":
            g.unready.add(name)
            continue
        metric = metrics.get(name)
        if metric is None:
            g.missing.add(name)
            continue
        if resource == "cpu":
            cond = _ready_condition(pod)
            start = status.get("startTime")
            if cond is None or not start:
                unready = True
            else:
                started = parse_rfc3339(start)
                transition = parse_rfc3339(cond.get("lastTransitionTime") or start)
                if started + cpu_initialization_period > now:
                    # Still starting: ignore the sample if the pod is unready, or if one metric
                    # window has not passed since it became ready (the sample mixes in startup).
                    unready = cond.get("status") == "False" or metric.timestamp < transition + metric.window
                else:
                    # Ignore the metric of a pod that is unready and has never been ready.
                    unready = (cond.get("status") == "False"
                               and started + delay_of_initial_readiness_status > transition)
            if unready:
                g.unready.add(name)
                continue
        g.ready_count += 1
    return g


def pod_requests(pods: list[Obj], resource: str, container: str = "") -> dict[str, int]:
    """``calculatePodRequests``: each pod's request for ``resource`` in milli-units, summed over containers."""
    out: dict[str, int] = {}
    for pod in pods:
        total = 0
        for c in (pod.get("spec") or {}).get("containers") or []:
            if container and c.get("name") != container:
                continue
            req = ((c.get("resources") or {}).get("requests") or {}).get(resource)
            if req is None:
                raise ReplicaCalcError(f"missing request for {resource} in container {c.get('name')} of Pod "
                                       f"{pod['metadata']['name']}")
            total += quantity_millis(req)
        out[pod["metadata"]["name"]] = total
    return out


def utilization_ratio(metrics: dict[str, PodMetric], requests: dict[str, int],
                      target_utilization: int) -> tuple[float, int, int]:
    """``GetResourceUtilizationRatio``: (ratio to target, utilization %, average raw value)."""
    metrics_total = requests_total = entries = 0
    for name, m in metrics.items():
        if name not in requests:
            continue  # extraneous metrics (a pod no longer selected)
        metrics_total += m.value
        requests_total += requests[name]
        entries += 1
    if requests_total == 0:
        raise ReplicaCalcError("no metrics returned matched known pods")
    utilization = (metrics_total * 100) // requests_total
    return utilization / target_utilization, utilization, metrics_total // entries


def usage_ratio(metrics: dict[str, PodMetric], target_usage: int) -> tuple[float, int]:
    """``GetMetricUsageRatio``: (ratio to target, average usage)."""
    current = sum(m.value for m in metrics.values()) // len(metrics)
    return current / target_usage, current


def _decide(current_replicas: int, ratio: float, groups: PodGroups, metrics: dict[str, PodMetric],
            tolerances: Tolerances, fill_missing_down: Any, recompute: Any) -> int:
    """The shared tail of both calculations: the pessimistic re-run for unready and missing pods."""
    scale_up_with_unready = bool(groups.unready) and ratio > 1.0
    if not scale_up_with_unready and not groups.missing:
        if tolerances.is_within(ratio):
            return current_replicas
        return math.ceil(ratio * groups.ready_count)
    for name in groups.missing:
        if ratio < 1.0:    # scaling down: a pod without a metric is assumed busy (100% of its request)
            metrics[name] = PodMetric(fill_missing_down(name))
        elif ratio > 1.0:  # scaling up: assumed idle
            metrics[name] = PodMetric(0)
    if scale_up_with_unready:
        for name in groups.unready:
            metrics[name] = PodMetric(0)
    new_ratio = recompute(metrics)
    if tolerances.is_within(new_ratio) or (ratio < 1.0 < new_ratio) or (new_ratio < 1.0 < ratio):
        return current_replicas  # too small a change, or the assumptions flip the direction
    new_replicas = math.ceil(new_ratio * len(metrics))
    if (new_ratio < 1.0 and new_replicas > current_replicas) or (new_ratio > 1.0 and new_replicas < current_replicas):
        return current_replicas
    return new_replicas


@dataclass(frozen=True)
class Timing:
    now: float
    cpu_initialization_period: float = 300.0
    delay_of_initial_readiness_status: float = 30.0


def resource_replicas(current_replicas: int, target_utilization: int, resource: str, pods: list[Obj],
                      metrics: dict[str, PodMetric], timing: Timing, tolerances: Tolerances = Tolerances(),
                      container: str = "") -> tuple[int, int, int]:
    """``GetResourceReplicas``: (replicas, utilization %, average raw value) for a Utilization target."""
    metrics = dict(metrics)
    if not pods:
        raise ReplicaCalcError("no pods returned by selector while calculating replica count")
    groups = group_pods(pods, metrics, resource, now=timing.now,
                        cpu_initialization_period=timing.cpu_initialization_period,
                        delay_of_initial_readiness_status=timing.delay_of_initial_readiness_status)
    for name in groups.ignored | groups.unready:
        metrics.pop(name, None)
    if not metrics:
        raise ReplicaCalcError("did not receive metrics for targeted pods (pods might be unready)")
    requests = pod_requests(pods, resource, container)
    ratio, utilization, raw = utilization_ratio(metrics, requests, target_utilization)
    fallback = max(100, target_utilization)  # on a scale-down a missing pod is assumed at 100% (or the target)
    replicas = _decide(current_replicas, ratio, groups, metrics, tolerances,
                       lambda name: requests[name] * fallback // 100,
                       lambda ms: utilization_ratio(ms, requests, target_utilization)[0])
    return replicas, utilization, raw


def raw_resource_replicas(current_replicas: int, target_usage: int, resource: str, pods: list[Obj],
                          metrics: dict[str, PodMetric], timing: Timing,
                          tolerances: Tolerances = Tolerances()) -> tuple[int, int]:
    """``GetRawResourceReplicas``/``calcPlainMetricReplicas``: (replicas, average usage) for an AverageValue."""
    metrics = dict(metrics)
    if not pods:
        raise ReplicaCalcError("no pods returned by selector while calculating replica count")
    groups = group_pods(pods, metrics, resource, now=timing.now,
                        cpu_initialization_period=timing.cpu_initialization_period,
                        delay_of_initial_readiness_status=timing.delay_of_initial_readiness_status)
    for name in groups.ignored | groups.unready:
        metrics.pop(name, None)
    if not metrics:
        raise ReplicaCalcError("did not receive metrics for targeted pods (pods might be unready)")
    ratio, usage = usage_ratio(metrics, target_usage)
    replicas = _decide(current_replicas, ratio, groups, metrics, tolerances, lambda name: target_usage,
                       lambda ms: usage_ratio(ms, target_usage)[0])
    return replicas, usage


def pod_metrics_from_api(items: list[Obj], resource: str, container: str = "") -> dict[str, PodMetric]:
    """The metrics client's ``getPodMetrics``: a pod's usage is the sum of its containers' (milli-units).

    A pod with no containers, or a container without the resource, has no metric.
    """
    out: dict[str, PodMetric] = {}
    for m in items:
        containers = m.get("containers") or []
        if container:
            containers = [c for c in containers if c.get("name") == container]
        if not containers:
            continue
        total, missing = 0, False
        for c in containers:
            value = (c.get("usage") or {}).get(resource)
            if value is None:
                missing = True
                break
            total += quantity_millis(value)
        if missing:
            continue
        ts = parse_rfc3339(m["timestamp"]) if m.get("timestamp") else 0.0
        out[m["metadata"]["name"]] = PodMetric(total, ts, _duration(m.get("window")))
    return out


def _duration(value: Any) -> float:
    """``10s``, ``1m0s``, ``500ms`` -> seconds (metav1.Duration as metrics-server writes it)."""
    if not isinstance(value, str) or not value:
        return 0.0
    total, num = 0.0, ""
    i = 0
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    while i < len(value):
        ch = value[i]
        if ch.isdigit() or ch == ".":
            num += ch
            i += 1
            continue
        unit = "ms" if value[i:i + 2] == "ms" else ch
        total += float(num or 0) * units.get(unit, 0.0)
        num = ""
        i += len(unit)
    return total
