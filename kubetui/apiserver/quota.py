"""The LimitRanger and ResourceQuota admission plugins, and Priority's PriorityClass checks.

Upstream: ``plugin/pkg/admission/limitranger`` (mutating: container
defaults; validating: min/max/ratio), ``plugin/pkg/admission/resourcequota``
(validating, the last plugin in the chain: charge the new object to every
quota it matches, or refuse it with 403) and the PriorityClass half of
``plugin/pkg/admission/priority`` (one ``globalDefault`` at most). The
arithmetic is pure and lives in ``kubetui.api.limitrange`` and
``kubetui.api.resourcequota``; this module reads the namespace's LimitRanges
and ResourceQuotas from the store and writes the new ``status.used``.

Charging happens before the object is stored, exactly as upstream: if the
store then fails the quota is over-counted until the quota controller
recounts (kubetui's ``controllers/resourcequota.py``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from kubetui.api import limitrange, resourcequota
from kubetui.api.errors import Forbidden
from kubetui.api.resources import Resource, resource_for

if TYPE_CHECKING:
    from kubetui.apiserver.registry import Registry

log = logging.getLogger(__name__)
Obj = dict[str, Any]


def forbidden(resource: Resource, name: str, why: str) -> Forbidden:
    """``admission.NewForbidden``: ``pods "web-" is forbidden: WHY`` (generateName when no name yet)."""
    return Forbidden(f'{resource.group_resource} "{name}" is forbidden: {why}', name=name, group=resource.group,
                     kind=resource.plural)


def _display_name(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return meta.get("name") or meta.get("generateName") or "Unknown"


def _in_namespace(registry: "Registry", plural: str, namespace: str | None) -> list[Obj]:
    if not namespace:
        return []
    res = resource_for(plural)
    return [kv.value for kv in registry.store.range(res.key("", namespace), copy=False)]


class LimitRanger:
    """Defaults from the namespace's LimitRanges on create (mutating), then their limits (validating)."""

    def admit_create(self, registry: "Registry", resource: Resource, namespace: str | None, obj: Obj) -> None:
        if resource.group_resource != "pods":
            return
        ranges = _in_namespace(registry, "limitranges", namespace)
        if ranges:
            limitrange.apply_defaults(obj, ranges)

    def admit_update(self, resource: Resource, new: Obj, old: Obj) -> None:
        return None

    async def validate_create(self, registry: "Registry", resource: Resource, namespace: str | None, obj: Obj,
                              *, display_name: str, dry_run: bool) -> None:
        if resource.group_resource not in ("pods", "persistentvolumeclaims"):
            return
        for lr in _in_namespace(registry, "limitranges", namespace):
            errs = (limitrange.validate_pod(obj, lr) if resource.group_resource == "pods"
                    else limitrange.validate_claim(obj, lr))
            if errs:
                raise forbidden(resource, display_name, limitrange.aggregate(errs))


class ResourceQuotaAdmission:
    """Charge a new object to the namespace's quotas, or refuse it (``exceeded quota: …``)."""

    async def validate_create(self, registry: "Registry", resource: Resource, namespace: str | None, obj: Obj,
                              *, display_name: str, dry_run: bool) -> None:
        if not namespace:
            return
        quotas = _in_namespace(registry, "resourcequotas", namespace)
        if not quotas:
            return
        gr = resource.group_resource
        try:
            charged = resourcequota.check_request(quotas, gr, obj)
        except resourcequota.QuotaRefusal as e:
            raise forbidden(resource, display_name, str(e)) from None
        if dry_run or not charged:
            return
        rq = resource_for("resourcequotas")
        for name in sorted(charged):
            # Re-check inside the compare-and-swap: another create may have charged the quota since.
            def charge(work: Obj, old: Obj, name: str = name) -> Obj:
                try:
                    new_used = resourcequota.check_request([old], gr, obj).get(name)
                except resourcequota.QuotaRefusal as e:
                    raise forbidden(resource, display_name, str(e)) from None
                if new_used is not None:
                    work.setdefault("status", {})["used"] = {**(work["status"].get("used") or {}), **new_used}
                return work
            await registry._guaranteed_update(rq, namespace, name, charge, subresource="status", dry_run=False)


class PriorityClassAdmission:
    """The Priority plugin on PriorityClasses: at most one ``globalDefault`` class."""

    def admit_create(self, registry: "Registry", resource: Resource, namespace: str | None, obj: Obj) -> None:
        if resource.group_resource != "priorityclasses.scheduling.k8s.io" or not obj.get("globalDefault"):
            return
        for kv in registry.store.range(resource.key(), copy=False):
            other = kv.value
            if other.get("globalDefault") and other["metadata"]["name"] != (obj.get("metadata") or {}).get("name"):
                raise forbidden(resource, _display_name(obj), f"PriorityClass {other['metadata']['name']} is "
                                                              f"already marked as default. Only one default can "
                                                              f"exist")

    def admit_update(self, resource: Resource, new: Obj, old: Obj) -> None:
        return None
