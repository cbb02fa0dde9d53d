"""kube-proxy as a process would run it: real API server over HTTPS, stdlib client, both backends."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import uuid

import pytest

from kubetui.cluster import ClusterSettings, ControlPlane
from kubetui.kubelet.apiclient import APIClient
from kubetui.proxy.iptables import IPTables, subprocess_runner
from kubetui.proxy.proxy import IptablesBackend, KubeProxy
from kubetui.proxy.rules import ProxyConfig
from kubetui.proxy.userspace import UserspaceProxy
from tests.conftest import require_or_skip


@pytest.fixture
async def cp(tmp_path):
    plane = ControlPlane(ClusterSettings(name="t", provider="simulated", nodes=0, api_port=0), tmp_path)
    await plane.start()
    yield plane
    await plane.stop()


def api_for(cp) -> APIClient:
    return APIClient(cp.apiserver.url, token=cp.authenticator.admin_token(), ca_data=cp.pki.ca_pem().decode())


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


async def manual_service(cp, name: str, port: int, addresses: list[str], target: int, ready: bool = True,
                         node: str | None = None):
    """A Service without selector plus a hand-written EndpointSlice (how you point a Service at anything)."""
    svc = await cp.client.create("services", {"metadata": {"name": name, "namespace": "default"},
                                              "spec": {"ports": [{"name": "http", "port": port}]}}, "default")
    sl = await cp.client.create("endpointslices", {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
        "metadata": {"name": f"{name}-1", "namespace": "default", "labels": {"kubernetes.io/service-name": name}},
        "ports": [{"name": "http", "port": target, "protocol": "TCP"}],
        "endpoints": [{"addresses": [a], "conditions": {"ready": ready}, **({"nodeName": node} if node else {})}
                      for a in addresses]}, "default")
    return svc, sl


async def next_sync(proxy: KubeProxy) -> None:
    proxy.synced.clear()
    await asyncio.wait_for(proxy.synced.wait(), 10)


async def http_get(host: str, port: int, path: str = "/") -> tuple[int, bytes]:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
    writer.write(f"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def test_userspace_kube_proxy_follows_the_api(cp):
    async def answer(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.0 200 OK\r\n\r\nhello")
        await writer.drain()
        writer.close()

    backend_port = free_port("127.88.1.1")
    server = await asyncio.start_server(answer, "127.88.1.1", backend_port)
    proxy = KubeProxy(api_for(cp), UserspaceProxy(node_name="node-1"), node_name="node-1", min_sync_seconds=0.01)
    metrics_port = await proxy.serve("127.0.0.1", 0)
    await proxy.start()
    try:
        port = free_port("127.0.0.1")
        svc, sl = await manual_service(cp, "ext", port, ["127.88.1.1"], backend_port)
        # The Service and its EndpointSlice may reach the proxy in separate syncs:
        # wait for both (a listener with no endpoints yet closes connections).
        while not (proxy.backend.address_of("default/ext:http")
                   and proxy.backend.backends["default/ext:http"].endpoints):
            await next_sync(proxy)
        host = proxy.backend.address_of("default/ext:http")[0][0]
        assert host == "127." + svc["spec"]["clusterIP"].split(".", 1)[1]
        assert await http_get(host, port) == (200, b"hello")

        code, body = await http_get("127.0.0.1", metrics_port, "/traffic")
        doc = json.loads(body)
        assert code == 200 and doc["mode"] == "userspace"
        assert doc["services"]["default/ext:http"][f"127.88.1.1:{backend_port}"]["connections"] == 1
        assert (await http_get("127.0.0.1", metrics_port, "/healthz"))[0] == 200

        # the endpoint stops being ready: after the next sync nothing is proxied to it
        sl["endpoints"][0]["conditions"] = {"ready": False}
        await cp.client.update("endpointslices", sl, "default")
        await next_sync(proxy)
        reader, writer = await asyncio.open_connection(host, port)
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
    finally:
        await proxy.stop()
        server.close()
        await server.wait_closed()


async def test_traffic_says_whether_each_local_endpoint_accepts_connections(cp):
    """Issue 12 item 26: a Service whose targetPort nothing listens on has every connection refused;
    kube-proxy's /traffic says so per endpoint of its own node (``probe``: open / refused)."""
    async def answer(reader, writer):
        writer.close()

    listening = free_port("127.88.1.2")
    server = await asyncio.start_server(answer, "127.88.1.2", listening)
    closed = free_port("127.88.1.3")               # nothing listens here
    proxy = KubeProxy(api_for(cp), UserspaceProxy(node_name="node-1"), node_name="node-1", min_sync_seconds=0.01)
    metrics_port = await proxy.serve("127.0.0.1", 0)
    await proxy.start()
    try:
        await manual_service(cp, "good", free_port("127.0.0.1"), ["127.88.1.2"], listening, node="node-1")
        await manual_service(cp, "bad", free_port("127.0.0.1"), ["127.88.1.3"], closed, node="node-1")
        await manual_service(cp, "elsewhere", free_port("127.0.0.1"), ["127.88.1.4"], closed, node="node-2")
        while not all(proxy.backend.backends.get(f"default/{n}:http") and
                      proxy.backend.backends[f"default/{n}:http"].endpoints for n in ("good", "bad", "elsewhere")):
            await next_sync(proxy)
        _, body = await http_get("127.0.0.1", metrics_port, "/traffic")
        services = json.loads(body)["services"]
        assert services["default/good:http"][f"127.88.1.2:{listening}"]["probe"] == "open"
        assert services["default/bad:http"][f"127.88.1.3:{closed}"]["probe"] == "refused"
        # another node's endpoint is that node's kube-proxy's to probe
        assert "probe" not in services["default/elsewhere:http"][f"127.88.1.4:{closed}"]
    finally:
        await proxy.stop()
        server.close()
        await server.wait_closed()


