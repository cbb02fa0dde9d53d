"""The map redraws a node panel only when what it draws changed (issue 18: the TUI keeps up).

A watch event that changes nothing a chip shows (an annotation, say) must not
repaint the panel; an event that changes a chip's state must, and
the chip then shows the new state.
"""

from __future__ import annotations

from kubetui.tui.chips import CHIPS
from kubetui.tui.screens.cluster_map import ClusterMapScreen
from kubetui.tui.widgets.node_panel import NodePanel
from tests.tui.fakes import pod
from tests.tui.test_map_terminating import chip_bg


async def wait_for(pilot, predicate, tries: int = 200) -> None:
    for _ in range(tries):
        if predicate():
            return
        await pilot.pause()
    raise AssertionError("condition not reached")


async def test_a_panel_repaints_only_when_a_chip_changes(make_app, backend, monkeypatch):
    for i in range(5):
        backend.client.put("pods", pod(f"web-{i}", node_name="node-1"))
    app = make_app()
    app.animation_level = "none"  # with animation a changed chip flashes, which is a change drawn
    renders: list[str] = []
    original = NodePanel.refresh

    def counting(self: NodePanel, *args, **kwargs):
        renders.append(getattr(self, "node_name", ""))
        return original(self, *args, **kwargs)
    monkeypatch.setattr(NodePanel, "refresh", counting)
    async with app.run_test(size=(140, 40)) as pilot:
        await app.bridge.wait_synced("nodes", "pods")
        await wait_for(pilot, lambda: isinstance(app.screen, ClusterMapScreen))
        screen = app.screen
        await wait_for(pilot, lambda: "node-1" in screen.panels
                       and all(f"default/web-{i}" in screen.panels["node-1"].pods for i in range(5)))
        for _ in range(5):
            await pilot.pause()
        panel = screen.panels["node-1"]

        async def annotate(value: str) -> None:
            await backend.client.patch("pods", "web-1", {"metadata": {"annotations": {"note": value}}}, "default")
            await wait_for(pilot, lambda: (panel.pods["default/web-1"]["metadata"].get("annotations")
                                           or {}).get("note") == value)
            for _ in range(5):
                await pilot.pause()
        # (A panel's first update after it was mounted lays it out once, whatever changed.)
        await annotate("first")
        # An annotation changes nothing drawn: the event arrives, no repaint of the panel.
        renders.clear()
        await annotate("second")
        assert "node-1" not in renders

        # A chip that changes state is redrawn, in its new colour.
        changed = pod("web-2", node_name="node-1", state="CrashLoopBackOff")
        backend.client.put("pods", changed)
        await wait_for(pilot, lambda: "node-1" in renders)
        await wait_for(pilot, lambda: chip_bg(panel, "web-2") == CHIPS["CrashLoopBackOff"][1])
