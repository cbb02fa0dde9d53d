"""What every printer shares: ``HumanDuration``, the NAME and AGE columns, label formatting.

Upstream: ``k8s.io/apimachinery/pkg/util/duration`` (``HumanDuration``),
``pkg/printers/internalversion/printers.go`` (``translateTimestampSince``,
``layoutContainerCells``), ``labels.FormatLabels`` and
``metav1.FormatLabelSelector``. Pure: the caller passes ``now`` (epoch
seconds), so the API server, the TUI and table tests print the same AGE.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

NAME_DESC = ("Name must be unique within a namespace. Is required when creating resources, although "
             "some resources may allow a client to request the generation of an appropriate name "
             "automatically. Name is primarily intended for creation idempotence and configuration "
             "definition. Cannot be updated. More info: "
             "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")
AGE_DESC = ("CreationTimestamp is a timestamp representing the server time when this object was "
            "created. It is not guaranteed to be set in happens-before order across separate operations. "
            "Clients may not set this value. It is represented in RFC3339 form and is in UTC.")


def parse_time(ts: str | None) -> float | None:
    """Epoch seconds from a Kubernetes ``Time``/``MicroTime`` (``2024-01-01T10:00:00Z``); None if unset or bad."""
    if not ts:
        return None
    try:
        return _dt.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def human_duration(seconds: float) -> str:
    """``duration.HumanDuration`` from apimachinery: ``45s``, ``5m2s``, ``3h10m``, ``3d4h``, ``2y3d``.

    Go truncates the seconds toward zero first, so -1.9 s is ``0s`` and only
    a clock skew beyond a second prints ``<invalid>``.

    >>> human_duration(302), human_duration(3 * 86400 + 4 * 3600)
    ('5m2s', '3d4h')
    """
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        sec = s % 60
        return f"{minutes}m" if sec == 0 else f"{minutes}m{sec}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def since(ts: str | None, now: float) -> str:
    """``translateTimestampSince``: ``<unknown>`` for a missing timestamp."""
    t = parse_time(ts)
    return "<unknown>" if t is None else human_duration(now - t)


def age(obj: dict, now: float) -> str:
    """The AGE cell: time since ``metadata.creationTimestamp``."""
    return since((obj.get("metadata") or {}).get("creationTimestamp"), now)


def col(name: str, type_: str = "string", *, priority: int = 0, fmt: str = "", desc: str = "") -> dict:
    """One ``TableColumnDefinition``; ``priority: 1`` columns show only with ``-o wide``."""
    return {"name": name, "type": type_, "format": fmt, "description": desc, "priority": priority}


NAME_COL = col("Name", fmt="name", desc=NAME_DESC)
AGE_COL = col("Age", desc=AGE_DESC)


def none_if_empty(value: Any) -> str:
    return str(value) if value not in (None, "", []) else "<none>"


def format_labels(labels: dict[str, str] | None) -> str:
    """``labels.FormatLabels``: sorted ``k=v`` joined by commas, ``<none>`` if empty."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def format_label_selector(sel: dict | None) -> str:
    """``metav1.FormatLabelSelector``: ``app=web,tier in (a,b)``; ``<none>`` if empty."""
    if not sel:
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for expr in sel.get("matchExpressions") or []:
        op, key, vals = expr.get("operator"), expr.get("key"), expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(vals)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(vals)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts) if parts else "<none>"


def layout_container_cells(template: dict | None) -> tuple[str, str]:
    """``layoutContainerCells``: the template's container names and images, comma-joined."""
    cs = ((template or {}).get("spec") or {}).get("containers") or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


WORKLOAD_WIDE = [
    col("Containers", priority=1, desc="Names of each container in the template."),
    col("Images", priority=1, desc="Images referenced by each container in the template."),
    col("Selector", priority=1, desc="Label selector for pods."),
]
