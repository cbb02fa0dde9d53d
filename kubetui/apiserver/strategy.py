"""Per-kind REST strategies: what each kind does on create, update and delete.

Upstream every resource has a ``strategy.go`` next to its storage
(pkg/registry/core/pod/strategy.go, pkg/registry/apps/deployment/strategy.go,
...) implementing ``PrepareForCreate``, ``PrepareForUpdate``, the status
strategy's variants, and ``CheckGracefulDelete``. The generic registry
(``registry.py``) calls these hooks; this module keeps the per-kind knowledge
in one readable place.

Every function works in place on private copies the registry owns.
"""

from __future__ import annotations

from typing import Any

from kubetui.api.patch import copy_json
from kubetui.api.resources import Resource

Obj = dict[str, Any]

# Kinds whose strategy sets metadata.generation = 1 on create and bumps it when
# the spec changes (deployment/replicaset/pod strategies upstream; Services,
# Nodes and Namespaces have no generation).
GENERATION_KINDS = frozenset({"Pod", "Deployment", "ReplicaSet"})

# PUT may create a missing object for these (``AllowCreateOnUpdate`` upstream).
CREATE_ON_UPDATE_KINDS = frozenset({"Endpoints", "Event", "Lease", "EndpointSlice"})

# Namespaces the NamespaceLifecycle admission plugin refuses to delete.
IMMORTAL_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})

# Finalizers the garbage collector understands (upstream metav1.FinalizerOrphanDependents
# and FinalizerDeleteDependents).
ORPHAN_FINALIZER = "orphan"
FOREGROUND_FINALIZER = "foregroundDeletion"


def has_status_subresource(resource: Resource) -> bool:
    return "status" in resource.subresources


def prepare_for_create(resource: Resource, obj: Obj, qos_class: Any = None) -> None:
    """Reset what a client may not set on create (``PrepareForCreate``)."""
    kind = resource.kind
    meta = obj["metadata"]
    if kind in GENERATION_KINDS:
        meta["generation"] = 1
    else:
        meta.pop("generation", None)
    if kind == "Pod":
        # podStrategy.PrepareForCreate: status starts as Pending with the QoS class.
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        status: Obj = {"phase": "Pending"}
        if qos_class is not None:
            status["qosClass"] = qos_class(spec)
        obj["status"] = status
    elif kind in ("Deployment", "ReplicaSet", "Service"):
        obj["status"] = {"loadBalancer": {}} if kind == "Service" else {}
    elif kind == "Namespace":
        obj["status"] = {"phase": "Active"}
        spec = obj.setdefault("spec", {})
        if not spec.get("finalizers"):
            spec["finalizers"] = ["kubernetes"]
    elif kind in ("PersistentVolume", "PersistentVolumeClaim"):
        obj["status"] = {"phase": "Pending"}


def prepare_for_update(resource: Resource, new: Obj, old: Obj) -> None:
    """A main-resource PUT cannot change status (that is the status subresource's job)."""
    if has_status_subresource(resource):
        if "status" in old:
            new["status"] = copy_json(old["status"])
        else:
            new.pop("status", None)
    if resource.kind == "Namespace":
        # Only the finalize subresource edits spec.finalizers.
        new.setdefault("spec", {})["finalizers"] = list((old.get("spec") or {}).get("finalizers") or [])


def prepare_for_status_update(resource: Resource, new: Obj, old: Obj) -> Obj:
    """A status PUT changes only status: everything else comes from the live object.

    Upstream's status strategies reset spec (and for most kinds labels and
    annotations) to the old values; kubetui keeps all of metadata from the
    live object except the resourceVersion the client sent for the CAS.
    """
    out = copy_json(old)
    if "status" in new:
        out["status"] = new["status"]
    else:
        out.pop("status", None)
    out["metadata"]["resourceVersion"] = (new.get("metadata") or {}).get("resourceVersion")
    return out


def prepare_for_finalize(new: Obj, old: Obj) -> Obj:
    """``namespaces/{name}/finalize``: only ``spec.finalizers`` changes."""
    out = copy_json(old)
    out.setdefault("spec", {})["finalizers"] = list((new.get("spec") or {}).get("finalizers") or [])
    out["metadata"]["resourceVersion"] = (new.get("metadata") or {}).get("resourceVersion")
    return out


def bump_generation(resource: Resource, new: Obj, old: Obj) -> None:
    """Keep generation from the live object; +1 when the spec changed."""
    meta = new["metadata"]
    old_gen = old.get("metadata", {}).get("generation")
    if old_gen is None:
        meta.pop("generation", None)
        return
    meta["generation"] = old_gen
    if resource.kind in GENERATION_KINDS and new.get("spec") != old.get("spec"):
        meta["generation"] = old_gen + 1


def graceful_delete_seconds(resource: Resource, obj: Obj, requested: int | None) -> int:
    """How long a deleted object lingers before it is really removed.

    Only pods are deleted gracefully (``podStrategy.CheckGracefulDelete``): the
    kubelet gets ``terminationGracePeriodSeconds`` to stop the containers and
    then deletes the pod with grace 0. A pod that never reached a node, or
    already finished, has nothing to stop and goes at once.
    """
    if resource.kind != "Pod":
        return 0
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
        return 0
    if requested is not None:
        return max(0, int(requested))
    grace = spec.get("terminationGracePeriodSeconds")
    return 30 if grace is None else max(0, int(grace))


def apply_propagation_finalizers(meta: Obj, policy: str | None) -> None:
    """``propagationPolicy`` becomes a finalizer the garbage collector acts on.

    Foreground: ``foregroundDeletion`` (dependents go first, then the owner);
    Orphan: ``orphan`` (dependents lose their ownerReference); Background: no
    finalizer, the owner goes now and the GC removes dependents afterwards.
    No policy keeps whatever GC finalizers the object already has.
    """
    if policy is None:
        return
    finalizers = [f for f in meta.get("finalizers") or [] if f not in (ORPHAN_FINALIZER, FOREGROUND_FINALIZER)]
    if policy == "Orphan":
        finalizers.append(ORPHAN_FINALIZER)
    elif policy == "Foreground":
        finalizers.append(FOREGROUND_FINALIZER)
    if finalizers:
        meta["finalizers"] = finalizers
    else:
        meta.pop("finalizers", None)


def should_delete_during_update(resource: Resource, obj: Obj) -> bool:
    """An update that removes the last finalizer of an object being deleted with
    grace 0 completes the deletion (``ShouldDeleteDuringUpdate``)."""
    meta = obj.get("metadata") or {}
    if meta.get("deletionTimestamp") is None or meta.get("finalizers"):
        return False
    if resource.kind == "Namespace" and (obj.get("spec") or {}).get("finalizers"):
        return False
    return meta.get("deletionGracePeriodSeconds") == 0


DEFAULT_CLASS_ANNOTATIONS = ("storageclass.kubernetes.io/is-default-class",
                             "storageclass.beta.kubernetes.io/is-default-class")


def admit_default_storage_class(claim: Obj, classes: Any) -> None:
    """DefaultStorageClass admission (plugin/pkg/admission/storage/storageclass/setdefault):
    a PersistentVolumeClaim that names no class gets the default one (the newest, if several
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
