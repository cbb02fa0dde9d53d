"""ClusterIP and NodePort allocation for Services.

Upstream: pkg/registry/core/service/ipallocator (a bitmap over
``--service-cluster-ip-range``) and portallocator (``--service-node-port-range``),
driven by pkg/registry/core/service/storage/alloc.go. Every Service of type
ClusterIP, NodePort or LoadBalancer gets a virtual IP from the range; NodePort
and LoadBalancer Services also get a port in 30000-32767 on every node.
``clusterIP: None`` makes a *headless* Service (no virtual IP: DNS returns the
pods), and ExternalName Services get neither.

The allocators' state is rebuilt from the stored Services, so it needs no
storage of its own: the registry is the only writer of Services.
"""

from __future__ import annotations

import ipaddress
import random
from typing import Any, Iterable

from kubetui.api.errors import field_error, invalid

Obj = dict[str, Any]


class ClusterIPAllocator:
    """Hands out addresses of the service CIDR; the first one is the ``kubernetes`` Service's."""

    def __init__(self, cidr: str, rng: random.Random | None = None) -> None:
        self.network = ipaddress.ip_network(cidr, strict=False)
        self.cidr = str(self.network)
        self._first = int(self.network.network_address) + 1
        self._last = int(self.network.broadcast_address) - 1
        self._used: set[int] = set()
        self._rng = rng or random.Random()

    @property
    def first_ip(self) -> str:
        """``10.96.0.1``: reserved for the API server's own ``kubernetes`` Service."""
        return str(ipaddress.ip_address(self._first))

    def used(self) -> int:
        return len(self._used)

    def free(self) -> int:
        return self._last - self._first + 1 - len(self._used)

    def allocate(self, ip: str | None = None) -> str:
        """Take ``ip`` (ValueError if taken or outside the range) or a random free one."""
        if ip is not None:
            try:
                n = int(ipaddress.ip_address(ip))
            except ValueError:
                raise ValueError(f"failed to allocate IP {ip}: not a valid IP address") from None
            if not (self._first <= n <= self._last):
                raise ValueError(f"failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid "
                                 f"range. The range of valid IPs is {self.cidr}")
            if n in self._used:
                raise ValueError(f"failed to allocate IP {ip}: provided IP is already allocated")
            self._used.add(n)
            return ip
        if self.free() <= 0:
            raise ValueError("failed to allocate a serviceIP: range is full")
        # Dynamic allocations avoid the first address (the kubernetes Service's)
        # and start at a random spot, as upstream's allocator does.
        for _ in range(32):
            n = self._rng.randint(self._first + 1, self._last)
            if n not in self._used:
                self._used.add(n)
                return str(ipaddress.ip_address(n))
        for n in range(self._first + 1, self._last + 1):
            if n not in self._used:
                self._used.add(n)
                return str(ipaddress.ip_address(n))
        raise ValueError("failed to allocate a serviceIP: range is full")

    def release(self, ip: str | None) -> None:
        try:
            self._used.discard(int(ipaddress.ip_address(ip or "")))
        except ValueError:
            pass

    def mark(self, ip: str | None) -> None:
        """Record an address already in use (rebuilding state from the store)."""
        try:
            n = int(ipaddress.ip_address(ip or ""))
        except ValueError:
            return
        if self._first <= n <= self._last:
            self._used.add(n)


class NodePortAllocator:
    """Hands out ports of the node port range (``--service-node-port-range``)."""

    def __init__(self, low: int = 30000, high: int = 32767, rng: random.Random | None = None) -> None:
        self.low, self.high = low, high
        self._used: set[int] = set()
        self._rng = rng or random.Random()

    def allocate(self, port: int | None = None) -> int:
        if port is not None:
            if not (self.low <= port <= self.high):
                raise ValueError(f"provided port is not in the valid range. The range of valid ports is "
                                 f"{self.low}-{self.high}")
            if port in self._used:
                raise ValueError("provided port is already allocated")
            self._used.add(port)
            return port
        free = self.high - self.low + 1 - len(self._used)
        if free <= 0:
            raise ValueError("range is full")
        for _ in range(32):
            p = self._rng.randint(self.low, self.high)
            if p not in self._used:
                self._used.add(p)
                return p
        for p in range(self.low, self.high + 1):
            if p not in self._used:
                self._used.add(p)
                return p
        raise ValueError("range is full")

    def release(self, port: Any) -> None:
        if isinstance(port, int):
            self._used.discard(port)

    def mark(self, port: Any) -> None:
        if isinstance(port, int) and self.low <= port <= self.high:
            self._used.add(port)


