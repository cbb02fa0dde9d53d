"""The userspace proxy (local provider): real sockets on the loopback, three local HTTP backends."""

from __future__ import annotations

import asyncio
import socket

import pytest

from kubetui.proxy.userspace import UserspaceProxy, loopback_address
from tests.proxy.fixtures import endpoint, service, slice_

BACKEND_IPS = ["127.88.0.1", "127.88.0.2", "127.88.0.3"]


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@pytest.fixture
async def backends():
    """Three HTTP servers that answer with their own address; all on one port, each on its own IP."""
    port = free_port(BACKEND_IPS[0])
    servers = []

    async def handle(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        me = writer.get_extra_info("sockname")[0].encode()
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(me), me))
        await writer.drain()
        writer.close()

    for ip in BACKEND_IPS:
        servers.append(await asyncio.start_server(handle, ip, port))
    yield port
    for s in servers:
        s.close()
        await s.wait_closed()


async def get(host: str, port: int) -> str:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
    writer.write(b"GET / HTTP/1.0\r\nHost: web\r\n\r\n")
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return data.split(b"\r\n\r\n", 1)[1].decode()


def web(port: int, node_port: int = 0, **spec):
    p = {"name": "http", "port": port, "protocol": "TCP", "targetPort": "http"}
    if node_port:
        p["nodePort"] = node_port
        spec["type"] = "NodePort"
    return service("web", ip="10.96.77.5", ports=[p], **spec)


def test_loopback_address_swaps_the_first_octet():
    assert loopback_address("10.96.0.20") == "127.96.0.20"


async def test_round_robin_over_three_backends_and_counts_per_endpoint(backends):
    port = free_port("127.96.77.5")
    proxy = UserspaceProxy(node_name="node-1")
    sl = slice_("web", [endpoint(ip, pod=f"web-{i}") for i, ip in enumerate(BACKEND_IPS)],
                ports=[{"name": "http", "port": backends, "protocol": "TCP"}])
    try:
        await proxy.sync([web(port)], [sl])
        assert proxy.address_of("default/web:http") == [("127.96.77.5", port)]
        answers: dict[str, int] = {}
        for _ in range(60):     # 60 rounds of 10 concurrent requests: 600 connections
            for who in await asyncio.gather(*(get("127.96.77.5", port) for _ in range(10))):
                answers[who] = answers.get(who, 0) + 1
        assert answers == {ip: 200 for ip in BACKEND_IPS}
        traffic = proxy.traffic()["default/web:http"]
        assert {ep: v["connections"] for ep, v in traffic.items()} == {f"{ip}:{backends}": 200 for ip in BACKEND_IPS}
        assert traffic[f"{BACKEND_IPS[0]}:{backends}"]["pod"] == "default/web-0"

        # one pod stops being ready: no new connection goes there
        sl["endpoints"][1]["conditions"] = {"ready": False, "serving": False, "terminating": False}
        await proxy.sync([web(port)], [sl])
        answers = {}
        for _ in range(30):
            who = await get("127.96.77.5", port)
            answers[who] = answers.get(who, 0) + 1
        assert BACKEND_IPS[1] not in answers and sum(answers.values()) == 30
        assert proxy.traffic()["default/web:http"][f"{BACKEND_IPS[1]}:{backends}"]["active"] is False

        # the Service goes away: so does its listener
        await proxy.sync([], [])
        with pytest.raises(OSError):
            await get("127.96.77.5", port)
    finally:
        await proxy.close()


async def test_node_port_on_localhost_and_client_ip_affinity(backends):
    port, node_port = free_port("127.96.77.5"), free_port("127.0.0.1")
    proxy = UserspaceProxy()
    sl = slice_("web", [endpoint(ip) for ip in BACKEND_IPS], ports=[{"name": "http", "port": backends, "protocol": "TCP"}])
    try:
        await proxy.sync([web(port, node_port, sessionAffinity="ClientIP")], [sl])
        answers = {await get("127.0.0.1", node_port) for _ in range(12)}
        assert len(answers) == 1                       # sticky: the same client always lands on one pod
    finally:
        await proxy.close()


async def test_a_dead_endpoint_is_skipped_and_no_endpoints_closes_the_connection(backends):
    port = free_port("127.96.77.5")
    proxy = UserspaceProxy()
    # nothing listens on 127.88.0.9: connections to it are refused and the next endpoint is tried
    sl = slice_("web", [endpoint("127.88.0.9", pod="dead"), endpoint(BACKEND_IPS[0])],
                ports=[{"name": "http", "port": backends, "protocol": "TCP"}])
    try:
        await proxy.sync([web(port)], [sl])
        assert {await get("127.96.77.5", port) for _ in range(6)} == {BACKEND_IPS[0]}
        await proxy.sync([web(port)], [slice_("web", [], ports=[])])
        reader, writer = await asyncio.open_connection("127.96.77.5", port)
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
    finally:
        await proxy.close()
