"""Just enough rtnetlink to plumb a pod's network (upstream: the ``bridge`` CNI plugin,
``containernetworking/plugins/plugins/main/bridge``, which talks netlink through
``vishvananda/netlink`` rather than running ``ip``).

``plumb_pod`` does what ``ip netns add`` plus ``ip link add ... type veth peer`` plus
``ip -n NS addr/route add`` would, but in the kubelet's own process: a pod start
no longer pays for two ``ip`` processes. The messages are the ones ``ip`` sends
(``RTM_NEWLINK``, ``RTM_NEWADDR``, ``RTM_NEWROUTE``); each asks for an ack, and a
negative ack becomes ``OSError`` with the kernel's errno.

Network namespaces belong to threads, so the calling thread enters the new
namespace only long enough to pin it (bind mount at ``/var/run/netns/<name>``,
as ``ip netns add`` does) and to open a netlink socket there; a socket keeps
talking to the namespace it was opened in.
"""

from __future__ import annotations

import ctypes
import ipaddress
import os
import socket
import struct
import threading
from pathlib import Path

NETNS_DIR = Path("/var/run/netns")     # iproute2's NETNS_RUN_DIR

CLONE_NEWNET = 0x40000000
MS_BIND, MS_REC, MS_SHARED = 0x1000, 0x4000, 1 << 20

# linux/netlink.h, linux/rtnetlink.h, linux/if_link.h, linux/veth.h
NLMSG_ERROR = 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
RTM_NEWLINK, RTM_SETLINK, RTM_NEWADDR, RTM_NEWROUTE = 16, 19, 20, 24
IFLA_IFNAME, IFLA_MASTER, IFLA_PROTINFO, IFLA_LINKINFO, IFLA_NET_NS_FD = 3, 10, 12, 18, 28
IFLA_NUM_TX_QUEUES, IFLA_NUM_RX_QUEUES = 31, 32
IFLA_BRPORT_MODE = 4                   # a bridge port's hairpin mode (linux/if_link.h)
AF_BRIDGE = 7
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_GATEWAY = 5
RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST = 254, 3, 0, 1
IFF_UP = 0x1
NLA_F_NESTED = 1 << 15

_libc = ctypes.CDLL(None, use_errno=True)
_pinned_dir = threading.Lock()
_dir_ready = False


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


# -- messages (pure: table-tested) ---------------------------------------------------


def attr(kind: int, payload: bytes) -> bytes:
    """One ``rtattr``: length, type, payload, padded to 4 bytes."""
    n = 4 + len(payload)
    return struct.pack("=HH", n, kind) + payload + b"\0" * (-n % 4)


def nested(kind: int, *attrs: bytes) -> bytes:
    return attr(kind | NLA_F_NESTED, b"".join(attrs))


def ifinfomsg(index: int = 0, flags: int = 0, change: int = 0) -> bytes:
    return struct.pack("=BxHiII", socket.AF_UNSPEC, 0, index, flags, change)


def message(kind: int, flags: int, seq: int, body: bytes) -> bytes:
    """An ``nlmsghdr`` and its body (the kernel fills in our port id)."""
    return struct.pack("=IHHII", 16 + len(body), kind, flags | NLM_F_REQUEST | NLM_F_ACK, seq, 0) + body


def new_veth(name: str, peer: str, peer_netns_fd: int) -> bytes:
    """``ip link add NAME numtxqueues 1 numrxqueues 1 type veth peer name PEER netns <fd>
    numtxqueues 1 numrxqueues 1``.

    Both ends get one queue each way, as they would anyway: without the counts the kernel
    makes a veth with a queue per possible CPU and then cuts it down to one (``veth_init_queues``),
    and cutting queues waits for an RCU grace period (``synchronize_net``) while holding the
    RTNL lock, which every network change of every node on this kernel needs: in a burst of pod
    starts that wait, twice per pod, was what the sandboxes of all three nodes queued behind.
    """
    one = attr(IFLA_NUM_TX_QUEUES, struct.pack("=I", 1)) + attr(IFLA_NUM_RX_QUEUES, struct.pack("=I", 1))
    peer_info = (ifinfomsg() + attr(IFLA_IFNAME, peer.encode() + b"\0")
                 + attr(IFLA_NET_NS_FD, struct.pack("=I", peer_netns_fd)) + one)
    return (ifinfomsg() + attr(IFLA_IFNAME, name.encode() + b"\0") + one
            + nested(IFLA_LINKINFO, attr(IFLA_INFO_KIND, b"veth\0"),
                     nested(IFLA_INFO_DATA, attr(VETH_INFO_PEER, peer_info))))


def link_up(index: int, master: int = 0) -> bytes:
    """``ip link set <index> [master <master>] up``."""
    return ifinfomsg(index, IFF_UP, IFF_UP) + (attr(IFLA_MASTER, struct.pack("=I", master)) if master else b"")


