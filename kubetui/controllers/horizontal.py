"""The HorizontalPodAutoscaler controller: scale a workload to keep its pods' usage at a target.

Upstream: ``pkg/controller/podautoscaler/horizontal.go`` (``reconcileAutoscaler``,
``computeReplicasForMetrics``, ``computeStatusForResourceMetricGeneric``,
``setCondition``, ``setStatus``) in kube-controller-manager. Every sync period
(``--horizontal-pod-autoscaler-sync-period``, 15 s; lab timings: 2 s) each HPA:

1. reads its target's ``scale`` subresource (replicas and the pod selector) —
   any kind with ``scale``: Deployments, ReplicaSets, StatefulSets… —
   ``AbleToScale`` says whether that worked;
2. reads ``metrics.k8s.io`` PodMetrics for the selected pods (the kubelets'
   stats, as metrics-server serves them) and asks the replica calculator
   (``replica_calculator``) what each metric wants; the largest wins.
   ``ScalingActive`` says whether a metric could be computed;
3. stabilizes and limits that count (``hpa_behavior``: the down-scale window,
   scaling policies, min/max); ``ScalingLimited`` says whether it was clamped;
4. writes the new replica count through ``scale`` (event ``SuccessfulRescale``
   ``New size: 4; reason: cpu resource utilization (percentage of request)
   above target``) and the HPA's status.

Deciding is pure (``decide_metric`` and the two helper modules); acting is
the thin ``reconcile``. Recommendations and scale events live in memory, as
upstream's do: a restarted controller starts with a fresh window.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from kubetui.api import errors
from kubetui.api.quantity import format_quantity, quantity_millis
from kubetui.api.resources import resource_for_kind
from kubetui.api.selectors import parse_label_selector
from kubetui.client.informer import split_key
from kubetui.clock import rfc3339
from kubetui.controllers import hpa_behavior as hb
from kubetui.controllers import replica_calculator as rc
from kubetui.controllers.base import Controller

Obj = dict[str, Any]


@dataclass
class MetricResult:
    """What one metric proposes: replicas, the name used in the rescale reason, and its status entry."""

    replicas: int
    name: str
    status: Obj


class MetricError(Exception):
    """A metric that could not be computed.

    ``reason`` and ``inner`` are the metric's event and ScalingActive=False condition
    (``FailedGetResourceMetric``: ``failed to get cpu utilization: …``); the error itself
    (``failed to get cpu resource metric value: …``) is what ``FailedComputeMetricsReplicas`` quotes.
    """

    def __init__(self, reason: str, inner: str, outer: str | None = None) -> None:
        super().__init__(f"{outer}: {inner}" if outer else inner)
        self.reason = reason
        self.inner = inner


def decide_metric(spec: Obj, current_replicas: int, pods: list[Obj], pod_metrics: list[Obj] | None,
                  timing: rc.Timing, tolerances: rc.Tolerances) -> MetricResult:
    """``computeReplicasForMetric`` for Resource and ContainerResource metrics (pure).

    ``pod_metrics`` is the PodMetrics list's items, or None if the metrics API failed.
    """
    mtype = spec.get("type")
    if mtype not in ("Resource", "ContainerResource"):
        raise MetricError("InvalidMetricSourceType", f"unknown metric source type \"{mtype}\" (kubetui serves only "
                                                     f"the resource metrics API, metrics.k8s.io)")
    field = "resource" if mtype == "Resource" else "containerResource"
    src = spec.get(field) or {}
    name, container = src.get("name", ""), src.get("container", "") if mtype == "ContainerResource" else ""
    target = src.get("target") or {}
    reason = "FailedGetResourceMetric" if mtype == "Resource" else "FailedGetContainerResourceMetric"
    outer = f"failed to get {name} resource metric value" if mtype == "Resource" else \
        f"failed to get {name} container metric value"

    def fail(inner: str) -> MetricError:
        return MetricError(reason, inner, outer)

    def metrics() -> dict[str, rc.PodMetric]:
        if pod_metrics is None:
            raise rc.ReplicaCalcError(f"unable to get metrics for resource {name}: unable to fetch metrics "
                                      f"from resource metrics API")
        if not pod_metrics:
            raise rc.ReplicaCalcError(f"unable to get metrics for resource {name}: no metrics returned from "
                                      f"resource metrics API")
        return rc.pod_metrics_from_api(pod_metrics, name, container)

    if target.get("averageValue") is not None:
        try:
            replicas, usage = rc.raw_resource_replicas(current_replicas, quantity_millis(target["averageValue"]),
                                                       name, pods, metrics(), timing, tolerances)
        except rc.ReplicaCalcError as e:
            raise fail(f"failed to get {name} usage: {e}") from None
        current = {"averageValue": format_quantity(f"{usage}m")}
        metric_name = f"{name} resource"
    elif target.get("averageUtilization") is not None:
        try:
            replicas, util, raw = rc.resource_replicas(current_replicas, target["averageUtilization"], name, pods,
                                                       metrics(), timing, tolerances, container)
        except rc.ReplicaCalcError as e:
            raise fail(f"failed to get {name} utilization: {e}") from None
        current = {"averageUtilization": util, "averageValue": format_quantity(f"{raw}m")}
        metric_name = (f"{name} resource utilization (percentage of request)" if mtype == "Resource"
                       else f"{name} container resource utilization (percentage of request)")
    else:
        raise fail("invalid resource metric source: neither an average utilization target nor an average "
                   "value (usage) target was set")
    status: Obj = {"type": mtype, field: {"name": name, "current": current}}
    if container:
        status[field]["container"] = container
    return MetricResult(replicas, metric_name, status)


def set_condition(hpa: Obj, type_: str, status: str, reason: str, message: str, now: float) -> None:
    """``setCondition``: the transition time moves only when the status changes."""
    conds = hpa.setdefault("status", {}).setdefault("conditions", [])
    for c in conds:
        if c.get("type") == type_:
            break
    else:
        c = {"type": type_}
        conds.append(c)
    if c.get("status") != status:
        c["lastTransitionTime"] = rfc3339(now)
    c["status"], c["reason"], c["message"] = status, reason, message


def tolerances_of(behavior: Obj | None, default: float) -> rc.Tolerances:
    """Per-direction tolerances (``behavior.scaleUp/scaleDown.tolerance``), else the controller's flag."""
    def one(rules: Any) -> float:
        t = (rules or {}).get("tolerance") if isinstance(rules, dict) else None
        if t is None:
            return default
        return float(quantity_millis(t)) / 1000
    b = behavior or {}
    return rc.Tolerances(scale_down=one(b.get("scaleDown")), scale_up=one(b.get("scaleUp")))


