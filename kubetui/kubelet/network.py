"""The node's share of the pod network: its podCIDR and the routes to every other node's pods.

Upstream this is split in two. The kubelet reads ``Node.spec.podCIDR`` (set
by the node IPAM controller in kube-controller-manager, one /24 of the
cluster CIDR per node) and hands it to the container runtime, whose CNI
plugin gives each pod an address from it (``pkg/kubelet/kubelet_network.go``).
Some network add-on then makes every pod reachable from every node: kind's
``kindnetd`` does it with plain routes, one per other node, "to reach node
B's podCIDR, go via node B's InternalIP" (``kindnetd``'s routes controller).
kubetui's kubelet does both, since a node runs no separate add-on.

No NAT is involved: a packet from a pod on node 1 to a pod on node 3 keeps
its source address, which is Kubernetes' network model ("pods can
communicate with all other pods on any other node without NAT").

The routes carry their own protocol number (``proto 77``), so the ones this
node added are told apart from Docker's and the bridge's, and removed when
their node goes away. They are also checked every few seconds: a
``docker network disconnect/connect`` brings the node's interface back
without them (node-internals §7).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import subprocess
from pathlib import Path
from typing import Callable

from kubetui.agent.apiclient import APIClient
from kubetui.agent.reflector import Reflector

log = logging.getLogger(__name__)

#: rtnetlink protocol number marking the routes kubetui's kubelet manages
ROUTE_PROTO = "77"

#: the kernel settings a node's pod network needs (as kind's node image sets them)
SYSCTLS = {
    # the node forwards packets between its pods' bridge and its own interface
    "net/ipv4/ip_forward": "1",
    # bridged pod traffic goes through iptables too, so kube-proxy's DNAT
    # applies when a Service's endpoint is on the same node
    "net/bridge/bridge-nf-call-iptables": "1",
}

Runner = Callable[[list[str]], "subprocess.CompletedProcess[str]"]


def run_command(argv: list[str]) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(argv, capture_output=True, text=True)


def internal_ip(node: dict) -> str | None:
    for a in (node.get("status") or {}).get("addresses") or []:
        if a.get("type") == "InternalIP" and a.get("address"):
            return a["address"]
    return None


def peer_routes(nodes: list[dict], self_name: str) -> dict[str, str]:
    """{podCIDR: InternalIP} for every other node that has both (what this node must route)."""
    routes: dict[str, str] = {}
    for n in nodes:
        if n["metadata"]["name"] == self_name:
            continue
        cidr, ip = (n.get("spec") or {}).get("podCIDR"), internal_ip(n)
        if not cidr or not ip:
            continue
        try:
            routes[str(ipaddress.ip_network(cidr, strict=False))] = str(ipaddress.ip_address(ip))
        except ValueError:
            log.warning("node %s: podCIDR %r or InternalIP %r is not an address", n["metadata"]["name"], cidr, ip)
    return routes


def parse_routes(text: str) -> dict[str, str]:
    """``ip route show proto 77`` -> {destination: gateway}."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 3 and "via" in words:
            dst = words[0]
            if "/" not in dst:
                dst += "/32"
            out[dst] = words[words.index("via") + 1]
    return out


def route_commands(current: dict[str, str], desired: dict[str, str]) -> list[list[str]]:
    """The ``ip route`` commands that turn the current routes into the desired ones."""
    cmds = []
    for dst, via in sorted(desired.items()):
        if current.get(dst) != via:
            cmds.append(["ip", "route", "replace", dst, "via", via, "proto", ROUTE_PROTO])
    for dst in sorted(set(current) - set(desired)):
        cmds.append(["ip", "route", "del", dst, "proto", ROUTE_PROTO])
    return cmds


def set_sysctls(root: Path = Path("/proc/sys")) -> list[str]:
    """Write ``SYSCTLS``; returns what could not be set (e.g. br_netfilter not loaded on the host)."""
    missing = []
    for key, value in SYSCTLS.items():
        try:
            (root / key).write_text(value)
        except OSError as e:
            missing.append(f"{key.replace('/', '.')} ({e.strerror or e})")
    return missing


