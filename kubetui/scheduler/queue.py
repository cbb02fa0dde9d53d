"""The scheduling queue: activeQ, backoffQ and unschedulablePods.

Upstream: ``pkg/scheduler/backend/queue/scheduling_queue.go`` (``PriorityQueue``).

- **activeQ** holds pods ready to be tried, highest ``spec.priority`` first,
  then oldest first (the PrioritySort plugin's order).
- **backoffQ** holds pods that failed recently: after the n-th failed attempt
  a pod waits ``initial * 2^(n-1)`` seconds (capped) before it is tried again,
  so one hopeless pod cannot hog the scheduler.
- **unschedulablePods** holds pods no node could take. Trying them again is
  pointless until the cluster changes, so they wait for a *cluster event*
  (a node added or updated, a pod deleted, a claim bound, …) that one of the
  plugins which rejected them cares about; then they move to backoffQ (if
  still backing off) or activeQ. As a safety net, a pod that has waited longer
  than ``podMaxInUnschedulablePodsDuration`` is retried anyway.

Time comes from the injected clock, so tests drive backoff with a FakeClock.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from typing import Iterable

from kubetui.clock import Clock
from kubetui.scheduler.framework import PodInfo
from kubetui.timings import LAB, Timings

log = logging.getLogger(__name__)

ACTIVE = "activeQ"
BACKOFF = "backoffQ"
UNSCHEDULABLE = "unschedulablePods"


class QueuedPodInfo:
    """A pod in the queue, with its scheduling history (upstream ``framework.QueuedPodInfo``)."""

    __slots__ = ("pod_info", "timestamp", "initial_attempt_timestamp", "attempts",
                 "unschedulable_plugins", "queue")

    def __init__(self, pod_info: PodInfo, now: float) -> None:
        self.pod_info = pod_info
        self.timestamp = now                    # when it last entered a queue
        self.initial_attempt_timestamp: float | None = None
        self.attempts = 0
        self.unschedulable_plugins: set[str] = set()
        self.queue = ""

    @property
    def key(self) -> str:
        return self.pod_info.key

    def __repr__(self) -> str:
        return f"QueuedPodInfo({self.key}, attempts={self.attempts}, queue={self.queue})"


def backoff_duration(attempts: int, initial: float, maximum: float) -> float:
    """Seconds a pod waits after its ``attempts``-th failure (upstream ``calculateBackoffDuration``).

    Example with Kubernetes' 1 s initial and 10 s max: attempts 1, 2, 3, 4, 5 → 1, 2, 4, 8, 10 s.
    """
    d = initial
    for _ in range(1, max(attempts, 1)):
        d *= 2
        if d >= maximum:
            return maximum
    return min(d, maximum)


class SchedulingQueue:
    """activeQ + backoffQ + unschedulablePods, driven by an injected clock."""

    def __init__(self, clock: Clock | None = None, timings: Timings = LAB,
                 event_plugins: dict[str, set[str]] | None = None) -> None:
        self.clock = clock or Clock()
        self.initial_backoff = timings.scheduler_backoff_initial_seconds
        self.max_backoff = timings.scheduler_backoff_max_seconds
        self.max_in_unschedulable = timings.scheduler_unschedulable_flush_seconds
        # cluster event -> names of the plugins it may change the mind of
        self.event_plugins = event_plugins or {}
        self._pods: dict[str, QueuedPodInfo] = {}     # every queued pod, whichever queue
        # The unschedulablePods subset, so a cluster event (every pod bound is one) costs
        # O(unschedulable pods), not O(queue).
        self._unschedulable: dict[str, QueuedPodInfo] = {}
        self._active: list[tuple[int, float, int, str]] = []
        self._backoff: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._wakeup = asyncio.Event()
        self._closed = False
        # Pods popped and being scheduled right now (not in any queue).
        self.in_flight: dict[str, QueuedPodInfo] = {}
        # Incremented on every pop; a move request during a pod's cycle sends it to backoff, not unschedulable.
        self.scheduling_cycle = 0
        self.move_request_cycle = -1

    # --- adding and removing ---------------------------------------------------------------

    def add(self, pod_info: PodInfo) -> None:
        """A new pending pod (or one seen again after a relist): straight to activeQ."""
        if pod_info.key in self._pods or pod_info.key in self.in_flight:
            self.update(pod_info)
            return
        self._push_active(QueuedPodInfo(pod_info, self.clock.monotonic()))

    def update(self, pod_info: PodInfo) -> None:
        """A pending pod changed (labels, tolerations, …): it may fit now, so give it another chance."""
        key = pod_info.key
        if key in self.in_flight:
            self.in_flight[key].pod_info = pod_info
            return
        q = self._pods.get(key)
        if q is None:
            self.add(pod_info)
            return
        q.pod_info = pod_info
        if q.queue == UNSCHEDULABLE:
            self._remove(key)
            self._requeue(q, self.clock.monotonic())
        elif q.queue == ACTIVE:
            # Re-push so a priority change re-orders it; the stale heap entry is skipped later.
            self._remove(key)
            self._push_active(q)

    def delete(self, key: str) -> None:
        """The pod was deleted (or got a node from someone else)."""
        self._remove(key)
        self.in_flight.pop(key, None)

    def _remove(self, key: str) -> None:
        q = self._pods.pop(key, None)
        self._unschedulable.pop(key, None)
        if q is not None:
            q.queue = ""    # lazily dropped from the heaps

    def _push_active(self, q: QueuedPodInfo) -> None:
        q.queue = ACTIVE
        self._pods[q.key] = q
        heapq.heappush(self._active, (-q.pod_info.priority, q.timestamp, next(self._seq), q.key))
        self._wakeup.set()

    def _push_backoff(self, q: QueuedPodInfo) -> None:
        q.queue = BACKOFF
        self._pods[q.key] = q
        heapq.heappush(self._backoff, (self.backoff_expiry(q), next(self._seq), q.key))

    def _requeue(self, q: QueuedPodInfo, now: float) -> None:
        """Back to activeQ, or to backoffQ while its backoff runs."""
        if self.backoff_expiry(q) > now:
            self._push_backoff(q)
        else:
            self._push_active(q)

    # --- popping ---------------------------------------------------------------------------

    def backoff_expiry(self, q: QueuedPodInfo) -> float:
        if q.attempts == 0:
            return q.timestamp
        return q.timestamp + backoff_duration(q.attempts, self.initial_backoff, self.max_backoff)

    def pop_nowait(self) -> QueuedPodInfo | None:
        """The next pod to schedule, or None if activeQ is empty."""
        while self._active:
            _, _, _, key = heapq.heappop(self._active)
            q = self._pods.get(key)
            if q is None or q.queue != ACTIVE:
                continue            # stale entry
            del self._pods[key]
            q.queue = ""
            q.attempts += 1
            if q.initial_attempt_timestamp is None:
                q.initial_attempt_timestamp = self.clock.monotonic()
            self.scheduling_cycle += 1
            self.in_flight[key] = q
            return q
        self._wakeup.clear()
        return None

    async def pop(self) -> QueuedPodInfo:
        """Wait for a pod in activeQ (upstream ``Pop`` blocks the same way)."""
        while True:
            if self._closed:
                raise asyncio.CancelledError("scheduling queue closed")
            q = self.pop_nowait()
            if q is not None:
                return q
            await self._wakeup.wait()

    def done(self, key: str) -> None:
        """The pod's scheduling attempt finished (scheduled, or handed back)."""
        self.in_flight.pop(key, None)

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()

    # --- after a failed attempt -------------------------------------------------------------

    def add_unschedulable(self, q: QueuedPodInfo, plugins: Iterable[str], pod_scheduling_cycle: int,
                          error: bool = False) -> None:
        """Hand back a pod no node could take (upstream ``AddUnschedulableIfNotPresent``).

        If the cluster changed while it was being scheduled (a move request in
        or after its cycle), the verdict may be stale: backoffQ, not
        unschedulablePods. Errors (not verdicts) also go to backoffQ.
        """
        self.in_flight.pop(q.key, None)
        if q.key in self._pods:
            return
        q.timestamp = self.clock.monotonic()
        q.unschedulable_plugins = set(plugins)
        if error or self.move_request_cycle >= pod_scheduling_cycle:
            self._push_backoff(q)
        else:
            q.queue = UNSCHEDULABLE
            self._pods[q.key] = q
            self._unschedulable[q.key] = q

    # --- cluster events and periodic flushes ------------------------------------------------

    def move_all_to_active_or_backoff(self, event: str) -> int:
        """A cluster event happened: retry the unschedulable pods it may help. Returns how many moved."""
        interested = self.event_plugins.get(event)
        now = self.clock.monotonic()
        moved = 0
        for key, q in list(self._unschedulable.items()):
            if interested is not None and q.unschedulable_plugins and not (q.unschedulable_plugins & interested):
                continue
            self._remove(key)
            self._requeue(q, now)
            moved += 1
        self.move_request_cycle = self.scheduling_cycle
        return moved

    def flush_backoff_completed(self) -> int:
        """Move pods whose backoff has expired to activeQ (upstream runs this every second)."""
        now = self.clock.monotonic()
        moved = 0
        while self._backoff and self._backoff[0][0] <= now:
            _, _, key = heapq.heappop(self._backoff)
            q = self._pods.get(key)
            if q is None or q.queue != BACKOFF:
                continue
            if self.backoff_expiry(q) > now:     # re-pushed with a later expiry
                heapq.heappush(self._backoff, (self.backoff_expiry(q), next(self._seq), key))
                continue
            self._push_active(q)
            moved += 1
        return moved

    def flush_unschedulable_left_over(self) -> int:
        """Retry pods that have waited in unschedulablePods longer than the maximum (upstream: 5 min)."""
        now = self.clock.monotonic()
        moved = 0
        for key, q in list(self._unschedulable.items()):
            if now - q.timestamp > self.max_in_unschedulable:
                self._remove(key)
                self._requeue(q, now)
                moved += 1
        return moved

    async def run(self) -> None:
        """Periodic flushes, until cancelled."""
        period = min(1.0, self.initial_backoff)
        while not self._closed:
            await self.clock.sleep(period)
            self.flush_backoff_completed()
            self.flush_unschedulable_left_over()

    # --- reading ----------------------------------------------------------------------------

    def where(self, key: str) -> str | None:
        """Which queue holds the pod (``activeQ``, ``backoffQ``, ``unschedulablePods``), or None."""
        q = self._pods.get(key)
        return q.queue if q else None

    def get(self, key: str) -> QueuedPodInfo | None:
        return self._pods.get(key) or self.in_flight.get(key)

    def pending(self) -> dict[str, list[str]]:
        """Pod keys per queue (for the TUI and tests)."""
        out: dict[str, list[str]] = {ACTIVE: [], BACKOFF: [], UNSCHEDULABLE: []}
        for key, q in self._pods.items():
            out[q.queue].append(key)
        return out

    def __len__(self) -> int:
        return len(self._pods)
