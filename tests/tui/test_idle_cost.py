"""What an idle TUI costs: nothing is rebuilt, polled or blinked that nobody looks at.

A hosted class runs thirty web sessions on one machine (issue 17), so what each
idle session does, times thirty, is what every keystroke waits behind. These
tests pin the behaviour that keeps an idle session cheap; the figures are
``kubetui bench hosted``'s (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio

from textual.widgets import Input
from textual.widgets._footer import FooterKey

from kubetui.client import views
from kubetui.tui.backends import KubeconfigBackend
from kubetui.tui.screens.browser import BrowserScreen
from kubetui.tui.screens.cluster_map import ClusterMapScreen
from kubetui.tui.screens.command import CommandScreen
from kubetui.tui.widgets.control_plane import ComponentIndicator, ControlPlanePanel
from kubetui.tui.widgets.footer import FittingFooter
from tests.tui.test_app import settle, wait_for, wait_screen


async def test_a_view_shown_again_keeps_its_footer_keys_until_they_change(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await wait_screen(pilot, ClusterMapScreen)
        await settle(app, pilot, "nodes", "pods")
        footer = screen.query_one(FittingFooter)
        await wait_for(pilot, lambda: bool(footer.query(FooterKey)))
        keys = list(footer.query(FooterKey))
        await pilot.press("2")
        await wait_screen(pilot, BrowserScreen)
        await pilot.press("1")
        await wait_screen(pilot, ClusterMapScreen)
        await pilot.pause()
        await pilot.pause()
        # the same key widgets: showing the map again rebuilt nothing
        assert list(footer.query(FooterKey)) == keys
        # keys that do change are drawn
        screen._bindings.bind("x", "app.bell", "Ring the bell")
        screen.refresh_bindings()
        await wait_for(pilot, lambda: any(k.description == "Ring the bell" for k in footer.query(FooterKey)))


async def test_the_control_plane_strip_asks_only_while_its_view_shows(make_app, backend):
    asked = []
    counters = backend.control_plane_activity

    def counting() -> dict[str, int]:
        asked.append(app.current_mode)
        return counters()
    backend.control_plane_activity = counting
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await wait_screen(pilot, ClusterMapScreen)
        await settle(app, pilot, "nodes", "pods")
        panel = screen.query_one(ControlPlanePanel)
        ind = screen.query_one("#cp-scheduler", ComponentIndicator)
        await pilot.press("2")
        await wait_screen(pilot, BrowserScreen)
        asked.clear()
        panel.poll()                                    # its tick while the browser shows
        assert asked == []
        backend.activity["scheduler"] += 50            # work done while nobody looked
        await pilot.press("1")
        await wait_screen(pilot, ClusterMapScreen)
        panel.poll()
        assert asked and set(asked) == {"map"}
        assert ind.delta == 0                           # a new baseline, not "50/s"
        backend.activity["scheduler"] += 2
        panel.poll()
        assert ind.delta == 2


async def test_the_backend_stops_polling_what_no_view_asked_for_lately(tmp_path, monkeypatch):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:9', insecure-skip-tls-verify: true}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u, namespace: team}}]\n")
    fetched = []

    async def activity(client) -> dict[str, int]:
        fetched.append(len(fetched))
        return {"apiserver": len(fetched)}
    monkeypatch.setattr(views, "activity", activity)
    backend = KubeconfigBackend(kubeconfig)
    backend.POLL_SECONDS = 0                            # poll as fast as the loop turns
    now = [0.0]
    backend.now = lambda: now[0]
    try:
        assert backend.control_plane_activity() == {}   # nothing fetched yet: the poller starts
        while len(fetched) < 3:
            await asyncio.sleep(0)
        assert backend.control_plane_activity()["apiserver"] >= 3
        now[0] += 60                                     # the view stopped asking (another view shows)
        await asyncio.wait_for(backend._poller, 10)     # the poller ends by itself
        stopped_at = len(fetched)
        for _ in range(20):
            await asyncio.sleep(0)
        assert len(fetched) == stopped_at
        assert backend.control_plane_activity() == {}   # no stale counters for a returning view
        while len(fetched) == stopped_at:               # asking again polls again
            await asyncio.sleep(0)
    finally:
        await backend.aclose()


async def test_a_browser_session_shows_a_steady_cursor_a_terminal_a_blinking_one(make_app, monkeypatch):
    from kubetui.tui.app import KubetuiApp

    for web in (False, True):
        monkeypatch.setattr(KubetuiApp, "is_web", property(lambda self, web=web: web))
        app = make_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_screen(pilot, ClusterMapScreen)
            await pilot.press("colon")
            screen = await wait_screen(pilot, CommandScreen)
            box = screen.query_one("#command-input", Input)
            await wait_for(pilot, lambda: box.has_focus)
            await pilot.pause()
            assert box.cursor_blink is (not web)
