"""Issue 13 acceptance, apps/v1: the real kubectl and the official Python client drive
DaemonSets and StatefulSets on a whole cluster with three simulated nodes: one pod per
node, a new node gets its pod, a tainted node without a toleration gets none, rollouts
(status, history, undo) within maxUnavailable, ordered StatefulSet creation, scale down
in reverse, a partitioned rollout and its undo.
"""

from __future__ import annotations

import asyncio
import json

import pytest
import pytest_asyncio

from tests.acceptance.conftest import eventually, is_ready, start_cluster

pytestmark = pytest.mark.asyncio(loop_scope="module")

DS = """apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: {name}
  annotations: {{kubernetes.io/change-cause: "{cause}"}}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  updateStrategy: {{type: RollingUpdate, rollingUpdate: {{maxUnavailable: 1}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - name: agent
        image: {image}
        resources: {{requests: {{cpu: 10m, memory: 16Mi}}}}
"""

STS = """apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{port: 80, name: web}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        resources: {requests: {cpu: 10m, memory: 16Mi}}
"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory):
    c = await start_cluster(tmp_path_factory.mktemp("appssets"), nodes=3)
    yield c
    await c.stop()


async def live(cluster, selector):
    return [p for p in await cluster.pods(selector=selector) if not p["metadata"].get("deletionTimestamp")]


async def all_ready(cluster, selector, n, image=None):
    pods = await live(cluster, selector)
    everyone = await cluster.pods(selector=selector)
    if len(pods) != n or len(everyone) != n or not all(p["spec"].get("nodeName") and is_ready(p) for p in pods):
        return None
    if image and any(p["spec"]["containers"][0]["image"] != image for p in pods):
        return None
    return pods


async def test_daemonset_per_node_new_node_taint_rollout_undo(cluster):
    await cluster.ok("apply", "-f", "-", stdin=DS.format(name="agent", image="busybox:1.36", cause="v1"))
    pods = await eventually(lambda: all_ready(cluster, "app=agent", 3), "3 daemon pods", timeout=30)
    assert sorted(p["spec"]["nodeName"] for p in pods) == sorted({p["spec"]["nodeName"] for p in pods})
    out = await cluster.ok("rollout", "status", "ds/agent", "--timeout=30s")
    assert 'daemon set "agent" successfully rolled out' in out
    # A new node gets its pod.
    await cluster.add_node("node-4")
    pods = await eventually(lambda: all_ready(cluster, "app=agent", 4), "a pod on the new node", timeout=30)
    assert "node-4" in {p["spec"]["nodeName"] for p in pods}
    # A tainted node gets no pod of a DaemonSet that does not tolerate it.
    await cluster.ok("taint", "node", "node-4", "dedicated=db:NoSchedule")
    await cluster.ok("apply", "-f", "-", stdin=DS.format(name="logs", image="busybox:1.36", cause="v1"))
    pods = await eventually(lambda: all_ready(cluster, "app=logs", 3), "3 log pods", timeout=30)
    assert "node-4" not in {p["spec"]["nodeName"] for p in pods}
    out = await cluster.ok("get", "ds", "logs")
    assert out.splitlines()[1].split()[1:6] == ["3", "3", "3", "3", "3"]
    # A rolling update never has more than maxUnavailable (1) node without an available pod.
    # node-4 is tainted now: its old pod may stay until the update replaces it, and then
    # no new one is placed there (upstream's rollingUpdate does not keep ineligible nodes).
    worst = 0
    await cluster.ok("apply", "-f", "-", stdin=DS.format(name="agent", image="busybox:1.37", cause="v2"))

    async def rolled():
        nonlocal worst
        ds = await cluster.client.get("daemonsets", "agent", "default")
        st = ds.get("status") or {}
        worst = max(worst, int(st.get("desiredNumberScheduled", 0)) - int(st.get("numberAvailable", 0)))
        return await all_ready(cluster, "app=agent", 3, image="busybox:1.37")

    await eventually(rolled, "the rollout", timeout=60, interval=0.02)
    assert worst <= 1
    out = await cluster.ok("rollout", "status", "ds/agent", "--timeout=30s")
    assert "successfully rolled out" in out
    out = await cluster.ok("rollout", "history", "ds/agent")
    lines = [line.split() for line in out.splitlines() if line and line[0].isdigit()]
    assert lines == [["1", "v1"], ["2", "v2"]]
    out = await cluster.ok("rollout", "history", "ds/agent", "--revision=1")
    assert "busybox:1.36" in out
    out = await cluster.ok("describe", "ds", "agent")
    assert "Desired Number of Nodes Scheduled: 3" in out and "Pods Status:  3 Running" in out
    assert "SuccessfulCreate" in out
    await cluster.ok("rollout", "undo", "ds/agent")
    await eventually(lambda: all_ready(cluster, "app=agent", 3, image="busybox:1.36"), "the undo", timeout=60)
    out = await cluster.ok("rollout", "history", "ds/agent")
    assert [line.split()[0] for line in out.splitlines() if line and line[0].isdigit()] == ["2", "3"]
    await cluster.ok("delete", "ds", "agent", "logs")
    await eventually(lambda: _none(cluster, "app in (agent,logs)"), "daemon pods gone", timeout=30)


async def _none(cluster, selector):
    return not await cluster.pods(selector=selector)


async def test_statefulset_order_scale_partition_undo(cluster):
    await cluster.ok("apply", "-f", "-", stdin=STS)
    pods = await eventually(lambda: all_ready(cluster, "app=web", 3), "web-0..2", timeout=60)
    by_name = {p["metadata"]["name"]: p for p in pods}
    assert sorted(by_name) == ["web-0", "web-1", "web-2"]
    # Ordered: each pod was created after the one before it was Ready.
    ready_at = {n: next(c["lastTransitionTime"] for c in p["status"]["conditions"] if c["type"] == "Ready")
                for n, p in by_name.items()}
    assert ready_at["web-0"] <= by_name["web-1"]["metadata"]["creationTimestamp"]
    assert ready_at["web-1"] <= by_name["web-2"]["metadata"]["creationTimestamp"]
    assert by_name["web-1"]["spec"]["hostname"] == "web-1" and by_name["web-1"]["spec"]["subdomain"] == "web"
    assert by_name["web-1"]["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "1"
    out = await cluster.ok("rollout", "status", "sts/web", "--timeout=30s")
    # The defaulted rollingUpdate has a partition (0), so kubectl reports it as partitioned, as upstream.
    assert "partitioned roll out complete: 3 new pods have been updated" in out
    # Scale down in reverse order.
    await cluster.ok("scale", "sts", "web", "--replicas=1")
    await eventually(lambda: all_ready(cluster, "app=web", 1), "web-0 alone", timeout=60)
    deletes = [e for e in await cluster.events() if e["reason"] == "SuccessfulDelete"
               and e["involvedObject"]["name"] == "web"]
    deletes.sort(key=lambda e: e.get("firstTimestamp") or e.get("eventTime") or "")
    assert [e["message"].split()[2] for e in deletes] == ["web-2", "web-1"]
    await cluster.ok("scale", "sts", "web", "--replicas=3")
    await eventually(lambda: all_ready(cluster, "app=web", 3), "back to 3", timeout=60)
    # A partitioned rollout: only ordinals >= 2 move to the new template.
    await cluster.ok("patch", "sts", "web", "-p",
                     json.dumps({"spec": {"updateStrategy": {"rollingUpdate": {"partition": 2}}}}))
    await cluster.ok("set", "image", "sts/web", "nginx=nginx:1.28")

    async def partitioned():
        pods = await all_ready(cluster, "app=web", 3)
        if not pods:
            return None
        images = {p["metadata"]["name"]: p["spec"]["containers"][0]["image"] for p in pods}
        return images if images["web-2"] == "nginx:1.28" else None

    images = await eventually(partitioned, "web-2 updated", timeout=60)
    assert images == {"web-0": "nginx:1.27", "web-1": "nginx:1.27", "web-2": "nginx:1.28"}
    out = await cluster.ok("rollout", "status", "sts/web", "--timeout=30s")
    assert "partitioned roll out complete: 1 new pods have been updated" in out
    # Finish it, then undo with the Python client watching the result.
    await cluster.ok("patch", "sts", "web", "-p",
                     json.dumps({"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}}))
    await eventually(lambda: all_ready(cluster, "app=web", 3, image="nginx:1.28"), "all updated", timeout=90)
    await cluster.ok("rollout", "undo", "sts/web")
    await eventually(lambda: all_ready(cluster, "app=web", 3, image="nginx:1.27"), "the undo", timeout=90)
    out = await cluster.ok("rollout", "history", "sts/web")
    assert [line.split()[0] for line in out.splitlines() if line and line[0].isdigit()] == ["2", "3"]
    out = await cluster.ok("describe", "sts", "web")
    assert "3 desired | 3 total" in out and "3 Running / 0 Waiting" in out
    assert "create Pod web-2 in StatefulSet web successful" in out

    from kubernetes import client as k8s
    from kubernetes import config

    def with_client():
        cfg = k8s.Configuration()
        config.load_kube_config(config_file=str(cluster.kubeconfig), client_configuration=cfg)
        apps = k8s.AppsV1Api(k8s.ApiClient(cfg))
        sts = apps.read_namespaced_stateful_set("web", "default")
        scale = apps.patch_namespaced_stateful_set_scale("web", "default", {"spec": {"replicas": 2}})
        revisions = apps.list_namespaced_controller_revision("default").items
        return sts, scale, revisions

    sts, scale, revisions = await asyncio.to_thread(with_client)
    assert sts.spec.pod_management_policy == "OrderedReady" and sts.status.ready_replicas == 3
    assert scale.spec.replicas == 2
    assert {r.metadata.owner_references[0].kind for r in revisions} == {"StatefulSet"}
    await eventually(lambda: all_ready(cluster, "app=web", 2), "scaled to 2 by the Python client", timeout=60)
