"""Serving a kind in a version other than the one it is stored in.

Upstream: kube-apiserver decodes every request body into the *internal*
type, runs the registry on it and encodes the answer in the version the URL
named (``staging/src/k8s.io/apiserver/pkg/endpoints/handlers``:
``create.go``, ``update.go``, ``patch.go``, which applies a patch to the
object *in the request's version* and converts back). kubetui's registry
works on the storage version itself, so for a converted version
(``kubetui.api.resources.CONVERTED``, today ``autoscaling/v1``
HorizontalPodAutoscalers over the stored ``autoscaling/v2``) these handlers
convert on the way in and on the way out, and the registry, the store, the
watch cache and every controller see only the storage version.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable

from kubetui.api import autoscaling
from kubetui.api.errors import BadRequest, Conflict, UnsupportedMediaType
from kubetui.api.patch import APPLY_PATCH, apply_patch, copy_json, decode_patch
from kubetui.api.resources import Resource, is_custom, storage_resource
from kubetui.apiserver import encoding, requestchecks, tables

if TYPE_CHECKING:
    from aiohttp import web

    from kubetui.apiserver.handlers import RequestInfo, RestHandlers

Obj = dict[str, Any]

#: (group-resource, served version) -> (to storage, from storage).
CONVERSIONS: dict[tuple[str, str], tuple[Callable[[Obj], Obj], Callable[[Obj], Obj]]] = {
    ("horizontalpodautoscalers.autoscaling", "v1"): (autoscaling.v1_to_v2, autoscaling.v2_to_v1),
}

_PATCH_RETRIES = 5


def _rewrite_api_version(api_version: str) -> Callable[[Obj], Obj]:
    def convert(obj: Obj) -> Obj:
        return dict(obj, apiVersion=api_version)
    return convert


def conversions(resource: Resource) -> tuple[Callable[[Obj], Obj], Callable[[Obj], Obj]] | None:
    """(to storage, from storage) for a served version other than the stored one.

    A custom resource's versions use the ``None`` conversion strategy (upstream
    ``pkg/apiserver/conversion/nop_converter.go``): only ``apiVersion`` changes.
    """
    found = CONVERSIONS.get((resource.group_resource, resource.version))
    if found is None and is_custom(resource):
        stored = storage_resource(resource)
        if stored.version != resource.version:
            found = (_rewrite_api_version(stored.api_version), _rewrite_api_version(resource.api_version))
    return found


def is_converted(resource: Resource) -> bool:
    return conversions(resource) is not None


class ConvertedHandlers:
    """The verbs of one ``RestHandlers``, for a request that names a converted version."""

    def __init__(self, rest: "RestHandlers") -> None:
        self.rest = rest

    async def handle(self, request: "web.Request", info: "RequestInfo") -> "web.StreamResponse":
        from kubetui.apiserver.handlers import (
            RequestInfo, call, decode_object, media_type, q_bool, q_dry_run, q_field_validation, read_body,
        )
        served = info.resource
        to_storage, from_storage = conversions(served)  # type: ignore[misc]
        stored = RequestInfo(storage_resource(served), info.namespace, info.name, info.subresource)
        rest, registry, q, m = self.rest, self.rest.registry, request.query, request.method
        pretty = encoding.wants_pretty(request)
        as_table = tables.wants_table(request.headers.get("Accept"))

        def out(obj: Any) -> Any:
            if isinstance(obj, dict) and obj.get("kind") == served.kind:
                return from_storage(obj)
            return obj

        def decoded(obj: Obj, field_validation: str) -> Obj:
            """The body checked as the served version (type meta, types, unknown fields), then converted."""
            requestchecks.check_type_meta(served, obj)
            requestchecks.decode_checks(registry.hooks, served, obj, field_validation)
            return to_storage(obj)

        if m == "GET" and info.name is None and q_bool(q, "watch"):
            first = [True]

            def transform(_type: str, obj: Obj) -> Obj:
                if not as_table:
                    return out(obj)
                table = rest._table(stored, [obj], q)  # printed from the stored object, rows hold the served one
                for row in table.get("rows") or []:
                    if "object" in row:
                        row["object"] = out(row["object"])
                if not first[0]:
                    table.pop("columnDefinitions", None)
                first[0] = False
                return table
            events = call(registry.watch, stored.resource, info.namespace,
                          resource_version=q.get("resourceVersion") or None,
                          label_selector=q.get("labelSelector") or None,
                          field_selector=q.get("fieldSelector") or None,
                          allow_bookmarks=q_bool(q, "allowWatchBookmarks"))
            timeout = q.get("timeoutSeconds")
            return await rest.watches.serve(request, events, timeout_seconds=int(timeout) if timeout else None,
                                            transform=transform)
        if m == "GET" and (as_table or info.subresource not in (None, "status")):
            # Tables are printed from the stored object; kubectl's ``-o json`` reads the rows' objects.
            resp = await (rest.get(request, stored) if info.name else rest.list(request, stored))
            table = json.loads(resp.body)
            for row in table.get("rows") or []:
                if isinstance(row, dict) and "object" in row:
                    row["object"] = out(row["object"])
            return rest.respond(table, resp.status, pretty=pretty)
        if m == "GET" and info.name is None:
            lst = await call(registry.list, stored.resource, info.namespace,
                             label_selector=q.get("labelSelector") or None,
                             field_selector=q.get("fieldSelector") or None,
                             limit=int(q["limit"]) if q.get("limit") else None,
                             continue_=q.get("continue") or None,
                             resource_version=q.get("resourceVersion") or None)
            lst = dict(lst, apiVersion=served.api_version, items=[out(o) for o in lst.get("items") or []])
            return rest.respond(lst, pretty=pretty)
        if m == "GET":
            return rest.respond(out(await call(registry.get, stored.resource, info.namespace, info.name,
                                               subresource=info.subresource)), pretty=pretty)
        if m in ("POST", "PUT") and (m == "PUT") == (info.name is not None):
            fv = q_field_validation(q)
            obj = decoded(decode_object(await read_body(request), media_type(request)), fv)
            verb = registry.create if m == "POST" else registry.update
            args = (stored.resource, info.namespace) if m == "POST" else (stored.resource, info.namespace, info.name)
            result = await call(verb, *args, obj, subresource=info.subresource, dry_run=q_dry_run(q),
                                field_validation=fv, field_manager=q.get("fieldManager") or None,
                                _required=("dry_run",))
            return rest.respond(out(result), 201 if m == "POST" else 200, pretty=pretty)
        if m == "PATCH" and info.name is not None:
            return rest.respond(out(await self._patch(request, stored, served, decoded, from_storage)),
                                pretty=pretty)
        if m == "DELETE":
            resp = await (rest.delete(request, stored) if info.name else rest.delete_collection(request, stored))
            body = json.loads(resp.body) if resp.body else None
            if isinstance(body, dict) and body.get("kind") == served.kind:
                return rest.respond(out(body), resp.status, pretty=pretty)
            return resp
        from kubetui.api.errors import MethodNotAllowed
        raise MethodNotAllowed("the server does not allow this method on the requested resource")

    async def _patch(self, request: "web.Request", stored: "RequestInfo", served: Resource,
                     decoded: Callable[[Obj, str], Obj], from_storage: Callable[[Obj], Obj]) -> Obj:
        """A patch is applied to the object *as the served version*, then converted back and stored."""
        from kubetui.apiserver.handlers import call, media_type, patch_types, q_bool, q_dry_run, q_field_validation
        from kubetui.apiserver.handlers import read_body
        q, registry = request.query, self.rest.registry
        ptype = media_type(request)
        if ptype not in patch_types(served):
            raise UnsupportedMediaType(f"the body of the request was in an unknown format - accepted media types "
                                       f"include: {', '.join(patch_types(served))}")
        body = await read_body(request)
        fv = q_field_validation(q)
        common = dict(subresource=stored.subresource, dry_run=q_dry_run(q), field_validation=fv,
                      field_manager=q.get("fieldManager") or None)
        patch = decode_patch(body, ptype)
        if ptype == APPLY_PATCH:
            # Server-side apply of a v1 configuration: the configuration itself is converted.
            converted = decoded(patch, fv)
            return await call(registry.patch, stored.resource, stored.namespace, stored.name,
                              json.dumps(converted).encode(), ptype, force=q_bool(q, "force"),
                              _required=("dry_run",), **common)
        pinned = isinstance(patch, dict) and bool((patch.get("metadata") or {}).get("resourceVersion"))
        for _ in range(_PATCH_RETRIES):
            current = await call(registry.get, stored.resource, stored.namespace, stored.name)
            patched = apply_patch(from_storage(copy_json(current)), copy_json(patch), ptype)
            if not isinstance(patched, dict):
                raise BadRequest(f"the patch turned the object into a {type(patched).__name__}")
            new = decoded(patched, fv)
            new.setdefault("metadata", {})
            if not pinned:
                new["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            try:
                return await call(registry.update, stored.resource, stored.namespace, stored.name, new,
                                  _required=("dry_run",), **common)
            except Conflict:
                if pinned:
                    raise
        raise Conflict(f'Operation cannot be fulfilled on {stored.resource.group_resource} "{stored.name}": '
                       f"the object has been modified; please apply your changes to the latest version and "
                       f"try again")
