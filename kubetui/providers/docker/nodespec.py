"""What a node container is made of (kind's ``pkg/cluster/internal/providers/docker/provision.go``).

Pure functions from a node's config to the Docker API's container and host
configuration, so the flags a node runs with are visible (and testable) in
one place. kind runs ``docker run --privileged --tmpfs /run --tmpfs /tmp
--volume /var --volume /lib/modules:ro ... kindest/node``; kubetui does the
same with an explicit capability set, since ``--privileged`` is refused on
hosts whose capability bounding set lacks CAP_SYS_RESOURCE.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from kubetui.api.quantity import quantity_bytes
from kubetui.providers.base import NodeConfig

LABEL_CLUSTER = "io.kubetui.cluster"
LABEL_ROLE = "io.kubetui.role"
LABEL_NODE = "io.kubetui.node"
LABEL_CONFIG = "io.kubetui.config"

# Where the node's volumes live inside the container (the storage helpers use these paths).
SHARED_MOUNT = "/mnt/kubetui-shared"       # the host folder <state>/shared, in every node (RWX)
LOCAL_VOLUMES = "/var/lib/kubetui/volumes"  # one Docker volume per node (hostPath, node-local PVs)
KUBELET_ROOT = "/var/lib/kubelet"          # one Docker volume per node, removed with the node
#: the runtime's state (containerd's /run/containerd): on the node's /run tmpfs, where a file costs a pod
#: start ~0.01 ms of CPU instead of ~0.2-0.7 ms on the kubelet's volume (ext4 inode allocation,
#: measured on this project's 2-core host); it goes with the node's processes, as it should
RUNTIME_STATE = "/run/kubetui/runtime"
KUBELET_PORT = 10250
TIMINGS_FILE = "/etc/kubetui/timings.json"
CLUSTER_DNS = "10.96.0.10"      # the kube-dns Service's ClusterIP (kubetui.dns.manifests)
CLUSTER_DOMAIN = "cluster.local"

# `--privileged`, spelled out: every capability this host allows, no seccomp or
# AppArmor filter, and /proc and /sys not masked (Docker CLI's
# `--security-opt systempaths=unconfined` is MaskedPaths=[] ReadonlyPaths=[]).
CAP_ADD = ["ALL"]
CAP_DROP = ["SYS_RESOURCE"]
SECURITY_OPT = ["seccomp=unconfined", "apparmor=unconfined"]


def container_name(cluster: str, node: str) -> str:
    return f"kubetui-{cluster}-{node}"


def network_name(cluster: str) -> str:
    return f"kubetui-{cluster}"


def node_volume(cluster: str, node: str) -> str:
    """Node-local PersistentVolumes: kept by ``down``, removed by ``down --purge``."""
    return f"kubetui-{cluster}-{node}-volumes"


def kubelet_volume(cluster: str, node: str) -> str:
    """The kubelet's root dir (pod volumes, logs): off the container's overlay filesystem, whose
    file creation costs a pod start ~0.3-0.8 ms per file; kind mounts a volume at /var for the same
    reason. Nothing in it outlives the node, so it goes with the node container."""
    return f"kubetui-{cluster}-{node}-kubelet"


def shared_dir(state_dir) -> str:
    """The host folder every node mounts at ``SHARED_MOUNT`` (``kubetui.storage.volumes.DockerVolumeHost``
    reaches the same folder from the control plane, to create and delete a shared volume's data)."""
    from pathlib import Path
    return str(Path(state_dir).resolve() / "shared")


def kubelet_args(node: NodeConfig) -> list[str]:
    """The kubelet's command line inside the node (after the entrypoint's setup)."""
    args = ["--api-server", node.api_url, "--node-name", node.name,
            "--token-file", "/etc/kubetui/token", "--ca-file", "/etc/kubetui/ca.crt",
            "--runtime", "isolated", "--root-dir", KUBELET_ROOT, "--runtime-state-dir", RUNTIME_STATE,
            "--address", "0.0.0.0", "--port", str(KUBELET_PORT),
            "--max-pods", str(node.max_pods),
            "--cluster-dns", CLUSTER_DNS, "--cluster-domain", CLUSTER_DOMAIN,
            "--local-volumes-dir", LOCAL_VOLUMES,
            "--timings", f"@{TIMINGS_FILE}"]
    if node.pod_cidr:
        args += ["--pod-cidr", node.pod_cidr]
    if node.labels:
        args += ["--node-labels", ",".join(f"{k}={v}" for k, v in sorted(node.labels.items()))]
    return args


def timings_json(node: NodeConfig) -> str:
    return json.dumps(node.timings.as_dict(), sort_keys=True, indent=1) + "\n"


def node_files(node: NodeConfig) -> list[tuple[str, str, int]]:
    """(path, content, mode) copied into the node before it starts: its identity and settings."""
    return [("/etc/kubetui/token", node.token, 0o600), ("/etc/kubetui/ca.crt", node.ca_pem, 0o644),
            (TIMINGS_FILE, timings_json(node), 0o644)]


def config_hash(node: NodeConfig, image: str) -> str:
    """Changes when the node must be re-created (new image, API address, identity or limits)."""
    h = hashlib.sha256()
    for part in (image, f"{node.cpus}", node.memory, *kubelet_args(node),
                 *(content for _, content, _ in node_files(node))):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def labels(cluster: str, node: NodeConfig, image: str) -> dict[str, str]:
    return {LABEL_CLUSTER: cluster, LABEL_ROLE: "node", LABEL_NODE: node.name,
            LABEL_CONFIG: config_hash(node, image)}


def host_config(cluster: str, node: NodeConfig, network: str, shared: str) -> dict[str, Any]:
    """``HostConfig`` for ``POST /containers/create`` (Docker Engine API); ``shared`` is ``shared_dir(state)``."""
    mem = quantity_bytes(node.memory)
    return {
        "NetworkMode": network,
        "CapAdd": CAP_ADD, "CapDrop": CAP_DROP, "SecurityOpt": SECURITY_OPT,
        "MaskedPaths": [], "ReadonlyPaths": [],
        # tini as PID 1: reaps the orphans pods leave and forwards SIGTERM to the kubelet.
        "Init": True,
        # The node's capacity is real: the kubelet reads these limits from its cgroup.
        "NanoCpus": int(node.cpus * 1e9),
        "Memory": mem, "MemorySwap": mem,
        # /run is fresh on every start: a killed node leaves no stale /run/netns entries.
        "Tmpfs": {"/run": "rw,nosuid,nodev,mode=755", "/tmp": "rw,nosuid,nodev,mode=1777"},
        "Binds": [f"{shared}:{SHARED_MOUNT}:rw",
                  f"{node_volume(cluster, node.name)}:{LOCAL_VOLUMES}:rw",
                  f"{kubelet_volume(cluster, node.name)}:{KUBELET_ROOT}:rw"],
        "RestartPolicy": {"Name": "no"},
    }
