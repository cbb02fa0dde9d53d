"""DaemonSets, StatefulSets and ControllerRevisions in the TUI: browser tabs, describe, owners, chip order."""

from __future__ import annotations

from textual.widgets import Static

from kubetui.tui.printers import headers_for
from kubetui.tui.screens.browser import BROWSABLE, BrowserScreen
from kubetui.tui.screens.detail import DetailScreen
from kubetui.tui.widgets.node_panel import chip_order
from tests.tui.test_app import settle, wait_for, wait_screen


def sts() -> dict:
    return {"kind": "StatefulSet", "metadata": {"name": "web", "namespace": "default", "uid": "uid-web"},
            "spec": {"replicas": 3, "serviceName": "web", "selector": {"matchLabels": {"app": "web"}},
                     "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}},
                     "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {
                         "accessModes": ["ReadWriteOnce"], "storageClassName": "standard",
                         "resources": {"requests": {"storage": "1Gi"}}}}]},
            "status": {"replicas": 3, "readyReplicas": 2}}


def test_tabs_and_columns():
    assert {"daemonsets", "statefulsets", "controllerrevisions"} <= set(BROWSABLE)
    assert headers_for("daemonsets") == ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE",
                                         "NODE SELECTOR", "AGE"]
    assert headers_for("statefulsets") == ["NAME", "READY", "AGE"]
    assert headers_for("controllerrevisions") == ["NAME", "CONTROLLER", "REVISION", "AGE"]


def test_daemonset_chips_come_first_and_statefulset_ordinals_in_order():
    def p(name, kind, owner, index=None):
        md = {"name": name, "ownerReferences": [{"kind": kind, "name": owner, "controller": True}]}
        if index is not None:
            md["labels"] = {"apps.kubernetes.io/pod-index": str(index)}
        return {"metadata": md}
    pods = [p("web-10", "StatefulSet", "web", 10), p("api-5d-x", "ReplicaSet", "api-5d"),
            p("web-2", "StatefulSet", "web", 2), p("zz-agent-q", "DaemonSet", "zz-agent")]
    assert [x["metadata"]["name"] for x in sorted(pods, key=chip_order)] == [
        "zz-agent-q", "api-5d-x", "web-2", "web-10"]


async def test_statefulset_tab_describe_and_owner_chain(make_app, backend):
    backend.client.put("statefulsets", sts())
    app = make_app(start="browse")
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await wait_screen(pilot, BrowserScreen)
        screen.show_resource("statefulsets")
        await settle(app, pilot, "statefulsets")
        await wait_for(pilot, lambda: "default/web" in screen._objects())
        await pilot.press("d")
        detail = await wait_screen(pilot, DetailScreen)
        detail.render_all()
        text = str(detail.query_one("#describe-body", Static).content)
        assert "Replicas:           3 desired | 3 total" in text
        assert "  Partition:        1" in text and "Volume Claims:" in text
        assert "  Capacity:      1Gi" in text and "  StorageClass:  standard" in text
