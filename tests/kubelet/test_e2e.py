"""A kubelet with the plain-process runtime against the real API server, driven by real kubectl.

The kubelet registers its Node, heartbeats its Lease, runs a kubetui/hello:1
pod to Running and Ready, and `kubectl logs` / `kubectl exec` reach it through
the API server's node connector.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request

import pytest

from kubetui.api.resources import resource_for
from kubetui.apiserver.auth import TokenAuthenticator
from kubetui.apiserver.certs import ensure_pki
from kubetui.apiserver.registry import Registry
from kubetui.apiserver.server import APIServer
from kubetui.client.kubeconfig import write_kubeconfig
from kubetui.kubelet.apiclient import APIClient
from kubetui.kubelet.connector import KubeletConnector, KubeletMetrics
from kubetui.kubelet.kubelet import Kubelet, KubeletConfig
from kubetui.runtime.process import ProcessRuntime
from kubetui.store import Store

NODE = "node-e2e"


class Cluster:
    async def start(self, tmp, kubectl_bin):
        self.kubectl_bin = kubectl_bin
        self.store = Store(None)
        await self.store.open()
        self.registry = Registry(self.store)
        await self.registry.bootstrap()
        pki = ensure_pki(tmp, "e2e")
        auth = TokenAuthenticator.for_state_dir(tmp)
        self.connector = KubeletConnector.for_registry(self.registry, auth)

        async def list_nodes():
            return (await self.registry.list(resource_for("nodes"), None))["items"]
        self.server = APIServer(self.registry, port=0, ssl_context=pki.server_ssl_context(),
                                authenticator=auth, node_connector=self.connector,
                                metrics_source=KubeletMetrics(self.connector, list_nodes))
        await self.server.start()
        self.kubeconfig = write_kubeconfig(tmp / "kubeconfig", "e2e", self.server.url, pki.ca_pem(),
                                           auth.admin_token())
        api = APIClient(self.server.url, token=auth.node_token(NODE), ca_data=pki.ca_pem().decode())
        config = KubeletConfig(node_name=NODE, root_dir=tmp / "node", node_ip="127.0.0.1",
                               address="127.0.0.1", port=0, cpus=2, memory_bytes=2 * 2 ** 30,
                               lease_renew=0.2, status_update=0.5, sync_period=0.2)
        runtime = ProcessRuntime(tmp / "node" / "runtime", node_name=NODE, pod_cidr="127.244.99.0/24")
        self.kubelet = Kubelet(config, api, runtime, server_token=auth.node_token(NODE))
        await self.kubelet.start()
        return self

    async def stop(self):
        await self.kubelet.stop()
        await self.server.stop()
        await self.store.close()

    async def kubectl(self, *args, stdin=None, timeout=20):
        p = await asyncio.create_subprocess_exec(
            self.kubectl_bin, "--kubeconfig", str(self.kubeconfig), *args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(p.communicate(stdin), timeout)
        return p.returncode, out.decode(), err.decode()

    async def pod(self, name, ns="default"):
        return await self.registry.get(resource_for("pods"), ns, name)

    async def wait_pod(self, name, pred, timeout=15.0):
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                pod = await self.pod(name)
                if pred(pod):
                    return pod
            except Exception:  # noqa: BLE001 (not created yet)
                pod = None
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"pod {name} never reached the state; last: "
                                     f"{json.dumps((pod or {}).get('status'), indent=1)}")
            await asyncio.sleep(0.1)


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
    assert st["capacity"]["cpu"] == "2" and st["capacity"]["memory"] == "2097152Ki"
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
    assert ip.startswith("127.244.99.")
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
