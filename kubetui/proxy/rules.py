"""kube-proxy's iptables rules, as text for ``iptables-restore`` (pure functions).

Upstream: ``pkg/proxy/iptables/proxier.go`` (``syncProxyRules``,
``writeServiceToEndpointRules``, the chain-name hashes). The output is the
same chain layout a real node has, so ``iptables -t nat -S`` inside a kubetui
node reads like a kind node:

    PREROUTING/OUTPUT -> KUBE-SERVICES                       (every Service VIP)
      -d <clusterIP> --dport <port> -> KUBE-SVC-<hash>       (one per service port)
        -m statistic --mode random --probability 1/n -> KUBE-SEP-<hash>   (one per endpoint)
          -s <itself> -> KUBE-MARK-MASQ                      (hairpin: a pod calling itself)
          -j DNAT --to-destination <podIP>:<targetPort>
      -m addrtype --dst-type LOCAL -> KUBE-NODEPORTS -> KUBE-EXT-<hash> -> KUBE-SVC-<hash>
    POSTROUTING -> KUBE-POSTROUTING: MASQUERADE what KUBE-MARK-MASQ marked (0x4000)

Why the probabilities are 1/n, 1/(n-1), ... 1: the first rule takes 1/n of
new connections, the second 1/(n-1) of the rest, and so on, so each of the n
endpoints gets 1/n. A Service with no usable endpoint gets no nat chains at
all: a ``REJECT`` in the filter table's KUBE-SERVICES, so clients see
"connection refused" at once instead of a timeout.

Differences from upstream, all about features kubetui has no use for: no
topology hints, no nfacct counters, IPv4 only, and Services are written in
sorted order (upstream iterates a Go map, so its order varies per sync).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from dataclasses import dataclass, field
from typing import Iterable

from kubetui.proxy.model import Endpoint, ServicePort, categorize, endpoints_for, service_ports, slices_by_service

Obj = dict

KUBE_SERVICES = "KUBE-SERVICES"
KUBE_EXTERNAL_SERVICES = "KUBE-EXTERNAL-SERVICES"
KUBE_NODEPORTS = "KUBE-NODEPORTS"
KUBE_POSTROUTING = "KUBE-POSTROUTING"
KUBE_MARK_MASQ = "KUBE-MARK-MASQ"
KUBE_FORWARD = "KUBE-FORWARD"
KUBE_PROXY_FIREWALL = "KUBE-PROXY-FIREWALL"
KUBE_FIREWALL = "KUBE-FIREWALL"      # the kubelet's anti-martian chain, duplicated by kube-proxy
SERVICE_CHAIN_PREFIXES = ("KUBE-SVC-", "KUBE-SVL-", "KUBE-SEP-", "KUBE-FW-", "KUBE-EXT-")

# --masquerade-bit 14, formatted as upstream's fmt.Sprintf("%#08x", 1<<14)
MASQ_MARK = f"{1 << 14:#08x}"

# (table, chain kube-proxy owns, built-in chain that jumps to it, comment, extra match args):
# upstream's iptablesJumpChains, inserted at the top of the built-in chains with `iptables -I`.
JUMP_CHAINS: list[tuple[str, str, str, str, tuple[str, ...]]] = [
    ("filter", KUBE_EXTERNAL_SERVICES, "INPUT", "kubernetes externally-visible service portals",
     ("-m", "conntrack", "--ctstate", "NEW")),
    ("filter", KUBE_EXTERNAL_SERVICES, "FORWARD", "kubernetes externally-visible service portals",
     ("-m", "conntrack", "--ctstate", "NEW")),
    ("filter", KUBE_NODEPORTS, "INPUT", "kubernetes health check service ports", ()),
    ("filter", KUBE_SERVICES, "FORWARD", "kubernetes service portals", ("-m", "conntrack", "--ctstate", "NEW")),
    ("filter", KUBE_SERVICES, "OUTPUT", "kubernetes service portals", ("-m", "conntrack", "--ctstate", "NEW")),
    ("filter", KUBE_FORWARD, "FORWARD", "kubernetes forwarding rules", ()),
    ("filter", KUBE_PROXY_FIREWALL, "INPUT", "kubernetes load balancer firewall", ("-m", "conntrack", "--ctstate", "NEW")),
    ("filter", KUBE_PROXY_FIREWALL, "OUTPUT", "kubernetes load balancer firewall", ("-m", "conntrack", "--ctstate", "NEW")),
    ("filter", KUBE_PROXY_FIREWALL, "FORWARD", "kubernetes load balancer firewall", ("-m", "conntrack", "--ctstate", "NEW")),
    ("nat", KUBE_SERVICES, "OUTPUT", "kubernetes service portals", ()),
    ("nat", KUBE_SERVICES, "PREROUTING", "kubernetes service portals", ()),
    ("nat", KUBE_POSTROUTING, "POSTROUTING", "kubernetes postrouting rules", ()),
    # the kubelet's own jumps (iptablesKubeletJumpChains), no comment
    ("filter", KUBE_FIREWALL, "INPUT", "", ()),
    ("filter", KUBE_FIREWALL, "OUTPUT", "", ()),
]


def jump_rule_args(extra: tuple[str, ...], comment: str, target: str) -> list[str]:
    """The argv of one jump rule (``-m comment`` only when there is a comment), as upstream builds it."""
    args = list(extra)
    if comment:
        args += ["-m", "comment", "--comment", comment]
    return args + ["-j", target]


def port_proto_hash(svc_port_name: str, protocol: str) -> str:
    """First 16 characters of base32(sha256(name + protocol)): iptables chain names must stay <= 28 chars.

    ``port_proto_hash("default/kubernetes:https", "tcp")`` is ``NPX46M4PTMTKRN6Y``,
    the same chain every cluster's ``kubernetes`` Service has.
    """
    digest = hashlib.sha256((svc_port_name + protocol).encode()).digest()
    return base64.b32encode(digest).decode()[:16]


def service_chain(svc_port_name: str, protocol: str) -> str:
    return "KUBE-SVC-" + port_proto_hash(svc_port_name, protocol)


def local_chain(svc_port_name: str, protocol: str) -> str:
    return "KUBE-SVL-" + port_proto_hash(svc_port_name, protocol)


def external_chain(svc_port_name: str, protocol: str) -> str:
    return "KUBE-EXT-" + port_proto_hash(svc_port_name, protocol)


def firewall_chain(svc_port_name: str, protocol: str) -> str:
    return "KUBE-FW-" + port_proto_hash(svc_port_name, protocol)


def endpoint_chain(svc_port_name: str, protocol: str, endpoint: str) -> str:
    """``KUBE-SEP-`` + hash of service port name, protocol and ``ip:port``."""
    digest = hashlib.sha256((svc_port_name + protocol + endpoint).encode()).digest()
    return "KUBE-SEP-" + base64.b32encode(digest).decode()[:16]


def probability(n: int) -> str:
    """``1/n`` as upstream writes it (``%0.10f``); iptables-save prints it back as ``%.11f``
    of the kernel's 32-bit fixed point, e.g. ``0.3333333333`` -> ``0.33333333349``."""
    return f"{1.0 / n:0.10f}"


