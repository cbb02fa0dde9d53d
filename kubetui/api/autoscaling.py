"""HorizontalPodAutoscaler: its two served versions, the conversion between them, its defaults.

Upstream stores one internal HorizontalPodAutoscaler and serves it as
``autoscaling/v2`` (the storage and preferred version) and ``autoscaling/v1``.
v1 only knows a CPU utilization target; everything v2 adds (other metrics,
``behavior``, ``currentMetrics``, ``conditions``) travels through v1 in four
``autoscaling.alpha.kubernetes.io/…`` annotations, so a read-modify-write
through v1 (an old client's ``kubectl edit``) keeps a v2 object whole.
Upstream: ``pkg/apis/autoscaling/v1/conversion.go`` (the v1 metric shapes in
the annotations), ``pkg/apis/autoscaling/v2/defaults.go``
(``SetDefaults_HorizontalPodAutoscaler``, the behavior defaults) and
``pkg/apis/autoscaling/annotations.go``.

    >>> v2 = v1_to_v2({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
    ...                "metadata": {"name": "web"}, "spec": {"scaleTargetRef": {"kind": "Deployment",
    ...                "name": "web"}, "maxReplicas": 5, "targetCPUUtilizationPercentage": 50}})
    >>> v2["spec"]["metrics"][0]["resource"]["target"]
    {'type': 'Utilization', 'averageUtilization': 50}
"""

from __future__ import annotations

import copy
import json
from typing import Any

Obj = dict[str, Any]

V1 = "autoscaling/v1"
V2 = "autoscaling/v2"
KIND = "HorizontalPodAutoscaler"

METRIC_SPECS_ANNOTATION = "autoscaling.alpha.kubernetes.io/metrics"
METRIC_STATUSES_ANNOTATION = "autoscaling.alpha.kubernetes.io/current-metrics"
CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"
BEHAVIOR_ANNOTATION = "autoscaling.alpha.kubernetes.io/behavior"
ROUND_TRIP_ANNOTATIONS = (METRIC_SPECS_ANNOTATION, METRIC_STATUSES_ANNOTATION, CONDITIONS_ANNOTATION,
                          BEHAVIOR_ANNOTATION)

#: autoscaling/v1's implicit target, made explicit since v2 (``autoscaling.DefaultCPUUtilization``).
DEFAULT_CPU_UTILIZATION = 80


# -- defaults (pkg/apis/autoscaling/v2/defaults.go) ----------------------------------

def default_scale_up_rules() -> Obj:
    """Scale up at most by 4 pods or 100% per 15 s, whichever is more, without stabilization."""
    return {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
            "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                         {"type": "Percent", "value": 100, "periodSeconds": 15}]}


def default_scale_down_rules() -> Obj:
    """Scale down by up to 100% per 15 s; the window is left unset: the controller's flag decides (300 s)."""
    return {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}


def _merge_rules(given: Any, defaults: Obj) -> Obj:
    """``copyHPAScalingRules``: every field the user set wins, the others come from the defaults."""
    if not isinstance(given, dict):
        return defaults
    out = dict(defaults)
    for f in ("selectPolicy", "stabilizationWindowSeconds", "policies", "tolerance"):
        if given.get(f) is not None:
            out[f] = given[f]
    return out


def default_hpa(hpa: Obj) -> None:
    """``SetDefaults_HorizontalPodAutoscaler`` (v2): minReplicas 1, 80% CPU if no metric, behavior filled in."""
    spec = hpa.get("spec")
    if not isinstance(spec, dict):
        return
    if spec.get("minReplicas") is None:
        spec["minReplicas"] = 1
    if not spec.get("metrics"):
        spec["metrics"] = [_cpu_utilization_metric(DEFAULT_CPU_UTILIZATION)]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        behavior["scaleUp"] = _merge_rules(behavior.get("scaleUp"), default_scale_up_rules())
        behavior["scaleDown"] = _merge_rules(behavior.get("scaleDown"), default_scale_down_rules())


def _cpu_utilization_metric(percent: int) -> Obj:
    return {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                       "averageUtilization": percent}}}


