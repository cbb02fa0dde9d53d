"""Bringing a cluster up and down (kind's ``create cluster``; kubeadm's ``init`` and ``join``).

A kubetui cluster is a control plane in one process (store, API server,
scheduler, controller manager: ``controlplane``) plus worker nodes from a
provider (Docker containers, local processes, or simulated: ``lifecycle``).
Its settings, store, PKI and kubeconfig live in its state directory
(``settings``), so ``kubetui up`` is idempotent: it reuses what is there and
only starts what is missing. ``views`` serves kubetui's own read-only APIs.
"""

# Loaded on first use (PEP 562): a control-plane node container's supervisor (``kubetui.cluster.cpnode``)
# lives in this package and must start without importing the whole control plane.
_EXPORTS = {
    "ControlPlane": "kubetui.cluster.controlplane",
    "Cluster": "kubetui.cluster.lifecycle", "wait_nodes_ready": "kubetui.cluster.lifecycle",
    "DEFAULT_API_PORT": "kubetui.cluster.settings", "SETTINGS_FILE": "kubetui.cluster.settings",
    "ClusterSettings": "kubetui.cluster.settings", "default_provider": "kubetui.cluster.settings",
    "make_provider": "kubetui.cluster.settings", "node_names": "kubetui.cluster.settings",
    "settings_from_args": "kubetui.cluster.settings",
    "DECISIONS_GROUP": "kubetui.client.views", "NETWORKING_GROUP": "kubetui.client.views",
    "_fetch_traffic": "kubetui.cluster.views", "traffic": "kubetui.cluster.views",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kubetui.cluster' has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
