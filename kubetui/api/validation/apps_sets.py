"""Validation of apps/v1 DaemonSets, StatefulSets and ControllerRevisions.

Upstream: pkg/apis/apps/validation/validation.go (ValidateDaemonSetSpec,
ValidateDaemonSetUpdateStrategy, ValidateRollingUpdateDaemonSet,
ValidateStatefulSetSpec, ValidateStatefulSetUpdate, ValidateStatefulSetStatus,
ValidateControllerRevision). As for Deployments, the rule a learner meets
first is that the selector must select the template's labels.
"""

from __future__ import annotations

import copy
from typing import Any

from kubetui.api.validation import names
from kubetui.api.validation.apps import immutable_selector, validate_template
from kubetui.api.validation.field import (
    Cause, as_dict, as_list, dict_items, forbidden, immutable, index, invalid, is_int, non_negative, not_supported,
    required,
)
from kubetui.api.validation.meta import (
    go_map, go_selector, selector_is_empty, selector_matches, validate_label_selector, validate_template_meta,
)
from kubetui.api.validation.pod import validate_pod_spec


def _int_or_percent_value(value: Any) -> int:
    """getIntOrPercentValue: 3 -> 3, "30%" -> 30 (only zero-ness matters to callers)."""
    if is_int(value):
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        return int(value[:-1])
    return 0


def _positive_int_or_percent(value: Any, path: str) -> list[Cause]:
    """ValidatePositiveIntOrPercent plus IsNotMoreThan100Percent."""
    if value is None:
        return []
    if is_int(value):
        return non_negative(path, value)
    if isinstance(value, str):
        errs = [invalid(path, value, m) for m in names.is_percent(value)]
        if not errs and int(value[:-1]) > 100:
            errs.append(invalid(path, value, "must not be greater than 100%"))
        return errs
    return [invalid(path, value, "must be an integer or percentage (e.g '5%')")]


def _selector(spec: dict[str, Any], kind: str) -> list[Cause]:
    selector = spec.get("selector")
    if selector is None:
        return [required("spec.selector", "")]
    errs = validate_label_selector(selector, "spec.selector")
    if isinstance(selector, dict) and selector_is_empty(selector):
        errs.append(invalid("spec.selector", go_selector(selector), f"empty selector is invalid for {kind}"))
    return errs


# --- DaemonSet ---------------------------------------------------------------


def _daemon_set_update_strategy(strategy: Any, path: str) -> list[Cause]:
    strategy = as_dict(strategy)
    stype = strategy.get("type")
    if stype == "OnDelete":
        return []
    if stype != "RollingUpdate":
        return [not_supported(path, stype or "", ("RollingUpdate", "OnDelete"))]
    rolling = strategy.get("rollingUpdate")
    if not isinstance(rolling, dict):
        return [required(f"{path}.rollingUpdate", "")]
    p = f"{path}.rollingUpdate"
    unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
    errs = _positive_int_or_percent(unavailable, f"{p}.maxUnavailable")
    errs += _positive_int_or_percent(surge, f"{p}.maxSurge")
    has_unavailable, has_surge = _int_or_percent_value(unavailable) != 0, _int_or_percent_value(surge) != 0
    if has_unavailable and has_surge:
        errs.append(invalid(f"{p}.maxSurge", surge, "may not be set when maxUnavailable is non-zero"))
    elif not has_unavailable and not has_surge:
        errs.append(required(f"{p}.maxUnavailable", "cannot be 0 when maxSurge is 0"))
    return errs


def validate_daemon_set(obj: dict[str, Any], old: dict[str, Any] | None, subresource: str | None) -> list[Cause]:
    if subresource == "status":
        return _daemon_set_status(obj)
    spec = as_dict(obj.get("spec"))
    errs = _selector(spec, "daemonset")
    # ValidatePodTemplateSpec, restartPolicy Always, no activeDeadlineSeconds.
    errs += [e if "ReplicaSet" not in e["message"] else
             forbidden(e["field"], "activeDeadlineSeconds in DaemonSet is not Supported")
             for e in validate_template(spec.get("template"), spec.get("selector"), "spec.template")]
    errs += non_negative("spec.minReadySeconds", spec.get("minReadySeconds"))
    errs += non_negative("spec.templateGeneration", spec.get("templateGeneration"))
    errs += _daemon_set_update_strategy(spec.get("updateStrategy"), "spec.updateStrategy")
    errs += non_negative("spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"))
    errs += immutable_selector(spec, old)
    return errs


