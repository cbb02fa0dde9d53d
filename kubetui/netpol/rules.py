"""NetworkPolicies as iptables rules for one node (pure: policies + pods + namespaces -> rules).

Kubernetes stores NetworkPolicies; the network plugin enforces them. This is
what kube-router's network-policy controller (``pkg/controllers/netpol``) and
Calico's Felix do, in their layout's spirit: every pod on this node that some
policy *isolates* gets a chain per direction, and each policy rule that
selects it becomes a rule chain that marks the packets it allows.

    FORWARD -> KUBETUI-NETPOL                           (first rule: before kube-proxy's ACCEPTs)
      ctstate RELATED,ESTABLISHED -> ACCEPT            (replies, and connections made before a policy)
      src-type LOCAL -> ACCEPT                         (the node itself: kubelet probes)
      -s <pod ip> -> KUBETUI-EGR-<pod>                 (only for pods isolated for egress)
      -d <pod ip> -> KUBETUI-ING-<pod>                 (only for pods isolated for ingress)
      -s/-d <podCIDR> -> KUBETUI-NEW-SRC/DST           (a starting pod not known yet: DROP)
    KUBETUI-ING-<pod>:
      clear the allow mark
      -s <pod ip> -> RETURN                            (a pod may always reach itself)
      -> KUBETUI-NPR-<rule>  (sets the mark if policy P's rule i allows the packet)
      mark set -> RETURN     comment "ns/P ingress[i]"  <- its packet counter: connections P allowed
      ...                                               (one pair per rule of every selecting policy)
      DROP                   comment "drop ns/pod ingress: ..." <- connections refused
    KUBETUI-NPR-<rule>:  -s <peer ip> [-p tcp --dport 80] -> MARK;  [ports] -> KUBETUI-NPB-<ipBlock>
    KUBETUI-NPB-<ipBlock>: -s <except> -> RETURN ... ; -s <cidr> -> MARK

Why this shape, in Kubernetes terms:

* A pod is *isolated* for ingress (egress) once any policy of its namespace
  selects it with ``Ingress`` (``Egress``) in ``policyTypes``; then only what
  some rule of some such policy allows gets in. Policies add up: the chain
  returns (allows) at the first rule that matches, and drops at the end.
* One packet between two pods is checked twice, in one pass of FORWARD:
  the sender's egress chain and the receiver's ingress chain each RETURN
  (allow) or DROP. On two nodes, egress is checked on the sender's node and
  ingress on the receiver's, each in its own FORWARD.
* Only a connection's first packet gets this far: conntrack accepts the
  rest (``RELATED,ESTABLISHED``), so the reply of an allowed connection is
  never dropped by the other direction's isolation, and the counters count
  connections. A connection already established when a policy is added
  keeps flowing, as with Calico and kube-router (upstream leaves it to the
  plugin).
* Traffic from the node to its own pods (the kubelet's probes) never goes
  through FORWARD; a packet sourced from one of the node's addresses that
  does (routed from the node's other interface) is accepted too, as upstream
  requires ("traffic from the node where a pod runs is always allowed").
* Service traffic is already DNATed to a pod IP (nat PREROUTING runs first),
  so policies see the real destination pod, as they must.
* A pod may always reach itself (upstream: "a pod cannot block access to
  itself"), through its own Service too.
* A pod is isolated "from the very first instant" (the docs' Pod lifecycle):
  while a policy exists, an address of this node's podCIDR that no known pod
  has yet (a pod starting, before its IP reaches the API) is dropped until the
  agent learns whose it is; the docs allow a new pod no connectivity at first.
* Named ports (``port: http``) are resolved against the pod that owns the
  port: the receiver for ingress, each peer pod for egress.

Differences from upstream plugins: IPv4 only; no ipsets (one rule per peer
pod: fine at a learning cluster's size); SCTP matched by protocol number
only; an egress rule with a named port and an ipBlock peer matches nothing
(a named port belongs to pods, Calico does the same).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from dataclasses import dataclass, field
from typing import Any, Iterable

Obj = dict[str, Any]

TOP_CHAIN = "KUBETUI-NETPOL"
CHAIN_PREFIX = "KUBETUI-"
OUR_CHAIN_PREFIXES = ("KUBETUI-NETPOL", "KUBETUI-ING-", "KUBETUI-EGR-", "KUBETUI-NPR-", "KUBETUI-NPB-",
                      "KUBETUI-NEW-")
NEW_SRC_CHAIN = "KUBETUI-NEW-SRC"
NEW_DST_CHAIN = "KUBETUI-NEW-DST"
#: the packet mark bit a rule chain sets when it allows a packet (kube-proxy uses 0x4000, Calico 0x10000)
ALLOW_MARK = "0x10000/0x10000"
CLEAR_MARK = "0x0/0x10000"


def _hash(*parts: str) -> str:
    digest = hashlib.sha256("\0".join(parts).encode()).digest()
    return base64.b32encode(digest).decode()[:16]


def pod_chain(direction: str, namespace: str, name: str) -> str:
    return ("KUBETUI-ING-" if direction == "ingress" else "KUBETUI-EGR-") + _hash(namespace, name)


def _q(text: str) -> str:
    return f'"{text}"'


def short(comment: str, limit: int = 250) -> str:
    """iptables comments hold at most 256 bytes: long ones keep a hash of the rest, so they stay unique."""
    if len(comment) <= limit:
        return comment
    return comment[:limit - 18] + "... " + _hash(comment)[:14]


# ---------------------------------------------------------------- selectors

def selector_matches(selector: Obj | None, labels: dict[str, str]) -> bool:
    """metav1.LabelSelectorAsSelector(selector).Matches(labels); an empty selector matches everything."""
    if selector is None:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        k, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        present = k in labels
        if op == "In" and not (present and labels[k] in values):
            return False
        if op == "NotIn" and present and labels[k] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


@dataclass(frozen=True)
class PodInfo:
    """What the rules need of a pod."""

    namespace: str
    name: str
    ip: str
    node: str
    labels: dict[str, str]
    ports: dict[str, tuple[int, str]]       # named container ports: name -> (number, protocol)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def pod_info(pod: Obj) -> PodInfo | None:
    """A pod policies can see: it has an IP of its own (not hostNetwork) and has not finished."""
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    ip = status.get("podIP")
    if not ip or spec.get("hostNetwork") or status.get("phase") in ("Succeeded", "Failed"):
        return None
    try:
        if ipaddress.ip_address(ip).version != 4:
            return None
    except ValueError:
        return None
    ports: dict[str, tuple[int, str]] = {}
    for c in spec.get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") and p.get("containerPort"):
                ports.setdefault(p["name"], (int(p["containerPort"]), p.get("protocol") or "TCP"))
    return PodInfo(meta.get("namespace") or "default", meta.get("name") or "", ip, spec.get("nodeName") or "",
                   dict(meta.get("labels") or {}), ports)


# ---------------------------------------------------------------- the decision, as data

@dataclass
class PolicyRuleRef:
    """One rule of one policy, as the traffic view names it: ``default/allow-web ingress[0]``."""

    policy: str          # "ns/name"
    direction: str       # "ingress" | "egress"
    index: int

    def __str__(self) -> str:
        return f"{self.policy} {self.direction}[{self.index}]"


@dataclass
class CountedRule:
    """A rule whose packet counter the traffic view reads: an allow (policy rule) or a pod's drop."""

    chain: str
    comment: str
    pod: str             # "ns/name" of the isolated pod
    direction: str
    action: str          # "allow" | "drop"
    policy: str = ""     # allow: "ns/name"; drop: "" (every isolating policy is in ``policies``)
    rule: int = -1
    policies: list[str] = field(default_factory=list)


