"""The ``pods/proxy`` and ``services/proxy`` subresources: HTTP to a pod, through the API server.

Upstream: ``pkg/registry/core/pod/rest/subresources.go`` (``ProxyREST``) and
``pkg/registry/core/service/proxy.go`` resolve ``NAME[:PORT]`` (or
``SCHEME:NAME:PORT``) to a pod IP and port, and apimachinery's proxy handler
forwards the request there. ``kubectl proxy`` plus
``/api/v1/namespaces/default/pods/NAME:8080/proxy/`` is how the Kubernetes
Basics tutorial first reaches an app.

kubetui's API server may not route to pod IPs (a Docker node's pods live in
that container's network), so the request travels through the node's kubelet
as one port-forward stream: the same path ``kubectl port-forward`` takes. One
request per connection (``Connection: close``); no WebSocket upgrade.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

from aiohttp import web

from kubetui.api.errors import BadRequest, MethodNotAllowed, ServiceUnavailable, StatusError

log = logging.getLogger(__name__)

TIMEOUT = 30.0            # seconds for the whole exchange with the pod
MAX_RESPONSE = 16 << 20   # a proxied answer larger than this is cut off (a learning cluster, not a CDN)
# Hop-by-hop and credential headers never cross the proxy (RFC 9110 7.6.1; upstream drops Authorization).
_DROP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer",
         "host", "authorization", "content-length", "accept-encoding"}


def split_scheme_name_port(ident: str) -> tuple[str, str, str]:
    """``name``, ``name:port`` or ``scheme:name:port`` (upstream ``net.SplitSchemeNamePort``)."""
    parts = ident.split(":")
    if len(parts) == 1:
        return "", parts[0], ""
    if len(parts) == 2:
        return "", parts[0], parts[1]
    if len(parts) == 3 and parts[0] in ("http", "https"):
        return parts[0], parts[1], parts[2]
    raise BadRequest(f'invalid request "{ident}"')


def pod_port(pod: dict, port: str) -> int:
    """A port number, or the name of one of the pod's container ports; none: 80, as upstream's URL."""
    if not port:
        return 80
    if port.isdigit():
        return int(port)
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == port:
                return int(p["containerPort"])
    raise BadRequest(f'invalid port "{port}" for pod {pod["metadata"]["name"]}')


def service_target(service: dict, endpoints: dict | None, port: str) -> tuple[str, int, str]:
    """(pod name, pod port, pod IP) of a ready endpoint for ``port`` (a service port's name or number)."""
    name = service["metadata"]["name"]
    ports = (service.get("spec") or {}).get("ports") or []
    chosen = None
    for p in ports:
        if not port and len(ports) == 1:
            chosen = p
        elif port and (p.get("name") == port or str(p.get("port")) == port):
            chosen = p
    if chosen is None and port:
        raise ServiceUnavailable(f'no endpoints available for service "{name}"')
    candidates: list[tuple[str, int, str]] = []
    for subset in (endpoints or {}).get("subsets") or []:
        sub_port = next((sp for sp in subset.get("ports") or []
                         if chosen is None or sp.get("name", "") == chosen.get("name", "")), None)
        if sub_port is None:
            continue
        for addr in subset.get("addresses") or []:
            ref = addr.get("targetRef") or {}
            if ref.get("kind") == "Pod":
                candidates.append((ref["name"], int(sub_port["port"]), addr.get("ip", "")))
    if not candidates:
        raise ServiceUnavailable(f'no endpoints available for service "{name}"')
    return random.choice(candidates)


def _request_bytes(request: web.Request, path: str, host: str, body: bytes) -> bytes:
    target = "/" + path.lstrip("/")
    if request.query_string:
        target += "?" + request.query_string
    lines = [f"{request.method} {target} HTTP/1.1", f"Host: {host}"]
    for k, v in request.headers.items():
        if k.lower() not in _DROP:
            lines.append(f"{k}: {v}")
    lines += ["Connection: close", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, list[tuple[str, str]], bytes]:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionRefusedError("connection refused")
    parts = status_line.decode("latin-1").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ValueError(f"malformed HTTP response: {status_line[:80]!r}")
    code = int(parts[1])
    headers: list[tuple[str, str]] = []
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        k, _, v = line.decode("latin-1").partition(":")
        headers.append((k.strip(), v.strip()))
    lower = {k.lower(): v for k, v in headers}
    if "chunked" in lower.get("transfer-encoding", "").lower():
        body = bytearray()
        while len(body) < MAX_RESPONSE:
            size_line = await reader.readline()
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                break
            body += await reader.readexactly(size)
            await reader.readline()
        return code, headers, bytes(body)
    if "content-length" in lower:
        return code, headers, await reader.readexactly(min(int(lower["content-length"]), MAX_RESPONSE))
    return code, headers, await reader.read(MAX_RESPONSE)


async def forward(request: web.Request, connector: Any, pod: dict, port: int, path: str) -> web.Response:
    """Send ``request`` to ``port`` of ``pod`` (through its kubelet) and relay the answer."""
    if request.method not in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        raise MethodNotAllowed("the server does not allow this method on the requested resource")
    name = pod["metadata"]["name"]
    phase = (pod.get("status") or {}).get("phase") or "Pending"
    ip = (pod.get("status") or {}).get("podIP") or ""
    if phase != "Running" or not ip:
        # upstream: the pod has no IP to dial yet
        raise BadRequest(f'address not allowed' if phase == "Running" else
                         f"pod {name} is not running (phase {phase}): nothing to proxy to")
    if connector is None or not hasattr(connector, "port_forward"):
        raise ServiceUnavailable(f"cannot proxy to pod {name}: this API server has no connection to kubelets")
    body = await request.read()
    where = f"{ip}:{port}"
    try:
        async with asyncio.timeout(TIMEOUT):
            try:
                reader, writer = await connector.port_forward(pod, port)
            except StatusError as e:     # the kubelet could not dial the port: say it as a dial error
                if "connection refused" in e.message:
                    raise ConnectionRefusedError(e.message) from None
                raise ServiceUnavailable(f"error trying to reach service: {e.message}") from None
            try:
                writer.write(_request_bytes(request, path, where, body))
                await writer.drain()
                code, headers, payload = await _read_response(reader)
            finally:
                writer.close()
    except (ConnectionError, asyncio.IncompleteReadError, OSError) as e:
        # upstream's proxy error responder: 503 with the dial error
        log.info("proxy to %s/%s: %s", name, where, e)
        raise ServiceUnavailable(f"error trying to reach service: dial tcp {where}: connect: connection refused")
    except TimeoutError:
        raise ServiceUnavailable(f"error trying to reach service: dial tcp {where}: i/o timeout") from None
    except ValueError as e:
        raise ServiceUnavailable(f"error trying to reach service: {e}") from None
    resp = web.Response(status=code, body=payload if request.method != "HEAD" else None)
    for k, v in headers:
        if k.lower() not in _DROP:
            resp.headers.add(k, v)
    return resp
