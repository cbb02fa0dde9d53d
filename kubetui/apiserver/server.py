"""kube-apiserver's HTTP face: TLS, authentication, discovery, OpenAPI and REST.

Upstream: ``cmd/kube-apiserver`` and ``staging/src/k8s.io/apiserver``. One
aiohttp application serves what real kubectl and client libraries ask for:

- ``/version``, ``/healthz``, ``/livez``, ``/readyz`` (public, like upstream's
  ``system:public-info-viewer``);
- discovery: ``/api``, ``/apis`` (aggregated ``apidiscovery.k8s.io/v2`` when
  asked, else legacy), ``/api/v1``, ``/apis/<group>[/<version>]``;
- ``/openapi/v3`` and ``/openapi/v3/<group-version>?hash=...`` (``kubectl
  explain`` and kubectl's field validation use them);
- every resource in ``kubetui.api.resources.RESOURCES`` under
  ``/api/v1/...`` and ``/apis/<g>/<v>/...`` (``handlers.py``), plus the
  access reviews ``kubectl auth can-i`` posts and ``metrics.k8s.io`` for
  ``kubectl top``.

Requests are authenticated by bearer token (``auth.py``); every error becomes
a ``Status`` object in exactly one place, ``_status_middleware``.

Node connector
--------------
``pods/log`` and ``pods/exec`` are proxied to the pod's kubelet through
``node_connector`` (protocols ``NodeConnector``/``ExecSession`` in
``exec.py``)::

    class NodeConnector:
        def logs(self, pod: dict, container: str, *, follow=False, tail_lines=None,
                 previous=False, timestamps=False, since_seconds=None,
                 limit_bytes=None) -> AsyncIterator[bytes]: ...
        async def exec(self, pod: dict, container: str, command: list[str], *,
                       stdin: bool, tty: bool) -> ExecSession: ...

    class ExecSession:
        async def read(self) -> tuple[int, bytes] | None   # (1 stdout|2 stderr, data); None = done
        async def write(self, data: bytes) -> None          # stdin
        async def close_stdin(self) -> None
        async def exit_code(self) -> int                    # waits for the command
        async def resize(self, width: int, height: int) -> None
        async def close(self) -> None

Metrics source
--------------
``metrics_source()`` (plain or async) returns ``{"nodes": [NodeMetrics...],
"pods": [PodMetrics...]}`` in metrics.k8s.io/v1beta1 shape; without one, the
lists are empty (``kubectl top`` then says metrics are not available yet).
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import logging
import platform
import ssl
import sys
from typing import Any, Awaitable, Callable

from aiohttp import web

from kubetui import KUBERNETES_VERSION, __version__
from kubetui.api.errors import (
    InternalError, MethodNotAllowed, StatusError, Unauthorized, not_found_generic,
)
from kubetui.api.openapi import v2 as openapi_v2
from kubetui.apiserver import customresources, discovery, encoding, healthz, rbac
from kubetui.apiserver.audit import AuditLog
from kubetui.apiserver.auditfilter import audited
from kubetui.apiserver.auth import AllowAll, TokenAuthenticator, UserInfo
from kubetui.apiserver.serviceaccount import ServiceAccountTokenAuthenticator, UnionAuthenticator
from kubetui.apiserver.authz import authorize_request, impersonate, request_attributes, subject_of
from kubetui.apiserver.handlers import RestHandlers, parse_resource_path
from kubetui.apiserver.watchstream import WatchStreams
from kubetui.clock import Clock

log = logging.getLogger(__name__)

PUBLIC_PATHS = ("/version", "/healthz", "/livez", "/readyz")
#: the cycle collector's youngest-generation threshold while a server runs (see ``_tune_process``)
GC_YOUNG_THRESHOLD = 5_000
USER = web.RequestKey("user", UserInfo)  # the authenticated user, for handlers that want it


#: the interpreter's thread switch interval while a server runs (see ``_tune_process``)
SWITCH_INTERVAL = 0.001

_tuned: list[Any] = [0, None]  # API servers running in this process; the settings before the first


def _tune_process() -> None:
    """Two interpreter settings for a process serving the API (until its last server stops):

    - the cycle collector's youngest generation is collected every ``GC_YOUNG_THRESHOLD``
      net allocations of tracked objects instead of 700: under load that was a collection
      every few requests (each walking the objects of the requests in flight) and a full
      one every 100th, which walks everything the store keeps (a 20 ms stop at 3,000
      pods). A request's objects die by reference counting within the request; cycles
      are rare here. 3,000 creates + 6,000 gets: 17 young collections instead of 268, no
      full one, none over 2 ms.
    - the switch interval drops from 5 ms to 1 ms: the store's log writer fsyncs in a
      thread, which then waits for the GIL while the event loop serves requests; the loop
      takes the GIL straight back after each of its own system calls, so the writer got it
      only when the interval ran out, and every write of the batch waited up to 5 ms more
      (an fsync in a thread while the main thread runs Python and makes system calls, as
      the loop does: fsync + GIL wait p50 7.9 ms with 5 ms, 1.3 ms with 1 ms).
    """
    if _tuned[0] == 0:
        _tuned[1] = (gc.get_threshold(), sys.getswitchinterval())
        gc.set_threshold(GC_YOUNG_THRESHOLD, *_tuned[1][0][1:])
        sys.setswitchinterval(SWITCH_INTERVAL)
    _tuned[0] += 1


def _untune_process() -> None:
    _tuned[0] -= 1
    if _tuned[0] == 0 and _tuned[1] is not None:
        gc.set_threshold(*_tuned[1][0])
        sys.setswitchinterval(_tuned[1][1])


def status_response(err: StatusError, *, pretty: bool = False) -> web.Response:
    """The one place an error becomes an HTTP response: a ``Status`` body."""
    resp = encoding.response(err.status(), err.code, pretty=pretty)
    if err.retry_after is not None:
        resp.headers["Retry-After"] = str(err.retry_after)
    return resp


def _default_openapi() -> dict[str, dict]:
    from kubetui.api.openapi import openapi_v3_documents
    return openapi_v3_documents()


def _peercert(request: web.Request) -> dict | None:
    """The client certificate the TLS layer verified against the cluster CA, if one was given."""
    transport = request.transport
    # asyncio's TLS transport keeps what ``getpeercert()`` said at the handshake (a connection's
    # peer cannot change afterwards); None on a plain-http transport
    return transport.get_extra_info("peercert") if transport is not None else None


class APIServer:
    """The HTTPS API server over a ``Registry``.

    ``port=0`` picks a free port (see ``.port``/``.url`` after ``start()``).
    ``extra_hosts`` are more addresses to listen on with the same port (the
    gateway address node containers reach the control plane through).
    Without ``ssl_context`` the server speaks plain http, which is only
    allowed with ``insecure_http=True`` and then authenticates nobody (kubectl
    sends no token over http anyway).
    """

    def __init__(self, registry: Any, *, host: str = "127.0.0.1", extra_hosts: tuple[str, ...] = (),
                 port: int = 6443, ssl_context: ssl.SSLContext | None = None,
                 authenticator: TokenAuthenticator | AllowAll | None = None,
                 node_connector: Any = None, metrics_source: Callable[[], Any] | None = None,
                 clock: Clock | None = None, insecure_http: bool = False,
                 openapi_documents: Callable[[], dict[str, dict]] | None = None,
                 audit: AuditLog | None = None) -> None:
        if ssl_context is None and not insecure_http:
            raise ValueError("APIServer needs an ssl_context (see certs.ensure_pki), or insecure_http=True")
        if ssl_context is not None and authenticator is None:
            raise ValueError("an HTTPS APIServer needs an authenticator (auth.TokenAuthenticator)")
        self.registry = registry
        self.host = host
        self.extra_hosts = tuple(h for h in extra_hosts if h and h != host)
        self._requested_port = port
        self.ssl_context = ssl_context
        self.authenticator = authenticator if ssl_context is not None else AllowAll()
        if not isinstance(self.authenticator, AllowAll):
            # ServiceAccount JWTs (TokenRequest) are checked first, then the static/user credentials
            self.authenticator = UnionAuthenticator(self.authenticator, ServiceAccountTokenAuthenticator(registry))
        self.clock = clock or Clock()
        #: the audit log backend (``--audit-log-path``), or None: nothing is recorded
        self.audit = audit
        self.stopping = False
        self.watches = WatchStreams()
        self._openapi_source = openapi_documents or _default_openapi
        self._openapi: dict[str, tuple[bytes, str]] | None = None
        self._openapi_generation = -1
        self._openapi_v3_docs: dict[str, dict] = {}
        self._openapi_v2: tuple[bytes, bytes, str] | None = None
        self.rest = RestHandlers(registry, clock=self.clock, watches=self.watches,
                                 node_connector=node_connector, metrics_source=metrics_source)
        self.authorizer = rbac.authorizer_for(registry)
        self.rest.authorizer = self.authorizer
        self.rest.authenticate = lambda header: subject_of(self.authenticator.authenticate(header))
        self.port: int = 0
        self.requests_served = 0
        self._runner: web.ServerRunner | None = None
        self._subjects: dict[int, tuple[UserInfo, rbac.Subject]] = {}  # see _subject
        self._tuned = False  # start() tuned the process (``_tune_process``); stop() puts it back
        # kubetui's own read-only views (e.g. the scheduler's decisions), served
        # under /apis/<group>/... like an aggregated API: group -> handler(request, parts).
        self.extensions: dict[str, Callable[[web.Request, list[str]], Any]] = {}

    # -- lifecycle -----------------------------------------------------------
    @property
    def node_connector(self) -> Any:
        return self.rest.node_connector

    @node_connector.setter
    def node_connector(self, value: Any) -> None:
        self.rest.node_connector = value

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    #: request bodies are read by handlers.read_body with the 3 MiB limit
    CLIENT_MAX_SIZE = 4 * 1024 * 1024

    def build_server(self) -> web.Server:
        """aiohttp's low-level server: every request goes to ``_handle``, which runs the two
        filters and the dispatcher. (A ``web.Application`` with one catch-all route and these
        as middlewares did the same, plus a router match, match info and middleware wrappers
        per request: about 8 % of a GET's server time.)"""
        def make_request(message, payload, protocol, writer, task) -> web.BaseRequest:
            return web.BaseRequest(message, payload, protocol, writer, task, asyncio.get_running_loop(),
                                   client_max_size=self.CLIENT_MAX_SIZE)
        return web.Server(self._handle, request_factory=make_request, access_log=None)

    def _handle(self, request: web.BaseRequest) -> Awaitable[web.StreamResponse]:
        return self._status_middleware(request, self._handle_authenticated)

    def _handle_authenticated(self, request: web.BaseRequest) -> Awaitable[web.StreamResponse]:
        # (a plain function returning the filter's coroutine: one coroutine less per request)
        if "Expect" in request.headers:
            return self._auth_middleware(request, self._dispatch_expecting)
        return self._auth_middleware(request, self._dispatch)

    async def _dispatch_expecting(self, request: web.BaseRequest) -> web.StreamResponse:
        expect = request.headers.get("Expect")
        if expect and request.version == (1, 1):
            # what web.Application's default expect handler did: HTTP/1.1's 100-continue
            # (curl sends it before a large body), 417 for any other expectation
            if expect.lower() != "100-continue":
                raise web.HTTPExpectationFailed(text=f"Unknown Expect: {expect}")
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            request.writer.output_size = 0     # the response proper has not begun
        return await self._dispatch(request)

    async def start(self) -> None:
        self.watches.closing = False
        self._runner = web.ServerRunner(self.build_server(), shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self._requested_port, ssl_context=self.ssl_context,
                           reuse_address=True)
        await site.start()
        server = site._server  # aiohttp keeps the asyncio.Server here; the bound port is on its socket
        self.port = server.sockets[0].getsockname()[1] if server and server.sockets else self._requested_port
        for extra in self.extra_hosts:
            try:
                await web.TCPSite(self._runner, extra, self.port, ssl_context=self.ssl_context,
                                  reuse_address=True).start()
            except OSError as exc:
                log.warning("API server cannot listen on %s:%d: %s", extra, self.port, exc)
        log.info("API server listening on %s", self.url)
        # Python's cycle collector stops the event loop for a walk over every tracked object
        # it holds in its oldest generation: the imported modules, the OpenAPI schemas, the
        # bootstrap objects (~50,000, ~10 ms a walk, in the p99 of any request it lands
        # on). They live as long as the process, so they leave the collector's generations
        # (after one last collection, so no garbage goes with them) until the server stops.
        gc.collect()
        gc.freeze()
        _tune_process()
        self._tuned = True

    def health_checks(self, endpoint: str) -> list[healthz.Check]:
        """The checks behind ``/livez``, ``/readyz`` and ``/healthz``, named as kube-apiserver's."""
        def etcd() -> str | None:  # the store plays etcd: is it open and still writing?
            health = getattr(self.registry.store, "health", None)
            return health() if health is not None else None

        checks = [healthz.Check("ping", lambda: None), healthz.Check("log", lambda: None),
                  healthz.Check("etcd", etcd),
                  healthz.Check("poststarthook/rbac/bootstrap-roles",
                                lambda: None if getattr(self.registry, "bootstrapped", False) else "not finished")]
        if endpoint == "readyz":
            checks.append(healthz.Check("shutdown", lambda: "shutting down" if self.stopping else None))
        return checks

    async def stop(self) -> None:
        """End every watch stream cleanly, then close the listeners and connections."""
        self.stopping = True  # /readyz says so, so a load balancer stops sending requests here
        self.watches.stop_all()
        await asyncio.sleep(0)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            gc.unfreeze()  # what the process keeps from here on is collectable again
            if self._tuned:
                self._tuned = False
                _untune_process()
        if self.audit is not None:
            self.audit.close()

    # -- middleware ------------------------------------------------------------
    async def _status_middleware(self, request: web.Request, handler) -> web.StreamResponse:
        self.requests_served += 1  # the TUI's activity indicator for the API server
        # (whether the error body is indented is only worked out for an error: it reads the query)
        try:
            return await handler(request)
        except StatusError as err:
            if err.code >= 500:
                log.warning("%s %s: %s", request.method, request.path, err.message)
            return status_response(err, pretty=encoding.wants_pretty(request))
        except web.HTTPException as exc:
            if exc.status == 413:
                from kubetui.api.errors import RequestEntityTooLarge
                return status_response(RequestEntityTooLarge(exc.text or "Request entity too large"),
                                       pretty=encoding.wants_pretty(request))
            return status_response(StatusError(exc.reason, code=exc.status, reason=exc.reason.replace(" ", "")),
                                   pretty=encoding.wants_pretty(request))
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception as exc:  # noqa: BLE001 - the server's loop boundary: log, answer 500
            log.exception("%s %s failed", request.method, request.path_qs)
            return status_response(InternalError(f"an error on the server ({type(exc).__name__}: {exc}) "
                                                 f"has prevented the request from succeeding"),
                                   pretty=encoding.wants_pretty(request))

    async def _auth_middleware(self, request: web.Request, handler) -> web.StreamResponse:
        """Authenticate, impersonate, then authorize (``endpoints/filters``: authentication.go,
        impersonation.go, authorization.go): before any handler, admission or storage runs."""
        header = request.headers.get("Authorization")
        # x509 first, then bearer tokens (upstream's union authenticator order)
        peercert = _peercert(request)
        info = self.authenticator.authenticate_cert(peercert) if peercert else None
        if info is None and not header:
            path = request.path.rstrip("/") or "/"
            if any(path == p or path.startswith(p + "/") for p in PUBLIC_PATHS):
                # system:public-info-viewer lets system:anonymous read these paths
                return await handler(request)
            info = self.authenticator.anonymous  # no credential: system:anonymous; RBAC decides (403)
        if info is None:
            info = self.authenticator.authenticate(header)
        request[USER] = info
        authenticated = self._subject(info)
        user = impersonate(self.authorizer, authenticated, request.headers)
        attrs = request_attributes(request, user)
        token = rbac.CURRENT_USER.set(user)
        try:
            if self.audit is None:
                authorize_request(self.authorizer, attrs)
                return await handler(request)
            return await audited(self.audit, request, attrs, authenticated=authenticated, now=self.clock.time,
                                 authorize=lambda: authorize_request(self.authorizer, attrs),
                                 handler=lambda: handler(request))
        finally:
            rbac.CURRENT_USER.reset(token)

    def _subject(self, info: UserInfo) -> rbac.Subject:
        """``subject_of(info)``, kept for the UserInfo objects the authenticator hands out again
        (one per static token: every request of a client with a token would build its Subject anew)."""
        kept = self._subjects.get(id(info))
        if kept is not None and kept[0] is info:  # the same object (its id is not reused while kept)
            return kept[1]
        subject = subject_of(info)
        if len(self._subjects) >= 256:
            self._subjects.clear()
        self._subjects[id(info)] = (info, subject)
        return subject

    # -- routing -------------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        if not parts:
            # upstream's WriteRawJSON: non-API documents are always indented
            return encoding.response({"paths": ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/openapi/v2", "/openapi/v3",
                                                "/readyz", "/version"]}, raw=True)
        head = parts[0]
        if head in ("healthz", "livez", "readyz"):
            answer = healthz.evaluate(head, self.health_checks(head), parts[1:], request.query)
            return web.Response(status=answer.status, text=answer.text, content_type="text/plain")
        if head == "version" and len(parts) == 1:
            return encoding.response(self.version_info(), raw=True)
        if head == "openapi":
            return self._openapi_response(request, parts[1:])
        if head == "api":
            if len(parts) == 1:
                return self._discovery(request, core=True)
            if parts[1] != "v1":
                raise not_found_generic()
            if len(parts) == 2:
                return self._get_only(request, discovery.api_resource_list("", "v1"))
            info = parse_resource_path("", "v1", parts[2:])
            return await self.rest.handle(request, info)
        if head == "apis" and len(parts) > 1 and parts[1] in self.extensions:
            return await self.extensions[parts[1]](request, parts[2:])
        if head == "apis":
            gvs = discovery.served_group_versions()
            if len(parts) == 1:
                return self._discovery(request, core=False)
            group = parts[1]
            if not group or group not in gvs:
                raise not_found_generic()
            if len(parts) == 2:
                return self._get_only(request, discovery.api_group_doc(group))
            version = parts[2]
            if version not in gvs[group]:
                raise not_found_generic()
            if len(parts) == 3:
                return self._get_only(request, discovery.api_resource_list(group, version))
            info = parse_resource_path(group, version, parts[3:])
            return await self.rest.handle(request, info)
        raise not_found_generic()

    @staticmethod
    def _json(request: web.Request, obj: Any, content_type: str = encoding.JSON) -> web.Response:
        return encoding.response(obj, pretty=encoding.wants_pretty(request), content_type=content_type)

    def _get_only(self, request: web.Request, obj: Any) -> web.Response:
        if request.method != "GET":
            raise MethodNotAllowed("the server does not allow this method on the requested resource")
        return self._json(request, obj)

    def version_info(self) -> dict[str, Any]:
        major, minor = KUBERNETES_VERSION.lstrip("v").split(".")[:2]
        return {
            "major": major, "minor": minor, "gitVersion": KUBERNETES_VERSION,
            "gitCommit": "kubetui", "gitTreeState": "clean", "buildDate": "",
            "goVersion": f"python{platform.python_version()}", "compiler": "cpython",
            "platform": f"{platform.system().lower()}/{platform.machine()}",
            "kubetui": __version__,
        }

    def _discovery(self, request: web.Request, *, core: bool) -> web.Response:
        if discovery.wants_aggregated(request.headers.get("Accept", "")):
            return self._json(request, discovery.aggregated(core), discovery.AGGREGATED_CONTENT_TYPE)
        if core:
            return self._json(request, discovery.api_versions(f"{self.host}:{self.port}"))
        return self._json(request, discovery.api_group_list())

    # -- OpenAPI v3 --------------------------------------------------------------
    def _openapi_docs(self) -> dict[str, tuple[bytes, str]]:
        if self._openapi is None or self._openapi_generation != customresources.serving.generation:
            self._openapi_generation = customresources.serving.generation
            docs = customresources.openapi_documents(self._openapi_source())
            out = {}
            for gv, doc in docs.items():
                body = encoding.encode_marshal(doc)
                out[gv] = (body, hashlib.sha512(body).hexdigest().upper())
            self._openapi = out
            self._openapi_v3_docs = docs
            self._openapi_v2 = None
        return self._openapi

    def _openapi_v2_response(self, request: web.Request) -> web.Response:
        """``/openapi/v2``: one Swagger 2.0 document, as protobuf when asked (kubectl's client-side validation)."""
        self._openapi_docs()
        if self._openapi_v2 is None:
            doc = openapi_v2.swagger_document(self._openapi_v3_docs, self.version_info()["gitVersion"])
            as_json = encoding.encode_marshal(doc)
            as_proto = openapi_v2.encode_document(doc)
            self._openapi_v2 = (as_json, as_proto, hashlib.sha512(as_json).hexdigest().upper())
        as_json, as_proto, h = self._openapi_v2
        if "protobuf" in request.headers.get("Accept", ""):
            resp = web.Response(body=as_proto, content_type=openapi_v2.PROTOBUF_CONTENT_TYPE)
        else:
            resp = web.Response(body=as_json, content_type="application/json")
        resp.headers["Etag"] = f'"{h}"'
        return resp

    def _openapi_response(self, request: web.Request, rest: list[str]) -> web.Response:
        if rest == ["v2"]:
            return self._openapi_v2_response(request)
        if not rest or rest[0] != "v3":
            raise not_found_generic()
        docs = self._openapi_docs()
        if len(rest) == 1:
            index = {"paths": {gv: {"serverRelativeURL": f"/openapi/v3/{gv}?hash={h}"}
                               for gv, (_, h) in docs.items()}}
            return web.Response(body=encoding.encode_marshal(index), content_type=encoding.JSON)
        gv = "/".join(rest[1:])
        if gv not in docs:
            raise not_found_generic()
        body, h = docs[gv]
        resp = web.Response(body=body, content_type="application/json")
        resp.headers["Etag"] = f'"{h}"'
        if request.query.get("hash") == h:
            resp.headers["Cache-Control"] = "public, immutable"
        return resp
