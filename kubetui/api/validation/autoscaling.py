"""Validation of HorizontalPodAutoscalers (checked on the stored, v2 form, whichever version was sent).

Upstream: pkg/apis/autoscaling/validation/validation.go
(``validateHorizontalPodAutoscalerSpec``, ``ValidateCrossVersionObjectReference``,
``validateMetrics``/``validateMetricSpec`` and one function per metric source,
``validateMetricTarget``, ``validateBehavior``/``validateScalingRules``/
``validateScalingPolicy``, ``ValidateHorizontalPodAutoscalerStatusUpdate``).
Upstream validates the internal object, so a v1 request's mistakes are named
by their v2 paths too (a bad ``targetCPUUtilizationPercentage`` is
``spec.metrics[0].resource.target.averageUtilization``).
"""

from __future__ import annotations

from typing import Any

from kubetui.api.quantity import parse_quantity
from kubetui.api.validation.field import (
    Cause, as_dict, dict_items, forbidden, index, invalid, is_int, non_negative, not_supported, required,
)
from kubetui.api.validation.names import is_dns1123_label

METRIC_SOURCE_TYPES = ("ContainerResource", "External", "Object", "Pods", "Resource")  # sets.List(): sorted
SELECT_POLICIES = ("Disabled", "Max", "Min")
POLICY_TYPES = ("Percent", "Pods")
MAX_PERIOD_SECONDS = 1800
MAX_STABILIZATION_WINDOW_SECONDS = 3600
#: Without the alpha HPAScaleToZero feature gate the floor is one replica.
MIN_REPLICAS_LOWER_BOUND = 1


def _path_segment_errors(value: str) -> list[str]:
    """``path.IsValidPathSegmentName``: a name that can be one segment of a URL path."""
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in value]


def validate_cross_version_ref(ref: Any, path: str) -> list[Cause]:
    ref = as_dict(ref)
    errs: list[Cause] = []
    for f in ("kind", "name"):
        v = ref.get(f)
        if not v:
            errs.append(required(f"{path}.{f}"))
        else:
            errs += [invalid(f"{path}.{f}", v, msg) for msg in _path_segment_errors(str(v))]
    return errs


def _positive_quantity(value: Any) -> bool:
    try:
        return parse_quantity(value) > 0
    except (ValueError, TypeError):
        return False


def validate_metric_target(t: Any, path: str) -> list[Cause]:
    t = as_dict(t)
    errs: list[Cause] = []
    ttype = t.get("type")
    if not ttype:
        errs.append(required(f"{path}.type", "must specify a metric target type"))
    if ttype not in ("Utilization", "Value", "AverageValue"):
        errs.append(invalid(f"{path}.type", ttype or "", "must be either Utilization, Value, or AverageValue"))
    for f in ("value", "averageValue"):
        if t.get(f) is not None and not _positive_quantity(t[f]):
            errs.append(invalid(f"{path}.{f}", t[f], "must be positive"))
    u = t.get("averageUtilization")
    if u is not None and is_int(u) and u < 1:
        errs.append(invalid(f"{path}.averageUtilization", u, "must be greater than 0"))
    return errs


def _metric_identifier(m: Any, path: str) -> list[Cause]:
    if not as_dict(m).get("name"):
        return [required(f"{path}.name", "must specify a metric name")]
    return []


def _resource_source(src: dict, path: str, *, container: bool) -> list[Cause]:
    errs: list[Cause] = []
    if not src.get("name"):
        errs.append(required(f"{path}.name", "must specify a resource name"))
    if container:
        c = src.get("container")
        if not c:
            errs.append(required(f"{path}.container", "must specify a container"))
        else:
            errs += [invalid(f"{path}.container", c, msg) for msg in is_dns1123_label(str(c))]
    target = as_dict(src.get("target"))
    errs += validate_metric_target(target, f"{path}.target")
    if target.get("averageUtilization") is None and target.get("averageValue") is None:
        errs.append(required(f"{path}.target.averageUtilization",
                             "must set either a target raw value or a target utilization"))
    if target.get("averageUtilization") is not None and target.get("averageValue") is not None:
        errs.append(forbidden(f"{path}.target.averageValue",
                              "may not set both a target raw value and a target utilization"))
    return errs


def _pods_source(src: dict, path: str) -> list[Cause]:
    target = as_dict(src.get("target"))
    errs = _metric_identifier(src.get("metric"), f"{path}.metric")
    errs += validate_metric_target(target, f"{path}.target")
    if target.get("averageValue") is None:
        errs.append(required(f"{path}.target.averageValue", "must specify a positive target averageValue"))
    return errs


def _object_source(src: dict, path: str) -> list[Cause]:
    target = as_dict(src.get("target"))
    errs = validate_cross_version_ref(src.get("describedObject"), f"{path}.describedObject")
    errs += _metric_identifier(src.get("metric"), f"{path}.metric")
    errs += validate_metric_target(target, f"{path}.target")
    if target.get("value") is None and target.get("averageValue") is None:
        errs.append(required(f"{path}.target.averageValue", "must set either a target value or averageValue"))
    return errs


def _external_source(src: dict, path: str) -> list[Cause]:
    target = as_dict(src.get("target"))
    errs = _metric_identifier(src.get("metric"), f"{path}.metric")
    errs += validate_metric_target(target, f"{path}.target")
    if target.get("value") is None and target.get("averageValue") is None:
        errs.append(required(f"{path}.target.averageValue",
                             "must set either a target value for metric or a per-pod target"))
    if target.get("value") is not None and target.get("averageValue") is not None:
        errs.append(forbidden(f"{path}.target.value",
                              "may not set both a target value for metric and a per-pod target"))
    return errs


