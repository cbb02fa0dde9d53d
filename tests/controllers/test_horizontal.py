"""The HPA controller with a fake clock and a fake metrics API: scale up, limits, conditions, events."""

from __future__ import annotations

import pytest

from ctrl_helpers import deployment, settle
from kubetui.clock import rfc3339
from kubetui.controllers.manager import ControllerManager

pytestmark = pytest.mark.asyncio


async def events(api):
    return (await api.list("events", None))["items"]


class FakeMetrics:
    """PodMetrics as metrics-server would list them: ``usage[pod] = millicores``."""

    def __init__(self, clock) -> None:
        self.clock = clock
        self.usage: dict[str, int] = {}
        self.fail = False

    async def list_pod_metrics(self, namespace, label_selector=None):
        if self.fail:
            from kubetui.api.errors import ServiceUnavailable
            raise ServiceUnavailable("the server is currently unable to handle the request")
        return {"items": [{"metadata": {"name": n, "namespace": namespace}, "timestamp": rfc3339(self.clock.time()),
                           "window": "10s", "containers": [{"name": "web", "usage": {"cpu": f"{m}m"}}]}
                          for n, m in sorted(self.usage.items())]}


def hpa(name="web", **spec):
    body = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "minReplicas": 1, "maxReplicas": 10,
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                         "type": "Utilization", "averageUtilization": 50}}}]}}
    body["spec"].update(spec)
    return body


async def running_pod(api, clock, i, started_ago=600.0):
    start = rfc3339(clock.time() - started_ago)
    pod = {"metadata": {"name": f"web-{i}", "namespace": "default", "labels": {"app": "web"}},
           "spec": {"containers": [{"name": "web", "image": "nginx",
                                    "resources": {"requests": {"cpu": "200m"}}}]}}
    pod = await api.create("pods", pod, "default")
    pod["status"] = {"phase": "Running", "startTime": start,
                     "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": start}]}
    await api.update("pods", pod, "default", subresource="status")


@pytest.fixture
async def world(api, clock):
    await api.create("deployments", deployment("web", replicas=1), "default")
    metrics = FakeMetrics(clock)
    cm = ControllerManager(api, clock=clock, controllers=["horizontalpodautoscaling"], resync_seconds=None,
                           metrics_client=metrics)
    await cm.start()
    yield cm, metrics
    await cm.stop()


def cond(hpa_obj, type_):
    return next(c for c in hpa_obj["status"]["conditions"] if c["type"] == type_)


async def replicas(api):
    return (await api.get("deployments", "web", "default"))["spec"]["replicas"]


