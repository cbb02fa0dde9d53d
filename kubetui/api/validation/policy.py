"""Validation of the policy kinds: ReplicationControllers, PodTemplates, ResourceQuotas,
LimitRanges, PodDisruptionBudgets and PriorityClasses.

Upstream: pkg/apis/core/validation/validation.go (``ValidateReplicationController``,
``ValidatePodTemplate``, ``ValidateResourceQuota``, ``ValidateLimitRange``),
pkg/apis/policy/validation (``ValidatePodDisruptionBudget``) and
pkg/apis/scheduling/validation (``ValidatePriorityClass``). The messages and
field paths are upstream's: a LimitRange whose ``min`` is above its ``max``
is refused with ``spec.limits[0].min[cpu]: Invalid value: "2": min value 2 is
greater than max value 1``.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from kubetui.api.quantity import parse_quantity
from kubetui.api.validation import names
from kubetui.api.validation.apps import validate_template
from kubetui.api.validation.field import (
    Cause, Raw, as_dict, as_list, dict_items, duplicate, forbidden, immutable, index, invalid, is_int, key,
    non_negative, not_supported, required,
)
from kubetui.api.validation.meta import go_map, validate_label_selector, validate_template_meta, validate_values
from kubetui.api.validation.pod import validate_pod_spec, validate_quantity, validate_resource_name

# ---------------------------------------------------------------- ReplicationController


def validate_replication_controller(obj: dict[str, Any], old: dict[str, Any] | None,
                                    subresource: str | None) -> list[Cause]:
    """``ValidateReplicationControllerSpec``: a plain map selector that selects the template's labels."""
    spec = as_dict(obj.get("spec"))
    if subresource == "status":
        status = as_dict(obj.get("status"))
        errs: list[Cause] = []
        for f in ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration"):
            errs += non_negative(f"status.{f}", status.get(f))
        return errs
    errs = non_negative("spec.minReadySeconds", spec.get("minReadySeconds"))
    selector = spec.get("selector")
    if not selector:
        errs.append(required("spec.selector", ""))
    errs += non_negative("spec.replicas", spec.get("replicas"))
    if subresource == "scale":
        return errs
    template = spec.get("template")
    if not isinstance(template, dict):
        errs.append(required("spec.template", ""))
        return errs
    labels = as_dict(as_dict(template.get("metadata")).get("labels"))
    if isinstance(selector, dict) and selector and any(labels.get(k) != v for k, v in selector.items()):
        errs.append(invalid("spec.template.metadata.labels", go_map(labels),
                            "selector does not match labels in spec.template"))
    # The RS rules (metadata, pod spec, restartPolicy Always, no activeDeadlineSeconds), RC's wording.
    for c in validate_template(template, None, "spec.template"):
        if c.get("field") == "spec.template.spec.activeDeadlineSeconds":
            c = forbidden(c["field"], "activeDeadlineSeconds in ReplicationController is not Supported")
        errs.append(c)
    return errs


# ------------------------------------------------------------------------- PodTemplate


def validate_pod_template(obj: dict[str, Any], old: dict[str, Any] | None, subresource: str | None) -> list[Cause]:
    """``ValidatePodTemplate``: the template's metadata and pod spec."""
    template = obj.get("template")
    if not isinstance(template, dict):
        return [required("template", "")]
    errs = validate_template_meta(as_dict(template.get("metadata")), "template.metadata")
    errs += validate_pod_spec(template.get("spec"), "template.spec", template=True)
    return errs


# ----------------------------------------------------------------------- ResourceQuota

QUOTA_SCOPES = ("Terminating", "NotTerminating", "BestEffort", "NotBestEffort", "PriorityClass",
                "CrossNamespacePodAffinity")
# Scopes that only make sense for the resources a pod consumes (upstream podObjectCountQuotaResources +
# podComputeQuotaResources), and the pairs that contradict each other.
SCOPE_OPPOSITES = {"Terminating": "NotTerminating", "NotTerminating": "Terminating",
                   "BestEffort": "NotBestEffort", "NotBestEffort": "BestEffort"}
