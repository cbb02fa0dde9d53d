"""The StorageClasses every kubetui cluster starts with (kind ships ``standard`` the same way).

Upstream: ``storage.k8s.io/v1`` StorageClass; the default class is the one
annotated ``storageclass.kubernetes.io/is-default-class: "true"``, which the
DefaultStorageClass admission plugin writes into claims that name no class.
"""

from __future__ import annotations

import logging
from typing import Any

from kubetui.api import errors

log = logging.getLogger(__name__)

Obj = dict[str, Any]

DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
BETA_DEFAULT_CLASS_ANNOTATION = "storageclass.beta.kubernetes.io/is-default-class"

NODE_LOCAL_PROVISIONER = "kubetui.dev/node-local"
SHARED_PROVISIONER = "kubetui.dev/shared"

# Inside every node: where node-local volumes live, and where the shared area is mounted.
NODE_LOCAL_ROOT = "/var/lib/kubetui/volumes"
SHARED_ROOT = "/mnt/kubetui-shared"


def standard_class() -> Obj:
    """Node-local disk, bound when the first pod using it is scheduled; the default class."""
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "standard", "annotations": {DEFAULT_CLASS_ANNOTATION: "true"}},
            "provisioner": NODE_LOCAL_PROVISIONER, "reclaimPolicy": "Delete",
            "volumeBindingMode": "WaitForFirstConsumer"}


def shared_class() -> Obj:
    """One storage area mounted on every node: ReadWriteMany, data follows a rescheduled pod."""
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "shared"},
            "provisioner": SHARED_PROVISIONER, "reclaimPolicy": "Delete",
            "volumeBindingMode": "Immediate"}


def is_default_class(sc: Obj) -> bool:
    ann = (sc.get("metadata") or {}).get("annotations") or {}
    return ann.get(DEFAULT_CLASS_ANNOTATION) == "true" or ann.get(BETA_DEFAULT_CLASS_ANNOTATION) == "true"


def default_class_name(classes: list[Obj]) -> str | None:
    """The default StorageClass; with several, the newest wins (Kubernetes >= 1.26), then by name.

    >>> default_class_name([{"metadata": {"name": "a"}}])
    >>> default_class_name([{"metadata": {"name": "s", "annotations": {DEFAULT_CLASS_ANNOTATION: "true"}}}])
    's'
    """
    defaults = [sc for sc in classes if is_default_class(sc)]
    if not defaults:
        return None
    newest = max(defaults, key=lambda sc: ((sc["metadata"].get("creationTimestamp") or ""),
                                           sc["metadata"]["name"]))
    return newest["metadata"]["name"]


async def ensure_storage_classes(client: Any) -> list[str]:
    """Create ``standard`` and ``shared`` if missing (never overwrites a learner's edits)."""
    created = []
    for sc in (standard_class(), shared_class()):
        try:
            await client.create("storageclasses", sc)
            created.append(sc["metadata"]["name"])
        except errors.AlreadyExists:
            pass
    if created:
        log.info("created StorageClasses: %s", ", ".join(created))
    return created
