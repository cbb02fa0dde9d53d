"""Quota arithmetic: what an object costs against a ResourceQuota, and when a request is refused.

Upstream: ``pkg/quota/v1`` (``resources.go``: Add, Mask, LessThanOrEqual),
``pkg/quota/v1/evaluator/core/pods.go`` (``PodUsageFunc``, the scopes,
``Constraints``), ``services.go``, ``persistent_volume_claims.go``, the
generic object-count evaluator (``count/<resource>.<group>``) and
``plugin/pkg/admission/resourcequota/controller.go`` (``checkRequest``). The
API server's ResourceQuota admission plugin and the quota controller both
use these pure functions, so the usage the controller writes into
``status.used`` is exactly what admission adds to on every create.

A worked example: a quota ``hard: {pods: "2", requests.cpu: "1"}`` with
``used: {pods: "2", requests.cpu: "500m"}``; a new pod asking 200m cpu
would make ``pods=3`` > 2, so it is refused with
``exceeded quota: compute, requested: pods=1, used: pods=2, limited: pods=2``
(only the exceeded resources are named).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Iterable

from kubetui.api.quantity import BINARY_SI, DECIMAL_SI, format_quantity, parse_quantity, parse_quantity_format

Obj = dict[str, Any]
ResourceList = dict[str, str]

# The compute resources a pod is charged for, and the ones a quota forces every container to state.
POD_COMPUTE = ("cpu", "memory", "ephemeral-storage")
# pods.go: validationSet (the "BACKWARD COMPATIBILITY REQUIREMENT": quota on these demands explicit values)
REQUIRED_IF_QUOTAED = {"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"}
# Kinds with a legacy, un-prefixed object count name.
LEGACY_COUNTS = {"pods": "pods", "services": "services", "replicationcontrollers": "replicationcontrollers",
                 "resourcequotas": "resourcequotas", "secrets": "secrets", "configmaps": "configmaps",
                 "persistentvolumeclaims": "persistentvolumeclaims"}
TERMINAL_PHASES = ("Succeeded", "Failed")


# ------------------------------------------------------------------- quantities

def _fmt_of(name: str, value: str | None) -> str:
    if value is not None:
        try:
            return parse_quantity_format(value)[1]
        except ValueError:
            pass
    return BINARY_SI if name.split(".")[-1] in ("memory", "storage", "ephemeral-storage") else DECIMAL_SI


def q(value: Any) -> Fraction:
    try:
        return parse_quantity(value)
    except (ValueError, TypeError):
        return Fraction(0)


def add(a: ResourceList, b: ResourceList) -> ResourceList:
    """``quota.Add``: the sum per resource, printed in the first operand's format (as Quantity.Add keeps it)."""
    out = dict(a)
    for name, value in b.items():
        if name in out:
            fmt = _fmt_of(name, out[name] if q(out[name]) else value)
            out[name] = format_quantity(q(out[name]) + q(value), fmt)
        else:
            out[name] = format_quantity(q(value), _fmt_of(name, value))
    return out


def mask(items: ResourceList, names: Iterable[str]) -> ResourceList:
    """``quota.Mask``: only the named resources."""
    keep = set(names)
    return {k: v for k, v in items.items() if k in keep}


def exceeded(usage: ResourceList, hard: ResourceList) -> list[str]:
    """``quota.LessThanOrEqual``'s second result: resources in ``usage`` above their ``hard`` limit."""
    return sorted(k for k, v in usage.items() if k in hard and q(v) > q(hard[k]))


def pretty(items: ResourceList) -> str:
    """``prettyPrint``: ``limits.cpu=1,pods=3``, sorted by name."""
    return ",".join(f"{k}={format_quantity(q(items[k]), _fmt_of(k, items[k]))}" for k in sorted(items))


# ------------------------------------------------------------------------ pods

def _container_lists(pod: Obj) -> tuple[list[Obj], list[Obj]]:
    spec = pod.get("spec") or {}
    return ([c for c in spec.get("containers") or [] if isinstance(c, dict)],
            [c for c in spec.get("initContainers") or [] if isinstance(c, dict)])


