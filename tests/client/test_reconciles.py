"""The reconcile log's pieces: the recording client, the long poll, the object filter (issue 19)."""

from __future__ import annotations

import asyncio

import pytest

from kubetui.api import errors
from kubetui.client import reconciles as rl
from kubetui.clock import FakeClock


class FakeAPI:
    """Answers writes like the API server: a new resourceVersion each time; 'taken' conflicts."""

    def __init__(self) -> None:
        self.rv = 10

    async def create(self, resource, obj, namespace=None, **kw):
        self.rv += 1
        name = obj["metadata"].get("name") or obj["metadata"]["generateName"] + "x1y2z"
        return {"metadata": {"name": name, "namespace": namespace, "resourceVersion": str(self.rv)}}

    async def update(self, resource, obj, namespace=None, **kw):
        if obj["metadata"]["name"] == "taken":
            raise errors.Conflict("the object has been modified; please apply your changes to the latest version")
        self.rv += 1
        return {"metadata": {**obj["metadata"], "resourceVersion": str(self.rv)}}

    async def get(self, resource, name, namespace=None, **kw):
        return {"metadata": {"name": name}}


async def test_writes_inside_a_reconcile_land_in_its_record_and_reads_and_outside_writes_do_not():
    log = rl.ReconcileLog(clock=FakeClock())
    client = rl.RecordingClient(FakeAPI())
    await client.create("pods", {"metadata": {"generateName": "web-7d9f-"}}, "default")   # no reconcile: nothing
    rec = log.begin("replicaset", "ReplicaSet", "default", "web-7d9f")
    token = rl.CURRENT.set(rec)
    try:
        await client.get("replicasets", "web-7d9f", "default")
        await client.create("pods", {"metadata": {"generateName": "web-7d9f-"}}, "default")
        await client.update("replicasets", {"metadata": {"name": "web-7d9f", "resourceVersion": "12"}}, "default",
                            subresource="status")
        with pytest.raises(errors.Conflict):
            await client.update("replicasets", {"metadata": {"name": "taken", "resourceVersion": "3"}}, "default")
    finally:
        rl.CURRENT.reset(token)
    log.end(rec)
    [got] = log.since(0)
    assert [w.text() for w in got.writes] == [
        "create pods default/web-7d9f-x1y2z rv - -> 12",
        "update replicasets/status default/web-7d9f rv 12 -> 13",
        "update replicasets default/taken rv 3 -> -  ✗ Conflict: the object has been modified; "
        "please apply your changes to the latest version",
    ]
    # What it created, it owns: the pod's records are the ReplicaSet's too.
    assert log.ancestors("Pod/default/web-7d9f-x1y2z") == ["ReplicaSet/default/web-7d9f"]
    assert got.to_dict()["writes"][1] == {"verb": "update", "resource": "replicasets", "subresource": "status",
                                          "namespace": "default", "name": "web-7d9f",
                                          "resourceVersionBefore": "12", "resourceVersionAfter": "13"}
    assert rl.ReconcileRecord.from_dict(got.to_dict()).to_dict() == got.to_dict()


async def test_a_record_waits_for_the_background_work_it_started():
    log = rl.ReconcileLog(clock=FakeClock())
    rec = log.begin("scheduler", "Pod", "default", "web-1")
    gate = asyncio.Event()

    async def binding():
        await gate.wait()
    task = asyncio.create_task(binding())
    log.hold(rec, task)
    log.end(rec)
    assert log.since(0) == []            # the binding cycle still runs
    assert await log.flush(0.01) is False        # still held
    gate.set()
    assert await log.flush(5.0) is True          # what `kubetui time step` waits for
    assert [r.name for r in log.since(0)] == ["web-1"]


async def test_the_long_poll_answers_as_soon_as_a_matching_record_is_published():
    log = rl.ReconcileLog(clock=FakeClock())
    log.end(log.begin("deployment", "Deployment", "default", "api"))
    waiting = asyncio.create_task(log.wait(log.last_seq, 30.0, object="Deployment/default/web"))
    await asyncio.sleep(0)
    log.end(log.begin("deployment", "Deployment", "default", "other"))       # not it: keeps waiting
    await asyncio.sleep(0)
    assert not waiting.done()
    log.end(log.begin("replicaset", "ReplicaSet", "default", "web-5c4"))      # web's, by name
    got = await asyncio.wait_for(waiting, 5)
    assert [r.object for r in got] == ["ReplicaSet/default/web-5c4"]
    assert await log.wait(log.last_seq, 0.01) == []                          # nothing new: empty after the wait


def test_name_fallback_does_not_confuse_web_with_web_api():
    rec = rl.ReconcileRecord("replicaset", "ReplicaSet", "default", "web-api-5c4", 0.0)
    assert rl.related_to(rec, "Deployment/default/web-api")
    assert not rl.related_to(rec, "Deployment/default/web")
    pod = rl.ReconcileRecord("scheduler", "Pod", "default", "db-0", 0.0)
    assert rl.related_to(pod, "StatefulSet/default/db") and not rl.related_to(pod, "StatefulSet/other/db")


@pytest.mark.parametrize("text,error", [
    ("web", "must be TYPE/NAME"),
    ("frobs/web", 'the server doesn\'t have a resource type "frobs"'),
    ("deploy/", "must be TYPE/NAME"),
])
def test_object_filter_refuses_what_kubectl_would(text, error):
    with pytest.raises(ValueError, match=error):
        rl.object_filter(text)


def test_a_disabled_log_records_nothing():
    log = rl.ReconcileLog(enabled=False)
    assert log.begin("deployment", "Deployment", "default", "web") is None
    log.end(None)
    assert log.last_seq == 0 and log.since(0) == []


def test_the_modules_examples():
    import doctest
    assert doctest.testmod(rl).failed == 0


def test_silent_records_can_be_left_out():
    log = rl.ReconcileLog(clock=FakeClock())
    log.end(log.begin("garbage-collector", "Pod", "default", "web-1"))          # looked, did nothing
    rec = log.begin("replicaset", "ReplicaSet", "default", "web")
    rec.observe("want 1, have 1 pods")
    log.end(rec)
    log.end(log.begin("garbage-collector", "Pod", "default", "web-2"), "error: Conflict: x")   # failed: not silent
    assert [r.seq for r in log.since(0)] == [1, 2, 3]
    assert [r.seq for r in log.since(0, silent=False)] == [2, 3]