# -- v1 metric shapes (the annotations hold autoscaling/v1's MetricSpec/MetricStatus) --

def _metric_v2_to_v1(m: Obj) -> Obj:
    """``Convert_autoscaling_MetricSpec_To_v1_MetricSpec``: v2's target structs flattened to v1's fields."""
    out: Obj = {"type": m.get("type")}
    t = m.get("type")
    if t == "Resource" and isinstance(m.get("resource"), dict):
        r, tg = m["resource"], m["resource"].get("target") or {}
        out["resource"] = _drop_none({"name": r.get("name"), "targetAverageUtilization": tg.get("averageUtilization"),
                                      "targetAverageValue": tg.get("averageValue")})
    elif t == "ContainerResource" and isinstance(m.get("containerResource"), dict):
        r, tg = m["containerResource"], m["containerResource"].get("target") or {}
        out["containerResource"] = _drop_none({
            "name": r.get("name"), "container": r.get("container"),
            "targetAverageUtilization": tg.get("averageUtilization"), "targetAverageValue": tg.get("averageValue")})
    elif t == "Pods" and isinstance(m.get("pods"), dict):
        p = m["pods"]
        metric, tg = p.get("metric") or {}, p.get("target") or {}
        out["pods"] = _drop_none({"metricName": metric.get("name"), "selector": metric.get("selector"),
                                  "targetAverageValue": tg.get("averageValue")})
    elif t == "Object" and isinstance(m.get("object"), dict):
        o = m["object"]
        metric, tg = o.get("metric") or {}, o.get("target") or {}
        out["object"] = _drop_none({"target": o.get("describedObject"), "metricName": metric.get("name"),
                                    "selector": metric.get("selector"), "targetValue": tg.get("value"),
                                    "averageValue": tg.get("averageValue")})
    elif t == "External" and isinstance(m.get("external"), dict):
        e = m["external"]
        metric, tg = e.get("metric") or {}, e.get("target") or {}
        out["external"] = _drop_none({"metricName": metric.get("name"), "metricSelector": metric.get("selector"),
                                      "targetValue": tg.get("value"), "targetAverageValue": tg.get("averageValue")})
    return out


def _target(value: Any = None, average_value: Any = None, utilization: Any = None) -> Obj:
    """A v2 MetricTarget; its type follows from which field v1 set (as upstream's conversion picks it)."""
    if utilization is not None:
        return {"type": "Utilization", "averageUtilization": utilization}
    if average_value is not None:
        return {"type": "AverageValue", "averageValue": average_value}
    return _drop_none({"type": "Value", "value": value})


def _metric_v1_to_v2(m: Obj) -> Obj:
    out: Obj = {"type": m.get("type")}
    t = m.get("type")
    if t == "Resource" and isinstance(m.get("resource"), dict):
        r = m["resource"]
        out["resource"] = {"name": r.get("name"), "target": _target(
            average_value=r.get("targetAverageValue"), utilization=r.get("targetAverageUtilization"))}
    elif t == "ContainerResource" and isinstance(m.get("containerResource"), dict):
        r = m["containerResource"]
        out["containerResource"] = {"name": r.get("name"), "container": r.get("container"), "target": _target(
            average_value=r.get("targetAverageValue"), utilization=r.get("targetAverageUtilization"))}
    elif t == "Pods" and isinstance(m.get("pods"), dict):
        p = m["pods"]
        out["pods"] = {"metric": _drop_none({"name": p.get("metricName"), "selector": p.get("selector")}),
                       "target": _target(average_value=p.get("targetAverageValue"))}
    elif t == "Object" and isinstance(m.get("object"), dict):
        o = m["object"]
        out["object"] = {"describedObject": o.get("target"),
                         "metric": _drop_none({"name": o.get("metricName"), "selector": o.get("selector")}),
                         "target": _target(value=o.get("targetValue"), average_value=o.get("averageValue"))}
    elif t == "External" and isinstance(m.get("external"), dict):
        e = m["external"]
        out["external"] = {"metric": _drop_none({"name": e.get("metricName"), "selector": e.get("metricSelector")}),
                           "target": _target(value=e.get("targetValue"),
                                             average_value=e.get("targetAverageValue"))}
    return out


