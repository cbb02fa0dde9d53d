"""Printer for HorizontalPodAutoscalers: ``kubectl get hpa``.

Upstream: ``printHorizontalPodAutoscaler`` and ``formatHPAMetrics`` in
``pkg/printers/internalversion/printers.go``. TARGETS shows each metric as
``current/target``, prefixed by the resource's name (``cpu: 73%/50%``), with
``<unknown>`` until the controller has measured it; after two metrics the
rest is summarised (``+ 1 more...``). An ``autoscaling/v1`` object (a watch
or list through v1) is printed as the stored v2 object it converts to.
"""

from __future__ import annotations

from typing import Any

from kubetui.api.autoscaling import V1, v1_to_v2
from kubetui.api.printers.common import AGE_COL, NAME_COL, age, col
from kubetui.api.quantity import format_quantity

HPA_COLUMNS = [
    NAME_COL,
    col("Reference", desc="scaleTargetRef points to the target resource to scale, and is used to the pods for "
                          "which metrics should be collected, as well as to actually change the replica count."),
    col("Targets", desc="metrics contains the specifications for which to use to calculate the desired replica "
                        "count (the maximum replica count across all metrics will be used).  The desired replica "
                        "count is calculated multiplying the ratio between the target value and the current value "
                        "by the current number of pods.  Ergo, metrics used must decrease as the pod count is "
                        "increased, and vice-versa.  See the individual metric source types for more information "
                        "about how each type of metric must respond. If not set, the default metric will be set "
                        "to 80% average CPU utilization."),
    col("MinPods", desc="minReplicas is the lower limit for the number of replicas to which the autoscaler can "
                        "scale down.  It defaults to 1 pod.  minReplicas is allowed to be 0 if the alpha feature "
                        "gate HPAScaleToZero is enabled and at least one Object or External metric is configured.  "
                        "Scaling is active as long as at least one metric value is available."),
    col("MaxPods", "integer", desc="maxReplicas is the upper limit for the number of replicas to which the "
                                   "autoscaler can scale up. It cannot be less that minReplicas."),
    col("Replicas", "integer", desc="currentReplicas is current number of replicas of pods managed by this "
                                    "autoscaler, as last seen by the autoscaler."),
    AGE_COL,
]

UNKNOWN = "<unknown>"


def _q(value: Any) -> str:
    """``Quantity.String()``: the canonical form."""
    try:
        return format_quantity(value)
    except (ValueError, TypeError):
        return str(value)


def _sub(d: Any, *path: str) -> Any:
    for p in path:
        if not isinstance(d, dict):
            return None
        d = d.get(p)
    return d


def format_hpa_metrics(specs: list | None, statuses: list | None) -> str:
    """``formatHPAMetrics``: one ``current/target`` per metric, the current value matched by index."""
    if not specs:
        return "<none>"
    statuses = statuses or []
    out: list[str] = []
    for i, spec in enumerate(specs):
        status = statuses[i] if i < len(statuses) and isinstance(statuses[i], dict) else {}
        t = (spec or {}).get("type")
        if t in ("External", "Object"):
            f = t.lower()
            avg = _sub(spec, f, "target", "averageValue")
            if avg is not None:
                cur = _sub(status, f, "current", "averageValue")
                out.append(f"{_q(cur) if cur is not None else UNKNOWN}/{_q(avg)} (avg)")
            else:
                cur = _sub(status, f, "current", "value") if isinstance(status.get(f), dict) else None
                cur_s = (_q(cur) if cur is not None else "0") if isinstance(status.get(f), dict) else UNKNOWN
                out.append(f"{cur_s}/{_q(_sub(spec, f, 'target', 'value') or 0)}")
        elif t == "Pods":
            cur_s = UNKNOWN
            if isinstance(status.get("pods"), dict):
                cur_s = _q(_sub(status, "pods", "current", "averageValue") or 0)
            out.append(f"{cur_s}/{_q(_sub(spec, 'pods', 'target', 'averageValue') or 0)}")
        elif t in ("Resource", "ContainerResource"):
            f = "resource" if t == "Resource" else "containerResource"
            name = _sub(spec, f, "name") or ""
            avg = _sub(spec, f, "target", "averageValue")
            if avg is not None:
                cur_s = UNKNOWN
                if isinstance(status.get(f), dict):
                    cur_s = _q(_sub(status, f, "current", "averageValue") or 0)
                out.append(f"{name}: {cur_s}/{_q(avg)}")
            else:
                util = _sub(status, f, "current", "averageUtilization")
                cur_s = f"{util}%" if util is not None else UNKNOWN
                target = _sub(spec, f, "target", "averageUtilization")
                target_s = f"{target}%" if target is not None else "<auto>"
                out.append(f"{name}: {cur_s}/{target_s}")
        else:
            out.append("<unknown type>")
    if len(out) > 2:
        return f"{', '.join(out[:2])} + {len(out) - 2} more..."
    return ", ".join(out)


def hpa_row(hpa: dict, now: float) -> list[Any]:
    if hpa.get("apiVersion") == V1:
        hpa = v1_to_v2(hpa)
    spec, status = hpa.get("spec") or {}, hpa.get("status") or {}
    ref = spec.get("scaleTargetRef") or {}
    min_pods = spec.get("minReplicas")
    return [hpa["metadata"].get("name", ""), f"{ref.get('kind', '')}/{ref.get('name', '')}",
            format_hpa_metrics(spec.get("metrics"), status.get("currentMetrics")),
            str(min_pods) if min_pods is not None else "<unset>", spec.get("maxReplicas", 0),
            status.get("currentReplicas", 0), age(hpa, now)]