def _wants_node_ports(spec: Obj) -> bool:
    t = spec.get("type", "ClusterIP")
    return t == "NodePort" or (t == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts", True))


def _wants_cluster_ip(spec: Obj) -> bool:
    return spec.get("type", "ClusterIP") != "ExternalName"


class ServiceAllocations:
    """What the Service REST storage does with the two allocators on create, update and delete.

    Each method returns an ``undo`` callable that gives back whatever it took,
    so the registry can release allocations when the store write fails or the
    request is a dry run.
    """

    def __init__(self, cidr: str, node_ports: tuple[int, int], rng: random.Random | None = None) -> None:
        self.ips = ClusterIPAllocator(cidr, rng)
        self.ports = NodePortAllocator(*node_ports, rng=rng)
        self.loaded = False

    def load(self, services: Iterable[Obj]) -> None:
        for svc in services:
            spec = svc.get("spec") or {}
            for ip in spec.get("clusterIPs") or [spec.get("clusterIP")]:
                self.ips.mark(ip)
            for p in spec.get("ports") or []:
                self.ports.mark(p.get("nodePort"))
        self.loaded = True

    def allocate(self, svc: Obj, old: Obj | None = None) -> list[tuple[str, Any]]:
        """Fill ``spec.clusterIP(s)`` and ``nodePort``s; raise 422 on a bad request.

        Returns what was newly taken: ``[("ip", "10.96.4.2"), ("port", 30080)]``.
        """
        name = (svc.get("metadata") or {}).get("name", "")
        spec = svc.setdefault("spec", {})
        old_spec = (old or {}).get("spec") or {}
        taken: list[tuple[str, Any]] = []
        try:
            self._allocate_ip(spec, old_spec, taken)
            self._allocate_ports(spec, old_spec, taken)
        except _AllocError as e:
            self.undo(taken)
            raise invalid("Service", name, [field_error(e.field, e.message)]) from None
        return taken

    def _allocate_ip(self, spec: Obj, old_spec: Obj, taken: list[tuple[str, Any]]) -> None:
        if not _wants_cluster_ip(spec):
            if old_spec.get("clusterIP") not in (None, "", "None"):
                taken.append(("release-ip", old_spec["clusterIP"]))
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
            return
        want = spec.get("clusterIP") or ((spec.get("clusterIPs") or [None])[0])
        had = old_spec.get("clusterIP")
        if had not in (None, ""):
            # patchAllocatedValues: a PUT that omits the IP keeps the allocated one;
            # changing it is refused (the field is immutable).
            if want in (None, ""):
                want = had
            if want != had:
                raise _AllocError("spec.clusterIPs[0]", f'Invalid value: []string{{"{want}"}}: may not change once set')
            spec["clusterIP"], spec["clusterIPs"] = had, [had]
            return
        if want == "None":
            spec["clusterIP"], spec["clusterIPs"] = "None", ["None"]
            return
        try:
            ip = self.ips.allocate(want or None)
        except ValueError as e:
            raise _AllocError("spec.clusterIPs", f'Invalid value: []string{{"{want}"}}: {e}') from None
        taken.append(("ip", ip))
        spec["clusterIP"], spec["clusterIPs"] = ip, [ip]

    def _allocate_ports(self, spec: Obj, old_spec: Obj, taken: list[tuple[str, Any]]) -> None:
        old_ports = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
                     for p in old_spec.get("ports") or [] if isinstance(p, dict)}
        old_held = {p for p in old_ports.values() if isinstance(p, int)}
        if not _wants_node_ports(spec):
            for p in spec.get("ports") or []:
                if isinstance(p, dict):
                    p.pop("nodePort", None)
            taken.extend(("release-port", p) for p in old_held)
            return
        kept: set[int] = set()
        for i, p in enumerate(spec.get("ports") or []):
            if not isinstance(p, dict):
                continue
            want = p.get("nodePort")
            prev = old_ports.get((p.get("port"), p.get("protocol", "TCP")))
            if want in (None, 0) and prev is not None:
                want = prev  # an update keeps the node port it already had
            if want in old_held:
                p["nodePort"] = want
                kept.add(want)
                continue
            try:
                port = self.ports.allocate(want if isinstance(want, int) and want else None)
            except ValueError as e:
                raise _AllocError(f"spec.ports[{i}].nodePort", f"Invalid value: {want}: {e}") from None
            taken.append(("port", port))
            p["nodePort"] = port
        taken.extend(("release-port", p) for p in old_held - kept)

    def commit(self, taken: list[tuple[str, Any]]) -> None:
        """The write succeeded: give back what the update stopped using."""
        for what, value in taken:
            if what == "release-ip":
                self.ips.release(value)
            elif what == "release-port":
                self.ports.release(value)

    def undo(self, taken: list[tuple[str, Any]]) -> None:
        """The write failed (or was a dry run): give back what was taken."""
        for what, value in taken:
            if what == "ip":
                self.ips.release(value)
            elif what == "port":
                self.ports.release(value)

    def release(self, svc: Obj) -> None:
        """The Service is gone: its IP and node ports are free again."""
        spec = svc.get("spec") or {}
        if spec.get("clusterIP") not in (None, "", "None"):
            self.ips.release(spec["clusterIP"])
        for p in spec.get("ports") or []:
            if isinstance(p, dict):
                self.ports.release(p.get("nodePort"))


class _AllocError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
