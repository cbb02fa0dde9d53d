"""The userspace proxy: Services for the local provider, where nothing may touch iptables.

Upstream: kube-proxy's old ``--proxy-mode=userspace`` (``pkg/proxy/userspace/``,
removed in 1.26): a real socket listens for every service port and each
accepted connection is piped to an endpoint picked round-robin
(``roundrobin.go``), with ClientIP affinity remembered per client address.
kubetui keeps it for the local provider, whose pods are plain processes on
this machine's loopback, where kube-proxy cannot (and must not) rewrite the
host's iptables.

Addresses it uses (Linux routes all of 127.0.0.0/8 to the loopback, so any
127.x.y.z can be bound without root):

* a Service's ClusterIP is served at its host bits inside the cluster's
  Service block on the loopback (``--service-address-range``): ``10.96.A.B``
  at ``127.S.A.B`` for a local cluster owning block P (S = P + 1; see
  ``kubetui.agent.loopback``: every local cluster of the machine has its
  own, so two clusters' Services never share an address), on the Service's
  own port. In local mode the cluster DNS answers Service names with that address;
* a NodePort is served on every node IP of the cluster (``127.P.0.N:<nodePort>``),
  as upstream's kube-proxy serves it on the node's addresses.

TCP only (UDP Services are logged and skipped). Standard library only.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from kubetui.agent.loopback import DEFAULT_SERVICE_RANGE, service_address
from kubetui.proxy.model import Endpoint, ServicePort, categorize, endpoints_for, service_ports, slices_by_service

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 2.0


def loopback_address(cluster_ip: str, service_range: str = DEFAULT_SERVICE_RANGE) -> str:
    """``10.96.0.20`` -> ``127.96.0.20`` (a cluster's block: ``127.S.0.20``): where a ClusterIP is served."""
    return service_address(cluster_ip, service_range)


@dataclass
class Backends:
    """The endpoints one listener spreads connections over, round-robin, with optional ClientIP affinity."""

    name: str
    endpoints: list[Endpoint] = field(default_factory=list)
    affinity_seconds: float = 0.0          # 0: no session affinity
    clock: Callable[[], float] = lambda: asyncio.get_running_loop().time()
    connections: dict[str, int] = field(default_factory=dict)   # "ip:port" -> connections sent there
    _next: int = 0
    _affinity: dict[str, tuple[str, float]] = field(default_factory=dict)

    def set(self, endpoints: list[Endpoint], affinity_seconds: float = 0.0) -> None:
        self.endpoints = list(endpoints)
        self.affinity_seconds = affinity_seconds
        live = {str(e) for e in endpoints}
        self._affinity = {c: v for c, v in self._affinity.items() if v[0] in live}

    def order(self, client_ip: str) -> list[Endpoint]:
        """Endpoints to try for a new connection, best first (the sticky one, then round-robin)."""
        eps = self.endpoints
        if not eps:
            return []
        start = self._next % len(eps)
        self._next = start + 1
        ordered = eps[start:] + eps[:start]
        if self.affinity_seconds:
            sticky = self._affinity.get(client_ip)
            if sticky and self.clock() - sticky[1] < self.affinity_seconds:
                ordered = sorted(ordered, key=lambda e: str(e) != sticky[0])
        return ordered

    def chosen(self, client_ip: str, ep: Endpoint) -> None:
        self.connections[str(ep)] = self.connections.get(str(ep), 0) + 1
        if self.affinity_seconds:
            self._affinity[client_ip] = (str(ep), self.clock())


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            if writer.can_write_eof():
                writer.write_eof()
        except (OSError, RuntimeError):
            pass


class Listener:
    """One listening socket that pipes every accepted connection to a backend from ``backends``."""

    def __init__(self, host: str, port: int, backends: Backends) -> None:
        self.host, self.port, self.backends = host, port, backends
        self.server: asyncio.base_events.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, self.host, self.port, reuse_address=True)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._conns.add(task)
        client_ip = (writer.get_extra_info("peername") or ("?",))[0]
        try:
            for ep in self.backends.order(client_ip):
                try:
                    up_r, up_w = await asyncio.wait_for(asyncio.open_connection(ep.ip, ep.port), CONNECT_TIMEOUT)
                except (OSError, asyncio.TimeoutError) as e:
                    log.debug("%s: endpoint %s failed (%s); trying the next", self.backends.name, ep, e)
                    continue
                self.backends.chosen(client_ip, ep)
                try:
                    await asyncio.gather(_pipe(reader, up_w), _pipe(up_r, writer))
                finally:
                    up_w.close()
                return
            log.info("%s: no endpoint answered; closing the client connection", self.backends.name)
        finally:
            writer.close()
            if task is not None:
                self._conns.discard(task)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        for t in list(self._conns):
            t.cancel()
        for t in list(self._conns):
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass


