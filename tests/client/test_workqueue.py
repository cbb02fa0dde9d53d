"""The work queue behaves like client-go's: dedup, one worker per key, backoff on the clock."""

from __future__ import annotations

import asyncio

import pytest

from kubetui.client.workqueue import ItemExponentialRateLimiter, ShutDown, WorkQueue
from kubetui.clock import FakeClock


async def test_adding_a_waiting_key_twice_queues_it_once():
    q = WorkQueue()
    q.add("default/web")
    q.add("default/web")
    q.add("default/db")
    assert q.pending() == ["default/web", "default/db"]


async def test_a_key_added_while_processing_comes_back_only_after_done():
    q = WorkQueue()
    q.add("k")
    item = await q.get()
    assert item == "k"
    q.add("k")  # an event arrives while a worker holds the key
    assert len(q) == 0, "a second worker must not get the same key concurrently"
    q.done("k")
    assert q.pending() == ["k"]


async def test_get_waits_for_an_add_and_shutdown_wakes_waiters():
    q = WorkQueue()
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    assert not getter.done()
    q.add("x")
    assert await asyncio.wait_for(getter, 1) == "x"
    waiter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    await q.shut_down()
    with pytest.raises(ShutDown):
        await asyncio.wait_for(waiter, 1)


@pytest.mark.parametrize("failures,expected", [
    (1, [0.005]),
    (4, [0.005, 0.01, 0.02, 0.04]),
])
def test_backoff_doubles_per_item(failures, expected):
    r = ItemExponentialRateLimiter(0.005, 1000.0)
    assert [r.when("k") for _ in range(failures)] == expected
    assert r.when("other") == 0.005
    r.forget("k")
    assert r.when("k") == 0.005


def test_backoff_is_capped_at_1000_seconds():
    r = ItemExponentialRateLimiter()
    delays = [r.when("k") for _ in range(100)]
    assert max(delays) == 1000.0 and delays[-1] == 1000.0


async def test_add_rate_limited_waits_on_the_clock():
    clock = FakeClock()
    q = WorkQueue(clock=clock)
    for _ in range(3):
        q.add_rate_limited("k")  # 5 ms, then 10 ms, 20 ms: the earliest wins
    assert len(q) == 0
    await clock.advance(0.004)
    assert len(q) == 0
    await clock.advance(0.002)
    assert q.pending() == ["k"]
    assert q.num_requeues("k") == 3
    q.forget("k")
    assert q.num_requeues("k") == 0


async def test_add_after_keeps_the_earliest_time():
    clock = FakeClock()
    q = WorkQueue(clock=clock)
    q.add_after("k", 10)
    q.add_after("k", 2)
    assert q.waiting() == {"k": 2}
    await clock.advance(2)
    assert q.pending() == ["k"]
    await clock.advance(10)
    assert q.pending() == ["k"], "the superseded timer must not add it again"