BEST_EFFORT_RESOURCES = {"pods", "count/pods"}
STANDARD_QUOTA_RESOURCES = {
    "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.storage",
    "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods", "services",
    "replicationcontrollers", "resourcequotas", "secrets", "configmaps", "persistentvolumeclaims",
    "services.nodeports", "services.loadbalancers",
}


def _quota_resource_name(name: str, path: str) -> list[Cause]:
    """``ValidateResourceQuotaResourceName``: a standard name, ``count/<resource>``, or qualified."""
    if name in STANDARD_QUOTA_RESOURCES or name.startswith(("count/", "requests.hugepages-", "hugepages-")):
        return []
    if name.endswith((".storageclass.storage.k8s.io/requests.storage",
                      ".storageclass.storage.k8s.io/persistentvolumeclaims")):
        return []
    errs = [invalid(path, name, m) for m in names.is_qualified_name(name)]
    if not errs and "/" not in name:
        errs.append(invalid(path, name, "must be a standard resource for quota"))
    return errs


def validate_resource_quota(obj: dict[str, Any], old: dict[str, Any] | None, subresource: str | None) -> list[Cause]:
    """``ValidateResourceQuotaSpec`` (and the status's quantities on the status subresource)."""
    errs: list[Cause] = []
    spec = as_dict(obj.get("spec"))
    for part, values in (("spec.hard", spec.get("hard")), ("status.hard", as_dict(obj.get("status")).get("hard")),
                         ("status.used", as_dict(obj.get("status")).get("used"))):
        for name, value in as_dict(values).items():
            p = key(part, name)
            errs += _quota_resource_name(name, p)
            errs += validate_quantity(value, p)[0]
    scopes = as_list(spec.get("scopes"))
    for i, scope in enumerate(scopes):
        if scope not in QUOTA_SCOPES:
            errs.append(invalid("spec.scopes", Raw("[" + " ".join(str(s) for s in scopes) + "]"),
                                "unsupported scope"))
            break
    present = set(scopes)
    for expr in as_list(as_dict(spec.get("scopeSelector")).get("matchExpressions")):
        expr = as_dict(expr)
        present.add(expr.get("scopeName"))
    for s in present:
        if isinstance(s, str) and SCOPE_OPPOSITES.get(s) in present:
            errs.append(invalid("spec.scopes", Raw("[" + " ".join(str(x) for x in scopes) + "]"),
                                "conflicting scopes"))
            break
    if present & {"BestEffort"}:
        for name in as_dict(spec.get("hard")):
            if name not in BEST_EFFORT_RESOURCES:
                errs.append(invalid(key("spec.hard", name), name, "unsupported scope applied to resource"))
    for i, expr in dict_items(as_dict(spec.get("scopeSelector")).get("matchExpressions")):
        p = index("spec.scopeSelector.matchExpressions", i)
        errs += validate_values(f"{p}.scopeName", expr.get("scopeName"), QUOTA_SCOPES, required_=True)
        op = expr.get("operator")
        errs += validate_values(f"{p}.operator", op, ("In", "NotIn", "Exists", "DoesNotExist"), required_=True)
        values = as_list(expr.get("values"))
        if op in ("In", "NotIn") and not values:
            errs.append(required(f"{p}.values", "must be at least one value when `operator` is 'In' or 'NotIn' "
                                                "for scope selector"))
        if op in ("Exists", "DoesNotExist") and values:
            errs.append(invalid(f"{p}.values", Raw("[" + " ".join(values) + "]"),
                                "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector"))
    return errs


# -------------------------------------------------------------------------- LimitRange

LIMIT_TYPES = ("Pod", "Container", "PersistentVolumeClaim")


def _q(value: Any) -> Fraction | None:
    try:
        return parse_quantity(value)
    except (ValueError, TypeError):
        return None


