"""The node IPAM controller: give every Node its own pod range (``spec.podCIDR``).

Upstream: ``pkg/controller/nodeipam/`` with the ``RangeAllocator``
(``ipam/range_allocator.go``, ``ipam/cidrset/cidr_set.go``), what
``kube-controller-manager --allocate-node-cidrs --cluster-cidr=10.244.0.0/16
--node-cidr-mask-size=24`` runs. The cluster CIDR is cut into /24s; each Node
without a ``spec.podCIDR`` gets the next free one, written once (the API server
refuses to change it afterwards). The kubelet and the CNI plugin then hand out
pod IPs from that range, and every node routes the other nodes' ranges to them,
so a pod IP tells you which node the pod runs on.

Like upstream, the allocator keeps no state of its own: the ranges already
written on Node objects are the truth, read from the informer on every
reconcile, so a restarted controller manager never hands a range out twice.
A deleted Node frees its range.

Two kubetui choices, to make pod IPs readable in lessons: a node whose name
ends in a number N (``node-2``) gets ``10.244.N.0/24`` when that range is free;
any other node gets the lowest free range from ``10.244.1.0/24`` up.
``10.244.0.0/24`` is handed out last (kind gives it to the control-plane node,
which kubetui runs outside any node).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from kubetui.api import errors
from kubetui.controllers.base import Controller
from kubetui.controllers.util import meta

Obj = dict[str, Any]

CLUSTER_CIDR = "10.244.0.0/16"
NODE_CIDR_MASK_SIZE = 24


def subnets(cluster_cidr: str = CLUSTER_CIDR, mask: int = NODE_CIDR_MASK_SIZE) -> list[str]:
    """All node ranges of the cluster CIDR, in order: ``["10.244.0.0/24", "10.244.1.0/24", ...]``."""
    net = ipaddress.ip_network(cluster_cidr, strict=False)
    if mask < net.prefixlen:
        raise ValueError(f"node CIDR mask /{mask} is larger than the cluster CIDR {cluster_cidr}")
    return [str(s) for s in net.subnets(new_prefix=mask)]


def node_pod_cidrs(node: Obj) -> list[str]:
    spec = node.get("spec") or {}
    cidrs = list(spec.get("podCIDRs") or [])
    if not cidrs and spec.get("podCIDR"):
        cidrs = [spec["podCIDR"]]
    return cidrs


def choose_cidr(node_name: str, used: set[str], cluster_cidr: str = CLUSTER_CIDR,
                mask: int = NODE_CIDR_MASK_SIZE) -> str | None:
    """The range for a new node, or None when the cluster CIDR is full.

    >>> choose_cidr("node-2", set())
    '10.244.2.0/24'
    >>> choose_cidr("node-2", {"10.244.2.0/24"})
    '10.244.1.0/24'
    >>> choose_cidr("worker", {"10.244.1.0/24"})
    '10.244.2.0/24'
    """
    all_ = subnets(cluster_cidr, mask)
    m = re.search(r"(\d+)$", node_name)
    if m and 0 < int(m.group(1)) < len(all_) and all_[int(m.group(1))] not in used:
        return all_[int(m.group(1))]
    for cidr in all_[1:] + all_[:1]:
        if cidr not in used:
            return cidr
    return None


class NodeIpamController(Controller):
    name = "nodeipam"
    kind = "Node"
    component = "node-ipam-controller"

    def __init__(self, *args: Any, cluster_cidr: str = CLUSTER_CIDR,
                 node_cidr_mask_size: int = NODE_CIDR_MASK_SIZE, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.cluster_cidr = cluster_cidr
        self.mask = node_cidr_mask_size
        self.node_informer = self.factory.informer("nodes")
        self.node_informer.add_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new),
                                       on_delete=self.enqueue)
        # Ranges written but maybe not yet seen by the informer: node name -> cidr.
        self._pending: dict[str, str] = {}

    def used(self) -> set[str]:
        out: set[str] = set()
        seen = set()
        for node in self.node_informer.list():
            name = meta(node).get("name")
            seen.add(name)
            cidrs = node_pod_cidrs(node)
            if cidrs:
                self._pending.pop(name, None)
            out.update(cidrs)
        for name in set(self._pending) - seen:
            del self._pending[name]       # the node was deleted
        out.update(self._pending.values())
        return out

    async def reconcile(self, key: Any) -> float | None:
        node = self.node_informer.get(key)
        if node is None:
            self._pending.pop(key, None)   # deleted: its range is free again
            return None
        if node_pod_cidrs(node) or key in self._pending:
            return None
        cidr = choose_cidr(key, self.used(), self.cluster_cidr, self.mask)
        if cidr is None:
            self.event(node, "Normal", "CIDRNotAvailable",
                       f"Node {key} status is now: CIDRNotAvailable")
            return 30.0
        self._pending[key] = cidr
        try:
            await self.client.patch("nodes", key, {"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}})
        except errors.NotFound:
            self._pending.pop(key, None)
            return None
        except Exception:
            self._pending.pop(key, None)
            raise
        self.log.info("node %s: podCIDR %s", key, cidr)
        return None
