"""Serving custom resources: from the stored CRDs to discovery, REST, Tables and OpenAPI.

Upstream: apiextensions-apiserver's ``crdHandler``
(``pkg/apiserver/customresource_handler.go``), which builds, per Established
CRD, a REST storage for each served version (``crdInfo``), and
``pkg/controller/openapi`` / ``openapiv3`` (the published schemas), plus
kube-aggregator's ``autoregister`` controller and ``crdregistration``
(one local APIService per served group/version).

``sync(registry)`` is called at start-up and after every CRD write: it
re-reads the CRDs from the store and replaces the served set in one go.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import TYPE_CHECKING, Any

from kubetui.api import errors
from kubetui.api.customresource import schema as crschema
from kubetui.api.customresource.serve import serve
from kubetui.api.resources import Resource, is_custom, resource_for
from kubetui.apiserver.customresources.strategy import CustomResourceStrategy

if TYPE_CHECKING:
    from kubetui.apiserver.registry import Registry

log = logging.getLogger(__name__)
Obj = dict[str, Any]

#: group-resource -> the storage version's structural schema (for decoding: pruning, defaulting).
_SCHEMAS: dict[str, Obj | None] = {}
#: (group, version) -> the CRDs serving it, for OpenAPI.
_CRDS: dict[str, Obj] = {}
#: bumped whenever the served set changes (the API server's OpenAPI cache checks it).
generation = 0
_tasks: set[asyncio.Task] = set()


def sync(registry: "Registry") -> None:
    """Serve exactly the custom resources of the Established CRDs in the store."""
    global generation
    crd_res = resource_for("customresourcedefinitions")
    served = serve([kv.value for kv in registry.store.range(crd_res.key())])
    for gr, (stored, _version, crd) in served.items():
        registry.strategies[gr] = CustomResourceStrategy(stored, crd)
    for gr in set(_CRDS) - set(served):
        registry.strategies.pop(gr, None)
    _SCHEMAS.clear()
    _SCHEMAS.update({gr: (v.get("schema") or {}).get("openAPIV3Schema") for gr, (_, v, _c) in served.items()})
    _CRDS.clear()
    _CRDS.update({gr: crd for gr, (_, _v, crd) in served.items()})
    generation += 1
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    task = loop.create_task(ensure_local_apiservices(registry))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


# -- decoding hooks: what the CR's codec does (prune unknown fields, default) ---

def unknown_fields(resource: Resource, obj: Obj) -> list[str]:
    """Paths (``spec.foo``) pruning would drop: ``fieldValidation=Strict`` refuses them, Warn warns."""
    s = _SCHEMAS.get(resource.group_resource)
    if s is None:
        return []
    pruned = copy.deepcopy(obj)
    crschema.prune(pruned, s)
    return _missing(obj, pruned, "")


def _missing(before: Any, after: Any, path: str) -> list[str]:
    out: list[str] = []
    if isinstance(before, dict) and isinstance(after, dict):
        for k, v in before.items():
            p = f"{path}.{k}" if path else k
            if k not in after:
                out.append(p)
            else:
                out += _missing(v, after[k], p)
    elif isinstance(before, list) and isinstance(after, list):
        for i, (b, a) in enumerate(zip(before, after)):
            out += _missing(b, a, f"{path}[{i}]")
    return out


def apply_defaults(resource: Resource, obj: Obj) -> None:
    """Structural defaulting, then pruning again (a default may not add unknown fields either)."""
    s = _SCHEMAS.get(resource.group_resource)
    if s is not None:
        crschema.default(obj, s)
        crschema.prune(obj, s)


def custom(resource: Resource) -> bool:
    return is_custom(resource)


# -- OpenAPI v3 ---------------------------------------------------------------

def _definition_name(r: Resource) -> str:
    """``com.example.stable.v1.CronTab``: the group reversed, as upstream's builder names CR schemas."""
    return ".".join(reversed(r.group.split("."))) + f".{r.version}.{r.kind}"


