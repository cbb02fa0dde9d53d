"""The ingress controller's data plane: HTTP and HTTPS listeners on 127.0.0.1 that route by host and path.

Upstream an ingress controller runs in the cluster (ingress-nginx: an nginx
whose ``server``/``location`` blocks are generated from the Ingresses) and is
reached through a LoadBalancer Service or a node's ports (kind maps the host's
80/443 to it). kubetui plays it from the control plane's process, like the
LoadBalancer listeners of ``kubetui.providers.lb``: each request's head is
read, ``routing.RoutingTable.route`` picks the backend (a Service port), the
Service's ready endpoints (from its EndpointSlices) are tried round robin,
and the request goes on to the chosen pod with ``X-Forwarded-*`` headers;
the answer streams back unchanged. One request per client connection
(``Connection: close``), the way nginx talks to upstreams without keep-alive.

HTTPS terminates here: the certificate is the ``kubernetes.io/tls`` Secret
that the Ingress's ``spec.tls`` names for the TLS server name (SNI), else a
self-signed fallback (ingress-nginx's "Kubernetes Ingress Controller Fake
Certificate"). Answers of its own: 404 when no rule and no default backend
matches (``default backend - 404``), 503 when the backend Service has no ready
endpoint, 502 when none answers.

How a pod is reached is the caller's ``dial(endpoint)``: straight to the pod's
address with the local provider (pods share this machine's loopback), through
the pod's kubelet (the ``/portForward`` stream ``kubectl port-forward`` uses)
with Docker nodes, whose pod network the host cannot route to.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import logging
import os
import ssl
import tempfile
from typing import Any, Awaitable, Callable

from kubetui.ingress.routing import Backend, Route, RoutingTable, request_path
from kubetui.proxy.model import Endpoint
from kubetui.proxy.userspace import Backends, _pipe

log = logging.getLogger(__name__)

Dial = Callable[[Endpoint], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]
MAX_HEAD = 64 * 1024
HEAD_TIMEOUT = 30.0
CONNECT_TIMEOUT = 5.0
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "upgrade"}
FALLBACK_CN = "Kubernetes Ingress Controller Fake Certificate"


async def dial_direct(ep: Endpoint) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open a TCP connection to the pod's address (pods on this machine's loopback: the local provider)."""
    return await asyncio.open_connection(ep.ip, ep.port)


def backend_key(b: Backend) -> str:
    """``default/web:80``: how a Service backend is named in counters and the traffic view."""
    return f"{b.namespace}/{b.service}:{b.port}"


