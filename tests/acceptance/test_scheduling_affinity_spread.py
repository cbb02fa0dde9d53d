"""Issue 12 item 9 acceptance: extended resources, required pod affinity and topology spread, on a
whole cluster of simulated nodes driven by the real kubectl, as a learner would meet them.

- a pod asking ``example.com/dongle: 3`` stays Pending (upstream's FailedScheduling words) until a
  node advertises dongles the way a device plugin does (a patch of ``status.capacity``);
- required pod affinity with no matching pod stays Pending, then lands beside the peer;
- a ``topologySpreadConstraint`` on a label no node has stays Pending;
- ``DoNotSchedule`` over zones keeps replicas balanced, and ``kubetui explain`` shows the plugins.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.acceptance.conftest import eventually, is_ready, start_cluster
from tests.acceptance.test_scheduling import kubetui

ZONE = "topology.kubernetes.io/zone"

DONGLE_POD = """apiVersion: v1
kind: Pod
metadata:
  name: dongle
spec:
  containers:
  - name: c
    image: nginx
    resources:
      limits: {example.com/dongle: 3}
"""

AFFINE_POD = """apiVersion: v1
kind: Pod
metadata:
  name: app
  labels: {app: app}
spec:
  affinity:
    podAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - labelSelector:
          matchLabels: {app: db}
        topologyKey: kubernetes.io/hostname
  containers:
  - name: c
    image: nginx
"""

DB_POD = """apiVersion: v1
kind: Pod
metadata:
  name: db
  labels: {app: db}
spec:
  nodeSelector: {kubernetes.io/hostname: node-3}
  containers:
  - name: c
    image: nginx
"""

SPREAD_DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      topologySpreadConstraints:
      - maxSkew: 1
        topologyKey: {key}
        whenUnsatisfiable: DoNotSchedule
        labelSelector:
          matchLabels: {{app: {name}}}
      containers:
      - name: c
        image: nginx
        resources:
          requests: {{cpu: 10m}}
"""


@pytest.fixture
async def cluster(tmp_path):
    c = await start_cluster(tmp_path / "c", nodes=3, node_cpus=2)
    yield c
    await c.stop()


async def failed_scheduling(cluster, pod: str) -> list[str]:
    out = await cluster.ok("get", "events", "--field-selector", f"involvedObject.name={pod},reason=FailedScheduling",
                           "-o", "json")
    return [e["message"] for e in json.loads(out)["items"]]


async def running_on(cluster, name: str):
    pod = await cluster.client.get("pods", name, "default")
    return pod["spec"].get("nodeName") if is_ready(pod) else None


async def test_extended_resource_pending_until_a_node_advertises_it(cluster):
    await cluster.ok("create", "-f", "-", stdin=DONGLE_POD)
    want = ("0/3 nodes are available: 3 Insufficient example.com/dongle. preemption: 0/3 nodes are available: "
            "3 No preemption victims found for incoming pod.")
    assert await eventually(lambda: failed_scheduling(cluster, "dongle"), "FailedScheduling") == [want]
    assert (await cluster.client.get("pods", "dongle", "default"))["spec"].get("nodeName") is None

    # What a device plugin does (and the Kubernetes docs' "advertise extended resources for a node").
    await cluster.ok("patch", "node", "node-2", "--subresource=status", "--type=json", "-p",
                     '[{"op": "add", "path": "/status/capacity/example.com~1dongle", "value": "4"}]')
    assert await eventually(lambda: running_on(cluster, "dongle"), "dongle running", timeout=15) == "node-2"
    out = await cluster.ok("get", "node", "node-2", "-o", "jsonpath={.status.allocatable.example\\.com/dongle}")
    assert out == "4"


async def test_required_pod_affinity_waits_for_its_peer(cluster):
    await cluster.ok("create", "-f", "-", stdin=AFFINE_POD)
    want = ("0/3 nodes are available: 3 node(s) didn't match pod affinity rules. preemption: "
            "0/3 nodes are available: 3 Preemption is not helpful for scheduling.")
    assert await eventually(lambda: failed_scheduling(cluster, "app"), "FailedScheduling") == [want]
    rc, out, err = await kubetui("explain", "pod", "app", "--kubeconfig", str(cluster.kubeconfig))
    assert rc == 0, err
    rows = [line for line in out.splitlines() if line.startswith("│") and "node-" in line]
    assert len(rows) == 3 and all("InterPodAffinity" in r and "Rejected" in r for r in rows), out

    await cluster.ok("create", "-f", "-", stdin=DB_POD)
    assert await eventually(lambda: running_on(cluster, "db"), "db running") == "node-3"
    # The peer's binding is a cluster event InterPodAffinity listens for: retried at once, placed beside it.
    assert await eventually(lambda: running_on(cluster, "app"), "app running", timeout=15) == "node-3"


