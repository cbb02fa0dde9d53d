"""A watch as kube-apiserver serves it: store events filtered through selectors.

Upstream: staging/src/k8s.io/apiserver/pkg/storage/cacher (``cacheWatcher``:
the filter that turns "an object changed" into ADDED/MODIFIED/DELETED *for
this watcher*, bookmarks) and etcd3/watcher.go. Two rules matter to a learner:

- With a selector, an object that *stops* matching arrives as DELETED and one
  that *starts* matching as ADDED, so a client's cache of "pods on node-1"
  stays right without ever seeing the objects it does not care about.
- A watch from ``resourceVersion`` N replays what happened after N, as long
  as the store still remembers it; otherwise 410 Gone and the client relists.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Any

from kubetui.api.errors import BadRequest, Gone
from kubetui.api.resources import Resource
from kubetui.api.selectors import FieldSelector, LabelSelector
from kubetui.client.base import WatchEvent
from kubetui.clock import Clock
from kubetui.store import DELETE, Compacted, Store, StoreEvent
from kubetui.store.kv import stamped

log = logging.getLogger(__name__)

INITIAL_EVENTS_END = "k8s.io/initial-events-end"


class RegistryWatch:
    """``async for event in watch`` yields ``WatchEvent``s; ``close()`` ends it.

    The watch starts on first iteration, or eagerly with ``await watch``
    (then a too-old resourceVersion raises ``Gone`` right away).
    """

    def __init__(self, store: Store, resource: Resource, prefix: str, clock: Clock, *,
                 resource_version: str | None, labels: LabelSelector, fields: FieldSelector,
                 allow_bookmarks: bool, send_initial_events: bool, timeout_seconds: float | None,
                 bookmark_interval: float) -> None:
        self.store = store
        self.resource = resource
        self.prefix = prefix
        self.clock = clock
        self.labels = labels
        self.fields = fields
        self.allow_bookmarks = allow_bookmarks
        self.send_initial_events = send_initial_events
        self.timeout_seconds = timeout_seconds
        self.bookmark_interval = bookmark_interval
        self._filtered = not labels.empty() or not fields.empty()
        self._rv = self._parse_rv(resource_version)
        self._buffer: collections.deque[WatchEvent] = collections.deque()
        self._store_watch: Any = None
        self._started = False
        self._closed = False
        self._next: asyncio.Task[StoreEvent] | None = None
        self._timer: asyncio.Task[None] | None = None
        self._deadline: float | None = None
        self._next_bookmark: float | None = None
        self._revision = 0  # the newest revision this watcher has been told about

    @staticmethod
    def _parse_rv(rv: str | None) -> int | None:
        if rv in (None, "", "0"):
            return None
        try:
            n = int(rv)  # type: ignore[arg-type]
        except ValueError:
            raise BadRequest(f'invalid resource version "{rv}"') from None
        if n < 0:
            raise BadRequest(f'invalid resource version "{rv}"')
        return n

    def _matches(self, obj: dict[str, Any]) -> bool:
        return self.labels.matches(obj["metadata"].get("labels")) and self.fields.matches(obj)

    async def start(self) -> "RegistryWatch":
        if self._started:
            return self
        self._started = True
        store = self.store
        if self._rv is None or self.send_initial_events:
            # "Get state and start at most recent": current objects as ADDED, read at one
            # revision, then everything after it. No await between the two reads.
            revision = store.revision
            for kv in store.range(self.prefix, copy=False):
                if not self._filtered or self._matches(kv.value):
                    self._buffer.append(WatchEvent("ADDED", kv.value))
            if self.send_initial_events:
                self._buffer.append(self._bookmark(revision, initial_end=True))
            after = revision
        else:
            after = self._rv
        self._revision = after
        try:
            self._store_watch = store.watch(self.prefix, after)
        except Compacted as e:
            self._closed = True
            raise Gone(f"too old resource version: {after} ({e.oldest_revision - 1})") from None
        now = self.clock.monotonic()
        if self.timeout_seconds:
            self._deadline = now + self.timeout_seconds
        if self.allow_bookmarks and self.bookmark_interval > 0:
            self._next_bookmark = now + self.bookmark_interval
        return self

    def __await__(self):  # type: ignore[no-untyped-def]
        return self.start().__await__()

    def __aiter__(self) -> "RegistryWatch":
        return self

    def _bookmark(self, revision: int, *, initial_end: bool = False) -> WatchEvent:
        meta: dict[str, Any] = {"resourceVersion": str(revision)}
        if initial_end:
            meta["annotations"] = {INITIAL_EVENTS_END: "true"}
        return WatchEvent("BOOKMARK", {"kind": self.resource.kind, "apiVersion": self.resource.api_version,
                                       "metadata": meta})

    def _convert(self, ev: StoreEvent) -> WatchEvent | None:
        """One store event as this watcher sees it (or not at all)."""
        self._revision = ev.revision
        if ev.type == DELETE:
            obj = ev.kv.value
            if not self._filtered or self._matches(obj):
                return WatchEvent("DELETED", obj)
            return None
        new = ev.kv.value
        if not self._filtered:
            return WatchEvent("ADDED" if ev.prev_kv is None else "MODIFIED", new)
        new_ok = self._matches(new)
        old_ok = ev.prev_kv is not None and self._matches(ev.prev_kv.value)
        if new_ok:
            return WatchEvent("MODIFIED" if old_ok else "ADDED", new)
        if old_ok:
            # It left the selector: to this watcher it is gone (last matching state, new revision).
            return WatchEvent("DELETED", stamped(ev.prev_kv.value, ev.revision))  # type: ignore[union-attr]
        return None

    async def __anext__(self) -> WatchEvent:
        if not self._started:
            await self.start()
        while True:
            if self._buffer:
                return self._buffer.popleft()
            if self._closed:
                raise StopAsyncIteration
            if self._deadline is None and self._next_bookmark is None:
                ev = await self._read(self._store_watch.__anext__())
            else:
                ev = await self._read_or_tick()
            if ev is not None:
                out = self._convert(ev)
                if out is not None:
                    return out

    async def _read(self, awaitable: Any) -> StoreEvent | None:
        try:
            return await awaitable
        except StopAsyncIteration:
            self.close()
            return None
        except Compacted as e:
            self.close()
            if e.overflow:
                # Upstream closes a watcher that cannot keep up; the client
                # watches again from the last resourceVersion it saw.
                log.warning("closing watch on %s: %s", self.prefix, e)
                return None
            raise Gone(f"too old resource version: {e.after_revision} ({e.oldest_revision - 1})") from None

    async def _read_or_tick(self) -> StoreEvent | None:
        if self._next is None:
            self._next = asyncio.ensure_future(self._store_watch.__anext__())
            # If nobody awaits it again (the store closed at shutdown), its
            # StopAsyncIteration is consumed here rather than logged by asyncio.
            self._next.add_done_callback(lambda t: t.cancelled() or t.exception())
        now = self.clock.monotonic()
        wake = min(t for t in (self._deadline, self._next_bookmark) if t is not None)
        if self._timer is None:
            self._timer = asyncio.ensure_future(self.clock.sleep(max(0.0, wake - now)))
        await asyncio.wait({self._next, self._timer}, return_when=asyncio.FIRST_COMPLETED)
        if self._next.done():
            task, self._next = self._next, None
            return await self._read(task)
        self._timer = None
        now = self.clock.monotonic()
        if self._deadline is not None and now >= self._deadline:
            self.close()
            return None
        if self._next_bookmark is not None and now >= self._next_bookmark:
            self._next_bookmark = now + self.bookmark_interval
            # Every event up to the store's revision has reached this watcher
            # (its queue is empty), so it may resume from there.
            self._revision = max(self._revision, self.store.revision)
            self._buffer.append(self._bookmark(self._revision))
        return None

    def close(self) -> None:
        """Stop the watch; an iteration in progress ends."""
        if self._closed:
            return
        self._closed = True
        for task in (self._next, self._timer):
            if task is None:
                continue
            if not task.done():
                task.cancel()
            elif not task.cancelled():
                task.exception()  # e.g. the store closed first: consumed, so asyncio does not log it
        self._next = self._timer = None
        if self._store_watch is not None:
            self._store_watch.close()

    async def aclose(self) -> None:
        self.close()