def is_service_chain(chain: str) -> bool:
    return chain.startswith(SERVICE_CHAIN_PREFIXES)


@dataclass
class ProxyConfig:
    """The kube-proxy flags that shape the rules."""

    node_name: str = ""
    node_ip: str = ""
    cluster_cidr: str = "10.244.0.0/16"     # --cluster-cidr: pods; traffic from elsewhere gets masqueraded
    masquerade_all: bool = False
    localhost_nodeports: bool = True        # --iptables-localhost-nodeports (upstream default on)
    conntrack_tcp_liberal: bool = False     # sysctl nf_conntrack_tcp_be_liberal; else INVALID is dropped
    random_fully: bool = True               # iptables supports MASQUERADE --random-fully


@dataclass
class EndpointChain:
    """What one KUBE-SEP chain stands for (the traffic view reads its packet counter)."""

    chain: str
    service: str        # "default/web:http"
    endpoint: str       # "10.244.1.5:8080"
    node_name: str = ""
    pod: str = ""


@dataclass
class RuleSet:
    text: str                                   # input for iptables-restore --noflush
    nat_chains: set[str] = field(default_factory=set)     # service chains in use
    endpoints: dict[str, EndpointChain] = field(default_factory=dict)


class _Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, *words: str) -> None:
        self.lines.append(" ".join(words))


def _q(text: str) -> str:
    return f'"{text}"'


