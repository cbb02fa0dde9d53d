"""``pods/portforward``: the API server's side of ``kubectl port-forward`` (upstream:
``PortForwardREST`` in ``pkg/registry/core/pod/rest/subresources.go`` proxying to the
kubelet's streaming server, ``pkg/kubelet/cri/streaming/portforward``).

kubectl listens on a local port; for every TCP connection it accepts, it opens a pair
of streams to the API server: an *error* stream and a *data* stream, both carrying
headers ``streamType``, ``port`` and ``requestID`` (the pair's id). The API server hands
each pair to the pod's kubelet, which connects to ``localhost:<port>`` inside the pod's
network namespace; bytes then flow both ways on the data stream. When the pod side ends,
the data stream is closed (DATA+FIN) and the error stream closed empty (no error); a
failure (nothing listening) is written as text on the error stream instead.

Three wire forms, all served here:

- ``Sec-WebSocket-Protocol: SPDY/3.1+portforward.k8s.io`` (kubectl >= 1.31 by default): a
  WebSocket whose binary messages carry a SPDY/3.1 byte stream (``spdy.py``);
- ``Upgrade: SPDY/3.1`` with ``X-Stream-Protocol-Version: portforward.k8s.io`` (kubectl's
  fallback, and its only form with ``KUBECTL_PORT_FORWARD_WEBSOCKETS=false``);
- ``Sec-WebSocket-Protocol: v4.channel.k8s.io`` with ``?ports=80,443`` (the official Python
  client's ``portforward()``): one connection per port for the life of the WebSocket,
  port *i* on channels ``2i`` (data) and ``2i+1`` (error); the first frame on each
  channel is the port number (2 bytes, little-endian).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from typing import AsyncIterator, Awaitable, Callable

from aiohttp import WSMsgType, web

from kubetui.api.errors import BadRequest, MethodNotAllowed, StatusError
from kubetui.apiserver import spdy
from kubetui.apiserver.exec import require_node

log = logging.getLogger(__name__)

SPDY_WS_PROTOCOL = "SPDY/3.1+portforward.k8s.io"
CHANNEL_PROTOCOLS = ("v4.channel.k8s.io",)
CHUNK = 32 * 1024
OUT_FRAMES = 64           # data frames queued to the client before a pod reader waits

Opener = Callable[[int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


def parse_port(raw: str) -> int:
    """A port as upstream's kubelet accepts it (``strconv.ParseUint(s, 10, 16)``, not 0)."""
    try:
        port = int(raw)
        if not 0 < port < 65536 or not raw.strip().isdigit():
            raise ValueError
    except (TypeError, ValueError):
        raise BadRequest(f"unable to parse '{raw}' as a port") from None
    return port


async def serve_portforward(request: web.Request, pod: dict, connector) -> web.StreamResponse:
    name = pod["metadata"]["name"]
    if request.method not in ("GET", "POST"):           # a "connect" subresource: GET and POST only
        raise MethodNotAllowed("the server does not allow this method on the requested resource")
    # kubectl checks the phase itself before it asks; other clients get the same words from here
    phase = (pod.get("status") or {}).get("phase") or "Pending"
    if phase != "Running":
        raise BadRequest(f"unable to forward port because pod is not running. Current status={phase}")
    conn = require_node(pod, connector, "forward ports to")
    if not hasattr(conn, "port_forward"):
        raise BadRequest(f"cannot forward ports to pod {name}: this API server's node connector cannot")

    if hasattr(conn, "check_port_forward"):
        await conn.check_port_forward(pod)       # e.g. a simulated node: say so before any upgrade

    async def opener(port: int):
        return await conn.port_forward(pod, port)

    upgrade = request.headers.get("Upgrade", "").lower()
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
    if upgrade == "websocket" and SPDY_WS_PROTOCOL in offered:
        ws = web.WebSocketResponse(protocols=(SPDY_WS_PROTOCOL,), autoping=True, max_msg_size=0)
        await ws.prepare(request)

        async def incoming() -> AsyncIterator[bytes]:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY:
                    yield msg.data
        try:
            await SpdyForwarder(ws.send_bytes, opener, name).run(incoming())
        finally:
            await ws.close()
        return ws
    if upgrade == "websocket":
        ports = [parse_port(p) for v in request.query.getall("ports", []) for p in v.split(",") if p]
        if not ports:
            raise BadRequest("query parameter \"port\" is required")
        ws = web.WebSocketResponse(protocols=CHANNEL_PROTOCOLS, autoping=True, max_msg_size=0)
        await ws.prepare(request)
        try:
            await serve_channels(ws, ports, opener)
        finally:
            await ws.close()
        return ws
    if upgrade.startswith("spdy/3.1"):
        return await _serve_raw_spdy(request, opener, name)
    raise BadRequest("Upgrade request required")


