"""Per-endpoint traffic counts: which replica answered, for the TUI's load-balancing view.

Upstream kube-proxy exports no per-endpoint numbers, but the kernel keeps a
packet counter on every iptables rule; in the nat table only the first packet
of a connection is seen, so the counter of a KUBE-SEP chain's DNAT rule is the
number of connections sent to that endpoint (``iptables -t nat -L KUBE-SEP-… -v -x -n``
shows the same number). The userspace proxy counts connections itself.

A connection counted is not a connection served: a Service whose
``targetPort`` nothing listens on (``kubectl expose deployment web --port 80``
for an app on 8080) has its connections DNAT'd, counted, and refused. So each
kube-proxy also knocks on its own node's endpoints (``probe_local``: a TCP
connect to ``ip:port``, nothing sent) and says whether they accept.

Both modes produce the same document, served by kube-proxy at
``GET /traffic`` on its metrics port (10249)::

    {"kind": "ProxyTraffic", "node": "node-1", "mode": "iptables",
     "services": {"default/web:http": {
         "10.244.1.5:8080": {"connections": 103, "pod": "default/web-7c9d-x2x", "node": "node-1",
                             "active": true, "chain": "KUBE-SEP-AFGSLHOD2HFNCBX4", "probe": "open"}}}}

``probe`` is ``open`` (accepts connections), ``refused`` (nothing listens on the
port), ``timeout`` or ``unreachable``; only the endpoint's own node sets it.
"""

from __future__ import annotations

import socket
import time
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


def probe(address: str, timeout: float = 0.3) -> str:
    """Does ``ip:port`` accept a TCP connection? ``open``, ``refused``, ``timeout`` or ``unreachable``."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return "open"
    except ConnectionRefusedError:
        return "refused"
    except (socket.timeout, TimeoutError):
        return "timeout"
    except (OSError, ValueError):
        return "unreachable"


def probe_local(services: dict[str, dict[str, Any]], node: str, *, budget: float = 2.0,
                timeout: float = 0.3) -> None:
    """Set ``probe`` on the endpoints of ``node`` (each endpoint once; at most ``budget`` seconds in all)."""
    deadline = time.monotonic() + budget
    seen: dict[str, str] = {}
    for eps in services.values():
        for address, ep in eps.items():
            if ep.get("node") != node or not ep.get("active", True):
                continue
            if address not in seen:
                if time.monotonic() > deadline:
                    return
                seen[address] = probe(address, timeout)
            ep["probe"] = seen[address]


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
                if v.get("probe"):  # only the endpoint's own node probes it
                    t["probe"] = v["probe"]
    return total