class HorizontalPodAutoscalerController(Controller):
    name = "horizontalpodautoscaling"
    kind = "HorizontalPodAutoscaler"
    component = "horizontal-pod-autoscaler"
    workers = 1

    def __init__(self, *args: Any, metrics: Any = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.metrics = metrics
        self.sync_period = self.timings.hpa_sync_period_seconds
        self.tolerance = rc.DEFAULT_TOLERANCE
        self.history: dict[str, hb.History] = {}
        self.hpa_informer = self.factory.informer("horizontalpodautoscalers")
        self.pod_informer = self.factory.informer("pods")
        self.hpa_informer.add_handler(self.enqueue, self._updated, self._deleted)

    @classmethod
    def extra_args(cls, manager: Any) -> dict[str, Any]:
        return {"metrics": getattr(manager, "metrics_client", None)}

    def _updated(self, old: Obj, new: Obj) -> None:
        # Only a spec change needs a sync before the next period: our own status writes do not.
        if old.get("spec") != new.get("spec"):
            self.enqueue(new)

    def _deleted(self, obj: Obj) -> None:
        self.history.pop(f"{obj['metadata'].get('namespace')}/{obj['metadata']['name']}", None)

    async def reconcile(self, key: Any) -> float | None:
        cached = self.hpa_informer.get(key)
        if cached is None:
            self.history.pop(str(key), None)
            return None
        hpa = copy.deepcopy(cached)
        original = copy.deepcopy(hpa.get("status") or {})
        try:
            await self._reconcile(str(key), hpa)
        finally:
            if (hpa.get("status") or {}) != original:
                body = copy.deepcopy(cached)
                body["status"] = hpa["status"]
                try:
                    await self.client.update("horizontalpodautoscalers", body, hpa["metadata"]["namespace"],
                                             subresource="status")
                except errors.NotFound:
                    return None
        return self.sync_period

    async def _reconcile(self, key: str, hpa: Obj) -> None:
        now = self.clock.time()
        ns, _ = split_key(key)
        spec = hpa.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        reference = f"{ref.get('kind')}/{ns}/{ref.get('name')}"
        resource = resource_for_kind(ref.get("apiVersion") or "", ref.get("kind") or "")
        try:
            if resource is None or "scale" not in resource.subresources:
                raise errors.NotFound(f'no matches for kind "{ref.get("kind")}" in group '
                                      f'"{(ref.get("apiVersion") or "").rpartition("/")[0]}"')
            scale = await self.client.get(resource.plural if not resource.group else resource.group_resource,
                                          ref.get("name", ""), ns, subresource="scale")
        except errors.StatusError as e:
            self.event(hpa, "Warning", "FailedGetScale", e.message)
            set_condition(hpa, "AbleToScale", "False", "FailedGetScale",
                          f"the HPA controller was unable to get the target's current scale: {e.message}", now)
            return
        set_condition(hpa, "AbleToScale", "True", "SucceededGetScale",
                      "the HPA controller was able to get the target's current scale", now)
        current = (scale.get("spec") or {}).get("replicas", 0)
        history = self.history.setdefault(key, hb.History())
        if not history.recommendations:
            history.recommendations.append(hb.Recommendation(current, now))  # recordInitialRecommendation
        min_replicas = spec.get("minReplicas", 1)
        max_replicas = spec.get("maxReplicas", 0)
        statuses: list[Obj] = []
        reason = ""
        rescale = True
        if current == 0 and min_replicas != 0:
            desired, rescale = 0, False
            set_condition(hpa, "ScalingActive", "False", "ScalingDisabled",
                          "scaling is disabled since the replica count of the target is zero", now)
        elif current > max_replicas:
            desired, reason = max_replicas, "Current number of replicas above Spec.MaxReplicas"
        elif current < min_replicas:
            desired, reason = min_replicas, "Current number of replicas below Spec.MinReplicas"
        else:
            computed = await self._compute_replicas(hpa, scale, current, now)
            if computed is None:
                return
            desired, metric_name, statuses = computed
            if desired > current:
                reason = f"{metric_name} above target"
            elif desired < current:
                reason = "All metrics below target"
            behavior = spec.get("behavior")
            window = self.timings.hpa_downscale_stabilization_seconds
            if behavior is None:
                n = hb.normalize(history, current, desired, min_replicas, max_replicas, now=now,
                                 downscale_window=window)
            else:
                n = hb.normalize_with_behavior(history, current, desired, min_replicas, max_replicas, behavior,
                                               now=now, downscale_window=window)
            set_condition(hpa, "AbleToScale", "True", n.able_reason, n.able_message, now)
            set_condition(hpa, "ScalingLimited", "True" if n.limited else "False", n.limited_reason,
                          n.limited_message, now)
            desired = n.replicas
            rescale = desired != current
        if rescale:
            body = copy.deepcopy(scale)
            body["spec"]["replicas"] = desired
            try:
                await self.client.update(resource.plural if not resource.group else resource.group_resource,
                                         body, ns, subresource="scale")
            except errors.StatusError as e:
                self.event(hpa, "Warning", "FailedRescale",
                           f"New size: {desired}; reason: {reason}; error: {e.message}")
                set_condition(hpa, "AbleToScale", "False", "FailedUpdateScale",
                              f"the HPA controller was unable to update the target scale: {e.message}", now)
                self._set_status(hpa, current, current, statuses, False, now, keep_desired=True)
                return
            set_condition(hpa, "AbleToScale", "True", "SucceededRescale",
                          f"the HPA controller was able to update the target scale to {desired}", now)
            self.event(hpa, "Normal", "SuccessfulRescale", f"New size: {desired}; reason: {reason}")
            hb.store_scale_event(history, spec.get("behavior"), current, desired, now)
            self.log.info("rescaled %s from %d to %d: %s", reference, current, desired, reason)
        else:
            desired = current
        self._set_status(hpa, current, desired, statuses, rescale, now)

    async def _compute_replicas(self, hpa: Obj, scale: Obj, current: int,
                                now: float) -> tuple[int, str, list[Obj]] | None:
        """``computeReplicasForMetrics``: the largest proposal; None when no metric could be computed."""
        ns = hpa["metadata"]["namespace"]
        selector = (scale.get("status") or {}).get("selector") or ""
        if not selector:
            self.event(hpa, "Warning", "SelectorRequired", "selector is required")
            set_condition(hpa, "ScalingActive", "False", "InvalidSelector",
                          "the HPA target's scale is missing a selector", now)
            return None
        try:
            parsed = parse_label_selector(selector)
        except Exception as e:  # noqa: BLE001 - any parse failure is the user's selector
            self.event(hpa, "Warning", "InvalidSelector", f"couldn't convert selector into a corresponding "
                                                          f"internal selector object: {e}")
            set_condition(hpa, "ScalingActive", "False", "InvalidSelector", f"the HPA target's selector "
                          f"cannot be parsed: {e}", now)
            return None
        pods = [p for p in self.pod_informer.list(ns) if parsed.matches(p["metadata"].get("labels") or {})]
        items: list[Obj] | None
        try:
            items = (await self.metrics.list_pod_metrics(ns, selector)).get("items") or [] \
                if self.metrics is not None else None
        except errors.StatusError:
            items = None
        spec = hpa.get("spec") or {}
        timing = rc.Timing(now, self.timings.hpa_cpu_initialization_period_seconds,
                           self.timings.hpa_initial_readiness_delay_seconds)
        tolerances = tolerances_of(spec.get("behavior"), self.tolerance)
        metrics = spec.get("metrics") or []
        statuses: list[Obj] = [{} for _ in metrics]
        best, best_name, invalid = 0, "", []
        for i, m in enumerate(metrics):
            try:
                result = decide_metric(m, current, pods, items, timing, tolerances)
            except MetricError as e:
                self.event(hpa, "Warning", e.reason, e.inner)
                invalid.append(e)
                continue
            statuses[i] = result.status
            if best == 0 or result.replicas > best:
                best, best_name = result.replicas, result.name
        statuses = [s for s in statuses if s]
        if invalid and (len(invalid) >= len(metrics) or best < (scale.get("spec") or {}).get("replicas", 0)):
            first = invalid[0]
            set_condition(hpa, "ScalingActive", "False", first.reason,
                          f"the HPA was unable to compute the replica count: {first.inner}", now)
            self._set_status(hpa, current, (hpa.get("status") or {}).get("desiredReplicas", 0), statuses, False,
                             now)
            self.event(hpa, "Warning", "FailedComputeMetricsReplicas",
                       f"invalid metrics ({len(invalid)} invalid out of {len(metrics)}), first error is: {first}")
            return None
        set_condition(hpa, "ScalingActive", "True", "ValidMetricFound",
                      f"the HPA was able to successfully calculate a replica count from {best_name}", now)
        return best, best_name, statuses

    @staticmethod
    def _set_status(hpa: Obj, current: int, desired: int, statuses: list[Obj], rescale: bool, now: float,
                    keep_desired: bool = False) -> None:
        """``setStatus``: counts and metrics; lastScaleTime only when this sync rescaled."""
        old = hpa.get("status") or {}
        st: Obj = {"currentReplicas": current,
                   "desiredReplicas": old.get("desiredReplicas", 0) if keep_desired else desired}
        if statuses:
            st["currentMetrics"] = statuses
        if rescale:
            st["lastScaleTime"] = rfc3339(now)
        elif old.get("lastScaleTime"):
            st["lastScaleTime"] = old["lastScaleTime"]
        if old.get("conditions"):
            st["conditions"] = old["conditions"]
        if current == 0:
            st.pop("currentReplicas")
        hpa["status"] = st
