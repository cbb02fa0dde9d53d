"""The real kubectl (v1.37) against kubetui's API server over HTTPS.

One server per module (a real Store in memory and the Registry); kubectl runs
as a subprocess with the cluster's kubeconfig, so every request crosses TLS
with the bearer token, exactly as a learner's would.
"""

from __future__ import annotations

import asyncio
import json

import pytest
import pytest_asyncio
import yaml

from kubetui.api.resources import resource_for
from tests.apiserver.test_http_support import HTTPCluster, start_cluster

pytestmark = pytest.mark.asyncio(loop_scope="module")

POD = """apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: {name}}}
spec:
  {node}containers:
  - name: c
    image: nginx:1.27
"""

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  replicas: 2
  selector:
    matchLabels: {{app: app}}
  template:
    metadata:
      labels: {{app: app}}
    spec:
      containers:
      - name: c
        image: {image}
"""


def metrics():
    return {"nodes": [{"metadata": {"name": "node-1"}, "timestamp": "2026-01-01T00:00:00Z", "window": "10s",
                       "usage": {"cpu": "250m", "memory": "512Mi"}}],
            "pods": [{"metadata": {"name": "runner", "namespace": "default"}, "timestamp": "2026-01-01T00:00:00Z",
                      "window": "10s", "containers": [{"name": "c", "usage": {"cpu": "5m", "memory": "20Mi"}}]}]}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory):
    c = await start_cluster(tmp_path_factory.mktemp("kubectl"), metrics_source=metrics)
    nodes = resource_for("nodes")
    await c.registry.create(nodes, None, {
        "metadata": {"name": "node-1", "labels": {"node-role.kubernetes.io/worker": ""}},
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                   "message": "kubelet is posting ready status"}],
                   "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}],
                   "allocatable": {"cpu": "2", "memory": "2Gi", "pods": "110"},
                   "capacity": {"cpu": "2", "memory": "2Gi", "pods": "110"},
                   "nodeInfo": {"kubeletVersion": "v1.37.0", "osImage": "kubetui", "kernelVersion": "6.1",
                                "containerRuntimeVersion": "kubetui://0.1"}}})
    pods = resource_for("pods")
    await c.registry.create(pods, "default", yaml.safe_load(POD.format(name="runner", node="nodeName: node-1\n  ")))
    yield c
    await c.stop()


async def ok(c: HTTPCluster, *args: str, stdin: bytes | None = None) -> str:
    rc, out, err = await c.kubectl(*args, stdin=stdin)
    assert rc == 0, f"kubectl {' '.join(args)} -> {rc}\nstdout: {out}\nstderr: {err}"
    return out


async def test_version_and_api_resources(cluster):
    out = await ok(cluster, "version", "-o", "json")
    assert json.loads(out)["serverVersion"]["gitVersion"].startswith("v1.")
    out = await ok(cluster, "api-resources")
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "deploy" in lines["deployments"] and "apps/v1" in lines["deployments"]
    assert "po" in lines["pods"] and "true" in lines["pods"]


async def test_get_nodes_and_pods_tables(cluster):
    out = await ok(cluster, "get", "nodes", "-o", "wide")
    header, row = out.splitlines()[:2]
    assert header.split()[:5] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert "INTERNAL-IP" in header and "CONTAINER-RUNTIME" in header
    assert row.split()[:3] == ["node-1", "Ready", "worker"] and "172.18.0.2" in row
    out = await ok(cluster, "get", "pods", "-A")
    assert out.splitlines()[0].split() == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert any(line.split()[:3] == ["default", "runner", "0/1"] for line in out.splitlines())
    out = await ok(cluster, "get", "pods", "-o", "wide")
    assert "NOMINATED NODE" in out and "node-1" in out
    doc = yaml.safe_load(await ok(cluster, "get", "pod", "runner", "-o", "yaml"))
    assert doc["kind"] == "Pod" and doc["metadata"]["uid"] and doc["spec"]["nodeName"] == "node-1"
    lst = yaml.safe_load(await ok(cluster, "get", "pods", "-o", "yaml"))
    assert lst["kind"] == "List" and lst["items"][0]["kind"] == "Pod"


async def test_get_watch_sees_new_pod(cluster):
    proc = await asyncio.create_subprocess_exec(
        *cluster_cmd(cluster, "get", "pods", "-w", "--output-watch-events"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        first = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert b"NAME" in first
        await cluster.registry.create(resource_for("pods"), "default",
                                      yaml.safe_load(POD.format(name="watched", node="")))
        seen = b""
        for _ in range(10):
            seen += await asyncio.wait_for(proc.stdout.readline(), 20)
            if b"watched" in seen:
                break
        assert b"ADDED" in seen and b"watched" in seen
    finally:
        proc.kill()
        await proc.wait()


def cluster_cmd(c: HTTPCluster, *args: str) -> list[str]:
    from tests.apiserver.test_http_support import kubectl_path
    return [kubectl_path(), f"--kubeconfig={c.kubeconfig}", f"--cache-dir={c.state_dir / 'kubecache'}", *args]


async def test_create_apply_scale_delete(cluster):
    out = await ok(cluster, "create", "-f", "-", stdin=POD.format(name="made", node="").encode())
    assert "pod/made created" in out
    rc, _, err = await cluster.kubectl("create", "-f", "-", stdin=POD.format(name="made", node="").encode())
    assert rc == 1 and "AlreadyExists" in err and 'pods "made" already exists' in err

    out = await ok(cluster, "apply", "-f", "-", stdin=DEPLOY.format(image="nginx:1").encode())
    assert "deployment.apps/app created" in out
    out = await ok(cluster, "apply", "-f", "-", stdin=DEPLOY.format(image="nginx:2").encode())
    assert "deployment.apps/app configured" in out
    dep = await cluster.registry.get(resource_for("deployments"), "default", "app")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2"
    assert "kubectl.kubernetes.io/last-applied-configuration" in dep["metadata"]["annotations"]

    out = await ok(cluster, "scale", "deployment", "app", "--replicas=5")
    assert "scaled" in out
    dep = await cluster.registry.get(resource_for("deployments"), "default", "app")
    assert dep["spec"]["replicas"] == 5

    out = await ok(cluster, "apply", "--server-side", "-f", "-",
                   stdin=POD.format(name="ssa", node="").replace("nginx:1.27", "nginx:3").encode())
    assert "pod/ssa serverside-applied" in out
    pod = await cluster.registry.get(resource_for("pods"), "default", "ssa")
    assert pod["spec"]["containers"][0]["image"] == "nginx:3"

    out = await ok(cluster, "delete", "pod", "made")
    assert 'pod "made" deleted' in out
    out = await ok(cluster, "delete", "-f", "-", stdin=DEPLOY.format(image="nginx:2").encode())
    assert 'deployment.apps "app" deleted' in out
    rc, _, err = await cluster.kubectl("get", "deploy", "app")
    assert rc == 1 and "NotFound" in err


async def test_strict_field_validation_names_the_field(cluster):
    bad = POD.format(name="typo", node="").replace("image: nginx:1.27", "image: nginx\n    imagee: x")
    rc, _, err = await cluster.kubectl("create", "-f", "-", stdin=bad.encode())
    assert rc == 1 and "strict decoding error: unknown field" in err
    assert 'spec.containers[0].imagee"' in err
    rc, _, err = await cluster.kubectl("get", "pod", "typo")
    assert rc == 1  # nothing stored


async def test_create_generators_send_protobuf(cluster):
    assert "secret/s1 created" in await ok(cluster, "create", "secret", "generic", "s1", "--from-literal=k=v")
    assert "configmap/cm1 created" in await ok(cluster, "create", "configmap", "cm1", "--from-literal=a=b")
    assert "namespace/team created" in await ok(cluster, "create", "namespace", "team")
    assert "serviceaccount/bot created" in await ok(cluster, "create", "sa", "bot")
    assert "deployment.apps/web created" in await ok(cluster, "create", "deployment", "web",
                                                      "--image=nginx", "--replicas=2", "--port=80")
    assert "service/svc1 created" in await ok(cluster, "create", "service", "clusterip", "svc1", "--tcp=80:8080")
    secret = await cluster.registry.get(resource_for("secrets"), "default", "s1")
    assert secret["data"] == {"k": "dg=="} and secret["type"] == "Opaque"
    dep = await cluster.registry.get(resource_for("deployments"), "default", "web")
    assert dep["spec"]["replicas"] == 2
    assert dep["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] == 80
    svc = await cluster.registry.get(resource_for("services"), "default", "svc1")
    assert svc["spec"]["ports"][0]["targetPort"] == 8080 and svc["spec"]["clusterIP"]

    out = await ok(cluster, "expose", "deployment", "web", "--port=80", "--name=web")
    assert "service/web exposed" in out
    out = await ok(cluster, "get", "svc,endpoints")
    assert "service/web" in out and "ClusterIP" in out and "80/TCP" in out
    out = await ok(cluster, "get", "secrets", "s1")
    assert out.splitlines()[1].split()[:3] == ["s1", "Opaque", "1"]


async def test_label_annotate_events_describe(cluster):
    assert "labeled" in await ok(cluster, "label", "pod", "runner", "tier=web")
    assert "annotated" in await ok(cluster, "annotate", "pod", "runner", "note=hi")
    pod = await cluster.registry.get(resource_for("pods"), "default", "runner")
    assert pod["metadata"]["labels"]["tier"] == "web" and pod["metadata"]["annotations"]["note"] == "hi"
    out = await ok(cluster, "get", "pods", "-l", "tier=web")
    assert "runner" in out and "watched" not in out

    await cluster.registry.create(resource_for("events"), "default", {
        "metadata": {"name": "runner.1"}, "type": "Normal", "reason": "Scheduled",
        "message": "Successfully assigned default/runner to node-1",
        "involvedObject": {"kind": "Pod", "name": "runner", "namespace": "default", "uid": pod["metadata"]["uid"]},
        "source": {"component": "default-scheduler"}, "count": 1,
        "firstTimestamp": pod["metadata"]["creationTimestamp"],
        "lastTimestamp": pod["metadata"]["creationTimestamp"]})
    out = await ok(cluster, "get", "events")
    assert out.splitlines()[0].split()[:4] == ["LAST", "SEEN", "TYPE", "REASON"]
    assert "pod/runner" in out and "Scheduled" in out
    out = await ok(cluster, "describe", "pod", "runner")
    assert "Name:" in out and "runner" in out and "node-1" in out
    assert "Successfully assigned default/runner to node-1" in out


async def test_explain_and_auth(cluster):
    out = await ok(cluster, "explain", "pod.spec.containers")
    assert "FIELD: containers" in out and "image" in out
    assert (await ok(cluster, "auth", "can-i", "create", "pods")).strip() == "yes"
    out = await ok(cluster, "auth", "can-i", "--list")
    assert "*.*" in out


async def test_exec_and_logs_through_node_connector(cluster):
    rc, out, err = await cluster.kubectl("exec", "runner", "--", "echo", "hi")
    assert (rc, out) == (0, "hi\n"), err
    rc, out, err = await cluster.kubectl("exec", "runner", "--", "sh", "-c", "exit 3")
    assert rc == 3, err
    rc, out, err = await cluster.kubectl("exec", "-i", "runner", "--", "cat", stdin=b"from stdin\n")
    assert (rc, out) == (0, "from stdin\n"), err
    out = await ok(cluster, "logs", "runner", "--tail=2")
    assert out == "runner/c line 4\nrunner/c line 5\n"
    rc, _, err = await cluster.kubectl("exec", "watched", "--", "echo", "x")
    assert rc != 0 and "does not have a host assigned" in err


async def test_top_uses_metrics_api(cluster):
    out = await ok(cluster, "top", "nodes")
    assert "node-1" in out and "250m" in out
    out = await ok(cluster, "top", "pods")
    assert "runner" in out and "5m" in out


async def test_top_selects_by_the_objects_labels(cluster):
    """metrics-server copies the pod's (node's) labels onto its metrics (issue 12, item 5)."""
    out = await ok(cluster, "top", "pod", "-l", "app=runner")
    assert "runner" in out and "5m" in out
    rc, out, err = await cluster.kubectl("top", "pod", "-l", "app=nothing")
    assert "runner" not in out and "No resources found" in out + err
    out = await ok(cluster, "top", "node", "-l", "node-role.kubernetes.io/worker")
    assert "node-1" in out and "250m" in out
    rc, out, err = await cluster.kubectl("top", "node", "-l", "role=none")
    assert "node-1" not in out
    raw = json.loads(await ok(cluster, "get", "--raw",
                              "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods?labelSelector=app%3Drunner"))
    (item,) = raw["items"]
    pod = await cluster.registry.get(resource_for("pods"), "default", "runner")
    assert item["metadata"]["labels"] == pod["metadata"]["labels"] and item["kind"] == "PodMetrics"
    raw = json.loads(await ok(cluster, "get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes/node-1"))
    assert raw["metadata"]["labels"] == {"node-role.kubernetes.io/worker": ""}


async def test_documentation_downward_api_volume_pods_apply(cluster):
    """The docs' dapi-volume*.yaml apply unchanged (issue 12, item 6)."""
    from pathlib import Path
    manifests = Path(__file__).parents[1] / "api" / "manifests"
    for name, pod in (("dapi-volume.yaml", "kubernetes-downwardapi-volume-example"),
                      ("dapi-volume-resources.yaml", "kubernetes-downwardapi-volume-example-2")):
        out = await ok(cluster, "apply", "-f", str(manifests / name))
        assert out.strip() == f"pod/{pod} created"
    got = json.loads(await ok(cluster, "get", "pod", "kubernetes-downwardapi-volume-example-2", "-o", "json"))
    items = got["spec"]["volumes"][0]["downwardAPI"]["items"]
    assert [i["resourceFieldRef"]["resource"] for i in items] == ["limits.cpu", "requests.cpu", "limits.memory",
                                                                   "requests.memory"]


