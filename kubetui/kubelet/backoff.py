"""Per-container restart backoff (upstream: ``k8s.io/client-go/util/flowcontrol/backoff.go``,
used by ``pkg/kubelet/kuberuntime`` for CrashLoopBackOff and ImagePullBackOff).

The first crash restarts at once; after that each restart waits twice as
long as the previous one (10 s, 20 s, 40 s ... 5 min on a real cluster; lab
timings start at 1 s). A container that has stayed up for twice the cap
starts over at the initial delay.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class _Entry:
    backoff: float
    last_update: float


class Backoff:
    def __init__(self, initial: float, cap: float, clock) -> None:
        self.initial = initial
        self.cap = cap
        self.clock = clock
        self._entries: dict[str, _Entry] = {}

    def _expired(self, event_time: float, entry: _Entry) -> bool:
        return event_time - entry.last_update > 2 * self.cap

    def in_backoff_since(self, key: str, event_time: float) -> bool:
        """Is a restart for ``key`` (whose container finished at ``event_time``) still to wait?"""
        return self.remaining(key, event_time) > 0

    def remaining(self, key: str, event_time: float, now: float | None = None) -> float:
        """Seconds left before ``key`` may restart (0 if it may now); ``now`` defaults to the clock's."""
        entry = self._entries.get(key)
        if entry is None or self._expired(event_time, entry):
            return 0.0
        return max(0.0, entry.backoff - ((self.clock.time() if now is None else now) - event_time))

    def next(self, key: str, event_time: float) -> float:
        """Record a restart of ``key`` now; returns the delay the next restart will wait."""
        entry = self._entries.get(key)
        if entry is None or self._expired(event_time, entry):
            entry = _Entry(self.initial, 0.0)
            self._entries[key] = entry
        else:
            entry.backoff = min(entry.backoff * 2, self.cap)
        entry.last_update = self.clock.time()
        return entry.backoff

    def current(self, key: str) -> float:
        entry = self._entries.get(key)
        return entry.backoff if entry else 0.0

    def forget(self, prefix: str) -> None:
        for k in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[k]
