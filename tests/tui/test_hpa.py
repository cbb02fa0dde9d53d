"""HPAs in the TUI: the browser's tab, kubectl-style describe, and the metric against its target over time."""

from __future__ import annotations

from textual.widgets import Static

from kubetui.tui.describe import describe
from kubetui.tui.hpa import MetricHistory, sparkline
from kubetui.tui.screens.browser import BrowserScreen
from kubetui.tui.screens.detail import DetailScreen
from tests.tui.test_app import settle, wait_for, wait_screen


def hpa(util: int | None, replicas: int, rv: str = "1") -> dict:
    status = {"currentReplicas": replicas, "desiredReplicas": replicas,
              "conditions": [{"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale",
                              "message": "recommended size matches current size"}]}
    if util is not None:
        status["currentMetrics"] = [{"type": "Resource", "resource": {
            "name": "cpu", "current": {"averageUtilization": util, "averageValue": f"{util * 2}m"}}}]
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "default", "resourceVersion": rv,
                         "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "minReplicas": 1, "maxReplicas": 10,
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                         "type": "Utilization", "averageUtilization": 50}}}]},
            "status": status}


def test_sparkline_scales_to_the_top():
    assert sparkline([0, 75, 150], top=150) == "▁▅█"
    assert sparkline([]) == ""


def test_describe_is_kubectls_layout():
    text = describe(hpa(150, 4))
    assert "Reference:" in text and "Deployment/web" in text
    assert "  resource cpu on pods  (as a percentage of request):  150% (300m) / 50%" in text
    assert "Deployment pods:" in text and "4 current / 4 desired" in text
    assert "AbleToScale  True    ReadyForNewScale  recommended size matches current size" in text
    assert "<unknown> / 50%" in describe(hpa(None, 1))


def test_history_keeps_one_sample_per_status():
    h = MetricHistory()
    h.record(hpa(None, 1, "1"), 0)
    assert "no cpu measurement yet" in h.text(hpa(None, 1))
    for i, (u, r) in enumerate([(20, 1), (150, 1), (150, 1), (110, 3), (60, 4)]):
        h.record(hpa(u, r, str(i + 2)), i)
    h.record(hpa(60, 4, "6"), 9)  # the same resourceVersion again: no new sample
    text = h.text(hpa(60, 4))
    assert "5 samples" in text and "60% now" in text and "(target 50% = " in text
    assert "replicas " in text and "4 now" in text


async def test_hpa_tab_and_detail_show_the_metric_over_time(make_app, backend):
    backend.client.put("horizontalpodautoscalers", hpa(20, 1))
    app = make_app(start="browse")
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await wait_screen(pilot, BrowserScreen)
        screen.show_resource("horizontalpodautoscalers")
        await settle(app, pilot, "horizontalpodautoscalers")
        await wait_for(pilot, lambda: "default/web" in screen._objects())
        await pilot.press("d")
        detail = await wait_screen(pilot, DetailScreen)
        await settle(app, pilot, "horizontalpodautoscalers")
        for util, replicas in ((150, 1), (110, 3), (60, 4)):
            backend.client.put("horizontalpodautoscalers", hpa(util, replicas))
            await wait_for(pilot, lambda u=util: f"{u}% now" in str(detail.query_one("#describe-body",
                                                                                     Static).content))
        text = str(detail.query_one("#describe-body", Static).content)
        assert "History (" in text and "150% (300m)" not in text and "60% (120m) / 50%" in text
