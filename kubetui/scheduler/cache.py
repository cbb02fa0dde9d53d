"""The scheduler's cache: NodeInfos kept up to date from watch events, plus *assumed* pods.

Upstream: ``pkg/scheduler/backend/cache`` (``cacheImpl``) and its snapshot.
Once the scheduler picks a node it does not wait for the API write: it
*assumes* the pod onto the node in its cache, so the next pod already sees
the room taken, and binds in the background. When the watch later shows the
pod bound, the assumption is confirmed; if binding fails it is forgotten.

Upstream copies a snapshot of the cache at the start of every cycle, because
its scheduling cycle runs concurrently with informer updates. kubetui's
scheduling cycle is one synchronous step of the event loop (nothing else
runs until it returns), so it reads the live NodeInfos and keeps them
incrementally up to date instead of copying 500 nodes per pod.
"""

from __future__ import annotations

import logging
from typing import Any

from kubetui.scheduler.framework import NodeInfo, PodInfo

log = logging.getLogger(__name__)


def _terminal(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


class SchedulerCache:
    """NodeInfos by name, the pods counted on them, and the volume and namespace objects plugins read."""

    def __init__(self) -> None:
        self.nodes: dict[str, NodeInfo] = {}
        # NodeInfos for nodes that exist (pods may briefly reference a node not seen yet)
        self._node_list: list[NodeInfo] | None = None
        self.pod_node: dict[str, str] = {}        # pod key -> node it is counted on
        self.assumed: set[str] = set()
        self.pvcs: dict[tuple[str, str], dict[str, Any]] = {}
        self.pvs: dict[str, dict[str, Any]] = {}
        self.storage_classes: dict[str, dict[str, Any]] = {}
        self.namespaces: dict[str, dict[str, Any]] = {}
        # Nodes running pods with inter-pod (anti-)affinity (upstream's snapshot keeps the same two
        # lists): most pods have none, so InterPodAffinity looks at these instead of every node.
        self._with_affinity: dict[str, NodeInfo] = {}
        self._with_required_anti_affinity: dict[str, NodeInfo] = {}

    # --- nodes -----------------------------------------------------------------------------

    def add_or_update_node(self, node: dict[str, Any]) -> NodeInfo:
        name = node["metadata"]["name"]
        ni = self.nodes.get(name)
        if ni is None:
            ni = NodeInfo(node)
            self.nodes[name] = ni
        else:
            was_real = bool(ni.node)
            ni.set_node(node)
            if was_real:
                return ni
        self._node_list = None
        return ni

    def remove_node(self, name: str) -> None:
        ni = self.nodes.get(name)
        if ni is None:
            return
        if ni.pods:
            # Keep counting its pods (they are being deleted) but stop offering the node.
            ni.node = {}
        else:
            del self.nodes[name]
        self._node_list = None

    def node_list(self) -> list[NodeInfo]:
        """The nodes to schedule onto, in the order they joined (the snapshot)."""
        if self._node_list is None:
            self._node_list = [ni for ni in self.nodes.values() if ni.node]
        return self._node_list

    # --- pods ------------------------------------------------------------------------------

    def assume_pod(self, pi: PodInfo, node_name: str) -> None:
        """Count the pod on ``node_name`` before the binding is written."""
        self._place(pi, node_name)
        self.assumed.add(pi.key)

    def forget_pod(self, key: str) -> None:
        """Binding failed: stop counting an assumed pod."""
        if key in self.assumed:
            self.assumed.discard(key)
            self._unplace(key)

    def is_assumed(self, key: str) -> bool:
        return key in self.assumed

    def add_or_update_pod(self, pod: dict[str, Any]) -> None:
        """A pod seen by the watch. Bound, non-terminal pods count on their node."""
        node_name = (pod.get("spec") or {}).get("nodeName")
        meta = pod.get("metadata") or {}
        key = f"{meta.get('namespace') or 'default'}/{meta.get('name')}"
        if not node_name or _terminal(pod):
            # Finished pods free their requests, as upstream's cache drops them.
            self.assumed.discard(key)
            self._unplace(key)
            return
        self.assumed.discard(key)     # confirmed by the API
        current = self.pod_node.get(key)
        if current == node_name:
            ni = self.nodes[node_name]
            old = ni.pods.get(key)
            if old is not None and old.pod is pod:
                return
        self._place(PodInfo(pod), node_name)

    def remove_pod(self, key: str) -> None:
        self.assumed.discard(key)
        self._unplace(key)

    def _place(self, pi: PodInfo, node_name: str) -> None:
        self._unplace(pi.key)
        ni = self.nodes.get(node_name)
        if ni is None:
            ni = NodeInfo()
            ni.name = node_name
            self.nodes[node_name] = ni
        ni.add_pod(pi)
        self.pod_node[pi.key] = node_name
        if pi.has_affinity:
            self._track_affinity(ni)

    def _unplace(self, key: str) -> None:
        node_name = self.pod_node.pop(key, None)
        if node_name is None:
            return
        ni = self.nodes.get(node_name)
        if ni is None:
            return
        pi = ni.remove_pod(key)
        if pi is not None and pi.has_affinity:
            self._track_affinity(ni)
        if not ni.node and not ni.pods:
            del self.nodes[node_name]
            self._with_affinity.pop(node_name, None)
            self._with_required_anti_affinity.pop(node_name, None)

    def _track_affinity(self, ni: NodeInfo) -> None:
        for table, count in ((self._with_affinity, ni.num_with_affinity),
                             (self._with_required_anti_affinity, ni.num_with_required_anti_affinity)):
            if count > 0:
                table[ni.name] = ni
            else:
                table.pop(ni.name, None)

    def have_pods_with_affinity_list(self) -> list[NodeInfo]:
        """Nodes running at least one pod with inter-pod (anti-)affinity (upstream ``HavePodsWithAffinityList``)."""
        return [ni for ni in self._with_affinity.values() if ni.node]

    def have_pods_with_required_anti_affinity_list(self) -> list[NodeInfo]:
        """Nodes running a pod with *required* anti-affinity (upstream ``HavePodsWithRequiredAntiAffinityList``)."""
        return [ni for ni in self._with_required_anti_affinity.values() if ni.node]

    # --- volumes (the VolumeBinding plugin's lister) -----------------------------------------

    def get_pvc(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.pvcs.get((namespace, name))

    def get_pv(self, name: str) -> dict[str, Any] | None:
        return self.pvs.get(name)

    def get_storage_class(self, name: str) -> dict[str, Any] | None:
        return self.storage_classes.get(name)

    # --- namespaces (InterPodAffinity's namespaceSelector) -------------------------------------

    def namespace_labels(self, name: str) -> dict[str, str] | None:
        ns = self.namespaces.get(name)
        return ((ns.get("metadata") or {}).get("labels") or {}) if ns is not None else None
