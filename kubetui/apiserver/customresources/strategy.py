"""The strategies of CustomResourceDefinitions and of the custom resources they define.

Upstream: ``apiextensions-apiserver/pkg/registry/customresourcedefinition``
(``strategy.go``: generation, storedVersions, status; ``etcd.go``'s
``Delete``: the ``customresourcecleanup`` finalizer and the ``Terminating``
condition) and ``pkg/registry/customresource`` (``strategy.go``: status
subresource, generation, schema validation; ``etcd.go``: ``ScaleREST`` over
the CRD's ``specReplicasPath``/``statusReplicasPath``/``labelSelectorPath``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubetui.api import errors
from kubetui.api.customresource import schema as crschema
from kubetui.api.customresource.apiservice import validate_apiservice
from kubetui.api.customresource.crd import STORED_VERSIONS_FINALIZER, storage_version, validate_crd
from kubetui.api.customresource.printer import eval_path
from kubetui.api.errors import BadRequest, field_error
from kubetui.api.patch import apply_patch, copy_json
from kubetui.api.resources import Resource
from kubetui.api.validation.meta import name_check_for, validate_object_meta, validate_object_meta_update
from kubetui.apiserver.strategies.base import Finish, Strategy
from kubetui.apiserver.subresources import SubresourceREST
from kubetui.clock import rfc3339

if TYPE_CHECKING:
    from kubetui.apiserver.registry import Registry

Obj = dict[str, Any]


def _path_segment_ok(name: str, prefix: bool = False) -> list[str]:
    return []  # the registry already refused names that are not path segments (APIService "v1.")


def _meta_causes(resource: Resource, obj: Obj, old: Obj | None, *, any_segment: bool = False) -> list[dict[str, str]]:
    causes = validate_object_meta(obj.get("metadata"), namespaced=resource.namespaced,
                                  name_check=_path_segment_ok if any_segment else name_check_for(resource.kind))
    if old is not None:
        causes += validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
    return causes


class CustomResourceDefinitionStrategy(Strategy):
    """``customresourcedefinitions.apiextensions.k8s.io``."""

    track_generation = True

    def __init__(self, resource: Resource, on_change: Any = None) -> None:
        super().__init__(resource)
        self.on_change = on_change  # the API server starts/stops serving the custom resources

    def prepare_for_create(self, registry: "Registry", obj: Obj) -> None:
        super().prepare_for_create(registry, obj)
        storage = storage_version(obj)
        obj["status"] = {"conditions": [], "acceptedNames": {"plural": "", "kind": ""},
                         "storedVersions": [storage] if storage else []}

    def prepare_for_update(self, registry: "Registry", new: Obj, old: Obj) -> None:
        super().prepare_for_update(registry, new, old)
        storage = storage_version(new)
        stored = list((new.get("status") or {}).get("storedVersions") or [])
        if storage and storage not in stored:
            new.setdefault("status", {})["storedVersions"] = stored + [storage]

    def validate(self, registry: "Registry", obj: Obj) -> list[dict[str, str]]:
        return _meta_causes(self.resource, obj, None) + validate_crd(obj)

    def validate_update(self, registry: "Registry", new: Obj, old: Obj,
                        subresource: str | None) -> list[dict[str, str]]:
        return _meta_causes(self.resource, new, old) + validate_crd(new, old, subresource)

    def _changed(self, registry: "Registry") -> Finish:
        def finish(success: bool) -> None:
            if success and self.on_change is not None:
                self.on_change(registry)
        return finish

    def begin_create(self, registry: "Registry", obj: Obj) -> Finish:
        return self._changed(registry)

    def begin_update(self, registry: "Registry", new: Obj, old: Obj, subresource: str | None) -> Finish:
        return self._changed(registry)

    def after_delete(self, registry: "Registry", obj: Obj) -> None:
        if self.on_change is not None:
            self.on_change(registry)

    # A CRD always lingers on its first delete: the finalizer controller deletes its objects first.
    def pending_finalizers(self, obj: Obj) -> bool:
        return not (obj.get("metadata") or {}).get("deletionTimestamp")

    def prepare_for_delete(self, obj: Obj) -> None:
        meta = obj["metadata"]
        if STORED_VERSIONS_FINALIZER not in (meta.get("finalizers") or []):
            meta["finalizers"] = list(meta.get("finalizers") or []) + [STORED_VERSIONS_FINALIZER]
        status = obj.setdefault("status", {})
        conds = [c for c in status.get("conditions") or [] if c.get("type") != "Terminating"]
        conds.append({"type": "Terminating", "status": "True",
                      "lastTransitionTime": meta.get("deletionTimestamp"),
                      "reason": "InstanceDeletionPending",
                      "message": "CustomResourceDefinition marked for deletion; CustomResource deletion will "
                                 "begin soon"})
        status["conditions"] = conds


class APIServiceStrategy(Strategy):
    """``apiservices.apiregistration.k8s.io``: stored; a remote one is never available (no aggregation)."""

    def prepare_for_create(self, registry: "Registry", obj: Obj) -> None:
        super().prepare_for_create(registry, obj)
        obj["status"] = {"conditions": [availability(obj, rfc3339(registry.clock.time()))]}

    def prepare_for_update(self, registry: "Registry", new: Obj, old: Obj) -> None:
        super().prepare_for_update(registry, new, old)
        cond = availability(new, rfc3339(registry.clock.time()))
        old_cond = ((old.get("status") or {}).get("conditions") or [{}])[0]
        if old_cond.get("status") == cond["status"]:
            cond["lastTransitionTime"] = old_cond.get("lastTransitionTime", cond["lastTransitionTime"])
        new["status"] = {"conditions": [cond]}

    def validate(self, registry: "Registry", obj: Obj) -> list[dict[str, str]]:
        return _meta_causes(self.resource, obj, None, any_segment=True) + validate_apiservice(obj)

    def validate_update(self, registry: "Registry", new: Obj, old: Obj,
                        subresource: str | None) -> list[dict[str, str]]:
        return _meta_causes(self.resource, new, old, any_segment=True) + validate_apiservice(new)


def availability(apiservice: Obj, now: str) -> Obj:
    """The ``Available`` condition: local APIServices are served here; remote ones cannot be (no aggregation)."""
    if (apiservice.get("spec") or {}).get("service") is None:
        return {"type": "Available", "status": "True", "lastTransitionTime": now, "reason": "Local",
                "message": "Local APIServices are always available"}
    svc = apiservice["spec"]["service"]
    return {"type": "Available", "status": "False", "lastTransitionTime": now, "reason": "ServiceNotFound",
            "message": f"service/{svc.get('name')} in \"{svc.get('namespace')}\" is not served: kubetui does not "
                       "proxy aggregated APIs (API aggregation is not supported)"}


class CustomResourceStrategy(Strategy):
    """One custom resource, validated against its CRD's storage version's schema."""

    track_generation = True

    def __init__(self, resource: Resource, crd: Obj) -> None:
        super().__init__(resource)
        self.crd = crd
        version = next((v for v in crd["spec"]["versions"] if v["name"] == resource.version), {})
        self.schema = (version.get("schema") or {}).get("openAPIV3Schema")
        subs = version.get("subresources") or {}
        self.status_enabled = "status" in subs
        self.scale = subs.get("scale")
        self.subresources = {"scale": CustomResourceScaleREST(self.scale)} if self.scale else {}
        self.terminating = bool((crd.get("metadata") or {}).get("deletionTimestamp"))

    def prepare_for_create(self, registry: "Registry", obj: Obj) -> None:
        if self.terminating:
            raise errors.MethodNotAllowed("create not allowed while custom resource definition is terminating")
        super().prepare_for_create(registry, obj)
        if self.status_enabled:
            obj.pop("status", None)

    def update_generation(self, new: Obj, old: Obj) -> None:
        """+1 on any change but metadata (and status, when it is a subresource)."""
        meta = new["metadata"]
        gen = (old.get("metadata") or {}).get("generation") or 1
        skip = {"metadata", "status"} if self.status_enabled else {"metadata"}
        changed = {k: v for k, v in new.items() if k not in skip} != {k: v for k, v in old.items() if k not in skip}
        meta["generation"] = gen + 1 if changed else gen

    def validate(self, registry: "Registry", obj: Obj) -> list[dict[str, str]]:
        return _meta_causes(self.resource, obj, None) + crschema.validate(obj, self.schema) + self._scale_causes(obj)

    def validate_update(self, registry: "Registry", new: Obj, old: Obj,
                        subresource: str | None) -> list[dict[str, str]]:
        return (_meta_causes(self.resource, new, old) + crschema.validate(new, self.schema)
                + self._scale_causes(new))

    def _scale_causes(self, obj: Obj) -> list[dict[str, str]]:
        """The replicas fields the scale subresource reads must be integers (upstream ``ValidateCustomResource``)."""
        if not self.scale:
            return []
        out = []
        for key in ("specReplicasPath", "statusReplicasPath"):
            path = self.scale.get(key) or ""
            value = eval_path(obj, path)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                out.append(field_error(path.lstrip("."), f'Invalid value: "{crschema.type_name(value)}": '
                                       f'{path.lstrip(".")} in body must be of type integer: '
                                       f'"{crschema.type_name(value)}"', "FieldValueTypeInvalid"))
        return out


def _set_path(obj: Obj, path: str, value: Any) -> None:
    parts = [p for p in path.split(".") if p]
    cur = obj
    for p in parts[:-1]:
        cur = cur.setdefault(p, {})
    cur[parts[-1]] = value


class CustomResourceScaleREST(SubresourceREST):
    """``<plural>/scale``: an autoscaling/v1 Scale over the paths the CRD names, so ``kubectl scale`` works."""

    def __init__(self, scale: Obj) -> None:
        self.spec_path = scale.get("specReplicasPath") or ".spec.replicas"
        self.status_path = scale.get("statusReplicasPath") or ".status.replicas"
        self.selector_path = scale.get("labelSelectorPath")

    def to_scale(self, obj: Obj) -> Obj:
        meta = obj["metadata"]
        status: Obj = {"replicas": eval_path(obj, self.status_path) or 0}
        if self.selector_path:
            sel = eval_path(obj, self.selector_path)
            if isinstance(sel, str) and sel:
                status["selector"] = sel
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                             if k in meta},
                "spec": {"replicas": eval_path(obj, self.spec_path) or 0}, "status": status}

    async def get(self, registry, resource, namespace, name, subresource):  # type: ignore[override]
        return self.to_scale(await registry.get(resource, namespace, name))

    async def _write(self, registry: "Registry", resource: Resource, namespace: str | None, name: str,
                     scale: Obj, dry_run: bool) -> Obj:
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise errors.invalid("Scale", name, [field_error(
                "spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0")], "autoscaling")
        rv = (scale.get("metadata") or {}).get("resourceVersion")

        def update(work: Obj, old: Obj) -> Obj:
            _set_path(work, self.spec_path, replicas)
            if rv:
                work["metadata"]["resourceVersion"] = rv
            return registry._prepare_put(resource, work, old, None)

        out = await registry._guaranteed_update(resource, namespace, name, update, subresource=None, dry_run=dry_run)
        return self.to_scale(out)

    async def update(self, registry, resource, namespace, name, obj, subresource, dry_run):  # type: ignore[override]
        return await self._write(registry, resource, namespace, name or obj["metadata"]["name"], obj, dry_run)

    async def patch(self, registry, resource, namespace, name, patch_doc, patch_type, subresource,  # type: ignore[override]
                    dry_run):
        scale = self.to_scale(await registry.get(resource, namespace, name))
        before_rv = scale["metadata"].get("resourceVersion")
        scale = apply_patch(copy_json(scale), patch_doc, patch_type)
        if not isinstance(scale, dict):
            raise BadRequest("the patch turned the Scale into something else")
        if (scale.get("metadata") or {}).get("resourceVersion") == before_rv:
            scale["metadata"].pop("resourceVersion", None)
        return await self._write(registry, resource, namespace, name, scale, dry_run)
