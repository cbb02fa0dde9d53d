"""HorizontalPodAutoscalers in the TUI: ``kubectl describe hpa``, and the metric against its target over time.

Upstream: ``describeHorizontalPodAutoscalerV2`` in kubectl/pkg/describe/describe.go
(the ``Metrics: ( current / target )`` block, min/max, ``<Kind> pods: N current
/ M desired``, behavior, conditions). kubectl shows one moment; the detail
screen also keeps what the watch delivered (``MetricHistory``, client-side, as
``kubectl get hpa -w`` would print it line after line) and draws it as a
sparkline beside the target, so a learner sees usage rise, the replicas follow
and usage fall back toward the target.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], top: float | None = None) -> str:
    """One block per value, scaled to ``top`` (default: the largest value).

    >>> sparkline([0, 50, 100, 150], top=150)
    '▁▃▆█'
    """
    if not values:
        return ""
    top = max(top or 0, *values) or 1
    return "".join(BLOCKS[min(len(BLOCKS) - 1, int(v / top * (len(BLOCKS) - 1) + 0.5))] for v in values)


def _first_metric(hpa: Obj) -> tuple[str, Obj, Obj]:
    """The first metric's name, spec and current status (what TARGETS shows first)."""
    spec = (hpa.get("spec") or {}).get("metrics") or [{}]
    status = (hpa.get("status") or {}).get("currentMetrics") or [{}]
    m, s = spec[0] or {}, status[0] or {}
    field = "containerResource" if m.get("type") == "ContainerResource" else "resource"
    return ((m.get(field) or {}).get("name") or m.get("type") or "metric", (m.get(field) or {}).get("target") or {},
            (s.get(field) or {}).get("current") or {})


@dataclass(frozen=True)
class Sample:
    time: float
    current: float | None   # % of request for a Utilization target, else millis
    target: float | None
    replicas: int


class MetricHistory:
    """The samples of one HPA, one per status the watch delivered (bounded)."""

    def __init__(self, size: int = 60) -> None:
        self.samples: deque[Sample] = deque(maxlen=size)
        self._last_rv: str | None = None

    def record(self, hpa: Obj, now: float) -> None:
        rv = (hpa.get("metadata") or {}).get("resourceVersion")
        if rv is not None and rv == self._last_rv:
            return
        self._last_rv = rv
        _, target, current = _first_metric(hpa)
        if target.get("averageUtilization") is not None:
            cur, tgt = current.get("averageUtilization"), target["averageUtilization"]
        else:
            from kubetui.api.quantity import quantity_millis
            cur = quantity_millis(current["averageValue"]) if current.get("averageValue") is not None else None
            tgt = quantity_millis(target["averageValue"]) if target.get("averageValue") is not None else None
        self.samples.append(Sample(now, cur, tgt, int((hpa.get("status") or {}).get("currentReplicas") or 0)))

    def text(self, hpa: Obj) -> str:
        """``cpu  ▁▂▅██▆▃  150% now, target 50%`` and the replicas under it."""
        name, target, _ = _first_metric(hpa)
        known = [s for s in self.samples if s.current is not None]
        if not known:
            return f"History:  no {name} measurement yet (the HPA controller reads metrics.k8s.io every sync)\n"
        pct = target.get("averageUtilization") is not None
        unit = "%" if pct else "m"
        tgt = known[-1].target
        top = max([s.current for s in known] + [tgt or 0])
        line = sparkline([s.current for s in known], top)
        marker = ""
        if tgt:
            level = BLOCKS[min(len(BLOCKS) - 1, int(tgt / top * (len(BLOCKS) - 1) + 0.5))]
            marker = f"  (target {tgt:g}{unit} = {level})"
        reps = [s.replicas for s in known]
        return (f"History ({len(known)} samples, oldest first):\n"
                f"  {name:<9}{line}  {known[-1].current:g}{unit} now{marker}\n"
                f"  {'replicas':<9}{sparkline(reps, max(reps))}  {reps[-1]} now\n")


