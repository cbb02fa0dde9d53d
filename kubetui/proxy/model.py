"""kube-proxy's view of the cluster: service ports and their endpoints.

Upstream: ``pkg/proxy/serviceport.go`` (``BaseServicePortInfo``),
``pkg/proxy/endpoint.go`` (``BaseEndpointInfo``), ``pkg/proxy/endpointslicecache.go``
(merging a Service's EndpointSlices into one sorted endpoint list per port) and
``pkg/proxy/topology.go`` (``CategorizeEndpoints``: which endpoints each
traffic policy may use). Pure functions over Kubernetes objects (plain dicts),
shared by the iptables rules, the userspace proxy and the load-balancer listener.

Standard library only: this runs inside the node.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Iterable

Obj = dict[str, Any]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
DEFAULT_STICKY_SECONDS = 10800  # upstream's default sessionAffinityConfig.clientIP.timeoutSeconds


@dataclass(frozen=True)
class Endpoint:
    """One backend of one service port (upstream ``BaseEndpointInfo``)."""

    ip: str
    port: int
    node_name: str = ""
    ready: bool = True
    serving: bool = True
    terminating: bool = False
    # "namespace/name" of the pod behind it, when the slice says (for the TUI)
    pod: str = ""

    def __str__(self) -> str:
        """``10.244.1.5:8080`` (``[fd00::5]:8080`` for IPv6), as ``net.JoinHostPort``."""
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"

    def is_local(self, node_name: str) -> bool:
        return bool(node_name) and self.node_name == node_name


@dataclass(frozen=True)
class ServicePort:
    """One port of one Service, what kube-proxy programs (upstream ``BaseServicePortInfo``)."""

    namespace: str
    name: str
    port_name: str
    protocol: str            # "TCP", "UDP", "SCTP"
    cluster_ip: str
    port: int
    node_port: int = 0
    session_affinity: bool = False
    sticky_seconds: int = DEFAULT_STICKY_SECONDS
    external_policy_local: bool = False
    internal_policy_local: bool = False
    external_ips: tuple[str, ...] = ()
    load_balancer_vips: tuple[str, ...] = ()
    load_balancer_source_ranges: tuple[str, ...] = ()
    health_check_node_port: int = 0
    service_type: str = "ClusterIP"
    target_port: Any = None

    @property
    def name_string(self) -> str:
        """``default/web:http`` (``default/web`` for an unnamed port): upstream ``ServicePortName.String()``."""
        base = f"{self.namespace}/{self.name}"
        return f"{base}:{self.port_name}" if self.port_name else base

    @property
    def externally_accessible(self) -> bool:
        return bool(self.node_port or self.load_balancer_vips or self.external_ips)

    @property
    def uses_cluster_endpoints(self) -> bool:
        # Even with externalTrafficPolicy: Local, Cluster endpoints are needed to short-circuit pod traffic.
        return not self.internal_policy_local or self.externally_accessible

    @property
    def uses_local_endpoints(self) -> bool:
        return self.internal_policy_local or (self.external_policy_local and self.externally_accessible)


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def is_proxied(svc: Obj) -> bool:
    """kube-proxy skips headless Services (``clusterIP: None``) and ExternalName ones (upstream ``ShouldSkipService``)."""
    spec = svc.get("spec") or {}
    ip = spec.get("clusterIP")
    return bool(ip) and ip != "None" and spec.get("type") != "ExternalName"


def service_ports(svc: Obj) -> list[ServicePort]:
    """The service ports kube-proxy programs for one Service (IPv4 only)."""
    if not is_proxied(svc):
        return []
    spec = svc.get("spec") or {}
    ip = spec["clusterIP"]
    if ipaddress.ip_address(ip).version != 4:
        return []
    affinity = spec.get("sessionAffinity") == "ClientIP"
    sticky = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
    lb_vips = tuple(
        i["ip"] for i in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        # ipMode Proxy (KEP-1860): the load balancer proxies to the nodes, so the VIP is not captured here.
        if i.get("ip") and i.get("ipMode", "VIP") == "VIP"
    ) if spec.get("type") == "LoadBalancer" else ()
    externally = spec.get("type") in ("NodePort", "LoadBalancer") or spec.get("externalIPs") or lb_vips
    out = []
    for p in spec.get("ports") or []:
        out.append(ServicePort(
            namespace=_meta(svc).get("namespace") or "default", name=_meta(svc).get("name") or "",
            port_name=p.get("name") or "", protocol=(p.get("protocol") or "TCP").upper(),
            cluster_ip=ip, port=int(p["port"]), node_port=int(p.get("nodePort") or 0),
            session_affinity=affinity, sticky_seconds=int(sticky or DEFAULT_STICKY_SECONDS),
            external_policy_local=bool(externally) and spec.get("externalTrafficPolicy") == "Local",
            internal_policy_local=spec.get("internalTrafficPolicy") == "Local",
            external_ips=tuple(spec.get("externalIPs") or ()), load_balancer_vips=lb_vips,
            load_balancer_source_ranges=tuple(spec.get("loadBalancerSourceRanges") or ()) if lb_vips else (),
            health_check_node_port=int(spec.get("healthCheckNodePort") or 0)
            if spec.get("externalTrafficPolicy") == "Local" else 0,
            service_type=spec.get("type") or "ClusterIP", target_port=p.get("targetPort")))
    return out


def slices_by_service(slices: Iterable[Obj]) -> dict[tuple[str, str], list[Obj]]:
    """EndpointSlices grouped by the Service they belong to (label ``kubernetes.io/service-name``)."""
    out: dict[tuple[str, str], list[Obj]] = {}
    for s in slices:
        svc = (_meta(s).get("labels") or {}).get(SERVICE_NAME_LABEL)
        if svc:
            out.setdefault((_meta(s).get("namespace") or "default", svc), []).append(s)
    return out


def endpoints_for(sp: ServicePort, slices: Iterable[Obj]) -> list[Endpoint]:
    """All endpoints of one service port from its Service's slices, deduplicated and sorted as upstream.

    A slice port matches by name (and protocol); its number is where traffic
    goes, so a named ``targetPort`` resolves per pod. Missing conditions count
    as upstream reads them: ready and serving unless said otherwise.
    """
    found: dict[str, Endpoint] = {}
    for s in slices:
        if s.get("addressType", "IPv4") != "IPv4":
            continue
        for p in s.get("ports") or []:
            if (p.get("name") or "") != sp.port_name or (p.get("protocol") or "TCP").upper() != sp.protocol:
                continue
            if not p.get("port"):
                continue
            for e in s.get("endpoints") or []:
                cond = e.get("conditions") or {}
                ready = cond.get("ready") is not False
                ref = e.get("targetRef") or {}
                for addr in (e.get("addresses") or [])[:1]:   # upstream uses the first address only
                    ep = Endpoint(ip=addr, port=int(p["port"]), node_name=e.get("nodeName") or "",
                                  ready=ready, serving=cond.get("serving", ready) is not False,
                                  terminating=cond.get("terminating") is True,
                                  pod=f"{ref.get('namespace')}/{ref.get('name')}" if ref.get("name") else "")
                    found.setdefault(str(ep), ep)
    return sorted(found.values(), key=str)


@dataclass
class Categorized:
    cluster: list[Endpoint] = field(default_factory=list)
    local: list[Endpoint] = field(default_factory=list)
    all_reachable: list[Endpoint] = field(default_factory=list)
    has_any: bool = False


def categorize(endpoints: list[Endpoint], sp: ServicePort, node_name: str) -> Categorized:
    """Which endpoints Cluster and Local traffic policy use (upstream ``CategorizeEndpoints``, no topology hints).

    "Usable" means ready; if no endpoint is ready, serving-and-terminating ones
    are used instead, so a rolling update never drops connections that a
    terminating pod could still answer.
    """
    c = Categorized()
    if sp.uses_cluster_endpoints:
        c.cluster = [e for e in endpoints if e.ready]
        if not c.cluster:
            c.cluster = [e for e in endpoints if e.serving and e.terminating]
        c.has_any = bool(c.cluster)
    if not sp.uses_local_endpoints:
        c.all_reachable = c.cluster
        return c
    local_ready = local_st = False
    for e in endpoints:
        if e.ready:
            c.has_any = True
            local_ready = local_ready or e.is_local(node_name)
        elif e.serving and e.terminating:
            c.has_any = True
            local_st = local_st or e.is_local(node_name)
    serving_terminating = False
    if local_ready:
        c.local = [e for e in endpoints if e.is_local(node_name) and e.ready]
    elif local_st:
        serving_terminating = True
        c.local = [e for e in endpoints if e.is_local(node_name) and e.serving and e.terminating]
    if not sp.uses_cluster_endpoints:
        c.all_reachable = c.local
    elif not serving_terminating:
        c.all_reachable = c.cluster
    else:
        merged = {str(e): e for e in c.cluster + c.local}
        c.all_reachable = sorted(merged.values(), key=str)
    return c