def _daemon_set_status(obj: dict[str, Any]) -> list[Cause]:
    status = as_dict(obj.get("status"))
    errs: list[Cause] = []
    for f in ("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady",
              "observedGeneration", "updatedNumberScheduled", "numberAvailable", "numberUnavailable",
              "collisionCount"):
        errs += non_negative(f"status.{f}", status.get(f))
    return errs


# --- StatefulSet -------------------------------------------------------------

POD_MANAGEMENT_POLICIES = ("OrderedReady", "Parallel")
RETENTION_POLICIES = ("Retain", "Delete")


def _stateful_set_update_strategy(strategy: Any, path: str) -> list[Cause]:
    strategy = as_dict(strategy)
    stype, rolling = strategy.get("type"), strategy.get("rollingUpdate")
    if not stype:
        return [required(path, "")]
    if stype == "OnDelete":
        if rolling is not None:
            return [invalid(f"{path}.rollingUpdate", rolling, "only allowed for updateStrategy 'RollingUpdate'")]
        return []
    if stype != "RollingUpdate":
        return [invalid(path, strategy, "must be 'RollingUpdate' or 'OnDelete'")]
    if not isinstance(rolling, dict):
        return []
    p = f"{path}.rollingUpdate"
    errs = non_negative(f"{p}.partition", rolling.get("partition"))
    unavailable = rolling.get("maxUnavailable")
    if unavailable is not None:
        errs += _positive_int_or_percent(unavailable, f"{p}.maxUnavailable")
        if _int_or_percent_value(unavailable) == 0:
            errs.append(invalid(f"{p}.maxUnavailable", unavailable, "cannot be 0"))
    return errs


def _retention_policy(policy: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    for f in ("whenDeleted", "whenScaled"):
        value = as_dict(policy).get(f)
        if value not in RETENTION_POLICIES:
            errs.append(not_supported(f"{path}.{f}", value or "", RETENTION_POLICIES))
    return errs


def _stateful_template(spec: dict[str, Any]) -> list[Cause]:
    """ValidatePodTemplateSpecForStatefulSet, plus the pod spec with the claim templates as volumes.

    A container may mount a ``volumeClaimTemplates`` name: the controller adds
    that volume to each pod, so the pod spec is checked as the pod will be.
    """
    template, selector = spec.get("template"), spec.get("selector")
    if not isinstance(template, dict):
        return [required("spec.template", "")]
    meta = as_dict(template.get("metadata"))
    labels = as_dict(meta.get("labels"))
    errs: list[Cause] = []
    if isinstance(selector, dict) and not selector_is_empty(selector) and not selector_matches(selector, labels):
        errs.append(invalid("spec.template.metadata.labels", go_map(labels),
                            "`selector` does not match template `labels`"))
    errs += validate_template_meta(meta, "spec.template.metadata")
    pod_spec = copy.deepcopy(as_dict(template.get("spec")))
    volumes = [v for v in as_list(pod_spec.get("volumes"))]
    for claim in as_list(spec.get("volumeClaimTemplates")):
        name = as_dict(as_dict(claim).get("metadata")).get("name")
        if name and not any(as_dict(v).get("name") == name for v in volumes):
            volumes.append({"name": name, "persistentVolumeClaim": {"claimName": name}})
    if volumes:
        pod_spec["volumes"] = volumes
    errs += validate_pod_spec(pod_spec if template.get("spec") is not None else None, "spec.template.spec",
                              template=True)
    restart = as_dict(template.get("spec")).get("restartPolicy")
    if restart not in (None, "", "Always"):
        errs.append(not_supported("spec.template.spec.restartPolicy", restart, ("Always",)))
    if as_dict(template.get("spec")).get("activeDeadlineSeconds") is not None:
        errs.append(forbidden("spec.template.spec.activeDeadlineSeconds",
                              "activeDeadlineSeconds in StatefulSet is not Supported"))
    return errs


def _claim_templates(spec: dict[str, Any]) -> list[Cause]:
    errs: list[Cause] = []
    for i, claim in dict_items(spec.get("volumeClaimTemplates")):
        p = index("spec.volumeClaimTemplates", i)
        name = as_dict(claim.get("metadata")).get("name")
        if not name:
            errs.append(required(f"{p}.metadata.name", "name or generateName is required"))
        else:
            errs += [invalid(f"{p}.metadata.name", name, m) for m in names.is_dns1123_subdomain(str(name))]
        requests = as_dict(as_dict(as_dict(claim.get("spec")).get("resources")).get("requests"))
        if "storage" not in requests:
            errs.append(required(f"{p}.spec.resources[storage]", ""))
        modes = as_list(as_dict(claim.get("spec")).get("accessModes"))
        if not modes:
            errs.append(required(f"{p}.spec.accessModes", "at least 1 access mode is required"))
    return errs


def validate_stateful_set(obj: dict[str, Any], old: dict[str, Any] | None, subresource: str | None) -> list[Cause]:
    if subresource == "status":
        return _stateful_set_status(obj)
    spec = as_dict(obj.get("spec"))
    if subresource == "scale":
        return non_negative("spec.replicas", spec.get("replicas"))
    errs: list[Cause] = []
    policy = spec.get("podManagementPolicy")
    if not policy:
        errs.append(required("spec.podManagementPolicy", ""))
    elif policy not in POD_MANAGEMENT_POLICIES:
        errs.append(invalid("spec.podManagementPolicy", policy, "must be 'OrderedReady' or 'Parallel'"))
    errs += _stateful_set_update_strategy(spec.get("updateStrategy"), "spec.updateStrategy")
    errs += _retention_policy(spec.get("persistentVolumeClaimRetentionPolicy"),
                              "spec.persistentVolumeClaimRetentionPolicy")
    ordinals = spec.get("ordinals")
    if isinstance(ordinals, dict):
        errs += non_negative("spec.ordinals.start", ordinals.get("start"))
    errs += non_negative("spec.replicas", spec.get("replicas"))
    errs += non_negative("spec.minReadySeconds", spec.get("minReadySeconds"))
    errs += non_negative("spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"))
    errs += _selector(spec, "statefulset")
    errs += _stateful_template(spec)
    errs += _claim_templates(spec)
    if old is not None:
        errs += _stateful_set_update(spec, as_dict(old.get("spec")))
    return errs


