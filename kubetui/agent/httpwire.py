"""HTTP/1.1 as the node agents speak it to the API server, without any I/O (upstream: client-go's
``rest`` package turns a ``Status`` body into an ``errors.StatusError`` the same way).

Shared by the asyncio client (``apiclient``: kubelet, kube-proxy) and the
blocking one (``blocking``: the cluster DNS pod, which cannot afford
asyncio's imports). Importing this module costs nothing beyond ``json``.
"""

from __future__ import annotations

import json

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"

_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


class APIError(Exception):
    def __init__(self, code: int, reason: str, message: str, status: dict | None = None) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code, self.reason, self.message, self.status = code, reason, message, status or {}

    @property
    def not_found(self) -> bool:
        return self.code == 404

    @property
    def conflict(self) -> bool:
        return self.code == 409 and self.reason != "AlreadyExists"

    @property
    def already_exists(self) -> bool:
        return self.reason == "AlreadyExists"

    @property
    def gone(self) -> bool:
        return self.code == 410


def split_server(server: str) -> tuple[str, int, bool]:
    """``https://10.0.0.1:6443`` -> (host, port, tls); the port defaults by scheme.

    >>> split_server("https://[::1]:6443"), split_server("http://api")
    (('::1', 6443, True), ('api', 80, False))
    """
    scheme, _, rest = server.partition("://")
    hostport = rest.split("/", 1)[0]
    tls = scheme == "https"
    if hostport.startswith("["):
        host, _, port = hostport[1:].partition("]")
        port = port.lstrip(":")
    else:
        host, _, port = hostport.partition(":")
    return host or "127.0.0.1", int(port) if port else (443 if tls else 80), tls


def quote(text: str) -> str:
    """Percent-encoding of a query value (``urllib.parse.quote(text, safe="")``)."""
    return "".join(chr(b) if b in _SAFE else f"%{b:02X}" for b in text.encode())


def query(path: str, **params) -> str:
    """``path?k=v&...`` with the given (non-None) parameters, values percent-encoded.

    >>> query("/api/v1/pods", fieldSelector="spec.nodeName=n1", limit=None)
    '/api/v1/pods?fieldSelector=spec.nodeName%3Dn1'
    """
    clean = [(k, v) for k, v in params.items() if v is not None]
    return path + ("?" + "&".join(f"{quote(str(k))}={quote(str(v))}" for k, v in clean) if clean else "")


def request_head(host: str, port: int, user_agent: str, token: str | None, method: str, path: str,
                 body: bytes | None, content_type: str | None, keep_alive: bool) -> bytes:
    """The request line and headers (and ``body``), ready to write."""
    head = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}",
            f"User-Agent: {user_agent}", "Accept: application/json"]
    if not keep_alive:
        head.append("Connection: close")
    if token:
        head.append(f"Authorization: Bearer {token}")
    if body is not None:
        head += [f"Content-Type: {content_type or 'application/json'}", f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + (body or b"")


def status_code(status_line: bytes) -> int:
    return int(status_line.split()[1])


def header(line: bytes) -> tuple[str, str]:
    k, _, v = line.decode("latin-1").partition(":")
    return k.strip().lower(), v.strip()


def reusable(code: int, headers: dict[str, str]) -> bool:
    """Does the connection end exactly where this response does, and may it carry another?"""
    framed = ("chunked" in headers.get("transfer-encoding", "") or "content-length" in headers
              or code in (204, 304))
    return framed and headers.get("connection", "").lower() != "close"


def error(code: int, obj, raw: bytes) -> APIError:
    """The ``APIError`` of an error response (its ``Status`` when it is one)."""
    if isinstance(obj, dict) and obj.get("kind") == "Status":
        return APIError(int(obj.get("code") or code), obj.get("reason") or "", obj.get("message") or "",
                        obj)
    return APIError(code, "", raw[:200].decode(errors="replace"))


def watch_event(line: bytes) -> tuple[str, dict] | None:
    """One line of a watch stream as (type, object); an ``ERROR`` event raises its ``APIError``."""
    if not line.strip():
        return None
    ev = json.loads(line)
    if ev.get("type") == "ERROR":
        st = ev.get("object") or {}
        raise error(int(st.get("code") or 500), st, line)
    return ev["type"], ev["object"]
