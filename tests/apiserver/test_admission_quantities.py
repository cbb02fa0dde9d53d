"""Objects read back as a real cluster returns them (issue 12, item 8).

Quantities come back in canonical form wherever a Quantity lives, and pods
carry what upstream's admission plugins add (ServiceAccount,
DefaultTolerationSeconds, Priority), through the real kubectl and the
official Python client. The expected pod spec is what kube-apiserver returns
for the same manifest, the ``kube-api-access-xxxxx`` token volume included.
"""

from __future__ import annotations

import asyncio
import json

import pytest
import pytest_asyncio
import yaml
from kubernetes import client as k8s

from kubetui.api.resources import resource_for
from kubetui.timings import KUBERNETES, LAB
from tests.apiserver.test_http_support import HTTPCluster, start_cluster
from tests.apiserver.test_pyclient import api_client

pytestmark = pytest.mark.asyncio(loop_scope="module")

POD = """apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  containers:
  - name: c
    image: nginx:1.27
"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory):
    c = await start_cluster(tmp_path_factory.mktemp("admission"), node_connector=None)
    yield c
    await c.stop()


async def kubectl_ok(c: HTTPCluster, *args: str, stdin: str | None = None) -> str:
    rc, out, err = await c.kubectl(*args, stdin=stdin.encode() if stdin is not None else None)
    assert rc == 0, f"kubectl {' '.join(args)} -> {rc}\n{out}\n{err}"
    return out


async def get_json(c: HTTPCluster, *args: str) -> dict:
    return json.loads(await kubectl_ok(c, "get", *args, "-o", "json"))


async def test_a_pod_reads_back_as_from_a_real_cluster(cluster):
    cluster.registry.hooks.admission.timings = KUBERNETES
    try:
        await kubectl_ok(cluster, "apply", "-f", "-", stdin=POD.format(name="plain"))
    finally:
        cluster.registry.hooks.admission.timings = LAB
    spec = (await get_json(cluster, "pod", "plain"))["spec"]
    # the ServiceAccount plugin's volume: "kube-api-access-" and 5 random characters
    vol = spec["volumes"][0]["name"]
    assert vol.startswith("kube-api-access-") and len(vol) == len("kube-api-access-") + 5
    assert spec == {
        "containers": [{"image": "nginx:1.27", "imagePullPolicy": "IfNotPresent", "name": "c", "resources": {},
                        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                        "volumeMounts": [{"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                                          "name": vol, "readOnly": True}]}],
        "dnsPolicy": "ClusterFirst",
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
        "priority": 0,
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "serviceAccount": "default",
        "serviceAccountName": "default",
        "terminationGracePeriodSeconds": 30,
        "tolerations": [
            {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists",
             "tolerationSeconds": 300},
            {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists",
             "tolerationSeconds": 300},
        ],
        "volumes": [{"name": vol, "projected": {"defaultMode": 420, "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}},
            {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                                        "path": "namespace"}]}},
        ]}}],
    }


async def test_lab_timings_and_own_tolerations(cluster):
    pod = yaml.safe_load(POD.format(name="tolerant"))
    pod["spec"]["tolerations"] = [{"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                                   "effect": "NoExecute", "tolerationSeconds": 60}]
    pod["spec"]["serviceAccount"] = "default"  # the deprecated alias still names the account
    await kubectl_ok(cluster, "apply", "-f", "-", stdin=json.dumps(pod))
    spec = (await get_json(cluster, "pod", "tolerant"))["spec"]
    assert spec["tolerations"] == [
        {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists",
         "tolerationSeconds": 60},
        {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists",
         "tolerationSeconds": LAB.default_toleration_seconds},
    ]
    assert spec["serviceAccountName"] == spec["serviceAccount"] == "default"
    # a later patch keeps what admission set
    await kubectl_ok(cluster, "label", "pod", "tolerant", "tier=x")
    spec = (await get_json(cluster, "pod", "tolerant"))["spec"]
    assert spec["priority"] == 0 and spec["preemptionPolicy"] == "PreemptLowerPriority"


@pytest.mark.parametrize("edit, message", [
    ({"serviceAccountName": "robot"},
     'pods "refused" is forbidden: error looking up service account default/robot: '
     'serviceaccount "robot" not found'),
    ({"priorityClassName": "urgent"}, 'pods "refused" is forbidden: no PriorityClass with name urgent was found'),
    ({"priority": 7}, 'pods "refused" is forbidden: the integer value of priority (7) must not be provided in '
                      'pod spec; priority admission controller computed 0 from the given PriorityClass name'),
])
async def test_admission_refusals_are_403_with_upstreams_words(cluster, edit, message):
    pod = yaml.safe_load(POD.format(name="refused"))
    pod["spec"].update(edit)
    rc, out, err = await cluster.kubectl("create", "-f", "-", stdin=json.dumps(pod).encode())
    assert rc != 0 and f"Error from server (Forbidden): error when creating \"STDIN\": {message}" in err, err
    assert cluster.store.get(resource_for("pods").key("refused", "default")) is None


async def test_system_priority_class_and_service_account_pull_secrets(cluster):
    await kubectl_ok(cluster, "apply", "-f", "-", stdin=json.dumps({
        "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "builder"},
        "imagePullSecrets": [{"name": "registry-key"}]}))
    pod = yaml.safe_load(POD.format(name="critical"))
    pod["spec"].update(priorityClassName="system-cluster-critical", serviceAccountName="builder")
    await kubectl_ok(cluster, "apply", "-f", "-", stdin=json.dumps(pod))
    spec = (await get_json(cluster, "pod", "critical"))["spec"]
    assert spec["priority"] == 2000000000 and spec["serviceAccount"] == "builder"
    assert spec["imagePullSecrets"] == [{"name": "registry-key"}]


QUANTITIES = """apiVersion: v1
kind: Pod
metadata:
  name: sized