# What ValidateStatefulSetUpdate lets change; anything else is Forbidden.
MUTABLE_STATEFULSET_FIELDS = ("replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit",
                              "persistentVolumeClaimRetentionPolicy", "minReadySeconds")


def _stateful_set_update(spec: dict[str, Any], old_spec: dict[str, Any]) -> list[Cause]:
    a = {k: v for k, v in spec.items() if k not in MUTABLE_STATEFULSET_FIELDS}
    b = {k: v for k, v in old_spec.items() if k not in MUTABLE_STATEFULSET_FIELDS}
    if a != b:
        return [forbidden("spec", "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                                  "'template', 'updateStrategy', 'revisionHistoryLimit', "
                                  "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")]
    return []


def _stateful_set_status(obj: dict[str, Any]) -> list[Cause]:
    status = as_dict(obj.get("status"))
    errs: list[Cause] = []
    for f in ("replicas", "readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas",
              "observedGeneration", "collisionCount"):
        errs += non_negative(f"status.{f}", status.get(f))
    replicas = status.get("replicas")
    if is_int(replicas):
        for f in ("readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas"):
            v = status.get(f)
            if is_int(v) and v > replicas:
                errs.append(invalid(f"status.{f}", v, "cannot be greater than status.replicas"))
    ready, available = status.get("readyReplicas"), status.get("availableReplicas")
    if is_int(ready) and is_int(available) and available > ready:
        errs.append(invalid("status.availableReplicas", available, "cannot be greater than status.readyReplicas"))
    return errs


# --- ControllerRevision -------------------------------------------------------


def validate_controller_revision(obj: dict[str, Any], old: dict[str, Any] | None,
                                 subresource: str | None) -> list[Cause]:
    errs: list[Cause] = []
    if obj.get("data") is None:
        errs.append(required("data", "data is mandatory"))
    errs += non_negative("revision", obj.get("revision"))
    if old is not None and obj.get("data") != old.get("data"):
        errs.append(immutable("data", obj.get("data")))
    return errs