@dataclass
class PolicyRules:
    text: str                                            # input for iptables-restore --noflush (filter table)
    chains: set[str] = field(default_factory=set)        # our chains in use
    counted: dict[tuple[str, str], CountedRule] = field(default_factory=dict)   # (chain, comment) -> rule
    isolated: dict[str, list[str]] = field(default_factory=dict)   # "ns/pod direction" -> policies


def _ports_for_rule(ports: list[Obj], owner: PodInfo | None) -> list[list[str]] | None:
    """iptables match args for each port entry; None if no entry can match (an unresolved named port)
    and ``[[]]`` (one empty match: any port) when the rule lists no ports."""
    if not ports:
        return [[]]
    out: list[list[str]] = []
    for p in ports:
        proto = (p.get("protocol") or "TCP").lower()
        port, end = p.get("port"), p.get("endPort")
        if port is None:
            out.append(["-p", proto])
        elif isinstance(port, int):
            dport = f"{port}:{end}" if end else str(port)
            out.append(["-p", proto, "-m", proto, "--dport", dport])
        else:
            resolved = owner.ports.get(port) if owner is not None else None
            if resolved and resolved[1].lower() == proto:
                out.append(["-p", proto, "-m", proto, "--dport", str(resolved[0])])
    return out or None


def _namespace_labels(namespaces: Iterable[Obj]) -> dict[str, dict[str, str]]:
    out = {}
    for ns in namespaces:
        meta = ns.get("metadata") or {}
        labels = dict(meta.get("labels") or {})
        # set by the API server on every namespace since 1.22: lets namespaceSelector name one namespace
        labels.setdefault("kubernetes.io/metadata.name", meta.get("name") or "")
        out[meta.get("name") or ""] = labels
    return out


