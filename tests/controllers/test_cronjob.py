"""The CronJob and TTL-after-finished controllers with a fake clock: schedules run without waiting."""

from __future__ import annotations

import datetime as dt

import pytest

from ctrl_helpers import events, settle
from kubetui.controllers.cronjob import SCHEDULED_TIMESTAMP, job_name
from kubetui.controllers.ttlafterfinished import expires_at

pytestmark = pytest.mark.asyncio

START = dt.datetime(2026, 12, 7, 10, 0, 30, tzinfo=dt.timezone.utc).timestamp()


def cronjob(name="hello", schedule="*/1 * * * *", **spec):
    body = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name, "namespace": "default"},
            "spec": {"schedule": schedule, "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox"}]}}}}}}
    body["spec"].update(spec)
    return body


async def jobs(api):
    return sorted((await api.list("jobs", "default"))["items"], key=lambda j: j["metadata"]["name"])


async def complete(api, clock, job, cond="Complete"):
    job = await api.get("jobs", job["metadata"]["name"], "default")
    now = dt.datetime.fromtimestamp(clock.time(), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    job["status"] = {"conditions": [{"type": cond, "status": "True", "lastTransitionTime": now}],
                     **({"completionTime": now, "succeeded": 1} if cond == "Complete" else {"failed": 1})}
    await api.update("jobs", job, "default", subresource="status")


@pytest.fixture
async def at_start(clock):
    await clock.advance(START - clock.time())
    return clock


async def test_every_minute_creates_a_named_job_and_tracks_it(api, at_start, manager_for):
    clock = at_start
    cm = await manager_for("cronjob")
    cj = await api.create("cronjobs", cronjob(), "default")
    await settle(cm)
    assert await jobs(api) == []
    await settle(cm, clock, 31)  # 10:01:01
    [job] = await jobs(api)
    t = dt.datetime(2026, 12, 7, 10, 1, tzinfo=dt.timezone.utc).timestamp()
    assert job["metadata"]["name"] == job_name("hello", t) == f"hello-{int(t // 60)}"
    assert job["metadata"]["annotations"][SCHEDULED_TIMESTAMP] == "2026-12-07T10:01:00Z"
    ref = job["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["uid"], ref["controller"]) == ("CronJob", cj["metadata"]["uid"], True)
    st = (await api.get("cronjobs", "hello", "default"))["status"]
    assert st["lastScheduleTime"] == "2026-12-07T10:01:00Z"
    assert [a["name"] for a in st["active"]] == [job["metadata"]["name"]]
    await complete(api, clock, job)
    await settle(cm)
    st = (await api.get("cronjobs", "hello", "default"))["status"]
    assert "active" not in st and st["lastSuccessfulTime"]
    assert any("Saw completed job: hello-" in m and "condition: Complete" in m
               for m in await events(api, "SawCompletedJob"))


async def test_forbid_skips_while_a_run_is_active_and_replace_replaces(api, at_start, manager_for):
    clock = at_start
    cm = await manager_for("cronjob")
    await api.create("cronjobs", cronjob("f", concurrencyPolicy="Forbid"), "default")
    await api.create("cronjobs", cronjob("r", concurrencyPolicy="Replace"), "default")
    await settle(cm, clock, 31)
    await settle(cm, clock, 60)
    names = [j["metadata"]["name"] for j in await jobs(api) if not j["metadata"].get("deletionTimestamp")]
    assert len([n for n in names if n.startswith("f-")]) == 1
    assert len([n for n in names if n.startswith("r-")]) == 1
    assert any(m.startswith("Deleted job r-") for m in await events(api, "SuccessfulDelete"))


async def test_history_limits_and_suspend(api, at_start, manager_for):
    clock = at_start
    cm = await manager_for("cronjob")
    await api.create("cronjobs", cronjob(successfulJobsHistoryLimit=1), "default")
    for _ in range(3):
        await settle(cm, clock, 60)
        for j in await jobs(api):
            if not (j.get("status") or {}).get("conditions"):
                await complete(api, clock, j)
        await settle(cm)
    assert len([j for j in await jobs(api) if not j["metadata"].get("deletionTimestamp")]) == 1
    await api.patch("cronjobs", "hello", {"spec": {"suspend": True}}, "default")
    await settle(cm)
    before = len(await jobs(api))
    await settle(cm, clock, 180)
    assert len(await jobs(api)) == before


async def test_starting_deadline_and_too_many_missed(api, at_start, manager_for):
    clock = at_start
    cm = await manager_for("cronjob")
    await api.create("cronjobs", cronjob(), "default")
    await settle(cm)
    await cm.stop()  # the controller is down for three hours
    await clock.advance(3 * 3600)
    cm2 = await manager_for("cronjob")
    await settle(cm2)
    assert any(m.startswith("too many missed start times: ") for m in await events(api, "TooManyMissedTimes"))
    assert len(await jobs(api)) == 1, "only the most recent missed run starts"


async def test_ttl_after_finished_deletes_the_job(api, clock, manager_for):
    cm = await manager_for("ttl-after-finished")
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once", "namespace": "default"},
           "spec": {"ttlSecondsAfterFinished": 10, "template": {"spec": {
               "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}
    await api.create("jobs", job, "default")
    await complete(api, clock, job)
    await settle(cm)
    got = await api.get("jobs", "once", "default")
    assert expires_at(got) is not None
    await settle(cm, clock, 5)
    assert await api.get("jobs", "once", "default")
    await settle(cm, clock, 6)
    left = [j for j in await jobs(api) if not j["metadata"].get("deletionTimestamp")]
    assert left == []


async def test_time_zone_runs_on_that_zones_wall_clock(api, clock, manager_for):
    start = dt.datetime(2026, 12, 7, 23, 59, 30, tzinfo=dt.timezone.utc).timestamp()  # 08:59:30 in Tokyo
    await clock.advance(start - clock.time())
    cm = await manager_for("cronjob")
    await api.create("cronjobs", cronjob("tokyo", "0 9 * * *", timeZone="Asia/Tokyo"), "default")
    await settle(cm)
    assert await jobs(api) == []
    await settle(cm, clock, 31)
    [job] = await jobs(api)
    assert job["metadata"]["annotations"][SCHEDULED_TIMESTAMP] == "2026-12-08T09:00:00+09:00"
    st = (await api.get("cronjobs", "tokyo", "default"))["status"]
    assert st["lastScheduleTime"] == "2026-12-08T00:00:00Z"
