"""The cluster.local zone, built from Services and EndpointSlices (pure functions).

Upstream: the Kubernetes DNS-based service discovery spec
(``kubernetes/dns/docs/specification.md``) as CoreDNS's ``kubernetes`` plugin
serves it (``pods insecure``, ``ttl 30``):

* ``<svc>.<ns>.svc.cluster.local``  A -> the ClusterIP; for a headless
  Service (``clusterIP: None``) -> the ready endpoints' IPs, one record each;
* ``<host>.<svc>.<ns>.svc.cluster.local`` A -> one endpoint of a headless
  Service (``<host>`` is the endpoint's ``hostname``, else its IP with dashes);
* ``_<port>._<proto>.<svc>.<ns>.svc.cluster.local`` SRV -> each *named* port:
  ``0 100 <port> <svc>...`` (headless: one per endpoint, weights sharing 100);
* ExternalName Services: a CNAME to ``spec.externalName``;
* ``10-244-1-5.<ns>.pod.cluster.local`` A -> 10.244.1.5, read from the name
  itself (what ``pods insecure`` does);
* PTR records for ClusterIPs and headless endpoints.

A name in the zone that does not exist is NXDOMAIN; a name that exists without
records of the asked type (AAAA in an IPv4 cluster) is an empty NOERROR. Both
carry the zone's SOA, so resolvers may cache the negative answer.
"""

from __future__ import annotations

import socket

from kubetui.dns import wire

TYPE_CHECKING = False       # typing's own flag would import typing, half a megabyte of the DNS pod
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable
    Obj = dict[str, Any]
TTL = 30
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def dashed(ip: str) -> str:
    return ip.replace(".", "-").replace(":", "-")


def reverse_name(ip: str) -> str:
    """``10.96.0.10`` -> ``10.0.96.10.in-addr.arpa`` (IPv6: nibbles under ``ip6.arpa``), as
    ``ipaddress``'s ``reverse_pointer``; ``ValueError`` if ``ip`` is not an address."""
    if ":" not in ip:
        raw = wire.packed_ip(ip, socket.AF_INET)
        return ".".join(str(b) for b in reversed(raw)) + ".in-addr.arpa"
    nibbles = wire.packed_ip(ip, socket.AF_INET6).hex()
    return ".".join(reversed(nibbles)) + ".ip6.arpa"


class Zone:
    def __init__(self, domain: str = "cluster.local", records: dict[tuple[str, int], list[wire.Record]] | None = None,
                 names: set[str] | None = None, serial: int = 1) -> None:
        self.domain = domain
        self.records = records if records is not None else {}
        self.names = names if names is not None else set()    # every name that exists, with its parents
        self.serial = serial

    def add(self, name: str, rtype: int, data: object) -> None:
        rec = wire.Record(name, rtype, TTL, data)
        bucket = self.records.setdefault((name, rtype), [])
        if all(r.data != data for r in bucket):
            bucket.append(rec)
        self._exists(name)

    def _exists(self, name: str) -> None:
        labels = name.split(".")
        for i in range(len(labels)):
            self.names.add(".".join(labels[i:]))

    def in_zone(self, name: str) -> bool:
        return name == self.domain or name.endswith("." + self.domain)

    def is_reverse(self, name: str) -> bool:
        return name.endswith(".in-addr.arpa") or name.endswith(".ip6.arpa")

    def soa(self) -> wire.Record:
        # CoreDNS's SOA for the cluster zone: ns.dns.<zone> hostmaster.<zone>, refresh 7200, retry 1800, ...
        return wire.Record(self.domain, wire.SOA, TTL, (f"ns.dns.{self.domain}", f"hostmaster.{self.domain}",
                                                        self.serial, 7200, 1800, 86400, TTL))

    def lookup(self, name: str, qtype: int) -> tuple[int, list[wire.Record], list[wire.Record]]:
        """(rcode, answers, additional) for a name in the zone (or a known reverse name)."""
        pod_ip = self._pod_ip(name)
        if pod_ip is not None:
            return wire.NOERROR, ([wire.Record(name, wire.A, TTL, pod_ip)] if qtype in (wire.A, wire.ANY) else []), []
        if name not in self.names:
            return wire.NXDOMAIN, [], []
        if qtype == wire.SOA and name == self.domain:
            return wire.NOERROR, [self.soa()], []
        answers: list[wire.Record] = []
        cname = self.records.get((name, wire.CNAME))
        if cname and qtype != wire.CNAME:
            answers += cname
            return wire.NOERROR, answers, []
        types = [wire.A, wire.AAAA, wire.SRV, wire.PTR, wire.CNAME] if qtype == wire.ANY else [qtype]
        for t in types:
            answers += self.records.get((name, t), [])
        additional: list[wire.Record] = []
        for r in answers:
            if r.rtype == wire.SRV:
                additional += self.records.get((r.data[3], wire.A), [])  # type: ignore[index]
        return wire.NOERROR, answers, additional

    def _pod_ip(self, name: str) -> str | None:
        suffix = f".pod.{self.domain}"
        if not name.endswith(suffix):
            return None
        parts = name[: -len(suffix)].split(".")
        if len(parts) != 2:
            return None
        try:
            ip = parts[0].replace("-", ".")
            wire.packed_ip(ip, socket.AF_INET)
            return ip
        except ValueError:
            return None


