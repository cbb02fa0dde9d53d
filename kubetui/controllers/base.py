"""The shape every controller shares: informer -> work queue -> reconcile(key).

Upstream: the pattern of ``pkg/controller/replicaset/replica_set.go`` (``Run``,
``worker``, ``processNextWorkItem``). Event handlers only compute a key and
enqueue it; ``workers`` coroutines pop keys and call ``reconcile(key)``, which
reads the informer caches, compares desired with observed state, and writes
the difference. Reconcile is level-triggered and idempotent: it never trusts
the event that woke it, only the current state, so a missed or repeated event
is harmless. An exception is logged with the key and the key is requeued with
exponential backoff; success ``forget``s the backoff.

Each reconcile also leaves a record in the reconcile log
(``kubetui.client.reconciles``) when the manager gives the controller one:
``_reconcile_recorded`` opens it around ``reconcile``, and the writes the
controller's client carries meanwhile land in it by themselves.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Hashable

from kubetui import timings as _timings
from kubetui.api import errors
from kubetui.client.base import Client
from kubetui.client.informer import InformerFactory, meta_namespace_key
from kubetui.client.reconciles import CURRENT as _CURRENT_RECORD, ReconcileLog
from kubetui.client.workqueue import ShutDown, WorkQueue, describe
from kubetui.clock import Clock
from kubetui.timedial import TimeDial

Obj = dict[str, Any]


@dataclass
class ControllerStats:
    """What the TUI's live activity indicator shows for one controller."""

    reconciles: int = 0
    errors: int = 0
    last_reconcile: float | None = None   # clock.time() of the last finished reconcile
    last_key: str | None = None
    last_error: str | None = None
    recent: list[str] = field(default_factory=list)  # last few keys reconciled

    def as_dict(self) -> dict[str, Any]:
        return {"reconciles": self.reconciles, "errors": self.errors,
                "last_reconcile": self.last_reconcile, "last_key": self.last_key,
                "last_error": self.last_error, "recent": list(self.recent)}


class Controller:
    """Base class: subclasses set ``name``, register handlers in ``__init__`` and implement ``reconcile``."""

    #: the controller's name, as ``kube-controller-manager --controllers`` knows it
    name = "controller"
    #: ``source.component`` of the Events it records
    component = "controller"
    workers = 1
    #: the Kind of the objects whose keys its queue holds (``Deployment``), for the reconcile log
    kind: str | None = None
    #: where each reconcile leaves a record (set by the manager; None: nothing is recorded)
    reconcile_log: ReconcileLog | None = None

    def __init__(self, client: Client, factory: InformerFactory, *, clock: Clock,
                 timings: _timings.Timings = _timings.LAB, recorder: Any = None,
                 dial: TimeDial | None = None) -> None:
        self.client = client
        self.factory = factory
        self.clock = clock
        self.timings = timings
        self.recorder = recorder
        # the control plane's time dial (pause / step / slow motion); a dial of its own if none is given
        self.dial = dial or TimeDial(clock)
        self.queue = WorkQueue(name=self.name, clock=clock)
        self.stats = ControllerStats()
        self.log = logging.getLogger(f"kubetui.controllers.{self.name}")
        self._tasks: list[asyncio.Task[None]] = []

    # --- for subclasses ---

    @classmethod
    def extra_args(cls, manager: Any) -> dict[str, Any]:
        """Keyword arguments the manager passes besides the common ones (e.g. the API server address)."""
        return {}

    async def reconcile(self, key: Hashable) -> float | None:
        """Make the world match the object at ``key``; return seconds to look again, if needed."""
        raise NotImplementedError

    def record_object(self, key: Hashable) -> tuple[str | None, str | None, str]:
        """(kind, namespace, name) of the object a key stands for, as the reconcile log names it."""
        if isinstance(key, str):
            namespace, _, name = key.rpartition("/")
            return self.kind, namespace or None, name
        return None, None, describe(key)

    def loops(self) -> list[Callable[[], Awaitable[None]]]:
        """Extra periodic coroutines (e.g. the node monitor)."""
        return []

    def enqueue(self, obj: Obj) -> None:
        self.queue.add(meta_namespace_key(obj))

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        """Record a core/v1 Event about ``obj`` (fire and forget, like client-go's recorder)."""
        if self.recorder is None:
            return
        try:
            self.recorder.emit(obj, type_, reason, message)
        except Exception:
            self.log.exception("recording event %s for %s", reason, meta_namespace_key(obj))

    # --- running ---

    async def run(self) -> None:
        """Start the workers and loops (informers are started by the manager)."""
        for i in range(self.workers):
            self._tasks.append(asyncio.create_task(self._worker(), name=f"{self.name}-worker-{i}"))
        for loop in self.loops():
            self._tasks.append(asyncio.create_task(self._guard(loop), name=f"{self.name}-loop"))

    async def _guard(self, loop: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await loop()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.exception("%s: periodic loop failed; restarting it", self.name)
                await self.clock.sleep(1.0)

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except ShutDown:
                return
            # The time dial's gate: paused, the key waits here, held like any key being processed.
            ticket = await self.dial.admit(self.name, key)
            try:
                await self.process(key)
            finally:
                self.dial.done(ticket)

    async def process(self, key: Hashable) -> None:
        """One ``processNextWorkItem``: reconcile, then forget or requeue with backoff."""
        try:
            again = await self._reconcile_recorded(key)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self.stats.errors += 1
            self.stats.last_error = f"{describe(key)}: {e}"
            # A Conflict is optimistic concurrency doing its job (another writer got there
            # first); the retry heals it, so it is not worth a warning (upstream logs it at V(2)).
            level = logging.INFO if isinstance(e, errors.Conflict) else logging.WARNING
            self.log.log(level, "%s: error syncing %s: %s (requeued with backoff)", self.name,
                         describe(key), e, exc_info=self.log.isEnabledFor(logging.DEBUG))
            self.queue.add_rate_limited(key)
        else:
            self.queue.forget(key)
            if again is not None:
                self.queue.add_after(key, max(again, 0.0))
        finally:
            self.stats.reconciles += 1
            self.stats.last_reconcile = self.clock.time()
            self.stats.last_key = describe(key)
            self.stats.recent = (self.stats.recent + [describe(key)])[-5:]
            self.queue.done(key)

    async def _reconcile_recorded(self, key: Hashable) -> float | None:
        """``reconcile(key)``, with a record in the reconcile log around it (if there is a log)."""
        log = self.reconcile_log
        rec = None
        if log is not None:
            rec = log.begin(self.name, *self.record_object(key))
        if rec is None:
            return await self.reconcile(key)
        token = _CURRENT_RECORD.set(rec)
        try:
            again = await self.reconcile(key)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.end(rec, f"error: {type(e).__name__}: {e}")
            raise
        finally:
            _CURRENT_RECORD.reset(token)
        log.end(rec, "ok" if again is None else f"requeue after {again:.3g}s")
        return again

    async def stop(self) -> None:
        await self.queue.shut_down()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks.clear()

    async def drain(self) -> None:
        """Process every queued key now (tests): until the queue and workers are idle."""
        for _ in range(1000):
            if not len(self.queue) and not self.queue.processing:
                return
            await asyncio.sleep(0)
