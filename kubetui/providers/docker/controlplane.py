"""Control-plane node containers (kind's ``control-plane`` nodes: ``<cluster>-control-plane``, ``...2``, ``...3``).

Upstream kind creates every node from ``kindest/node``; a control-plane node
differs by its role label, the API server port it publishes on the host
(``127.0.0.1:<random>->6443``) and what kubeadm then runs in it. kubetui's
control-plane container is a node container (``nodespec.host_config``: the same
capabilities, tmpfs, volumes, kubelet arguments) from the control-plane image
(``cpimage.py``) plus:

- the cluster's state directory mounted at its host path (the CA and the
  certificates kubeadm would copy to each node with ``join --control-plane
  --certificate-key``, the cluster's settings and tokens, the member records and logs);
- a ``<container>-etcd`` volume at ``/var/lib/etcd`` (kubeadm's ``--data-dir``),
  removed by ``kubetui down`` with the container;
- the API server's 6443, etcd's 2379 and the ingress data plane's 80 and 443
  published on 127.0.0.1 (the host's API load balancer, also in front of the
  ingress ports, and ``etcdctl`` reach them there, also where container
  addresses are not routed from the host, as on Docker Desktop);
- the node name as a network alias: etcd peers reach each other by it;
- the host's Docker socket: the API server's image pulls go through the host's
  engine, as they do for a one-process control plane.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from kubetui.providers.base import NodeConfig
from kubetui.providers.docker import nodespec

LABEL_NODE_ROLE = "io.kubetui.node-role"
CONTROL_PLANE_ROLE = "control-plane"
CONFIG_FILE = "/etc/kubetui/control-plane.json"
API_PORT, ETCD_PORT = 6443, 2379
#: the node's ingress data plane (kind's ingress-nginx on a node's 80/443, reached through extraPortMappings):
#: published on 127.0.0.1 like 6443, behind the host's load balancer's ingress ports
INGRESS_HTTP_PORT, INGRESS_HTTPS_PORT = 80, 443
DOCKER_SOCKET = "/var/run/docker.sock"


def etcd_volume(cluster: str, node: str) -> str:
    return f"kubetui-{cluster}-{node}-etcd"


def cp_config(node: str, cluster_nodes: list[str], state_dir: Path, extra_hosts: tuple[str, ...]) -> dict[str, Any]:
    """``/etc/kubetui/control-plane.json``: what ``kubetui.cluster.cpnode`` starts, and how."""
    state = Path(state_dir).resolve()
    return {"node": node, "first": cluster_nodes[0], "stateDir": str(state),
            "logDir": str(state / "control-planes"),  # cluster/ha.py's MEMBERS_DIR: records and logs
            "initialCluster": ",".join(f"{n}=https://{n}:2380" for n in cluster_nodes),
            "extraHosts": list(extra_hosts), "ingressPorts": [INGRESS_HTTP_PORT, INGRESS_HTTPS_PORT]}


def config_hash(node: NodeConfig, image: str, cfg: dict[str, Any]) -> str:
    """Changes when the container must be re-created (image, kubelet flags, identity, control-plane settings)."""
    h = hashlib.sha256(nodespec.config_hash(node, image).encode())
    h.update(json.dumps(cfg, sort_keys=True).encode())
    return h.hexdigest()[:16]


def labels(cluster: str, node: NodeConfig, image: str, cfg: dict[str, Any], ports: dict[int, int]) -> dict[str, str]:
    out = nodespec.labels(cluster, node, image)
    out[nodespec.LABEL_CONFIG] = config_hash(node, image, cfg)
    out[LABEL_NODE_ROLE] = CONTROL_PLANE_ROLE
    out["io.kubetui.ports"] = json.dumps({str(k): v for k, v in ports.items()})
    return out


def host_config(cluster: str, node: NodeConfig, network: str, shared: str, state_dir: Path,
                ports: dict[int, int]) -> dict[str, Any]:
    """A node's ``HostConfig`` plus the state directory, etcd's volume, the Docker socket and the published ports."""
    hc = nodespec.host_config(cluster, node, network, shared)
    state = str(Path(state_dir).resolve())
    hc["Binds"] = [*hc["Binds"], f"{state}:{state}:rw", f"{etcd_volume(cluster, node.name)}:/var/lib/etcd:rw",
                   f"{DOCKER_SOCKET}:{DOCKER_SOCKET}:rw"]
    hc["PortBindings"] = {f"{inner}/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(outer)}]
                          for inner, outer in ports.items()}
    return hc


def published_ports(container: Any) -> dict[int, int]:
    """container port -> host port on 127.0.0.1, as the container was created with."""
    raw = json.loads((container.labels or {}).get("io.kubetui.ports") or "{}")
    return {int(k): int(v) for k, v in raw.items()}


def is_control_plane(container: Any) -> bool:
    return (container.labels or {}).get(LABEL_NODE_ROLE) == CONTROL_PLANE_ROLE
