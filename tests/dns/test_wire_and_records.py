"""DNS wire format (RFC 1035) and the cluster.local zone, table-tested."""

from __future__ import annotations

import struct

import pytest

from kubetui.dns import wire
from kubetui.dns.records import build_zone
from tests.proxy.fixtures import endpoint, service, slice_


def test_query_roundtrip_and_compressed_names():
    msg = wire.parse(wire.query("Web.Default.svc.cluster.local", wire.A, mid=7))
    assert (msg.id, msg.questions[0].name, msg.questions[0].qtype) == (7, "web.default.svc.cluster.local", wire.A)
    # an answer whose name is a pointer to the question's name (offset 12), as real servers send
    q = wire.query("a.b", wire.A, mid=1)
    raw = bytearray(q)
    raw[6:8] = struct.pack("!H", 1)
    raw += b"\xc0\x0c" + struct.pack("!2HIH", wire.A, 1, 30, 4) + bytes([10, 0, 0, 1])
    parsed = wire.parse(bytes(raw))
    assert parsed.answers[0].name == "a.b" and parsed.answers[0].data == "10.0.0.1"


@pytest.mark.parametrize("data", [b"\x00" * 5, wire.query("a", wire.A)[:-3], b"\x00\x01\x01\x00\x00\x01" + b"\x00" * 6 + b"\xc0\x0c"])
def test_malformed_messages_raise_format_error(data):
    with pytest.raises(wire.FormatError):
        wire.parse(data)


def test_records_roundtrip_through_the_wire():
    rec = [wire.Record("x.svc", wire.SRV, 30, (0, 33, 8080, "h.x.svc")),
           wire.Record("x.svc", wire.A, 30, "10.1.2.3"), wire.Record("y", wire.CNAME, 30, "example.org"),
           wire.Record("cluster.local", wire.SOA, 30, ("ns.dns.cluster.local", "hostmaster.cluster.local", 5, 7200, 1800, 86400, 30))]
    msg = wire.parse(wire.build(wire.Message(9, 0x8400, [wire.Question("x.svc", wire.ANY)], rec)))
    assert [r.data for r in msg.answers] == [r.data for r in rec]


SERVICES = [
    service("web", ip="10.96.0.20", ports=[{"name": "http", "port": 80, "protocol": "TCP"},
                                           {"port": 9000, "protocol": "TCP"}]),
    service("db", ip="None", ports=[{"name": "pg", "port": 5432, "protocol": "TCP"}]),
    service("empty", ip="None"),
    service("ext", ip=None, type="ExternalName", externalName="db.example.org"),
    service("kube-dns", ip="10.96.0.10", ns="kube-system", ports=[{"name": "dns", "port": 53, "protocol": "UDP"}]),
]
DB = slice_("db", [endpoint("10.244.1.5"), endpoint("10.244.2.6", "node-2"), endpoint("10.244.3.7", ready=False)],
            ports=[{"name": "pg", "port": 5432, "protocol": "TCP"}])
DB["endpoints"][0]["hostname"] = "db-0"
ZONE = build_zone(SERVICES, [DB])


@pytest.mark.parametrize("name, qtype, rcode, answers", [
    ("web.default.svc.cluster.local", wire.A, wire.NOERROR, ["10.96.0.20"]),
    ("kube-dns.kube-system.svc.cluster.local", wire.A, wire.NOERROR, ["10.96.0.10"]),
    ("web.default.svc.cluster.local", wire.AAAA, wire.NOERROR, []),           # exists, no IPv6: NODATA
    ("db.default.svc.cluster.local", wire.A, wire.NOERROR, ["10.244.1.5", "10.244.2.6"]),   # headless: ready pods
    ("db-0.db.default.svc.cluster.local", wire.A, wire.NOERROR, ["10.244.1.5"]),
    ("10-244-2-6.db.default.svc.cluster.local", wire.A, wire.NOERROR, ["10.244.2.6"]),
    ("10-244-3-7.db.default.svc.cluster.local", wire.A, wire.NXDOMAIN, []),   # not ready: not published
    ("empty.default.svc.cluster.local", wire.A, wire.NXDOMAIN, []),           # headless without endpoints
    ("_http._tcp.web.default.svc.cluster.local", wire.SRV, wire.NOERROR, [(0, 100, 80, "web.default.svc.cluster.local")]),
    ("_pg._tcp.db.default.svc.cluster.local", wire.SRV, wire.NOERROR,
     [(0, 50, 5432, "10-244-2-6.db.default.svc.cluster.local"), (0, 50, 5432, "db-0.db.default.svc.cluster.local")]),
    ("ext.default.svc.cluster.local", wire.A, wire.NOERROR, ["db.example.org"]),   # CNAME
    ("10-244-1-5.default.pod.cluster.local", wire.A, wire.NOERROR, ["10.244.1.5"]),
    ("nosuch.default.svc.cluster.local", wire.A, wire.NXDOMAIN, []),
    ("web.default.svc.cluster.local.default.svc.cluster.local", wire.A, wire.NXDOMAIN, []),  # a search expansion
    ("default.svc.cluster.local", wire.A, wire.NOERROR, []),                  # empty non-terminal
    ("20.0.96.10.in-addr.arpa", wire.PTR, wire.NOERROR, ["web.default.svc.cluster.local"]),
])
def test_zone_lookup(name, qtype, rcode, answers):
    got_rcode, got, _ = ZONE.lookup(name, qtype)
    assert got_rcode == rcode
    assert sorted(r.data for r in got) == sorted(answers)


def test_srv_answers_carry_the_targets_a_records():
    _, answers, additional = ZONE.lookup("_pg._tcp.db.default.svc.cluster.local", wire.SRV)
    assert {r.name: r.data for r in additional} == {"db-0.db.default.svc.cluster.local": "10.244.1.5",
                                                    "10-244-2-6.db.default.svc.cluster.local": "10.244.2.6"}


def test_loopback_service_addresses_for_the_local_provider():
    zone = build_zone(SERVICES, [], address_for=lambda ip: "127." + ip.split(".", 1)[1])
    assert [r.data for r in zone.lookup("web.default.svc.cluster.local", wire.A)[1]] == ["127.96.0.20"]