class UserspaceProxy:
    """kube-proxy in userspace mode: a listener per service port, updated on every sync."""

    mode = "userspace"

    def __init__(self, *, node_name: str = "", nodeport_hosts: Iterable[str] = ("127.0.0.1",),
                 address_for: Callable[[str], str] = loopback_address) -> None:
        self.node_name = node_name
        self.nodeport_hosts = list(nodeport_hosts)
        self.address_for = address_for
        self.backends: dict[str, Backends] = {}                 # service port name -> backends
        self.listeners: dict[tuple[str, int], Listener] = {}   # (host, port) -> listener
        self.pods: dict[str, tuple[str, str]] = {}             # "ip:port" -> (pod, node)

    async def sync(self, services: Iterable[dict[str, Any]], slices: Iterable[dict[str, Any]]) -> None:
        """Open listeners for new service ports, close those of removed ones, refresh every endpoint list."""
        by_svc = slices_by_service(slices)
        wanted: dict[tuple[str, int], str] = {}
        seen: set[str] = set()
        for svc in services:
            m = svc.get("metadata") or {}
            for sp in service_ports(svc):
                if sp.protocol != "TCP":
                    log.debug("userspace proxy: skipping %s/%s (only TCP is proxied)", sp.name_string, sp.protocol)
                    continue
                eps = endpoints_for(sp, by_svc.get((m.get("namespace") or "default", m.get("name")), []))
                self._update(sp, eps)
                seen.add(sp.name_string)
                wanted[(self.address_for(sp.cluster_ip), sp.port)] = sp.name_string
                for host in self.nodeport_hosts if sp.node_port else ():
                    wanted[(host, sp.node_port)] = sp.name_string
        for key in [k for k in self.listeners if wanted.get(k) != self.listeners[k].backends.name]:
            await self.listeners.pop(key).close()
        for key, name in wanted.items():
            if key in self.listeners:
                continue
            listener = Listener(key[0], key[1], self.backends[name])
            try:
                await listener.start()
            except OSError as e:
                log.warning("userspace proxy: cannot listen on %s:%d for %s: %s", key[0], key[1], name, e)
                continue
            self.listeners[key] = listener
        for name in set(self.backends) - seen:
            del self.backends[name]

    def _update(self, sp: ServicePort, eps: list[Endpoint]) -> None:
        usable = categorize(eps, sp, self.node_name).cluster
        b = self.backends.setdefault(sp.name_string, Backends(sp.name_string))
        b.set(usable, float(sp.sticky_seconds) if sp.session_affinity else 0.0)
        for e in eps:
            self.pods[str(e)] = (e.pod, e.node_name)

    def address_of(self, svc_port_name: str) -> list[tuple[str, int]]:
        return [k for k, v in self.listeners.items() if v.backends.name == svc_port_name]

    def traffic(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Connections per endpoint, per service port (the TUI's "which replica answered" view)."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for name, b in sorted(self.backends.items()):
            live = {str(e) for e in b.endpoints}
            eps = {}
            for ep in sorted(live | set(b.connections)):
                pod, node = self.pods.get(ep, ("", ""))
                eps[ep] = {"connections": b.connections.get(ep, 0), "pod": pod, "node": node, "active": ep in live}
            out[name] = eps
        return out

    async def close(self) -> None:
        for listener in list(self.listeners.values()):
            await listener.close()
        self.listeners.clear()
