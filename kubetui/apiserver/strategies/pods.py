"""Pods: status starts Pending, generation tracks the spec, deletion is graceful.

Upstream: ``pkg/registry/core/pod/strategy.go`` (``podStrategy``:
``PrepareForCreate``, ``CheckGracefulDelete``; ``podEphemeralContainersStrategy``)
and ``pkg/registry/core/pod/storage`` (the ``binding``, ``eviction`` and
``ephemeralcontainers`` subresources).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubetui.api.errors import BadRequest
from kubetui.api.patch import apply_patch, copy_json
from kubetui.apiserver import requestchecks
from kubetui.apiserver.strategies.base import Obj, Strategy
from kubetui.apiserver.subresources import BindingREST, EvictionREST, SubresourceREST

if TYPE_CHECKING:
    from kubetui.api.resources import Resource
    from kubetui.apiserver.registry import Registry

#: ``terminationGracePeriodSeconds`` when the spec names none.
DEFAULT_GRACE_SECONDS = 30

EPHEMERAL = "ephemeralcontainers"


class EphemeralContainersREST(SubresourceREST):
    """``pods/ephemeralcontainers``: how ``kubectl debug`` adds a container to a running pod.

    The subresource reads and writes the whole Pod (upstream's
    ``EphemeralContainersREST``), but a write keeps everything of the live pod
    except ``spec.ephemeralContainers`` (``PrepareForUpdate`` below), and
    validation lets containers only be added (``api/validation/ephemeral.py``).
    kubectl sends a strategic merge patch; JSON and merge patches and PUT work too.
    """

    async def get(self, registry, resource, namespace, name, subresource):  # type: ignore[override]
        return await registry.get(resource, namespace, name)

    async def update(self, registry, resource, namespace, name, obj, subresource,  # type: ignore[override]
                     dry_run):
        requestchecks.check_type_meta(resource, obj)
        name = name or obj["metadata"].get("name")
        if not name:
            raise BadRequest("name is required for an update")
        registry.hooks.apply_defaults(resource, obj)
        return await self._write(registry, resource, namespace, name, dry_run,
                                 lambda work, old: copy_json(obj))

    async def patch(self, registry, resource, namespace, name, patch_doc, patch_type,  # type: ignore[override]
                    subresource, dry_run):
        def patched(work: Obj, old: Obj) -> Obj:
            out = apply_patch(work, copy_json(patch_doc), patch_type)
            if not isinstance(out, dict):
                raise BadRequest(f"the patch turned the object into a {type(out).__name__}")
            requestchecks.check_type_meta(resource, out)
            registry.hooks.apply_defaults(resource, out)
            return out

        return await self._write(registry, resource, namespace, name, dry_run, patched)

    @staticmethod
    async def _write(registry: "Registry", resource: "Resource", namespace: str | None, name: str,
                     dry_run: bool, build: Any) -> Obj:
        def update(work: Obj, old: Obj) -> Obj:
            return registry._prepare_put(resource, build(work, old), old, EPHEMERAL)

        return await registry._guaranteed_update(resource, namespace, name, update, subresource=EPHEMERAL,
                                                 dry_run=dry_run)


class PodStrategy(Strategy):
    track_generation = True
    subresources = {"binding": BindingREST(), "eviction": EvictionREST(), EPHEMERAL: EphemeralContainersREST()}

    def prepare_for_create(self, registry: "Registry", obj: Obj) -> None:
        """Status starts as Pending with the pod's QoS class; nothing else of the client's status survives."""
        super().prepare_for_create(registry, obj)
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        status: Obj = {"phase": "Pending"}
        if registry.hooks.qos_class is not None:
            status["qosClass"] = registry.hooks.qos_class(spec)
        obj["status"] = status

    def prepare_subresource_update(self, subresource: str, new: Obj, old: Obj) -> Obj | None:
        """``podEphemeralContainersStrategy.PrepareForUpdate`` (``dropNonEphemeralContainerUpdates``):
        only ``spec.ephemeralContainers`` comes from the request; spec, status and metadata
        are the live pod's (but the resourceVersion the client sent, for the compare-and-swap)."""
        if subresource != EPHEMERAL:
            return super().prepare_subresource_update(subresource, new, old)
        out = copy_json(old)
        containers = (new.get("spec") or {}).get("ephemeralContainers") if isinstance(new.get("spec"), dict) \
            else None
        if containers is None:
            out.setdefault("spec", {}).pop("ephemeralContainers", None)
        else:
            out.setdefault("spec", {})["ephemeralContainers"] = containers
        out["metadata"]["resourceVersion"] = (new.get("metadata") or {}).get("resourceVersion")
        return out

    def check_graceful_delete(self, obj: Obj, requested: int | None) -> int:
        """The kubelet gets ``terminationGracePeriodSeconds`` to stop the containers, then deletes
        the pod with grace 0. A pod that never reached a node, or already finished, has nothing
        to stop and goes at once."""
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
            return 0
        if requested is not None:
            return max(0, int(requested))
        grace = spec.get("terminationGracePeriodSeconds")
        return DEFAULT_GRACE_SECONDS if grace is None else max(0, int(grace))
