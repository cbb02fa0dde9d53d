"""Issue 13 (policy) acceptance on a whole cluster of simulated nodes, with the real kubectl:
a ReplicationController scaled, ``kubectl drain`` blocked by a PodDisruptionBudget and then allowed,
and a high-priority pod preempting a low-priority one.
"""

from __future__ import annotations

import json

import pytest
import pytest_asyncio

from tests.acceptance.conftest import eventually, is_ready, start_cluster

pytestmark = pytest.mark.asyncio(loop_scope="module")

RC = """apiVersion: v1
kind: ReplicationController
metadata: {name: legacy}
spec:
  replicas: 2
  template:
    metadata: {labels: {app: legacy}}
    spec:
      containers: [{name: c, image: nginx, resources: {requests: {cpu: 50m}}}]
"""

WEB = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      nodeSelector: {kubernetes.io/hostname: %s}
      containers: [{name: c, image: nginx, resources: {requests: {cpu: 50m}}}]
"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory):
    c = await start_cluster(tmp_path_factory.mktemp("policy"), nodes=3)
    yield c
    await c.stop()


async def ready_pods(cluster, selector, n):
    pods = [p for p in await cluster.pods(selector=selector) if not p["metadata"].get("deletionTimestamp")]
    return pods if len(pods) == n and all(p["spec"].get("nodeName") and is_ready(p) for p in pods) else None


async def test_replication_controller_scales(cluster):
    await cluster.ok("apply", "-f", "-", stdin=RC)
    await eventually(lambda: ready_pods(cluster, "app=legacy", 2), "2 legacy pods", timeout=20)
    await cluster.ok("scale", "rc", "legacy", "--replicas=4")
    await eventually(lambda: ready_pods(cluster, "app=legacy", 4), "4 legacy pods", timeout=20)
    out = await cluster.ok("get", "rc", "legacy")
    assert out.splitlines()[1].split()[:4] == ["legacy", "4", "4", "4"]
    await cluster.ok("delete", "rc", "legacy")
    await eventually(lambda: _none(cluster, "app=legacy"), "legacy pods gone", timeout=20)


async def _none(cluster, selector):
    return not await cluster.pods(selector=selector)


async def test_drain_is_blocked_by_a_budget_then_allowed(cluster):
    node = (await cluster.client.list("nodes"))["items"][0]["metadata"]["name"]
    await cluster.ok("apply", "-f", "-", stdin=WEB % node)
    await eventually(lambda: ready_pods(cluster, "app=web", 2), "2 web pods", timeout=20)
    await cluster.ok("create", "pdb", "web", "--selector=app=web", "--min-available=2")

    async def budget(allowed):
        pdb = await cluster.client.get("poddisruptionbudgets", "web", "default")
        st = pdb.get("status") or {}
        return st if st.get("observedGeneration") == 1 and st.get("currentHealthy") == 2 and \
            st.get("disruptionsAllowed") == allowed else None
    await eventually(lambda: budget(0), "the budget counted", timeout=20)
    rc, out, err = await cluster.kubectl("drain", node, "--ignore-daemonsets", "--timeout=7s", timeout=40)
    assert rc != 0
    assert "Cannot evict pod as it would violate the pod's disruption budget." in err
    assert len(await ready_pods(cluster, "app=web", 2) or []) == 2, "nothing was evicted"

    # Relax the budget: drain now evicts both (the pods' replacements cannot run on the cordoned node,
    # so they stay Pending: minAvailable 0 lets the second go too).
    await cluster.ok("patch", "pdb", "web", "--type=merge", "-p", json.dumps({"spec": {"minAvailable": 0}}))
    out = await cluster.ok("drain", node, "--ignore-daemonsets", "--timeout=60s", timeout=90)
    assert f"node/{node} drained" in out and "evicted" in out
    await cluster.ok("uncordon", node)
    await cluster.ok("delete", "deployment", "web")
    await cluster.ok("delete", "pdb", "web")


async def test_high_priority_pod_preempts_a_low_priority_one(cluster):
    await cluster.ok("create", "priorityclass", "high", "--value=1000")
    node = (await cluster.client.list("nodes"))["items"][1]["metadata"]["name"]
    cpu = (await cluster.client.get("nodes", node))["status"]["allocatable"]["cpu"]
    low = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "low", "labels": {"app": "low"}},
           "spec": {"nodeSelector": {"kubernetes.io/hostname": node},
                    "containers": [{"name": "c", "image": "nginx", "resources": {"requests": {"cpu": "1"}}}]}}
    await cluster.ok("apply", "-f", "-", stdin=json.dumps(low))
    await eventually(lambda: ready_pods(cluster, "app=low", 1), "low running", timeout=20)
    high = json.loads(json.dumps(low))
    high["metadata"]["name"] = "high"
    high["spec"]["priorityClassName"] = "high"
    high["spec"]["containers"][0]["resources"]["requests"]["cpu"] = cpu   # the whole node
    await cluster.ok("apply", "-f", "-", stdin=json.dumps(high))

    async def preempted():
        pods = {p["metadata"]["name"]: p for p in await cluster.pods()}
        h = pods.get("high")
        return h if "low" not in pods and h and h["spec"].get("nodeName") == node else None
    h = await eventually(preempted, "high bound after preempting low", timeout=30)
    assert h["status"].get("nominatedNodeName") == node
    out = await cluster.ok("get", "events", "--field-selector=reason=Preempted")
    assert f"Preempted by pod {h['metadata']['uid']} on node {node}" in out
