"""rtnetlink for pod networks: the messages ip(8) would send, and a real plumbing run."""

from __future__ import annotations

import json
import os
import secrets
import socket
import struct
import subprocess
import threading

import pytest

from kubetui.runtime import isolated, netlink
from tests.conftest import require_or_skip


@pytest.mark.parametrize("payload, want", [
    (b"", b"\x04\x00\x07\x00"),                                  # header only
    (b"ab", b"\x06\x00\x07\x00ab\x00\x00"),                      # padded to 4 bytes
    (b"abcd", b"\x08\x00\x07\x00abcd"),
])
def test_attr_is_length_type_payload_padded(payload, want):
    assert netlink.attr(7, payload) == want


def test_message_header_asks_for_an_ack_and_counts_its_length():
    body = netlink.link_up(3, master=9)
    length, kind, flags, seq, pid = struct.unpack_from("=IHHII", netlink.message(netlink.RTM_NEWLINK, 0, 5, body))
    assert (length, kind, seq, pid) == (16 + len(body), netlink.RTM_NEWLINK, 5, 0)
    assert flags == netlink.NLM_F_REQUEST | netlink.NLM_F_ACK
    family, _type, index, flags, change = struct.unpack_from("=BxHiII", body)
    assert (family, index, flags, change) == (socket.AF_UNSPEC, 3, netlink.IFF_UP, netlink.IFF_UP)
    assert body[16:] == netlink.attr(netlink.IFLA_MASTER, struct.pack("=I", 9))


def test_hairpin_is_a_bridge_protinfo_setlink():
    body = netlink.hairpin(5)
    assert struct.unpack_from("=BxHiII", body) == (netlink.AF_BRIDGE, 0, 5, 0, 0)
    inner = netlink.attr(netlink.IFLA_BRPORT_MODE, b"\x01")
    assert body[16:] == netlink.attr(netlink.IFLA_PROTINFO | netlink.NLA_F_NESTED, inner)


def test_new_address_and_default_route():
    a = netlink.new_address(4, "10.244.1.7", 24)
    assert struct.unpack_from("=BBBBI", a) == (socket.AF_INET, 24, 0, 0, 4)
    assert a[8:] == netlink.attr(netlink.IFA_LOCAL, bytes([10, 244, 1, 7])) * 1 + netlink.attr(
        netlink.IFA_ADDRESS, bytes([10, 244, 1, 7]))
    r = netlink.default_route("10.244.1.1")
    assert struct.unpack_from("=BBBBBBBBI", r)[:8] == (socket.AF_INET, 0, 0, 0, 254, 3, 0, 1)
    assert r[12:] == netlink.attr(netlink.RTA_GATEWAY, bytes([10, 244, 1, 1]))


def test_new_veth_asks_for_one_queue_each_way_on_both_ends():
    # Without the counts the kernel makes a veth with a queue per possible CPU, then cuts it to
    # one while holding RTNL, waiting for an RCU grace period (veth_init_queues): every node's
    # pod starts queued behind that wait.
    one = netlink.attr(netlink.IFLA_NUM_TX_QUEUES, struct.pack("=I", 1)) + netlink.attr(
        netlink.IFLA_NUM_RX_QUEUES, struct.pack("=I", 1))
    body = netlink.new_veth("eth0", "vethab", 7)
    peer = netlink.ifinfomsg() + netlink.attr(netlink.IFLA_IFNAME, b"vethab\0") + netlink.attr(
        netlink.IFLA_NET_NS_FD, struct.pack("=I", 7)) + one
    assert body == (netlink.ifinfomsg() + netlink.attr(netlink.IFLA_IFNAME, b"eth0\0") + one + netlink.nested(
        netlink.IFLA_LINKINFO, netlink.attr(netlink.IFLA_INFO_KIND, b"veth\0"),
        netlink.nested(netlink.IFLA_INFO_DATA, netlink.attr(netlink.VETH_INFO_PEER, peer))))


@pytest.fixture
def bridge():
    require_or_skip(*isolated.available())
    name = f"ktnl{secrets.token_hex(3)}"
    subprocess.run(["ip", "link", "add", name, "type", "bridge"], check=True)
    subprocess.run(["ip", "addr", "add", "10.251.9.1/24", "dev", name], check=True)
    subprocess.run(["ip", "link", "set", name, "up"], check=True)
    made: list[str] = []
    yield name, made
    for ns in made:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    subprocess.run(["ip", "link", "del", name], capture_output=True)


def ip_json(*argv: str) -> list:
    return json.loads(subprocess.run(["ip", "-j", *argv], capture_output=True, text=True, check=True).stdout)


def in_thread(fn):
    """Run fn in a fresh thread, as the runtime does; returns (result or exception, thread's netns)."""
    out = {}

    def run():
        try:
            out["result"] = fn()
        except OSError as e:
            out["result"] = e
        out["netns"] = os.readlink("/proc/thread-self/ns/net")
    t = threading.Thread(target=run)
    t.start()
    t.join(10)
    return out["result"], out["netns"]


def test_plumb_pod_builds_what_the_bridge_plugin_would(bridge):
    br, made = bridge
    ns, veth = f"ktnl-{secrets.token_hex(3)}", f"vnl{secrets.token_hex(3)}"
    made.append(ns)
    result, thread_ns = in_thread(lambda: netlink.plumb_pod(ns, veth, br, "10.251.9.5", 24, "10.251.9.1"))
    assert result is None
    assert thread_ns == os.readlink("/proc/self/ns/net")        # the thread came back to the node's
    assert ns in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    links = {link["ifname"]: link for link in ip_json("-n", ns, "addr")}
    assert "UP" in links["lo"]["flags"] and "UP" in links["eth0"]["flags"]
    assert [(a["local"], a["prefixlen"]) for a in links["eth0"]["addr_info"] if a["family"] == "inet"] == [
        ("10.251.9.5", 24)]
    assert [r["gateway"] for r in ip_json("-n", ns, "route") if r["dst"] == "default"] == ["10.251.9.1"]
    node_end = ip_json("link", "show", veth)[0]
    assert node_end["master"] == br and "UP" in node_end["flags"]
    # one queue each way on both ends, made so (not cut down to it under RTNL: new_veth)
    for argv in (["-d", "link", "show", veth], ["-n", ns, "-d", "link", "show", "eth0"]):
        link = ip_json(*argv)[0]
        assert (link["num_tx_queues"], link["num_rx_queues"]) == (1, 1)
    # hairpin: a pod whose Service sends it back to itself (issue 12 item 10)
    assert open(f"/sys/class/net/{veth}/brport/hairpin_mode").read().strip() == "1"
    # (test_isolated.py reaches a pod's server over such a bridge)


def test_a_failed_plumbing_raises_and_leaves_the_thread_in_the_node_namespace(bridge):
    br, made = bridge
    ns = f"ktnl-{secrets.token_hex(3)}"
    made.append(ns)
    # a gateway outside the pod's subnet: the kernel refuses the route (ENETUNREACH)
    result, thread_ns = in_thread(lambda: netlink.plumb_pod(ns, f"vnl{secrets.token_hex(3)}", br,
                                                            "10.251.9.6", 24, "10.99.0.1"))
    assert isinstance(result, OSError) and "default route" in str(result)
    assert thread_ns == os.readlink("/proc/self/ns/net")
    # and the same name twice is refused before anything changes
    result, _ = in_thread(lambda: netlink.plumb_pod(ns, "vnlx", br, "10.251.9.7", 24, "10.251.9.1"))
    assert isinstance(result, FileExistsError)
