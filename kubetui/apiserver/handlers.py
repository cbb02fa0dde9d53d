"""The REST handlers: one HTTP request -> one registry call -> one response.

Upstream: ``staging/src/k8s.io/apiserver/pkg/endpoints/handlers`` (``get.go``,
``create.go``, ``update.go``, ``patch.go``, ``delete.go``, ``watch.go``) and
``request/requestinfo.go``, which turns ``/apis/apps/v1/namespaces/default/
deployments/web/scale`` into (group apps, version v1, namespace default,
resource deployments, name web, subresource scale) and a verb. The handlers
decode the body (JSON, YAML or protobuf), read the query parameters kubectl
and client-go send, call the ``Registry`` (which validates, defaults and
stores), and encode the answer: the object, a list, a Table for ``kubectl
get``, or a watch stream. Errors are raised, never answered here: the server
turns every ``StatusError`` into a ``Status`` response in one place.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import yaml
from aiohttp import web

from kubetui.api.errors import (
    BadRequest, MethodNotAllowed, NotFound, RequestEntityTooLarge, StatusError, UnsupportedMediaType,
    not_found_generic,
)
from kubetui.api.resources import Resource, is_custom, resource_for
from kubetui.apiserver import conversion, discovery, encoding, exec as execmod, portforward, protobuf, tables
from kubetui.apiserver import proxy as proxymod
from kubetui.apiserver.hooks import collect_warnings
from kubetui.apiserver.metrics import metrics_list
from kubetui.apiserver.watchstream import WatchStreams
from kubetui.clock import Clock, rfc3339
from kubetui.store import KeyValue

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 3 * 1024 * 1024  # kube-apiserver's limit for a request body (etcd's value limit)
PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json", "application/apply-patch+yaml")


def patch_types(resource: Resource) -> tuple[str, ...]:
    """The patch types a resource accepts: custom resources have no Go struct tags, so no strategic merge
    (upstream ``customresource_handler.go`` leaves it out of the handler's ``PatchTypes``)."""
    if is_custom(resource):
        return tuple(t for t in PATCH_TYPES if t != "application/strategic-merge-patch+json")
    return PATCH_TYPES


@dataclass
class RequestInfo:
    """What a resource URL names (upstream ``request.RequestInfo``)."""

    resource: Resource
    namespace: str | None
    name: str | None
    subresource: str | None
    proxy_path: str = ""    # what follows ``.../proxy/`` in a proxy request

    @property
    def what(self) -> str:
        return self.resource.group_resource


def parse_resource_path(group: str, version: str, rest: list[str]) -> RequestInfo:
    """``[namespaces, ns,] resource [, name [, subresource]]`` -> RequestInfo (404 if unknown)."""
    namespace = None
    if (len(rest) >= 3 and rest[0] == "namespaces"
            and (r := discovery.find_resource(group, version, rest[2])) is not None and r.namespaced):
        namespace, rest = rest[1], rest[2:]
    proxy_path = ""
    if len(rest) > 3 and rest[2] == "proxy":       # pods/NAME:PORT/proxy/any/path
        proxy_path, rest = "/".join(rest[3:]), rest[:3]
    if not rest or len(rest) > 3:
        raise not_found_generic()
    res = discovery.find_resource(group, version, rest[0])
    if res is None:
        raise not_found_generic()
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if sub is not None and sub not in res.subresources:
        raise not_found_generic()
    if not res.namespaced and namespace is not None:
        raise not_found_generic()
    return RequestInfo(res, namespace, name, sub, proxy_path)


# Deprecated APIs: kube-apiserver adds this warning to every response of the resource
# (kubectl prints it as "Warning: ..."). Endpoints gave way to EndpointSlices in v1.33.
DEPRECATED: dict[tuple[str, str, str], str] = {
    ("", "v1", "endpoints"): "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice",
}

# -- bodies ----------------------------------------------------------------------

def media_type(request: web.Request) -> str:
    ct = request.headers.get("Content-Type", "")
    return ct.split(";")[0].strip().lower()


REQUEST_BODY = web.RequestKey("request_body", bytes)


async def read_body(request: web.Request) -> bytes:
    """The request body, refusing anything over 3 MiB with 413 (as kube-apiserver does)."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise RequestEntityTooLarge(f"Request entity too large: limit is {MAX_BODY_BYTES}")
    chunks, size = [], 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise RequestEntityTooLarge(f"Request entity too large: limit is {MAX_BODY_BYTES}")
        chunks.append(chunk)
    body = b"".join(chunks)
    request[REQUEST_BODY] = body  # the audit filter records it (Request level) once the handler is done
    return body


def decode_object(body: bytes, ctype: str) -> dict[str, Any]:
    """JSON (also when no Content-Type: the Python client sends none), YAML or protobuf."""
    if ctype == protobuf.PROTOBUF:
        return protobuf.decode(body)
    if not body.strip():
        raise BadRequest("the body of the request is empty: expected a JSON or YAML object")
    if ctype in ("", "application/json", "*/*", "text/plain"):
        try:
            obj = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"the body of the request was not valid JSON: {exc}") from None
    elif ctype in ("application/yaml", "application/x-yaml", "text/yaml"):
        try:
            docs = [d for d in yaml.safe_load_all(body) if d is not None]
        except yaml.YAMLError as exc:
            raise BadRequest(f"the body of the request was not valid YAML: {_one_line(str(exc))}") from None
        if len(docs) != 1:
            raise BadRequest(f"the body of the request must be exactly one YAML document, got {len(docs)}")
        obj = docs[0]
    else:
        raise UnsupportedMediaType(
            f"the body of the request was in an unknown format ({ctype}) - accepted media types include: "
            f"application/json, application/yaml, application/vnd.kubernetes.protobuf")
    if not isinstance(obj, dict):
        raise BadRequest(f"the body of the request must be an object, got {type(obj).__name__}")
    return obj


def _one_line(s: str) -> str:
    return " ".join(s.split())


def check_type_meta(obj: dict, res: Resource, *, allow_kinds: tuple[str, ...] = ()) -> None:
    """Fill ``apiVersion``/``kind`` from the URL if absent; reject a mismatch (400, as upstream)."""
    av, kind = obj.get("apiVersion"), obj.get("kind")
    if av is not None and av != res.api_version:
        raise BadRequest(f"the API version in the data ({av}) does not match the expected API version "
                         f"({res.api_version})")
    if kind is not None and kind != res.kind and kind not in allow_kinds:
        raise BadRequest(f"the kind in the data ({kind}) does not match the expected kind ({res.kind})")
    obj.setdefault("apiVersion", res.api_version)
    obj.setdefault("kind", res.kind)


# -- query parameters ------------------------------------------------------------

def q_bool(q, key: str) -> bool:
    return q.get(key, "").lower() in ("true", "1")


def q_int(q, key: str) -> int | None:
    if key not in q or q[key] == "":
        return None
    try:
        return int(q[key])
    except ValueError:
        raise BadRequest(f"invalid value for query parameter {key}: {q[key]!r} is not an integer") from None


def q_dry_run(q, body_dry_run: list[str] | None = None) -> bool:
    values = q.getall("dryRun", []) + list(body_dry_run or [])
    for v in values:
        if v != "All":
            raise BadRequest(f'dryRun: Unsupported value: "{v}": supported values: "All"')
    return bool(values)


def q_field_validation(q) -> str:
    v = q.get("fieldValidation") or "Warn"  # upstream's server default is Warn; kubectl sends Strict
    if v not in ("Strict", "Warn", "Ignore"):
        raise BadRequest(f'fieldValidation: Unsupported value: "{v}": supported values: '
                         f'"Ignore", "Strict", "Warn"')
    return v


# -- calling the registry --------------------------------------------------------

_SIG_CACHE: dict[Any, tuple[set[str], bool]] = {}


def _params(fn: Callable) -> tuple[set[str], bool]:
    key = getattr(fn, "__func__", fn)
    if key not in _SIG_CACHE:
        sig = inspect.signature(fn)
        names = {p.name for p in sig.parameters.values()}
        var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())
        _SIG_CACHE[key] = (names, var_kw)
    return _SIG_CACHE[key]


def call(fn: Callable, *args: Any, _required: tuple[str, ...] = (), **kwargs: Any) -> Any:
    """Call a registry verb with the keyword arguments it supports.

    Options the registry does not take are dropped when unset, but a *set*
    option listed in ``_required`` (``dry_run``, ``send_initial_events``) is
    refused with a 400 rather than silently ignored: a dry run that writes, or
    a WatchList that never sends its end bookmark, would be worse than an error.
    """
    names, var_kw = _params(fn)
    out = {}
    for k, v in kwargs.items():
        if var_kw or k in names:
            out[k] = v
        elif k in _required and v:
            raise BadRequest(f"{k} is not supported by this server")
    return fn(*args, **out)


class RestHandlers:
    """Every resource verb, over one ``Registry``."""

    def __init__(self, registry: Any, *, clock: Clock, watches: WatchStreams,
                 node_connector: Any = None, metrics_source: Callable[[], Any] | None = None) -> None:
        self.registry = registry
        self.clock = clock
        self.watches = watches
        self.node_connector = node_connector
        self.metrics_source = metrics_source
        self.authorizer: Any = None  # the API server's (rbac.Authorizer); None: the registry's
        self.bodies = encoding.EncodedObjects()  # compact bodies of stored objects, by key and resourceVersion
        self.authenticate: Callable[[str], Any] = lambda header: None  # for TokenReview

    # -- responses ----------------------------------------------------------
    @staticmethod
    def respond(obj: Any, status: int = 200, *, pretty: bool = False,
                warnings: list[str] | None = None) -> web.Response:
        resp = encoding.response(obj, status, pretty=pretty)
        for w in warnings or []:
            resp.headers.add("Warning", f'299 - {json.dumps(w)}')
        return resp

    def respond_stored(self, info: RequestInfo, obj: Any, status: int = 200, *, pretty: bool = False,
                       warnings: list[str] | None = None) -> web.Response:
        """``respond`` for an object as the store holds it (a get, a create): its compact body
        is encoded once per resourceVersion (``encoding.EncodedObjects``)."""
        meta = obj.get("metadata") if isinstance(obj, dict) else None
        if pretty or not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
            return self.respond(obj, status, pretty=pretty, warnings=warnings)
        res = info.resource
        key = res.key(meta["name"], info.namespace if res.namespaced else None)
        resp = encoding.body_response(self.bodies.body(key, obj), status)
        for w in warnings or []:
            resp.headers.add("Warning", f'299 - {json.dumps(w)}')
        return resp

    def _table(self, info: RequestInfo, objs: list[dict], q, list_meta: dict | None = None) -> dict:
        meta = list_meta or {}
        table = tables.to_table(info.what, objs, self.clock.time(),
                                resource_version=meta.get("resourceVersion", ""),
                                continue_=meta.get("continue", ""))
        include = q.get("includeObject", "Metadata")
        for row, obj in zip(table["rows"], objs):
            if include == "Object":
                row["object"] = obj
            elif include == "None":
                row.pop("object", None)
        return table

    # -- dispatch -----------------------------------------------------------
    async def handle(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        resp = await self._dispatch(request, info)
        r = info.resource
        deprecated = DEPRECATED.get((r.group, r.version, r.plural))
        if deprecated and not resp.prepared:   # a watch's headers are already sent
            resp.headers.add("Warning", f'299 - {json.dumps(deprecated)}')
        return resp

    async def _dispatch(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        m = request.method
        r = info.resource
        if r.group == "metrics.k8s.io":
            if m != "GET":
                raise MethodNotAllowed(f"the server does not allow this method on the requested resource")
            return await self.metrics(request, info)
        if r.group in ("authorization.k8s.io", "authentication.k8s.io"):
            if m != "POST" or info.name:
                raise MethodNotAllowed("the server does not allow this method on the requested resource")
            return await self.access_review(request, info)
        if conversion.is_converted(r):
            return await conversion.ConvertedHandlers(self).handle(request, info)
        if info.subresource == "proxy" and r.group == "" and r.plural in ("pods", "services"):
            return await self.proxy(request, info)
        if info.subresource in ("log", "exec", "attach", "portforward") and r.plural == "pods":
            return await self.pod_proxy(request, info)
        if m == "GET":
            if info.name is None:
                if q_bool(request.query, "watch"):
                    return await self.watch(request, info)
                return await self.list(request, info)
            return await self.get(request, info)
        if m == "POST":
            if info.name is not None and info.subresource is None:
                raise MethodNotAllowed("the server does not allow this method on the requested resource")
            return await self.create(request, info)
        if m == "PUT" and info.name is not None:
            return await self.update(request, info)
        if m == "PATCH" and info.name is not None:
            return await self.patch(request, info)
        if m == "DELETE":
            if info.name is None:
                return await self.delete_collection(request, info)
            return await self.delete(request, info)
        raise MethodNotAllowed("the server does not allow this method on the requested resource")

    # -- reads --------------------------------------------------------------
    async def consistent_read(self, query: Any) -> None:
        """A GET or LIST without ``resourceVersion`` wants the latest state: kube-apiserver reads it from
        etcd (a GET) or checks the watch cache against etcd's current revision first (a LIST, KEP-2340),
        so it needs etcd's quorum. ``resourceVersion=0`` means "any state you have": served from the
        cache even while etcd has no leader. The embedded store is always current (no such method)."""
        if query.get("resourceVersion") or query.get("continue"):
            return
        read = getattr(self.registry.store, "consistent_read", None)
        if read is not None:
            await read()

    async def get(self, request: web.Request, info: RequestInfo) -> web.Response:
        q = request.query
        await self.consistent_read(q)
        get_stored = getattr(self.registry, "get_stored", None)
        if (info.subresource is None and get_stored is not None and not encoding.wants_pretty(request)
                and not tables.wants_table(request.headers.get("Accept"))):
            # the common GET: the stored object's compact body, encoded once per resourceVersion
            kv = get_stored(info.resource, info.namespace, info.name)
            return encoding.body_response(self.bodies.stored_body(kv.key, kv))
        obj = await call(self.registry.get, info.resource, info.namespace, info.name,
                         subresource=info.subresource)
        pretty = encoding.wants_pretty(request)
        if tables.wants_table(request.headers.get("Accept")) and info.subresource is None:
            return self.respond(self._table(info, [obj], q), pretty=pretty)
        if info.subresource is None:
            return self.respond_stored(info, obj, pretty=pretty)
        return self.respond(obj, pretty=pretty)

    async def list(self, request: web.Request, info: RequestInfo) -> web.Response:
        q = request.query
        await self.consistent_read(q)
        lst = await call(self.registry.list, info.resource, info.namespace,
                         label_selector=q.get("labelSelector") or None,
                         field_selector=q.get("fieldSelector") or None,
                         limit=q_int(q, "limit") or None, continue_=q.get("continue") or None,
                         resource_version=q.get("resourceVersion") or None,
                         resource_version_match=q.get("resourceVersionMatch") or None)
        pretty = encoding.wants_pretty(request)
        if tables.wants_table(request.headers.get("Accept")):
            return self.respond(self._table(info, lst.get("items") or [], q, lst.get("metadata")), pretty=pretty)
        return self.respond(lst, pretty=pretty)

    async def watch(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        q = request.query
        send_initial = q.get("sendInitialEvents")
        timeout = q_int(q, "timeoutSeconds")
        kwargs: dict[str, Any] = dict(
            resource_version=q.get("resourceVersion") or None,
            label_selector=q.get("labelSelector") or None,
            field_selector=q.get("fieldSelector") or None,
            allow_bookmarks=q_bool(q, "allowWatchBookmarks"),
        )
        if send_initial is not None:
            kwargs["send_initial_events"] = send_initial.lower() == "true"
        events = call(self.registry.watch, info.resource, info.namespace,
                      _required=("send_initial_events",), **kwargs)
        transform = None
        if tables.wants_table(request.headers.get("Accept")):
            first = [True]

            def transform(type_: str, obj: dict) -> dict:
                table = self._table(info, [obj], q)
                if not first[0]:
                    table.pop("columnDefinitions", None)
                first[0] = False
                return table
        return await self.watches.serve(request, events, timeout_seconds=timeout, transform=transform)

    # -- writes -------------------------------------------------------------
    # The registry decodes-checks (wrong types, unknown fields per fieldValidation),
    # defaults, validates and stores; warnings it raises become Warning headers.

    async def create(self, request: web.Request, info: RequestInfo) -> web.Response:
        q = request.query
        obj = decode_object(await read_body(request), media_type(request))
        with collect_warnings() as warnings:
            created = await call(self.registry.create, info.resource, info.namespace, obj,
                                 subresource=info.subresource, name=info.name,
                                 dry_run=q_dry_run(q), field_validation=q_field_validation(q),
                                 field_manager=q.get("fieldManager") or None, stored=True, _required=("dry_run",))
        pretty = encoding.wants_pretty(request)
        if isinstance(created, KeyValue):  # stored in response order: its JSON is the body
            if pretty:
                return self.respond(created.value, 201, pretty=True, warnings=warnings)
            resp = encoding.body_response(self.bodies.created_body(created), 201)
            for w in warnings:
                resp.headers.add("Warning", f'299 - {json.dumps(w)}')
            return resp
        if info.subresource is None:
            return self.respond_stored(info, created, 201, pretty=pretty, warnings=warnings)
        return self.respond(created, 201, pretty=pretty, warnings=warnings)

    async def update(self, request: web.Request, info: RequestInfo) -> web.Response:
        q = request.query
        obj = decode_object(await read_body(request), media_type(request))
        meta = obj.get("metadata")
        if isinstance(meta, dict) and meta.get("name") and meta["name"] != info.name:
            raise BadRequest(f"the name of the object ({meta['name']}) does not match the name on the URL "
                             f"({info.name})")
        with collect_warnings() as warnings:
            updated = await call(self.registry.update, info.resource, info.namespace, info.name, obj,
                                 subresource=info.subresource, dry_run=q_dry_run(q),
                                 field_validation=q_field_validation(q),
                                 field_manager=q.get("fieldManager") or None, _required=("dry_run",))
        return self.respond(updated, 200, pretty=encoding.wants_pretty(request), warnings=warnings)

    async def patch(self, request: web.Request, info: RequestInfo) -> web.Response:
        q = request.query
        ptype = media_type(request)
        if ptype not in patch_types(info.resource):
            raise UnsupportedMediaType(
                f"the body of the request was in an unknown format - accepted media types include: "
                f"{', '.join(patch_types(info.resource))}")
        body = await read_body(request)
        if ptype == "application/apply-patch+yaml" and not q.get("fieldManager"):
            raise BadRequest('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                             'is required for apply patch')
        with collect_warnings() as warnings:
            patched = await call(self.registry.patch, info.resource, info.namespace, info.name, body, ptype,
                                 subresource=info.subresource, field_manager=q.get("fieldManager") or None,
                                 force=q_bool(q, "force"), dry_run=q_dry_run(q),
                                 field_validation=q_field_validation(q), _required=("dry_run",))
        return self.respond(patched, 200, pretty=encoding.wants_pretty(request), warnings=warnings)

    async def _delete_options(self, request: web.Request) -> dict[str, Any]:
        q = request.query
        opts: dict[str, Any] = {}
        body = await read_body(request)
        if body.strip():
            decoded = decode_object(body, media_type(request))
            if decoded.get("kind") not in (None, "DeleteOptions"):
                raise BadRequest(f"the body of a DELETE must be DeleteOptions, got {decoded.get('kind')}")
            opts = decoded
        grace = opts.get("gracePeriodSeconds")
        if q_int(q, "gracePeriodSeconds") is not None:
            grace = q_int(q, "gracePeriodSeconds")
        if grace is not None and (not isinstance(grace, int) or isinstance(grace, bool)):
            raise BadRequest("gracePeriodSeconds: must be an integer")
        policy = q.get("propagationPolicy") or opts.get("propagationPolicy")
        if policy is not None and policy not in ("Orphan", "Background", "Foreground"):
            raise BadRequest(f'propagationPolicy: Unsupported value: "{policy}": supported values: '
                             f'"Background", "Foreground", "Orphan"')
        if opts.get("orphanDependents") is True and policy is None:
            policy = "Orphan"
        pre = {k: v for k, v in (opts.get("preconditions") or {}).items() if v}
        return {"propagation_policy": policy, "grace_period_seconds": grace,
                "preconditions": pre or None, "dry_run": q_dry_run(q, opts.get("dryRun"))}

    async def delete(self, request: web.Request, info: RequestInfo) -> web.Response:
        opts = await self._delete_options(request)
        with collect_warnings() as warnings:
            out = await call(self.registry.delete, info.resource, info.namespace, info.name,
                             _required=("dry_run", "preconditions"), **opts)
        return self.respond(out, 200, pretty=encoding.wants_pretty(request), warnings=warnings)

    async def delete_collection(self, request: web.Request, info: RequestInfo) -> web.Response:
        q = request.query
        opts = await self._delete_options(request)
        if opts.pop("preconditions"):
            raise BadRequest("preconditions are not supported when deleting a collection")
        out = await call(self.registry.delete_collection, info.resource, info.namespace,
                         label_selector=q.get("labelSelector") or None,
                         field_selector=q.get("fieldSelector") or None,
                         _required=("dry_run",), **opts)
        return self.respond(out, 200, pretty=encoding.wants_pretty(request))

    # -- pods/log, pods/exec, pods/attach, pods/portforward----------------------------------------------
    async def pod_proxy(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        pod = await call(self.registry.get, info.resource, info.namespace, info.name)
        if info.subresource == "log":
            if request.method != "GET":
                raise MethodNotAllowed("the server does not allow this method on the requested resource")
            return await execmod.serve_logs(request, pod, self.node_connector)
        if info.subresource == "exec":
            return await execmod.serve_exec(request, pod, self.node_connector)
        if info.subresource == "attach":
            return await execmod.serve_attach(request, pod, self.node_connector)
        return await portforward.serve_portforward(request, pod, self.node_connector)

    async def proxy(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        """``pods/NAME[:PORT]/proxy/...`` and ``services/NAME[:PORT]/proxy/...`` (``proxy.py``)."""
        _scheme, name, port = proxymod.split_scheme_name_port(info.name or "")
        if info.resource.plural == "services":
            svc = await call(self.registry.get, info.resource, info.namespace, name)
            try:
                eps = await call(self.registry.get, resource_for("endpoints"), info.namespace, name)
            except NotFound:
                eps = None
            pod_name, pod_port, _ip = proxymod.service_target(svc, eps, port)
            pod = await call(self.registry.get, resource_for("pods"), info.namespace, pod_name)
        else:
            pod = await call(self.registry.get, info.resource, info.namespace, name)
            pod_port = proxymod.pod_port(pod, port)
        return await proxymod.forward(request, self.node_connector, pod, pod_port, info.proxy_path)

    # -- authorization.k8s.io, authentication.k8s.io -----------------------------
    async def access_review(self, request: web.Request, info: RequestInfo) -> web.Response:
        """The reviews (``reviews.py``): answered by the authorizer guarding every request, never stored."""
        from kubetui.apiserver import rbac, reviews
        obj = decode_object(await read_body(request), media_type(request))
        check_type_meta(obj, info.resource)
        obj.setdefault("metadata", {})
        obj["metadata"].setdefault("creationTimestamp", None)
        if info.namespace:
            obj["metadata"]["namespace"] = info.namespace
        caller = rbac.CURRENT_USER.get() or rbac.Subject("system:apiserver", ("system:masters",
                                                                               "system:authenticated"))
        authorizer = self.authorizer or rbac.authorizer_for(self.registry)
        kind = info.resource.kind
        if info.resource.group == "authentication.k8s.io":
            obj = reviews.identity_review(kind, obj, caller, self.authenticate)
        else:
            obj = reviews.access_review(kind, obj, caller, authorizer, info.namespace)
        return self.respond(obj, 201, pretty=encoding.wants_pretty(request))

    # -- metrics.k8s.io -------------------------------------------------------
    async def metrics(self, request: web.Request, info: RequestInfo) -> web.Response:
        """PodMetrics/NodeMetrics the way metrics-server serves them (``apiserver/metrics.py``)."""
        q = request.query
        out = await metrics_list(self.registry, self.metrics_source, self.clock, plural=info.resource.plural,
                                 kind=info.resource.kind, namespace=info.namespace, name=info.name,
                                 label_selector=q.get("labelSelector") or None,
                                 field_selector=q.get("fieldSelector") or None)
        return self.respond(out, pretty=encoding.wants_pretty(request))


def now_rfc3339(clock: Clock) -> str:
    return rfc3339(clock.time())