_SOURCES = {
    "Object": ("object", _object_source),
    "Pods": ("pods", _pods_source),
    "Resource": ("resource", lambda s, p: _resource_source(s, p, container=False)),
    "External": ("external", _external_source),
    "ContainerResource": ("containerResource", lambda s, p: _resource_source(s, p, container=True)),
}


def validate_metric_spec(spec: dict, path: str) -> list[Cause]:
    errs: list[Cause] = []
    mtype = spec.get("type")
    if not mtype:
        errs.append(required(f"{path}.type", "must specify a metric source type"))
    if mtype not in METRIC_SOURCE_TYPES:
        errs.append(not_supported(f"{path}.type", mtype or "", METRIC_SOURCE_TYPES))
    present = []
    for field_name, check in _SOURCES.values():
        if isinstance(spec.get(field_name), dict):
            present.append(field_name)
            if len(present) == 1:
                errs += check(spec[field_name], f"{path}.{field_name}")
    expected = _SOURCES.get(mtype, ("", None))[0] if isinstance(mtype, str) else ""
    if expected and expected not in present:
        errs.append(required(f"{path}.{expected}", "must populate information for the given metric source"))
    if not expected:
        errs.append(not_supported(f"{path}.type", mtype or "", METRIC_SOURCE_TYPES))
    if len(present) != 1:
        for typ in sorted(set(present) - {expected}):
            errs.append(forbidden(f"{path}.{typ}", "must populate the given metric source only"))
    return errs


def validate_scaling_rules(rules: Any, path: str) -> list[Cause]:
    if not isinstance(rules, dict):
        return []
    errs: list[Cause] = []
    window = rules.get("stabilizationWindowSeconds")
    if is_int(window) and window < 0:
        errs.append(invalid(f"{path}.stabilizationWindowSeconds", window, "must be greater than or equal to zero"))
    if is_int(window) and window > MAX_STABILIZATION_WINDOW_SECONDS:
        errs.append(invalid(f"{path}.stabilizationWindowSeconds", window,
                            f"must be less than or equal to {MAX_STABILIZATION_WINDOW_SECONDS}"))
    sp = rules.get("selectPolicy")
    if sp is not None and sp not in SELECT_POLICIES:
        errs.append(not_supported(f"{path}.selectPolicy", sp, SELECT_POLICIES))
    policies = rules.get("policies")
    if not policies:
        errs.append(required(f"{path}.policies", "must specify at least one Policy"))
    for i, p in dict_items(policies):
        pp = index(f"{path}.policies", i)
        if p.get("type") not in POLICY_TYPES:
            errs.append(not_supported(f"{pp}.type", p.get("type") or "", POLICY_TYPES))
        value, period = p.get("value", 0), p.get("periodSeconds", 0)
        if is_int(value) and value <= 0:
            errs.append(invalid(f"{pp}.value", value, "must be greater than zero"))
        if is_int(period) and period <= 0:
            errs.append(invalid(f"{pp}.periodSeconds", period, "must be greater than zero"))
        if is_int(period) and period > MAX_PERIOD_SECONDS:
            errs.append(invalid(f"{pp}.periodSeconds", period, f"must be less than or equal to {MAX_PERIOD_SECONDS}"))
    tolerance = rules.get("tolerance")
    if tolerance is not None and not _non_negative_quantity(tolerance):
        errs.append(invalid(f"{path}.tolerance", tolerance, "must be greater than or equal to zero"))
    return errs


def _non_negative_quantity(value: Any) -> bool:
    try:
        return parse_quantity(value) >= 0
    except (ValueError, TypeError):
        return False


def validate_hpa_spec(spec: Any, path: str = "spec") -> list[Cause]:
    spec = as_dict(spec)
    errs: list[Cause] = []
    lo, hi = spec.get("minReplicas"), spec.get("maxReplicas", 0)
    if is_int(lo) and lo < MIN_REPLICAS_LOWER_BOUND:
        errs.append(invalid(f"{path}.minReplicas", lo,
                            f"must be greater than or equal to {MIN_REPLICAS_LOWER_BOUND}"))
    if is_int(hi) and hi < 1:
        errs.append(invalid(f"{path}.maxReplicas", hi, "must be greater than 0"))
    if is_int(lo) and is_int(hi) and hi < lo:
        errs.append(invalid(f"{path}.minReplicas", lo, "must be less than or equal to maxReplicas"))
    ref_errs = validate_cross_version_ref(spec.get("scaleTargetRef"), f"{path}.scaleTargetRef")
    if ref_errs:
        errs += ref_errs
    else:
        metrics_path = f"{path}.metrics"
        has_object_or_external = False
        for i, m in dict_items(spec.get("metrics")):
            errs += validate_metric_spec(m, index(metrics_path, i))
            has_object_or_external |= m.get("type") in ("Object", "External")
        if lo == 0 and not has_object_or_external:
            errs.append(forbidden(metrics_path, "must specify at least one Object or External metric to "
                                                "support scaling to zero replicas"))
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        errs += validate_scaling_rules(behavior.get("scaleUp"), f"{path}.behavior.scaleUp")
        errs += validate_scaling_rules(behavior.get("scaleDown"), f"{path}.behavior.scaleDown")
    return errs


def validate_hpa(obj: dict[str, Any], old: dict[str, Any] | None, subresource: str | None) -> list[Cause]:
    """``ValidateHorizontalPodAutoscaler`` (create/update) or the status update's checks."""
    if subresource == "status":
        status = as_dict(obj.get("status"))
        return (non_negative("status.currentReplicas", status.get("currentReplicas"))
                + non_negative("status.desiredReplicas", status.get("desiredReplicas")))
    return validate_hpa_spec(obj.get("spec"))
