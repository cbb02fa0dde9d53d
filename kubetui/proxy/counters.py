"""Per-endpoint traffic counts: which replica answered, for the TUI's load-balancing view.

Upstream kube-proxy exports no per-endpoint numbers, but the kernel keeps a
packet counter on every iptables rule; in the nat table only the first packet
of a connection is seen, so the counter of a KUBE-SEP chain's DNAT rule is the
number of connections sent to that endpoint (``iptables -t nat -L KUBE-SEP-… -v -x -n``
shows the same number). The userspace proxy counts connections itself.

Both modes produce the same document, served by kube-proxy at
``GET /traffic`` on its metrics port (10249)::

    {"kind": "ProxyTraffic", "node": "node-1", "mode": "iptables",
     "services": {"default/web:http": {
         "10.244.1.5:8080": {"connections": 103, "pod": "default/web-7c9d-x2x", "node": "node-1",
                             "active": true, "chain": "KUBE-SEP-AFGSLHOD2HFNCBX4"}}}}
"""

from __future__ import annotations

from typing import Any

from kubetui.proxy.iptables import parse_counters
from kubetui.proxy.rules import EndpointChain


def iptables_traffic(saved_nat_with_counters: str, endpoints: dict[str, EndpointChain]) -> dict[str, dict[str, Any]]:
    """Connections per endpoint from ``iptables-save -c -t nat`` and the chains the last sync wrote."""
    counts = parse_counters(saved_nat_with_counters)
    out: dict[str, dict[str, Any]] = {}
    for chain, info in sorted(endpoints.items(), key=lambda kv: (kv[1].service, kv[1].endpoint)):
        pkts, _ = counts.get(chain, (0, 0))
        out.setdefault(info.service, {})[info.endpoint] = {
            "connections": pkts, "pod": info.pod, "node": info.node_name, "active": True, "chain": chain}
    return out


def traffic_document(node: str, mode: str, services: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {"kind": "ProxyTraffic", "node": node, "mode": mode, "services": services}


def merge(documents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Cluster-wide view: add up every node's counts per service and endpoint (for the API server / TUI)."""
    total: dict[str, dict[str, Any]] = {}
    for doc in documents:
        for svc, eps in (doc.get("services") or {}).items():
            for ep, v in eps.items():
                t = total.setdefault(svc, {}).setdefault(ep, {"connections": 0, "pod": v.get("pod", ""),
                                                              "node": v.get("node", ""), "active": False})
                t["connections"] += int(v.get("connections") or 0)
                t["active"] = t["active"] or bool(v.get("active"))
    return total
