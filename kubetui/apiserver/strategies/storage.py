"""PersistentVolumes and PersistentVolumeClaims, and the DefaultStorageClass admission plugin.

Upstream: ``pkg/registry/core/persistentvolume/strategy.go`` and
``pkg/registry/core/persistentvolumeclaim/strategy.go`` (status starts
Pending), and ``plugin/pkg/admission/storage/storageclass/setdefault``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from kubetui.api.resources import Resource, resource_for
from kubetui.apiserver.strategies.base import Obj, Strategy

if TYPE_CHECKING:
    from kubetui.apiserver.registry import Registry


class VolumeStrategy(Strategy):
    """A volume or claim starts Pending; the PV controller binds it."""

    def prepare_for_create(self, registry: "Registry", obj: Obj) -> None:
        super().prepare_for_create(registry, obj)
        obj["status"] = {"phase": "Pending"}


DEFAULT_CLASS_ANNOTATIONS = ("storageclass.kubernetes.io/is-default-class",
                             "storageclass.beta.kubernetes.io/is-default-class")


def admit_default_storage_class(claim: Obj, classes: Iterable[Obj]) -> None:
    """A PersistentVolumeClaim that names no class gets the default one (the newest, if several
    are marked). ``storageClassName: ""`` is a choice ("no class") and is left alone."""
    spec = claim.get("spec")
    if not isinstance(spec, dict) or spec.get("storageClassName") is not None:
        return
    defaults = [sc for sc in classes
                if any(((sc.get("metadata") or {}).get("annotations") or {}).get(a) == "true"
                       for a in DEFAULT_CLASS_ANNOTATIONS)]
    if defaults:
        newest = max(defaults, key=lambda sc: (sc["metadata"].get("creationTimestamp") or "", sc["metadata"]["name"]))
        spec["storageClassName"] = newest["metadata"]["name"]


class DefaultStorageClass:
    """The ``DefaultStorageClass`` mutating admission plugin (claims, on create)."""

    def admit_create(self, registry: "Registry", resource: Resource, namespace: str | None, obj: Obj) -> None:
        if resource.kind != "PersistentVolumeClaim":
            return
        classes = registry.store.range(resource_for("storageclasses").key(), copy=False)
        admit_default_storage_class(obj, (kv.value for kv in classes))

    def admit_update(self, resource: Resource, new: Obj, old: Obj) -> Any:
        return None