@pytest.fixture
def netns():
    require_or_skip(sys.platform.startswith("linux") and os.geteuid() == 0, "needs root on Linux (network namespaces)")
    require_or_skip(bool(shutil.which("ip")) and bool(shutil.which("iptables-nft-restore") or
                                                      shutil.which("iptables-legacy-restore")),
                    "needs `ip` and iptables")
    name = f"kubetui-test-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    yield name
    subprocess.run(["ip", "netns", "del", name], check=False)


async def test_iptables_kube_proxy_programs_and_removes_rules(cp, netns):
    mode = "nft" if shutil.which("iptables-nft-restore") else "legacy"
    ipt = IPTables(mode, subprocess_runner(["ip", "netns", "exec", netns]))
    proxy = KubeProxy(api_for(cp), IptablesBackend(ipt, ProxyConfig(node_name="node-1")), node_name="node-1",
                      min_sync_seconds=0.01)
    await proxy.start()
    try:
        await next_sync(proxy)
        saved = ipt.save("nat")
        # the API server's own `kubernetes` Service, as on every cluster
        assert "KUBE-SVC-NPX46M4PTMTKRN6Y" in saved
        svc, sl = await manual_service(cp, "db", 5432, ["10.244.1.5", "10.244.2.6"], 5432)
        await next_sync(proxy)
        saved = ipt.save("nat")
        assert f'-d {svc["spec"]["clusterIP"]}/32 -p tcp -m comment --comment "default/db:http cluster IP"' in saved
        assert "--to-destination 10.244.2.6:5432" in saved
        assert {e.endpoint for e in proxy.backend.endpoints.values()} >= {"10.244.1.5:5432", "10.244.2.6:5432"}

        sl["endpoints"][1]["conditions"] = {"ready": False}
        await cp.client.update("endpointslices", sl, "default")
        await next_sync(proxy)
        saved = ipt.save("nat")
        assert "10.244.2.6" not in saved and "--to-destination 10.244.1.5:5432" in saved
        traffic = proxy.traffic()
        assert traffic["mode"] == "iptables" and "default/db:http" in traffic["services"]

        await cp.client.delete("services", "db", "default")
        await next_sync(proxy)
        assert "default/db:http" not in ipt.save("nat")
    finally:
        await proxy.stop()
