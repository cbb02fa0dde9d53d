"""NetworkPolicies drawn on the traffic view, and ``kubectl describe networkpolicy``.

The traffic view answers "who may reach these pods, and what happened":
each NetworkPolicy that selects the Service's endpoint pods, its ingress
rules in words, how many connections each rule let in (its iptables rule's
packet counter on the pods' nodes), and how many the pods dropped because
no rule allowed them. A pod no policy selects is not isolated: everything
gets in, which the view says too.

``describe_network_policy`` is kubectl's describer (``describeNetworkPolicy``
in ``k8s.io/kubectl/pkg/describe/describe.go``), line for line.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from kubetui.api.networkpolicy import isolating_policies, not_enforced_warning, unenforcing_nodes
from kubetui.api.printers.common import format_label_selector

Obj = dict[str, Any]


def peer_words(peer: Obj) -> str:
    """One from/to peer, as a sentence fragment: ``pods app=web in namespaces project=x``."""
    if "ipBlock" in peer:
        b = peer["ipBlock"]
        out = f"IPs {b.get('cidr')}"
        return out + (f" except {', '.join(b['except'])}" if b.get("except") else "")
    pods = format_label_selector(peer.get("podSelector"))
    pod_part = f"pods {pods}" if peer.get("podSelector") and pods != "<none>" else "every pod"
    if peer.get("namespaceSelector") is None:
        return f"{pod_part} of this namespace"
    nss = format_label_selector(peer["namespaceSelector"])
    return f"{pod_part} in {'every namespace' if nss == '<none>' else 'namespaces ' + nss}"


def ports_words(ports: list[Obj] | None) -> str:
    if not ports:
        return "any port"
    out = []
    for p in ports:
        proto = p.get("protocol") or "TCP"
        if p.get("port") is None:
            out.append(f"{proto} any port")
        elif p.get("endPort"):
            out.append(f"{proto} {p['port']}-{p['endPort']}")
        else:
            out.append(f"{proto} {p['port']}")
    return ", ".join(out)


def rule_words(rule: Obj, direction: str) -> str:
    peers = rule.get("from" if direction == "ingress" else "to")
    who = "; ".join(peer_words(p) for p in peers) if peers else ("anyone" if direction == "ingress" else "anywhere")
    return f"{'from' if direction == 'ingress' else 'to'} {who} on {ports_words(rule.get('ports'))}"


def policy_table(pods: list[Obj], policies: list[Obj], counters: list[Obj], direction: str = "ingress",
                 nodes: list[Obj] | None = None) -> Table | Text:
    """Rows: each policy rule that can let connections reach ``pods`` (or leave them, for egress),
    with the connections it allowed, and one row for what the pods dropped. When some of the pods
    run on nodes that cannot enforce policies (local, simulated), it says so instead."""
    where = {(p.get("spec") or {}).get("nodeName") for p in pods}
    blind = [n for n in unenforcing_nodes(nodes or []) if n in where]
    if blind and any(isolating_policies(policies, pod, direction) for pod in pods):
        return Text(not_enforced_warning(blind), style="bold yellow")
    keys = {f"{p['metadata'].get('namespace')}/{p['metadata']['name']}" for p in pods}
    selecting: dict[str, Obj] = {}
    for pod in pods:
        for pol in isolating_policies(policies, pod, direction):
            selecting[f"{pol['metadata']['namespace']}/{pol['metadata']['name']}"] = pol
    if not selecting:
        return Text(f"No NetworkPolicy selects these pods for {direction}: they are not isolated, "
                    f"every connection {'in' if direction == 'ingress' else 'out'} is allowed.", style="dim")
    allowed: dict[tuple[str, int], int] = {}
    dropped = 0
    for r in counters:
        if r.get("pod") not in keys or r.get("direction") != direction:
            continue
        if r.get("action") == "allow":
            k = (r.get("policy") or "", int(r.get("rule", -1)))
            allowed[k] = allowed.get(k, 0) + int(r.get("packets") or 0)
        else:
            dropped += int(r.get("packets") or 0)
    table = Table(expand=True, title=f"NetworkPolicies ({direction})", title_justify="left")
    for col in ("POLICY", "RULE", "ALLOWS", "CONNECTIONS"):
        table.add_column(col)
    for name, pol in sorted(selecting.items()):
        rules = (pol.get("spec") or {}).get(direction) or []
        if not rules:
            table.add_row(name, "-", Text("nothing (isolates only)", style="yellow"), "")
        for i, rule in enumerate(rules):
            n = allowed.get((name, i), 0)
            table.add_row(name, f"{direction}[{i}]", rule_words(rule, direction), Text(str(n), style="green"))
    table.add_row(Text("dropped", style="bold red"), "", Text("no rule of these policies allowed it", style="red"),
                  Text(str(dropped), style="bold red" if dropped else "dim"))
    return table


# ------------------------------------------------------------------ kubectl describe networkpolicy

def _created_on(ts: str | None) -> str:
    """``metav1.Time``'s ``%s``: Go's ``time.Time.String()``, e.g. ``2026-12-07 21:00:00 +0000 UTC``."""
    if not ts:
        return "0001-01-01 00:00:00 +0000 UTC"
    return ts.replace("T", " ").rstrip("Z") + " +0000 UTC"


def _peer_lines(peers: list[Obj], word: str, indent: str) -> list[str]:
    out = []
    for peer in peers:
        out.append(f"{indent}{word}:")
        pod, ns, block = peer.get("podSelector"), peer.get("namespaceSelector"), peer.get("ipBlock")
        if pod is not None and ns is not None:
            out.append(f"  {indent}NamespaceSelector: {format_label_selector(ns)}")
            out.append(f"  {indent}PodSelector: {format_label_selector(pod)}")
        elif pod is not None:
            out.append(f"  {indent}PodSelector: {format_label_selector(pod)}")
        elif ns is not None:
            out.append(f"  {indent}NamespaceSelector: {format_label_selector(ns)}")
        elif block is not None:
            out.append(f"  {indent}IPBlock:")
            out.append(f"    {indent}CIDR: {block.get('cidr', '')}")
            out.append(f"    {indent}Except: {', '.join(block.get('except') or [])}")
    return out


def _rules_lines(rules: list[Obj], direction: str) -> list[str]:
    """``printNetworkPolicySpecIngressFrom`` / ``printNetworkPolicySpecEgressTo``."""
    indent = "    "
    if not rules:
        return [f"{indent}<none> (Selected pods are isolated for {direction} connectivity)"]
    out: list[str] = []
    for i, rule in enumerate(rules):
        ports = rule.get("ports") or []
        if not ports:
            out.append(f"{indent}To Port: <any> (traffic allowed to all ports)")
        for p in ports:
            proto = p.get("protocol") or "TCP"
            port = "<nil>" if p.get("port") is None else p["port"]
            if p.get("endPort") is None:
                out.append(f"{indent}To Port: {port}/{proto}")
            else:
                out.append(f"{indent}To Port Range: {port}-{p['endPort']}/{proto}")
        peers = rule.get("from" if direction == "ingress" else "to") or []
        if not peers:
            out.append(f"{indent}From: <any> (traffic not restricted by source)" if direction == "ingress"
                       else f"{indent}To: <any> (traffic not restricted by destination)")
        else:
            out += _peer_lines(peers, "From" if direction == "ingress" else "To", indent)
        if i != len(rules) - 1:
            out.append(f"{indent}----------")
    return out


def describe_network_policy(np: Obj, w: Any) -> None:
    """kubectl's ``describeNetworkPolicy``: the header, then ``describeNetworkPolicySpec``."""
    md, spec = np.get("metadata") or {}, np.get("spec") or {}
    w.kv("Name", md.get("name"), width=14)
    w.kv("Namespace", md.get("namespace"), width=14)
    w.kv("Created on", _created_on(md.get("creationTimestamp")), width=14)
    for key, title in (("labels", "Labels"), ("annotations", "Annotations")):
        items = sorted((md.get(key) or {}).items())
        w.kv(title, f"{items[0][0]}={items[0][1]}" if items else "<none>", width=14)
        for k, v in items[1:]:
            w.line(f"{'':<14}{k}={v}")
    w.line("Spec:")
    sel = spec.get("podSelector") or {}
    if not sel.get("matchLabels") and not sel.get("matchExpressions"):
        w.line("  PodSelector:     <none> (Allowing the specific traffic to all pods in this namespace)")
    else:
        w.line(f"  PodSelector:     {format_label_selector(sel)}")
    types = spec.get("policyTypes") or []
    for direction, ptype in (("ingress", "Ingress"), ("egress", "Egress")):
        if ptype in types:
            w.line(f"  Allowing {direction} traffic:")
            for line in _rules_lines(spec.get(direction) or [], direction):
                w.line(line)
        else:
            w.line(f"  Not affecting {direction} traffic")
    w.line(f"  Policy Types: {', '.join(types) or '<none>'}")
