"""The kubelet's API client: a tiny HTTPS client on asyncio streams (upstream: client-go, as the kubelet uses it).

Standard library only, since it runs inside the node. One connection per
request (``Connection: close``); a watch is a chunked response of one JSON
event per line. A ``Status`` error body becomes ``APIError`` carrying its
``reason`` and ``code``, the same vocabulary as ``kubetui.api.errors``.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import urllib.parse
from typing import Any, AsyncIterator

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"


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


class APIClient:
    def __init__(self, server: str, token: str | None = None, ca_file: str | None = None,
                 ca_data: str | None = None, user_agent: str = "kubelet/v1.37.0 (kubetui)") -> None:
        u = urllib.parse.urlsplit(server)
        self.host = u.hostname or "127.0.0.1"
        self.port = u.port or (443 if u.scheme == "https" else 80)
        self.tls = u.scheme == "https"
        self.token = token
        self.user_agent = user_agent
        self._ssl: ssl.SSLContext | None = None
        if self.tls:
            self._ssl = ssl.create_default_context(cafile=ca_file, cadata=ca_data)

    async def _open(self, method: str, path: str, body: bytes | None, ctype: str | None):
        reader, writer = await asyncio.open_connection(
            self.host, self.port, ssl=self._ssl, server_hostname=self.host if self.tls else None,
            limit=2 ** 22)
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                f"User-Agent: {self.user_agent}", "Accept: application/json", "Connection: close"]
        if self.token:
            head.append(f"Authorization: Bearer {self.token}")
        if body is not None:
            head += [f"Content-Type: {ctype or 'application/json'}", f"Content-Length: {len(body)}"]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + (body or b""))
        await writer.drain()
        status_line = await reader.readline()
        if not status_line:
            writer.close()
            raise APIError(503, "ServiceUnavailable", "connection closed by the API server")
        code = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            k, _, v = line.decode("latin-1").partition(":")
            headers[k.strip().lower()] = v.strip()
        return code, headers, reader, writer

    @staticmethod
    async def _chunks(reader: asyncio.StreamReader, headers: dict[str, str]) -> AsyncIterator[bytes]:
        if "chunked" in headers.get("transfer-encoding", ""):
            while True:
                size_line = await reader.readline()
                if not size_line:
                    return
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    await reader.readline()
                    return
                data = await reader.readexactly(size)
                await reader.readline()
                yield data
        elif "content-length" in headers:
            n = int(headers["content-length"])
            if n:
                yield await reader.readexactly(n)
        else:
            while True:
                data = await reader.read(65536)
                if not data:
                    return
                yield data

    async def request(self, method: str, path: str, body: Any = None,
                      content_type: str | None = None) -> dict:
        raw = json.dumps(body).encode() if body is not None else None
        code, headers, reader, writer = await self._open(method, path, raw, content_type)
        try:
            data = b"".join([c async for c in self._chunks(reader, headers)])
        finally:
            writer.close()
        obj = json.loads(data) if data.strip() else {}
        if code >= 400:
            raise _error(code, obj, data)
        return obj

    async def get(self, path: str) -> dict:
        return await self.request("GET", path)

    async def create(self, path: str, obj: dict) -> dict:
        return await self.request("POST", path, obj)

    async def update(self, path: str, obj: dict) -> dict:
        return await self.request("PUT", path, obj)

    async def patch(self, path: str, patch: dict, patch_type: str = MERGE_PATCH) -> dict:
        return await self.request("PATCH", path, patch, patch_type)

    async def delete(self, path: str, options: dict | None = None) -> dict:
        return await self.request("DELETE", path, options)

    async def watch(self, path: str, params: dict[str, str]) -> AsyncIterator[tuple[str, dict]]:
        """(type, object) events; ``APIError(410)`` if the resourceVersion is too old."""
        q = dict(params, watch="true")
        code, headers, reader, writer = await self._open("GET", f"{path}?{urllib.parse.urlencode(q)}",
                                                         None, None)
        try:
            if code >= 400:
                data = b"".join([c async for c in self._chunks(reader, headers)])
                raise _error(code, json.loads(data or b"{}"), data)
            buf = b""
            async for chunk in self._chunks(reader, headers):
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    if not line.strip():
                        continue
                    ev = json.loads(line)
                    if ev.get("type") == "ERROR":
                        st = ev.get("object") or {}
                        raise _error(int(st.get("code") or 500), st, line)
                    yield ev["type"], ev["object"]
        finally:
            writer.close()


def _error(code: int, obj: Any, raw: bytes) -> APIError:
    if isinstance(obj, dict) and obj.get("kind") == "Status":
        return APIError(int(obj.get("code") or code), obj.get("reason") or "", obj.get("message") or "",
                        obj)
    return APIError(code, "", raw[:200].decode(errors="replace"))


def query(path: str, **params: Any) -> str:
    clean = {k: v for k, v in params.items() if v is not None}
    return f"{path}?{urllib.parse.urlencode(clean)}" if clean else path