def validate_limit_range(obj: dict[str, Any], old: dict[str, Any] | None, subresource: str | None) -> list[Cause]:
    """``ValidateLimitRange``: each item's type, names, and min <= defaultRequest <= default <= max."""
    errs: list[Cause] = []
    seen: set[str] = set()
    for i, item in dict_items(as_dict(obj.get("spec")).get("limits")):
        p = index("spec.limits", i)
        ltype = item.get("type")
        if ltype in (None, ""):
            errs.append(required(f"{p}.type", ""))
        elif ltype not in LIMIT_TYPES:
            bad = names.is_qualified_name(str(ltype))
            errs += [invalid(f"{p}.type", ltype, m) for m in bad]
            if not bad and "/" not in str(ltype):
                errs.append(invalid(f"{p}.type", ltype, "must be a standard limit type or fully qualified"))
        if ltype in seen:
            errs.append(duplicate(f"{p}.type", ltype))
        seen.add(ltype)
        parts: dict[str, dict[str, tuple[Any, Fraction]]] = {}
        for part in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
            parts[part] = {}
            for name, value in as_dict(item.get(part)).items():
                kp = key(f"{p}.{part}", name)
                errs += validate_resource_name(name, kp)
                q_errs, q = validate_quantity(value, kp)
                errs += q_errs
                if q is not None:
                    parts[part][name] = (value, q)
        if ltype == "Pod":
            for part in ("default", "defaultRequest"):
                if item.get(part):
                    errs.append(forbidden(f"{p}.{part}", "may not be specified when `type` is 'Pod'"))
        if ltype == "PersistentVolumeClaim":
            mn, mx = parts["min"].get("storage"), parts["max"].get("storage")
            if mn is None and mx is None:
                errs.append(required(f"{p}.limits", "either minimum or maximum storage value is required, "
                                                    "but neither was provided"))
        keys = sorted({k for d in parts.values() for k in d})
        for k in keys:
            mn, mx = parts["min"].get(k), parts["max"].get(k)
            df, dr = parts["default"].get(k), parts["defaultRequest"].get(k)
            ratio = parts["maxLimitRequestRatio"].get(k)
            s = lambda t: _fmt(t[0])  # noqa: E731 - the quantity as written, as Quantity.String() prints it
            if mn and mx and mn[1] > mx[1]:
                errs.append(invalid(key(f"{p}.min", k), mn[0], f"min value {s(mn)} is greater than max value {s(mx)}"))
            if dr and mn and mn[1] > dr[1]:
                errs.append(invalid(key(f"{p}.defaultRequest", k), dr[0],
                                    f"min value {s(mn)} is greater than default request value {s(dr)}"))
            if dr and mx and dr[1] > mx[1]:
                errs.append(invalid(key(f"{p}.defaultRequest", k), dr[0],
                                    f"default request value {s(dr)} is greater than max value {s(mx)}"))
            if dr and df and dr[1] > df[1]:
                errs.append(invalid(key(f"{p}.defaultRequest", k), dr[0],
                                    f"default request value {s(dr)} is greater than default limit value {s(df)}"))
            if df and mn and mn[1] > df[1]:
                errs.append(invalid(key(f"{p}.default", k), mn[0],
                                    f"min value {s(mn)} is greater than default value {s(df)}"))
            if df and mx and df[1] > mx[1]:
                errs.append(invalid(key(f"{p}.default", k), mx[0],
                                    f"default value {s(df)} is greater than max value {s(mx)}"))
            if ratio and ratio[1] < 1:
                errs.append(invalid(key(f"{p}.maxLimitRequestRatio", k), ratio[0],
                                    f"ratio {s(ratio)} is less than 1"))
            if ratio and mn and mx and mn[1] > 0:
                limit = mx[1] / mn[1]
                if ratio[1] > limit:
                    errs.append(invalid(key(f"{p}.maxLimitRequestRatio", k), ratio[0],
                                        f"ratio {s(ratio)} is greater than max/min = {float(limit):f}"))
    return errs


def _fmt(value: Any) -> str:
    from kubetui.api.quantity import format_quantity
    try:
        return format_quantity(value)
    except (ValueError, TypeError):
        return str(value)


# ----------------------------------------------------------------- PodDisruptionBudget

UNHEALTHY_POD_EVICTION_POLICIES = ("AlwaysAllow", "IfHealthyBudget")


def _positive_int_or_percent(value: Any, path: str) -> list[Cause]:
    """``ValidatePositiveIntOrPercent`` + ``IsNotMoreThan100Percent``."""
    if is_int(value):
        return non_negative(path, value)
    if isinstance(value, str):
        errs = [invalid(path, value, m) for m in names.is_percent(value)]
        if errs:
            return [invalid(path, value, "must be an integer or percentage (e.g '5%')")]
        if int(value[:-1]) > 100:
            return [invalid(path, value, "must not be greater than 100%")]
        return []
    return [invalid(path, value, "must be an integer or percentage (e.g '5%')")]