def peer_pods(peer: Obj, policy_ns: str, pods: list[PodInfo], ns_labels: dict[str, dict[str, str]]) -> list[PodInfo]:
    """The pods a podSelector/namespaceSelector peer selects (both given: pods matching the first in
    namespaces matching the second; podSelector alone: the policy's own namespace)."""
    pod_sel, ns_sel = peer.get("podSelector"), peer.get("namespaceSelector")
    out = []
    for p in pods:
        if ns_sel is not None:
            if not selector_matches(ns_sel, ns_labels.get(p.namespace, {"kubernetes.io/metadata.name": p.namespace})):
                continue
        elif p.namespace != policy_ns:
            continue
        if pod_sel is not None and not selector_matches(pod_sel, p.labels):
            continue
        out.append(p)
    return sorted(out, key=lambda p: (p.ip, p.key))


def build_rules(policies: Iterable[Obj], pods: Iterable[Obj], namespaces: Iterable[Obj], node_name: str,
                counters: dict[tuple[str, str], tuple[int, int]] | None = None,
                existing_chains: Iterable[str] = (), pod_cidr: str | None = None) -> PolicyRules:
    """The filter-table restore input for ``node_name``'s pods (like kube-router's ``syncNetworkPolicyChains``).

    ``counters`` ((chain, comment) -> packets, bytes, from ``iptables-save -c``) are
    written back onto the counted rules so rewriting a chain keeps its counts;
    ``existing_chains`` are our chains the node has now: those no longer wanted
    are flushed and deleted.
    """
    counters = counters or {}
    pols = sorted(policies, key=lambda p: ((p.get("metadata") or {}).get("namespace") or "",
                                           (p.get("metadata") or {}).get("name") or ""))
    # Without a policy no pod is isolated and no peer is looked up: the pods are not even read (the
    # agent syncs on every pod change in the cluster, ~50 times a node in a burst of 100 pod starts).
    infos = sorted((i for i in (pod_info(p) for p in pods) if i is not None), key=lambda p: p.key) if pols else []
    ns_labels = _namespace_labels(namespaces)
    chains: list[str] = [TOP_CHAIN]
    rules: list[list[str]] = []
    out = PolicyRules(text="")

    def counted(chain: str, comment: str, *args: str) -> None:
        comment = short(comment)
        carried = counters.get((chain, comment))
        prefix = [f"[{carried[0]}:{carried[1]}]"] if carried else []
        rules.append([*prefix, "-A", chain, "-m", "comment", "--comment", _q(comment), *args])

    top: list[list[str]] = [
        ["-A", TOP_CHAIN, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"],
        ["-A", TOP_CHAIN, "-m", "comment", "--comment", _q("traffic from the node itself is always allowed"),
         "-m", "addrtype", "--src-type", "LOCAL", "-j", "ACCEPT"],
    ]
    block_chains: dict[str, list[list[str]]] = {}

    for pod in (p for p in infos if p.node == node_name):
        for direction in ("egress", "ingress"):
            ptype = "Ingress" if direction == "ingress" else "Egress"
            selecting = [pol for pol in pols
                         if ((pol.get("metadata") or {}).get("namespace") or "default") == pod.namespace
                         and ptype in ((pol.get("spec") or {}).get("policyTypes") or [])
                         and selector_matches((pol.get("spec") or {}).get("podSelector") or {}, pod.labels)]
            if not selecting:
                continue
            chain = pod_chain(direction, pod.namespace, pod.name)
            chains.append(chain)
            names = [f"{pod.namespace}/{pol['metadata']['name']}" for pol in selecting]
            out.isolated[f"{pod.key} {direction}"] = names
            match = "-s" if direction == "egress" else "-d"
            top.append(["-A", TOP_CHAIN, "-m", "comment", "--comment", _q(f"{pod.key} {direction} isolation"),
                        match, f"{pod.ip}/32", "-j", chain])
            rules.append(["-A", chain, "-j", "MARK", "--set-xmark", CLEAR_MARK])
            # "a pod cannot block access to itself" (e.g. reaching itself through its own Service)
            rules.append(["-A", chain, "-m", "comment", "--comment", _q("a pod may always reach itself"),
                          "-s" if direction == "ingress" else "-d", f"{pod.ip}/32", "-j", "RETURN"])
            for pol in selecting:
                pname = f"{pod.namespace}/{pol['metadata']['name']}"
                spec = pol.get("spec") or {}
                for i, rule in enumerate(spec.get(direction) or []):
                    rchain = "KUBETUI-NPR-" + _hash(pod.key, pname, direction, str(i))
                    lines = _rule_lines(rchain, rule, direction, pod, pod.namespace, infos, ns_labels, block_chains)
                    chains.append(rchain)
                    rules.extend(lines)
                    comment = short(f"{pname} {direction}[{i}] allows {pod.key}")
                    rules.append(["-A", chain, "-j", rchain])
                    counted(chain, comment, "-m", "mark", "--mark", ALLOW_MARK, "-j", "RETURN")
                    out.counted[(chain, comment)] = CountedRule(chain, comment, pod.key, direction, "allow",
                                                                pname, i, names)
            comment = short(f"drop {pod.key} {direction}: no rule of {', '.join(names)} allows it")
            counted(chain, comment, "-j", "DROP")
            out.counted[(chain, comment)] = CountedRule(chain, comment, pod.key, direction, "drop", "", -1, names)

    if pols and pod_cidr:
        # A pod the API has not shown with its IP yet (it is starting) may already be selected by a
        # policy: upstream requires isolation "from the very first instant", so until this agent knows
        # the address, traffic to and from it is dropped (the docs allow a new pod no connectivity at
        # first). Known pods of the node RETURN; only unknown addresses of the node's podCIDR drop.
        local_ips = sorted({p.ip for p in infos if p.node == node_name})
        for chain, flag, word in ((NEW_SRC_CHAIN, "-s", "from"), (NEW_DST_CHAIN, "-d", "to")):
            chains.append(chain)
            top.append(["-A", TOP_CHAIN, flag, pod_cidr, "-j", chain])
            rules.extend(["-A", chain, flag, f"{ip}/32", "-j", "RETURN"] for ip in local_ips)
            comment = short(f"drop traffic {word} a pod of {node_name} not known yet (starting)")
            counted(chain, comment, "-j", "DROP")
            out.counted[(chain, comment)] = CountedRule(chain, comment, "", "egress" if flag == "-s" else "ingress",
                                                        "drop")

    for bchain, lines in sorted(block_chains.items()):
        chains.append(bchain)
        rules.extend(lines)

    stale = sorted(c for c in set(existing_chains) - set(chains) if c.startswith(OUR_CHAIN_PREFIXES))
    decl = [f":{c} - [0:0]" for c in [*chains, *stale]]
    text_lines = ["*filter", *decl, *(" ".join(r) for r in top), *(" ".join(r) for r in rules)]
    # Stale chains: flushed (declared above), then deleted, once nothing jumps to them any more.
    text_lines += [f"-X {c}" for c in stale]
    out.text = "\n".join([*text_lines, "COMMIT"]) + "\n"
    out.chains = set(chains)
    return out


def _rule_lines(rchain: str, rule: Obj, direction: str, pod: PodInfo, policy_ns: str, pods: list[PodInfo],
                ns_labels: dict[str, dict[str, str]], block_chains: dict[str, list[list[str]]]) -> list[list[str]]:
    """The lines of one rule chain: every (peer, port) pair that is allowed sets the allow mark."""
    peers_key = "from" if direction == "ingress" else "to"
    addr = "-s" if direction == "ingress" else "-d"
    mark = ["-j", "MARK", "--set-xmark", ALLOW_MARK]
    lines: list[list[str]] = []
    ports = rule.get("ports") or []
    peers = rule.get(peers_key)
    if not peers:
        # no from/to: every source (ingress) or destination (egress), on the listed ports
        if direction == "ingress":
            for m in _ports_for_rule(ports, pod) or []:
                lines.append(["-A", rchain, *m, *mark])
        else:
            named = any(isinstance(p.get("port"), str) for p in ports)
            if not named:
                for m in _ports_for_rule(ports, None) or []:
                    lines.append(["-A", rchain, *m, *mark])
            else:
                for peer in pods:
                    for m in _ports_for_rule(ports, peer) or []:
                        lines.append(["-A", rchain, addr, f"{peer.ip}/32", *m, *mark])
        return lines
    for peer in peers:
        block = peer.get("ipBlock")
        if block is not None:
            cidr, excepts = block.get("cidr") or "", list(block.get("except") or [])
            bchain = "KUBETUI-NPB-" + _hash(direction, cidr, *excepts)
            block_chains[bchain] = [
                *(["-A", bchain, addr, e, "-j", "RETURN"] for e in excepts),
                ["-A", bchain, addr, cidr, *mark]]
            port_matches = _ports_for_rule(ports, pod if direction == "ingress" else None)
            for m in port_matches or []:
                lines.append(["-A", rchain, *m, "-j", bchain])
            continue
        for p in peer_pods(peer, policy_ns, pods, ns_labels):
            owner = pod if direction == "ingress" else p
            for m in _ports_for_rule(ports, owner) or []:
                lines.append(["-A", rchain, addr, f"{p.ip}/32", *m, *mark])
    return lines


def parse_counters(save_output: str) -> dict[tuple[str, str], tuple[int, int]]:
    """(chain, comment) -> (packets, bytes) of our commented rules, from ``iptables-save -c -t filter``.

    >>> parse_counters('[3:180] -A KUBETUI-ING-X -m mark --mark 0x10000/0x10000 -m comment --comment "a b" -j RETURN')
    {('KUBETUI-ING-X', 'a b'): (3, 180)}
    """
    out: dict[tuple[str, str], tuple[int, int]] = {}
    for line in save_output.splitlines():
        if not line.startswith("[") or " -A KUBETUI-" not in line or "--comment" not in line:
            continue
        counter, _, rule = line.partition("] ")
        try:
            pkts, byts = (int(x) for x in counter.lstrip("[").split(":"))
        except ValueError:
            continue
        chain = rule.split()[1]
        comment = _comment(rule)
        if comment:
            out[(chain, comment)] = (pkts, byts)
    return out


def _comment(rule: str) -> str:
    i = rule.find("--comment ")
    if i < 0:
        return ""
    rest = rule[i + len("--comment "):]
    if rest.startswith('"'):
        end = rest.find('"', 1)
        return rest[1:end] if end > 0 else rest[1:]
    return rest.split()[0]


def our_chains(save_output: str) -> set[str]:
    """Our chains declared in an ``iptables-save -t filter`` output."""
    return {line[1:].split()[0] for line in save_output.splitlines()
            if line.startswith(":") and line[1:].startswith(OUR_CHAIN_PREFIXES)}
