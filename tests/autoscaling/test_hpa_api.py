"""autoscaling/v1 and v2 HorizontalPodAutoscalers over HTTPS with the real kubectl and the official client.

One API server per module (no controllers): what kube-apiserver itself does
with HPAs: both versions over one stored object, discovery, defaults,
validation, Table columns, ``kubectl autoscale``.
"""

from __future__ import annotations

import asyncio
import json

import pytest
import pytest_asyncio

from kubetui.api import autoscaling
from tests.apiserver.test_http_support import start_cluster
from tests.apiserver.test_pyclient import api_client

pytestmark = pytest.mark.asyncio(loop_scope="module")

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx
        resources: {requests: {cpu: 200m}}
"""

HPA_V2 = """apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: php
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 10
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
  - type: Resource
    resource: {name: memory, target: {type: AverageValue, averageValue: 100Mi}}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 60
      policies: [{type: Pods, value: 1, periodSeconds: 30}]
"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory):
    c = await start_cluster(tmp_path_factory.mktemp("hpa"))
    yield c
    await c.stop()


async def ok(c, *args, stdin=None):
    rc, out, err = await c.kubectl(*args, stdin=stdin)
    assert rc == 0, f"kubectl {' '.join(args)} -> {rc}\n{out}\n{err}"
    return out


async def test_api_resources_and_preferred_version(cluster):
    out = await ok(cluster, "api-resources", "--api-group=autoscaling")
    lines = [line.split() for line in out.splitlines()[1:]]
    assert ["horizontalpodautoscalers", "hpa", "autoscaling/v2", "true", "HorizontalPodAutoscaler"] in lines
    versions = (await ok(cluster, "api-versions")).split()
    assert "autoscaling/v1" in versions and "autoscaling/v2" in versions


async def test_kubectl_autoscale_creates_a_defaulted_hpa_shown_with_targets(cluster):
    await ok(cluster, "apply", "-f", "-", stdin=DEPLOY.encode())
    await ok(cluster, "autoscale", "deployment", "web", "--cpu-percent=50", "--min=1", "--max=10")
    hpa = json.loads(await ok(cluster, "get", "hpa", "web", "-o", "json"))
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
    assert hpa["spec"]["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]
    out = await ok(cluster, "get", "hpa", "web")
    head, row = out.splitlines()[0].split(), out.splitlines()[1].split()
    assert head == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
    assert row[:7] == ["web", "Deployment/web", "cpu:", "<unknown>/50%", "1", "10", "0"]
    out = await ok(cluster, "get", "all")
    assert "horizontalpodautoscaler.autoscaling/web" in out


async def test_v2_object_reads_back_through_v1_with_round_trip_annotations(cluster):
    await ok(cluster, "apply", "-f", "-", stdin=HPA_V2.encode())
    v1 = json.loads(await ok(cluster, "get", "horizontalpodautoscalers.v1.autoscaling", "php", "-o", "json"))
    assert v1["apiVersion"] == "autoscaling/v1"
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 50
    ann = v1["metadata"]["annotations"]
    assert json.loads(ann[autoscaling.METRIC_SPECS_ANNOTATION]) == [
        {"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "100Mi"}}]
    behavior = json.loads(ann[autoscaling.BEHAVIOR_ANNOTATION])
    assert behavior["ScaleDown"] == {"StabilizationWindowSeconds": 60, "SelectPolicy": "Max",
                                     "Policies": [{"Type": "Pods", "Value": 1, "PeriodSeconds": 30}]}
    assert behavior["ScaleUp"]["Policies"][0] == {"Type": "Pods", "Value": 4, "PeriodSeconds": 15}
    # Writing the v1 object back changes nothing of the v2 object.
    before = json.loads(await ok(cluster, "get", "hpa", "php", "-o", "json"))
    v1["spec"]["maxReplicas"] = 12
    await ok(cluster, "replace", "-f", "-", stdin=json.dumps(v1).encode())
    after = json.loads(await ok(cluster, "get", "hpa", "php", "-o", "json"))
    assert after["spec"]["maxReplicas"] == 12
    after["spec"]["maxReplicas"] = 10
    # As upstream's conversion does, the CPU target comes back after the other metrics.
    assert after["spec"]["metrics"] == before["spec"]["metrics"][1:] + before["spec"]["metrics"][:1]
    after["spec"]["metrics"] = before["spec"]["metrics"]
    assert after["spec"] == before["spec"]
    assert not set(after["metadata"].get("annotations") or {}) & set(autoscaling.ROUND_TRIP_ANNOTATIONS)


async def test_v1_create_gets_the_default_cpu_target_and_patch_through_v1(cluster):
    from kubernetes import client
    api = client.AutoscalingV1Api(api_client(cluster))
    body = client.V1HorizontalPodAutoscaler(
        metadata=client.V1ObjectMeta(name="old"),
        spec=client.V1HorizontalPodAutoscalerSpec(
            scale_target_ref=client.V1CrossVersionObjectReference(api_version="apps/v1", kind="Deployment",
                                                                  name="web"), max_replicas=3))
    created = await asyncio.to_thread(api.create_namespaced_horizontal_pod_autoscaler, "default", body)
    assert created.spec.min_replicas == 1 and created.spec.target_cpu_utilization_percentage == 80
    patched = await asyncio.to_thread(api.patch_namespaced_horizontal_pod_autoscaler, "old", "default",
                                      {"spec": {"targetCPUUtilizationPercentage": 60}})
    assert patched.spec.target_cpu_utilization_percentage == 60
    v2 = await asyncio.to_thread(client.AutoscalingV2Api(api_client(cluster)).read_namespaced_horizontal_pod_autoscaler,
                                 "old", "default")
    assert [m.resource.target.average_utilization for m in v2.spec.metrics] == [60]
    listed = await asyncio.to_thread(api.list_namespaced_horizontal_pod_autoscaler, "default")
    assert {i.metadata.name for i in listed.items} >= {"old", "php", "web"}


@pytest.mark.parametrize("spec, message", [
    ({"minReplicas": 5, "maxReplicas": 2}, "spec.minReplicas: Invalid value: 5: must be less than or equal to "
                                           "maxReplicas"),
    ({"maxReplicas": 0}, "spec.maxReplicas: Invalid value: 0: must be greater than 0"),
    ({"minReplicas": 0, "maxReplicas": 2}, "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1"),
    ({"maxReplicas": 2, "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization"}}}]},
     "spec.metrics[0].resource.target.averageUtilization: Required value: must set either a target raw value or "
     "a target utilization"),
    ({"maxReplicas": 2, "behavior": {"scaleUp": {"selectPolicy": "Sometimes"}}},
     'spec.behavior.scaleUp.selectPolicy: Unsupported value: "Sometimes": supported values: "Disabled", "Max", '
     '"Min"'),
])
async def test_invalid_hpas_are_refused_with_upstream_messages_and_nothing_stored(cluster, spec, message):
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "bad"},
           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, **spec}}
    rc, out, err = await cluster.kubectl("create", "-f", "-", stdin=json.dumps(hpa).encode())
    assert rc == 1
    assert 'The HorizontalPodAutoscaler "bad" is invalid' in err and message in err, err
    rc, _, err = await cluster.kubectl("get", "hpa", "bad")
    assert rc == 1 and "NotFound" in err