def pod_resources(pod: Obj, part: str) -> dict[str, Fraction]:
    """``resourcehelper.PodRequests``/``PodLimits``: sum of the containers (plus sidecar init
    containers), at least the largest regular init container, plus the pod overhead."""
    containers, inits = _container_lists(pod)
    total: dict[str, Fraction] = {}
    for c in containers:
        for k, v in ((c.get("resources") or {}).get(part) or {}).items():
            total[k] = total.get(k, Fraction(0)) + q(v)
    sidecars: dict[str, Fraction] = {}
    for c in inits:
        values = {k: q(v) for k, v in ((c.get("resources") or {}).get(part) or {}).items()}
        if c.get("restartPolicy") == "Always":
            for k, v in values.items():
                sidecars[k] = sidecars.get(k, Fraction(0)) + v
                total[k] = total.get(k, Fraction(0)) + v
            continue
        for k, v in values.items():
            total[k] = max(total.get(k, Fraction(0)), v + sidecars.get(k, Fraction(0)))
    for k, v in ((pod.get("spec") or {}).get("overhead") or {}).items():
        total[k] = total.get(k, Fraction(0)) + q(v)
    return total


def _compute_usage(requests: dict[str, Fraction], limits: dict[str, Fraction]) -> ResourceList:
    """``podComputeUsageHelper``: ``cpu`` and ``requests.cpu`` from requests, ``limits.cpu`` from limits…"""
    out: ResourceList = {}
    for name, value in requests.items():
        fmt = _fmt_of(name, None)
        if name in POD_COMPUTE:
            out[name] = format_quantity(value, fmt)
            out[f"requests.{name}"] = format_quantity(value, fmt)
        elif name.startswith("hugepages-"):
            out[f"requests.{name}"] = format_quantity(value, fmt)
        elif "/" in name:
            out[f"requests.{name}"] = format_quantity(value, fmt)
    for name, value in limits.items():
        if name in POD_COMPUTE:
            out[f"limits.{name}"] = format_quantity(value, _fmt_of(name, None))
    return out


def pod_is_terminal(pod: Obj) -> bool:
    """``QuotaV1Pod`` is false for a finished pod (and one past its deletion grace): it costs nothing."""
    return (pod.get("status") or {}).get("phase") in TERMINAL_PHASES


def pod_usage(pod: Obj) -> ResourceList:
    """``PodUsageFunc``: ``count/pods`` always; ``pods`` and compute only while the pod is not finished."""
    out: ResourceList = {"count/pods": "1"}
    if pod_is_terminal(pod):
        return out
    out["pods"] = "1"
    out.update(_compute_usage(pod_resources(pod, "requests"), pod_resources(pod, "limits")))
    return out


def is_best_effort(pod: Obj) -> bool:
    """QoS class BestEffort: no container requests or limits any cpu or memory."""
    containers, inits = _container_lists(pod)
    for c in containers + inits:
        res = c.get("resources") or {}
        for part in ("requests", "limits"):
            if any(k in ("cpu", "memory") for k in (res.get(part) or {})):
                return False
    return True


def is_terminating(pod: Obj) -> bool:
    """Scope Terminating: ``activeDeadlineSeconds`` set (>= 0)."""
    ads = (pod.get("spec") or {}).get("activeDeadlineSeconds")
    return isinstance(ads, int) and ads >= 0


