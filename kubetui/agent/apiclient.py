"""The node agents' API client: a tiny HTTPS client on asyncio streams (upstream: client-go's REST
client and transport, as the kubelet, kube-proxy and CoreDNS use them).

Standard library only, since it runs inside the node (and in the cluster DNS
pod). Requests share a few persistent (keep-alive) connections, as client-go's
transport does (upstream multiplexes everything over one HTTP/2 connection): a
TLS handshake costs both ends far more CPU than the request itself, and a node
starting 30 pods at once sends hundreds of requests. A pooled connection the
server has closed meanwhile is replaced and the request sent again. A watch is
a chunked response of one JSON event per line, on a connection of its own.
A ``Status`` error body becomes ``APIError`` carrying its ``reason`` and
``code``, the same vocabulary as ``kubetui.api.errors``.
"""

from __future__ import annotations

import asyncio
import asyncio.sslproto
import json
import ssl
import time
import urllib.parse
from typing import Any, AsyncIterator

#: asyncio gives every TLS connection a read buffer of ``SSLProtocol.max_size`` (256 KiB),
#: allocated and zeroed when the connection opens: the dozen connections of a node's agents
#: (watches, the request pool, the kubelet's server) held 3 MiB of it, a sixth of an idle
#: node. A TLS record carries at most 16 KiB, so 16 KiB reads lose nothing. Set once for the process.
TLS_READ_BUFFER = 16 * 1024
if asyncio.sslproto.SSLProtocol.max_size > TLS_READ_BUFFER:
    asyncio.sslproto.SSLProtocol.max_size = TLS_READ_BUFFER

from kubetui.agent.httpwire import (MERGE_PATCH, STRATEGIC_MERGE_PATCH, APIError, error as _error,  # noqa: F401
                                    header, query, request_head, reusable, status_code, watch_event)