class NodeNetwork:
    """Watches Nodes: takes this node's podCIDR, keeps routes to the others' (when ``manage_routes``)."""

    def __init__(self, api: APIClient, node_name: str, *, manage_routes: bool, clock,
                 runner: Runner = run_command, resync_seconds: float = 3.0) -> None:
        self.api = api
        self.node_name = node_name
        self.manage_routes = manage_routes
        self.clock = clock
        self.runner = runner
        self.resync_seconds = resync_seconds
        self.nodes: dict[str, dict] = {}        # the reflector's store, by name
        self.reflector: Reflector | None = None
        self.pod_cidr: str | None = None
        self.pod_cidr_known = asyncio.Event()
        self.on_pod_cidr: Callable[[str], object] | None = None
        self._routes_lock = asyncio.Lock()
        self._applied: dict[str, str] | None = None     # the routes last put in place

    # -- watching Nodes ------------------------------------------------------
    async def run(self) -> None:
        """List and watch every Node, forever (relisting after errors and API server restarts)."""
        self.reflector = Reflector(self.api, "/api/v1/nodes", on_change=self._changed, clock=self.clock,
                                   name="nodes")
        self.nodes = self.reflector.store
        await self.reflector.run()

    async def _changed(self) -> None:
        if self.reflector is not None:
            self.nodes = self.reflector.store      # a relist replaces the store
        me = self.nodes.get(self.node_name)
        cidr = ((me or {}).get("spec") or {}).get("podCIDR")
        if cidr and self.pod_cidr is None:
            log.info("node %s: podCIDR %s (from Node.spec.podCIDR)", self.node_name, cidr)
            self.pod_cidr = cidr
            if self.on_pod_cidr is not None:
                r = self.on_pod_cidr(cidr)
                if asyncio.iscoroutine(r):
                    await r
            self.pod_cidr_known.set()
        elif cidr and cidr != self.pod_cidr:
            # The real kubelet also ignores a changed podCIDR: pods already have addresses from it.
            log.warning("node %s: podCIDR changed to %s; keeping %s until the node is re-created",
                        self.node_name, cidr, self.pod_cidr)
        if self.manage_routes:
            await self.sync_routes(verify=False)

    # -- routes --------------------------------------------------------------
    async def sync_routes(self, verify: bool = True) -> list[list[str]]:
        """Make the kernel's routes match the other nodes' podCIDRs; returns the commands run.

        ``verify=False`` (a Node changed): when the routes the Nodes ask for are the ones last
        put in place, the kernel is not asked. Every kubelet posts its Node's status every few
        seconds, and each post forked ``ip route show`` on every node; the periodic resync
        (``verify``) still reads the kernel's routes and repairs them.
        """
        async with self._routes_lock:
            desired = peer_routes(list(self.nodes.values()), self.node_name)
            if not verify and desired == self._applied:
                return []
            shown = await asyncio.to_thread(self.runner, ["ip", "route", "show", "proto", ROUTE_PROTO])
            cmds = route_commands(parse_routes(shown.stdout or ""), desired)
            ok = True
            for argv in cmds:
                r = await asyncio.to_thread(self.runner, argv)
                if r.returncode != 0:
                    ok = False
                    log.warning("%s: %s", " ".join(argv), (r.stderr or "").strip())
                else:
                    log.info("route: %s", " ".join(argv[2:]))
            self._applied = desired if ok and shown.returncode == 0 else None
            return cmds

    async def resync_loop(self) -> None:
        """Re-check the routes now and then: a reconnected interface comes back without them."""
        while True:
            await self.clock.sleep(self.resync_seconds)
            try:
                await self.sync_routes()
            except OSError as e:
                log.warning("route resync failed: %s", e)
