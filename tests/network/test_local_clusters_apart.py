"""Two local clusters at once on one machine: each owns its loopback block, so nothing of one reaches the other.

Both clusters get the same objects (a pod, a Service with the same ClusterIP and
NodePort): on a real machine two kind clusters would not collide, because each
lives in network namespaces of its own; local clusters must not either.
"""

from __future__ import annotations

import asyncio
import ipaddress
import urllib.request

import pytest

from kubetui.cluster import Cluster, ClusterSettings
from tests.network.test_local_services import until

pytestmark = pytest.mark.slow

CLUSTER_IP, NODE_PORT, PORT = "10.96.0.50", 30050, 18080


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=3) as r:
        return r.read().decode()


async def _running_ip(c, name: str):
    p = await c.get("pods", name, "default")
    return p["status"].get("podIP") if p.get("status", {}).get("phase") == "Running" else None


async def test_two_local_clusters_get_distinct_addresses_and_both_serve(tmp_path):
    clusters = {n: Cluster(ClusterSettings(name=f"apart-{n}", provider="local", nodes=1, api_port=0), tmp_path / n)
                for n in ("a", "b")}
    try:
        # both finish coming up (or fail) before any is stopped: nothing of a half-started one outlives the test
        for result in await asyncio.gather(*(c.up(ready_timeout=60) for c in clusters.values()),
                                           return_exceptions=True):
            if isinstance(result, BaseException):
                raise result
        ips = {}
        for n, cluster in clusters.items():
            c = cluster.control_plane.client
            await c.create("pods", {"apiVersion": "v1", "kind": "Pod",
                                    "metadata": {"name": f"web-{n}", "labels": {"app": "web"}},
                                    "spec": {"containers": [{"name": "hello", "image": "kubetui/hello:1"}]}},
                           "default")
            await c.create("services", {
                "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                "spec": {"type": "NodePort", "clusterIP": CLUSTER_IP, "selector": {"app": "web"},
                         "ports": [{"port": PORT, "targetPort": 8080, "nodePort": NODE_PORT}]}}, "default")
        for n, cluster in clusters.items():
            c = cluster.control_plane.client
            ips[n] = await until(f"pod web-{n} running", lambda c=c, n=n: _running_ip(c, f"web-{n}"), 60)

        # distinct, non-overlapping pod ranges (each cluster's whole block), and kubectl shows the real address
        nets = {n: ipaddress.ip_network(f"{ip.rsplit('.', 2)[0]}.0.0/16") for n, ip in ips.items()}
        assert not nets["a"].overlaps(nets["b"]), ips
        for n, ip in ips.items():
            body = await until(f"web-{n} at {ip}", lambda ip=ip: asyncio.to_thread(get, f"http://{ip}:8080/"))
            assert body.startswith(f"pod=web-{n} "), body

        # the same ClusterIP and NodePort in both: each cluster's kube-proxy serves its own pod
        for n, cluster in clusters.items():
            block = cluster.provider.block
            assert ipaddress.ip_address(ips[n]) in ipaddress.ip_network(block.pod_range)
            node = (await cluster.control_plane.client.get("nodes", "node-1"))["status"]["addresses"]
            node_ip = next(a["address"] for a in node if a["type"] == "InternalIP")
            assert node_ip == block.node_ip(1)
            for url in (f"http://{block.service_address(CLUSTER_IP)}:{PORT}/",
                        f"http://{node_ip}:{NODE_PORT}/"):
                body = await until(f"{url} of cluster {n}", lambda url=url: asyncio.to_thread(get, url))
                assert body.startswith(f"pod=web-{n} "), (url, body)
    finally:
        await asyncio.gather(*(c.stop() for c in clusters.values()), return_exceptions=True)
