"""Sidecars and spec changes, end to end: the API server, the kubelet and real processes.

The decisions themselves are table-tested in test_podactions.py; these check
that the worker carries them out and reports them as upstream does.
"""

from __future__ import annotations

from kubetui.api.resources import resource_for
from tests.kubelet.test_podworker import cluster, pod, state_of  # noqa: F401 - fixture

PODS = resource_for("pods")


async def test_sidecar_runs_beside_the_container_and_a_changed_image_restarts_it(cluster):
    await cluster.registry.create(PODS, "default", pod(
        "side", [{"name": "c", "image": "busybox", "command": ["sleep", "60"]}],
        initContainers=[{"name": "proxy", "image": "busybox", "restartPolicy": "Always",
                         "command": ["sleep", "60"]}]))

    def ready(p):
        return any(c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))
    p = await cluster.wait_pod("side", ready)
    side = state_of(p, "proxy", "initContainerStatuses")
    assert "running" in side["state"] and side["started"] is True
    assert "running" in state_of(p)["state"] and p["status"]["phase"] == "Running"
    assert {c["type"]: c["status"] for c in p["status"]["conditions"]}["Initialized"] == "True"

    rc, _, err = await cluster.kubectl("set", "image", "pod/side", "c=busybox:1.36")
    assert rc == 0, err
    p = await cluster.wait_pod("side", lambda p: state_of(p).get("restartCount", 0) >= 1
                               and "running" in state_of(p).get("state", {}))
    assert state_of(p)["image"] == "busybox:1.36"
    assert state_of(p, "proxy", "initContainerStatuses")["restartCount"] == 0     # the sidecar was left alone
    msgs = [e["message"] for e in cluster.kubelet.events.recorded if e["pod"] == "side"]
    assert "Container c definition changed, will be restarted" in msgs
