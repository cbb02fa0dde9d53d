"""Quantities in canonical form, in every field of a served kind that holds one.

Upstream: a ``resource.Quantity`` (k8s.io/apimachinery/pkg/api/resource) is
parsed when an object is decoded and written back by ``Quantity.String()``,
which always gives the canonical form: no precision lost, no fractional
digits, the largest suffix that allows that, in the suffix family the value
was written in (``cpu: "0.5"`` reads back as ``500m``, ``1000m`` as ``1``,
``1.5Gi`` as ``1536Mi``, ``memory: 1Gi`` stays ``1Gi``, an extended resource
written as the number ``3`` comes back as the string ``"3"``). So a
Quantity never reads back the way it was written unless it was canonical.
kubetui stores objects as JSON, so the registry canonicalizes each Quantity
field on every write (from ``apply_defaults``, where upstream's decoding
would have done it).

One more Go artefact belongs here: ``ResourceFieldSelector.divisor`` is a
Quantity *value*, not a pointer, so an unset divisor is written as ``"0"``.

A value that does not parse is left alone: validation reports it.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

from kubetui.api.quantity import format_quantity

Obj = dict[str, Any]


def canonical(value: Any) -> Any:
    """The canonical string of a quantity, or ``value`` unchanged if it is not one.

    >>> [canonical(v) for v in ("0.5", "1Gi", "1000m", 3, "1.5Gi", "2000", "1e3", "nope")]
    ['500m', '1Gi', '1', '3', '1536Mi', '2k', '1e3', 'nope']
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return value
    try:
        return format_quantity(value)
    except (ValueError, ArithmeticError):
        return value


def _dict(obj: Any, *path: str) -> Obj | None:
    for p in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(p)
    return obj if isinstance(obj, dict) else None


def _list(obj: Any, *path: str) -> list[Obj]:
    for p in path:
        if not isinstance(obj, dict):
            return []
        obj = obj.get(p)
    return [v for v in obj if isinstance(v, dict)] if isinstance(obj, list) else []


def _resource_list(rl: Any) -> None:
    """A ``ResourceList`` (a map of resource name to Quantity)."""
    if isinstance(rl, dict):
        for name, value in rl.items():
            rl[name] = canonical(value)


def _requirements(req: Any) -> None:
    """``ResourceRequirements`` / ``VolumeResourceRequirements``: limits and requests."""
    if isinstance(req, dict):
        _resource_list(req.get("limits"))
        _resource_list(req.get("requests"))


def _field(obj: Obj | None, key: str) -> None:
    if obj is not None and key in obj:
        obj[key] = canonical(obj[key])


def _resource_field_ref(ref: Any) -> None:
    if isinstance(ref, dict):
        ref["divisor"] = canonical(ref.get("divisor", "0"))


def _downward_items(source: Any) -> Iterator[Obj]:
    yield from _list(source, "items")


def pod_spec(spec: Any) -> None:
    """Every Quantity of a PodSpec (a Pod's, or a template's)."""
    if not isinstance(spec, dict):
        return
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in _list(spec, key):
            _requirements(c.get("resources"))
            for env in _list(c, "env"):
                _resource_field_ref((_dict(env, "valueFrom") or {}).get("resourceFieldRef"))
    _resource_list(spec.get("overhead"))
    _requirements(spec.get("resources"))  # pod-level resources
    for v in _list(spec, "volumes"):
        _field(_dict(v, "emptyDir"), "sizeLimit")
        _requirements(_dict(v, "ephemeral", "volumeClaimTemplate", "spec", "resources"))
        sources = [_dict(v, "downwardAPI")] + [_dict(s, "downwardAPI") for s in _list(v, "projected", "sources")]
        for source in sources:
            for item in _downward_items(source):
                _resource_field_ref(item.get("resourceFieldRef"))


def _pod(pod: Obj) -> None:
    pod_spec(pod.get("spec"))
    for key in ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"):
        for s in _list(pod, "status", key):
            _resource_list(s.get("allocatedResources"))
            _requirements(s.get("resources"))


def _template_owner(obj: Obj) -> None:
    pod_spec(_dict(obj, "spec", "template", "spec"))


def _node(node: Obj) -> None:
    _resource_list(_dict(node, "status", "capacity"))
    _resource_list(_dict(node, "status", "allocatable"))


def _pv(pv: Obj) -> None:
    _resource_list(_dict(pv, "spec", "capacity"))


def _pvc(pvc: Obj) -> None:
    _requirements(_dict(pvc, "spec", "resources"))
    _resource_list(_dict(pvc, "status", "capacity"))
    _resource_list(_dict(pvc, "status", "allocatedResources"))


def _stateful_set(sts: Obj) -> None:
    _template_owner(sts)
    for claim in _list(sts, "spec", "volumeClaimTemplates"):
        _pvc(claim)


_BY_KIND: dict[str, Callable[[Obj], None]] = {
    "Pod": _pod,
    "Deployment": _template_owner,
    "ReplicaSet": _template_owner,
    "Job": _template_owner,
    "CronJob": lambda cj: _template_owner(_dict(cj, "spec", "jobTemplate") or {}),
    "DaemonSet": _template_owner,
    "StatefulSet": _stateful_set,
    "Node": _node,
    "PersistentVolume": _pv,
    "PersistentVolumeClaim": _pvc,
}


def canonicalize_quantities(kind: str, obj: Any) -> None:
    """Rewrite every Quantity field of ``obj`` (a ``kind``) in canonical form, in place."""
    fn = _BY_KIND.get(kind)
    if fn is not None and isinstance(obj, dict):
        fn(obj)
