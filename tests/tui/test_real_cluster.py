"""Acceptance: the TUI against a real cluster (control plane in its own process, simulated nodes).

The same path as ``kubetui`` itself: the control plane runs apart (``kubetui
up``), the TUI attaches over HTTPS with ``KubeconfigBackend``, its start-up
phases come from the control plane's state dir, the store view and the
scheduler's decisions from kubetui's API groups. The command bar runs the
real kubectl against the cluster's API server.
"""

from __future__ import annotations

import pytest

from kubetui.tui.app import KubetuiApp
from kubetui.tui.backends import KubeconfigBackend
from kubetui.tui.screens.browser import BrowserScreen
from kubetui.tui.screens.cluster_map import ClusterMapScreen
from kubetui.tui.screens.command import CommandScreen
from kubetui.tui.screens.confirm import ConfirmScreen
from kubetui.tui.screens.detail import DetailScreen
from kubetui.tui.screens.scheduler import SchedulerDecisionScreen
from kubetui.tui.screens.store import StoreScreen
from tests.cluster_process import running_cluster
from tests.tui.test_app import wait_for, wait_screen, wait_workers

DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "web", "image": "nginx:1.27",
                                                   "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}},
}


@pytest.fixture
def backend(tmp_path):
    state = tmp_path / "tui"
    with running_cluster(state, nodes=2) as kubeconfig:
        be = KubeconfigBackend(kubeconfig, state_dir=state)
        # Replay the control-plane process's start-up phases (it is up already; a fresh `kubetui`
        # shows them while nodes come up).
        be.seen_phases = []

        async def replay():
            async for phase in be._process_phases():
                be.seen_phases.append(phase)
                yield phase
        be.startup_progress = replay
        yield be


async def eventually_in_cache(app, resource, predicate, timeout=20.0):
    await app.bridge.wait_until(lambda: predicate(app.bridge.objects(resource)), timeout=timeout)


async def test_tui_on_a_real_cluster(backend):
    app = KubetuiApp(backend)
    async with app.run_test(size=(120, 40)) as pilot:
        map_screen = await wait_screen(pilot, ClusterMapScreen, tries=2000)   # after the start-up screen
        titles = [p.title for p in backend.seen_phases]
        assert any(t.startswith("starting node-1") for t in titles) and titles[-1] == "cluster ready"
        assert not any(p.error for p in backend.seen_phases)

        await app.bridge.wait_synced("nodes", "pods")
        await eventually_in_cache(app, "nodes", lambda nodes: len(nodes) == 2)
        await wait_for(pilot, lambda: {"node-1", "node-2"} <= set(map_screen.panels))

        # A Deployment created through the API: its pods appear on the map, bound to nodes, Ready.
        await backend.client.create("deployments", DEPLOYMENT, "default")
        await eventually_in_cache(app, "pods", lambda pods: len(pods) == 2 and all(
            p.get("spec", {}).get("nodeName") and p.get("status", {}).get("phase") == "Running" for p in pods.values()))
        await wait_for(pilot, lambda: sum(len(p.pods) for p in map_screen.panels.values()) == 2)

        # Select a pod, ask the scheduler why it is there.
        await pilot.press("right", "w")
        decision = await wait_screen(pilot, SchedulerDecisionScreen)
        await wait_workers(app, "explain")
        attempts = (decision.decisions or {}).get("attempts") or []
        assert attempts and attempts[-1]["outcome"] == "Scheduled"
        assert attempts[-1]["selectedNode"] == decision.pod["spec"]["nodeName"]

        # Browse deployments and scale up with "+".
        await pilot.press("escape", "2")
        browser = await wait_screen(pilot, BrowserScreen)
        browser.show_resource("deployments")
        await app.bridge.wait_synced("deployments")
        await wait_for(pilot, lambda: browser.table.shown_keys == ["default/web"])
        await pilot.press("plus")
        await eventually_in_cache(app, "pods", lambda pods: len(pods) == 3)

        # Describe the deployment: kubectl's layout, from the live object.
        await pilot.press("d")
        detail = await wait_screen(pilot, DetailScreen)
        assert "3 desired" in str(detail.query_one("#describe-body").content)
        await pilot.press("escape")

        # Delete a pod with ctrl+d; the ReplicaSet controller replaces it.
        browser.show_resource("pods")
        await wait_for(pilot, lambda: len(browser.table.shown_keys) == 3)
        victim = browser.table.selected_key
        await pilot.press("ctrl+d")
        await wait_screen(pilot, ConfirmScreen)
        await pilot.press("y")
        await eventually_in_cache(app, "pods", lambda pods: victim not in pods and len(pods) == 3)

        # The store screen shows the real etcd keys and revisions.
        await pilot.press("4")
        store = await wait_screen(pilot, StoreScreen)
        await wait_for(pilot, lambda: store.snapshot is not None)
        keys = {k.key: k for k in store.snapshot.keys}
        assert "/registry/deployments/default/web" in keys and "/registry/minions/node-1" in keys
        assert keys["/registry/deployments/default/web"].version >= 1

        # The command bar runs the real kubectl against this cluster.
        await pilot.press("colon")
        await wait_screen(pilot, CommandScreen)
        await pilot.press(*"kubectl get deploy web", "enter")
        await wait_workers(app, "kubectl")
        out = "\n".join(app.command_output)
        assert "NAME" in out and "READY" in out and "web" in out

        # ... and kubetui's own commands, as lesson 1 writes them, against the same cluster (issue 12 item 14).
        pod = next(p for p in app.bridge.objects("pods").values() if p["spec"].get("nodeName"))
        pod_name = pod["metadata"]["name"]
        app.command_output.clear()
        await pilot.press(*f"kubetui explain pod {pod_name}", "enter")
        await wait_workers(app, "kubectl")
        out = "\n".join(app.command_output)
        assert f"$ kubetui explain pod {pod_name}" in out and "★ selected" in out, out
        assert pod["spec"]["nodeName"] in out
