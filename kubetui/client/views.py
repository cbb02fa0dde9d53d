"""kubetui's own API groups, as a client sees them (their paths and object shapes).

Upstream Kubernetes keeps no record of why the scheduler chose a node, which
replica answered which request, or how busy each control-plane component is;
kubetui does, because that is what a learner wants to see. The control plane
serves them beside Kubernetes' APIs, like aggregated APIs
(``kubetui/cluster/views.py``), so ``kubetui explain``, every TUI, the web UI
and ``kubectl get --raw`` read them the same way:

- ``scheduling.kubetui.dev``: the scheduler's decisions for a pod;
- ``networking.kubetui.dev``: connections per endpoint, from every kube-proxy
  and the LoadBalancer listeners.
"""

from __future__ import annotations

from typing import Any

DECISIONS_GROUP = "scheduling.kubetui.dev"
DECISIONS_VERSION = f"{DECISIONS_GROUP}/v1alpha1"
DECISIONS_KIND = "PodSchedulingDecisions"

NETWORKING_GROUP = "networking.kubetui.dev"
NETWORKING_VERSION = f"{NETWORKING_GROUP}/v1alpha1"


def decisions_path(namespace: str, name: str) -> str:
    """The URL path the API server serves a pod's decisions at."""
    return f"/apis/{DECISIONS_VERSION}/namespaces/{namespace}/decisions/{name}"


def decisions_object(namespace: str, name: str, attempts: list[dict[str, Any]]) -> dict[str, Any]:
    """The API object the decisions path returns."""
    return {"apiVersion": DECISIONS_VERSION, "kind": DECISIONS_KIND,
            "metadata": {"name": name, "namespace": namespace}, "attempts": attempts}


def traffic_path(namespace: str | None = None, service: str | None = None) -> str:
    """Every Service's traffic, or one Service's (``namespace`` and ``service`` given)."""
    if service is None:
        return f"/apis/{NETWORKING_VERSION}/traffic"
    return f"/apis/{NETWORKING_VERSION}/namespaces/{namespace}/services/{service}/traffic"
