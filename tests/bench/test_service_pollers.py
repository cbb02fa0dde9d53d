"""``kubetui bench service``'s endpoint pollers end when the figure is done, even when a cancellation
is swallowed (Python 3.11's ``asyncio.wait_for`` does that when the awaited call completes as the
cancel arrives; the bench then hung for good in its ``gather``)."""

from __future__ import annotations

import asyncio

from kubetui.bench import service


async def test_a_poller_that_loses_its_cancellation_still_stops(monkeypatch):
    calls = {"n": 0, "swallowed": False}
    inside = asyncio.Event()

    async def endpoints(node: str) -> set[str]:
        calls["n"] += 1
        inside.set()
        try:
            await asyncio.sleep(0.5)
        except asyncio.CancelledError:
            if calls["swallowed"]:
                raise
            calls["swallowed"] = True          # what wait_for does in the race: the cancel is lost
        return {"10.244.1.2:8080"}

    monkeypatch.setattr(service, "_proxy_endpoints", endpoints)
    programmed: dict[str, dict[str, float]] = {}
    stop = asyncio.Event()
    task = asyncio.create_task(service._poll_endpoints("node-1", programmed, stop))
    await inside.wait()                        # the cancel lands inside the fetch, as in the race
    await asyncio.wait_for(service._stop([task], stop), 3)
    assert task.done() and calls["swallowed"]
    assert "node-1" in programmed["10.244.1.2:8080"]
