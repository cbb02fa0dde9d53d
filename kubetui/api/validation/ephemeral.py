"""Ephemeral containers: what ``kubectl debug`` adds to a running pod, and what it may not.

Upstream: pkg/apis/core/validation/validation.go (``validateEphemeralContainers``,
``allowedEphemeralContainerFields``, ``ValidatePodEphemeralContainersUpdate``,
and ``ValidatePodCreate``'s "cannot be set on create"). An ephemeral container
is a debugging tool, never part of the workload, so whatever a workload relies
on (ports, probes, resources, lifecycle hooks, subPath mounts) is forbidden on
it; it may only be added, through the ``pods/ephemeralcontainers`` subresource,
and once added it can be neither changed nor removed (the kubelet never
restarts it either: it runs once, in the pod's existing sandbox).
"""

from __future__ import annotations

from typing import Any

from kubetui.api.validation.field import (
    Cause, as_dict, as_list, child, dict_items, forbidden, index, not_found, render,
)

#: The EphemeralContainerCommon fields an ephemeral container may set (upstream's
#: allow list; every other Container field is "cannot be set for an Ephemeral Container").
ALLOWED_FIELDS = frozenset((
    "name", "image", "command", "args", "workingDir", "envFrom", "env", "volumeMounts", "volumeDevices",
    "terminationMessagePath", "terminationMessagePolicy", "imagePullPolicy", "securityContext",
    "stdin", "stdinOnce", "tty",
    "targetContainerName",  # EphemeralContainer's own field, beside the common ones
))

MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"


def _is_zero(value: Any) -> bool:
    """Go's zero value: an unset field, ``{}`` for a struct (``resources: {}`` is what kubectl sends)."""
    return value is None or value == "" or value is False or value == 0 or value == {}


def validate_ephemeral_containers(spec: dict[str, Any], path: str) -> list[Cause]:
    """``validateEphemeralContainers``: the checks beyond the ones every container gets.

    Name uniqueness across all three container lists is the pod spec's check
    (``validate_pod_spec``), which reports it on the ephemeral container.
    """
    errs: list[Cause] = []
    others = {c.get("name") for kind in ("containers", "initContainers") for _, c in dict_items(spec.get(kind))}
    for i, ec in dict_items(spec.get("ephemeralContainers")):
        p = index(path, i)
        target = ec.get("targetContainerName")
        if target and target not in others:
            errs.append(not_found(child(p, "targetContainerName"), target))
        for field in sorted(ec):
            if field not in ALLOWED_FIELDS and not _is_zero(ec[field]):
                errs.append(forbidden(child(p, field), "cannot be set for an Ephemeral Container"))
        for j, mount in dict_items(ec.get("volumeMounts")):
            mp = index(child(p, "volumeMounts"), j)
            for field in ("subPath", "subPathExpr"):
                if mount.get(field):
                    errs.append(forbidden(child(mp, field), "cannot be set for an Ephemeral Container"))
    return errs


def validate_on_create(spec: Any) -> list[Cause]:
    """``ValidatePodCreate``: a new pod has no ephemeral containers (they join a running pod)."""
    if as_list(as_dict(spec).get("ephemeralContainers")):
        return [forbidden("spec.ephemeralContainers", "cannot be set on create")]
    return []


def validate_update(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    """``ValidatePodEphemeralContainersUpdate``, part 2 (and the static-pod refusal).

    The new pod's spec is validated as a whole by the caller; here: a mirror
    pod takes no ephemeral containers, and existing ones may not be removed or
    changed (matched by name: a patch need not keep their order).
    """
    if MIRROR_POD_ANNOTATION in as_dict(as_dict(old.get("metadata")).get("annotations")):
        return [forbidden("", "static pods do not support ephemeral containers")]
    errs: list[Cause] = []
    path = "spec.ephemeralContainers"
    by_name = {c.get("name"): c for _, c in dict_items(as_dict(new.get("spec")).get("ephemeralContainers"))}
    for _, was in dict_items(as_dict(old.get("spec")).get("ephemeralContainers")):
        name = was.get("name")
        now = by_name.get(name)
        if now is None:
            errs.append(forbidden(path, f"existing ephemeral containers {render(name)} may not be removed\n"))
        elif now != was:
            errs.append(forbidden(path, f"existing ephemeral containers {render(name)} may not be changed\n"
                                        + diff(was, now)))
    return errs


def diff(old: dict[str, Any], new: dict[str, Any]) -> str:
    """A short ``-``/``+`` account of what changed (upstream prints ``cmp.Diff`` of the Go structs)."""
    lines = ["  core.EphemeralContainer{"]
    for k in sorted(set(old) | set(new)):
        if old.get(k) == new.get(k):
            continue
        if k in old:
            lines.append(f"- \t{k}: {render(old[k])},")
        if k in new:
            lines.append(f"+ \t{k}: {render(new[k])},")
    lines.append("  }")
    return "\n".join(lines) + "\n"