def build_zone(services: Iterable[Obj], slices: Iterable[Obj], domain: str = "cluster.local",
               address_for: Callable[[str], str] = lambda ip: ip, serial: int = 1) -> Zone:  # noqa: F821
    """The whole zone from the cluster's Services and EndpointSlices.

    ``address_for`` maps a ClusterIP to the address clients should use (the
    local provider's userspace proxy serves ``10.96.A.B`` at ``127.S.A.B``, in its cluster's block).
    """
    zone = Zone(domain=domain, serial=serial)
    for base in (domain, f"svc.{domain}", f"pod.{domain}"):
        zone._exists(base)
    by_svc: dict[tuple[str, str], list[Obj]] = {}
    for s in slices:
        m = s.get("metadata") or {}
        svc = (m.get("labels") or {}).get(SERVICE_NAME_LABEL)
        if svc and s.get("addressType", "IPv4") == "IPv4":
            by_svc.setdefault((m.get("namespace") or "default", svc), []).append(s)
    for svc in services:
        m, spec = svc.get("metadata") or {}, svc.get("spec") or {}
        ns, name = m.get("namespace") or "default", m.get("name")
        if not name:
            continue
        fqdn = f"{name}.{ns}.svc.{domain}"
        zone._exists(f"{ns}.pod.{domain}")
        if spec.get("type") == "ExternalName":
            if spec.get("externalName"):
                zone.add(fqdn, wire.CNAME, spec["externalName"].rstrip(".").lower())
            continue
        ip = spec.get("clusterIP")
        if ip and ip != "None":
            addr = address_for(ip)
            zone.add(fqdn, wire.A, addr)
            zone.add(reverse_name(ip), wire.PTR, fqdn)
            for p in spec.get("ports") or []:
                if p.get("name"):
                    srv = f"_{p['name']}._{(p.get('protocol') or 'TCP').lower()}.{fqdn}"
                    zone.add(srv, wire.SRV, (0, 100, int(p["port"]), fqdn))
            continue
        _headless(zone, fqdn, spec, by_svc.get((ns, name), []))
    return zone


def _headless(zone: Zone, fqdn: str, spec: Obj, slices: list[Obj]) -> None:
    """A headless Service: records for its ready endpoints (all of them with publishNotReadyAddresses)."""
    publish = bool(spec.get("publishNotReadyAddresses"))
    hosts: dict[str, str] = {}                 # ip -> host fqdn
    ports: dict[tuple[str, str], int] = {}     # (port name, protocol) -> port
    for s in slices:
        for p in s.get("ports") or []:
            if p.get("name") and p.get("port"):
                ports[(p["name"], (p.get("protocol") or "TCP").lower())] = int(p["port"])
        for e in s.get("endpoints") or []:
            if not publish and (e.get("conditions") or {}).get("ready") is False:
                continue
            for ip in (e.get("addresses") or [])[:1]:
                hosts[ip] = f"{(e.get('hostname') or dashed(ip)).lower()}.{fqdn}"
    if not hosts:
        return                                 # no ready endpoint: the name does not exist (NXDOMAIN)
    weight = 100 // len(hosts)
    for ip, host in sorted(hosts.items()):
        zone.add(fqdn, wire.A, ip)
        zone.add(host, wire.A, ip)
        zone.add(reverse_name(ip), wire.PTR, host)
        for (pname, proto), port in sorted(ports.items()):
            zone.add(f"_{pname}._{proto}.{fqdn}", wire.SRV, (0, weight, port, host))
