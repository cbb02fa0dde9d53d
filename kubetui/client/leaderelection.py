"""Leader election through a ``coordination.k8s.io`` Lease (client-go's ``tools/leaderelection``).

Upstream runs kube-scheduler and kube-controller-manager on every control-plane
node, but only one copy of each may act, or two schedulers would bind the same
pod twice. Each copy is a *candidate*: it tries to become the holder of a Lease
(``kube-system/kube-scheduler``), and while it holds it, renews it every
``retry_period``. A leader that cannot renew for ``renew_deadline`` stops
acting; a candidate takes over once the holder's lease has not changed for
``lease_duration``. ``kubectl get lease -n kube-system`` shows who leads.

A new leader records a ``Normal LeaderElection`` Event on the Lease ("<identity>
became leader"), and a leader that loses it one saying "stopped leading", as
client-go's ``LeaseLock.RecordEvent`` does: ``kubectl get events -n kube-system``
shows every election.

``decide`` is client-go's ``tryAcquireOrRenew`` as a pure function (table-tested);
``LeaderElector`` runs it against the API. Expiry is measured, as client-go does,
from when *this* candidate last saw the record change (its own clock), never
from the ``renewTime`` another machine wrote, so clock skew cannot steal a lease.
Leases follow real time (not the control plane's time dial): a paused control
plane keeps its leaders.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from kubetui.api import errors

log = logging.getLogger(__name__)

NAMESPACE = "kube-system"


@dataclass(frozen=True)
class ElectionConfig:
    """``--leader-elect-lease-duration``, ``--leader-elect-renew-deadline``, ``--leader-elect-retry-period``."""

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0


#: kubetui's lab timings: a killed leader is replaced within about two seconds
LAB = ElectionConfig(lease_duration=2.0, renew_deadline=1.5, retry_period=0.5)


def micro_time(t: float) -> str:
    """A Lease's ``MicroTime``: RFC 3339 with microseconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