# -- SPDY -----------------------------------------------------------------------------
class _Pair:
    """One forwarded connection: kubectl's error and data streams with the same requestID."""

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.error_sid: int | None = None
        self.data_sid: int | None = None
        self.port_raw = ""
        self.to_pod: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.writer: asyncio.StreamWriter | None = None
        self.task: asyncio.Task | None = None


class SpdyForwarder:
    """Serves one SPDY connection: many stream pairs, each relayed to the pod by its own task."""

    def __init__(self, send: Callable[[bytes], Awaitable[None]], opener: Opener, pod_name: str) -> None:
        self.send, self.opener, self.pod_name = send, opener, pod_name
        self.framer = spdy.Framer()
        self.out: asyncio.Queue[tuple[bytes, bool]] = asyncio.Queue()
        self.room = asyncio.Semaphore(OUT_FRAMES)
        self.pairs: dict[str, _Pair] = {}
        self.by_sid: dict[int, _Pair] = {}

    def _emit(self, frame: bytes) -> None:
        self.out.put_nowait((frame, False))

    async def _emit_data(self, sid: int, payload: bytes, fin: bool = False) -> None:
        await self.room.acquire()
        self.out.put_nowait((spdy.data(sid, payload, fin), True))

    async def _writer(self) -> None:
        while True:
            frame, is_data = await self.out.get()
            try:
                await self.send(frame)
            finally:
                if is_data:
                    self.room.release()

    async def run(self, incoming: AsyncIterator[bytes]) -> None:
        writer = asyncio.create_task(self._writer(), name="portforward-spdy-writer")
        try:
            async for chunk in incoming:
                for frame in self.framer.feed(chunk):
                    if not self._on_frame(frame):
                        return
        except spdy.ProtocolError as e:
            log.info("port-forward to pod %s: %s", self.pod_name, e)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            for p in self.pairs.values():
                if p.task:
                    p.task.cancel()
                if p.writer:
                    p.writer.close()
            await asyncio.gather(*(p.task for p in self.pairs.values() if p.task), return_exceptions=True)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer

    def _on_frame(self, frame: tuple) -> bool:
        kind, a, flags, payload = frame
        if kind == "data":
            p = self.by_sid.get(a)
            if p is not None and a == p.data_sid:
                if payload:
                    p.to_pod.put_nowait(payload)
                if flags & spdy.FLAG_FIN:
                    p.to_pod.put_nowait(None)
            return True
        if a == spdy.SYN_STREAM:
            sid, block = spdy.syn_stream_id(payload)
            headers = self.framer.headers(block)
            self._emit(self.framer.syn_reply(sid))
            self._on_stream(sid, headers)
        elif a == spdy.PING:
            self._emit(spdy.control(spdy.PING, 0, payload))
        elif a == spdy.RST_STREAM and len(payload) >= 4:
            p = self.by_sid.get(struct.unpack_from(">I", payload)[0] & 0x7FFFFFFF)
            if p is not None and p.task:
                p.task.cancel()
        elif a == spdy.GOAWAY:
            return False
        return True                 # SETTINGS, WINDOW_UPDATE, HEADERS: nothing to do

    def _on_stream(self, sid: int, headers: dict[str, str]) -> None:
        rid = headers.get("requestid", "")
        p = self.pairs.get(rid)
        if p is None:
            p = self.pairs[rid] = _Pair(rid)
        self.by_sid[sid] = p
        kind = headers.get("streamtype", "")
        if kind == "error":
            p.error_sid = sid
        elif kind == "data":
            p.data_sid = sid
            p.port_raw = headers.get("port", "")
        else:
            log.info("port-forward to pod %s: stream %d has unknown streamType %r", self.pod_name, sid, kind)
            self._emit(spdy.rst_stream(sid, 1))      # PROTOCOL_ERROR
            return
        if p.error_sid is not None and p.data_sid is not None and p.task is None:
            p.task = asyncio.create_task(self._forward(p), name=f"portforward-{rid}")

    async def _forward(self, p: _Pair) -> None:
        assert p.error_sid is not None and p.data_sid is not None
        try:
            try:
                port = parse_port(p.port_raw)
                reader, p.writer = await self.opener(port)
            except StatusError as e:
                # what the kubelet writes on the error stream; kubectl prints
                # "an error occurred forwarding L -> R: <this>"
                await self._emit_data(p.error_sid, e.message.encode(), fin=True)
                await self._emit_data(p.data_sid, b"", fin=True)
                return
            to_pod = asyncio.create_task(self._to_pod(p))
            try:
                while True:
                    chunk = await reader.read(CHUNK)
                    if not chunk:
                        break
                    await self._emit_data(p.data_sid, chunk)
                await self._emit_data(p.data_sid, b"", fin=True)
                await self._emit_data(p.error_sid, b"", fin=True)
                await to_pod
            finally:
                to_pod.cancel()
                p.writer.close()
        except (ConnectionError, OSError) as e:
            log.debug("port-forward %s to pod %s ended: %s", p.request_id, self.pod_name, e)
        finally:
            self.pairs.pop(p.request_id, None)
            self.by_sid.pop(p.error_sid, None)
            self.by_sid.pop(p.data_sid, None)

    @staticmethod
    async def _to_pod(p: _Pair) -> None:
        assert p.writer is not None
        while True:
            chunk = await p.to_pod.get()
            if chunk is None:
                if p.writer.can_write_eof():
                    p.writer.write_eof()    # kubectl's side is done sending; the pod may still answer
                return
            p.writer.write(chunk)
            await p.writer.drain()


