"""Validation of apps/v1 Deployments and ReplicaSets.

Upstream: pkg/apis/apps/validation/validation.go (ValidateDeploymentSpec,
ValidateReplicaSetSpec, ValidatePodTemplateSpecForReplicaSet). The key rule a
learner meets here: the selector must select the template's own labels, or
the controller would create pods it can never find.
"""

from __future__ import annotations

from typing import Any

from kubetui.api.validation import names
from kubetui.api.validation.field import (
    Cause, as_dict, forbidden, immutable, invalid, is_int, non_negative, required,
)
from kubetui.api.validation.meta import (
    go_map, go_selector, selector_is_empty, selector_matches, validate_label_selector, validate_template_meta,
    validate_values,
)
from kubetui.api.validation.pod import validate_pod_spec


def validate_template(template: Any, selector: Any, path: str) -> list[Cause]:
    """A controller's pod template: labels matched by the selector, restartPolicy Always."""
    if not isinstance(template, dict):
        return [required(path, "")]
    errs: list[Cause] = []
    meta = as_dict(template.get("metadata"))
    errs += validate_template_meta(meta, f"{path}.metadata")
    labels = as_dict(meta.get("labels"))
    if isinstance(selector, dict) and not selector_is_empty(selector) and not selector_matches(selector, labels):
        errs.append(invalid(f"{path}.metadata.labels", go_map(labels), "`selector` does not match template `labels`"))
    errs += validate_pod_spec(template.get("spec"), f"{path}.spec", template=True)
    restart = as_dict(template.get("spec")).get("restartPolicy")
    if restart not in (None, "", "Always"):
        errs.append(validate_values(f"{path}.spec.restartPolicy", restart, ("Always",))[0])
    if as_dict(template.get("spec")).get("activeDeadlineSeconds") is not None:
        errs.append(forbidden(f"{path}.spec.activeDeadlineSeconds",
                              "activeDeadlineSeconds in ReplicaSet is not Supported"))
    return errs


def _selector(spec: dict[str, Any], kind: str) -> list[Cause]:
    selector = spec.get("selector")
    if selector is None:
        return [required("spec.selector", "")]
    errs = validate_label_selector(selector, "spec.selector")
    if isinstance(selector, dict) and selector_is_empty(selector):
        errs.append(invalid("spec.selector", go_selector(selector), f"empty selector is invalid for {kind}"))
    return errs


def _replicas(spec: dict[str, Any]) -> list[Cause]:
    return non_negative("spec.replicas", spec.get("replicas"))


def _int_or_percent(value: Any, path: str) -> list[Cause]:
    """maxSurge/maxUnavailable: a non-negative integer or a percent <= 100%."""
    if is_int(value):
        return non_negative(path, value)
    if isinstance(value, str):
        errs = [invalid(path, value, m) for m in names.is_percent(value)]
        if not errs and int(value[:-1]) > 100:
            errs.append(invalid(path, value, "must not be greater than 100%"))
        return errs
    return []


def _is_zero(value: Any) -> bool:
    return value == 0 or value == "0%"


def validate_deployment(obj: dict[str, Any], old: dict[str, Any] | None, subresource: str | None) -> list[Cause]:
    if subresource == "status":
        return _status(obj)
    spec = as_dict(obj.get("spec"))
    if subresource == "scale":
        return _replicas(spec)
    errs = _replicas(spec) + _selector(spec, "deployment")
    errs += validate_template(spec.get("template"), spec.get("selector"), "spec.template")
    strategy = as_dict(spec.get("strategy"))
    stype = strategy.get("type")
    errs += validate_values("spec.strategy.type", stype, ("Recreate", "RollingUpdate"))
    rolling = strategy.get("rollingUpdate")
    if stype == "Recreate" and rolling is not None:
        errs.append(forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"))
    elif isinstance(rolling, dict):
        surge, unavailable = rolling.get("maxSurge"), rolling.get("maxUnavailable")
        errs += _int_or_percent(surge, "spec.strategy.rollingUpdate.maxSurge")
        errs += _int_or_percent(unavailable, "spec.strategy.rollingUpdate.maxUnavailable")
        if _is_zero(surge) and _is_zero(unavailable):
            errs.append(invalid("spec.strategy.rollingUpdate.maxUnavailable", unavailable,
                                "may not be 0 when `maxSurge` is 0"))
    for f in ("revisionHistoryLimit", "minReadySeconds"):
        errs += non_negative(f"spec.{f}", spec.get(f))
    deadline, min_ready = spec.get("progressDeadlineSeconds"), spec.get("minReadySeconds") or 0
    if is_int(deadline):
        errs += non_negative("spec.progressDeadlineSeconds", deadline)
        if is_int(min_ready) and deadline <= min_ready:
            errs.append(invalid("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"))
    errs += immutable_selector(spec, old)
    return errs


def immutable_selector(spec: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    # apps/v1 made selectors immutable: changing them would orphan pods.
    if old is None:
        return []
    old_selector = as_dict(old.get("spec")).get("selector")
    if old_selector is not None and spec.get("selector") != old_selector:
        return [immutable("spec.selector", go_selector(spec.get("selector")))]
    return []


def _status(obj: dict[str, Any]) -> list[Cause]:
    status = as_dict(obj.get("status"))
    errs: list[Cause] = []
    for f in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas",
              "fullyLabeledReplicas", "observedGeneration"):
        errs += non_negative(f"status.{f}", status.get(f))
    ready, replicas = status.get("readyReplicas"), status.get("replicas")
    if is_int(ready) and is_int(replicas) and ready > replicas:
        errs.append(invalid("status.readyReplicas", ready, "cannot be greater than status.replicas"))
    available = status.get("availableReplicas")
    if is_int(available) and is_int(replicas) and available > replicas:
        errs.append(invalid("status.availableReplicas", available, "cannot be greater than status.replicas"))
    if is_int(available) and is_int(ready) and available > ready:
        errs.append(invalid("status.availableReplicas", available, "cannot be greater than readyReplicas"))
    return errs


def validate_replica_set(obj: dict[str, Any], old: dict[str, Any] | None, subresource: str | None) -> list[Cause]:
    if subresource == "status":
        return _status(obj)
    spec = as_dict(obj.get("spec"))
    if subresource == "scale":
        return _replicas(spec)
    errs = _replicas(spec) + _selector(spec, "deployment")
    errs += validate_template(spec.get("template"), spec.get("selector"), "spec.template")
    errs += non_negative("spec.minReadySeconds", spec.get("minReadySeconds"))
    errs += immutable_selector(spec, old)
    return errs