def hairpin(index: int, on: bool = True) -> bytes:
    """``bridge link set dev <index> hairpin on``: the bridge may send a frame back out the port
    it came in on.

    A pod calling its own Service: kube-proxy's DNAT (in the bridge's netfilter hook) sends
    the packet back to the very pod, i.e. out of the same bridge port. Without hairpin mode
    the bridge drops it and the pod never reaches itself (kubelet ``--hairpin-mode=hairpin-veth``;
    the bridge CNI plugin's ``hairpinMode``, via netlink's ``LinkSetHairpin``).
    """
    msg = struct.pack("=BxHiII", AF_BRIDGE, 0, index, 0, 0)
    return msg + nested(IFLA_PROTINFO, attr(IFLA_BRPORT_MODE, b"\x01" if on else b"\x00"))


def new_address(index: int, ip: str, prefixlen: int) -> bytes:
    """``ip addr add IP/PREFIX dev <index>``."""
    a = socket.inet_aton(ip)
    return struct.pack("=BBBBI", socket.AF_INET, prefixlen, 0, 0, index) + attr(IFA_LOCAL, a) + attr(IFA_ADDRESS, a)


def default_route(gateway: str) -> bytes:
    """``ip route add default via GATEWAY``."""
    return (struct.pack("=BBBBBBBBI", socket.AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE,
                        RTN_UNICAST, 0)
            + attr(RTA_GATEWAY, socket.inet_aton(gateway)))


# -- the socket ------------------------------------------------------------------------


class Netlink:
    """A NETLINK_ROUTE socket in the network namespace of the thread that opened it."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def request(self, kind: int, body: bytes, flags: int = 0, what: str = "") -> None:
        """Send one request and wait for its ack; a negative ack raises ``OSError``."""
        self.seq += 1
        self.sock.send(message(kind, flags, self.seq, body))
        while True:
            data = self.sock.recv(65536)
            off = 0
            while off + 16 <= len(data):
                length, mtype, _flags, seq, _pid = struct.unpack_from("=IHHII", data, off)
                if mtype == NLMSG_ERROR and seq == self.seq:
                    (err,) = struct.unpack_from("=i", data, off + 16)
                    if err:
                        raise OSError(-err, f"{what or kind}: {os.strerror(-err)}")
                    return
                off += max(16, (length + 3) & ~3)


# -- a pod's network ------------------------------------------------------------------------


def _pin_dir() -> None:
    """What ``ip netns add`` does once: /var/run/netns is a shared mount point, so a pinned
    namespace shows up in mount namespaces made later too."""
    global _dir_ready
    with _pinned_dir:
        if _dir_ready:
            return
        NETNS_DIR.mkdir(parents=True, exist_ok=True)
        d = str(NETNS_DIR).encode()
        if _libc.mount(b"none", d, None, MS_SHARED | MS_REC, None) != 0:
            _check(_libc.mount(d, d, None, MS_BIND | MS_REC, None), f"bind mount {NETNS_DIR}")
            _check(_libc.mount(b"none", d, None, MS_SHARED | MS_REC, None), f"make {NETNS_DIR} shared")
        _dir_ready = True


def plumb_pod(netns: str, veth: str, bridge: str, ip: str, prefixlen: int, gateway: str) -> None:
    """A new network namespace ``netns`` whose ``eth0`` (``ip``/``prefixlen``, default route via
    ``gateway``) is one end of a veth pair; the other end, ``veth``, is up on ``bridge``, in
    hairpin mode (so the pod can reach itself through its Service).

    Blocking: call it from a worker thread (it enters the new namespace for a moment)."""
    ipaddress.IPv4Address(ip), ipaddress.IPv4Address(gateway)     # ValueError before any change
    _pin_dir()
    pinned = NETNS_DIR / netns
    node_fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    node = pod = None
    try:
        bridge_index = socket.if_nametoindex(bridge)
        node = Netlink()
        fd = os.open(pinned, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0)
        os.close(fd)
        _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
        try:
            _check(_libc.mount(b"/proc/thread-self/ns/net", str(pinned).encode(), None, MS_BIND, None),
                   f"pin {pinned}")
            pod = Netlink()
            pod.request(RTM_NEWLINK, new_veth("eth0", veth, node_fd), NLM_F_CREATE | NLM_F_EXCL,
                        f"create veth eth0/{veth}")
            eth0 = socket.if_nametoindex("eth0")            # asked in the pod's namespace
        finally:
            _check(_libc.setns(node_fd, CLONE_NEWNET), "setns back to the node's network namespace")
        pod.request(RTM_NEWLINK, link_up(1), what="set lo up")
        pod.request(RTM_NEWADDR, new_address(eth0, ip, prefixlen), NLM_F_CREATE | NLM_F_EXCL,
                    f"add {ip}/{prefixlen} to eth0")
        pod.request(RTM_NEWLINK, link_up(eth0), what="set eth0 up")
        pod.request(RTM_NEWROUTE, default_route(gateway), NLM_F_CREATE | NLM_F_EXCL,
                    f"add default route via {gateway}")
        veth_index = socket.if_nametoindex(veth)
        node.request(RTM_NEWLINK, link_up(veth_index, bridge_index), what=f"set {veth} master {bridge} up")
        node.request(RTM_SETLINK, hairpin(veth_index), what=f"set {veth} hairpin on")
    finally:
        os.close(node_fd)
        for s in (node, pod):
            if s is not None:
                s.close()