def openapi_documents(base: dict[str, Obj]) -> dict[str, Obj]:
    """``base`` plus one document per served custom group/version, from the CRDs' schemas."""
    from kubetui.api.openapi import component_schemas
    from kubetui.api.openapi.paths import resource_paths
    from kubetui.api.resources import custom_resources
    docs = dict(base)
    meta_refs = ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta")
    all_schemas = component_schemas()
    for r in custom_resources():
        crd = _CRDS.get(f"{r.plural}.{r.group}")
        if crd is None:
            continue
        version = next(v for v in crd["spec"]["versions"] if v["name"] == r.version)
        gv = f"apis/{r.group}/{r.version}"
        doc = docs.setdefault(gv, {"openapi": "3.0.0", "info": {"title": "Kubernetes CRD Swagger", "version": "v0.1.0"},
                                   "paths": {}, "components": {"schemas": {}}})
        schema = copy.deepcopy((version.get("schema") or {}).get("openAPIV3Schema") or {"type": "object"})
        props = schema.setdefault("properties", {})
        props["apiVersion"] = {"type": "string", "description": "APIVersion defines the versioned schema of this "
                               "representation of an object."}
        props["kind"] = {"type": "string", "description": "Kind is a string value representing the REST resource "
                         "this object represents."}
        props["metadata"] = {"allOf": [{"$ref": f"#/components/schemas/{meta_refs[0]}"}],
                             "description": "Standard object's metadata."}
        schema["x-kubernetes-group-version-kind"] = [{"group": r.group, "version": r.version, "kind": r.kind}]
        name = _definition_name(r)
        list_kind = (crd["spec"]["names"].get("listKind") or r.kind + "List")
        doc["components"]["schemas"][name] = schema
        doc["components"]["schemas"][name + "List"] = {
            "type": "object", "required": ["items"],
            "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                           "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{name}"}},
                           "metadata": {"allOf": [{"$ref": f"#/components/schemas/{meta_refs[1]}"}]}},
            "x-kubernetes-group-version-kind": [{"group": r.group, "version": r.version, "kind": list_kind}]}
        for ref in meta_refs:
            _add_closure(doc["components"]["schemas"], ref, all_schemas)
        doc["paths"].update(resource_paths(r))
    return docs


def _add_closure(out: Obj, name: str, all_schemas: Obj) -> None:
    todo = [name]
    while todo:
        n = todo.pop()
        if n in out or n not in all_schemas:
            continue
        out[n] = all_schemas[n]
        found: list[str] = []
        _refs(all_schemas[n], found)
        todo += found


def _refs(node: Any, out: list[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            out.append(ref[len("#/components/schemas/"):])
        for v in node.values():
            _refs(v, out)
    elif isinstance(node, list):
        for v in node:
            _refs(v, out)


# -- local APIServices (kube-aggregator's autoregister) ------------------------

# Upstream's ``apiVersionPriorities`` (pkg/controlplane/apiserver/aggregator.go): group -> (group, version priority).
_PRIORITIES = {
    "": (18000, 1), "apps": (17800, 15), "events.k8s.io": (17750, 15), "authentication.k8s.io": (17700, 15),
    "authorization.k8s.io": (17600, 15), "autoscaling": (17500, 15), "batch": (17400, 15),
    "certificates.k8s.io": (17300, 15), "networking.k8s.io": (17200, 15), "policy": (17100, 15),
    "rbac.authorization.k8s.io": (17000, 15), "storage.k8s.io": (16800, 15),
    "apiextensions.k8s.io": (16700, 15), "admissionregistration.k8s.io": (16700, 15),
    "scheduling.k8s.io": (16600, 15), "coordination.k8s.io": (16500, 15), "node.k8s.io": (16300, 15),
    "discovery.k8s.io": (16200, 15), "flowcontrol.apiserver.k8s.io": (16100, 15),
    "apiregistration.k8s.io": (18000, 15), "metrics.k8s.io": (100, 100),
}
_KUBETUI_OWN = ".kubetui.dev"


async def ensure_local_apiservices(registry: "Registry") -> None:
    """One APIService per served group/version, as kube-apiserver registers them (``service: null``: local)."""
    from kubetui.apiserver import discovery
    res = resource_for("apiservices")
    custom_groups = {r.group for r in _custom_resources()}
    served = {(g, v) for g, vs in discovery.group_versions().items() for v in vs}
    for kv in registry.store.range(res.key()):
        svc = kv.value
        spec = svc.get("spec") or {}
        managed = ((svc.get("metadata") or {}).get("labels") or {}).get("kube-aggregator.kubernetes.io/automanaged")
        if managed == "true" and (spec.get("group"), spec.get("version")) not in served:
            try:  # the CRD that served it is gone (upstream: crdregistration removes it)
                await registry.delete(res, None, svc["metadata"]["name"])
            except errors.NotFound:
                pass
    for group, versions in discovery.group_versions().items():
        if group.endswith(_KUBETUI_OWN):
            continue
        for v in versions:
            name = f"{v}.{group}"
            if registry.store.get(res.key(name), copy=False) is not None:
                continue
            gpm, vp = _PRIORITIES.get(group, (1000, 100) if group in custom_groups else (15000, 15))
            obj = {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
                   "metadata": {"name": name, "labels": {"kube-aggregator.kubernetes.io/automanaged": "onstart"
                                                         if group not in custom_groups else "true"}},
                   "spec": {"group": group, "version": v, "groupPriorityMinimum": gpm, "versionPriority": vp}}
            try:
                await registry.create(res, None, obj)
            except errors.AlreadyExists:
                pass
            except errors.StatusError as e:
                log.warning("local APIService %s: %s", name, e)


def _custom_resources() -> tuple[Resource, ...]:
    from kubetui.api.resources import custom_resources
    return custom_resources()
