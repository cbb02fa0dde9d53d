"""Serving a watch: newline-delimited JSON events over a chunked response.

Upstream: ``staging/src/k8s.io/apiserver/pkg/endpoints/handlers/watch.go``.
A watch is a long-lived ``GET ...?watch=true``; every event is one JSON
object ``{"type": "ADDED", "object": {...}}`` on its own line, flushed at
once, so ``kubectl get -w`` and the Python client's ``Watch().stream``
(which splits on newlines) see it immediately. Errors discovered after the
200 was sent travel *inside* the stream as an ``ERROR`` event carrying a
``Status`` (a too-old resourceVersion is ``ERROR`` with code 410, which makes
clients relist). The stream ends when ``timeoutSeconds`` passes or the
server stops; clients then reconnect from the last resourceVersion they saw.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, AsyncIterator, Callable

from aiohttp import web

from kubetui.api.errors import InternalError, StatusError
from kubetui.apiserver import encoding

log = logging.getLogger(__name__)

_END = object()  # sentinel: stop streaming


def _event_type(ev: Any) -> str:
    return ev.type if hasattr(ev, "type") else ev["type"]


def _event_object(ev: Any) -> dict:
    return ev.object if hasattr(ev, "object") else ev["object"]


def encode_event(type_: str, obj: dict) -> bytes:
    """One watch event: a compact JSON object and a newline (upstream's streaming
    serializer ignores ``?pretty``, so a frame is always one line)."""
    return encoding.encode({"type": type_, "object": obj})


class WatchStreams:
    """Every open watch, so the server can end them all cleanly on stop."""

    # How often idle streams are checked for a client that hung up (aiohttp
    # does not cancel handlers on disconnect, so an idle watch would linger).
    REAP_INTERVAL = 5.0

    def __init__(self) -> None:
        self._queues: dict[asyncio.Queue, web.Request] = {}
        self._reaper: asyncio.Task | None = None
        self.closing = False

    def __len__(self) -> int:
        return len(self._queues)

    def stop_all(self) -> None:
        self.closing = True
        for q in list(self._queues):
            q.put_nowait(_END)
        if self._reaper is not None:
            self._reaper.cancel()

    async def _reap(self) -> None:
        while self._queues:
            await asyncio.sleep(self.REAP_INTERVAL)
            for q, req in list(self._queues.items()):
                if req.transport is None or req.transport.is_closing():
                    q.put_nowait(_END)
        self._reaper = None

    async def serve(self, request: web.Request, events: AsyncIterator[Any], *,
                    timeout_seconds: float | None,
                    transform: Callable[[str, dict], dict] | None = None) -> web.StreamResponse:
        """Stream ``events`` (WatchEvent-like) until timeout, server stop, or client disconnect."""
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json",
                                                       "Cache-Control": "no-cache, private"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        queue: asyncio.Queue = asyncio.Queue()
        self._queues[queue] = request
        if self._reaper is None:
            self._reaper = asyncio.create_task(self._reap(), name="watch-reaper")
        if self.closing:
            queue.put_nowait(_END)
        loop = asyncio.get_running_loop()
        timer = loop.call_later(timeout_seconds, queue.put_nowait, _END) if timeout_seconds else None
        pump = asyncio.create_task(self._pump(events, queue), name="watch-pump")
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    break
                if isinstance(item, StatusError):
                    await resp.write(encode_event("ERROR", item.status()))
                    break
                type_, obj = _event_type(item), _event_object(item)
                if transform is not None and type_ not in ("ERROR", "BOOKMARK"):
                    obj = transform(type_, obj)
                await resp.write(encode_event(type_, obj))
            await resp.write_eof()
        except ConnectionResetError:
            pass  # the client went away
        finally:
            if timer is not None:
                timer.cancel()
            self._queues.pop(queue, None)
            pump.cancel()
            try:
                await pump
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - pump errors already queued
                pass
        return resp

    @staticmethod
    async def _pump(events: AsyncIterator[Any], queue: asyncio.Queue) -> None:
        try:
            async for ev in events:
                queue.put_nowait(ev)
            queue.put_nowait(_END)
        except StatusError as exc:
            queue.put_nowait(exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - loop boundary: report inside the stream
            log.exception("watch stream failed")
            queue.put_nowait(InternalError(f"watch failed: {exc}"))
        finally:
            aclose = getattr(events, "aclose", None) or getattr(events, "close", None)
            if aclose is not None:
                try:
                    r = aclose()
                    if asyncio.iscoroutine(r):
                        await r
                except Exception:  # noqa: BLE001
                    pass
