"""Pilot tests: every view and action of the TUI, against the in-memory fake cluster.

Each test waits on real sync points (the bridge's caches, worker completion,
``pilot.pause()`` for message processing), never on wall-clock sleeps.
"""

from __future__ import annotations

import asyncio

from textual.widgets import DataTable, Input, RichLog, Static, TabbedContent

from kubetui.tui.screens.browser import BrowserScreen
from kubetui.tui.screens.cluster_map import UNSCHEDULED, ClusterMapScreen
from kubetui.tui.screens.command import CommandScreen
from kubetui.tui.screens.confirm import ConfirmScreen
from kubetui.tui.screens.detail import DetailScreen
from kubetui.tui.screens.events import EventsScreen
from kubetui.tui.screens.help import HelpScreen
from kubetui.tui.screens.logs import LogsScreen
from kubetui.tui.screens.scheduler import SchedulerDecisionScreen
from kubetui.tui.screens.startup import StartupScreen
from kubetui.tui.screens.store import StoreScreen
from kubetui.tui.screens.traffic import TrafficScreen
from kubetui.tui.widgets.control_plane import ComponentIndicator
from kubetui.tui.widgets.node_panel import NodePanel
from tests.tui.fakes import FakeBackend, pod


async def settle(app, pilot, *resources: str) -> None:
    await app.bridge.wait_synced(*resources)
    await pilot.pause()
    await pilot.pause()


async def wait_screen(pilot, kind, tries: int = 50):
    """Wait (bounded, by message-loop turns) until the top screen is ``kind``."""
    for _ in range(tries):
        if isinstance(pilot.app.screen, kind):
            return pilot.app.screen
        await pilot.pause()
    raise AssertionError(f"screen is {pilot.app.screen!r}, not {kind.__name__}")


async def wait_workers(app, *groups: str) -> None:
    """Wait for the app's workers in ``groups`` to finish (the bridge's informers never do)."""
    for worker in [w for w in app.workers if w.group in groups]:
        await worker.wait()


async def wait_for(pilot, predicate, tries: int = 100) -> None:
    for _ in range(tries):
        if predicate():
            return
        await pilot.pause()
    raise AssertionError("condition not reached")


async def test_map_shows_nodes_pods_and_changes(make_app, backend):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot, "nodes", "pods")
        screen = await wait_screen(pilot, ClusterMapScreen)
        assert set(screen.panels) == {"node-1", "node-2", "node-3", UNSCHEDULED}
        assert "default/crasher" in screen.panels["node-1"].pods
        assert screen.panels["node-3"].has_class("-notready")
        assert "default/big" in screen.panels[UNSCHEDULED].pods
        # The scheduler binds "big" to node-2: the chip moves panels.
        moved = pod("big", node_name="node-2", state="ContainerCreating", cpu="4")
        backend.client.put("pods", moved)
        await app.bridge.wait_until(lambda: app.bridge.get("pods", "default/big")["spec"].get("nodeName") == "node-2")
        await pilot.pause()
        assert "default/big" in screen.panels["node-2"].pods
        assert UNSCHEDULED not in screen.panels
        # node-1 goes NotReady
        n1 = backend.client.objects["nodes"]["node-1"]
        n1["status"]["conditions"][0]["status"] = "False"
        backend.client.put("nodes", n1)
        await app.bridge.wait_until(lambda: app.bridge.get("nodes", "node-1")["status"]["conditions"][0]["status"] == "False")
        await pilot.pause()
        assert screen.panels["node-1"].has_class("-notready")
        assert screen.panels["node-1"].ready_state == "NotReady"


async def test_map_capacity_and_control_plane(make_app, backend):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot, "nodes", "pods")
        screen = await wait_screen(pilot, ClusterMapScreen)
        alloc = screen.panels["node-1"].allocation
        # crasher, old, warming and web-...-abcde request 100m each
        assert (alloc.cpu_requested, alloc.cpu_allocatable, alloc.pods) == (400, 2000, 4)
        ind = screen.query_one("#cp-scheduler", ComponentIndicator)
        assert ind.total == 9 and ind.delta == 0
        backend.activity["scheduler"] = 12
        screen.query_one("ControlPlanePanel").poll()
        assert ind.delta == 3 and ind.has_class("-active")


