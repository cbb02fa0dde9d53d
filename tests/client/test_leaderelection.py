"""Leader election (client-go's tryAcquireOrRenew) as a table, and two candidates on one Lease."""

from __future__ import annotations

import asyncio

import pytest

from kubetui.client.leaderelection import ElectionConfig, LeaderElector, decide, micro_time

CFG = ElectionConfig(lease_duration=10, renew_deadline=5, retry_period=1)


def lease(holder: str, transitions: int = 3, acquired: str = "A") -> dict:
    return {"metadata": {"name": "kube-scheduler", "namespace": "kube-system", "resourceVersion": "7"},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": 10, "acquireTime": acquired,
                     "renewTime": "R", "leaseTransitions": transitions}}


@pytest.mark.parametrize("current,observed_at,now,action,transitions,acquire", [
    (None, 0, 100, "create", 0, "new"),                     # no Lease yet: create it, leading
    (lease("me"), 95, 100, "update", 3, "A"),               # my own lease: renew, same term
    (lease("other"), 95, 100, "wait", None, None),          # another's lease seen 5 s ago: not expired
    (lease("other"), 89, 100, "update", 4, "new"),          # unchanged for 11 s > 10 s: take it over
    (lease(""), 99, 100, "update", 4, "new"),               # released (empty holder): take it at once
])
def test_try_acquire_or_renew(current, observed_at, now, action, transitions, acquire):
    d = decide(current, identity="me", now=now, observed_at=observed_at, config=CFG, wall=0.25)
    assert d.action == action
    if action == "wait":
        assert d.spec is None and not d.leading
        return
    assert d.leading and d.spec["holderIdentity"] == "me" and d.spec["leaseDurationSeconds"] == 10
    assert d.spec["renewTime"] == micro_time(0.25) == "1970-01-01T00:00:00.250000Z"
    assert d.spec["leaseTransitions"] == transitions
    assert d.spec["acquireTime"] == (micro_time(0.25) if acquire == "new" else acquire)


class FakeLeases:
    """The few Client calls the elector makes, with resourceVersion compare-and-swap."""

    def __init__(self) -> None:
        self.obj: dict | None = None
        self.rv = 0

    async def get(self, resource, name, namespace):
        from kubetui.api import errors
        if self.obj is None:
            raise errors.NotFound("not found")
        return {**self.obj, "spec": dict(self.obj["spec"])}

    async def create(self, resource, obj, namespace):
        from kubetui.api import errors
        if self.obj is not None:
            raise errors.AlreadyExists("exists")
        self.rv += 1
        self.obj = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(self.rv)}}
        return self.obj

    async def update(self, resource, obj, namespace):
        from kubetui.api import errors
        if obj["metadata"]["resourceVersion"] != self.obj["metadata"]["resourceVersion"]:
            raise errors.Conflict("the object has been modified")
        self.rv += 1
        self.obj = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(self.rv)}}
        return self.obj


async def test_one_leader_then_a_takeover_when_it_dies_and_at_once_when_it_releases():
    leases = FakeLeases()
    fast = ElectionConfig(lease_duration=0.3, renew_deadline=0.2, retry_period=0.05)
    log: list[str] = []

    def candidate(name: str) -> LeaderElector:
        async def started():
            log.append(f"{name} leads")

        async def stopped():
            log.append(f"{name} stops")
        return LeaderElector(leases, "kube-scheduler", identity=name, config=fast, on_started=started,
                             on_stopped=stopped)

    a, b = candidate("a"), candidate("b")
    await a.acquire()
    a.start()
    b_task = asyncio.create_task(b.acquire())
    await asyncio.sleep(0.5)  # a renews every 0.05 s: b must not lead
    assert log == ["a leads"] and not b_task.done()
    await a.stop(release=False)  # a dies without releasing: b leads once the lease runs out
    await asyncio.wait_for(b_task, 2)
    assert log == ["a leads", "b leads"] and leases.obj["spec"]["holderIdentity"] == "b"
    assert leases.obj["spec"]["leaseTransitions"] == 1
    b.start()
    c = candidate("c")
    await b.stop()  # a clean stop releases: c takes over without waiting out the lease
    await asyncio.wait_for(c.acquire(), 0.2)
    assert leases.obj["spec"]["holderIdentity"] == "c" and leases.obj["spec"]["leaseTransitions"] == 2


async def test_a_new_leader_records_a_leaderelection_event_on_the_lease():
    """client-go's LeaseLock.RecordEvent: `Normal LeaderElection "<identity> became leader"` on the Lease,
    and "stopped leading" when a leader cannot renew (kubectl get events -n kube-system shows elections)."""
    leases = FakeLeases()
    fast = ElectionConfig(lease_duration=0.3, renew_deadline=0.2, retry_period=0.05)

    class Recorder:
        def __init__(self):
            self.events: list[tuple] = []

        def emit(self, obj, type, reason, message):
            self.events.append((obj["kind"], obj["apiVersion"], obj["metadata"]["namespace"],
                                obj["metadata"]["name"], type, reason, message))

    async def nothing():
        pass

    rec = Recorder()
    a = LeaderElector(leases, "kube-scheduler", identity="cp1_x", config=fast, on_started=nothing,
                      on_stopped=nothing, recorder=rec)
    await a.acquire()
    assert rec.events == [("Lease", "coordination.k8s.io/v1", "kube-system", "kube-scheduler", "Normal",
                           "LeaderElection", "cp1_x became leader")]
    a.start()
    # someone else takes the Lease (a write this leader did not make): renewing fails, it stops leading
    leases.obj = {**leases.obj, "spec": {**leases.obj["spec"], "holderIdentity": "cp2_y"}}
    for _ in range(40):
        if len(rec.events) > 1:
            break
        await asyncio.sleep(0.05)
    await a.stop(release=False)
    assert rec.events[1][-1] == "cp1_x stopped leading"
    # without a recorder nothing is recorded (and nothing breaks)
    b = LeaderElector(FakeLeases(), "kube-scheduler", identity="z", config=fast, on_started=nothing,
                      on_stopped=nothing)
    await b.acquire()


async def test_stopping_a_leader_whose_store_never_answers_ends_within_the_renew_deadline():
    """SIGTERM of a control plane whose etcd is gone: releasing the Lease (ReleaseOnCancel) is best effort,
    bounded as client-go's release() is, so the process stops instead of waiting on a dead store."""
    leases = FakeLeases()
    cfg = ElectionConfig(lease_duration=2, renew_deadline=0.5, retry_period=0.1)

    async def nothing():
        pass
    a = LeaderElector(leases, "kube-controller-manager", identity="a", config=cfg, on_started=nothing,
                      on_stopped=nothing)
    await a.acquire()
    a.start()
    hung = asyncio.Event()

    async def never_answers(*args, **kw):
        hung.set()
        await asyncio.Event().wait()   # etcd frozen or without quorum: the request never returns
    leases.get = never_answers
    leases.update = never_answers
    stop = asyncio.create_task(a.stop())
    done, _ = await asyncio.wait({stop}, timeout=30)   # generous bound: it must end, not hang forever
    assert stop in done and hung.is_set(), "stop() hung on a Lease release the store never answered"
    assert not a.leading