async def test_topology_spread_on_a_missing_label_stays_pending(cluster):
    await cluster.ok("apply", "-f", "-", stdin=SPREAD_DEPLOY.format(name="racked", replicas=1,
                                                                   key="example.com/rack"))

    async def pending_pod():
        pods = await cluster.pods(selector="app=racked")
        return pods[0]["metadata"]["name"] if pods else None
    name = await eventually(pending_pod, "a racked pod")
    want = ("0/3 nodes are available: 3 node(s) didn't match pod topology spread constraints (missing required "
            "label). preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")
    assert await eventually(lambda: failed_scheduling(cluster, name), "FailedScheduling") == [want]
    assert (await cluster.client.get("pods", name, "default"))["spec"].get("nodeName") is None

    # A malformed constraint never reaches the scheduler: 422 with upstream's words, nothing stored.
    bad = SPREAD_DEPLOY.format(name="bad", replicas=1, key="zone").replace("maxSkew: 1", "maxSkew: 0")
    rc, out, err = await cluster.kubectl("apply", "-f", "-", stdin=bad)
    assert rc == 1
    assert ('The Deployment "bad" is invalid: spec.template.spec.topologySpreadConstraints[0].maxSkew: '
            "Invalid value: 0: must be greater than zero") in err, err
    rc, _, err = await cluster.kubectl("get", "deployment", "bad")
    assert rc == 1 and "NotFound" in err


async def test_spread_over_zones_balances(cluster):
    for node, zone in (("node-1", "a"), ("node-2", "a"), ("node-3", "b")):
        await cluster.ok("label", "node", node, f"{ZONE}={zone}")
    await cluster.ok("apply", "-f", "-", stdin=SPREAD_DEPLOY.format(name="web", replicas=6, key=ZONE))

    async def placed():
        pods = await cluster.pods(selector="app=web")
        if len(pods) != 6 or not all(p["spec"].get("nodeName") and is_ready(p) for p in pods):
            return None
        return Counter(p["spec"]["nodeName"] for p in pods)
    per_node = await eventually(placed, "6 web pods running", timeout=20)
    per_zone = Counter("b" if n == "node-3" else "a" for n in per_node.elements())
    assert per_zone == {"a": 3, "b": 3}, per_node       # without the constraint zone a (2 nodes) would get 4
    rc, out, err = await kubetui("explain", "pod", next(iter(
        p["metadata"]["name"] for p in await cluster.pods(selector="app=web"))),
        "--kubeconfig", str(cluster.kubeconfig))
    assert rc == 0, err
    assert "PodTopologySpread" in out


ANTI_DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: solo
spec:
  replicas: 4
  selector:
    matchLabels: {app: solo}
  template:
    metadata:
      labels: {app: solo}
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector:
              matchLabels: {app: solo}
            topologyKey: kubernetes.io/hostname
      containers:
      - name: c
        image: nginx
"""


async def test_required_anti_affinity_one_replica_per_node(cluster):
    await cluster.ok("apply", "-f", "-", stdin=ANTI_DEPLOY)

    async def split():
        pods = await cluster.pods(selector="app=solo")
        bound = [p["spec"]["nodeName"] for p in pods if p["spec"].get("nodeName") and is_ready(p)]
        pending = [p["metadata"]["name"] for p in pods if not p["spec"].get("nodeName")]
        return (bound, pending) if len(bound) == 3 and len(pending) == 1 else None
    bound, pending = await eventually(split, "3 running, 1 pending", timeout=20)
    assert sorted(bound) == ["node-1", "node-2", "node-3"]
    want = ("0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. preemption: "
            "0/3 nodes are available: 3 No preemption victims found for incoming pod.")
    assert want in await eventually(lambda: failed_scheduling(cluster, pending[0]), "FailedScheduling")