async def test_map_select_pod_by_keys_and_mouse_then_describe(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot, "nodes", "pods")
        screen = await wait_screen(pilot, ClusterMapScreen)
        await pilot.press("right")
        assert screen.selected_key == "default/crasher"
        await pilot.press("down")
        assert screen.selected_key == "default/hog"
        panel = screen.panels["node-1"]
        assert panel.selected_pod is None
        panel.action_click_pod("default/old")  # what a click on the chip runs (its @click meta)
        await pilot.pause()
        assert screen.selected_key == "default/old" and panel.selected_pod == "default/old"
        await pilot.press("d")
        detail = await wait_screen(pilot, DetailScreen)
        assert detail.active_tab == "describe"
        text = str(detail.query_one("#describe-body", Static).content)
        assert "Name:" in text and "old" in text and "Terminating" in text


async def test_mouse_click_on_chip_selects(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot, "nodes", "pods")
        screen = await wait_screen(pilot, ClusterMapScreen)
        panel = screen.panels[UNSCHEDULED]
        # the only chip of the unscheduled panel sits at its first content line
        await pilot.click(panel, offset=(3, 1))
        await pilot.pause()
        assert screen.selected_key == "default/big"


async def test_browser_filter_sort_namespace_and_kinds(make_app, backend):
    backend.client.put("pods", pod("dns-abc", ns="kube-system", node_name="node-1"))
    app = make_app(start="browse")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot, "pods")
        screen = await wait_screen(pilot, BrowserScreen)
        table = screen.table
        assert [c.label.plain for c in table.columns.values()][:4] == ["NAMESPACE", "NAME", "READY", "STATUS"]
        assert len(table.shown_keys) == 9
        await pilot.press("slash", *"crash")
        assert table.shown_keys == ["default/crasher"]
        await pilot.press("escape")
        assert len(table.shown_keys) == 9
        await pilot.press("S")  # sort by status
        statuses = [table.get_row(k)[3] for k in table.shown_keys]
        assert statuses == sorted(statuses, key=str.lower)
        await settle(app, pilot, "namespaces")
        await pilot.press("n")  # all -> default
        await pilot.pause()
        assert app.namespace == "default"
        assert "kube-system/dns-abc" not in table.shown_keys
        assert [c.label.plain for c in table.columns.values()][0] == "NAME"
        await pilot.press("right_square_bracket")  # next kind: deployments
        await settle(app, pilot, "deployments")
        assert screen.resource == "deployments" and table.shown_keys == ["default/web"]
        assert table.get_row("default/web") == ["web", "2/3", "3", "2", "10m"]


async def test_browser_follows_live_changes(make_app, backend):
    app = make_app(start="browse")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot, "pods")
        screen = await wait_screen(pilot, BrowserScreen)
        backend.client.put("pods", pod("crasher", node_name="node-1", state="Ready"))
        await app.bridge.wait_until(lambda: app.bridge.get("pods", "default/crasher")["status"]["containerStatuses"][0]["ready"])
        await wait_for(pilot, lambda: screen.table.get_row("default/crasher")[3] == "Running")
        await backend.client.delete("pods", "hog", "default")
        await wait_for(pilot, lambda: "default/hog" not in screen.table.shown_keys)


