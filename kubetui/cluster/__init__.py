"""Bringing a cluster up and down (kind's ``create cluster``; kubeadm's ``init`` and ``join``).

A kubetui cluster is a control plane in one process (store, API server,
scheduler, controller manager: ``controlplane``) plus worker nodes from a
provider (Docker containers, local processes, or simulated: ``lifecycle``).
Its settings, store, PKI and kubeconfig live in its state directory
(``settings``), so ``kubetui up`` is idempotent: it reuses what is there and
only starts what is missing. ``views`` serves kubetui's own read-only APIs.
"""

from kubetui.cluster.controlplane import ControlPlane
from kubetui.cluster.lifecycle import Cluster, wait_nodes_ready
from kubetui.cluster.settings import (
    DEFAULT_API_PORT, SETTINGS_FILE, ClusterSettings, default_provider, make_provider, node_names,
    settings_from_args,
)
from kubetui.client.views import DECISIONS_GROUP, NETWORKING_GROUP
from kubetui.cluster.views import _fetch_traffic, traffic

__all__ = [
    "Cluster", "ClusterSettings", "ControlPlane", "DECISIONS_GROUP", "DEFAULT_API_PORT",
    "NETWORKING_GROUP", "SETTINGS_FILE", "_fetch_traffic", "default_provider",
    "make_provider", "node_names",
    "settings_from_args", "traffic", "wait_nodes_ready",
]