def new_identity() -> str:
    """``<hostname>_<uuid>``, as kube-scheduler names its candidates."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


@dataclass(frozen=True)
class Decision:
    """What to do with the Lease: ``create`` / ``update`` it to ``spec``, or ``wait`` (someone else leads)."""

    action: str
    spec: dict[str, Any] | None = None

    @property
    def leading(self) -> bool:
        return self.action in ("create", "update")


def decide(lease: dict[str, Any] | None, *, identity: str, now: float, observed_at: float,
           config: ElectionConfig, wall: float) -> Decision:
    """client-go's ``tryAcquireOrRenew``: take, renew or leave the Lease.

    ``now`` and ``observed_at`` (when this candidate last saw the Lease's spec
    change) are on this process's clock and decide expiry; ``wall`` is the
    time written into the Lease.
    """
    duration = max(1, round(config.lease_duration))
    stamp = micro_time(wall)
    if lease is None:
        return Decision("create", {"holderIdentity": identity, "leaseDurationSeconds": duration,
                                   "acquireTime": stamp, "renewTime": stamp, "leaseTransitions": 0})
    spec = lease.get("spec") or {}
    holder = spec.get("holderIdentity") or ""
    held_for = float(spec.get("leaseDurationSeconds") or duration)
    if holder and holder != identity and observed_at + held_for > now:
        return Decision("wait")
    new = dict(spec, holderIdentity=identity, leaseDurationSeconds=duration, renewTime=stamp)
    if holder != identity:  # a takeover, or the first holder after a release: a new term
        new["acquireTime"] = stamp
        new["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
    return Decision("update", new)


class LeaderElector:
    """One candidate for one Lease; calls ``on_started`` when it becomes leader, ``on_stopped`` when it stops."""

    def __init__(self, client: Any, name: str, *, identity: str | None = None,
                 config: ElectionConfig = ElectionConfig(), on_started: Callable[[], Awaitable[None]],
                 on_stopped: Callable[[], Awaitable[None]], now: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time, recorder: Any = None) -> None:
        self.client = client
        self.name = name
        self.identity = identity or new_identity()
        self.config = config
        self.on_started = on_started
        self.on_stopped = on_stopped
        self._now, self._wall = now, wall
        self._observed: tuple[str, float] = ("", 0.0)  # (the Lease's spec as text, when it was seen)
        self.leading = False
        self._last_renew = 0.0
        self._task: asyncio.Task[None] | None = None
        #: client-go's ``ResourceLockConfig.EventRecorder`` (a ``client.record.EventRecorder``), or None
        self.recorder = recorder
        self._lease: dict[str, Any] | None = None  # the Lease as last written by this candidate

    async def try_acquire_or_renew(self) -> bool:
        try:
            lease: dict[str, Any] | None = await self.client.get("leases", self.name, NAMESPACE)
        except errors.NotFound:
            lease = None
        now = self._now()
        seen = repr(sorted(((lease or {}).get("spec") or {}).items()))
        if seen != self._observed[0]:
            self._observed = (seen, now)
        d = decide(lease, identity=self.identity, now=now, observed_at=self._observed[1], config=self.config,
                   wall=self._wall())
        try:
            if d.action == "create":
                self._lease = await self.client.create("leases", {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                                    "metadata": {"name": self.name, "namespace": NAMESPACE},
                                                    "spec": d.spec}, NAMESPACE)
            elif d.action == "update":
                assert lease is not None
                self._lease = await self.client.update("leases", dict(lease, spec=d.spec), NAMESPACE)  # CAS
            else:
                return False
        except (errors.Conflict, errors.AlreadyExists):
            return False  # another candidate wrote first: it leads
        self._observed = (repr(sorted(d.spec.items())), now)
        return True

    async def acquire(self) -> None:
        """Until this candidate leads (``on_started`` has run)."""
        while True:
            try:
                if await self.try_acquire_or_renew():
                    break
            except errors.StatusError as exc:
                log.warning("leader election %s: %s", self.name, exc)
            await asyncio.sleep(self.config.retry_period)
        self.leading, self._last_renew = True, self._now()
        log.info("%s: %s became leader", self.name, self.identity)
        self._record("became leader")
        await self.on_started()

    def _record(self, what: str) -> None:
        """client-go's ``LeaseLock.RecordEvent``: ``Normal LeaderElection "<identity> <what>"`` on the Lease."""
        if self.recorder is None:
            return
        meta = (self._lease or {}).get("metadata") or {"name": self.name, "namespace": NAMESPACE}
        subject = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta}
        self.recorder.emit(subject, "Normal", "LeaderElection", f"{self.identity} {what}")

    def start(self) -> None:
        """Keep renewing while leading; on losing the Lease stop, then stand as a candidate again."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"leader-election:{self.name}")

    async def _run(self) -> None:
        while True:
            if not self.leading:
                await self.acquire()
            await asyncio.sleep(self.config.retry_period)
            try:
                renewed = await self.try_acquire_or_renew()
            except errors.StatusError as exc:
                log.warning("leader election %s: renewing failed: %s", self.name, exc)
                renewed = False
            if renewed:
                self._last_renew = self._now()
            elif self._now() - self._last_renew > self.config.renew_deadline:
                log.warning("%s: leaderelection lost (%s)", self.name, self.identity)
                self.leading = False
                self._record("stopped leading")
                await self.on_stopped()

    async def stop(self, *, release: bool = True) -> None:
        """Stop campaigning; with ``release`` a leader gives the Lease up so another takes over at once
        (client-go's ``ReleaseOnCancel``)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if release and self.leading:
            # Best effort, bounded by the renew deadline as client-go's ``release()`` is (its context has
            # ``RenewDeadline`` as timeout): a store that no longer answers (etcd gone, quorum lost) must not
            # hold a stopping process. An unreleased Lease is taken over once it has run out anyway.
            try:
                await asyncio.wait_for(self._release(), self.config.renew_deadline)
            except asyncio.TimeoutError:
                log.warning("%s: could not release the Lease within %gs (is the store down?); it runs out "
                            "in %gs", self.name, self.config.renew_deadline, self.config.lease_duration)
            except (errors.StatusError, OSError) as exc:
                log.debug("releasing %s: %s", self.name, exc)
        self.leading = False

    async def _release(self) -> None:
        """Give the Lease up: no holder, a one-second duration, so the next candidate takes it at once."""
        lease = await self.client.get("leases", self.name, NAMESPACE)
        if (lease.get("spec") or {}).get("holderIdentity") == self.identity:
            spec = dict(lease["spec"], holderIdentity="", leaseDurationSeconds=1, renewTime=micro_time(self._wall()))
            await self.client.update("leases", dict(lease, spec=spec), NAMESPACE)