def _cross_namespace_affinity(pod: Obj) -> bool:
    affinity = (pod.get("spec") or {}).get("affinity") or {}
    for kind in ("podAffinity", "podAntiAffinity"):
        a = affinity.get(kind) or {}
        terms = list(a.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
        terms += [t.get("podAffinityTerm") or {} for t in a.get("preferredDuringSchedulingIgnoredDuringExecution")
                  or []]
        if any(t.get("namespaces") or t.get("namespaceSelector") is not None for t in terms):
            return True
    return False


def scope_selectors(rq: Obj) -> list[Obj]:
    """``GetQuotaScopeSelectors``: ``spec.scopes`` become ``Exists`` requirements, plus the scopeSelector's."""
    spec = rq.get("spec") or {}
    out = [{"scopeName": s, "operator": "Exists"} for s in spec.get("scopes") or []]
    out += [e for e in ((spec.get("scopeSelector") or {}).get("matchExpressions") or []) if isinstance(e, dict)]
    return out


def pod_matches_scope(selector: Obj, pod: Obj) -> bool:
    """``podMatchesScopeFunc``: does one scope requirement select this pod?"""
    scope = selector.get("scopeName")
    if scope == "Terminating":
        return is_terminating(pod)
    if scope == "NotTerminating":
        return not is_terminating(pod)
    if scope == "BestEffort":
        return is_best_effort(pod)
    if scope == "NotBestEffort":
        return not is_best_effort(pod)
    if scope == "CrossNamespacePodAffinity":
        return _cross_namespace_affinity(pod)
    if scope == "PriorityClass":
        name = (pod.get("spec") or {}).get("priorityClassName") or ""
        op, values = selector.get("operator"), selector.get("values") or []
        if op == "Exists":
            return bool(name)
        if op == "DoesNotExist":
            return not name
        if op == "In":
            return name in values
        if op == "NotIn":
            return name not in values
    return False


# ------------------------------------------------------------------ other kinds

def covers(group_resource: str, name: str) -> bool:
    """``MatchingResources``: does this kind's evaluator account for quota resource ``name``?"""
    if name == f"count/{group_resource}" or name == LEGACY_COUNTS.get(group_resource):
        return True
    if group_resource == "pods":
        base = name.split(".", 1)[1] if name.startswith(("requests.", "limits.")) else name
        return (base in POD_COMPUTE or base.startswith("hugepages-")
                or (name.startswith("requests.") and "/" in name))
    if group_resource == "services":
        return name in ("services.nodeports", "services.loadbalancers")
    if group_resource == "persistentvolumeclaims":
        return name == "requests.storage" or name.endswith((".storageclass.storage.k8s.io/requests.storage",
                                                            ".storageclass.storage.k8s.io/persistentvolumeclaims"))
    return False


def object_usage(group_resource: str, obj: Obj) -> ResourceList:
    """What one stored object costs: its object counts, and for pods/Services/claims their resources."""
    if group_resource == "pods":
        return pod_usage(obj)
    out: ResourceList = {f"count/{group_resource}": "1"}
    if group_resource in LEGACY_COUNTS:
        out[LEGACY_COUNTS[group_resource]] = "1"
    spec = obj.get("spec") or {}
    if group_resource == "services":
        stype = spec.get("type") or "ClusterIP"
        if stype in ("NodePort", "LoadBalancer"):
            out["services.nodeports"] = str(len(spec.get("ports") or []))
        if stype == "LoadBalancer":
            out["services.loadbalancers"] = "1"
    elif group_resource == "persistentvolumeclaims":
        storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
        if storage is not None:
            out["requests.storage"] = format_quantity(q(storage), _fmt_of("storage", storage))
        cls = spec.get("storageClassName")
        if cls:
            out[f"{cls}.storageclass.storage.k8s.io/persistentvolumeclaims"] = "1"
            if storage is not None:
                out[f"{cls}.storageclass.storage.k8s.io/requests.storage"] = out["requests.storage"]
    return out


def quota_matches(rq: Obj, group_resource: str, obj: Obj) -> bool:
    """``Matches``: every scope selects the object (scopes only ever select pods), and the quota
    limits at least one resource this kind is charged for."""
    hard = (rq.get("status") or {}).get("hard") or (rq.get("spec") or {}).get("hard") or {}
    if not any(covers(group_resource, name) for name in hard):
        return False
    for selector in scope_selectors(rq):
        if group_resource != "pods" or not pod_matches_scope(selector, obj):
            return False
    return True


def namespace_usage(rq: Obj, objects: dict[str, list[Obj]]) -> ResourceList:
    """What the quota controller writes into ``status.used``: the sum over matching objects, masked
    to ``spec.hard``, with a zero for every limited resource nothing uses yet."""
    hard = (rq.get("spec") or {}).get("hard") or {}
    used: ResourceList = {name: "0" for name in hard}
    for gr, items in objects.items():
        for obj in items:
            if (obj.get("metadata") or {}).get("deletionTimestamp") and gr != "pods":
                continue
            if quota_matches({"spec": rq.get("spec")}, gr, obj):
                used = add(used, mask(object_usage(gr, obj), hard))
    return {k: format_quantity(q(v), _fmt_of(k, hard.get(k))) for k, v in used.items()}


# -------------------------------------------------------------------- admission

class QuotaRefusal(Exception):
    """Why admission refuses a request: the text after ``is forbidden:``."""


def constraints(restricted: Iterable[str], pod: Obj) -> str | None:
    """``podEvaluator.Constraints``: a quota on cpu/memory requests or limits demands every container state them.

    Returns upstream's ``must specify limits.cpu for: app; requests.cpu for: app,sidecar`` or None.
    """
    required = set(restricted) & REQUIRED_IF_QUOTAED
    if not required:
        return None
    missing: dict[str, set[str]] = {}
    containers, inits = _container_lists(pod)
    for c in containers + inits:
        res = c.get("resources") or {}
        have = set(_compute_usage({k: q(v) for k, v in (res.get("requests") or {}).items()},
                                  {k: q(v) for k, v in (res.get("limits") or {}).items()}))
        for name in required - have:
            missing.setdefault(name, set()).add(str(c.get("name") or ""))
    if not missing:
        return None
    return "must specify " + "; ".join(f"{r} for: {','.join(sorted(missing[r]))}" for r in sorted(missing))


def check_request(quotas: list[Obj], group_resource: str, obj: Obj) -> dict[str, ResourceList]:
    """``checkRequest``: the new ``status.used`` of each quota this create charges, or ``QuotaRefusal``.

    Quotas are checked in name order; constraints first (``failed quota: NAME: must specify …``),
    then usage stats must be known (``status unknown for quota: …``), then ``used + requested``
    must stay within ``hard`` for every limited resource the object uses.
    """
    delta = {k: v for k, v in object_usage(group_resource, obj).items() if q(v) != 0}
    if not delta:
        return {}
    interesting = [rq for rq in sorted(quotas, key=lambda r: r["metadata"]["name"])
                   if quota_matches(rq, group_resource, obj)]
    if group_resource == "pods":
        for rq in interesting:
            hard = (rq.get("status") or {}).get("hard") or {}
            restricted = [n for n in hard if covers(group_resource, n)]
            why = constraints(restricted, obj)
            if why:
                raise QuotaRefusal(f"failed quota: {rq['metadata']['name']}: {why}")
    out: dict[str, ResourceList] = {}
    for rq in interesting:
        status = rq.get("status") or {}
        hard, used = status.get("hard") or {}, status.get("used") or {}
        limited = sorted(n for n in (rq.get("spec") or {}).get("hard") or {} if covers(group_resource, n))
        unknown = [n for n in limited if n not in hard or n not in used]
        if unknown:
            raise QuotaRefusal(f"status unknown for quota: {rq['metadata']['name']}, resources: "
                               f"{','.join(unknown)}")
        requested = mask(delta, hard)
        if not requested:
            continue
        new_used = add(used, requested)
        over = exceeded(mask(new_used, requested), hard)
        if over:
            raise QuotaRefusal(f"exceeded quota: {rq['metadata']['name']}, requested: "
                               f"{pretty(mask(requested, over))}, used: {pretty(mask(used, over))}, "
                               f"limited: {pretty(mask(hard, over))}")
        out[rq["metadata"]["name"]] = new_used
    return out
