"""Services on the local provider: one userspace kube-proxy, ClusterIP at 127.S.A.B, NodePort on the node IPs.

(S and the node IPs 127.P.0.N are the cluster's loopback block: kubetui.agent.loopback.)"""

from __future__ import annotations

import asyncio
import json
import ssl
import urllib.request

import pytest

from kubetui.cluster import Cluster, ClusterSettings
from kubetui.netutil import free_port

pytestmark = pytest.mark.slow


def hello_deployment(name: str, replicas: int) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{
                                      "name": "hello", "image": "kubetui/hello:1",
                                      "ports": [{"containerPort": 8080}],
                                      "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080},
                                                         "periodSeconds": 1}}]}}}}


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=3) as r:
        return r.read().decode()


async def until(what: str, probe, timeout: float = 30.0):
    """Await ``probe()`` until truthy (bounded); fail naming what was awaited."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last = None
    while loop.time() < deadline:
        try:
            last = await probe()
        except Exception as e:  # noqa: BLE001 - keep polling, report the last failure
            last = e
        if last and not isinstance(last, Exception):
            return last
        await asyncio.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}; last: {last!r}")


async def test_clusterip_nodeport_and_loadbalancer_answer_from_the_host(tmp_path):
    settings = ClusterSettings(name="lnet", provider="local", nodes=2, api_port=0)
    cluster = Cluster(settings, tmp_path)
    await cluster.up(ready_timeout=60)
    cp = cluster.control_plane
    try:
        c = cp.client
        await c.create("deployments", hello_deployment("web", 2), "default")
        lb_port = free_port()
        svc = await c.create("services", {
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"type": "LoadBalancer", "selector": {"app": "web"},
                     "ports": [{"name": "http", "port": lb_port, "targetPort": 8080}]}}, "default")
        cluster_ip, node_port = svc["spec"]["clusterIP"], svc["spec"]["ports"][0]["nodePort"]
        pods = await until("2 ready web pods", lambda: _ready_pods(c, "app=web", 2), 60)
        names = {p["metadata"]["name"] for p in pods}

        block = cluster.provider.block
        urls = {"clusterIP": f"http://{block.service_address(cluster_ip)}:{lb_port}/",
                "nodePort": f"http://{block.node_ip(2)}:{node_port}/",
                "loadBalancer": f"http://{block.load_balancer_ip}:{lb_port}/"}
        for kind, url in urls.items():
            body = await until(f"{kind} {url} to answer", lambda url=url: asyncio.to_thread(get, url))
            assert body.startswith("pod=") and body.split()[0][4:] in names, (kind, body)
        answered = [(await asyncio.to_thread(get, urls["clusterIP"])).split()[0][4:] for _ in range(8)]
        assert set(answered) == names        # round-robin reaches both replicas

        lb = (await c.get("services", "web", "default"))["status"]["loadBalancer"]["ingress"]
        assert lb == [{"ip": block.load_balancer_ip, "ipMode": "Proxy"}]

        # the traffic API adds up the userspace proxy's counts per endpoint
        req = urllib.request.Request(f"{cp.apiserver.url}/apis/networking.kubetui.dev/v1alpha1/"
                                     "namespaces/default/services/web/traffic",
                                     headers={"Authorization": f"Bearer {cp.authenticator.admin_token()}"})
        doc = json.loads(await asyncio.to_thread(_open, req, cp.pki.ca_pem().decode()))
        eps = doc["services"]["default/web:http"]
        assert sum(e["connections"] for e in eps.values()) >= 9
        assert {e["pod"].split("/")[1] for e in eps.values()} == names
        assert sum(doc["loadBalancers"]["default/web:http"].values()) >= 1
    finally:
        await cluster.stop()
    assert not (tmp_path / "kube-proxy" / "kube-proxy.pid").exists()


def _open(req, ca_pem: str) -> str:
    context = ssl.create_default_context(cadata=ca_pem)
    with urllib.request.urlopen(req, timeout=5, context=context) as r:
        return r.read().decode()


async def _ready_pods(c, selector: str, n: int):
    pods = (await c.list("pods", "default", label_selector=selector))["items"]
    ready = [p for p in pods if any(x["type"] == "Ready" and x["status"] == "True"
                                    for x in (p.get("status") or {}).get("conditions") or [])]
    return ready if len(ready) == n else None
