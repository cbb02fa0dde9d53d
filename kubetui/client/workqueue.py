"""The controllers' work queue: deduplicated keys, one worker per key, rate-limited retries.

Upstream: client-go ``util/workqueue`` (``queue.go``, ``delaying_queue.go``,
``rate_limiting_queue.go``, ``default_rate_limiters.go``). Event handlers only
``add`` a key such as ``"default/web"``; workers ``get`` it, reconcile, and
call ``done``. Three sets make this safe:

* ``queue``  - keys waiting, in order;
* ``dirty``  - keys that need processing (so a key added twice is queued once);
* ``processing`` - keys a worker holds right now. A key added while it is being
  processed is only marked dirty and goes back in the queue on ``done``, so two
  workers never reconcile the same object at the same time.

A failed reconcile calls ``add_rate_limited``: the key comes back after a
per-item exponential backoff (5 ms, 10 ms, 20 ms ... capped at 1000 s, as
client-go's ``DefaultControllerRateLimiter``), until ``forget`` resets it.
Delays run on the injected clock, so tests advance a ``FakeClock``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Any, Hashable

from kubetui.clock import Clock

log = logging.getLogger(__name__)


class ShutDown(Exception):
    """``get`` on a queue that is shutting down and empty."""


class ItemExponentialRateLimiter:
    """Per-item exponential backoff: ``base * 2**failures`` capped at ``max_delay``.

    >>> r = ItemExponentialRateLimiter(0.005, 1000.0)
    >>> [r.when("k") for _ in range(4)]
    [0.005, 0.01, 0.02, 0.04]
    """

    def __init__(self, base_delay: float = 0.005, max_delay: float = 1000.0) -> None:
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._failures: dict[Hashable, int] = {}

    def when(self, item: Hashable) -> float:
        n = self._failures.get(item, 0)
        self._failures[item] = n + 1
        # 2**n overflows a float long after the cap matters; stop early.
        if n > 60:
            return self.max_delay
        return min(self.base_delay * (2 ** n), self.max_delay)

    def num_requeues(self, item: Hashable) -> int:
        return self._failures.get(item, 0)

    def forget(self, item: Hashable) -> None:
        self._failures.pop(item, None)


class WorkQueue:
    """A rate-limiting, delaying, deduplicating FIFO of keys (asyncio)."""

    def __init__(self, *, name: str = "", clock: Clock | None = None,
                 rate_limiter: ItemExponentialRateLimiter | None = None) -> None:
        self.name = name
        self.clock = clock or Clock()
        self.rate_limiter = rate_limiter or ItemExponentialRateLimiter()
        self._queue: collections.deque[Hashable] = collections.deque()
        self._dirty: set[Hashable] = set()
        self._processing: set[Hashable] = set()
        self._shutting_down = False
        self._getters: collections.deque[asyncio.Future[None]] = collections.deque()
        # add_after: item -> monotonic time it becomes ready (earliest wins, as upstream).
        self._waiting: dict[Hashable, float] = {}
        self._timers: set[asyncio.Task[None]] = set()
        self.adds = 0

    # --- the basic queue ---

    def add(self, item: Hashable) -> None:
        """Queue ``item`` unless it is already waiting; if a worker holds it, mark it dirty."""
        if self._shutting_down or item in self._dirty:
            return
        self.adds += 1
        self._dirty.add(item)
        if item in self._processing:
            return
        self._queue.append(item)
        self._notify()

    def _notify(self) -> None:
        # Wake one waiting get(). add() is called from synchronous event handlers,
        # so waiters are plain futures rather than a Condition needing a lock.
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    async def get(self) -> Hashable:
        """The next key; the caller must call ``done(key)`` afterwards. Raises ``ShutDown``."""
        while not self._queue and not self._shutting_down:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._getters.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled():
                    self._notify()  # pass the wake-up on to another worker
                raise
        if not self._queue:
            raise ShutDown(self.name)
        item = self._queue.popleft()
        self._processing.add(item)
        self._dirty.discard(item)
        return item

    def done(self, item: Hashable) -> None:
        """The worker finished ``item``; if it was re-added meanwhile, queue it again."""
        self._processing.discard(item)
        if item in self._dirty:
            self._queue.append(item)
            self._notify()

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def processing(self) -> frozenset[Hashable]:
        return frozenset(self._processing)

    def pending(self) -> list[Hashable]:
        """Keys waiting to be picked up, in order (for the TUI)."""
        return list(self._queue)

    # --- delaying ---

    def add_after(self, item: Hashable, delay: float) -> None:
        """Add ``item`` once ``delay`` seconds have passed on the clock."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(item)
            return
        ready_at = self.clock.monotonic() + delay
        current = self._waiting.get(item)
        if current is not None and current <= ready_at:
            return  # already due sooner
        self._waiting[item] = ready_at
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self._later(item, ready_at))
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    async def _later(self, item: Hashable, ready_at: float) -> None:
        # Sleep for what is left when the task starts: the clock may have moved meanwhile.
        await self.clock.sleep(ready_at - self.clock.monotonic())
        if self._waiting.get(item) != ready_at:
            return  # superseded by an earlier add_after
        del self._waiting[item]
        self.add(item)

    def waiting(self) -> dict[Hashable, float]:
        """Items scheduled by ``add_after`` -> seconds until they are due."""
        now = self.clock.monotonic()
        return {k: max(0.0, t - now) for k, t in self._waiting.items()}

    # --- rate limiting ---

    def add_rate_limited(self, item: Hashable) -> None:
        """Add ``item`` after its backoff (which doubles on each call until ``forget``)."""
        self.add_after(item, self.rate_limiter.when(item))

    def forget(self, item: Hashable) -> None:
        """Stop tracking ``item``'s failures (after a successful reconcile)."""
        self.rate_limiter.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        return self.rate_limiter.num_requeues(item)

    # --- shutdown ---

    async def shut_down(self) -> None:
        """Wake every waiting ``get`` with ``ShutDown`` and cancel pending delays."""
        self._shutting_down = True
        for task in list(self._timers):
            task.cancel()
        self._waiting.clear()
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down


def describe(item: Any) -> str:
    """A key as logs and the TUI show it."""
    if isinstance(item, tuple):
        return "/".join(str(p) for p in item if p not in (None, ""))
    return str(item)
