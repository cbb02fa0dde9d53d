"""OpenAPI v3: the schemas kube-apiserver publishes at ``/openapi/v3``.

Upstream: kube-apiserver serves one document per group/version
(``/openapi/v3/api/v1``, ``/openapi/v3/apis/apps/v1``…), generated from the
Go types. kubectl uses them for ``kubectl explain`` and to learn that the
server validates fields (``fieldValidation=Strict``). The schemas here were
generated once from the official Python client (``generate.py``) and ship as
``schemas.json.gz``; this module only reads that file.

``unknown_fields`` and ``type_errors`` check a request body against the same
schemas, as kube-apiserver's strict decoder does.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from kubetui.api.openapi.paths import SCHEMA_PREFIX, resource_paths
from kubetui.api.openapi.walk import decodes_cleanly as _decodes_cleanly, find_type_errors, find_unknown_fields
from kubetui.api.resources import CONVERTED, RESOURCES, REVIEWS, Resource

SCHEMAS_FILE = Path(__file__).with_name("schemas.json.gz")
KUBERNETES_VERSION = "v1.33.0"


@cache
def component_schemas() -> dict[str, dict[str, Any]]:
    """All component schemas by name (``io.k8s.api.core.v1.Pod`` …). Do not mutate."""
    return json.loads(gzip.decompress(SCHEMAS_FILE.read_bytes()))


@cache
def _schema_by_gvk() -> dict[tuple[str, str, str], str]:
    out: dict[tuple[str, str, str], str] = {}
    for name, schema in component_schemas().items():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            out.setdefault((gvk["group"], gvk["version"], gvk["kind"]), name)
    return out


def schema_for(group: str, version: str, kind: str) -> str | None:
    """The component name of a kind's schema, e.g. ``io.k8s.api.apps.v1.Deployment``."""
    return _schema_by_gvk().get((group, version, kind))


def _refs(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(SCHEMA_PREFIX):
            out.add(ref[len(SCHEMA_PREFIX):])
        for v in node.values():
            _refs(v, out)
    elif isinstance(node, list):
        for v in node:
            _refs(v, out)


def _closure(roots: set[str]) -> dict[str, Any]:
    """The schemas ``roots`` need, following every ``$ref``."""
    schemas = component_schemas()
    seen: set[str] = set()
    todo = [r for r in roots if r in schemas]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        found: set[str] = set()
        _refs(schemas[name], found)
        todo.extend(n for n in found if n in schemas and n not in seen)
    return {n: schemas[n] for n in sorted(seen)}


def _gv_key(r: Resource) -> str:
    return f"api/{r.version}" if not r.group else f"apis/{r.group}/{r.version}"


@cache
def _documents() -> dict[str, dict[str, Any]]:
    docs: dict[str, dict[str, Any]] = {}
    for r in RESOURCES + CONVERTED + REVIEWS:
        doc = docs.setdefault(_gv_key(r), {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
            "paths": {},
            "components": {"schemas": {}, "securitySchemes": {
                "BearerToken": {"type": "apiKey", "description": "Bearer Token authentication",
                                "name": "authorization", "in": "header"}}},
        })
        doc["paths"].update(resource_paths(r))
    for doc in docs.values():
        needed: set[str] = set()
        _refs(doc["paths"], needed)
        doc["components"]["schemas"] = _closure(needed)
        doc["security"] = [{"BearerToken": []}]
    return docs


def openapi_v3_documents() -> dict[str, dict[str, Any]]:
    """``{"api/v1": {...}, "apis/apps/v1": {...}, …}``: one full OpenAPI 3.0 document per group/version.

    Each call returns a fresh deep copy, so callers may change what they get.
    """
    return copy.deepcopy(_documents())


@cache
def _serialized() -> dict[str, tuple[bytes, str]]:
    out = {}
    for key, doc in _documents().items():
        body = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
        out[key] = (body, hashlib.sha512(body).hexdigest()[:128].upper())
    return out


def openapi_v3_document_bytes(gv: str) -> tuple[bytes, str] | None:
    """The JSON body of one document and its hash (for ``?hash=`` and ETag), or None."""
    return _serialized().get(gv)


def openapi_v3_index() -> dict[str, Any]:
    """The body of ``GET /openapi/v3``: where each group/version's document lives."""
    return {"paths": {gv: {"serverRelativeURL": f"/openapi/v3/{gv}?hash={h}"}
                      for gv, (_, h) in _serialized().items()}}


def _root_schema(resource: Resource) -> str | None:
    return schema_for(resource.group, resource.version, resource.kind)


def unknown_fields(resource: Resource, obj: dict[str, Any]) -> list[str]:
    """JSON paths (``.spec.containers[0].imagee``) of fields the kind's schema lacks.

    kube-apiserver with ``fieldValidation=Strict`` answers 400
    ``strict decoding error: unknown field "spec.containers[0].imagee"``.
    """
    root = _root_schema(resource)
    if root is None:
        return []
    return find_unknown_fields(component_schemas(), root, obj)


def decodes_cleanly(resource: Resource, obj: dict[str, Any]) -> bool:
    """True when ``type_errors`` and ``unknown_fields`` would both be empty (one quick walk)."""
    root = _root_schema(resource)
    return root is None or _decodes_cleanly(component_schemas(), root, obj)


def type_errors(resource: Resource, obj: dict[str, Any]) -> list[dict[str, str]]:
    """Fields whose JSON type contradicts the schema, as causes naming the field.

    The message is the Go decoder's, which is what kube-apiserver returns
    (400): ``json: cannot unmarshal string into Go struct field
    DeploymentSpec.spec.replicas of type int32``.
    """
    root = _root_schema(resource)
    if root is None:
        return []
    return find_type_errors(component_schemas(), root, obj)


__all__ = [
    "component_schemas", "openapi_v3_documents", "openapi_v3_document_bytes", "openapi_v3_index", "schema_for",
    "type_errors", "unknown_fields",
]