def build_rules(services: Iterable[Obj], slices: Iterable[Obj], config: ProxyConfig,
                existing_nat_chains: Iterable[str] = (),
                counters: dict[str, tuple[int, int]] | None = None) -> RuleSet:
    """The whole iptables-restore input for one sync (filter then nat table), like ``syncProxyRules``.

    ``existing_nat_chains`` are the nat chains the node has now (from
    iptables-save): service chains no longer wanted are flushed and deleted.
    ``counters`` (KUBE-SEP chain -> packets, bytes, from ``iptables-save -c``)
    are written back onto the DNAT rules (``[p:b] -A ...``, restored with
    ``--counters``), so rewriting a chain does not reset its connection count.
    """
    counters = counters or {}
    by_svc = slices_by_service(slices)
    ports: list[tuple[ServicePort, list[Endpoint]]] = []
    for svc in services:
        m = svc.get("metadata") or {}
        for sp in service_ports(svc):
            ports.append((sp, endpoints_for(sp, by_svc.get((m.get("namespace") or "default", m.get("name")), []))))
    ports.sort(key=lambda t: (t[0].name_string, t[0].protocol))

    filter_chains, filter_rules, nat_chains, nat_rules = _Lines(), _Lines(), _Lines(), _Lines()
    for c in (KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_FORWARD, KUBE_NODEPORTS, KUBE_PROXY_FIREWALL):
        filter_chains.write(f":{c} - [0:0]")
    for c in (KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ):
        nat_chains.write(f":{c} - [0:0]")

    mark = f"{MASQ_MARK}/{MASQ_MARK}"
    nat_rules.write("-A", KUBE_POSTROUTING, "-m", "mark", "!", "--mark", mark, "-j", "RETURN")
    # Clear the mark so a packet that goes through the stack again is not masqueraded twice.
    nat_rules.write("-A", KUBE_POSTROUTING, "-j", "MARK", "--xor-mark", MASQ_MARK)
    masq = ["-A", KUBE_POSTROUTING, "-m", "comment", "--comment", _q("kubernetes service traffic requiring SNAT"),
            "-j", "MASQUERADE"]
    if config.random_fully:
        masq.append("--random-fully")
    nat_rules.write(*masq)
    nat_rules.write("-A", KUBE_MARK_MASQ, "-j", "MARK", "--or-mark", MASQ_MARK)
    if config.localhost_nodeports:
        # NodePorts on 127.0.0.1 need route_localnet, which would let others reach loopback: block that.
        filter_chains.write(f":{KUBE_FIREWALL} - [0:0]")
        filter_rules.write("-A", KUBE_FIREWALL, "-m", "comment", "--comment", _q("block incoming localnet connections"),
                           "-d", "127.0.0.0/8", "!", "-s", "127.0.0.0/8", "-m", "conntrack",
                           "!", "--ctstate", "RELATED,ESTABLISHED,DNAT", "-j", "DROP")

    not_local = ["!", "-s", config.cluster_cidr] if config.cluster_cidr else []
    is_local = ["-s", config.cluster_cidr] if config.cluster_cidr else []
    active: set[str] = set()
    sep_info: dict[str, EndpointChain] = {}

    for sp, eps in ports:
        proto = sp.protocol.lower()
        name = sp.name_string
        cat = categorize(eps, sp, config.node_name)
        svc_chain = service_chain(name, proto)
        svl_chain = local_chain(name, proto)
        ext_chain = external_chain(name, proto)
        fw_chain = firewall_chain(name, proto)
        sep = {str(e): endpoint_chain(name, proto, str(e)) for e in cat.all_reachable}

        uses_cluster_chain = bool(cat.cluster) and sp.uses_cluster_endpoints
        uses_local_chain = bool(cat.local) and sp.uses_local_endpoints
        internal_chain, has_internal = svc_chain, cat.has_any
        if sp.internal_policy_local:
            internal_chain, has_internal = svl_chain, bool(cat.local) and cat.has_any
        external_policy_chain, has_external = svc_chain, cat.has_any
        if sp.external_policy_local:
            external_policy_chain, has_external = svl_chain, bool(cat.local) and cat.has_any
        uses_ext_chain = cat.has_any and sp.externally_accessible
        lb_chain = ext_chain
        uses_fw = cat.has_any and bool(sp.load_balancer_vips) and bool(sp.load_balancer_source_ranges)
        if uses_fw:
            lb_chain = fw_chain

        int_target = int_comment = ext_target = ext_comment = ""
        if not cat.has_any:
            int_target = ext_target = "REJECT"
            int_comment = ext_comment = _q(f"{name} has no endpoints")
        else:
            if not has_internal:
                int_target, int_comment = "DROP", _q(f"{name} has no local endpoints")
            if not has_external:
                ext_target, ext_comment = "DROP", _q(f"{name} has no local endpoints")

        dport = str(sp.port)
        match = ["-m", proto, "-p", proto]
        if has_internal:
            nat_rules.write("-A", KUBE_SERVICES, "-m", "comment", "--comment", _q(f"{name} cluster IP"), *match,
                            "-d", sp.cluster_ip, "--dport", dport, "-j", internal_chain)
        else:
            filter_rules.write("-A", KUBE_SERVICES, "-m", "comment", "--comment", int_comment, *match,
                               "-d", sp.cluster_ip, "--dport", dport, "-j", int_target)
        for ip in sp.external_ips:
            if cat.has_any:
                nat_rules.write("-A", KUBE_SERVICES, "-m", "comment", "--comment", _q(f"{name} external IP"), *match,
                                "-d", ip, "--dport", dport, "-j", ext_chain)
            if not has_external:
                filter_rules.write("-A", KUBE_EXTERNAL_SERVICES, "-m", "comment", "--comment", ext_comment, *match,
                                   "-d", ip, "--dport", dport, "-j", ext_target)
        for ip in sp.load_balancer_vips:
            if cat.has_any:
                nat_rules.write("-A", KUBE_SERVICES, "-m", "comment", "--comment", _q(f"{name} loadbalancer IP"),
                                *match, "-d", ip, "--dport", dport, "-j", lb_chain)
            if uses_fw:
                filter_rules.write("-A", KUBE_PROXY_FIREWALL, "-m", "comment", "--comment",
                                   _q(f"{name} traffic not accepted by {fw_chain}"), *match,
                                   "-d", ip, "--dport", dport, "-j", "DROP")
        if not has_external:
            for ip in sp.load_balancer_vips:
                filter_rules.write("-A", KUBE_EXTERNAL_SERVICES, "-m", "comment", "--comment", ext_comment, *match,
                                   "-d", ip, "--dport", dport, "-j", ext_target)
        if sp.node_port:
            if cat.has_any:
                nat_rules.write("-A", KUBE_NODEPORTS, "-m", "comment", "--comment", name, *match,
                                "--dport", str(sp.node_port), "-j", ext_chain)
            if not has_external:
                filter_rules.write("-A", KUBE_EXTERNAL_SERVICES, "-m", "comment", "--comment", ext_comment,
                                   "-m", "addrtype", "--dst-type", "LOCAL", *match,
                                   "--dport", str(sp.node_port), "-j", ext_target)
        if sp.health_check_node_port:
            filter_rules.write("-A", KUBE_NODEPORTS, "-m", "comment", "--comment",
                               _q(f"{name} health check node port"), "-m", "tcp", "-p", "tcp",
                               "--dport", str(sp.health_check_node_port), "-j", "ACCEPT")

        if has_internal:
            args = ["-m", "comment", "--comment", _q(f"{name} cluster IP"), *match,
                    "-d", sp.cluster_ip, "--dport", dport]
            if config.masquerade_all:
                nat_rules.write("-A", internal_chain, *args, "-j", KUBE_MARK_MASQ)
            elif not_local:
                # Off-cluster traffic to a ClusterIP (e.g. from the node itself) may bounce to another
                # node: masquerade it so the reply comes back the same way.
                nat_rules.write("-A", internal_chain, *args, *not_local, "-j", KUBE_MARK_MASQ)

        if uses_ext_chain:
            nat_chains.write(f":{ext_chain} - [0:0]")
            active.add(ext_chain)
            if not sp.external_policy_local:
                nat_rules.write("-A", ext_chain, "-m", "comment", "--comment",
                                _q(f"masquerade traffic for {name} external destinations"), "-j", KUBE_MARK_MASQ)
            else:
                if is_local:
                    nat_rules.write("-A", ext_chain, "-m", "comment", "--comment",
                                    _q(f"pod traffic for {name} external destinations"), *is_local, "-j", svc_chain)
                nat_rules.write("-A", ext_chain, "-m", "comment", "--comment",
                                _q(f"masquerade LOCAL traffic for {name} external destinations"),
                                "-m", "addrtype", "--src-type", "LOCAL", "-j", KUBE_MARK_MASQ)
                nat_rules.write("-A", ext_chain, "-m", "comment", "--comment",
                                _q(f"route LOCAL traffic for {name} external destinations"),
                                "-m", "addrtype", "--src-type", "LOCAL", "-j", svc_chain)
            if has_external:
                nat_rules.write("-A", ext_chain, "-j", external_policy_chain)

        if uses_fw:
            nat_chains.write(f":{fw_chain} - [0:0]")
            active.add(fw_chain)
            head = ["-A", fw_chain, "-m", "comment", "--comment", _q(f"{name} loadbalancer IP")]
            allow_node = False
            for cidr in sp.load_balancer_source_ranges:
                nat_rules.write(*head, "-s", cidr, "-j", ext_chain)
                allow_node = allow_node or _contains(cidr, config.node_ip)
            if allow_node:
                for ip in sp.load_balancer_vips:
                    nat_rules.write(*head, "-s", ip, "-j", ext_chain)
            nat_rules.write("-A", fw_chain, "-m", "comment", "--comment",
                            _q(f"other traffic to {name} will be dropped by KUBE-PROXY-FIREWALL"))

        if uses_cluster_chain:
            nat_chains.write(f":{svc_chain} - [0:0]")
            active.add(svc_chain)
            _service_to_endpoints(nat_rules, name, proto, sp, svc_chain, cat.cluster)
        if uses_local_chain:
            nat_chains.write(f":{svl_chain} - [0:0]")
            active.add(svl_chain)
            _service_to_endpoints(nat_rules, name, proto, sp, svl_chain, cat.local)

        for ep in cat.all_reachable:
            chain = sep[str(ep)]
            nat_chains.write(f":{chain} - [0:0]")
            active.add(chain)
            sep_info[chain] = EndpointChain(chain, name, str(ep), ep.node_name, ep.pod)
            head = ["-A", chain, "-m", "comment", "--comment", name]
            # Hairpin: a pod reaching itself through the Service must be SNATed, or it would answer itself directly.
            nat_rules.write(*head, "-s", ep.ip, "-j", KUBE_MARK_MASQ)
            if sp.session_affinity:
                head += ["-m", "recent", "--name", chain, "--set"]
            carried = counters.get(chain)
            prefix = [f"[{carried[0]}:{carried[1]}]"] if carried else []
            nat_rules.write(*prefix, *head, *match, "-j", "DNAT", "--to-destination", str(ep))

    for chain in sorted(set(existing_nat_chains) - active):
        if is_service_chain(chain):
            nat_chains.write(f":{chain} - [0:0]")
            nat_rules.write("-X", chain)

    destinations = ["-m", "addrtype", "--dst-type", "LOCAL"]
    if not config.localhost_nodeports:
        destinations += ["!", "-d", "127.0.0.0/8"]
    nat_rules.write("-A", KUBE_SERVICES, "-m", "comment", "--comment",
                    _q("kubernetes service nodeports; NOTE: this must be the last rule in this chain"),
                    *destinations, "-j", KUBE_NODEPORTS)
    if not config.conntrack_tcp_liberal:
        filter_rules.write("-A", KUBE_FORWARD, "-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP")
    filter_rules.write("-A", KUBE_FORWARD, "-m", "comment", "--comment", _q("kubernetes forwarding rules"),
                       "-m", "mark", "--mark", mark, "-j", "ACCEPT")
    filter_rules.write("-A", KUBE_FORWARD, "-m", "comment", "--comment", _q("kubernetes forwarding conntrack rule"),
                       "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT")

    text = "\n".join(["*filter", *filter_chains.lines, *filter_rules.lines, "COMMIT",
                      "*nat", *nat_chains.lines, *nat_rules.lines, "COMMIT"]) + "\n"
    return RuleSet(text=text, nat_chains=active, endpoints=sep_info)


