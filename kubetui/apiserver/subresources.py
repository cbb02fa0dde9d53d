"""Subresources with their own shapes: ``scale``, ``binding`` and ``eviction``.

Upstream: pkg/registry/apps/deployment/storage/storage.go (``ScaleREST``),
pkg/registry/core/pod/storage/storage.go (``BindingREST``, the scheduler's
only write) and pkg/registry/core/pod/storage/eviction.go (``EvictionREST``,
what ``kubectl drain`` posts). ``status`` and ``finalize`` are plain updates
of the object (the kind's strategy says what they may change). A kind's
strategy (``kubetui.apiserver.strategies``) lists the REST objects it serves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubetui.api import errors
from kubetui.api.errors import BadRequest, NotFound, field_error, not_found_generic
from kubetui.api.patch import apply_patch, copy_json
from kubetui.api.resources import Resource
from kubetui.api.selectors import selector_to_string
from kubetui.apiserver.eviction import evict
from kubetui.clock import rfc3339

if TYPE_CHECKING:
    from kubetui.apiserver.registry import Registry

Obj = dict[str, Any]


def _no_such(resource: Resource, subresource: str) -> NotFound:
    return not_found_generic(f"the server could not find the requested resource ({resource.plural}/{subresource})")


def _check(resource: Resource, subresource: str, verb: str) -> None:
    sub = resource.subresources.get(subresource)
    if sub is None:
        raise _no_such(resource, subresource)
    if verb not in sub[1]:
        raise errors.MethodNotAllowed(f"the server does not allow this method on the requested resource "
                                      f"({resource.plural}/{subresource})")


def _status_success(code: int = 201) -> Obj:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code}


# ----------------------------------------------------------------------- scale

def to_scale(obj: Obj) -> Obj:
    """An autoscaling/v1 ``Scale`` view of a Deployment, ReplicaSet or ReplicationController.

    (An RC's selector is a plain label map: ``SelectorFromSet`` upstream.)
    """
    meta = obj["metadata"]
    spec = obj.get("spec") or {}
    selector = spec.get("selector")
    if obj.get("kind") == "ReplicationController" or (
            isinstance(selector, dict) and selector and "matchLabels" not in selector
            and "matchExpressions" not in selector):
        selector = {"matchLabels": selector or {}}
    return {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                     if k in meta},
        "spec": {"replicas": spec.get("replicas", 0)},
        "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                   "selector": selector_to_string(selector)},
    }


async def _write_scale(registry: "Registry", resource: Resource, namespace: str | None, name: str,
                       scale: Obj, dry_run: bool) -> Obj:
    replicas = (scale.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise errors.invalid("Scale", name, [field_error(
            "spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0")], "autoscaling")
    rv = (scale.get("metadata") or {}).get("resourceVersion")

    def update(work: Obj, old: Obj) -> Obj:
        work.setdefault("spec", {})["replicas"] = replicas
        if rv:
            work["metadata"]["resourceVersion"] = rv
        return registry._prepare_put(resource, work, old, None)

    out = await registry._guaranteed_update(resource, namespace, name, update, subresource=None, dry_run=dry_run)
    return to_scale(out)


# --------------------------------------------------------------------- binding

async def _bind(registry: "Registry", resource: Resource, namespace: str | None, name: str | None,
                binding: Obj, dry_run: bool) -> Obj:
    """The scheduler's decision: set ``spec.nodeName`` and ``PodScheduled=True``."""
    meta = binding.get("metadata") or {}
    name = name or meta.get("name")
    if not name:
        raise BadRequest("name is required for a binding")
    if meta.get("name") not in (None, "", name):
        raise BadRequest(f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})")
    target = binding.get("target") or {}
    if target.get("kind") not in (None, "", "Node"):
        raise errors.invalid("Binding", name, [field_error(
            "target.kind", f'Invalid value: "{target.get("kind")}": must be empty or \'Node\'')])
    node = target.get("name")
    if not node:
        raise errors.invalid("Binding", name, [field_error("target.name", "Required value", "FieldValueRequired")])
    want_uid = meta.get("uid")
    now = rfc3339(registry.clock.time())

    def update(pod: Obj, before: Obj) -> Obj:
        pmeta = pod["metadata"]
        if want_uid and want_uid != pmeta.get("uid"):
            raise _binding_conflict(name, f"Precondition failed: UID in precondition: {want_uid}, "
                                          f"UID in object meta: {pmeta.get('uid')}")
        if pmeta.get("deletionTimestamp"):
            raise _binding_conflict(name, f"pod {name} is being deleted, cannot be assigned to a host")
        spec = pod.setdefault("spec", {})
        if spec.get("nodeName"):
            raise _binding_conflict(name, f'pod {name} is already assigned to node "{spec["nodeName"]}"')
        spec["nodeName"] = node
        for k, v in (meta.get("annotations") or {}).items():
            pmeta.setdefault("annotations", {})[k] = v
        conditions = pod.setdefault("status", {}).setdefault("conditions", [])
        for c in conditions:
            if c.get("type") == "PodScheduled":
                if c.get("status") != "True":
                    c["lastTransitionTime"] = now
                c["status"] = "True"
                c.pop("reason", None)
                c.pop("message", None)
                break
        else:
            conditions.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                               "lastTransitionTime": now})
        status = pod["status"]
        new = registry._prepare_put(resource, pod, before, None)
        new["status"] = status  # a main-resource update keeps the old status; binding sets it
        if "generation" in before["metadata"]:
            new["metadata"]["generation"] = before["metadata"]["generation"]  # not a spec edit by a user
        return new

    # Upstream's BindingREST writes with GuaranteedUpdate directly: pod update
    # validation (which forbids changing spec.nodeName) does not apply.
    await registry._guaranteed_update(resource, namespace, name, update, subresource=None, dry_run=dry_run,
                                      validate=False)
    return _status_success()