def _status_v2_to_v1(s: Obj) -> Obj:
    out: Obj = {"type": s.get("type")}
    t = s.get("type")
    if t in ("Resource", "ContainerResource") and isinstance(s.get(_field(t)), dict):
        r = s[_field(t)]
        cur = r.get("current") or {}
        out[_field(t)] = _drop_none({"name": r.get("name"), "container": r.get("container"),
                                     "currentAverageUtilization": cur.get("averageUtilization"),
                                     "currentAverageValue": cur.get("averageValue")})
    elif t == "Pods" and isinstance(s.get("pods"), dict):
        p = s["pods"]
        metric, cur = p.get("metric") or {}, p.get("current") or {}
        out["pods"] = _drop_none({"metricName": metric.get("name"), "selector": metric.get("selector"),
                                  "currentAverageValue": cur.get("averageValue")})
    elif t == "Object" and isinstance(s.get("object"), dict):
        o = s["object"]
        metric, cur = o.get("metric") or {}, o.get("current") or {}
        out["object"] = _drop_none({"target": o.get("describedObject"), "metricName": metric.get("name"),
                                    "selector": metric.get("selector"), "currentValue": cur.get("value"),
                                    "averageValue": cur.get("averageValue")})
    elif t == "External" and isinstance(s.get("external"), dict):
        e = s["external"]
        metric, cur = e.get("metric") or {}, e.get("current") or {}
        out["external"] = _drop_none({"metricName": metric.get("name"), "metricSelector": metric.get("selector"),
                                      "currentValue": cur.get("value"),
                                      "currentAverageValue": cur.get("averageValue")})
    return out


def _status_v1_to_v2(s: Obj) -> Obj:
    out: Obj = {"type": s.get("type")}
    t = s.get("type")
    if t in ("Resource", "ContainerResource") and isinstance(s.get(_field(t)), dict):
        r = s[_field(t)]
        out[_field(t)] = _drop_none({"name": r.get("name"), "container": r.get("container"), "current": _drop_none({
            "averageUtilization": r.get("currentAverageUtilization"), "averageValue": r.get("currentAverageValue")})})
    elif t == "Pods" and isinstance(s.get("pods"), dict):
        p = s["pods"]
        out["pods"] = {"metric": _drop_none({"name": p.get("metricName"), "selector": p.get("selector")}),
                       "current": _drop_none({"averageValue": p.get("currentAverageValue")})}
    elif t == "Object" and isinstance(s.get("object"), dict):
        o = s["object"]
        out["object"] = {"describedObject": o.get("target"),
                         "metric": _drop_none({"name": o.get("metricName"), "selector": o.get("selector")}),
                         "current": _drop_none({"value": o.get("currentValue"),
                                                "averageValue": o.get("averageValue")})}
    elif t == "External" and isinstance(s.get("external"), dict):
        e = s["external"]
        out["external"] = {"metric": _drop_none({"name": e.get("metricName"), "selector": e.get("metricSelector")}),
                           "current": _drop_none({"value": e.get("currentValue"),
                                                  "averageValue": e.get("currentAverageValue")})}
    return out


def _field(metric_type: str) -> str:
    return metric_type[:1].lower() + metric_type[1:]


def _drop_none(d: Obj) -> Obj:
    return {k: v for k, v in d.items() if v is not None}


