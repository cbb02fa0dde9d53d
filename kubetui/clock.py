"""Injected time (upstream: k8s.io/utils/clock).

Every timeout, backoff and grace period in kubetui reads time through a
``Clock``, so tests advance a ``FakeClock`` instead of sleeping, and a node
failure that takes 40 s on a real cluster is tested in milliseconds.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import heapq
import itertools
import time


class Clock:
    """Real time."""

    def time(self) -> float:
        """Wall-clock seconds since the epoch (for timestamps shown to users)."""
        return time.time()

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for durations and deadlines)."""
        return time.monotonic()

    def now(self) -> _dt.datetime:
        return _dt.datetime.fromtimestamp(self.time(), _dt.timezone.utc)

    def wall_time(self) -> float:
        """The wall clock the rest of the cluster keeps (kubelets, the API server).

        The same as ``time()``, except on a clock that is held back (the time
        dial's, ``kubetui.timedial.DialClock``): compare timestamps other
        components wrote (a pod's Ready time, a creationTimestamp) with this.
        """
        return self.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FakeClock(Clock):
    """A clock that moves only when a test calls ``advance``.

    ``sleep`` waits until enough fake time has passed, so code under test
    runs its timeouts and backoffs exactly as it would in real time.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._mono = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def time(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._mono + seconds, next(self._seq), fut))
        await fut

    async def advance(self, seconds: float, step: float | None = None) -> None:
        """Move time forward, waking sleepers in order and letting them run.

        With ``step``, time moves in increments so periodic loops (heartbeats,
        resyncs) take every tick they would take in real time.
        """
        target = self._mono + seconds
        step = step or seconds
        while self._mono < target:
            nxt = min(target, self._mono + step)
            while self._sleepers and self._sleepers[0][0] <= nxt:
                when, _, fut = heapq.heappop(self._sleepers)
                self._now += max(0.0, when - self._mono)
                self._mono = max(self._mono, when)
                if not fut.done():
                    fut.set_result(None)
                for _ in range(5):
                    await asyncio.sleep(0)
            self._now += nxt - self._mono
            self._mono = nxt
            for _ in range(5):
                await asyncio.sleep(0)


def rfc3339(ts: float) -> str:
    """Kubernetes' timestamp format: ``2026-11-28T00:39:16Z`` (second precision)."""
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_micro(ts: float) -> str:
    """``MicroTime`` (Leases, Events' eventTime): ``2026-11-28T00:39:16.123456Z``."""
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_rfc3339(value: str) -> float:
    """Seconds since the epoch from a Kubernetes timestamp (Time or MicroTime)."""
    v = value.replace("Z", "+00:00")
    return _dt.datetime.fromisoformat(v).timestamp()
