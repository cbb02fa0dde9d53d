"""The provider interface (upstream: kind's ``pkg/cluster/internal/providers/provider.go``).

Cluster logic (``kubetui.cluster``) depends only on this small interface; a
node is a thin handle. The control plane creates each node's identity (name,
bearer token) and tells the provider how nodes reach the API server.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from kubetui.timings import LAB, Timings


@dataclass
class NodeConfig:
    """Everything a node needs to join the cluster."""

    name: str
    # How this node's kubelet reaches the API server (https://HOST:PORT) ...
    api_url: str
    # ... its own bearer token (user system:node:<name>) ...
    token: str
    # ... and the cluster CA (PEM) to trust.
    ca_pem: str
    timings: Timings = LAB
    # Capacity: real limits for Docker nodes (--node-cpus/--node-memory), advertised for simulated ones.
    cpus: float = 2.0
    memory: str = "2Gi"
    max_pods: int = 110
    labels: dict[str, str] = field(default_factory=dict)
    # podCIDR given by the control plane's node IPAM (e.g. 10.244.1.0/24)
    pod_cidr: str | None = None


@dataclass
class ClusterConfig:
    name: str
    state_dir: Path
    nodes: int = 3
    node_cpus: float = 2.0
    node_memory: str = "2Gi"
    timings: Timings = LAB


@dataclass
class NodeHandle:
    """A running node as the provider sees it (kind's ``nodes.Node``)."""

    name: str
    provider: str
    address: str | None = None
    status: str = "unknown"     # running / stopped / paused / missing
    details: dict[str, Any] = field(default_factory=dict)


class Provider(ABC):
    """Brings nodes up and down. Implementations: docker, local, simulated."""

    name: str = "?"

    #: one sentence shown to the user, e.g. "nodes are Docker containers"
    description: str = ""

    def __init__(self, cluster: ClusterConfig) -> None:
        self.cluster = cluster

    async def prepare(self) -> list[str]:
        """Create what nodes need before the API server starts (e.g. the Docker network).

        Returns extra addresses the API server must listen on so nodes can
        reach it (e.g. the Docker network's gateway), besides 127.0.0.1.
        """
        return []

    def api_host_for_nodes(self) -> str:
        """The host name/IP nodes use to reach the API server (put in the server cert)."""
        return "127.0.0.1"

    @abstractmethod
    async def start_node(self, node: NodeConfig) -> NodeHandle:
        """Start (or restart, or reuse) one node. Idempotent."""

    @abstractmethod
    async def stop_node(self, name: str) -> None:
        """Stop one node, keeping what `start_node` can restart."""

    @abstractmethod
    async def list_nodes(self) -> list[NodeHandle]:
        """The nodes this provider knows for the cluster (Docker: by label)."""

    @abstractmethod
    async def delete(self, purge: bool = False) -> None:
        """Remove every node (and networks); with ``purge`` also provider state on disk."""

    async def close(self) -> None:
        """Release resources held by this process (not the nodes themselves)."""


ProviderFactory = Callable[[ClusterConfig], Provider]
