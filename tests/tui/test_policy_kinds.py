"""The policy kinds in the TUI: browser tabs with kubectl's columns, describe as kubectl prints it."""

from __future__ import annotations

from textual.widgets import Static

from kubetui.tui.describe import describe
from kubetui.tui.printers import headers_for
from kubetui.tui.screens.browser import BROWSABLE, BrowserScreen
from kubetui.tui.screens.detail import DetailScreen
from tests.tui.test_app import settle, wait_for, wait_screen


def quota() -> dict:
    return {"kind": "ResourceQuota", "metadata": {"name": "compute", "namespace": "team", "uid": "uid-q"},
            "spec": {"hard": {"pods": "4", "requests.cpu": "1"}, "scopes": ["NotTerminating"]},
            "status": {"hard": {"pods": "4", "requests.cpu": "1"}, "used": {"pods": "2", "requests.cpu": "500m"}}}


def test_tabs_and_columns():
    assert {"replicationcontrollers", "podtemplates", "resourcequotas", "limitranges", "poddisruptionbudgets",
            "priorityclasses"} <= set(BROWSABLE)
    assert headers_for("resourcequotas") == ["NAME", "REQUEST", "LIMIT", "AGE"]
    assert headers_for("poddisruptionbudgets") == ["NAME", "MIN AVAILABLE", "MAX UNAVAILABLE",
                                                   "ALLOWED DISRUPTIONS", "AGE"]
    assert headers_for("priorityclasses") == ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]
    assert headers_for("replicationcontrollers")[:4] == ["NAME", "DESIRED", "CURRENT", "READY"]
    assert headers_for("limitranges") == ["NAME", "CREATED AT"]


def test_describe_matches_kubectl():
    text = describe(quota())
    assert "Scopes:        NotTerminating" in text
    assert " * Matches all pods that do not have an active deadline." in text
    assert "Resource      Used  Hard" in text and "requests.cpu  500m  1" in text
    lr = {"kind": "LimitRange", "metadata": {"name": "d", "namespace": "team"},
          "spec": {"limits": [{"type": "Container", "max": {"cpu": "1"}, "default": {"cpu": "500m"},
                               "defaultRequest": {"cpu": "250m"}}]}}
    text = describe(lr)
    assert "Type       Resource  Min  Max  Default Request  Default Limit  Max Limit/Request Ratio" in text
    assert "Container  cpu       -    1    250m             500m           -" in text
    pdb = {"kind": "PodDisruptionBudget", "metadata": {"name": "web", "namespace": "default"},
           "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}},
           "status": {"disruptionsAllowed": 1, "currentHealthy": 3, "desiredHealthy": 2, "expectedPods": 3}}
    text = describe(pdb)
    assert "Min available:  2" in text and "Selector:       app=web" in text
    assert "    Allowed disruptions:  1" in text and "    Total:                3" in text
    rc = {"kind": "ReplicationController", "metadata": {"name": "legacy", "namespace": "default"},
          "spec": {"replicas": 2, "selector": {"app": "legacy"},
                   "template": {"metadata": {"labels": {"app": "legacy"}},
                                "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
          "status": {"replicas": 2}}
    assert "Selector:       app=legacy" in describe(rc)


async def test_quota_tab_and_describe_pane(make_app, backend):
    backend.client.put("resourcequotas", quota())
    app = make_app(start="browse")
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await wait_screen(pilot, BrowserScreen)
        screen.show_resource("resourcequotas")
        await settle(app, pilot, "resourcequotas")
        await wait_for(pilot, lambda: "team/compute" in screen._objects())
        await pilot.press("d")
        detail = await wait_screen(pilot, DetailScreen)
        detail.render_all()
        text = str(detail.query_one("#describe-body", Static).content)
        assert "requests.cpu  500m  1" in text


def test_rbac_kinds_are_browsable_with_kubectl_columns():
    assert {"roles", "rolebindings", "clusterroles", "clusterrolebindings"} <= set(BROWSABLE)
    assert headers_for("roles") == ["NAME", "CREATED AT"]
    assert headers_for("rolebindings") == ["NAME", "ROLE", "AGE"]
    assert headers_for("clusterrolebindings") == ["NAME", "ROLE", "AGE"]


def test_why_screen_says_what_preemption_did():
    from kubetui.tui.screens.scheduler import decision_summary
    attempt = {"attempt": 2, "outcome": "Unschedulable", "message": "0/3 nodes are available: 3 Insufficient cpu.",
               "nodes": [], "numAllNodes": 3, "feasibleNodes": 0, "evaluatedNodes": 3,
               "postFilter": {"plugin": "DefaultPreemption", "nominatedNode": "node-2",
                              "victims": [{"name": "default/batch-1", "priority": 0},
                                          {"name": "default/batch-2", "priority": 0}], "message": "",
                              "candidates": [{"node": "node-1"}, {"node": "node-2"}]}}
    text = decision_summary(attempt)
    assert ("Preemption: evicting default/batch-1 (priority 0), default/batch-2 (priority 0) from node-2; "
            "the pod waits for it there (nominatedNodeName).") in text
    assert "criteria (PDB violations, victim priorities, victim count, start times): node-1." in text
