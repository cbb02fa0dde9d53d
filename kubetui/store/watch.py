"""Event history and watch fan-out: etcd's ``mvcc/watchable_store``.

Every write becomes a ``StoreEvent`` kept in a history window, so a client
that lost its watch can resume "from revision N" without relisting. A watch
first replays the history after its revision, then receives live events.

Fan-out must stay cheap with hundreds of watchers (every kubelet, informer and
TUI panel watches something): watchers are grouped by prefix, a write touches
only the groups whose prefix matches its key, and each watcher has its own
queue. A watcher that stops reading is never allowed to slow writers down:
when its queue passes the bound it is closed with ``Compacted(overflow=True)``
and its client relists, which is what kube-apiserver does to a slow watcher
("too slow, closing").
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from typing import Callable

from kubetui.store.errors import Compacted
from kubetui.store.kv import StoreEvent

log = logging.getLogger(__name__)

_CLOSED = None  # queue sentinel: the watch ended


class History:
    """The recent events, oldest first, with contiguous revisions.

    An event is dropped only when *both* more than ``min_events`` newer events
    are kept *and* it is older than ``min_seconds`` (on the injected
    monotonic clock): the window holds at least that many events and at least
    that much time.
    """

    def __init__(self, min_events: int, min_seconds: float, monotonic: Callable[[], float]) -> None:
        self.min_events = min_events
        self.min_seconds = min_seconds
        self._monotonic = monotonic
        self._events: deque[tuple[float, StoreEvent]] = deque()

    def __len__(self) -> int:
        return len(self._events)

    def append(self, event: StoreEvent, at: float | None = None) -> None:
        if self._events and event.revision != self._events[-1][1].revision + 1:
            raise ValueError(f"history gap: {self._events[-1][1].revision} -> {event.revision}")
        self._events.append((self._monotonic() if at is None else at, event))

    def trim(self) -> None:
        cutoff = self._monotonic() - self.min_seconds
        ev = self._events
        while len(ev) > self.min_events and ev[0][0] < cutoff:
            ev.popleft()

    def oldest_revision(self, current_revision: int) -> int:
        """The oldest revision still kept (``current_revision + 1`` when none is)."""
        if self._events:
            return self._events[0][1].revision
        return current_revision + 1

    def since(self, after_revision: int) -> list[StoreEvent]:
        """Events with revision > ``after_revision`` (the caller checked it is kept)."""
        if not self._events:
            return []
        start = max(0, after_revision + 1 - self._events[0][1].revision)
        return [e for _, e in itertools.islice(self._events, start, None)]

    def of_key(self, key: str) -> list[StoreEvent]:
        return [e for _, e in self._events if e.kv.key == key]

    def all(self) -> list[StoreEvent]:
        return [e for _, e in self._events]


class StoreWatch:
    """One watcher: ``async for event in watch`` until ``close()``.

    Iteration ends (``StopAsyncIteration``) when the watch or the store is
    closed, and raises ``Compacted`` if the watcher fell behind.
    """

    def __init__(self, hub: "WatchHub", prefix: str, after_revision: int, max_queue: int) -> None:
        self.prefix = prefix
        self.after_revision = after_revision
        self._hub = hub
        self._max_queue = max_queue
        self._queue: asyncio.Queue[StoreEvent | None] = asyncio.Queue()
        self._error: Compacted | None = None
        self._closed = False
        self.last_revision = after_revision  # of the last event handed to the reader

    @property
    def closed(self) -> bool:
        return self._closed

    def __aiter__(self) -> "StoreWatch":
        return self

    async def __anext__(self) -> StoreEvent:
        if self._error is not None:
            raise self._error
        event = await self._queue.get()
        if self._error is not None:
            raise self._error
        if event is _CLOSED:
            self._queue.put_nowait(_CLOSED)  # later calls end too
            raise StopAsyncIteration
        self.last_revision = event.revision
        return event

    def close(self) -> None:
        """Stop the watch; a reader blocked in ``async for`` finishes."""
        if not self._closed:
            self._closed = True
            self._hub.remove(self)
            self._queue.put_nowait(_CLOSED)

    def _deliver(self, event: StoreEvent) -> None:
        if event.revision <= self.after_revision:
            return  # watching from a revision still in the future
        if self._queue.qsize() >= self._max_queue:
            log.warning("watch on %s fell %d events behind at revision %d; closing it",
                        self.prefix, self._queue.qsize(), event.revision)
            self._error = Compacted(self.last_revision, 0, overflow=True)
            self.close()
            return
        self._queue.put_nowait(event)

    def _preload(self, events: list[StoreEvent]) -> None:
        # History replay is bounded by the history itself, not by max_queue.
        for e in events:
            if e.kv.key.startswith(self.prefix):
                self._queue.put_nowait(e)


class WatchHub:
    """Watchers grouped by prefix; ``publish`` costs O(prefixes + matching watchers)."""

    def __init__(self) -> None:
        self._by_prefix: dict[str, set[StoreWatch]] = {}

    def __len__(self) -> int:
        return sum(len(s) for s in self._by_prefix.values())

    def add(self, watch: StoreWatch) -> None:
        self._by_prefix.setdefault(watch.prefix, set()).add(watch)

    def remove(self, watch: StoreWatch) -> None:
        group = self._by_prefix.get(watch.prefix)
        if group is not None:
            group.discard(watch)
            if not group:
                del self._by_prefix[watch.prefix]

    def publish(self, events: list[StoreEvent]) -> None:
        if not self._by_prefix:
            return
        for prefix, group in list(self._by_prefix.items()):
            matching = [e for e in events if e.kv.key.startswith(prefix)]
            if matching:
                for w in list(group):
                    for e in matching:
                        if w.closed:
                            break
                        w._deliver(e)

    def close_all(self) -> None:
        for group in list(self._by_prefix.values()):
            for w in list(group):
                w.close()
