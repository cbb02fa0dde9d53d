"""Jobs and CronJobs in the TUI: the browser's tabs, the Job's completions filling up, the owner chain."""

from __future__ import annotations

from textual.widgets import Static

from kubetui.tui.describe import completions_bar
from kubetui.tui.screens.browser import BrowserScreen
from kubetui.tui.screens.detail import DetailScreen
from kubetui.tui.widgets.node_panel import chip_order
from tests.tui.fakes import pod
from tests.tui.test_app import settle, wait_for, wait_screen


def job(succeeded: int) -> dict:
    return {"metadata": {"name": "squares", "namespace": "default",
                         "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "nightly",
                                              "uid": "uid-nightly", "controller": True}]},
            "spec": {"completions": 5, "parallelism": 2, "completionMode": "NonIndexed", "backoffLimit": 6,
                     "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "uid-squares"}},
                     "template": {"spec": {"containers": [{"name": "work", "image": "busybox"}]}}},
            "status": {"succeeded": succeeded, "active": 2, "startTime": "2026-01-01T00:00:00Z"}}


def test_completions_bar_fills_up():
    assert completions_bar(job(0), 10) == "0/5 ░░░░░░░░░░"
    assert completions_bar(job(3), 10) == "3/5 ██████░░░░"
    assert completions_bar(job(5), 10) == "5/5 ██████████"


def test_chips_of_an_indexed_job_sit_together_in_index_order():
    def p(name, owner, index=None):
        md = {"name": name, "ownerReferences": [{"kind": "Job", "name": owner, "controller": True}]}
        if index is not None:
            md["annotations"] = {"batch.kubernetes.io/job-completion-index": str(index)}
        return {"metadata": md}
    pods = [p("b-10-x", "b", 10), p("a-zz", "a"), p("b-2-y", "b", 2), p("a-aa", "a")]
    assert [x["metadata"]["name"] for x in sorted(pods, key=chip_order)] == ["a-aa", "a-zz", "b-2-y", "b-10-x"]


async def test_jobs_tab_and_detail_show_completions_and_owner(make_app, backend):
    backend.client.put("cronjobs", {"metadata": {"name": "nightly", "namespace": "default"},
                                    "spec": {"schedule": "0 3 * * *", "suspend": False,
                                             "jobTemplate": {"spec": {"template": {"spec": {}}}}}})
    backend.client.put("jobs", job(3))
    app = make_app(start="browse")
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await wait_screen(pilot, BrowserScreen)
        screen.show_resource("jobs")
        await settle(app, pilot, "jobs", "cronjobs")
        await wait_for(pilot, lambda: "default/squares" in screen._objects())
        await pilot.press("d")
        detail = await wait_screen(pilot, DetailScreen)
        await settle(app, pilot, "jobs", "cronjobs")
        detail.render_all()
        text = str(detail.query_one("#describe-body", Static).content)
        assert "Pods Statuses:    2 Active (0 Ready) / 3 Succeeded / 0 Failed" in text
        assert "3/5 ████████████░░░░░░░░" in text
        backend.client.put("jobs", job(5))
        await wait_for(pilot, lambda: "5/5 ████" in str(detail.query_one("#describe-body", Static).content))
        await pilot.press("4")
        owners = str(detail.query_one("#owners-body", Static).content)
        assert owners.index("[b]CronJob[/] nightly") < owners.index("[b]Job[/] squares  5/5")
