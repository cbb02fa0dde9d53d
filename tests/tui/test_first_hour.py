"""Pilot tests for the screens a new user meets in the first hour (issue 12's screen items).

Against the in-memory fake cluster (``tests.tui.fakes``); each waits on real
sync points, never on wall-clock sleeps.
"""

from __future__ import annotations

import re

from textual.widgets import DataTable

from kubetui.tui.screens.browser import BrowserScreen
from kubetui.tui.screens.cluster_map import ClusterMapScreen
from kubetui.tui.screens.help import HelpScreen
from tests.tui.test_app import settle, wait_screen

#: what an internal action name looks like: ``switch_mode('map')``, ``select_step(1)``, ``toggle_theme``
ACTION_NAME = re.compile(r"^\w+\(.*\)$|^[a-z]+(_[a-z]+)+$|^app\.|^screen\.")


async def test_help_shows_plain_descriptions_never_action_names(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        for mode, screen_type, resources in (("map", ClusterMapScreen, ("nodes", "pods")),
                                             ("browse", BrowserScreen, ("pods",))):
            app.switch_mode(mode)
            await wait_screen(pilot, screen_type)
            await settle(app, pilot, *resources)
            await pilot.press("question_mark")
            help_screen = await wait_screen(pilot, HelpScreen)
            table = help_screen.query_one(DataTable)
            cells = [str(c) for r in range(table.row_count) for c in table.get_row_at(r)]
            actions = {action for _, action, _ in help_screen.rows}
            assert "switch_mode('map')" in actions and table.row_count == len(help_screen.rows)
            shown_as_action = [c for c in cells if c in actions or ACTION_NAME.match(c)]
            assert shown_as_action == [], f"help shows internal action names: {shown_as_action}"
            assert "the cluster map: control plane, nodes and their pods" in cells
            # Browser-safe twins of the keys a browser keeps (issue 12 item 24) are listed with them.
            assert {"ctrl+l / L", "ctrl+t / T", "ctrl+p / P"} <= set(cells)
            assert mode != "map" or "ctrl+d / delete" in cells
            await pilot.press("escape")


async def test_command_bar_output_wraps_scrolls_and_keeps_the_map_visible(make_app):
    """Issue 12 item 17: long lines wrap (nothing cut), the output scrolls, the map stays in sight."""
    from kubetui.tui.screens.command import CommandScreen
    from textual.widgets import RichLog

    app = make_app()
    long_lines = [f"line {i} " + " ".join(["pod/web-5f77454d7-mck92"] * 12) for i in range(40)]
    app.command_output = list(long_lines)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_screen(pilot, ClusterMapScreen)
        await settle(app, pilot, "nodes", "pods")
        await pilot.press("colon")
        screen = await wait_screen(pilot, CommandScreen)
        await pilot.pause()
        await pilot.pause()
        out = screen.query_one("#command-output", RichLog)
        width = out.scrollable_content_region.width
        assert out.virtual_size.width <= width, "output wider than its pane: lines are cut"
        shown = " ".join(line.text.strip() for line in out.lines)
        assert shown.count("pod/web-5f77454d7-mck92") == 40 * 12, "some of the output is missing"
        # The pane takes at most part of the screen: the map (its control plane strip) stays visible.
        pane = screen.query_one("#command-pane")
        assert pane.region.y >= 30 // 4, f"the command pane covers the map: {pane.region}"
        assert app.screen_stack[-2].query_one("#control-plane").region.y < pane.region.y
        # It scrolls: at the end after output, page up moves back.
        assert out.max_scroll_y > 0 and out.scroll_y == out.max_scroll_y
        before = out.scroll_y
        await pilot.press("pageup")
        await pilot.pause()
        assert out.scroll_y < before


async def test_command_bar_runs_kubetui_commands_only_with_the_prefix(make_app, tmp_path):
    """Issue 12 item 14: ``kubetui explain …`` runs kubetui's command against this cluster's state dir;
    ``explain …`` alone (or ``kubectl explain``) stays kubectl's."""
    from kubetui.tui.screens.command import CommandScreen
    from tests.tui.fakes import FakeBackend
    from tests.tui.test_app import wait_workers

    backend = FakeBackend()
    backend.kubeconfig_path = tmp_path / "lab" / "kubeconfig"   # a state dir with no cluster in it
    app = make_app(backend=backend)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("colon")
        await wait_screen(pilot, CommandScreen)
        await pilot.press(*"kubetui explain pod hello", "enter")
        await wait_workers(app, "kubectl")
        out = "\n".join(app.command_output)
        assert "$ kubetui explain pod hello" in out
        # kubetui's own CLI answered, about the TUI's cluster (not kubectl's "unknown command")
        assert f"no cluster at {tmp_path / 'lab'}" in out, out
        assert "unknown command" not in out
        app.command_output.clear()
        await pilot.press(*"explain pods --recursive=false", "enter")
        await wait_workers(app, "kubectl")
        assert app.command_output[0] == "$ kubectl explain pods --recursive=false"
        app.command_output.clear()
        await pilot.press(*"kubetui up", "enter")
        await pilot.pause()
        assert "does not run in the command bar" in "\n".join(app.command_output)


async def test_command_bar_echoes_the_line_as_typed_with_its_quotes(make_app, tmp_path):
    """first-hour item 4: the echo kept the words but dropped the quotes (``--overrides={"a": 1}``),
    which reads as a different command from the one typed."""
    from kubetui.tui.screens.command import CommandScreen
    from tests.tui.fakes import FakeBackend
    from tests.tui.test_app import wait_workers

    backend = FakeBackend()
    backend.kubeconfig_path = tmp_path / "lab" / "kubeconfig"
    app = make_app(backend=backend)
    typed = """run x --image=busybox --dry-run=client -o yaml --overrides='{"spec": {"hostNetwork": true}}'"""
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("colon")
        screen = await wait_screen(pilot, CommandScreen)
        screen.query_one("#command-input").value = typed
        await pilot.press("enter")
        await wait_workers(app, "kubectl")
        assert app.command_output[0] == f"$ kubectl {typed}", app.command_output[0]
        app.command_output.clear()
        screen.query_one("#command-input").value = 'k get pods -l "app in (web, api)"'
        await pilot.press("enter")
        await wait_workers(app, "kubectl")
        assert app.command_output[0] == '$ kubectl get pods -l "app in (web, api)"'


async def test_age_ticks_without_any_change(make_app, monkeypatch):
    """Issue 12 item 16: AGE (and events' LAST SEEN) move on with the clock, not only when objects change."""
    from kubetui.tui.screens.events import EventsScreen
    from tests.tui.test_app import wait_for

    monkeypatch.setattr(BrowserScreen, "AGE_TICK_SECONDS", 0.05, raising=False)
    monkeypatch.setattr(EventsScreen, "AGE_TICK_SECONDS", 0.05, raising=False)
    app = make_app(start="browse")
    async with app.run_test(size=(120, 40)) as pilot:
        browser = await wait_screen(pilot, BrowserScreen)
        await settle(app, pilot, "pods")
        table = browser.table
        age = list(table.columns)[[str(c.label) for c in table.columns.values()].index("AGE")]
        assert table.get_cell("default/warming", age) == "30s"
        await app.clock.advance(45)
        await wait_for(pilot, lambda: table.get_cell("default/warming", age) == "75s")
        assert table.get_cell("default/hog", age) == "4m5s"      # 200 s + 45 s
        app.switch_mode("events")
        events = await wait_screen(pilot, EventsScreen)
        await settle(app, pilot, "events")
        grid = events.query_one("#events-table", DataTable)
        seen = list(grid.columns)[0]
        key = next(k for k in events.shown if k.startswith("default/crasher."))
        assert grid.get_cell(key, seen) == "65s"             # 20 s before the start, 45 s since
        await app.clock.advance(30)
        await wait_for(pilot, lambda: grid.get_cell(key, seen) == "95s")


async def _footer_overflow(app, pilot) -> list[str]:
    """Footer keys drawn (partly) off screen or over another key."""
    from textual.widgets._footer import FooterKey

    await pilot.pause()
    width = app.screen.size.width
    keys = [k for k in app.screen.query(FooterKey) if k.display]
    spans = sorted((k.region.x, k.region.right, f"{k.key_display} {k.description}") for k in keys)
    bad = [label for x, right, label in spans if x < 0 or right > width or not right > x]
    bad += [b[2] for a, b in zip(spans, spans[1:]) if b[0] < a[1]]
    return bad


async def test_footer_fits_at_100_columns_on_every_main_screen(make_app):
    """Issue 12 item 19: at 100 columns the footer was cut (the views' keys and the palette fell off)."""
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        for mode, screen_type in (("map", ClusterMapScreen), ("browse", BrowserScreen)):
            app.switch_mode(mode)
            await wait_screen(pilot, screen_type)
            await settle(app, pilot, "nodes", "pods")
            assert await _footer_overflow(app, pilot) == [], mode
        app.switch_mode("events")
        await pilot.pause()
        assert await _footer_overflow(app, pilot) == []


async def test_map_uses_the_width_it_has(make_app, backend):
    """Issue 12 item 19: at 200 columns panels fill the width and pod names are not shortened needlessly."""
    from tests.tui.fakes import pod
    from kubetui.tui.widgets.node_panel import NodePanel

    backend.client.put("pods", pod("payments-api-7d4b9c8f6-x2x9z", node_name="node-1", labels={"app": "payments"}))
    app = make_app()
    async with app.run_test(size=(200, 60)) as pilot:
        screen = await wait_screen(pilot, ClusterMapScreen)
        await settle(app, pilot, "nodes", "pods")
        await pilot.pause()
        panels = list(screen.query(NodePanel))
        right = max(p.region.right for p in panels)
        assert right >= 200 - 4, f"{200 - right} columns stay empty right of the node panels"
        drawn = "\n".join(str(p.render()) for p in panels)
        assert "payments-api-7d4b9c8f6-x2x9z" in drawn and "web-7d4b9c8f6-abcde" in drawn, drawn
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await wait_screen(pilot, ClusterMapScreen)
        await settle(app, pilot, "nodes", "pods")
        await pilot.pause()
        panels = list(screen.query(NodePanel))
        assert max(p.region.right for p in panels) >= 100 - 4
        assert all(p.region.width >= 36 for p in panels), "panels too narrow for their bars"


async def test_traffic_says_no_endpoint_accepts_the_target_port_and_why(make_app, backend):
    """Issue 12 item 26: ``kubectl expose deployment web --port 80`` for an app on 8080: every connection
    is refused; the traffic view says so and why (targetPort 80 vs containerPort 8080)."""
    from kubetui.tui.screens.traffic import TrafficScreen
    from tests.tui.fakes import pod
    from tests.tui.test_app import wait_for

    c = backend.client
    for i, ip in enumerate(("10.244.1.9", "10.244.2.9")):
        p = pod(f"hello-5f77454d7-x{i}xxx", node_name=f"node-{i + 1}", labels={"app": "hello"}, ip=ip)
        p["spec"]["containers"][0]["ports"] = [{"containerPort": 8080, "protocol": "TCP"}]
        c.put("pods", p)
    c.put("services", {"metadata": {"name": "hello", "namespace": "default"},
                       "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.30", "selector": {"app": "hello"},
                                "ports": [{"port": 80, "targetPort": 80, "protocol": "TCP"}]}})
    c.put("endpoints", {"metadata": {"name": "hello", "namespace": "default"},
                        "subsets": [{"addresses": [{"ip": ip, "targetRef": {"kind": "Pod", "name": f"hello-5f77454d7-x{i}xxx"}}
                                                   for i, ip in enumerate(("10.244.1.9", "10.244.2.9"))],
                                     "ports": [{"port": 80, "protocol": "TCP"}]}]})
    backend.probes["hello"] = {"10.244.1.9:80": "refused", "10.244.2.9:80": "refused"}
    backend.probes["web"] = {"10.244.1.5:80": "open", "10.244.2.7:80": "open"}
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_screen(pilot, ClusterMapScreen)
        await settle(app, pilot, "pods")
        screen = TrafficScreen(c.objects["services"]["default/hello"])
        app.push_screen(screen)
        await wait_for(pilot, lambda: app.screen is screen and screen.is_mounted)
        await app.bridge.wait_synced("endpoints", "pods")
        screen.poll()
        summary = str(screen.query_one("#traffic-summary").render())
        assert "No endpoint accepts connections on port 80" in summary, summary
        assert "targetPort 80, but its pods declare containerPort 8080" in summary
        await pilot.press("escape")
        await wait_screen(pilot, ClusterMapScreen)
        healthy = TrafficScreen(c.objects["services"]["default/web"])
        app.push_screen(healthy)
        await wait_for(pilot, lambda: app.screen is healthy and healthy.is_mounted)
        await pilot.pause()
        healthy.poll()
        text = str(healthy.query_one("#traffic-summary").render())
        assert "2 ready endpoints" in text and "accepts" not in text
