"""Docker node provider: each node is a container (kubetui's kind).

Upstream: kind's ``pkg/cluster/internal/providers/docker``. This package is
the only place in kubetui that imports ``docker``. A cluster is one
user-defined bridge network plus one container per node (hostname = node
name): worker nodes from the node image, and with ``--control-planes N`` the
control-plane nodes from the control-plane image (``controlplane.py``,
``cpimage.py``). Docker labels are the source of truth for what belongs to which
cluster, so ``kubetui down`` finds everything even after kubetui crashed.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import tarfile
import time
from typing import Any

import docker
import docker.errors

from kubetui.providers.base import ClusterConfig, NodeConfig, NodeHandle, Provider
from kubetui.providers.docker import controlplane, nodespec
from kubetui.providers.docker.image import ImageError, build_node_image
from kubetui.providers.docker.nodespec import LABEL_CLUSTER, LABEL_CONFIG, LABEL_NODE, LABEL_ROLE

log = logging.getLogger(__name__)

#: use this node image instead of building one (e.g. one built from assets/node/Dockerfile)
NODE_IMAGE_ENV = "KUBETUI_NODE_IMAGE"

def docker_client() -> docker.DockerClient:
    """A client for the local engine, or ``ImageError`` with what to do."""
    try:
        client = docker.from_env(timeout=120)
        client.ping()
        return client
    except Exception as e:  # noqa: BLE001 - any failure here means "no usable engine"
        raise ImageError(f"no Docker engine answers ({e.__class__.__name__}): start Docker, "
                         "or use `--provider local` (nodes as local processes)") from e


def docker_available() -> bool:
    try:
        docker_client().close()
        return True
    except ImageError:
        return False


def node_container_states(cluster: str) -> dict[str, str] | None:
    """Each of the cluster's node containers that Docker actually has: node name -> Docker status.

    What the cluster's settings say it should have can differ: a container removed
    from outside (``docker rm -f``, another tool cleaning up) is simply not there.
    None when no Docker engine answers (nothing can be said then)."""
    try:
        client = docker_client()
    except ImageError:
        return None
    try:
        found = client.containers.list(
            all=True, filters={"label": [f"{LABEL_CLUSTER}={cluster}", f"{LABEL_ROLE}=node"]})
        return {c.labels.get(LABEL_NODE, c.name): c.status for c in found}
    finally:
        client.close()


def _tar(files) -> bytes:
    """(path, text, mode) as a tar archive for ``put_archive``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, data, mode in files:
            raw = data.encode()
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode, info.mtime = len(raw), mode, int(time.time())
            tar.addfile(info, io.BytesIO(raw))
    return buf.getvalue()