async def test_high_cpu_scales_up_with_upstreams_event_status_and_conditions(api, clock, world):
    cm, metrics = world
    await running_pod(api, clock, 0)
    metrics.usage = {"web-0": 200}            # 100% of a 200m request, target 50%
    await api.create("horizontalpodautoscalers", hpa(), "default")
    await settle(cm)
    assert await replicas(api) == 2
    h = await api.get("horizontalpodautoscalers", "web", "default")
    st = h["status"]
    assert (st["currentReplicas"], st["desiredReplicas"]) == (1, 2) and st["lastScaleTime"]
    assert st["currentMetrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "current": {"averageUtilization": 100, "averageValue": "200m"}}}]
    assert cond(h, "AbleToScale")["reason"] == "SucceededRescale"
    assert cond(h, "AbleToScale")["message"] == "the HPA controller was able to update the target scale to 2"
    assert cond(h, "ScalingActive")["message"] == ("the HPA was able to successfully calculate a replica count "
                                                   "from cpu resource utilization (percentage of request)")
    assert cond(h, "ScalingLimited")["status"] == "False"
    evs = await events(api)
    assert ("SuccessfulRescale", "New size: 2; reason: cpu resource utilization (percentage of request) above "
                                 "target") in [(e["reason"], e["message"]) for e in evs]
    assert [e["source"]["component"] for e in evs if e["reason"] == "SuccessfulRescale"] == [
        "horizontal-pod-autoscaler"]


async def test_resync_period_drives_the_next_step_and_max_clamps(api, clock, world):
    cm, metrics = world
    for i in range(4):
        await running_pod(api, clock, i)
    metrics.usage = {f"web-{i}": 400 for i in range(4)}   # 200%: wants 4x
    await api.patch("deployments", "web", {"spec": {"replicas": 4}}, "default")
    await api.create("horizontalpodautoscalers", hpa(maxReplicas=6), "default")
    await settle(cm)
    assert await replicas(api) == 6
    h = await api.get("horizontalpodautoscalers", "web", "default")
    assert (cond(h, "ScalingLimited")["status"], cond(h, "ScalingLimited")["reason"]) == ("True", "TooManyReplicas")
    # nothing happens between syncs; the next one comes after the lab sync period
    metrics.usage = {f"web-{i}": 20 for i in range(4)}
    await settle(cm, clock, 1.0)
    assert await replicas(api) == 6


async def test_scale_down_waits_for_the_stabilization_window(api, clock, world):
    cm, metrics = world
    for i in range(4):
        await running_pod(api, clock, i)
    await api.patch("deployments", "web", {"spec": {"replicas": 4}}, "default")
    metrics.usage = {f"web-{i}": 100 for i in range(4)}    # exactly the target
    await api.create("horizontalpodautoscalers", hpa(), "default")
    await settle(cm)
    metrics.usage = {f"web-{i}": 10 for i in range(4)}     # 5%: wants 1
    await settle(cm, clock, 2.0)
    assert await replicas(api) == 4
    h = await api.get("horizontalpodautoscalers", "web", "default")
    assert cond(h, "AbleToScale")["reason"] == "ScaleDownStabilized"
    await settle(cm, clock, 16.0, step=2.0)                 # past the lab window (15 s)
    assert await replicas(api) == 1
    assert "New size: 1; reason: All metrics below target" in [e["message"] for e in await events(api)]


async def test_no_metrics_sets_scaling_active_false_with_upstreams_messages(api, clock, world):
    cm, metrics = world
    await running_pod(api, clock, 0)
    await api.create("horizontalpodautoscalers", hpa(), "default")
    await settle(cm)
    h = await api.get("horizontalpodautoscalers", "web", "default")
    assert cond(h, "ScalingActive")["status"] == "False"
    assert cond(h, "ScalingActive")["reason"] == "FailedGetResourceMetric"
    assert cond(h, "ScalingActive")["message"] == (
        "the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics "
        "for resource cpu: no metrics returned from resource metrics API")
    msgs = [(e["reason"], e["message"]) for e in await events(api)]
    assert ("FailedComputeMetricsReplicas", "invalid metrics (1 invalid out of 1), first error is: failed to get "
            "cpu resource metric value: failed to get cpu utilization: unable to get metrics for resource cpu: "
            "no metrics returned from resource metrics API") in msgs
    assert await replicas(api) == 1


async def test_missing_target_is_failed_get_scale(api, clock, world):
    cm, _ = world
    body = hpa()
    body["spec"]["scaleTargetRef"]["name"] = "nope"
    await api.create("horizontalpodautoscalers", body, "default")
    await settle(cm)
    h = await api.get("horizontalpodautoscalers", "web", "default")
    c = cond(h, "AbleToScale")
    assert (c["status"], c["reason"]) == ("False", "FailedGetScale")
    assert c["message"].startswith("the HPA controller was unable to get the target's current scale: ")
    assert "FailedGetScale" in [e["reason"] for e in await events(api)]


async def test_zero_replicas_disables_scaling(api, clock, world):
    cm, metrics = world
    await api.patch("deployments", "web", {"spec": {"replicas": 0}}, "default")
    await api.create("horizontalpodautoscalers", hpa(), "default")
    await settle(cm)
    h = await api.get("horizontalpodautoscalers", "web", "default")
    assert (cond(h, "ScalingActive")["reason"], await replicas(api)) == ("ScalingDisabled", 0)


async def test_behavior_policy_limits_the_scale_up_rate(api, clock, world):
    cm, metrics = world
    await running_pod(api, clock, 0)
    metrics.usage = {"web-0": 400}            # 200%: wants 4
    behavior = {"scaleUp": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}}
    await api.create("horizontalpodautoscalers", hpa(behavior=behavior), "default")
    await settle(cm)
    assert await replicas(api) == 2
    h = await api.get("horizontalpodautoscalers", "web", "default")
    assert h["spec"]["behavior"]["scaleUp"]["selectPolicy"] == "Max"          # defaulted by the API server
    assert h["spec"]["behavior"]["scaleDown"]["policies"] == [{"type": "Percent", "value": 100,
                                                               "periodSeconds": 15}]
    await running_pod(api, clock, 1)
    metrics.usage = {"web-0": 400, "web-1": 400}
    await settle(cm, clock, 2.0)               # next sync: still within the 60 s period
    assert await replicas(api) == 2
    h = await api.get("horizontalpodautoscalers", "web", "default")
    assert (cond(h, "ScalingLimited")["status"], cond(h, "ScalingLimited")["reason"]) == ("True", "ScaleUpLimit")
    await settle(cm, clock, 60.0, step=2.0)    # a new period: one more pod
    assert await replicas(api) == 3


async def test_below_min_replicas_is_raised_to_min(api, clock, world):
    cm, metrics = world
    await api.create("horizontalpodautoscalers", hpa(minReplicas=3), "default")
    await settle(cm)
    assert await replicas(api) == 3
    assert "New size: 3; reason: Current number of replicas below Spec.MinReplicas" in [
        e["message"] for e in await events(api)]


async def test_average_value_target_scales_on_raw_usage(api, clock, world):
    cm, metrics = world
    for i in range(2):
        await running_pod(api, clock, i)
    await api.patch("deployments", "web", {"spec": {"replicas": 2}}, "default")
    metrics.usage = {"web-0": 300, "web-1": 300}
    body = hpa(metrics=[{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "AverageValue", "averageValue": "100m"}}}])
    await api.create("horizontalpodautoscalers", body, "default")
    await settle(cm)
    assert await replicas(api) == 4            # scale-up limit: max(2 x 2, 4)
    h = await api.get("horizontalpodautoscalers", "web", "default")
    assert h["status"]["currentMetrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "current": {"averageValue": "300m"}}}]
    assert "New size: 4; reason: cpu resource above target" in [e["message"] for e in await events(api)]