# Behavior goes into its annotation as Go marshals the *internal* type, which has no
# JSON tags: field names keep their Go capitals ({"ScaleUp":{"StabilizationWindowSeconds":0,…}}).
_GO_RULES = (("stabilizationWindowSeconds", "StabilizationWindowSeconds"), ("selectPolicy", "SelectPolicy"),
             ("policies", "Policies"), ("tolerance", "Tolerance"))
_GO_POLICY = (("type", "Type"), ("value", "Value"), ("periodSeconds", "PeriodSeconds"))


def _behavior_to_go(behavior: Obj) -> Obj:
    out: Obj = {}
    for json_name, go_name in (("scaleUp", "ScaleUp"), ("scaleDown", "ScaleDown")):
        rules = behavior.get(json_name)
        if not isinstance(rules, dict):
            out[go_name] = None
            continue
        r: Obj = {}
        for j, g in _GO_RULES:
            if j == "policies":
                r[g] = [{gp: p.get(jp) for jp, gp in _GO_POLICY} for p in rules.get(j) or [] if isinstance(p, dict)]
            elif j in rules:
                r[g] = rules[j]
            elif j != "tolerance":
                r[g] = None
        out[go_name] = r
    return out


def _behavior_from_go(data: Any) -> Obj | None:
    """Go's ``json.Unmarshal`` matches field names case-insensitively, so both spellings read back."""
    if not isinstance(data, dict):
        return None
    lower = {k.lower(): v for k, v in data.items()}
    out: Obj = {}
    for json_name in ("scaleUp", "scaleDown"):
        rules = lower.get(json_name.lower())
        if not isinstance(rules, dict):
            continue
        rl = {k.lower(): v for k, v in rules.items()}
        r: Obj = {}
        for j, _ in _GO_RULES:
            v = rl.get(j.lower())
            if v is None:
                continue
            if j == "policies":
                v = [{jp: {k.lower(): x for k, x in p.items()}.get(jp.lower()) for jp, _ in _GO_POLICY}
                     for p in v if isinstance(p, dict)]
            r[j] = v
        out[json_name] = r
    return out or None


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


# -- conversion ------------------------------------------------------------------

def v2_to_v1(obj: Obj) -> Obj:
    """The stored (v2) object as ``autoscaling/v1`` shows it: CPU target in the spec, the rest in annotations."""
    if not isinstance(obj, dict) or obj.get("apiVersion") == V1:
        return obj
    src = copy.deepcopy(obj)
    spec = src.get("spec") if isinstance(src.get("spec"), dict) else {}
    status = src.get("status") if isinstance(src.get("status"), dict) else None
    meta = src.get("metadata") if isinstance(src.get("metadata"), dict) else {}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in ROUND_TRIP_ANNOTATIONS}

    out_spec: Obj = {k: spec[k] for k in ("scaleTargetRef", "minReplicas", "maxReplicas") if k in spec}
    other = []
    for m in spec.get("metrics") or []:
        if not isinstance(m, dict):
            continue
        r = m.get("resource") if m.get("type") == "Resource" else None
        if isinstance(r, dict) and r.get("name") == "cpu" and (r.get("target") or {}).get("averageUtilization") is not None:
            out_spec.setdefault("targetCPUUtilizationPercentage", r["target"]["averageUtilization"])
            continue
        other.append(_metric_v2_to_v1(m))
    if other:
        annotations[METRIC_SPECS_ANNOTATION] = _json(other)
    if isinstance(spec.get("behavior"), dict):
        annotations[BEHAVIOR_ANNOTATION] = _json(_behavior_to_go(spec["behavior"]))
    out: Obj = {"apiVersion": V1, "kind": src.get("kind", KIND), "metadata": meta, "spec": out_spec}
    if status is not None:
        out_status: Obj = {k: status[k] for k in ("observedGeneration", "lastScaleTime") if k in status}
        # v1's replica counts are not omitempty: they are always there, 0 until the controller writes them.
        out_status["currentReplicas"] = status.get("currentReplicas", 0)
        out_status["desiredReplicas"] = status.get("desiredReplicas", 0)
        current = [s for s in status.get("currentMetrics") or [] if isinstance(s, dict)]
        for s in current:
            r = s.get("resource") if s.get("type") == "Resource" else None
            if isinstance(r, dict) and r.get("name") == "cpu" and (r.get("current") or {}).get(
                    "averageUtilization") is not None:
                out_status["currentCPUUtilizationPercentage"] = r["current"]["averageUtilization"]
        if current:
            annotations[METRIC_STATUSES_ANNOTATION] = _json([_status_v2_to_v1(s) for s in current])
        conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
        if conditions:
            annotations[CONDITIONS_ANNOTATION] = _json(conditions)
        out["status"] = out_status
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    return out