def _service_to_endpoints(out: _Lines, name: str, proto: str, sp: ServicePort, chain: str,
                          endpoints: list[Endpoint]) -> None:
    """Upstream ``writeServiceToEndpointRules``: affinity checks first, then the random spread."""
    if sp.session_affinity:
        for ep in endpoints:
            sep = endpoint_chain(name, proto, str(ep))
            # ClientIP affinity: a client seen within sticky_seconds goes back to the endpoint it had.
            out.write("-A", chain, "-m", "comment", "--comment", _q(f"{name} -> {ep}"),
                      "-m", "recent", "--name", sep, "--rcheck", "--seconds", str(sp.sticky_seconds), "--reap",
                      "-j", sep)
    n = len(endpoints)
    for i, ep in enumerate(endpoints):
        args = ["-A", chain, "-m", "comment", "--comment", _q(f"{name} -> {ep}")]
        if i < n - 1:
            args += ["-m", "statistic", "--mode", "random", "--probability", probability(n - i)]
        out.write(*args, "-j", endpoint_chain(name, proto, str(ep)))


def _contains(cidr: str, ip: str) -> bool:
    try:
        return bool(ip) and ipaddress.ip_address(ip) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def restore_chains(text: str) -> dict[str, set[str]]:
    """``{table: {chain, ...}}`` declared in an iptables-save/restore text (for stale-chain cleanup)."""
    out: dict[str, set[str]] = {}
    table = ""
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
            out.setdefault(table, set())
        elif line.startswith(":") and table:
            out[table].add(line[1:].split()[0])
    return out
