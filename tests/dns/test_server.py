"""The DNS server over real UDP and TCP sockets on 127.53.0.x, with a fake data source and a real API."""

from __future__ import annotations

import asyncio
import struct

import pytest

from kubetui.dns import wire
from kubetui.dns.records import build_zone
from kubetui.dns.server import DNSServer
from tests.dns.test_wire_and_records import DB, SERVICES
from tests.proxy.fixtures import endpoint, service, slice_

HOST = "127.53.0.1"


async def udp(port: int, name: str, qtype: int, host: str = HOST) -> wire.Message:
    loop = asyncio.get_running_loop()
    got: asyncio.Future[bytes] = loop.create_future()

    class P(asyncio.DatagramProtocol):
        def datagram_received(self, data, addr):
            if not got.done():
                got.set_result(data)

    transport, _ = await loop.create_datagram_endpoint(P, remote_addr=(host, port))
    try:
        transport.sendto(wire.query(name, qtype, mid=0xBEEF))
        msg = wire.parse(await asyncio.wait_for(got, 5))
    finally:
        transport.close()
    assert msg.id == 0xBEEF and msg.is_response
    return msg


async def tcp(port: int, name: str, qtype: int) -> wire.Message:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), 5)
    q = wire.query(name, qtype, mid=0xCAFE)
    writer.write(struct.pack("!H", len(q)) + q)
    n = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), 5))[0]
    msg = wire.parse(await reader.readexactly(n))
    writer.close()
    return msg


@pytest.fixture
async def dns():
    zone = build_zone(SERVICES, [DB])
    server = DNSServer(lambda: zone)
    port = server.start(HOST, 0)
    yield server, port
    server.close()


async def test_service_and_headless_answers_over_udp_and_tcp(dns):
    server, port = dns
    msg = await udp(port, "web.default.svc.cluster.local", wire.A)
    assert msg.rcode == wire.NOERROR and msg.flags & 0x0400          # authoritative
    assert [r.data for r in msg.answers] == ["10.96.0.20"]
    msg = await tcp(port, "db.default.svc.cluster.local", wire.A)
    assert sorted(r.data for r in msg.answers) == ["10.244.1.5", "10.244.2.6"]
    msg = await udp(port, "_pg._tcp.db.default.svc.cluster.local", wire.SRV)
    assert {r.data[3] for r in msg.answers} == {"db-0.db.default.svc.cluster.local",
                                                "10-244-2-6.db.default.svc.cluster.local"}
    assert len(msg.additional) == 2


async def test_unknown_names_nxdomain_with_soa_and_outside_the_zone_refused(dns):
    server, port = dns
    msg = await udp(port, "nosuch.default.svc.cluster.local", wire.A)
    assert msg.rcode == wire.NXDOMAIN and msg.authority[0].rtype == wire.SOA
    msg = await udp(port, "web.default.svc.cluster.local", wire.AAAA)
    assert msg.rcode == wire.NOERROR and not msg.answers and msg.authority[0].rtype == wire.SOA
    msg = await udp(port, "example.com", wire.A)                    # no upstream here: refused at once
    assert msg.rcode == wire.REFUSED and not msg.answers
    assert server.answered == {"NOERROR": 1, "NXDOMAIN": 1, "REFUSED": 1}


async def test_large_udp_answers_are_truncated_and_complete_over_tcp():
    eps = [endpoint(f"10.244.1.{i}") for i in range(2, 62)]
    zone = build_zone([service("big", ip="None")], [slice_("big", eps)])
    server = DNSServer(lambda: zone)
    port = server.start(HOST, 0)
    try:
        msg = await udp(port, "big.default.svc.cluster.local", wire.A)
        assert msg.flags & 0x0200 and not msg.answers                   # TC: ask again over TCP
        msg = await tcp(port, "big.default.svc.cluster.local", wire.A)
        assert len(msg.answers) == 60
    finally:
        server.close()


async def test_names_outside_the_zone_are_forwarded_to_an_upstream():
    upstream = DNSServer(lambda: build_zone([service("www", ip="10.1.2.3")], [], domain="example.test"))
    up_port = upstream.start("127.53.0.2", 0)
    server = DNSServer(lambda: build_zone(SERVICES, []), upstream=("127.53.0.2", up_port))
    port = server.start(HOST, 0)
    try:
        msg = await udp(port, "www.default.svc.example.test", wire.A)
        assert msg.rcode == wire.NOERROR and [r.data for r in msg.answers] == ["10.1.2.3"]
        assert (await udp(port, "web.default.svc.cluster.local", wire.A)).answers[0].data == "10.96.0.20"
    finally:
        server.close()
        upstream.close()


async def test_dns_follows_the_api(tmp_path):
    """ClusterData over the stdlib client against a real API server: a new Service resolves."""
    from kubetui.cluster import ClusterSettings, ControlPlane
    from kubetui.dns.cluster import ClusterData
    from kubetui.agent.blocking import BlockingAPIClient
    cp = ControlPlane(ClusterSettings(name="t", provider="simulated", nodes=0, api_port=0), tmp_path)
    await cp.start()
    data = ClusterData(BlockingAPIClient(cp.apiserver.url, token=cp.authenticator.admin_token(),
                                         ca_data=cp.pki.ca_pem().decode()))
    server = DNSServer(data.zone)
    try:
        assert await asyncio.to_thread(data.start, 30)     # the API server answers on this loop
        port = server.start(HOST, 0)
        msg = await udp(port, "kubernetes.default.svc.cluster.local", wire.A)
        assert msg.answers[0].data == "10.96.0.1"
        svc = await cp.client.create("services", {"metadata": {"name": "shop"},
                                                  "spec": {"ports": [{"port": 80}], "selector": {"app": "shop"}}},
                                     "default")
        for _ in range(100):                 # until the watch event arrives (bounded)
            msg = await udp(port, "shop.default.svc.cluster.local", wire.A)
            if msg.answers:
                break
            await asyncio.sleep(0.02)
        assert [r.data for r in msg.answers] == [svc["spec"]["clusterIP"]]
    finally:
        server.close()
        await asyncio.to_thread(data.stop)
        await cp.stop()