def _load(annotations: dict, key: str) -> Any:
    """An annotation's JSON, or None when absent or unreadable (upstream ignores a bad one)."""
    try:
        return json.loads(annotations[key]) if key in annotations else None
    except (TypeError, ValueError):
        return None


def v1_to_v2(obj: Obj) -> Obj:
    """An ``autoscaling/v1`` object as stored (v2): annotations lifted back into spec and status, then dropped."""
    if not isinstance(obj, dict) or obj.get("apiVersion") != V1:
        return obj
    src = copy.deepcopy(obj)
    spec = src.get("spec") if isinstance(src.get("spec"), dict) else {}
    meta = src.get("metadata") if isinstance(src.get("metadata"), dict) else {}
    annotations = meta.get("annotations") if isinstance(meta.get("annotations"), dict) else {}

    out_spec: Obj = {k: spec[k] for k in ("scaleTargetRef", "minReplicas", "maxReplicas") if k in spec}
    metrics: list[Obj] = []
    other = _load(annotations, METRIC_SPECS_ANNOTATION)
    if isinstance(other, list):
        metrics += [_metric_v1_to_v2(m) for m in other if isinstance(m, dict)]
    if spec.get("targetCPUUtilizationPercentage") is not None:
        metrics.append(_cpu_utilization_metric(spec["targetCPUUtilizationPercentage"]))
    if not metrics:
        # v1's implicit default, applied here where all the metrics are known.
        metrics = [_cpu_utilization_metric(DEFAULT_CPU_UTILIZATION)]
    out_spec["metrics"] = metrics
    behavior = _behavior_from_go(_load(annotations, BEHAVIOR_ANNOTATION))
    if behavior:
        out_spec["behavior"] = behavior
    out: Obj = {"apiVersion": V2, "kind": src.get("kind", KIND), "metadata": meta, "spec": out_spec}
    status = src.get("status")
    if isinstance(status, dict):
        out_status: Obj = {k: status[k] for k in ("observedGeneration", "lastScaleTime", "currentReplicas",
                                                  "desiredReplicas") if k in status}
        current = _load(annotations, METRIC_STATUSES_ANNOTATION)
        if isinstance(current, list):
            out_status["currentMetrics"] = [_status_v1_to_v2(s) for s in current if isinstance(s, dict)]
        elif status.get("currentCPUUtilizationPercentage") is not None:
            out_status["currentMetrics"] = [{"type": "Resource", "resource": {
                "name": "cpu", "current": {"averageUtilization": status["currentCPUUtilizationPercentage"]}}}]
        conditions = _load(annotations, CONDITIONS_ANNOTATION)
        if isinstance(conditions, list):
            out_status["conditions"] = [c for c in conditions if isinstance(c, dict)]
        out["status"] = out_status
    kept = {k: v for k, v in annotations.items() if k not in ROUND_TRIP_ANNOTATIONS}
    if kept:
        meta["annotations"] = kept
    else:
        meta.pop("annotations", None)
    return out


def to_storage(obj: Obj) -> Obj:
    """Any served version -> the stored v2 object (v2 passes through)."""
    return v1_to_v2(obj)
