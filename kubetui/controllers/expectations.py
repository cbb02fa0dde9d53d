"""Expectations: what a controller is waiting to see in its informer before acting again.

Upstream: ``pkg/controller/controller_utils.go`` (``ControllerExpectations``,
``UIDTrackingControllerExpectations``). After the ReplicaSet controller creates
3 pods, its pod informer may not show them yet; a sync in between would count
too few pods and create 3 more. So it records "expect 3 creations" and skips
managing replicas until the informer has observed them (each pod ADD lowers
the count), or until the expectation expires (5 minutes upstream) in case an
event was missed. Deletions are tracked by pod key, so a pod seen twice (once
when it gets a deletionTimestamp, once when it is removed) counts once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kubetui.clock import Clock

EXPECTATIONS_TIMEOUT_SECONDS = 5 * 60


@dataclass
class _Expectation:
    adds: int = 0
    deletes: set[str] = field(default_factory=set)
    timestamp: float = 0.0


class Expectations:
    def __init__(self, clock: Clock, timeout: float = EXPECTATIONS_TIMEOUT_SECONDS) -> None:
        self.clock = clock
        self.timeout = timeout
        self._by_key: dict[str, _Expectation] = {}

    def satisfied(self, key: str) -> bool:
        """True if nothing is outstanding (or the expectation expired): safe to manage replicas."""
        exp = self._by_key.get(key)
        if exp is None:
            return True
        if exp.adds <= 0 and not exp.deletes:
            return True
        return self.clock.monotonic() - exp.timestamp > self.timeout

    def expect_creations(self, key: str, count: int) -> None:
        self._by_key[key] = _Expectation(adds=count, timestamp=self.clock.monotonic())

    def expect_deletions(self, key: str, pod_keys: list[str]) -> None:
        self._by_key[key] = _Expectation(deletes=set(pod_keys), timestamp=self.clock.monotonic())

    def creation_observed(self, key: str) -> None:
        exp = self._by_key.get(key)
        if exp is not None and exp.adds > 0:
            exp.adds -= 1

    def deletion_observed(self, key: str, pod_key: str) -> None:
        exp = self._by_key.get(key)
        if exp is not None:
            exp.deletes.discard(pod_key)

    def delete(self, key: str) -> None:
        self._by_key.pop(key, None)

    def pending(self, key: str) -> tuple[int, int]:
        """(creations, deletions) still expected, for logs and the TUI."""
        exp = self._by_key.get(key)
        return (max(exp.adds, 0), len(exp.deletes)) if exp else (0, 0)
