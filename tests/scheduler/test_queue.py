"""The scheduling queue: ordering, backoff on a FakeClock, and moves on cluster events."""

from __future__ import annotations

import asyncio

from helpers import make_pod
from kubetui.clock import FakeClock
from kubetui.scheduler.framework import NODE_ADD, POD_DELETE, PodInfo
from kubetui.scheduler.queue import (ACTIVE, BACKOFF, UNSCHEDULABLE, SchedulingQueue, backoff_duration)
from kubetui.timings import KUBERNETES, LAB


def test_backoff_duration_doubles_up_to_the_cap():
    assert [backoff_duration(n, 1.0, 10.0) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_active_queue_orders_by_priority_then_age():
    clock = FakeClock()
    q = SchedulingQueue(clock, KUBERNETES)
    q.add(PodInfo(make_pod("low-old")))
    clock._mono += 1
    q.add(PodInfo(make_pod("high", priority=1000)))
    clock._mono += 1
    q.add(PodInfo(make_pod("low-new")))
    assert [q.pop_nowait().key for _ in range(3)] == ["default/high", "default/low-old", "default/low-new"]
    assert q.pop_nowait() is None


async def test_unschedulable_pod_waits_for_a_relevant_event_then_backs_off():
    clock = FakeClock()
    q = SchedulingQueue(clock, KUBERNETES, event_plugins={NODE_ADD: {"NodeResourcesFit"},
                                                          "Other": {"SomethingElse"}})
    q.add(PodInfo(make_pod("p")))
    qp = q.pop_nowait()
    q.add_unschedulable(qp, {"NodeResourcesFit"}, q.scheduling_cycle)
    assert q.where("default/p") == UNSCHEDULABLE
    # an event no rejecting plugin cares about does not move it
    assert q.move_all_to_active_or_backoff("Other") == 0
    assert q.where("default/p") == UNSCHEDULABLE
    # a node appeared: retry, but only after the 1 s backoff of its first failure
    assert q.move_all_to_active_or_backoff(NODE_ADD) == 1
    assert q.where("default/p") == BACKOFF
    await clock.advance(0.5)
    q.flush_backoff_completed()
    assert q.where("default/p") == BACKOFF
    await clock.advance(0.6)
    q.flush_backoff_completed()
    assert q.where("default/p") == ACTIVE
    qp = q.pop_nowait()
    assert qp.attempts == 2


async def test_second_failure_backs_off_twice_as_long():
    clock = FakeClock()
    q = SchedulingQueue(clock, KUBERNETES)
    q.add(PodInfo(make_pod("p")))
    for attempt, wait in ((1, 1.0), (2, 2.0), (3, 4.0)):
        qp = q.pop_nowait()
        assert qp.attempts == attempt
        q.add_unschedulable(qp, (), q.scheduling_cycle, error=True)     # errors go straight to backoff
        assert q.where("default/p") == BACKOFF
        await clock.advance(wait - 0.01)
        q.flush_backoff_completed()
        assert q.where("default/p") == BACKOFF
        await clock.advance(0.02)
        q.flush_backoff_completed()
        assert q.where("default/p") == ACTIVE


def test_move_request_during_the_cycle_sends_the_pod_to_backoff_not_unschedulable():
    clock = FakeClock()
    q = SchedulingQueue(clock, LAB)
    q.add(PodInfo(make_pod("p")))
    qp = q.pop_nowait()
    cycle = q.scheduling_cycle
    q.move_all_to_active_or_backoff(POD_DELETE)      # e.g. a pod was deleted while we were filtering
    q.add_unschedulable(qp, {"NodeResourcesFit"}, cycle)
    assert q.where("default/p") == BACKOFF


async def test_left_over_unschedulable_pods_are_retried_after_the_maximum_wait():
    clock = FakeClock()
    q = SchedulingQueue(clock, LAB)
    q.add(PodInfo(make_pod("p")))
    q.add_unschedulable(q.pop_nowait(), {"X"}, q.scheduling_cycle)
    await clock.advance(LAB.scheduler_unschedulable_flush_seconds - 1)
    assert q.flush_unschedulable_left_over() == 0
    await clock.advance(2)
    assert q.flush_unschedulable_left_over() == 1
    assert q.where("default/p") == ACTIVE


async def test_updating_an_unschedulable_pod_retries_it_and_delete_removes_it():
    clock = FakeClock()
    q = SchedulingQueue(clock, LAB)
    q.add(PodInfo(make_pod("p")))
    q.add_unschedulable(q.pop_nowait(), {"TaintToleration"}, q.scheduling_cycle)
    await clock.advance(5)
    q.update(PodInfo(make_pod("p", tolerations=[{"operator": "Exists"}])))
    assert q.where("default/p") == ACTIVE
    assert q.pop_nowait().pod_info.tolerations == [{"operator": "Exists"}]
    q.add(PodInfo(make_pod("gone")))
    q.delete("default/gone")
    assert q.pop_nowait() is None and len(q) == 0


async def test_pop_waits_for_a_pod_and_the_flush_loop_runs_on_the_clock():
    clock = FakeClock()
    q = SchedulingQueue(clock, LAB)
    flusher = asyncio.create_task(q.run())
    waiter = asyncio.create_task(q.pop())
    await asyncio.sleep(0)
    assert not waiter.done()
    q.add(PodInfo(make_pod("p")))
    qp = await asyncio.wait_for(waiter, 1)
    q.add_unschedulable(qp, (), q.scheduling_cycle, error=True)
    waiter = asyncio.create_task(q.pop())
    await asyncio.sleep(0)
    assert not waiter.done()
    await clock.advance(1.0, step=0.1)           # LAB backoff: 0.2 s; flushed by the loop
    assert (await asyncio.wait_for(waiter, 1)).attempts == 2
    flusher.cancel()
    q.close()