async def test_rollout_status_uses_watchlist(cluster):
    deployments = resource_for("deployments")
    dep = await cluster.registry.create(deployments, "default", yaml.safe_load(DEPLOY.format(image="nginx:1").replace(
        "name: app", "name: rolled")))
    dep = dict(dep)
    dep["status"] = {"observedGeneration": dep["metadata"]["generation"], "replicas": 2, "updatedReplicas": 2,
                     "readyReplicas": 2, "availableReplicas": 2,
                     "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                                    {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]}
    await cluster.registry.update(deployments, "default", "rolled", dep, subresource="status")
    # kubectl's informer asks for sendInitialEvents=true and waits for the initial-events-end bookmark
    out = await ok(cluster, "rollout", "status", "deployment/rolled", "--timeout=20s")
    assert 'deployment "rolled" successfully rolled out' in out


async def test_debug_adds_an_ephemeral_container_and_unknown_subresources_are_404(cluster):
    # kubectl debug POD --image=... patches pods/ephemeralcontainers (a strategic merge patch);
    # before kubetui served it, kubectl said "ephemeral containers are disabled for this cluster".
    rc, out, err = await cluster.kubectl("debug", "runner", "--image=busybox", "--container=dbg", "--", "true")
    assert rc == 0 and "panic" not in err, err
    pod = await cluster.registry.get(resource_for("pods"), "default", "runner")
    assert [c["name"] for c in pod["spec"]["ephemeralContainers"]] == ["dbg"]
    # kubectl tells a missing subresource from "no such pod" by details.name: a 404 carries "details"
    raw = await cluster.kubectl("get", "--raw", "/api/v1/namespaces/default/pods/runner/nosuch")
    assert "the server could not find the requested resource" in raw[2]


async def test_debug_node_and_copy_to_post_protobuf_pods(cluster):
    # kubectl debug node/N and --copy-to create the Pod in protobuf; it was refused with 415
    out = await ok(cluster, "debug", "node/node-1", "--image=busybox", "--", "sleep", "60")
    assert "Creating debugging pod node-debugger-node-1-" in out
    pods = await cluster.registry.list(resource_for("pods"), "default")
    dbg = next(p for p in pods["items"] if p["metadata"]["name"].startswith("node-debugger-node-1-"))
    spec = dbg["spec"]
    assert spec["nodeName"] == "node-1" and spec["restartPolicy"] == "Never"
    assert spec["hostPID"] and spec["hostIPC"] and spec["hostNetwork"]
    assert {"operator": "Exists"} in spec["tolerations"]
    host_root = next(v for v in spec["volumes"] if v.get("hostPath"))
    assert host_root["hostPath"]["path"] == "/"
    c = spec["containers"][0]
    assert c["image"] == "busybox" and c["command"] == ["sleep", "60"]
    assert {"name": host_root["name"], "mountPath": "/host"} in [
        {k: m[k] for k in ("name", "mountPath")} for m in c["volumeMounts"]]
    # a copy of a running pod carries the whole spec, its projected token volume included (it was
    # refused with 415: "cannot decode protobuf field 26 of VolumeSource")
    runner = await cluster.registry.get(resource_for("pods"), "default", "runner")
    out = await ok(cluster, "debug", "runner", "--image=busybox", "--copy-to=runner-copy", "--container=dbg",
                   "--share-processes", "--set-image=*=nginx:2", "--", "true")
    copy = await cluster.registry.get(resource_for("pods"), "default", "runner-copy")
    spec = copy["spec"]
    assert spec["shareProcessNamespace"] is True
    assert [c["name"] for c in spec["containers"]] == [c["name"] for c in runner["spec"]["containers"]] + ["dbg"]
    assert {c["image"] for c in spec["containers"][:-1]} == {"nginx:2"}     # --set-image=*=… sets every one
    dbg = spec["containers"][-1]
    assert dbg["image"] == "busybox" and dbg["command"] == ["true"] and dbg["securityContext"] == {"capabilities": {"add": ["SYS_PTRACE"]}}
    assert spec["volumes"] == runner["spec"]["volumes"]                     # the projected token volume too
    assert spec["tolerations"] == runner["spec"]["tolerations"]
    assert "labels" not in copy["metadata"]                                 # kubectl drops them (--keep-labels)


async def test_autoscale_again_is_already_exists_not_415(cluster):
    # kubectl falls back to an autoscaling/v1 HPA (protobuf) whenever the v2 create fails
    await ok(cluster, "create", "deployment", "scaled", "--image=nginx")
    assert "autoscaled" in await ok(cluster, "autoscale", "deployment", "scaled", "--cpu=50%", "--max=4")
    rc, _, err = await cluster.kubectl("autoscale", "deployment", "scaled", "--cpu=50%", "--max=4")
    assert rc != 0 and "(AlreadyExists)" in err and 'horizontalpodautoscalers.autoscaling "scaled" already exists' in err, err


async def test_a_type_error_is_worded_as_gos_decoder_words_the_first_one(cluster):
    body = yaml.safe_load(DEPLOY.format(image="nginx").replace("name: app\n", "name: typo\n", 1))
    body["spec"]["replicas"] = "2"
    body["spec"]["template"]["spec"]["containers"][0]["image"] = 5
    rc, _, err = await cluster.kubectl("create", "--validate=false", "-f", "-", stdin=json.dumps(body).encode())
    assert rc != 0
    assert err.strip() == ('Error from server (BadRequest): error when creating "STDIN": Deployment in version "v1" '
                           'cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field '
                           'DeploymentSpec.spec.replicas of type int32'), err


async def test_endpoints_warn_that_they_are_deprecated_as_since_v1_33(cluster):
    rc, _, err = await cluster.kubectl("get", "endpoints", "-A")
    assert rc == 0 and "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice" in err
    rc, _, err = await cluster.kubectl("get", "endpointslices", "-A")
    assert rc == 0 and "deprecated" not in err, err
