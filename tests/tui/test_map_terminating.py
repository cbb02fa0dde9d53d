"""The map shows pods evicted by a NoExecute taint apart from other Terminating pods (issue 12, item 7).

A pod evicted from an unreachable node keeps its deletionTimestamp until its
node's kubelet answers (or a force delete): its chip ("Evicting") has its own
colour and legend entry, so a learner sees why it lingers.
"""

from __future__ import annotations

from rich.text import Text

from kubetui.tui.chips import CHIPS, chip_state
from kubetui.tui.screens.cluster_map import ClusterMapScreen
from kubetui.tui.widgets.node_panel import NodePanel
from tests.tui.fakes import pod


def evicted(name: str, node: str) -> dict:
    """A pod as the taint eviction controller leaves it: DisruptionTarget, then a graceful DELETE."""
    p = pod(name, node_name=node, state="Terminating")
    p["status"]["conditions"].append({"type": "DisruptionTarget", "status": "True",
                                      "reason": "DeletionByTaintManager",
                                      "message": "Taint manager: deleting due to NoExecute taint"})
    return p


def chip_bg(panel: NodePanel, name: str) -> str:
    text: Text = panel.render()
    start = text.plain.index(name)
    return [s for s in text.spans if s.start <= start < s.end][-1].style.bgcolor.name


def test_chip_state_tells_an_evicted_pod_from_a_deleted_one():
    assert chip_state(evicted("a", "node-3")) == "Evicting"
    assert chip_state(pod("b", state="Terminating")) == "Terminating"
    assert CHIPS["Evicting"][1] != CHIPS["Terminating"][1]


async def test_an_evicted_pod_on_a_silent_node_has_its_own_chip_and_legend_entry(make_app, backend):
    backend.client.put("pods", evicted("gone", "node-3"))
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await app.bridge.wait_synced("nodes", "pods")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ClusterMapScreen)
        assert " Evicting " in str(screen.query_one("#legend").render())
        assert screen.panels["node-3"].has_class("-notready")      # its Ready condition is Unknown
        assert chip_bg(screen.panels["node-3"], "gone") == CHIPS["Evicting"][1]
        assert chip_bg(screen.panels["node-1"], "old") == CHIPS["Terminating"][1]