class _Connection:
    """One HTTP/1.1 connection to the API server, reusable once its last response was read whole."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.idle_since = time.monotonic()

    def usable(self, max_idle: float) -> bool:
        return (not self.reader.at_eof() and not self.writer.is_closing()
                and time.monotonic() - self.idle_since < max_idle)

    def close(self) -> None:
        self.writer.close()


class _Reset(Exception):
    """The connection died before a response began (the server closed an idle keep-alive connection)."""


class APIClient:
    #: requests in flight at once (each on its own connection); more wait their turn
    MAX_CONNECTIONS = 8
    #: close a pooled connection idle this long (Go's transport: ``IdleConnTimeout``; aiohttp's
    #: server closes idle ones after 75 s). Each open TLS connection holds about 80 KiB of a node's
    #: memory (the read buffer, OpenSSL's state, the kernel's socket), and a burst of pod starts
    #: opens all ``MAX_CONNECTIONS``: without a timer, the ones behind the most recently used stayed
    #: open until the server's keep-alive timeout, and their buffers pooled until a burst reached them.
    MAX_IDLE_SECONDS = 30.0

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
        # The pool belongs to one event loop (a test may use the client from several).
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle: list[_Connection] = []     # oldest first
        self._sweeper: asyncio.TimerHandle | None = None
        self._slots: asyncio.Semaphore | None = None
        self.connections_opened = 0     # how many TLS handshakes so far (the node's log, tests)
        self.foreground = 0             # requests under way that someone waits for (not background ones)

    # -- connections -----------------------------------------------------------
    def _bind_loop(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if loop is not self._loop or self._slots is None:
            self._idle = []     # their transports belong to the old loop
            self._sweeper = None
            self._loop, self._slots = loop, asyncio.Semaphore(self.MAX_CONNECTIONS)
        return self._slots

    async def _connect(self) -> _Connection:
        reader, writer = await asyncio.open_connection(
            self.host, self.port, ssl=self._ssl, server_hostname=self.host if self.tls else None,
            limit=2 ** 22)
        self.connections_opened += 1
        return _Connection(reader, writer)

    def _take_idle(self) -> _Connection | None:
        while self._idle:
            conn = self._idle.pop()         # the most recently used: the likeliest to be alive
            if conn.usable(self.MAX_IDLE_SECONDS):
                return conn
            conn.close()
        return None

    def _release(self, conn: _Connection) -> None:
        conn.idle_since = time.monotonic()
        self._idle.append(conn)
        self._schedule_sweep()

    def _schedule_sweep(self) -> None:
        """Close idle connections when the oldest one reaches ``MAX_IDLE_SECONDS``, requests or not."""
        if self._sweeper is not None or not self._idle or self._loop is None:
            return
        due = self._idle[0].idle_since + self.MAX_IDLE_SECONDS - time.monotonic()
        self._sweeper = self._loop.call_later(max(0.0, due), self._sweep, self._idle)

    def _sweep(self, idle: list[_Connection]) -> None:
        if idle is not self._idle:      # the pool moved to another loop meanwhile
            return
        self._sweeper = None
        keep = []
        for conn in self._idle:
            if conn.usable(self.MAX_IDLE_SECONDS):
                keep.append(conn)
            else:
                conn.close()
        self._idle = keep
        self._schedule_sweep()

    async def close(self) -> None:
        """Close the pooled connections (watches close their own when they end)."""
        idle, self._idle = self._idle, []
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for conn in idle:
            conn.close()
        if idle:        # let the transports really close (TLS close_notify), but not for long
            await asyncio.wait([asyncio.ensure_future(c.writer.wait_closed()) for c in idle], timeout=1.0)

    def _head(self, method: str, path: str, body: bytes | None, ctype: str | None,
              keep_alive: bool) -> bytes:
        return request_head(self.host, self.port, self.user_agent, self.token, method, path, body, ctype,
                            keep_alive)

    @staticmethod
    async def _response_head(conn: _Connection) -> tuple[int, dict[str, str]]:
        try:
            status_line = await conn.reader.readline()
        except (ConnectionError, ssl.SSLError) as e:
            raise _Reset(str(e)) from e
        if not status_line:
            raise _Reset("connection closed by the API server")
        code = status_code(status_line)
        headers: dict[str, str] = {}
        while True:
            line = await conn.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            k, v = header(line)
            headers[k] = v
        return code, headers

    _reusable = staticmethod(reusable)

    async def _open(self, method: str, path: str, body: bytes | None, ctype: str | None):
        """A connection of its own (for a watch), closed by the caller."""
        conn = await self._connect()
        try:
            conn.writer.write(self._head(method, path, body, ctype, keep_alive=False))
            await conn.writer.drain()
            code, headers = await self._response_head(conn)
        except _Reset:
            conn.close()
            raise APIError(503, "ServiceUnavailable", "connection closed by the API server") from None
        except BaseException:
            conn.close()
            raise
        return code, headers, conn.reader, conn.writer

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

    async def _exchange(self, conn: _Connection, method: str, path: str, body: bytes | None,
                        ctype: str | None) -> tuple[int, bytes, bool]:
        try:
            conn.writer.write(self._head(method, path, body, ctype, keep_alive=True))
            await conn.writer.drain()
        except (ConnectionError, ssl.SSLError) as e:
            raise _Reset(str(e)) from e
        code, headers = await self._response_head(conn)
        if code in (204, 304):
            return code, b"", self._reusable(code, headers)
        try:
            data = b"".join([c async for c in self._chunks(conn.reader, headers)])
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError) as e:
            raise APIError(503, "ServiceUnavailable", f"connection lost mid-response: {e}") from None
        return code, data, self._reusable(code, headers)

    async def request(self, method: str, path: str, body: Any = None,
                      content_type: str | None = None, background: bool = False) -> dict:
        """One request on a pooled connection. ``background`` ones (events) are not counted
        in ``foreground``, which is what a background sender waits on to stay out of the way."""
        if background:
            return await self._request(method, path, body, content_type)
        self.foreground += 1
        try:
            return await self._request(method, path, body, content_type)
        finally:
            self.foreground -= 1

    async def _request(self, method: str, path: str, body: Any, content_type: str | None) -> dict:
        raw = json.dumps(body).encode() if body is not None else None
        async with self._bind_loop():
            conn = self._take_idle()
            reused = conn is not None
            while True:
                if conn is None:
                    conn = await self._connect()
                try:
                    code, data, keep = await self._exchange(conn, method, path, raw, content_type)
                    break
                except _Reset as e:
                    conn.close()
                    if not reused:
                        raise APIError(503, "ServiceUnavailable", str(e)) from None
                    # A pooled connection the server had closed: nothing was processed;
                    # send it again on a fresh one.
                    conn, reused = None, False
                except BaseException:
                    conn.close()
                    raise
            if keep:
                self._release(conn)
            else:
                conn.close()
        obj = json.loads(data) if data.strip() else {}
        if code >= 400:
            raise _error(code, obj, data)
        return obj

    async def get(self, path: str) -> dict:
        return await self.request("GET", path)

    async def create(self, path: str, obj: dict, background: bool = False) -> dict:
        return await self.request("POST", path, obj, background=background)

    async def update(self, path: str, obj: dict) -> dict:
        return await self.request("PUT", path, obj)

    async def patch(self, path: str, patch: dict, patch_type: str = MERGE_PATCH,
                    background: bool = False) -> dict:
        return await self.request("PATCH", path, patch, patch_type, background=background)

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
                    ev = watch_event(line)
                    if ev is not None:
                        yield ev
        finally:
            writer.close()