spec:
  overhead: {cpu: "0.25"}
  containers:
  - name: c
    image: busybox
    resources:
      requests: {cpu: "0.5", memory: 1Gi, example.com/dongle: 3}
      limits: {cpu: 1000m, memory: 1.5Gi, example.com/dongle: 3}
    env:
    - name: CPU
      valueFrom: {resourceFieldRef: {resource: limits.cpu}}
    - name: MEM
      valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1024Ki}}
    volumeMounts: [{name: scratch, mountPath: /scratch}, {name: info, mountPath: /info}]
  volumes:
  - name: scratch
    emptyDir: {sizeLimit: 0.5Gi}
  - name: info
    downwardAPI:
      items:
      - path: cpu
        resourceFieldRef: {containerName: c, resource: requests.cpu, divisor: 1000m}
"""


async def test_quantities_read_back_canonical(cluster):
    await kubectl_ok(cluster, "apply", "-f", "-", stdin=QUANTITIES)
    spec = (await get_json(cluster, "pod", "sized"))["spec"]
    c = spec["containers"][0]
    assert c["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi", "example.com/dongle": "3"},
                              "limits": {"cpu": "1", "memory": "1536Mi", "example.com/dongle": "3"}}
    assert spec["overhead"] == {"cpu": "250m"}
    assert [e["valueFrom"]["resourceFieldRef"]["divisor"] for e in c["env"]] == ["0", "1Mi"]
    assert spec["volumes"][0]["emptyDir"] == {"sizeLimit": "512Mi"}
    assert spec["volumes"][1]["downwardAPI"]["items"][0]["resourceFieldRef"]["divisor"] == "1"


async def test_quantities_of_other_kinds_through_the_python_client(cluster):
    core = k8s.CoreV1Api(api_client(cluster))
    apps = k8s.AppsV1Api(api_client(cluster))
    pvc = await asyncio.to_thread(core.create_namespaced_persistent_volume_claim, "default", {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1.5Gi"}}}})
    assert pvc.spec.resources.requests == {"storage": "1536Mi"}
    pv = await asyncio.to_thread(core.create_persistent_volume, {
        "metadata": {"name": "pv-q"},
        "spec": {"capacity": {"storage": "2048Mi"}, "accessModes": ["ReadWriteOnce"],
                 "hostPath": {"path": "/data/pv-q"}}})
    assert pv.spec.capacity == {"storage": "2Gi"}
    node = await asyncio.to_thread(core.create_node, {
        "metadata": {"name": "node-q"},
        "status": {"capacity": {"cpu": "2000m", "memory": "4096Mi", "pods": "110"},
                   "allocatable": {"cpu": "1.5", "memory": "3.5Gi", "pods": "110"}}})
    assert node.status.capacity == {"cpu": "2", "memory": "4Gi", "pods": "110"}
    assert node.status.allocatable == {"cpu": "1500m", "memory": "3584Mi", "pods": "110"}
    dep = await asyncio.to_thread(apps.create_namespaced_deployment, "default", {
        "metadata": {"name": "q"},
        "spec": {"selector": {"matchLabels": {"app": "q"}},
                 "template": {"metadata": {"labels": {"app": "q"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox",
                                                       "resources": {"requests": {"cpu": "0.1"}}}]}}}})
    assert dep.spec.template.spec.containers[0].resources.requests == {"cpu": "100m"}
    # a Deployment's template is not a pod: admission does not touch it
    assert dep.spec.template.spec.service_account_name is None and dep.spec.template.spec.priority is None
