"""The hooks a kind's REST strategy offers the generic registry, and their defaults.

Upstream: ``staging/src/k8s.io/apiserver/pkg/registry/rest`` (``RESTCreateStrategy``,
``RESTUpdateStrategy``, ``RESTGracefulDeleteStrategy``) and the hook fields of
the generic store (``generic/registry/store.go``: ``BeginCreate``,
``AfterCreate``, ``BeginUpdate``, ``AfterDelete``). The generic registry calls
them in upstream's order:

create:  decode, default -> mutating admission -> ``prepare_for_create`` ->
         ``begin_create`` (e.g. allocate a ClusterIP) -> ``validate`` ->
         ``canonicalize`` -> store -> finish(success) -> ``after_create``
update:  ``prepare_for_update`` (or the subresource's) -> ``begin_update`` ->
         ``validate_update`` -> ``canonicalize`` -> compare-and-swap -> finish
delete:  ``check_graceful_delete`` -> ``prepare_for_delete`` (only if the
         object lingers) -> store -> ``after_delete``

``begin_*`` return a ``Finish``: called with True once the write is durable
(commit) or False when it failed or was a dry run (revert), exactly like
upstream's ``FinishFunc``. A kind's module subclasses ``Strategy`` and
overrides only what differs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from kubetui.api.patch import copy_json
from kubetui.api.resources import Resource

if TYPE_CHECKING:
    from kubetui.apiserver.registry import Registry

Obj = dict[str, Any]
Finish = Callable[[bool], None]

# Finalizers the garbage collector understands (upstream metav1.FinalizerOrphanDependents
# and FinalizerDeleteDependents).
ORPHAN_FINALIZER = "orphan"
FOREGROUND_FINALIZER = "foregroundDeletion"


def no_finish(success: bool) -> None:
    """The ``Finish`` of a hook that took nothing."""


class Strategy:
    """One kind's behaviour: the defaults are what a plain kind (a ConfigMap) does."""

    #: metadata.generation = 1 on create, +1 whenever the spec changes (pods, workloads).
    track_generation = False
    #: PUT creates a missing object (``AllowCreateOnUpdate``: Endpoints, Events, Leases).
    allow_create_on_update = False
    #: Subresources served by their own REST object (``scale``, ``binding``, ``eviction``).
    subresources: dict[str, Any] = {}

    def __init__(self, resource: Resource) -> None:
        self.resource = resource

    # -- create ------------------------------------------------------------------------

    def prepare_for_create(self, registry: "Registry", obj: Obj) -> None:
        """``PrepareForCreate``: reset what a client may not set (status, generation)."""
        meta = obj["metadata"]
        if self.track_generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)

    def begin_create(self, registry: "Registry", obj: Obj) -> Finish:
        """``BeginCreate``: take what the object needs before it is validated; undone on failure."""
        return no_finish

    def validate(self, registry: "Registry", obj: Obj) -> list[dict[str, str]]:
        """``Validate``: field errors of a new object (the kind's rules live in ``kubetui.api.validation``)."""
        if registry.hooks.validate is None:
            return []
        return list(registry.hooks.validate(self.resource, obj, old=None, subresource=None) or [])

    def canonicalize(self, obj: Obj) -> None:
        """``Canonicalize``: put a valid object into its one stored form (nothing to do for most kinds)."""

    async def after_create(self, registry: "Registry", obj: Obj) -> None:
        """``AfterCreate``: side effects once the object is stored."""

    # -- update ------------------------------------------------------------------------

    def prepare_for_update(self, registry: "Registry", new: Obj, old: Obj) -> None:
        """``PrepareForUpdate``: a main-resource PUT cannot change status (the status subresource does)."""
        if "status" in self.resource.subresources:
            if "status" in old:
                new["status"] = copy_json(old["status"])
            else:
                new.pop("status", None)

    def prepare_subresource_update(self, subresource: str, new: Obj, old: Obj) -> Obj | None:
        """The object a PUT/PATCH on ``<kind>/<subresource>`` stores, or None if the kind has no such writer.

        ``status``: the status strategy's ``PrepareForUpdate``: only status
        changes; spec and metadata come from the live object (except the
        resourceVersion the client sent for the compare-and-swap).
        """
        if subresource != "status":
            return None
        out = copy_json(old)
        if "status" in new:
            out["status"] = new["status"]
        else:
            out.pop("status", None)
        out["metadata"]["resourceVersion"] = (new.get("metadata") or {}).get("resourceVersion")
        return out

    def update_generation(self, new: Obj, old: Obj) -> None:
        """Keep generation from the live object; +1 when the spec changed (for kinds that track it)."""
        meta = new["metadata"]
        old_gen = old.get("metadata", {}).get("generation")
        if old_gen is None:
            meta.pop("generation", None)
            return
        meta["generation"] = old_gen
        if self.track_generation and new.get("spec") != old.get("spec"):
            meta["generation"] = old_gen + 1

    def begin_update(self, registry: "Registry", new: Obj, old: Obj, subresource: str | None) -> Finish:
        """``BeginUpdate``: like ``begin_create`` for an update; the finish also releases what the update dropped."""
        return no_finish

    def validate_update(self, registry: "Registry", new: Obj, old: Obj,
                        subresource: str | None) -> list[dict[str, str]]:
        """``ValidateUpdate``: field errors of the change (immutable fields and the new object's rules)."""
        if registry.hooks.validate is None:
            return []
        return list(registry.hooks.validate(self.resource, new, old=old, subresource=subresource) or [])

    # -- delete ------------------------------------------------------------------------

    def check_delete(self, registry: "Registry", namespace: str | None, name: str) -> None:
        """Refuse a delete outright, before the object is read (raise a ``StatusError``); most kinds allow any."""

    #: ``DefaultGarbageCollectionPolicy`` when a DELETE names none: None keeps the
    #: object's GC finalizers and lets the collector delete dependents in the background.
    default_propagation_policy: str | None = None

    def propagation_policy(self, meta: Obj, requested: str | None) -> str | None:
        """The policy a DELETE applies: the requested one, else the kind's default unless a GC finalizer is set."""
        if requested is not None or self.default_propagation_policy is None:
            return requested
        if set(meta.get("finalizers") or []) & {ORPHAN_FINALIZER, FOREGROUND_FINALIZER}:
            return None
        return self.default_propagation_policy

    def check_graceful_delete(self, obj: Obj, requested: int | None) -> int:
        """``CheckGracefulDelete``: seconds the object lingers, marked, before it is removed (0: at once)."""
        return 0

    def pending_finalizers(self, obj: Obj) -> bool:
        """Does something besides ``metadata.finalizers`` hold the object (a namespace's spec.finalizers)?"""
        return False

    def prepare_for_delete(self, obj: Obj) -> None:
        """The object is now marked for deletion and lingers: what changes on it (a namespace's phase)."""

    def after_delete(self, registry: "Registry", obj: Obj) -> None:
        """``AfterDelete``: the object is gone; give back what it held."""


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


def should_delete_during_update(strategy: Strategy, obj: Obj) -> bool:
    """An update that removes the last finalizer of an object being deleted with
    grace 0 completes the deletion (``ShouldDeleteDuringUpdate``)."""
    meta = obj.get("metadata") or {}
    if meta.get("deletionTimestamp") is None or meta.get("finalizers") or strategy.pending_finalizers(obj):
        return False
    return meta.get("deletionGracePeriodSeconds") == 0