async def test_v1_invalid_is_refused_with_the_v2_path(cluster):
    hpa = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "bad1"},
           "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 3,
                    "targetCPUUtilizationPercentage": 0}}
    rc, _, err = await cluster.kubectl("create", "-f", "-", stdin=json.dumps(hpa).encode())
    assert rc == 1
    assert "spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0" in err


async def test_explain_hpa_both_versions(cluster):
    out = await ok(cluster, "explain", "hpa.spec.behavior.scaleDown")
    assert "stabilizationWindowSeconds" in out
    out = await ok(cluster, "explain", "hpa.spec", "--api-version=autoscaling/v1")
    assert "targetCPUUtilizationPercentage" in out


async def test_watch_through_v1_sends_v1_objects(cluster):
    from kubernetes import client, watch
    api = client.AutoscalingV1Api(api_client(cluster))

    def first_events():
        w = watch.Watch()
        out = []
        for ev in w.stream(api.list_namespaced_horizontal_pod_autoscaler, "default", timeout_seconds=2):
            out.append((ev["type"], ev["object"].api_version, ev["object"].metadata.name,
                        ev["object"].spec.target_cpu_utilization_percentage))
        return out
    events = await asyncio.to_thread(first_events)
    assert ("ADDED", "autoscaling/v1", "web", 50) in events
    assert all(e[1] == "autoscaling/v1" for e in events)


async def test_table_watch_through_v1_carries_v1_objects_in_its_rows(cluster):
    import aiohttp
    url = (f"{cluster.server.url}/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers"
           f"?watch=1&timeoutSeconds=1&includeObject=Object")
    headers = {"Authorization": f"Bearer {cluster.token}",
               "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}
    async with aiohttp.ClientSession() as s:
        async with s.get(url, headers=headers, ssl=False) as resp:
            lines = [json.loads(line) for line in (await resp.text()).splitlines() if line.strip()]
    rows = [row for ev in lines for row in ev["object"].get("rows") or []]
    assert rows and {r["object"]["apiVersion"] for r in rows} == {"autoscaling/v1"}
    assert "web" in [r["cells"][0] for r in rows]


async def test_kubectl_apply_of_a_v1_manifest_creates_then_patches(cluster):
    manifest = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "legacy"},
                "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                         "minReplicas": 1, "maxReplicas": 3, "targetCPUUtilizationPercentage": 70}}
    await ok(cluster, "apply", "-f", "-", stdin=json.dumps(manifest).encode())
    manifest["spec"]["targetCPUUtilizationPercentage"] = 40
    manifest["spec"]["maxReplicas"] = 6
    out = await ok(cluster, "apply", "-f", "-", stdin=json.dumps(manifest).encode())
    assert "configured" in out
    v2 = json.loads(await ok(cluster, "get", "hpa", "legacy", "-o", "json"))
    assert v2["spec"]["maxReplicas"] == 6
    assert v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 40
