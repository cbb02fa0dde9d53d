"""The time dial (kubetui/timedial.py): its gate, its steps, its speeds and its clock, on a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from kubetui.clock import FakeClock
from kubetui.timedial import DialError, TimeDial, parse_speed


async def _spin(n: int = 20) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


@pytest.mark.parametrize("text, want", [("0.25x", 0.25), ("0.1", 0.1), ("1x", 1.0), ("50%", 0.5), (0.3, 0.3)])
def test_parse_speed(text, want):
    assert parse_speed(text) == want


@pytest.mark.parametrize("text", ["0.05x", "2x", "fast", "", "0x", "-1"])
def test_parse_speed_refuses_what_the_dial_cannot_do(text):
    with pytest.raises(DialError):
        parse_speed(text)


# --- the dial's clock ------------------------------------------------------------------------

async def test_dial_clock_stands_still_while_paused_and_runs_at_the_speed_while_slowed():
    base = FakeClock()
    dial = TimeDial(base)
    clock = dial.clock
    m0, t0 = clock.monotonic(), clock.time()
    assert t0 == base.time()
    await base.advance(10)
    assert clock.monotonic() - m0 == pytest.approx(10)
    dial.pause()
    await base.advance(30)
    assert clock.monotonic() - m0 == pytest.approx(10)
    assert clock.lag() == pytest.approx(30)
    dial.set_speed("0.5x")
    dial.resume()
    await base.advance(10)
    assert clock.monotonic() - m0 == pytest.approx(15)
    assert clock.time() - t0 == pytest.approx(15)
    dial.set_speed(1)
    await base.advance(4)
    assert clock.monotonic() - m0 == pytest.approx(19)
    assert clock.lag() == pytest.approx(35)       # the time held back stays behind


async def test_dial_clock_real_time_timers_keep_running_while_paused():
    base = FakeClock()
    dial = TimeDial(base)
    m0 = dial.clock.monotonic()
    dial.pause(real_time_timers=True)
    await base.advance(7)
    assert dial.clock.monotonic() - m0 == pytest.approx(7)
    assert dial.state()["realTimeTimers"] is True
    dial.resume()
    assert dial.state()["realTimeTimers"] is False


async def test_a_sleeper_on_the_dial_clock_does_not_wake_while_paused_and_is_retimed_by_the_speed():
    base = FakeClock()
    dial = TimeDial(base)
    woke: list[float] = []

    async def sleeper() -> None:
        await dial.clock.sleep(5)
        woke.append(base.monotonic())

    task = asyncio.create_task(sleeper())
    await _spin()
    await base.advance(2)            # 2 of 5 dial seconds
    dial.pause()
    await base.advance(100, step=1)
    assert not woke                  # a paused control plane lets no timer fire
    dial.set_speed(0.5)
    dial.resume()
    await base.advance(5, step=0.5)  # 2.5 dial seconds: still 0.5 to go
    assert not woke
    await base.advance(1.5, step=0.5)
    await task
    assert woke == [pytest.approx(108.0)]


# --- the gate ---------------------------------------------------------------------------------

async def test_running_at_1x_the_gate_never_waits():
    dial = TimeDial(FakeClock())
    ticket = await asyncio.wait_for(dial.admit("deployment", "default/web"), 1)
    dial.done(ticket)
    assert [t.key for t in dial.history] == ["default/web"]


async def test_paused_the_gate_holds_work_and_step_lets_exactly_n_through_in_arrival_order():
    dial = TimeDial(FakeClock())
    dial.pause()
    ran: list[str] = []

    async def worker(component: str, key: str) -> None:
        t = await dial.admit(component, key)
        ran.append(f"{component} {key}")
        dial.done(t)

    tasks = [asyncio.create_task(worker(c, k)) for c, k in
             [("deployment", "default/web"), ("scheduler", "default/web-1"), ("replicaset", "default/web-x")]]
    await _spin()
    assert ran == []
    assert dial.waiting() == [("deployment", "default/web"), ("scheduler", "default/web-1"),
                              ("replicaset", "default/web-x")]
    first = await dial.step(1)
    assert [(t.component, t.key, t.how) for t in first] == [("deployment", "default/web", "step")]
    assert ran == ["deployment default/web"]
    two = await dial.step(2)
    assert [t.component for t in two] == ["scheduler", "replicaset"]
    assert ran == ["deployment default/web", "scheduler default/web-1", "replicaset default/web-x"]
    # nothing left: a step waits a little for work, then reports that nothing ran
    assert await dial.step(1, wait=0.05) == []
    await asyncio.gather(*tasks)


async def test_step_waits_for_work_that_reaches_the_gate_meanwhile():
    dial = TimeDial(FakeClock())
    dial.pause()
    stepping = asyncio.create_task(dial.step(1, wait=5))
    await _spin()

    async def worker() -> None:
        dial.done(await dial.admit("job", "default/pi"))

    task = asyncio.create_task(worker())
    ran = await stepping
    await task
    assert [t.key for t in ran] == ["default/pi"]


async def test_step_is_refused_unless_paused():
    dial = TimeDial(FakeClock())
    with pytest.raises(DialError, match="not paused"):
        await dial.step(1)
    dial.pause()
    with pytest.raises(DialError):
        await dial.step(0)


async def test_resume_releases_every_held_item_in_order():
    dial = TimeDial(FakeClock())
    dial.pause()
    order: list[str] = []

    async def worker(key: str) -> None:
        dial.done(await dial.admit(key, key))
        order.append(key)

    tasks = [asyncio.create_task(worker(k)) for k in "abc"]
    await _spin()
    assert order == []
    dial.resume()
    await asyncio.gather(*tasks)
    assert order == ["a", "b", "c"]
    assert dial.state()["waiting"] == []


async def test_a_cancelled_waiter_leaves_the_gate():
    dial = TimeDial(FakeClock())
    dial.pause()
    t = asyncio.create_task(dial.admit("x", "k"))
    await _spin()
    t.cancel()
    with pytest.raises(asyncio.CancelledError):
        await t
    assert dial.waiting() == []
    assert await dial.step(1, wait=0.02) == []


async def test_slow_motion_lets_one_item_through_at_a_time_spaced_by_the_interval():
    base = FakeClock()
    dial = TimeDial(base, base_interval=1.0)
    dial.set_speed("0.25x")                      # (1/0.25 - 1) x 1 s = 3 s apart
    assert dial.spacing() == pytest.approx(3.0)
    starts: list[tuple[str, float]] = []

    async def worker(component: str) -> None:
        for _ in range(2):
            t = await dial.admit(component, "default/web")
            starts.append((component, base.monotonic()))
            await asyncio.sleep(0)
            dial.done(t)

    tasks = [asyncio.create_task(worker(c)) for c in ("deployment", "replicaset")]
    await _spin()
    await base.advance(12, step=0.5)
    await asyncio.gather(*tasks)
    # one line for every component, first come first served, 3 s apart
    assert starts == [("deployment", 0.0), ("replicaset", pytest.approx(3.0)),
                      ("deployment", pytest.approx(6.0)), ("replicaset", pytest.approx(9.0))]
    assert {t.how for t in dial.history} == {"pace"}


async def test_turning_the_speed_up_releases_what_waits():
    base = FakeClock()
    dial = TimeDial(base, base_interval=1.0)
    dial.set_speed(0.1)                          # 9 s apart
    dial.done(await asyncio.wait_for(dial.admit("c", "k"), 1))
    second = asyncio.create_task(dial.admit("c", "k"))
    await _spin()
    assert not second.done()
    dial.set_speed(1)
    dial.done(await asyncio.wait_for(second, 1))
    await dial.close()


async def test_pausing_in_slow_motion_holds_the_line_and_step_still_works():
    base = FakeClock()
    dial = TimeDial(base, base_interval=1.0)
    dial.set_speed(0.5)
    dial.pause()
    got = asyncio.create_task(dial.admit("c", "k"))
    await _spin()
    assert dial.waiting() == [("c", "k")]

    async def finish() -> None:
        dial.done(await got)
    f = asyncio.create_task(finish())
    assert [t.key for t in await dial.step(1)] == ["k"]
    await f
    await dial.close()


async def test_slow_motion_holds_back_only_after_items_that_changed_the_cluster():
    base = FakeClock()
    dial = TimeDial(base, base_interval=1.0)
    revision = [10]
    dial.revision = lambda: revision[0]
    dial.set_speed(0.5)                          # 1 s after each change
    starts: list[tuple[str, float]] = []

    async def worker(key: str, writes: bool) -> None:
        t = await dial.admit("c", key)
        starts.append((key, base.monotonic()))
        if writes:
            revision[0] += 1
        dial.done(t)

    tasks = [asyncio.create_task(worker(k, w)) for k, w in
             [("noop-1", False), ("noop-2", False), ("write-1", True), ("write-2", True), ("noop-3", False)]]
    await _spin(50)
    await base.advance(5, step=0.25)
    await asyncio.gather(*tasks)
    assert starts == [("noop-1", 0.0), ("noop-2", 0.0), ("write-1", 0.0),
                      ("write-2", pytest.approx(1.0)), ("noop-3", pytest.approx(2.0))]
    await dial.close()