class DockerProvider(Provider):
    name = "docker"
    description = "nodes are Docker containers (like kind): pods get their own namespaces and cgroups"

    def __init__(self, cluster: ClusterConfig, progress=None) -> None:
        super().__init__(cluster)
        self.client = docker_client()
        self.progress = progress or (lambda phase, detail: None)
        self.network_name = nodespec.network_name(cluster.name)
        self.gateway: str | None = None
        self.image: str | None = None

    # -- network ---------------------------------------------------------

    def _ensure_network(self) -> str:
        nets = self.client.networks.list(names=[self.network_name])
        net = next((n for n in nets if n.name == self.network_name), None)
        if net is None:
            self.progress("network", f"creating the cluster network {self.network_name} (a Docker bridge)")
            net = self.client.networks.create(
                self.network_name, driver="bridge",
                labels={LABEL_CLUSTER: self.cluster.name, LABEL_ROLE: "network"})
            net.reload()
        configs = net.attrs.get("IPAM", {}).get("Config") or []
        gateway = next((c.get("Gateway") for c in configs if c.get("Gateway")), None)
        if not gateway:
            raise ImageError(f"Docker network {self.network_name} has no IPv4 gateway")
        return gateway

    async def prepare(self) -> list[str]:
        self.gateway = await asyncio.to_thread(self._ensure_network)
        self.image = await asyncio.to_thread(self._node_image)
        return [self.gateway]

    def _node_image(self) -> str:
        """``$KUBETUI_NODE_IMAGE`` (e.g. built from assets/node/Dockerfile), else the offline-built image."""
        tag = os.environ.get(NODE_IMAGE_ENV)
        if not tag:
            return build_node_image(self.client, self.progress)
        try:
            self.client.images.get(tag)
        except docker.errors.ImageNotFound:
            raise ImageError(f"{NODE_IMAGE_ENV}={tag}: no such image here (build it with "
                             f"`docker build -f assets/node/Dockerfile -t {tag} .`, or unset it)") from None
        self.progress("image", f"using the node image {tag} from ${NODE_IMAGE_ENV}")
        return tag

    def api_host_for_nodes(self) -> str:
        if not self.gateway:
            raise RuntimeError("prepare() first")
        return self.gateway

    # -- nodes -------------------------------------------------------------

    def _container(self, name: str):
        try:
            return self.client.containers.get(self._container_name(name))
        except docker.errors.NotFound:
            return None

    def _container_name(self, node: str) -> str:
        return nodespec.container_name(self.cluster.name, node)

    def _ensure_volume(self, name: str, role: str) -> None:
        try:
            self.client.volumes.get(name)
        except docker.errors.NotFound:
            self.client.volumes.create(name, labels={LABEL_CLUSTER: self.cluster.name, LABEL_ROLE: role})

    def _create(self, node: NodeConfig):
        cluster = self.cluster.name
        # The shared StorageClass's area: a host folder the control plane reaches too.
        shared = nodespec.shared_dir(self.cluster.state_dir)
        os.makedirs(shared, exist_ok=True)
        self._ensure_volume(nodespec.node_volume(cluster, node.name), "node-volume")
        self._ensure_volume(nodespec.kubelet_volume(cluster, node.name), "kubelet-volume")
        api = self.client.api
        # The low-level API: docker-py's HostConfig cannot say MaskedPaths/ReadonlyPaths.
        created = api.create_container(
            image=self.image, command=nodespec.kubelet_args(node), name=self._container_name(node.name),
            hostname=node.name, detach=True, labels=nodespec.labels(cluster, node, self.image),
            host_config=nodespec.host_config(cluster, node, self.network_name, shared),
            networking_config=api.create_networking_config({self.network_name: api.create_endpoint_config()}))
        container = self.client.containers.get(created["Id"])
        # The node's identity goes in as files, not environment variables
        # (which `docker inspect` would show to anyone).
        container.put_archive("/", _tar(nodespec.node_files(node)))
        return container

    def _start_node(self, node: NodeConfig) -> NodeHandle:
        c = self._container(node.name)
        if c is not None and c.labels.get(LABEL_CONFIG) != nodespec.config_hash(node, self.image):
            # An older node image, another API address or other limits: replace the
            # node (its pods are re-created by their controllers, as after a node replacement).
            self.progress("node", f"replacing {node.name}: its image or configuration changed")
            c.remove(force=True)
            self._remove_volume(nodespec.kubelet_volume(self.cluster.name, node.name))
            c = None
        if c is None:
            self.progress("node", f"creating {node.name}: a Docker container that will run a kubelet")
            c = self._create(node)
        c.reload()
        if c.status == "paused":
            self.progress("node", f"unpausing {node.name}")
            c.unpause()
        elif c.status != "running":
            if c.status != "created":
                self.progress("node", f"restarting {node.name} (it was {c.status})")
            c.start()
        c.reload()
        return self._handle(c)

    def _handle(self, c) -> NodeHandle:
        nets = c.attrs.get("NetworkSettings", {}).get("Networks", {})
        ip = (nets.get(self.network_name) or {}).get("IPAddress") or None
        return NodeHandle(name=c.labels.get(LABEL_NODE, c.name), provider=self.name,
                          address=ip, status=c.status, details={"container": c.name, "id": c.short_id})

    async def start_node(self, node: NodeConfig) -> NodeHandle:
        if self.image is None:
            await self.prepare()
        return await asyncio.to_thread(self._start_node, node)

    async def stop_node(self, name: str) -> None:
        c = await asyncio.to_thread(self._container, name)
        if c is not None:
            await asyncio.to_thread(c.stop, timeout=5)

    def _list(self) -> list[NodeHandle]:
        cs = self.client.containers.list(
            all=True, filters={"label": [f"{LABEL_CLUSTER}={self.cluster.name}", f"{LABEL_ROLE}=node"]})
        return sorted((self._handle(c) for c in cs), key=lambda h: h.name)

    async def list_nodes(self) -> list[NodeHandle]:
        return await asyncio.to_thread(self._list)

    def _remove_volume(self, name: str) -> None:
        try:
            self.client.volumes.get(name).remove(force=True)
        except docker.errors.NotFound:
            pass

    def _delete(self, purge: bool) -> None:
        label = f"{LABEL_CLUSTER}={self.cluster.name}"
        containers = self.client.containers.list(all=True, filters={"label": label})
        if purge:
            # Pods wrote the shared folder as root; empty it from inside a node, so the
            # state directory can be removed by a user who is not root on this host.
            running = next((c for c in containers if c.status == "running"), None)
            if running is not None:
                running.exec_run(["find", nodespec.SHARED_MOUNT, "-mindepth", "1", "-delete"])
        for c in containers:
            c.remove(force=True)
        for n in self.client.networks.list(filters={"label": label}):
            n.remove()
        # The kubelet's volumes hold nothing a node restart needs; node-local PersistentVolumes
        # hold data: only `down --purge` removes those (the shared folder is in the state dir).
        for v in self.client.volumes.list(filters={"label": label}):
            # a control-plane node's etcd data goes with the cluster's control-plane containers, as kind's does
            if purge or (v.attrs.get("Labels") or {}).get(LABEL_ROLE) in ("kubelet-volume", "etcd-volume"):
                v.remove(force=True)

    async def delete(self, purge: bool = False) -> None:
        await asyncio.to_thread(self._delete, purge)

    async def close(self) -> None:
        self.client.close()

    # -- control-plane nodes (kubetui up --control-planes N; controlplane.py) -----------

    def control_plane_image(self) -> str:
        from kubetui.providers.docker.cpimage import build_control_plane_image
        return build_control_plane_image(self.client, self.progress, node_tag=self.image)

    def _create_control_plane(self, node: NodeConfig, image: str, cfg: dict) -> Any:
        from kubetui.netutil import free_port
        cluster = self.cluster.name
        ports = {p: free_port() for p in (controlplane.API_PORT, controlplane.ETCD_PORT,
                                          controlplane.INGRESS_HTTP_PORT, controlplane.INGRESS_HTTPS_PORT)}
        shared = nodespec.shared_dir(self.cluster.state_dir)
        os.makedirs(shared, exist_ok=True)
        self._ensure_volume(nodespec.node_volume(cluster, node.name), "node-volume")
        self._ensure_volume(nodespec.kubelet_volume(cluster, node.name), "kubelet-volume")
        self._ensure_volume(controlplane.etcd_volume(cluster, node.name), "etcd-volume")
        api = self.client.api
        created = api.create_container(
            image=image, command=nodespec.kubelet_args(node), name=self._container_name(node.name),
            hostname=node.name, detach=True, ports=list(ports),
            labels=controlplane.labels(cluster, node, image, cfg, ports),
            host_config=controlplane.host_config(cluster, node, self.network_name, shared,
                                                 self.cluster.state_dir, ports),
            networking_config=api.create_networking_config(
                {self.network_name: api.create_endpoint_config(aliases=[node.name])}))
        container = self.client.containers.get(created["Id"])
        files = [*nodespec.node_files(node), (controlplane.CONFIG_FILE, json.dumps(cfg, indent=1) + "\n", 0o644)]
        container.put_archive("/", _tar(files))
        return container

    def start_control_plane_node(self, node: NodeConfig, image: str, cfg: dict) -> NodeHandle:
        """Create (or reuse, restart, unpause) one control-plane node container; blocking.
        ``details["ports"]``: its published ports (6443: the API server, 2379: etcd) on 127.0.0.1."""
        c = self._container(node.name)
        if c is not None and c.labels.get(LABEL_CONFIG) != controlplane.config_hash(node, image, cfg):
            self.progress("node", f"replacing {node.name}: its image or configuration changed")
            c.remove(force=True)
            self._remove_volume(nodespec.kubelet_volume(self.cluster.name, node.name))
            c = None
        if c is None:
            c = self._create_control_plane(node, image, cfg)
        c.reload()
        if c.status == "paused":
            c.unpause()
        elif c.status != "running":
            c.start()
        c.reload()
        h = self._handle(c)
        h.details["ports"] = controlplane.published_ports(c)
        return h

    # -- used by fault injection and tests ---------------------------------

    def node_container(self, name: str):
        return self._container(name)