def _metric_lines(hpa: Obj) -> list[tuple[str, str]]:
    specs = (hpa.get("spec") or {}).get("metrics") or []
    statuses = (hpa.get("status") or {}).get("currentMetrics") or []
    out = []
    for i, m in enumerate(specs):
        mtype = m.get("type")
        field = "containerResource" if mtype == "ContainerResource" else "resource"
        src = m.get(field) or {}
        cur = ((statuses[i] if i < len(statuses) else {}).get(field) or {}).get("current") or {}
        target = src.get("target") or {}
        if mtype not in ("Resource", "ContainerResource"):
            out.append((f"{mtype} metric", "<unknown> / <unknown>"))
            continue
        where = f"resource {src.get('name')} of container \"{src.get('container')}\" on pods" \
            if mtype == "ContainerResource" else f"resource {src.get('name')} on pods"
        if target.get("averageValue") is not None:
            current = cur.get("averageValue") or "<unknown>"
            out.append((where, f"{current} / {target['averageValue']}"))
        else:
            current = "<unknown>"
            if cur.get("averageUtilization") is not None:
                current = f"{cur['averageUtilization']}% ({cur.get('averageValue', '0')})"
            out.append((f"{where}  (as a percentage of request)", f"{current} / {target.get('averageUtilization')}%"))
    return out


def _rules(name: str, rules: Obj | None, w: Any) -> None:
    if not rules:
        return
    w.line(f"{name}:", 2)
    if rules.get("stabilizationWindowSeconds") is not None:
        w.line(f"Stabilization Window: {rules['stabilizationWindowSeconds']} seconds", 4)
    w.line(f"Select Policy: {rules.get('selectPolicy', 'Max')}", 4)
    w.line("Policies:", 4)
    for p in rules.get("policies") or []:
        w.line(f"- Type: {p.get('type'):<8} Value: {p.get('value'):<4} Period: {p.get('periodSeconds')} seconds", 6)


def describe_hpa(hpa: Obj, w: Any) -> None:
    """``describeHorizontalPodAutoscalerV2``."""
    md, spec, status = hpa.get("metadata") or {}, hpa.get("spec") or {}, hpa.get("status") or {}
    metrics = _metric_lines(hpa)
    ref = spec.get("scaleTargetRef") or {}
    width = max([len("CreationTimestamp") + 2] + [len(k) + 4 for k, _ in metrics]) + 1
    w.kv("Name", md.get("name"), width=width)
    w.kv("Namespace", md.get("namespace"), width=width)
    for key, d in (("Labels", md.get("labels")), ("Annotations", md.get("annotations"))):
        items = list((d or {}).items()) or [("", "")]
        w.kv(key, f"{items[0][0]}={items[0][1]}" if items[0][0] else "<none>", width=width)
        for k, v in items[1:]:
            w.line(f"{'':<{width}}{k}={v}")
    w.kv("CreationTimestamp", md.get("creationTimestamp"), width=width)
    w.kv("Reference", f"{ref.get('kind')}/{ref.get('name')}", width=width)
    w.kv("Metrics", "( current / target )", width=width)
    for k, v in metrics:
        w.line(f"{k + ':':<{width - 2}}{v}", 2)
    w.kv("Min replicas", spec.get("minReplicas", 1), width=width)
    w.kv("Max replicas", spec.get("maxReplicas"), width=width)
    if spec.get("behavior"):
        w.line("Behavior:")
        _rules("Scale Up", spec["behavior"].get("scaleUp"), w)
        _rules("Scale Down", spec["behavior"].get("scaleDown"), w)
    w.kv(f"{ref.get('kind')} pods", f"{status.get('currentReplicas', 0)} current / "
                                    f"{status.get('desiredReplicas', 0)} desired", width=width)
    conds = status.get("conditions") or []
    if conds:
        w.line("Conditions:")
        tw = max(len(c.get("type", "")) for c in conds) + 2
        rw = max(len(c.get("reason", "")) for c in conds) + 2
        w.line(f"{'Type':<{tw}}{'Status':<8}{'Reason':<{rw}}Message", 2)
        w.line(f"{'----':<{tw}}{'------':<8}{'------':<{rw}}-------", 2)
        for c in conds:
            w.line(f"{c.get('type', ''):<{tw}}{c.get('status', ''):<8}{c.get('reason', ''):<{rw}}"
                   f"{c.get('message', '')}", 2)
