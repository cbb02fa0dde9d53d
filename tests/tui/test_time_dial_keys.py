"""The time dial's keys and bar in the TUI (issue 19): z pauses and resumes, . steps, < and > set the speed.

Pilot against the fake cluster, whose backend turns a real ``TimeDial`` (the
control plane's, minus HTTPS) so the keys act on the same object the control
plane serves.
"""

from __future__ import annotations

import asyncio

from kubetui.client.views import time_dial_object
from kubetui.clock import FakeClock
from kubetui.timedial import TimeDial
from kubetui.tui.screens.cluster_map import ClusterMapScreen
from kubetui.tui.time_dial import next_speed, step_message
from kubetui.tui.widgets.time_dial import TimeDialBar
from tests.tui.fakes import FIXED_NOW, FakeBackend
from tests.tui.test_app import wait_for, wait_screen


class DialBackend(FakeBackend):
    """The fake cluster with a real time dial behind ``time_dial`` (what cluster/views.py serves)."""

    def __init__(self) -> None:
        super().__init__()
        self.dial = TimeDial(FakeClock(FIXED_NOW))
        self.turns: list[str] = []

    async def time_dial(self, action=None, body=None):
        body = body or {}
        extra = {}
        if action is not None:
            self.turns.append(action)
        if action == "pause":
            self.dial.pause()
        elif action == "resume":
            self.dial.resume()
        elif action == "speed":
            self.dial.set_speed(body["speed"])
        elif action == "step":
            ran = await self.dial.step(int(body.get("count", 1)), wait=float(body.get("waitSeconds", 1)))
            extra = {"ran": [t.as_dict() for t in ran], "reconciles": []}
        return time_dial_object(self.dial.state(), **extra)


def test_next_speed_moves_along_the_dial_and_stops_at_its_ends():
    assert [next_speed(1.0, -1), next_speed(0.5, -1), next_speed(0.25, -1), next_speed(0.1, -1)] == \
        [0.5, 0.25, 0.1, 0.1]
    assert [next_speed(0.1, 1), next_speed(0.3, 1), next_speed(1.0, 1)] == [0.25, 0.5, 1.0]


def test_step_message_says_what_ran_what_it_decided_and_what_comes_next():
    doc = {"ran": [{"component": "deployment", "key": "default/web"}],
           "reconciles": [{"controller": "deployment", "observed": ["want 3, have 0"],
                           "decided": [{"text": "create rs web-5c4f8 with 3 replicas"}],
                           "writes": [{"verb": "create"}]}],
           "status": {"waiting": [{"component": "replicaset", "key": "default/web-5c4f8"}]}}
    assert step_message(doc).splitlines() == [
        "ran: deployment default/web", "saw: want 3, have 0", "decided: create rs web-5c4f8 with 3 replicas",
        "1 API write", "next: replicaset default/web-5c4f8"]
    assert step_message({"ran": []}).startswith("Nothing was waiting")


async def test_keys_pause_step_slow_and_resume_the_control_plane_and_the_bar_says_so(make_app):
    backend = DialBackend()
    app = make_app(backend=backend)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_screen(pilot, ClusterMapScreen)
        bar = app.screen.query_one(TimeDialBar)
        assert not bar.display                      # running at 1x: no bar, no room taken

        await pilot.press("z")
        await wait_for(pilot, lambda: backend.dial.paused and "PAUSED" in str(bar.content))
        assert bar.display and bar.has_class("-paused")

        # something reaches the gate; the bar names it; . lets exactly it through
        ran: list[str] = []

        async def worker() -> None:
            t = await backend.dial.admit("deployment", "default/web")
            ran.append(t.key)
            backend.dial.done(t)
        task = asyncio.create_task(worker())
        await wait_for(pilot, lambda: backend.dial.waiting() == [("deployment", "default/web")])
        app.refresh_time_dial()
        await wait_for(pilot, lambda: "next: deployment default/web" in str(bar.content))
        await pilot.press("full_stop")
        await wait_for(pilot, lambda: ran == ["default/web"])
        await task
        assert backend.turns.count("step") == 1

        await pilot.press("less_than_sign")
        await wait_for(pilot, lambda: backend.dial.speed == 0.5)
        await pilot.press("less_than_sign")
        await wait_for(pilot, lambda: backend.dial.speed == 0.25)
        await pilot.press("greater_than_sign")
        await wait_for(pilot, lambda: backend.dial.speed == 0.5)

        await pilot.press("z")                      # resume: slow motion now, the bar says so
        await wait_for(pilot, lambda: not backend.dial.paused and "SLOW MOTION 0.5x" in str(bar.content))
        assert bar.has_class("-slowed")
        await pilot.press("greater_than_sign")
        await wait_for(pilot, lambda: backend.dial.speed == 1.0 and not bar.display)
        await backend.dial.close()


async def test_without_a_dial_the_keys_say_so_and_nothing_breaks(make_app):
    app = make_app()                                 # the plain fake backend: no kubetui control plane
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_screen(pilot, ClusterMapScreen)
        await pilot.press("z")
        await wait_for(pilot, lambda: any("no time dial" in str(n.message) for n in app._notifications))
        assert not app.screen.query_one(TimeDialBar).display


async def test_a_user_kept_off_the_dial_is_not_asked_again_every_second(make_app):
    from kubetui.api import errors

    class Forbidding(DialBackend):
        calls = 0

        async def time_dial(self, action=None, body=None):
            Forbidding.calls += 1
            raise errors.Forbidden('timedial.controlplane.kubetui.dev is forbidden: User "dave" cannot list '
                                   'resource "timedial"')

    backend = Forbidding()
    app = make_app(backend=backend)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_screen(pilot, ClusterMapScreen)
        await wait_for(pilot, lambda: Forbidding.calls >= 1)
        await wait_for(pilot, lambda: app._dial_timer is not None and app._dial_timer._task is None)   # stopped
        assert not app.screen.query_one(TimeDialBar).display