class _RawFeed:
    """Receives the bytes after a ``101`` on a plain HTTP connection (aiohttp's payload-parser slot)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    def feed_data(self, data: bytes, size: int = 0) -> tuple[bool, bytes]:
        self.queue.put_nowait(bytes(data))
        return False, b""

    def feed_eof(self) -> None:
        self.queue.put_nowait(None)


async def _serve_raw_spdy(request: web.Request, opener: Opener, name: str) -> web.StreamResponse:
    """kubectl's SPDY upgrade: ``101`` with ``Upgrade: SPDY/3.1``, then SPDY on the raw connection."""
    if request.headers.get("X-Stream-Protocol-Version", "portforward.k8s.io") != "portforward.k8s.io":
        raise BadRequest("unable to upgrade: no common protocol: wanted portforward.k8s.io")
    resp = web.StreamResponse(status=101, headers={"Connection": "Upgrade", "Upgrade": "SPDY/3.1",
                                                   "X-Stream-Protocol-Version": "portforward.k8s.io"})
    await resp.prepare(request)
    protocol, transport = request.protocol, request.transport
    feed = _RawFeed()
    protocol.set_parser(feed)           # type: ignore[arg-type]

    async def incoming() -> AsyncIterator[bytes]:
        while True:
            chunk = await feed.queue.get()
            if chunk is None:
                return
            yield chunk

    async def send(frame: bytes) -> None:
        if transport is None or transport.is_closing():
            raise ConnectionResetError("client went away")
        transport.write(frame)
        pw = getattr(resp, "_payload_writer", None)     # aiohttp's writer: waits while the socket is full
        if pw is not None:
            await pw.drain()

    try:
        await SpdyForwarder(send, opener, name).run(incoming())
    finally:
        if transport is not None:
            transport.close()
    return resp


# -- the channel protocol (official Python client) ------------------------------------
async def serve_channels(ws: web.WebSocketResponse, ports: list[int], opener: Opener) -> None:
    writers: dict[int, asyncio.StreamWriter] = {}
    tasks: list[asyncio.Task] = []
    for i, port in enumerate(ports):
        prefix = struct.pack("<H", port)
        await ws.send_bytes(bytes([2 * i]) + prefix)
        await ws.send_bytes(bytes([2 * i + 1]) + prefix)

    loop = asyncio.get_running_loop()
    ready = [loop.create_future() for _ in ports]

    async def from_pod(i: int, port: int) -> None:
        try:
            reader, writers[i] = await opener(port)
        except StatusError as e:
            ready[i].set_result(None)
            await ws.send_bytes(bytes([2 * i + 1]) + e.message.encode())
            return
        ready[i].set_result(writers[i])
        while True:
            chunk = await reader.read(CHUNK)
            if not chunk:
                return
            await ws.send_bytes(bytes([2 * i]) + chunk)

    for i, port in enumerate(ports):
        tasks.append(asyncio.create_task(from_pod(i, port)))
    all_done = asyncio.ensure_future(asyncio.gather(*tasks, return_exceptions=True))

    async def from_client() -> None:
        async for msg in ws:
            raw = msg.data if msg.type == WSMsgType.BINARY else (
                msg.data.encode() if msg.type == WSMsgType.TEXT else b"")
            if len(raw) < 2 or raw[0] % 2 or raw[0] // 2 >= len(ports):
                continue
            w = await ready[raw[0] // 2]      # the pod connection may still be opening
            if w is not None:
                w.write(raw[1:])
                await w.drain()
    reader = asyncio.create_task(from_client())
    try:
        await asyncio.wait({all_done, reader}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        reader.cancel()
        for t in tasks:
            t.cancel()
        await asyncio.gather(reader, all_done, return_exceptions=True)
        for w in writers.values():
            w.close()