def fallback_certificate() -> tuple[bytes, bytes]:
    """A self-signed certificate and key (PEM) for server names no Ingress has a TLS Secret for."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme Co"),
                      x509.NameAttribute(NameOID.COMMON_NAME, FALLBACK_CN)])
    now = _dt.datetime.now(_dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - _dt.timedelta(minutes=5))
            .not_valid_after(now + _dt.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("ingress.local")]), critical=False)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def server_context(cert_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    """A TLS server context for one certificate (the stdlib loads PEMs from files: a private temp dir)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.set_alpn_protocols(["http/1.1"])
    with tempfile.TemporaryDirectory(prefix="kubetui-ingress-") as d:
        crt, key = os.path.join(d, "tls.crt"), os.path.join(d, "tls.key")
        for path, data in ((crt, cert_pem), (key, key_pem)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        ctx.load_cert_chain(crt, key)
    return ctx


def _response(code: int, reason: str, body: str) -> bytes:
    data = body.encode()
    return (f"HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode() + data


def parse_head(head: bytes) -> tuple[str, str, str, list[tuple[str, str]]]:
    """``(method, target, version, headers)`` of an HTTP/1.x request head (ValueError if malformed)."""
    lines = head.decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ", 2)
    if not version.startswith("HTTP/1."):
        raise ValueError(f"unsupported protocol {version!r}")
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        k, sep, v = line.partition(":")
        if not sep:
            raise ValueError(f"bad header line {line!r}")
        headers.append((k.strip(), v.strip()))
    return method, target, version, headers


def forwarded_head(method: str, target: str, headers: list[tuple[str, str]], *, client_ip: str, scheme: str,
                   port: int) -> bytes:
    """The request head sent to the pod: hop-by-hop headers dropped (an Upgrade kept), X-Forwarded-* added."""
    names = {k.lower() for k, _ in headers}
    upgrade = next((v for k, v in headers if k.lower() == "upgrade"), None)
    host = next((v for k, v in headers if k.lower() == "host"), "")
    out = [f"{method} {target} HTTP/1.1"]
    out += [f"{k}: {v}" for k, v in headers if k.lower() not in HOP_BY_HOP
            and not k.lower().startswith("x-forwarded-") and k.lower() != "x-real-ip"]
    if "host" not in names:
        out.append(f"Host: {host}")
    if upgrade:
        out += [f"Upgrade: {upgrade}", "Connection: upgrade"]
    else:
        out.append("Connection: close")
    out += [f"X-Real-IP: {client_ip}", f"X-Forwarded-For: {client_ip}", f"X-Forwarded-Host: {host}",
            f"X-Forwarded-Port: {port}", f"X-Forwarded-Proto: {scheme}", "X-Scheme: " + scheme]
    return ("\r\n".join(out) + "\r\n\r\n").encode("latin-1")


class IngressDataPlane:
    """Two listeners (HTTP, HTTPS) on ``host``; ``update`` swaps in a new routing table, endpoints and certificates."""

    def __init__(self, *, host: str = "127.0.0.1", http_port: int = 0, https_port: int = 0,
                 dial: Dial = dial_direct) -> None:
        self.host, self.http_port, self.https_port = host, http_port, https_port
        self.dial = dial
        self.table = RoutingTable()
        self.backends: dict[str, Backends] = {}              # backend_key -> round robin + counters
        self.pods: dict[str, tuple[str, str]] = {}           # "ip:port" -> (pod, node)
        self.requests: dict[str, int] = {}                   # "ns/ingress" -> requests routed
        self._contexts: dict[tuple[str, str], ssl.SSLContext] = {}
        self._fallback: ssl.SSLContext | None = None
        self._servers: list[asyncio.base_events.Server] = []
        self._conns: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        """Bind both ports (OSError if taken). Port 0 picks a free one; the chosen ports are then in the attributes."""
        self._fallback = server_context(*fallback_certificate())
        self._fallback.sni_callback = self._sni
        http = await asyncio.start_server(lambda r, w: self._accept(r, w, "http"), self.host, self.http_port,
                                          reuse_address=True)
        try:
            https = await asyncio.start_server(lambda r, w: self._accept(r, w, "https"), self.host,
                                               self.https_port, ssl=self._fallback, reuse_address=True,
                                               ssl_handshake_timeout=10)
        except OSError:
            http.close()
            await http.wait_closed()
            raise
        self._servers = [http, https]
        self.http_port = http.sockets[0].getsockname()[1]
        self.https_port = https.sockets[0].getsockname()[1]

    def update(self, table: RoutingTable, endpoints: dict[Backend, list[Endpoint]],
               certificates: dict[tuple[str, str], tuple[bytes, bytes]]) -> list[str]:
        """Serve ``table`` from now on; returns the problems found (a TLS Secret that does not load)."""
        problems = []
        contexts: dict[tuple[str, str], ssl.SSLContext] = {}
        for ref, pair in certificates.items():
            old = self._contexts.get(ref)
            if old is not None and getattr(old, "_kubetui_pair", None) == pair:
                contexts[ref] = old
                continue
            try:
                ctx = server_context(*pair)
            except (ssl.SSLError, ValueError, OSError) as e:
                problems.append(f"TLS Secret {ref[0]}/{ref[1]}: {e}")
                continue
            ctx._kubetui_pair = pair  # type: ignore[attr-defined]
            contexts[ref] = ctx
        keep = {}
        for backend, eps in endpoints.items():
            key = backend_key(backend)
            b = self.backends.get(key) or Backends(key)
            b.set(eps)
            keep[key] = b
            for ep in eps:
                self.pods[str(ep)] = (ep.pod, ep.node_name)
        self.backends = keep
        self._contexts = contexts
        self.table = table
        return problems

    def _sni(self, sock: ssl.SSLObject, server_name: str | None, _ctx: ssl.SSLContext) -> None:
        ref = self.table.certificate(server_name or "")
        ctx = self._contexts.get(ref) if ref else None
        if ctx is not None:
            sock.context = ctx

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, scheme: str) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._conns.add(task)
        try:
            await self._serve(reader, writer, scheme)
        except (ConnectionError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                asyncio.TimeoutError, ssl.SSLError):
            pass
        finally:
            writer.close()
            if task is not None:
                self._conns.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, scheme: str) -> None:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT)
        if len(head) > MAX_HEAD:
            writer.write(_response(431, "Request Header Fields Too Large", "request header too large\n"))
            return
        try:
            method, target, _version, headers = parse_head(head[:-4])
        except ValueError:
            writer.write(_response(400, "Bad Request", "bad request\n"))
            return
        host = next((v for k, v in headers if k.lower() == "host"), "")
        if "://" in target and not host:
            host = target.split("://", 1)[1].split("/", 1)[0]
        route = self.table.route(host, request_path(target))
        if route is None:
            writer.write(_response(404, "Not Found", "default backend - 404\n"))
            return
        self.requests[route.ingress] = self.requests.get(route.ingress, 0) + 1
        if not route.backend.service:
            writer.write(_response(503, "Service Unavailable",
                                   f"resource backend {route.backend} is not supported by kubetui's controller\n"))
            return
        client_ip = (writer.get_extra_info("peername") or ("?",))[0]
        up = await self._connect(route, client_ip)
        if isinstance(up, bytes):
            writer.write(up)
            return
        up_r, up_w = up
        port = self.https_port if scheme == "https" else self.http_port
        up_w.write(forwarded_head(method, target, headers, client_ip=client_ip, scheme=scheme, port=port))
        try:
            await asyncio.gather(_pipe(reader, up_w), _pipe(up_r, writer))
        finally:
            up_w.close()

    async def _connect(self, route: Route, client_ip: str):
        backends = self.backends.get(backend_key(route.backend))
        order = backends.order(client_ip) if backends else []
        if not order:
            return _response(503, "Service Unavailable",
                             f"no ready endpoints for service {route.backend.namespace}/{route.backend}\n")
        for ep in order:
            try:
                up = await asyncio.wait_for(self.dial(ep), CONNECT_TIMEOUT)
            except (OSError, asyncio.TimeoutError, Exception) as e:  # noqa: BLE001 - a dialer's error: next endpoint
                log.debug("ingress: endpoint %s of %s failed (%s); trying the next", ep, route.backend, e)
                continue
            assert backends is not None
            backends.chosen(client_ip, ep)
            return up
        return _response(502, "Bad Gateway", f"no endpoint of {route.backend.namespace}/{route.backend} answered\n")

    def traffic(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Connections per endpoint, per Service backend: the same shape kube-proxy's ``/traffic`` has."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for name, b in sorted(self.backends.items()):
            live = {str(e) for e in b.endpoints}
            eps = {}
            for ep in sorted(live | set(b.connections)):
                pod, node = self.pods.get(ep, ("", ""))
                eps[ep] = {"connections": b.connections.get(ep, 0), "pod": pod, "node": node, "active": ep in live}
            out[name] = eps
        return out

    async def close(self) -> None:
        for s in self._servers:
            s.close()
        for t in list(self._conns):
            t.cancel()
        for s in self._servers:
            try:
                await asyncio.wait_for(s.wait_closed(), 5)
            except asyncio.TimeoutError:
                pass
        self._servers = []