async def test_detail_yaml_events_owners_and_secret_masking(make_app):
    app = make_app(start="browse")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot, "pods", "events", "replicasets", "deployments")
        screen = await wait_screen(pilot, BrowserScreen)
        await pilot.press("slash", *"abcde", "enter")
        await pilot.press("y")
        detail = await wait_screen(pilot, DetailScreen)
        assert detail.active_tab == "yaml"
        await settle(app, pilot, "events", "replicasets", "deployments")
        detail.render_all()
        await pilot.press("3")
        assert detail.active_tab == "events"
        assert "Successfully assigned default/web-7d4b9c8f6-abcde to node-1" in str(
            detail.query_one("#events-body", Static).content)
        await pilot.press("4")
        owners = str(detail.query_one("#owners-body", Static).content)
        assert owners.index("Deployment") < owners.index("ReplicaSet") < owners.index("Pod")
        await pilot.press("escape")
        await wait_screen(pilot, BrowserScreen)
        screen.show_resource("secrets")
        await settle(app, pilot, "secrets")
        await pilot.press("y")
        detail = await wait_screen(pilot, DetailScreen)
        assert "czNjcjN0" not in str(detail.query_one("#describe-body", Static).content)
        assert "password:  6 bytes" in str(detail.query_one("#describe-body", Static).content)
        await pilot.press("x")
        from kubetui.tui.screens.base import mask_secret
        assert mask_secret(detail.obj, True)["data"]["password"] == "s3cr3t"
        assert detail.reveal


async def test_delete_asks_then_deletes(make_app, backend):
    app = make_app(start="browse")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot, "pods")
        await wait_screen(pilot, BrowserScreen)
        await pilot.press("slash", *"crasher", "enter", "ctrl+d")
        await wait_screen(pilot, ConfirmScreen)
        await pilot.press("n")
        await wait_screen(pilot, BrowserScreen)
        assert ("delete", "pods", "crasher") not in backend.client.calls
        await pilot.press("ctrl+d")
        await wait_screen(pilot, ConfirmScreen)
        await pilot.press("y")
        await app.bridge.wait_until(lambda: "default/crasher" not in app.bridge.objects("pods"))
        assert ("delete", "pods", "crasher") in backend.client.calls


async def test_scale_deployment_with_plus_and_minus(make_app, backend):
    app = make_app(start="browse")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot, "pods")
        screen = await wait_screen(pilot, BrowserScreen)
        screen.show_resource("deployments")
        await settle(app, pilot, "deployments")
        await pilot.press("plus")
        await app.bridge.wait_until(lambda: app.bridge.get("deployments", "default/web")["spec"]["replicas"] == 4)
        await pilot.pause()
        await pilot.press("minus", )
        await app.bridge.wait_until(lambda: app.bridge.get("deployments", "default/web")["spec"]["replicas"] == 3)
        # scaling a pod is refused with a message, not sent
        screen.show_resource("pods")
        await pilot.press("plus")
        assert all(c[1] != "pods" or c[0] != "patch" for c in backend.client.calls)


async def test_logs_scheduler_decision_and_traffic(make_app):
    app = make_app(start="browse")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot, "pods", "endpoints")
        screen = await wait_screen(pilot, BrowserScreen)
        await pilot.press("slash", *"abcde", "enter", "l")
        logs = await wait_screen(pilot, LogsScreen)
        await wait_workers(app, "logs")
        assert logs.lines[-1] == "[web-7d4b9c8f6-abcde] GET /healthz 200"
        await pilot.press("escape", "w")
        decision = await wait_screen(pilot, SchedulerDecisionScreen)
        await wait_workers(app, "explain")
        summary = str(decision.query_one("#decision-summary", Static).content)
        assert "node-1 won with a total score of 177 against node-2's 158" in summary
        assert "2 of 3 nodes passed the filters" in summary
        await pilot.press("escape")
        await wait_screen(pilot, BrowserScreen)
        screen.show_resource("services")
        await settle(app, pilot, "services")
        await pilot.press("t")
        traffic = await wait_screen(pilot, TrafficScreen)
        assert traffic.counts == {"10.244.1.5:80": 60, "10.244.2.7:80": 40}


