"""Where a provisioned volume's data lives: the path a node uses, and the same directory seen from the control plane.

Upstream each provisioner knows its storage system (a cloud disk API, an NFS
export, a node's disk through a helper pod). kubetui's storage is directories:

============  =======================================  ===============================================
provider      node-local volume ``<pv>``               shared volume ``<pv>``
============  =======================================  ===============================================
docker        ``/var/lib/kubetui/volumes/<pv>`` inside  ``/mnt/kubetui-shared/<pv>`` inside every node,
              the node container (control plane can't   = ``<state>/shared/<pv>`` on the host (one host
              reach it: the kubelet removes it)         folder bind-mounted into every node container)
local         ``<state>/nodes/<node>/volumes/<pv>``    ``<state>/shared/<pv>``
simulated     ``/var/lib/kubetui/volumes/<pv>`` (never written: simulated nodes run nothing)
============  =======================================  ===============================================

The PersistentVolume's ``spec.hostPath.path`` is the *node's* path, so the
kubelet mounts exactly what the PV says.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from kubetui.storage.classes import NODE_LOCAL_ROOT, SHARED_ROOT

log = logging.getLogger(__name__)


class VolumeHost:
    """Paths for provisioned volumes on one kind of node (the base: data only nodes can reach)."""

    name = "nodes"

    def node_local_path(self, node: str, pv: str) -> str:
        """``spec.hostPath.path`` of a node-local volume on ``node``."""
        return f"{NODE_LOCAL_ROOT}/{pv}"

    def shared_path(self, pv: str) -> str:
        """``spec.hostPath.path`` of a shared volume (the same on every node)."""
        return f"{SHARED_ROOT}/{pv}"

    def node_local_dir(self, node: str, pv: str) -> Path | None:
        """The node-local directory as the control plane reaches it, or None if it cannot."""
        return None

    def shared_dir(self, pv: str) -> Path | None:
        """The shared directory as the control plane reaches it, or None if it cannot."""
        return None

    def create(self, directory: Path | None) -> None:
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            directory.chmod(0o777)  # any pod user may write, as local-path-provisioner does

    def remove(self, directory: Path | None) -> bool:
        """Delete a volume's data; False if the control plane cannot reach it."""
        if directory is None:
            return False
        shutil.rmtree(directory, ignore_errors=True)
        log.info("deleted volume data %s", directory)
        return True


class LocalVolumeHost(VolumeHost):
    """Local provider: nodes are processes on this host, so every directory is reachable."""

    name = "local"

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)

    def node_local_dir(self, node: str, pv: str) -> Path | None:
        return self.state_dir / "nodes" / node / "volumes" / pv

    def shared_dir(self, pv: str) -> Path | None:
        return self.state_dir / "shared" / pv

    def node_local_path(self, node: str, pv: str) -> str:
        return str(self.node_local_dir(node, pv))

    def shared_path(self, pv: str) -> str:
        return str(self.shared_dir(pv))


class DockerVolumeHost(VolumeHost):
    """Docker provider: node-local data is inside the node container; the shared area is a host folder."""

    name = "docker"

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)

    def shared_dir(self, pv: str) -> Path | None:
        return self.state_dir / "shared" / pv


def volume_host_for(provider: str, state_dir: Path) -> VolumeHost:
    if provider == "local":
        return LocalVolumeHost(state_dir)
    if provider == "docker":
        return DockerVolumeHost(state_dir)
    return VolumeHost()
