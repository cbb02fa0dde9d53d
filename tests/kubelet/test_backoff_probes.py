"""CrashLoopBackOff timing on a FakeClock, and the probe state machine."""

import asyncio

import pytest

from kubetui.clock import FakeClock
from kubetui.kubelet.backoff import Backoff
from kubetui.kubelet.probes import (LIVENESS, READINESS, STARTUP, ProbeSettings, ProbeState, ProbeWorker,
                                    http_get, tcp_socket)
from kubetui.kubelet.timefmt import duration


def test_backoff_doubles_to_cap_and_resets_after_long_run():
    clock = FakeClock()
    b = Backoff(10, 40, clock)
    t = clock.time()
    assert not b.in_backoff_since("c", t)          # first crash: restart at once
    delays = []
    for _ in range(5):
        delays.append(b.next("c", clock.time()))
    assert delays == [10, 20, 40, 40, 40]
    finished = clock.time()
    assert b.remaining("c", finished) == 40
    clock._now += 15
    assert b.remaining("c", finished) == 25
    # a container that ran longer than 2x the cap starts over
    clock._now += 100
    assert not b.in_backoff_since("c", clock.time())
    assert b.next("c", clock.time()) == 10


def test_a_startup_probe_fails_for_good_after_failure_threshold_failures_without_success():
    st = ProbeState(STARTUP, ProbeSettings(failure_threshold=3))
    assert [st.record(False) for _ in range(3)] == [False, False, True] and st.failed and not st.result
    ok = ProbeState(STARTUP, ProbeSettings(failure_threshold=2))
    ok.record(False)
    ok.record(True)
    assert ok.result and not ok.failed


@pytest.mark.parametrize("kind,threshold_ok,threshold_fail,outcomes,results", [
    (READINESS, 1, 3, [True, False, False, False, True], [True, True, True, False, True]),
    (LIVENESS, 1, 2, [False, True, False, False], [True, True, True, False]),
    (STARTUP, 2, 3, [True, True], [False, True]),
    (READINESS, 2, 1, [True, False, True, True], [False, False, False, True]),
])
def test_probe_state_thresholds(kind, threshold_ok, threshold_fail, outcomes, results):
    st = ProbeState(kind, ProbeSettings(success_threshold=threshold_ok, failure_threshold=threshold_fail))
    got = []
    for ok in outcomes:
        st.record(ok)
        got.append(st.result)
    assert got == results


async def test_probe_worker_delay_period_and_gate_on_fake_clock():
    clock = FakeClock()
    calls = []
    outcomes = iter([False, False, True])

    async def probe(timeout):
        calls.append(clock.monotonic())
        return next(outcomes, True), "nope"
    changed, failures = [], []
    open_gate = {"v": False}
    w = ProbeWorker(READINESS, ProbeSettings(initial_delay=5, period=2, failure_threshold=1), probe, clock,
                    gate=lambda: open_gate["v"], on_change=lambda: changed.append(w.result),
                    on_failure=failures.append)
    w.start()
    await asyncio.sleep(0)                    # let the worker start its initial delay at t=0
    await clock.advance(7, step=1)
    assert calls == []                        # gate closed (startup probe not passed yet)
    open_gate["v"] = True
    await clock.advance(6, step=1)
    assert calls == [9.0, 11.0, 13.0] and changed == [True] and failures == ["nope", "nope"]
    w.stop()


async def test_http_and_tcp_probe_handlers():
    async def handle(reader, writer):
        line = await reader.readline()
        code = 200 if b"/ok" in line else 503
        writer.write(f"HTTP/1.1 {code} X\r\nContent-Length: 0\r\n\r\n".encode())
        await writer.drain()
        writer.close()
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    assert await http_get("127.0.0.1", port, "/ok", 1) == (True, "")
    assert await http_get("127.0.0.1", port, "/bad", 1) == (False, "HTTP probe failed with statuscode: 503")
    assert (await tcp_socket("127.0.0.1", port, 1))[0]
    server.close()
    await server.wait_closed()
    ok, msg = await tcp_socket("127.0.0.1", port, 1)
    assert not ok and msg.endswith("connect: connection refused")


@pytest.mark.parametrize("s,text", [(10, "10s"), (80, "1m20s"), (300, "5m0s"), (2.5, "2.5s")])
def test_duration_like_go(s, text):
    assert duration(s) == text
