"""Issue 13 acceptance, autoscaling: the real kubectl and the official Python client drive an HPA on a whole
cluster with simulated nodes, whose pods report the CPU their ``kubetui.dev/cpu-usage`` annotation says
(``providers/simulated_stats.py``). Lab timings: 2 s syncs, a 15 s scale-down window."""

from __future__ import annotations

import asyncio
import json

import pytest
import pytest_asyncio

from tests.acceptance.conftest import eventually, rows, start_cluster

pytestmark = pytest.mark.asyncio(loop_scope="module")

WEB = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
       "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}, "annotations": {"kubetui.dev/cpu-usage": "300m"}},
                             "spec": {"containers": [{"name": "web", "image": "nginx",
                                                      "resources": {"requests": {"cpu": "200m"}}}]}}}}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory):
    c = await start_cluster(tmp_path_factory.mktemp("hpa"), nodes=2)
    yield c
    await c.stop()


async def replicas(cluster) -> int:
    return json.loads(await cluster.ok("get", "deploy", "web", "-o", "json"))["spec"]["replicas"]


async def hpa_json(cluster) -> dict:
    return json.loads(await cluster.ok("get", "hpa", "web", "-o", "json"))


def condition(hpa: dict, type_: str) -> dict:
    return next((c for c in (hpa.get("status") or {}).get("conditions") or [] if c["type"] == type_), {})


async def test_autoscale_scales_up_under_load_clamped_at_max_and_holds_the_scale_down(cluster):
    await cluster.ok("apply", "-f", "-", stdin=json.dumps(WEB))
    await cluster.ok("autoscale", "deployment", "web", "--cpu-percent=50", "--min=1", "--max=4")

    async def at_max():
        return await replicas(cluster) == 4 and condition(await hpa_json(cluster), "ScalingLimited").get(
            "reason") == "TooManyReplicas"
    await eventually(at_max, "the HPA to scale web up to its max of 4", timeout=60, interval=0.5)

    async def measured():
        out = rows(await cluster.ok("get", "hpa", "web"))[0]
        return out if out[5:7] == ["4", "4"] and out[3] == "150%/50%" else None
    row = await eventually(measured, "kubectl get hpa to show the measured usage", timeout=30, interval=0.5)
    assert row[:5] == ["web", "Deployment/web", "cpu:", "150%/50%", "1"]

    described = await cluster.ok("describe", "hpa", "web")
    for line in ("Reference:", "Deployment/web", "resource cpu on pods  (as a percentage of request):",
                 "150% (300m) / 50%", "Min replicas:", "Max replicas:", "Deployment pods:",
                 "4 current / 4 desired", "ScalingLimited", "TooManyReplicas",
                 "the desired replica count is more than the maximum replica count", "SuccessfulRescale",
                 "cpu resource utilization (percentage of request) above target"):
        assert line in described, described

    # The load drops: the pods now use 20m (10% of their request). The HPA wants 1 pod at once,
    # but holds the highest recommendation of the last 15 s before it scales down (the scale-down
    # itself is the lesson's self-test and tests/controllers/test_horizontal.py, on a fake clock).
    await cluster.ok("annotate", "pods", "-l", "app=web", "kubetui.dev/cpu-usage=20m", "--overwrite")

    async def stabilized():
        h = await hpa_json(cluster)
        return condition(h, "AbleToScale").get("reason") == "ScaleDownStabilized" and h["status"].get(
            "desiredReplicas") == 4
    await eventually(stabilized, "the HPA to hold its scale-down (ScaleDownStabilized)", timeout=30, interval=0.5)
    assert await replicas(cluster) == 4


async def test_v1_and_v2_clients_see_one_object(cluster):
    from kubernetes import client, config
    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    v1 = client.AutoscalingV1Api(api)
    v2 = client.AutoscalingV2Api(api)
    old = await asyncio.to_thread(v1.read_namespaced_horizontal_pod_autoscaler, "web", "default")
    assert old.spec.target_cpu_utilization_percentage == 50 and old.spec.max_replicas == 4
    assert old.status.current_cpu_utilization_percentage is not None
    assert "autoscaling.alpha.kubernetes.io/conditions" in old.metadata.annotations
    old.spec.max_replicas = 5
    await asyncio.to_thread(v1.replace_namespaced_horizontal_pod_autoscaler, "web", "default", old)
    new = await asyncio.to_thread(v2.read_namespaced_horizontal_pod_autoscaler, "web", "default")
    assert new.spec.max_replicas == 5
    assert [(m.resource.name, m.resource.target.average_utilization) for m in new.spec.metrics] == [("cpu", 50)]
    assert {c.type for c in new.status.conditions} == {"AbleToScale", "ScalingActive", "ScalingLimited"}
    assert "autoscaling.alpha.kubernetes.io/conditions" not in (new.metadata.annotations or {})
