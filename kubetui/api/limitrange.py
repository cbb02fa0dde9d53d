"""LimitRange arithmetic: the defaults a LimitRange gives containers, and the limits it enforces.

Upstream: ``plugin/pkg/admission/limitranger/admission.go``
(``defaultContainerResourceRequirements``, ``mergeContainerResources``,
``PodValidateLimitFunc``, ``minConstraint``, ``maxConstraint``,
``limitRequestRatioConstraint``, ``PersistentVolumeClaimValidateLimitFunc``).
The API server's LimitRanger admission plugin runs these on every new pod
and claim: first the defaults (a container that states no cpu limit gets
the range's ``default``, no cpu request gets its ``defaultRequest``), then
the checks, whose messages are upstream's word for word, e.g.
``maximum cpu usage per Container is 1, but limit is 2``.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from kubetui.api.quantity import format_quantity, parse_quantity

Obj = dict[str, Any]
ANNOTATION = "kubernetes.io/limit-ranger"


def _q(value: Any) -> Fraction:
    try:
        return parse_quantity(value)
    except (ValueError, TypeError):
        return Fraction(0)


def _s(value: Any) -> str:
    """``Quantity.String()``: the canonical form."""
    try:
        return format_quantity(value)
    except (ValueError, TypeError):
        return str(value)


def _items(lr: Obj, type_: str) -> list[Obj]:
    return [i for i in ((lr.get("spec") or {}).get("limits") or []) if isinstance(i, dict) and i.get("type") == type_]


def default_requirements(lr: Obj) -> tuple[dict[str, Any], dict[str, Any]]:
    """``defaultContainerResourceRequirements``: (requests, limits) from the Container items."""
    requests: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    for item in _items(lr, "Container"):
        requests.update(item.get("defaultRequest") or {})
        limits.update(item.get("default") or {})
    return requests, limits


def apply_defaults(pod: Obj, ranges: list[Obj]) -> None:
    """``PodMutateLimitFunc`` for each LimitRange: fill what containers omit, and say so in the
    ``kubernetes.io/limit-ranger`` annotation (``LimitRanger plugin set: cpu request for container app``)."""
    spec = pod.get("spec") or {}
    for lr in ranges:
        requests, limits = default_requirements(lr)
        notes: list[str] = []
        for prefix, key in (("container", "containers"), ("init container", "initContainers")):
            for c in spec.get(key) or []:
                if not isinstance(c, dict):
                    continue
                res = c.setdefault("resources", {})
                set_limits = [k for k in sorted(limits) if k not in (res.get("limits") or {})]
                set_requests = [k for k in sorted(requests) if k not in (res.get("requests") or {})]
                for k in set_limits:
                    res.setdefault("limits", {})[k] = limits[k]
                for k in set_requests:
                    res.setdefault("requests", {})[k] = requests[k]
                if set_requests:
                    notes.append(f"{', '.join(set_requests)} request for {prefix} {c.get('name', '')}")
                if set_limits:
                    notes.append(f"{', '.join(set_limits)} limit for {prefix} {c.get('name', '')}")
        if notes:
            pod.setdefault("metadata", {}).setdefault("annotations", {})[ANNOTATION] = (
                "LimitRanger plugin set: " + "; ".join(notes))


def min_constraint(kind: str, name: str, enforced: Any, request: dict, limit: dict) -> str | None:
    if name not in request:
        return f"minimum {name} usage per {kind} is {_s(enforced)}.  No request is specified"
    if _q(request[name]) < _q(enforced):
        return f"minimum {name} usage per {kind} is {_s(enforced)}, but request is {_s(request[name])}"
    if name in limit and _q(limit[name]) < _q(enforced):
        return f"minimum {name} usage per {kind} is {_s(enforced)}, but limit is {_s(limit[name])}"
    return None


def max_constraint(kind: str, name: str, enforced: Any, request: dict, limit: dict) -> str | None:
    if name not in limit:
        return f"maximum {name} usage per {kind} is {_s(enforced)}.  No limit is specified"
    if _q(limit[name]) > _q(enforced):
        return f"maximum {name} usage per {kind} is {_s(enforced)}, but limit is {_s(limit[name])}"
    if name in request and _q(request[name]) > _q(enforced):
        return f"maximum {name} usage per {kind} is {_s(enforced)}, but request is {_s(request[name])}"
    return None


def max_request_constraint(kind: str, name: str, enforced: Any, request: dict) -> str | None:
    if name not in request:
        return f"maximum {name} usage per {kind} is {_s(enforced)}.  No request is specified"
    if _q(request[name]) > _q(enforced):
        return f"maximum {name} usage per {kind} is {_s(enforced)}, but request is {_s(request[name])}"
    return None


def ratio_constraint(kind: str, name: str, enforced: Any, request: dict, limit: dict) -> str | None:
    req, lim = _q(request.get(name, 0)), _q(limit.get(name, 0))
    if name not in request or req == 0:
        return (f"{name} max limit to request ratio per {kind} is {_s(enforced)}, but no request is specified "
                f"or request is 0")
    if name not in limit or lim == 0:
        return (f"{name} max limit to request ratio per {kind} is {_s(enforced)}, but no limit is specified "
                f"or limit is 0")
    # Compared in milli-units, as upstream (requestLimitEnforcedValues), so 1.5 and 3/2 agree.
    observed = Fraction(int(lim * 1000), int(req * 1000))
    if observed > _q(enforced):
        return (f"{name} max limit to request ratio per {kind} is {_s(enforced)}, but provided ratio is "
                f"{float(observed):f}")
    return None


def _check(kind: str, item: Obj, request: dict, limit: dict) -> list[str]:
    errs: list[str] = []
    for name, v in sorted((item.get("min") or {}).items()):
        errs.append(min_constraint(kind, name, v, request, limit) or "")
    for name, v in sorted((item.get("max") or {}).items()):
        errs.append(max_constraint(kind, name, v, request, limit) or "")
    for name, v in sorted((item.get("maxLimitRequestRatio") or {}).items()):
        errs.append(ratio_constraint(kind, name, v, request, limit) or "")
    return [e for e in errs if e]


def _pod_totals(pod: Obj, part: str) -> dict[str, str]:
    from kubetui.api.resourcequota import pod_resources
    return {k: format_quantity(v) for k, v in pod_resources(pod, part).items()}


def validate_pod(pod: Obj, lr: Obj) -> list[str]:
    """``PodValidateLimitFunc``: every container (and init container) against Container items,
    the pod's totals against Pod items."""
    spec = pod.get("spec") or {}
    errs: list[str] = []
    for item in (lr.get("spec") or {}).get("limits") or []:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "Container":
            for key in ("containers", "initContainers"):
                for c in spec.get(key) or []:
                    res = (c or {}).get("resources") or {}
                    errs += _check("Container", item, res.get("requests") or {}, res.get("limits") or {})
        elif item.get("type") == "Pod":
            errs += _check("Pod", item, _pod_totals(pod, "requests"), _pod_totals(pod, "limits"))
    return errs


def validate_claim(pvc: Obj, lr: Obj) -> list[str]:
    """``PersistentVolumeClaimValidateLimitFunc``: the claim's storage request within min/max."""
    requests = (((pvc.get("spec") or {}).get("resources") or {}).get("requests") or {})
    errs: list[str] = []
    for item in _items(lr, "PersistentVolumeClaim"):
        for name, v in sorted((item.get("min") or {}).items()):
            errs.append(min_constraint("PersistentVolumeClaim", name, v, requests, {}) or "")
        for name, v in sorted((item.get("max") or {}).items()):
            errs.append(max_request_constraint("PersistentVolumeClaim", name, v, requests) or "")
    return [e for e in errs if e]


def aggregate(errs: list[str]) -> str:
    """``utilerrors.NewAggregate(errs).Error()``: one message as is, several as ``[a, b]`` (repeats dropped)."""
    seen: list[str] = []
    for e in errs:
        if e not in seen:
            seen.append(e)
    return seen[0] if len(seen) == 1 else "[" + ", ".join(seen) + "]"
