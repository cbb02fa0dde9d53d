"""Where a local cluster's addresses live on this machine's loopback: the cluster's *block*.

No component of its own in Kubernetes: this is the local provider's stand-in
for a cluster's network ranges. Every Kubernetes cluster has its own pod range
(``kube-controller-manager --cluster-cidr``, 10.244.0.0/16 on kind) and Service
range (``kube-apiserver --service-cluster-ip-range``, 10.96.0.0/16 on kind).
Two kind clusters on one machine may both use 10.244.0.0/16 because each lives
in network namespaces of its own. The local provider has no namespaces: its
pods bind addresses of this machine's loopback (Linux routes all of
127.0.0.0/8 there, any 127.x.y.z can be bound without root), which every
local cluster on the machine shares. So each local cluster owns distinct
ranges of it, two /16s chosen when it starts (``kubetui.providers.loopback``
picks a free one, machine-wide) and kept in its state dir::

    127.P.0.i       node i: its kubelet, its hostNetwork pods, the cluster's NodePorts
    127.P.0.254     the cluster's load balancer (LoadBalancer Services' ingress IP)
    127.P.N.0/24    node N's pods (.1 is the node's "gateway", as on a CNI bridge; pods from .2):
                    the pod IPs kubectl shows
    127.S.A.B       Service ClusterIP 10.96.A.B (the cluster's 10.96.0.0/16), served there
                    by the userspace kube-proxy; S = P + 1

P is even (a block is a pair of octets), so a pod (or a hostNetwork pod, whose
IP is its node's) finds its cluster's Service addresses from its own address.
Out of the pool: 127.0.x.x (the host's 127.0.0.1, systemd-resolved's
127.0.0.53), 127.96.0.0/12 (the Service range of a kube-proxy started without
``--service-address-range``: 10.96.0.0/12 moved onto the loopback) and
127.240.0.0/12 (``127.244.0.0/24`` is the pod range of a kubelet started by hand).

Standard library only: node agents (kube-proxy, the DNS, the kubelet's pods) import it.
"""

from __future__ import annotations

import ipaddress
import sys
from dataclasses import dataclass

#: the pods octet P of every block a local cluster may own (S = P + 1): 111 blocks
POOL = tuple(p for p in range(2, 240, 2) if not 96 <= p < 112)
#: a kubelet started by hand (no block): its pods' range
DEFAULT_POD_CIDR = "127.244.0.0/24"
#: a kube-proxy/DNS started without a block: 10.96.0.0/12 moved onto the loopback (10.96.0.20 -> 127.96.0.20)
DEFAULT_SERVICE_RANGE = "127.96.0.0/12"
#: the last host of 127.P.0.0/24 is the load balancer's; node indexes stop below it
LOAD_BALANCER_HOST = 254


def service_address(cluster_ip: str, service_range: str = DEFAULT_SERVICE_RANGE) -> str:
    """Where the userspace proxy serves ``cluster_ip``: its host bits inside ``service_range``.

    >>> service_address("10.96.0.20"), service_address("10.96.3.7", "127.5.0.0/16")
    ('127.96.0.20', '127.5.3.7')

    Not Linux (only 127.0.0.1 is a loopback address there): 127.0.0.1.
    """
    if not sys.platform.startswith("linux"):
        return "127.0.0.1"
    ip = ipaddress.ip_address(cluster_ip)
    if ip.version != 4:
        return "127.0.0.1"
    net = ipaddress.ip_network(service_range, strict=False)
    return str(net.network_address + (int(ip) & int(net.hostmask)))


@dataclass(frozen=True)
class LoopbackBlock:
    """One local cluster's share of the loopback: pods (and nodes) in 127.P.0.0/16, Services in 127.(P+1).0.0/16."""

    pods: int     # the second octet P

    def __post_init__(self) -> None:
        if self.pods not in POOL:
            raise ValueError(f"loopback block {self.pods}: not one of the pool's even octets (2..94, 112..238)")

    @property
    def services(self) -> int:
        return self.pods + 1

    @property
    def pod_range(self) -> str:
        return f"127.{self.pods}.0.0/16"

    @property
    def service_range(self) -> str:
        return f"127.{self.services}.0.0/16"

    @property
    def load_balancer_ip(self) -> str:
        return f"127.{self.pods}.0.{LOAD_BALANCER_HOST}"

    def node_ip(self, index: int) -> str:
        """Node number ``index`` (1, 2, ...): 127.P.0.index."""
        if not 1 <= index < LOAD_BALANCER_HOST:
            raise ValueError(f"node index {index}: a local cluster has at most {LOAD_BALANCER_HOST - 1} nodes")
        return f"127.{self.pods}.0.{index}"

    def pod_cidr(self, index: int) -> str:
        """Node number ``index``'s pods: 127.P.index.0/24 (the node IPAM's 10.244.index.0/24 for node-index)."""
        if not 1 <= index <= 255:
            raise ValueError(f"node index {index}: pod ranges are 127.{self.pods}.1.0/24 to 127.{self.pods}.255.0/24")
        return f"127.{self.pods}.{index}.0/24"

    def service_address(self, cluster_ip: str) -> str:
        return service_address(cluster_ip, self.service_range)

    @classmethod
    def of_address(cls, ip: str) -> "LoopbackBlock | None":
        """The block a pod or node address belongs to (None: not a local cluster's).

        >>> LoopbackBlock.of_address("127.6.1.2"), LoopbackBlock.of_address("10.244.1.2")
        (LoopbackBlock(pods=6), None)
        """
        parts = ip.split(".")
        if len(parts) != 4 or parts[0] != "127" or not parts[1].isdigit() or int(parts[1]) not in POOL:
            return None
        return cls(int(parts[1]))
