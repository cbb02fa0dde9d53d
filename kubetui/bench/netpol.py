"""``kubetui bench service``'s NetworkPolicy figure: a policy change -> enforced on every node.

The same SLI as upstream's network programming latency, for policies: the
time from the API server storing a NetworkPolicy change (the write's
response) to every node's policy agent (``kubetui.netpol``) having restored
its iptables rules for that version (its ``/applied`` lists the policy's new
resourceVersion). Each change alternates a deny-all policy's ingress rules,
so every node rewrites its chains each time.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

POLICY = "bench-netpol"


async def _applied(address: str) -> dict[str, str]:
    from kubetui.cluster import _fetch_traffic
    doc = await _fetch_traffic(address, "/applied", timeout=2.0)
    return doc.get("applied") or {}


def _spec(i: int) -> dict[str, Any]:
    rule = {"from": [{"podSelector": {"matchLabels": {"bench-round": str(i)}}}], "ports": [{"port": 8080}]}
    return {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"],
            "ingress": [rule] if i % 2 else []}


async def policy_propagation(cp, agents: list[str], changes: int, timeout: float = 30.0) -> list[float]:
    """Seconds from each policy write's response to its version applied on every node in ``agents``."""
    client = cp.client
    out: list[float] = []
    obj = await client.create("networkpolicies", {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                                                  "metadata": {"name": POLICY}, "spec": _spec(0)}, "default")
    try:
        for i in range(1, changes + 1):
            await asyncio.sleep(0.2)            # let the nodes settle between changes
            obj = await client.patch("networkpolicies", POLICY, {"spec": _spec(i)}, "default")
            written = time.monotonic()
            rv = obj["metadata"]["resourceVersion"]
            seen: dict[str, float] = {}
            deadline = written + timeout
            while len(seen) < len(agents):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"policy version {rv} not enforced on {sorted(set(agents) - set(seen))} "
                                       f"after {timeout:.0f} s")
                docs = await asyncio.gather(*(_applied(a) for a in agents if a not in seen))
                now = time.monotonic()
                for a, applied in zip([a for a in agents if a not in seen], docs):
                    if applied.get(f"default/{POLICY}") == rv:
                        seen[a] = now
                await asyncio.sleep(0.005)
            out.append(max(seen.values()) - written)
    finally:
        await client.delete("networkpolicies", POLICY, "default")
    return out
