"""Server-side field validation: finding fields the schema does not know.

Upstream: ``fieldValidation=Strict|Warn|Ignore`` (KEP-2885), implemented by
the strict JSON decoder and structured-merge-diff. A typo such as
``spec.replicase`` is otherwise silently dropped; kubectl sends
``fieldValidation=Strict`` so the user hears ``strict decoding error:
unknown field "spec.replicase"``. kubetui walks the object against the same
OpenAPI v3 schemas it serves at ``/openapi/v3`` (``kubetui.api.openapi``).
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from kubetui.api.resources import Resource

log = logging.getLogger(__name__)


class UnknownFieldFinder:
    """``finder(resource, obj) -> ["spec.foo", "spec.containers[0].imagee"]``."""

    def __init__(self, documents: Callable[[], dict[str, dict]]) -> None:
        self._documents = documents
        self._schemas: dict[str, Any] | None = None
        self._by_gvk: dict[tuple[str, str, str], dict] = {}

    def _load(self) -> None:
        self._schemas = {}
        try:
            docs = self._documents()
        except Exception:  # noqa: BLE001 - no OpenAPI means no strict checking, logged once
            log.warning("OpenAPI documents unavailable: unknown-field checks are off", exc_info=True)
            return
        for doc in docs.values():
            for name, schema in ((doc.get("components") or {}).get("schemas") or {}).items():
                self._schemas[name] = schema
                for gvk in schema.get("x-kubernetes-group-version-kind") or []:
                    self._by_gvk[(gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", ""))] = schema

    def _resolve(self, schema: Any) -> dict:
        for _ in range(10):
            if not isinstance(schema, dict):
                return {}
            ref = schema.get("$ref")
            if ref is None and len(schema.get("allOf") or []) == 1:
                ref = schema["allOf"][0].get("$ref")
            if ref is None:
                return schema
            schema = (self._schemas or {}).get(ref.rsplit("/", 1)[-1], {})
        return {}

    def __call__(self, resource: Resource, obj: dict) -> list[str]:
        if self._schemas is None:
            self._load()
        schema = self._by_gvk.get((resource.group, resource.version, resource.kind))
        if schema is None:
            return []
        out: list[str] = []
        self._walk(schema, obj, "", out)
        return out

    def _walk(self, schema: Any, value: Any, path: str, out: list[str]) -> None:
        schema = self._resolve(schema)
        if not schema or schema.get("x-kubernetes-preserve-unknown-fields"):
            return
        if isinstance(value, dict):
            props = schema.get("properties")
            addl = schema.get("additionalProperties")
            if props is None and not isinstance(addl, dict):
                return  # a free-form object (or not an object at all: type errors are validation's)
            for k, v in value.items():
                child = f"{path}.{k}" if path else k
                if props is not None and k in props:
                    self._walk(props[k], v, child, out)
                elif isinstance(addl, dict):
                    self._walk(addl, v, child, out)
                elif props is not None and not k.startswith("$"):  # "$patch" & co. are SMP directives
                    out.append(child)
        elif isinstance(value, list) and isinstance(schema.get("items"), dict):
            for i, item in enumerate(value):
                self._walk(schema["items"], item, f"{path}[{i}]", out)
