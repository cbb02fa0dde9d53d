"""Custom resources in the TUI (issue 14): a tab per served kind, found by listing the CRDs, with the
CRD's printer columns, and describe/YAML in the detail view."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from textual.widgets import Static, Tabs

from kubetui.api.customresource.crd import set_defaults
from kubetui.api.customresource.serve import serve
from kubetui.tui.printers import headers_for, row_for
from kubetui.tui.screens.browser import BrowserScreen
from kubetui.tui.screens.detail import DetailScreen
from tests.tui.test_app import settle, wait_for, wait_screen

CRD_FILE = Path(__file__).parents[1] / "apiserver" / "crd" / "crontab-columns.yaml"


def established_crd() -> dict:
    crd = yaml.safe_load(CRD_FILE.read_text())
    set_defaults(crd)
    crd["metadata"]["uid"] = "uid-crd"
    crd["status"] = {"acceptedNames": crd["spec"]["names"],
                     "conditions": [{"type": "Established", "status": "True"}], "storedVersions": ["v1"]}
    return crd


@pytest.fixture
def crontab_served():
    serve([established_crd()])
    yield
    serve([])


def crontab(name: str) -> dict:
    return {"apiVersion": "stable.example.com/v1", "kind": "CronTab",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}",
                         "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"cronSpec": "* * * * */5", "replicas": 3, "image": "my-awesome-cron-image"}}


def test_printer_columns_come_from_the_crd(crontab_served):
    assert headers_for("crontabs") == ["NAME", "SPEC", "REPLICAS", "AGE"]
    assert row_for("crontabs", crontab("a"), 1767225600 + 90) == ["a", "* * * * */5", "3", "90s"]


async def test_browser_tab_rows_and_detail(make_app, backend, crontab_served):
    backend.client.put("customresourcedefinitions", established_crd())
    backend.client.put("crontabs", crontab("my-new-cron-object"))
    app = make_app(start="browse")
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await wait_screen(pilot, BrowserScreen)
        await wait_for(pilot, lambda: "crontabs" in screen.browsable)
        tabs = screen.query_one("#kinds", Tabs)
        assert tabs.query("#tab-crontabs")
        screen.show_resource("ct")
        await settle(app, pilot, "crontabs")
        await wait_for(pilot, lambda: "default/my-new-cron-object" in screen._objects())
        assert screen.resource == "crontabs"
        await pilot.press("d")
        detail = await wait_screen(pilot, DetailScreen)
        detail.render_all()
        assert "CronTab" in str(detail.title)
        text = str(detail.query_one("#describe-body", Static).content)
        assert "my-new-cron-object" in text and "my-awesome-cron-image" in text
