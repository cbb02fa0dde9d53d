"""The whole controller manager on one registry: a Deployment lives and dies, activity is counted."""

from __future__ import annotations

from ctrl_helpers import deployment, finish_terminating_pods, names, run_all_pods, settle
from kubetui.controllers.manager import CONTROLLERS


async def test_all_controllers_run_a_deployment_lifecycle_and_report_activity(api, clock, manager_for):
    cm = await manager_for(*CONTROLLERS)
    assert set(cm.activity()) == set(CONTROLLERS)
    await api.create("services", {"metadata": {"name": "web"}, "spec": {
        "selector": {"app": "web"}, "ports": [{"port": 80}]}}, "default")
    await api.create("deployments", deployment("web", 3), "default")
    for _ in range(4):
        await settle(cm, clock, 0.5)
        await run_all_pods(api, clock)
    d = await api.get("deployments", "web", "default")
    assert d["status"]["availableReplicas"] == 3
    ep = await api.get("endpoints", "web", "default")
    assert len(ep["subsets"][0]["addresses"]) == 3
    act = cm.activity()
    assert act["deployment"]["reconciles"] > 0 and act["replicaset"]["last_reconcile"] is not None
    await api.delete("deployments", "web", "default", propagation_policy="Background")
    for _ in range(4):
        await settle(cm, clock, 0.5)
        await finish_terminating_pods(api)
    assert await names(api, "replicasets") == [] and await names(api, "pods") == []
    await settle(cm, clock, 0.5)
    assert not (await api.get("endpoints", "web", "default")).get("subsets")
