"""Issue 12 item 20, on screen: `w` on a pod names the plugins that made the difference, not the one
that gave every node the same 300."""

from __future__ import annotations

import copy

from textual.widgets import Static

from kubetui.tui.screens.browser import BrowserScreen
from kubetui.tui.screens.scheduler import SchedulerDecisionScreen
from tests.tui.fakes import SAMPLE_EXPLANATION
from tests.tui.test_app import settle, wait_screen, wait_workers


def with_taint_scores(explanation: dict) -> dict:
    """The sample attempt with TaintToleration (weight 3) giving both feasible nodes 100 → 300."""
    out = copy.deepcopy(explanation)
    attempt = out["attempts"][0]
    attempt["scorePlugins"].insert(0, {"name": "TaintToleration", "weight": 3})
    for n in attempt["nodes"]:
        if "scores" in n:
            n["scores"].insert(0, {"plugin": "TaintToleration", "raw": 0, "normalized": 100, "weight": 3,
                                   "weighted": 300})
            n["total"] += 300
    return out


async def test_w_names_the_deciding_plugins(make_app, backend, monkeypatch):
    explanation = with_taint_scores(SAMPLE_EXPLANATION)

    async def explain(namespace, name):
        return explanation
    monkeypatch.setattr(backend, "explain", explain)
    app = make_app(start="browse")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot, "pods")
        await wait_screen(pilot, BrowserScreen)
        await pilot.press("slash", *"abcde", "enter", "w")
        decision = await wait_screen(pilot, SchedulerDecisionScreen)
        await wait_workers(app, "explain")
        summary = str(decision.query_one("#decision-summary", Static).content)
    assert "node-1 won with a total score of 477 against node-2's 458." in summary
    assert ("The difference: NodeResourcesFit (+15: 85 vs 70) and NodeResourcesBalancedAllocation "
            "(+4: 92 vs 88).") in summary
    assert "The same on both, so no part in the choice: TaintToleration 300." in summary
    assert "strongest" not in summary
