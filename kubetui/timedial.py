"""The time dial: pause, step and slow down the control plane, so a learner can follow it.

Kubernetes has no such thing (``kubectl rollout pause`` pauses one
Deployment's rollouts, nothing more); it is kubetui's slow-motion button, like
a debugger's breakpoint on every controller at once. The gate sits where work
is *taken*: a controller worker that has just taken a key from its work queue
(client-go's ``processNextWorkItem``) and the scheduler that has just popped a
pod for a scheduling cycle (``scheduleOne``) both ``await dial.admit(...)``
before they act. So:

* **running** (1x): ``admit`` returns at once; nothing changes.
* **paused**: ``admit`` waits. The API server keeps serving, kubelets keep
  running pods, informers keep their caches and the work queues keep collecting
  keys (a key added while one waits here is only marked dirty, as for any key
  being processed), so nothing is lost and nothing is done twice.
* **step(n)**: exactly ``n`` waiting reconciles or scheduling cycles run, one
  after the other, in the order they reached the gate, across every
  controller and the scheduler; ``step`` returns what ran.
* **speed f** (0.1x .. 1x): work items go through one at a time, in the
  order they came, and after each one that changed the cluster (wrote to the
  store) the next waits ``(1/f - 1) x base_interval``, so a rolling update
  that takes a second unfolds over tens of seconds at 0.1x. Items that change
  nothing (a node's heartbeat checked, a garbage collector with nothing to
  collect) are not held back: a learner could not see them, and a busy
  cluster makes many more of them than slow motion could ever let through.

Timers that belong to the control plane (work-queue backoffs and requeues, the
node lifecycle controller's grace period, CronJob schedules, Job deadlines,
progress deadlines, TTLs, pod GC) read ``dial.clock``, a ``DialClock`` whose
time stands still while paused and runs at ``f`` while slowed: pausing does
not let a node expire or a Job's deadline pass in the background. With
``real_time_timers`` the dial clock keeps wall-clock pace instead (the gate
still holds the work back, so expired timers act on resume). Kubelets never
see the dial: they run on real time.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable

from kubetui.clock import Clock

log = logging.getLogger(__name__)

MIN_SPEED = 0.1
MAX_SPEED = 1.0
#: seconds between two work items that changed the cluster, at speed f: (1/f - 1) x this (0.1x: 0.45 s)
BASE_INTERVAL = 0.05
#: how long ``step`` waits for work to reach the gate before it says there is nothing to run
STEP_WAIT = 2.0
#: how long ``step`` waits for one admitted item to finish before it reports it as still running
STEP_FINISH = 30.0
_EPS = 1e-9


class DialError(ValueError):
    """A request the dial refuses (speed out of range, step while running)."""


def parse_speed(text: str | float) -> float:
    """``"0.25x"``, ``"0.25"``, ``"25%"`` or ``0.25`` -> 0.25; DialError outside 0.1x..1x."""
    s = str(text).strip().lower()
    try:
        if s.endswith("%"):
            value = float(s[:-1]) / 100.0
        else:
            value = float(s[:-1] if s.endswith("x") else s)
    except ValueError:
        raise DialError(f"invalid speed {text!r}: give a factor from {MIN_SPEED}x to {MAX_SPEED}x, "
                        f"e.g. 0.25x") from None
    if not MIN_SPEED - _EPS <= value <= MAX_SPEED + _EPS:
        raise DialError(f"speed {text} is out of range: from {MIN_SPEED}x (slowest) to {MAX_SPEED}x (normal)")
    return round(value, 4)


def describe_speed(speed: float) -> str:
    """0.25 -> ``"0.25x"``, 1.0 -> ``"1x"``."""
    return f"{speed:g}x"


def _describe(key: Hashable) -> str:
    if isinstance(key, tuple):
        return "/".join(str(p) for p in key if p not in (None, ""))
    return str(key)


@dataclass
class Ticket:
    """One admitted work item: which component ran which key, and when (wall clock)."""

    seq: int
    component: str
    key: str
    started: float
    #: how it got through the gate: "open" (1x), "step", "pace" (slow motion) or "resume"
    how: str = "open"
    finished: float | None = None
    #: resolved with the ticket when the item is done (set for items a step or the pacer let through)
    released: asyncio.Future[Any] | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {"component": self.component, "key": self.key, "started": self.started,
                "finished": self.finished, "how": self.how}


@dataclass
class _Waiter:
    seq: int
    component: str
    key: str
    since: float
    fut: asyncio.Future[str] = field(repr=False)
    #: resolved with the ticket when the released item is done (step and pacer wait on it)
    released: asyncio.Future[Any] | None = field(default=None, repr=False)


class TimeDial:
    """The control plane's pause / step / speed dial (one per control plane).

    Below 1x, and when paused, every work item queues at the gate in one line
    (first come, first served, whichever component). Paused, only ``step``
    lets items out; slowed, a pacer lets one out, waits for it to finish, and
    (if it wrote) waits ``spacing()`` before the next: slow motion is stepping
    on a timer, so cause still comes before effect (the ReplicaSet controller
    deletes the pods a scale-down asked for before the Deployment controller
    looks again).
    """

    def __init__(self, clock: Clock | None = None, *, base_interval: float = BASE_INTERVAL,
                 history: int = 100) -> None:
        #: the real clock the dial paces work by (a FakeClock in tests)
        self.base = clock or Clock()
        self.base_interval = base_interval
        self._paused = False
        self._speed = 1.0
        self._real_time_timers = False
        self._waiters: collections.deque[_Waiter] = collections.deque()
        self._seq = itertools.count(1)
        self._changed: asyncio.Future[None] | None = None
        self._arrived: asyncio.Future[None] | None = None
        self._step_lock: asyncio.Lock | None = None
        self._pacer: asyncio.Task[None] | None = None
        #: the store's revision, if the control plane gives it: slow motion spaces only items that wrote
        self.revision: Callable[[], int] | None = None
        self.running: dict[int, Ticket] = {}
        self.history: collections.deque[Ticket] = collections.deque(maxlen=history)
        self.admitted = 0
        self.clock = DialClock(self)

    # --- the state ---------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def real_time_timers(self) -> bool:
        return self._real_time_timers

    @property
    def open(self) -> bool:
        """Work passes the gate without waiting (running at 1x)."""
        return not self._paused and self._speed >= MAX_SPEED

    def rate(self) -> float:
        """How fast the dial clock runs against the real one: 0 paused, f slowed, 1 with real-time timers."""
        if self._real_time_timers:
            return 1.0
        return 0.0 if self._paused else self._speed

    def spacing(self) -> float:
        """Seconds after a work item that changed the cluster, at the current speed: (1/f - 1) x base interval."""
        return (1.0 / self._speed - 1.0) * self.base_interval if self._speed < MAX_SPEED else 0.0

    def waiting(self) -> list[tuple[str, str]]:
        """(component, key) of the work held at the gate, in the order it arrived (next first)."""
        return [(w.component, w.key) for w in self._waiters if not w.fut.done()]

    def state(self) -> dict[str, Any]:
        """What ``GET .../timedial`` serves (see ``client/views.py``)."""
        return {"mode": "Paused" if self._paused else ("Slowed" if self._speed < MAX_SPEED else "Running"),
                "paused": self._paused, "speed": self._speed, "realTimeTimers": self._real_time_timers,
                "spacingSeconds": round(self.spacing(), 3),
                "clockLagSeconds": round(max(0.0, self.clock.lag()), 3),
                "waiting": [{"component": c, "key": k} for c, k in self.waiting()],
                "running": [t.as_dict() for t in self.running.values()],
                "recent": [t.as_dict() for t in list(self.history)[-20:]],
                "admitted": self.admitted}

    # --- turning the dial ----------------------------------------------------------------------

    def pause(self, *, real_time_timers: bool = False) -> None:
        """Stop every component taking work; with ``real_time_timers`` the dial clock keeps running."""
        self.clock.reanchor()
        self._paused = True
        self._real_time_timers = real_time_timers
        self._signal_change()
        log.info("time dial: paused (timers on %s time)", "real" if real_time_timers else "the dial's")

    def resume(self) -> None:
        """Let work flow again at the current speed (at 1x, whatever waits at the gate goes, in order)."""
        self.clock.reanchor()
        self._paused = False
        self._real_time_timers = False
        self._after_turn()
        log.info("time dial: resumed at %s", describe_speed(self._speed))

    def set_speed(self, speed: str | float) -> float:
        """Slow motion: 0.1x .. 1x (``DialError`` outside). Does not pause or resume."""
        value = parse_speed(speed)
        self.clock.reanchor()
        self._speed = value
        self._after_turn()
        log.info("time dial: speed %s", describe_speed(value))
        return value

    def _after_turn(self) -> None:
        if self.open:
            waiters = list(self._waiters)
            self._waiters.clear()
            for w in waiters:
                if not w.fut.done():
                    w.fut.set_result("resume")
        elif not self._paused:
            self._ensure_pacer()
        self._signal_change()

    async def step(self, n: int = 1, *, wait: float = STEP_WAIT, finish: float = STEP_FINISH) -> list[Ticket]:
        """Let exactly ``n`` waiting work items run, one at a time, in gate order; return them.

        Each item runs to completion before the next is let through, so the
        second may be work the first caused (a ReplicaSet the Deployment
        controller just created). Stops early if nothing reaches the gate
        within ``wait`` seconds, or if the dial is resumed meanwhile.
        """
        if n < 1:
            raise DialError(f"step needs a positive count, not {n}")
        if not self._paused:
            raise DialError("the control plane is not paused: pause it first (kubetui time pause)")
        if self._step_lock is None:
            self._step_lock = asyncio.Lock()
        ran: list[Ticket] = []
        async with self._step_lock:
            for _ in range(n):
                if not self._paused:
                    break
                w = await self._next_waiter(wait, lambda: self._paused)
                if w is None:
                    break
                ticket = await self._release(w, "step", finish)
                if ticket is not None:
                    ran.append(ticket)
        return ran

    async def _release(self, w: _Waiter, how: str, finish: float) -> Ticket | None:
        """Let one waiter through and wait (up to ``finish`` s) until its work item is done."""
        w.released = asyncio.get_running_loop().create_future()
        w.fut.set_result(how)
        try:
            await asyncio.wait_for(asyncio.shield(w.released), finish)
        except asyncio.TimeoutError:
            log.info("time dial: %s %s still running after %.0fs", w.component, w.key, finish)
            return None
        return w.released.result()

    async def _next_waiter(self, wait: float | None, still: Any) -> _Waiter | None:
        """The first waiter at the gate; wait up to ``wait`` s (None: forever) while ``still()`` holds."""
        loop = asyncio.get_running_loop()
        deadline = None if wait is None else loop.time() + wait
        while True:
            while self._waiters and self._waiters[0].fut.done():
                self._waiters.popleft()
            if self._waiters:
                return self._waiters.popleft()
            left = None if deadline is None else deadline - loop.time()
            if (left is not None and left <= 0) or not still():
                return None
            if self._arrived is None or self._arrived.done():
                self._arrived = loop.create_future()
            try:
                await asyncio.wait_for(asyncio.wait({self._arrived, self.changed()}, return_when=asyncio.FIRST_COMPLETED), left)
            except asyncio.TimeoutError:
                return None

    # --- slow motion ------------------------------------------------------------------------------

    def _ensure_pacer(self) -> None:
        if self._pacer is not None and not self._pacer.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return          # started by the first admit instead
        self._pacer = loop.create_task(self._pace(), name="time-dial-pacer")

    def _slowed(self) -> bool:
        return not self._paused and self._speed < MAX_SPEED

    async def _pace(self) -> None:
        """Slowed: let one item through, wait for it, then, if it wrote, wait ``spacing()`` (less if the dial turns)."""
        while self._slowed():
            w = await self._next_waiter(None, self._slowed)
            if w is None:
                continue
            before = self.revision() if self.revision is not None else None
            await self._release(w, "pace", STEP_FINISH)
            wrote = before is None or self.revision() != before   # type: ignore[misc]
            if self._slowed() and wrote:
                await self._wait_change(self.spacing())

    # --- the gate --------------------------------------------------------------------------------

    async def admit(self, component: str, key: Hashable) -> Ticket:
        """The gate: wait until ``component`` may work on ``key``; call ``done(ticket)`` afterwards."""
        if self.open:
            return self._start(component, key, "open")
        if not self._paused:
            self._ensure_pacer()
        loop = asyncio.get_running_loop()
        w = _Waiter(next(self._seq), component, _describe(key), self.base.time(), loop.create_future())
        self._waiters.append(w)
        if self._arrived is not None and not self._arrived.done():
            self._arrived.set_result(None)
        try:
            how = await w.fut
        except asyncio.CancelledError:
            if w.released is not None and not w.released.done():
                w.released.set_result(None)     # whoever released it learns that nothing ran
            raise
        ticket = self._start(component, key, how)
        ticket.released = w.released
        return ticket

    def done(self, ticket: Ticket) -> None:
        """The admitted work item finished (successfully or not)."""
        ticket.finished = self.base.time()
        self.running.pop(ticket.seq, None)
        self.history.append(ticket)
        if ticket.released is not None and not ticket.released.done():
            ticket.released.set_result(ticket)

    def _start(self, component: str, key: Hashable, how: str) -> Ticket:
        self.admitted += 1
        ticket = Ticket(next(self._seq), component, _describe(key), self.base.time(), how)
        self.running[ticket.seq] = ticket
        return ticket

    # --- waking waiters when the dial turns -----------------------------------------------------

    def _signal_change(self) -> None:
        if self._changed is not None and not self._changed.done():
            self._changed.set_result(None)
        self._changed = None

    def changed(self) -> asyncio.Future[None]:
        """A future resolved the next time the dial turns (pause, resume, speed)."""
        if self._changed is None:
            self._changed = asyncio.get_running_loop().create_future()
        return self._changed

    async def _wait_change(self, seconds: float) -> None:
        """Sleep ``seconds`` on the base clock, or less if the dial turns meanwhile."""
        changed = self.changed()
        sleeper = asyncio.ensure_future(self.base.sleep(seconds))
        try:
            await asyncio.wait({sleeper, changed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not sleeper.done():
                sleeper.cancel()

    async def close(self) -> None:
        """Stop the pacer (the control plane is stopping)."""
        if self._pacer is not None:
            self._pacer.cancel()
            try:
                await self._pacer
            except (asyncio.CancelledError, Exception):
                pass


class DialClock(Clock):
    """A ``Clock`` for the control plane's timers, driven by the dial.

    Its monotonic time stands still while the dial is paused and runs at the
    dial's speed while slowed; its wall time (``time()``) starts equal to the
    real clock's and falls behind by however long the dial held it back
    (``lag()``). Sleepers wake when enough *dial* time has passed, and are
    re-timed whenever the dial turns.
    """

    def __init__(self, dial: TimeDial) -> None:
        self.dial = dial
        self.base = dial.base
        self._base_mono = self.base.monotonic()
        self._mono = self._base_mono
        self._rate: float | None = 1.0
        self._wall_offset = self.base.time() - self._base_mono   # time() = monotonic() + offset

    def reanchor(self) -> None:
        """Fix the dial time reached so far; it runs on at the dial's new rate (called before it turns)."""
        now = self.base.monotonic()
        self._mono += (now - self._base_mono) * self._current_rate()
        self._base_mono = now
        self._rate = None       # read from the dial on next use, once it has turned

    def _current_rate(self) -> float:
        if self._rate is None:
            self._rate = self.dial.rate()
        return self._rate

    def monotonic(self) -> float:
        return self._mono + (self.base.monotonic() - self._base_mono) * self._current_rate()

    def time(self) -> float:
        return self.monotonic() + self._wall_offset

    def wall_time(self) -> float:
        """The real wall clock (kubelets' and the API server's timestamps are on it)."""
        return self.base.wall_time()

    def lag(self) -> float:
        """Seconds the dial clock's wall time is behind the real clock's."""
        return self.base.time() - self.time()

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        target = self.monotonic() + seconds
        while True:
            left = target - self.monotonic()
            if left <= _EPS:
                return
            rate = self._current_rate()
            changed = self.dial.changed()
            if rate <= 0:
                await asyncio.shield(changed)
                continue
            sleeper = asyncio.ensure_future(self.base.sleep(left / rate))
            try:
                await asyncio.wait({sleeper, changed}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                if not sleeper.done():
                    sleeper.cancel()
            if sleeper.done() and not sleeper.cancelled() and not changed.done():
                return      # slept the whole stretch at an unchanged rate
