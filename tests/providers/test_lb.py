"""The host-side LoadBalancer: a listener on 127.0.0.1 per Service port, spreading over nodes' NodePorts."""

from __future__ import annotations

import asyncio
import random
import socket

import pytest

from kubetui.clock import rfc3339
from kubetui.controllers.manager import ControllerManager
from kubetui.client.record import EventRecorder
from kubetui.providers.lb import LoadBalancerController
from tests.controllers.ctrl_helpers import make_api

NODE_IPS = ["127.88.2.1", "127.88.2.2", "127.88.2.3"]


def free_port(host: str, lo: int = 1024, hi: int = 65535) -> int:
    for _ in range(200):
        port = random.randint(lo, hi)
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


async def get(port: int) -> str:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    writer.write(b"GET / HTTP/1.0\r\n\r\n")
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return data.split(b"\r\n\r\n", 1)[1].decode()


@pytest.fixture
async def setup():
    """An API with three Ready nodes whose 'NodePort' is a local HTTP server answering with the node's IP."""
    from kubetui.clock import Clock
    clock = Clock()
    api = await make_api(clock)
    node_port = free_port(NODE_IPS[0], 30000, 32767)

    async def handle(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        me = writer.get_extra_info("sockname")[0].encode()
        writer.write(b"HTTP/1.0 200 OK\r\n\r\n" + me)
        await writer.drain()
        writer.close()

    servers = [await asyncio.start_server(handle, ip, node_port) for ip in NODE_IPS]
    now = rfc3339(clock.time())
    for i, ip in enumerate(NODE_IPS, 1):
        await api.create("nodes", {"metadata": {"name": f"node-{i}"}, "status": {
            "addresses": [{"type": "InternalIP", "address": ip}],
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ok",
                            "lastHeartbeatTime": now, "lastTransitionTime": now}]}})
    cm = ControllerManager(api, clock=clock, controllers=[], resync_seconds=None)
    lb = LoadBalancerController(api, cm.factory, clock=clock, recorder=EventRecorder(api, "service-controller", clock=clock))
    await cm.factory.start()
    await cm.factory.wait_for_cache_sync()
    await lb.run()
    yield api, lb, node_port
    await lb.stop()
    await cm.factory.stop()
    for s in servers:
        s.close()
        await s.wait_closed()
    await api._kubetui_store.close()


async def wait_for(pred, what: str):
    """Until ``pred()`` (sync or async) is true; bounded to 500 rounds of a tiny sleep."""
    for _ in range(500):
        ok = pred()
        if asyncio.iscoroutine(ok):
            ok = await ok
        if ok:
            return
        await asyncio.sleep(0.01)
    pytest.fail(f"timed out waiting for {what}")


async def test_load_balancer_service_gets_127001_and_spreads_over_nodes(setup):
    api, lb, node_port = setup
    port = free_port("127.0.0.1")
    await api.create("services", {"metadata": {"name": "web"}, "spec": {
        "type": "LoadBalancer", "selector": {"app": "web"},
        "ports": [{"name": "http", "port": port, "targetPort": 8080, "nodePort": node_port}]}}, "default")

    async def ingress():
        svc = await api.get("services", "web", "default")
        return (svc.get("status") or {}).get("loadBalancer", {}).get("ingress")
    await wait_for(ingress, "status.loadBalancer.ingress")
    assert await ingress() == [{"ip": "127.0.0.1", "ipMode": "Proxy"}]

    answers = [await get(port) for _ in range(30)]
    assert {ip: answers.count(ip) for ip in NODE_IPS} == {ip: 10 for ip in NODE_IPS}
    assert lb.traffic()["default/web:http"] == {f"{ip}:{node_port}": 10 for ip in NODE_IPS}

    # node-2 goes NotReady: it leaves the pool
    n2 = await api.get("nodes", "node-2")
    n2["status"]["conditions"][0]["status"] = "False"
    await api.update("nodes", n2, subresource="status")
    await wait_for(lambda: len(lb.listeners["default/web"]["default/web:http"].backends.endpoints) == 2,
                   "node-2 to leave the pool")
    assert NODE_IPS[1] not in {await get(port) for _ in range(10)}

    # no longer a LoadBalancer: the listener closes and the status is cleared
    svc = await api.get("services", "web", "default")
    svc["spec"]["type"] = "NodePort"
    await api.update("services", svc, "default")
    await wait_for(lambda: "default/web" not in lb.listeners, "the listener to close")
    with pytest.raises(OSError):
        await get(port)
    await wait_for(lambda: _no_ingress(api), "ingress cleared")


async def _no_ingress(api) -> bool:
    svc = await api.get("services", "web", "default")
    return not ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress")


async def test_a_port_that_cannot_be_bound_leaves_the_service_pending_with_an_event(setup):
    api, lb, _ = setup
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        await api.create("services", {"metadata": {"name": "busy"}, "spec": {
            "type": "LoadBalancer", "selector": {"app": "busy"},
            "ports": [{"port": taken.getsockname()[1], "targetPort": 80}]}}, "default")

        async def failed():
            evs = (await api.list("events", "default"))["items"]
            return [e for e in evs if e["reason"] == "SyncLoadBalancerFailed"]
        await wait_for(failed, "a SyncLoadBalancerFailed event")
        assert "cannot listen on 127.0.0.1" in (await failed())[0]["message"]
        svc = await api.get("services", "busy", "default")
        assert not (svc.get("status") or {}).get("loadBalancer", {}).get("ingress")
    finally:
        taken.close()