async def test_events_stream_filters(make_app, backend):
    app = make_app(start="events")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot, "events")
        screen = await wait_screen(pilot, EventsScreen)
        assert len(screen.shown) == 6
        await pilot.press("W")
        assert len(screen.shown) == 3
        await pilot.press("W", "slash", *"scaling")
        assert len(screen.shown) == 1
        new = dict(backend.client.objects["events"]["default/crasher.17a0003"])
        new = {**new, "metadata": {**new["metadata"], "name": "crasher.new"}, "reason": "ScalingReplicaSet",
               "message": "Scaled down replica set"}
        backend.client.put("events", new)
        await wait_for(pilot, lambda: len(screen.shown) == 2)


async def test_store_screen_keys_and_watch_stream(make_app, backend):
    app = make_app(start="store")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await wait_screen(pilot, StoreScreen)
        await wait_workers(app, "store")
        keys = [k.key for k in screen.snapshot.keys]
        assert "/registry/pods/default/crasher" in keys and "/registry/minions/node-1" in keys
        assert "/registry/deployments/default/web" in keys
        await settle(app, pilot, "pods")
        backend.client.put("pods", pod("streamed"))
        await wait_for(pilot, lambda: any("/registry/pods/default/streamed" in line for line in screen.stream))


async def test_command_bar_runs_real_kubectl(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("colon")
        screen = await wait_screen(pilot, CommandScreen)
        await pilot.press(*"kubectl version --client", "enter")
        await wait_workers(app, "kubectl")
        assert any(line.startswith("Client Version: v1.") for line in app.command_output)
        # a bare resource name opens the browser on it (k9s style)
        await pilot.press(*"svc", "enter")
        browser = await wait_screen(pilot, BrowserScreen)
        await wait_for(pilot, lambda: browser.resource == "services" and browser.is_mounted)
        assert app.command_history == ["kubectl version --client", "svc"]
        assert screen is not browser


async def test_help_lists_every_binding_and_theme_toggles(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_screen(pilot, ClusterMapScreen)
        await pilot.press("question_mark")
        help_screen = await wait_screen(pilot, HelpScreen)
        actions = {row[1] for row in help_screen.rows}
        assert {"describe", "yaml", "logs", "shell", "edit", "delete", "scale(1)", "scale(-1)", "explain",
                "command", "help", "switch_mode('browse')"} <= actions
        assert help_screen.query_one(DataTable).row_count == len(help_screen.rows)
        await pilot.press("escape", "ctrl+t")
        assert app.theme == "textual-light"


async def test_startup_progress_then_map():
    backend = FakeBackend(with_progress=True)
    backend.progress_gate = asyncio.Event()
    from kubetui.clock import FakeClock
    from kubetui.tui.app import KubetuiApp
    from tests.tui.fakes import FIXED_NOW
    app = KubetuiApp(backend, clock=FakeClock(FIXED_NOW))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await wait_screen(pilot, StartupScreen)
        await wait_for(pilot, lambda: len(screen.seen) == 2)
        assert "a Docker container that will run a kubelet" in str(screen.query_one("#startup-current", Static).content)
        backend.progress_gate.set()
        await wait_screen(pilot, ClusterMapScreen)


async def test_shell_and_edit_need_a_kubeconfig(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot, "nodes", "pods")
        await wait_screen(pilot, ClusterMapScreen)
        await pilot.press("right", "s")
        assert any("kubeconfig" in n.message for n in app._notifications)


async def test_boxes_without_counters_say_so_rather_than_idle(make_app):
    """A backend with no counters (yet) for a component: the box says it is asking, never 'idle'.
    (A kubetui control plane serves them: tests/cmd/test_control_plane.py.)"""
    from kubetui.tui.backend import ClientBackend
    from kubetui.tui.widgets.control_plane import ComponentIndicator
    from tests.tui.fakes import populated_client

    app = make_app(backend=ClientBackend(populated_client(), cluster_name="lab"))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_screen(pilot, ClusterMapScreen)
        ind = app.screen.query_one("#cp-scheduler", ComponentIndicator)
        await wait_for(pilot, lambda: not ind.known)
        assert "asking the control plane" in str(ind.render()) and "idle" not in str(ind.render())
