"""What NetworkPolicies mean, shared by the API server, the control plane's views and the TUI (pure).

Upstream's semantics (``k8s.io/api/networking/v1`` types, the network-policies
concept page): a policy selects pods of its own namespace (``podSelector``,
empty = all); a pod selected by some policy with ``Ingress`` (``Egress``) in
``policyTypes`` is *isolated* for that direction. Which nodes can enforce
them at all is kubetui's own fact: local and simulated nodes cannot.
"""

from __future__ import annotations

from typing import Any

from kubetui.api.validation.meta import selector_matches

Obj = dict[str, Any]

#: ``containerRuntimeVersion`` prefixes of nodes whose pods have no network namespace to filter
UNENFORCING_RUNTIMES = ("kubetui-process://", "simulated://")


def isolating_policies(policies: list[Obj], pod: Obj, direction: str = "ingress") -> list[Obj]:
    """The policies of the pod's namespace that select it for ``direction`` (it is isolated if any)."""
    ptype = "Ingress" if direction == "ingress" else "Egress"
    md = pod.get("metadata") or {}
    ns, labels = md.get("namespace") or "default", md.get("labels") or {}
    return [p for p in policies if ((p.get("metadata") or {}).get("namespace") or "default") == ns
            and ptype in ((p.get("spec") or {}).get("policyTypes") or [])
            and selector_matches((p.get("spec") or {}).get("podSelector") or {}, labels)]


def unenforcing_nodes(nodes: list[Obj]) -> list[str]:
    """Names of the nodes no NetworkPolicy can be enforced on (local and simulated ones)."""
    out = []
    for n in nodes:
        runtime = ((n.get("status") or {}).get("nodeInfo") or {}).get("containerRuntimeVersion") or ""
        if runtime.startswith(UNENFORCING_RUNTIMES):
            out.append(n["metadata"]["name"])
    return sorted(out)


def not_enforced_warning(names: list[str]) -> str:
    """What the API server answers (``Warning:``) and the TUI shows when such nodes exist."""
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return (f"NetworkPolicy is not enforced on node{'s' if len(names) > 1 else ''} {shown}: local and "
            f"simulated nodes run pods without a network namespace of their own, so kubetui cannot filter "
            f"their traffic; the policy is stored, and enforced only on Docker nodes")
