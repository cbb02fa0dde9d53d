"""Namespaces: born Active with the ``kubernetes`` finalizer, die Terminating, get a default ServiceAccount.

Upstream: ``pkg/registry/core/namespace/strategy.go`` (``PrepareForCreate``
sets ``spec.finalizers: [kubernetes]`` and ``status.phase: Active``; only the
``finalize`` subresource edits the finalizers) and
``pkg/registry/core/namespace/storage/storage.go`` (``Delete`` marks the
namespace Terminating and leaves it to the namespace controller). The four
system namespaces may not be deleted (the NamespaceLifecycle admission plugin).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from kubetui.api import errors
from kubetui.api.errors import Forbidden
from kubetui.api.patch import copy_json
from kubetui.api.resources import resource_for
from kubetui.apiserver.strategies.base import Obj, Strategy

if TYPE_CHECKING:
    from kubetui.apiserver.registry import Registry

log = logging.getLogger(__name__)

# Namespaces the NamespaceLifecycle admission plugin refuses to delete.
IMMORTAL_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})
FINALIZER = "kubernetes"


class NamespaceStrategy(Strategy):
    def prepare_for_create(self, registry: "Registry", obj: Obj) -> None:
        super().prepare_for_create(registry, obj)
        obj["status"] = {"phase": "Active"}
        spec = obj.setdefault("spec", {})
        if not spec.get("finalizers"):
            spec["finalizers"] = [FINALIZER]

    async def after_create(self, registry: "Registry", obj: Obj) -> None:
        await ensure_default_service_account(registry, obj["metadata"]["name"])

    def prepare_for_update(self, registry: "Registry", new: Obj, old: Obj) -> None:
        super().prepare_for_update(registry, new, old)
        # Only the finalize subresource edits spec.finalizers.
        new.setdefault("spec", {})["finalizers"] = list((old.get("spec") or {}).get("finalizers") or [])

    def prepare_subresource_update(self, subresource: str, new: Obj, old: Obj) -> Obj | None:
        """``namespaces/{name}/finalize``: only ``spec.finalizers`` changes."""
        if subresource != "finalize":
            return super().prepare_subresource_update(subresource, new, old)
        out = copy_json(old)
        out.setdefault("spec", {})["finalizers"] = list((new.get("spec") or {}).get("finalizers") or [])
        out["metadata"]["resourceVersion"] = (new.get("metadata") or {}).get("resourceVersion")
        return out

    def check_delete(self, registry: "Registry", namespace: str | None, name: str) -> None:
        if name in IMMORTAL_NAMESPACES:
            raise Forbidden(f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                            name=name, kind="namespaces")

    def pending_finalizers(self, obj: Obj) -> bool:
        return bool((obj.get("spec") or {}).get("finalizers"))

    def prepare_for_delete(self, obj: Obj) -> None:
        obj.setdefault("status", {})["phase"] = "Terminating"


async def ensure_default_service_account(registry: "Registry", namespace: str) -> None:
    """Put a ``default`` ServiceAccount into ``namespace`` if it has none.

    Upstream the ServiceAccount controller (in kube-controller-manager) does
    this alone; kubetui runs that controller too (``controllers/serviceaccounts.py``:
    a deleted ``default`` comes back) and also creates it here, so a pod
    created right after its namespace never races the controller.
    """
    sa = resource_for("serviceaccounts")
    if registry.store.get(sa.key("default", namespace), copy=False) is None:
        try:
            await registry.create(sa, namespace, {"metadata": {"name": "default"}})
        except errors.AlreadyExists:
            pass
