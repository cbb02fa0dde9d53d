"""The TUI's ``F`` key (as k9s's shift-f): port-forward the selected pod or Service, and say where.

A real API server and a process-runtime kubelet (``tests.kubelet.cluster``); the TUI attaches
over HTTPS with ``KubeconfigBackend``; the forward is then used with urllib on 127.0.0.1."""

from __future__ import annotations

import asyncio
import re
import urllib.request

import pytest

from kubetui.api.resources import resource_for
from kubetui.tui.app import KubetuiApp
from kubetui.tui.backends import KubeconfigBackend
from kubetui.tui.screens.browser import BrowserScreen
from tests.kubelet.cluster import NODE, Cluster
from tests.kubelet.test_portforward import ready
from tests.tui.test_app import wait_for, wait_screen


@pytest.fixture
async def cluster(tmp_path, kubectl_bin):
    c = await Cluster().start(tmp_path, kubectl_bin)
    await c.registry.create(resource_for("pods"), "default", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"nodeName": NODE, "terminationGracePeriodSeconds": 1,
                 "containers": [{"name": "c", "image": "kubetui/hello", "ports": [{"containerPort": 8080}],
                                 "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080},
                                                    "periodSeconds": 1}}]}})
    await c.registry.create(resource_for("services"), "default", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}})
    await c.wait_pod("web", ready)
    yield c
    await c.stop()


def notices(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


@pytest.mark.parametrize("resource", ["pods", "services"])
async def test_shift_f_forwards_and_shows_the_local_address(cluster, resource):
    app = KubetuiApp(KubeconfigBackend(cluster.kubeconfig))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        browser = await wait_screen(pilot, BrowserScreen, tries=2000)
        browser.show_resource(resource)
        await app.bridge.wait_synced(resource)
        await wait_for(pilot, lambda: "default/web" in browser.table.shown_keys, tries=500)
        for _ in range(5):          # services: "kubernetes" comes first
            if browser.table.selected_key == "default/web":
                break
            await pilot.press("down")
        assert browser.table.selected_key == "default/web"
        await pilot.press("F")
        await wait_for(pilot, lambda: any("Forwarding from 127.0.0.1:" in m for m in notices(app)), tries=2000)
        msg = next(m for m in notices(app) if "Forwarding from" in m)
        port = int(re.search(r"127\.0\.0\.1:(\d+) -> 8080", msg).group(1))

        def get() -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=20) as r:
                return r.read().decode()
        assert (await asyncio.to_thread(get)).startswith("pod=web ")
        for pf in app.port_forwards:
            await pf.close()
