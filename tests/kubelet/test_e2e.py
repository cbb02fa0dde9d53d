"""A kubelet with the plain-process runtime against the real API server, driven by real kubectl.

The kubelet registers its Node, heartbeats its Lease, runs a kubetui/hello:1
pod to Running and Ready, and `kubectl logs` / `kubectl exec` reach it through
the API server's node connector.
"""

from __future__ import annotations

import asyncio
import urllib.request

import pytest

from kubetui.api.resources import resource_for
from tests.kubelet.cluster import NODE, Cluster

@pytest.fixture
async def cluster(tmp_path, kubectl_bin):
    c = await Cluster().start(tmp_path, kubectl_bin)
    yield c
    await c.stop()


def ready(pod):
    conds = {c["type"]: c["status"] for c in (pod.get("status") or {}).get("conditions") or []}
    return pod["status"].get("phase") == "Running" and conds.get("Ready") == "True"


def pod_manifest(name, image, **spec):
    base = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"nodeName": NODE, "terminationGracePeriodSeconds": 2,
                     "containers": [{"name": "c", "image": image}]}}
    base["spec"].update(spec)
    return base


async def test_node_registers_and_heartbeats(cluster):
    await asyncio.wait_for(cluster.kubelet.registered.wait(), 10)
    node = await cluster.registry.get(resource_for("nodes"), None, NODE)
    st = node["status"]
    assert st["capacity"]["cpu"] == "2" and st["capacity"]["memory"] == "2Gi"  # 2097152Ki, in canonical form
    assert {"type": "InternalIP", "address": "127.0.0.1"} in st["addresses"]
    assert st["daemonEndpoints"]["kubeletEndpoint"]["Port"] == cluster.kubelet.port
    assert st["nodeInfo"]["containerRuntimeVersion"].startswith("kubetui-process://")
    assert [c["status"] for c in st["conditions"] if c["type"] == "Ready"] == ["True"]
    leases = resource_for("leases")
    first = None
    for _ in range(50):
        try:
            lease = await cluster.registry.get(leases, "kube-node-lease", NODE)
        except Exception:  # noqa: BLE001
            await asyncio.sleep(0.1)
            continue
        if first is None:
            first = lease["spec"]["renewTime"]
        elif lease["spec"]["renewTime"] != first:
            break
        await asyncio.sleep(0.1)
    assert lease["spec"]["holderIdentity"] == NODE and lease["spec"]["renewTime"] != first


async def test_hello_pod_runs_logs_exec_and_delete(cluster):
    await cluster.registry.create(resource_for("pods"), "default", pod_manifest(
        "web", "kubetui/hello:1",
        containers=[{"name": "c", "image": "kubetui/hello:1",
                     "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080},
                                        "periodSeconds": 1}}]))
    pod = await cluster.wait_pod("web", ready)
    ip = pod["status"]["podIP"]
    assert ip.startswith(cluster.pod_prefix)
    cs = pod["status"]["containerStatuses"][0]
    assert cs["ready"] and cs["restartCount"] == 0 and "running" in cs["state"]
    body = await asyncio.to_thread(lambda: urllib.request.urlopen(f"http://{ip}:8080/", timeout=2).read())
    assert body == f"pod=web node={NODE} version=1\n".encode()

    rc, out, err = await cluster.kubectl("logs", "web")
    assert rc == 0, err
    assert "kubetui/hello version 1 listening" in out and "GET / HTTP/1.1" in out
    rc, out, _ = await cluster.kubectl("logs", "web", "--tail=1")
    assert rc == 0 and len(out.strip().splitlines()) == 1
    rc, out, err = await cluster.kubectl("exec", "web", "--", "hostname")
    assert (rc, out) == (0, "web\n"), err
    rc, out, err = await cluster.kubectl("exec", "-i", "web", "--", "sh", "-c", "cat; exit 3", stdin=b"piped\n")
    assert rc == 3 and out == "piped\n", err

    rc, out, err = await cluster.kubectl("delete", "pod", "web", "--wait=true", timeout=20)
    assert rc == 0, err
    events = [e["reason"] for e in cluster.kubelet.events.recorded if e["pod"] == "web"]
    assert events[:3] == ["Pulled", "Created", "Started"] and "Killing" in events
    assert not cluster.kubelet.workers


async def test_crashloop_unknown_image_and_completed(cluster):
    pods = resource_for("pods")
    await cluster.registry.create(pods, "default", pod_manifest("crashy", "kubetui/crash", containers=[
        {"name": "c", "image": "kubetui/crash", "args": ["0", "2"]}]))
    await cluster.registry.create(pods, "default", pod_manifest("nope", "nginx:1.27"))
    await cluster.registry.create(pods, "default", pod_manifest("once", "busybox", restartPolicy="Never",
                                  containers=[{"name": "c", "image": "busybox",
                                               "command": ["sh", "-c", "echo done"]}]))

    def crashloop(p):
        cs = (p.get("status") or {}).get("containerStatuses") or [{}]
        return (cs[0].get("state", {}).get("waiting", {}).get("reason") == "CrashLoopBackOff"
                and cs[0]["restartCount"] >= 1)
    p = await cluster.wait_pod("crashy", crashloop)
    cs = p["status"]["containerStatuses"][0]
    assert cs["lastState"]["terminated"]["exitCode"] == 2 and cs["lastState"]["terminated"]["reason"] == "Error"
    assert p["status"]["phase"] == "Running"
    rc, out, err = await cluster.kubectl("logs", "crashy", "--previous")
    assert rc == 0 and "exit code 2" in out, err

    def pullbackoff(p):
        cs = (p.get("status") or {}).get("containerStatuses") or [{}]
        return cs[0].get("state", {}).get("waiting", {}).get("reason") == "ImagePullBackOff"
    p = await cluster.wait_pod("nope", pullbackoff)
    assert p["status"]["phase"] == "Pending"
    reasons = [e["message"] for e in cluster.kubelet.events.recorded if e["pod"] == "nope"]
    assert any("kubetui/hello:1" in m for m in reasons)

    p = await cluster.wait_pod("once", lambda p: (p.get("status") or {}).get("phase") == "Succeeded")
    term = p["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (0, "Completed")
    conds = {c["type"]: c for c in p["status"]["conditions"]}
    assert conds["Ready"]["status"] == "False" and conds["Ready"]["reason"] == "PodCompleted"