def _binding_conflict(name: str, detail: str) -> errors.Conflict:
    return errors.Conflict(f'Operation cannot be fulfilled on pods/binding "{name}": {detail}',
                           name=name, kind="pods/binding")


# -------------------------------------------------------------------- eviction

async def _evict(registry: "Registry", resource: Resource, namespace: str | None, name: str | None,
                 eviction: Obj, dry_run: bool) -> Obj:
    """``kubectl drain``'s request, honouring the pod's PodDisruptionBudget (``eviction.py``)."""
    return await evict(registry, resource, namespace, name, eviction, dry_run)


# ------------------------------------------------------------------ REST objects

class SubresourceREST:
    """A subresource with its own REST storage; a kind's strategy lists the ones it serves.

    Each verb the subresource does not serve is a 404, as upstream (the URL
    names no such resource).
    """

    async def get(self, registry: "Registry", resource: Resource, namespace: str | None, name: str,
                  subresource: str) -> Obj:
        raise _no_such(resource, subresource)

    async def create(self, registry: "Registry", resource: Resource, namespace: str | None, name: str | None,
                     obj: Obj, subresource: str, dry_run: bool) -> Obj:
        raise _no_such(resource, subresource)

    async def update(self, registry: "Registry", resource: Resource, namespace: str | None, name: str | None,
                     obj: Obj, subresource: str, dry_run: bool) -> Obj:
        raise _no_such(resource, subresource)

    async def patch(self, registry: "Registry", resource: Resource, namespace: str | None, name: str,
                    patch_doc: Any, patch_type: str, subresource: str, dry_run: bool) -> Obj:
        raise _no_such(resource, subresource)


class ScaleREST(SubresourceREST):
    """``deployments/scale``, ``replicasets/scale``: an autoscaling/v1 Scale over spec.replicas."""

    async def get(self, registry, resource, namespace, name, subresource):  # type: ignore[override]
        return to_scale(await registry.get(resource, namespace, name))

    async def update(self, registry, resource, namespace, name, obj, subresource, dry_run):  # type: ignore[override]
        name = name or (obj.get("metadata") or {}).get("name")
        return await _write_scale(registry, resource, namespace, name, obj, dry_run)

    async def patch(self, registry, resource, namespace, name, patch_doc, patch_type, subresource,  # type: ignore[override]
                    dry_run):
        scale = to_scale(await registry.get(resource, namespace, name))
        before_rv = scale["metadata"].get("resourceVersion")
        scale = apply_patch(copy_json(scale), patch_doc, patch_type)
        if not isinstance(scale, dict):
            raise BadRequest("the patch turned the Scale into something else")
        if (scale.get("metadata") or {}).get("resourceVersion") == before_rv:
            scale["metadata"].pop("resourceVersion", None)  # only a resourceVersion the patch carried is a precondition
        return await _write_scale(registry, resource, namespace, name, scale, dry_run)


class BindingREST(SubresourceREST):
    """``pods/binding``: the scheduler's only write."""

    async def create(self, registry, resource, namespace, name, obj, subresource, dry_run):  # type: ignore[override]
        return await _bind(registry, resource, namespace, name, obj, dry_run)


class EvictionREST(SubresourceREST):
    """``pods/eviction``: what ``kubectl drain`` posts."""

    async def create(self, registry, resource, namespace, name, obj, subresource, dry_run):  # type: ignore[override]
        return await _evict(registry, resource, namespace, name, obj, dry_run)


def rest_for(registry: "Registry", resource: Resource, subresource: str, verb: str) -> SubresourceREST:
    """The REST object serving ``<resource>/<subresource>`` for ``verb``, or the 404/405 upstream returns."""
    _check(resource, subresource, verb)
    rest = registry.strategy_for(resource).subresources.get(subresource)
    if rest is None:
        raise _no_such(resource, subresource)  # log/exec/portforward are the server's, not storage
    return rest