def validate_pod_disruption_budget(obj: dict[str, Any], old: dict[str, Any] | None,
                                   subresource: str | None) -> list[Cause]:
    """``ValidatePodDisruptionBudgetSpec`` (and the status's counts on the status subresource)."""
    if subresource == "status":
        status = as_dict(obj.get("status"))
        errs: list[Cause] = []
        for f in ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods"):
            errs += non_negative(f"status.{f}", status.get(f))
        return errs
    spec = as_dict(obj.get("spec"))
    errs = []
    min_available, max_unavailable = spec.get("minAvailable"), spec.get("maxUnavailable")
    if min_available is not None and max_unavailable is not None:
        errs.append(invalid("spec", Raw(_go_pdb_spec(spec)), "minAvailable and maxUnavailable cannot be both set"))
    if min_available is not None:
        errs += _positive_int_or_percent(min_available, "spec.minAvailable")
    if max_unavailable is not None:
        errs += _positive_int_or_percent(max_unavailable, "spec.maxUnavailable")
    if spec.get("selector") is not None:
        errs += validate_label_selector(spec.get("selector"), "spec.selector")
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in UNHEALTHY_POD_EVICTION_POLICIES:
        errs.append(not_supported("spec.unhealthyPodEvictionPolicy", policy, UNHEALTHY_POD_EVICTION_POLICIES))
    return errs


def _go_pdb_spec(spec: dict[str, Any]) -> str:
    def ios(v: Any) -> str:
        if v is None:
            return "(*intstr.IntOrString)(nil)"
        return f'{{Type:{1 if isinstance(v, str) else 0}, IntVal:{v if is_int(v) else 0}, ' \
               f'StrVal:"{v if isinstance(v, str) else ""}"}}'
    return f"policy.PodDisruptionBudgetSpec{{MinAvailable:{ios(spec.get('minAvailable'))}, " \
           f"MaxUnavailable:{ios(spec.get('maxUnavailable'))}}}"


# ----------------------------------------------------------------------- PriorityClass

SYSTEM_PRIORITY_CLASS_PREFIX = "system-"
HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000
SYSTEM_PRIORITY_CLASSES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}
PREEMPTION_POLICIES = ("Never", "PreemptLowerPriority")


def validate_priority_class(obj: dict[str, Any], old: dict[str, Any] | None, subresource: str | None) -> list[Cause]:
    """``ValidatePriorityClass`` and, on update, ``ValidatePriorityClassUpdate``."""
    errs: list[Cause] = []
    name = str(as_dict(obj.get("metadata")).get("name") or "")
    value = obj.get("value")
    if not is_int(value):
        errs.append(required("value", ""))
    elif name.startswith(SYSTEM_PRIORITY_CLASS_PREFIX):
        known = SYSTEM_PRIORITY_CLASSES.get(name)
        if known is None:
            why = f"{name} is not a known system priority class"
        elif known != value:
            why = f"value of {name} PriorityClass must be {known}"
        elif obj.get("globalDefault"):
            why = f"globalDefault of {name} PriorityClass must be false"
        else:
            why = ""
        if why:
            errs.append(forbidden("metadata.name", "priority class names with 'system-' prefix are reserved for "
                                                   f"system use only. error: {why}"))
    elif value > HIGHEST_USER_DEFINABLE_PRIORITY:
        errs.append(forbidden("value", f"maximum allowed value of a user defined priority is "
                                       f"{HIGHEST_USER_DEFINABLE_PRIORITY}"))
    if obj.get("preemptionPolicy") is not None:
        errs += validate_values("preemptionPolicy", obj.get("preemptionPolicy"), PREEMPTION_POLICIES)
    if old is not None:
        if value != old.get("value"):
            errs.append(forbidden("value", "may not be changed in an update."))
        if obj.get("preemptionPolicy") != old.get("preemptionPolicy"):
            errs.append(immutable("preemptionPolicy", obj.get("preemptionPolicy")))
    return errs
