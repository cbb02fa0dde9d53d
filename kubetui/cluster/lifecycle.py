"""A cluster's life: bring the control plane and its nodes up, wait for Ready, stop.

Upstream this is kind's ``create cluster`` and kubeadm's ``init``/``join``;
it runs in the control-plane process (``kubetui.cmd.cluster.serve``).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from kubetui.clock import Clock
from kubetui.cluster.controlplane import ControlPlane
from kubetui.cluster.settings import ClusterSettings, Progress, make_provider, node_names
from kubetui.providers.base import Provider

log = logging.getLogger(__name__)


async def wait_nodes_ready(client, names: list[str], timeout: float) -> None:
    """Until every named Node reports condition Ready=True (or TimeoutError)."""
    async def ready_now() -> set[str]:
        lst = await client.list("nodes")
        ok = set()
        for n in lst.get("items", []):
            for c in n.get("status", {}).get("conditions", []):
                if c.get("type") == "Ready" and c.get("status") == "True":
                    ok.add(n["metadata"]["name"])
        return ok

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if set(names) <= await ready_now():
            return
        if loop.time() > deadline:
            missing = sorted(set(names) - await ready_now())
            raise TimeoutError(f"nodes not Ready after {timeout:.0f}s: {', '.join(missing)}")
        await asyncio.sleep(0.1)


class Cluster:
    """A control plane plus its nodes."""

    def __init__(self, settings: ClusterSettings, state_dir: Path, *, clock: Clock | None = None,
                 progress: Progress | None = None) -> None:
        self.settings = settings
        self.state_dir = state_dir
        self.clock = clock or Clock()
        self.progress: Progress = progress or (lambda p, d: None)
        self.control_plane: Any = None  # ControlPlane, or HAControlPlane with --control-planes N
        self.provider: Provider | None = None

    async def up(self, ready_timeout: float = 180.0) -> Path:
        s = self.settings
        s.save(self.state_dir)
        extra: list[str] = []
        if s.provider != "simulated":
            self.provider = make_provider(s, self.state_dir, progress=self.progress)
            self.progress("provider", self.provider.description)
            extra = await self.provider.prepare()
        if s.control_planes > 1 and s.provider == "docker":  # kind's HA cluster: control-plane containers
            from kubetui.cluster.hadocker import DockerHAControlPlane
            cp = DockerHAControlPlane(s, self.state_dir, self.provider, clock=self.clock, extra_hosts=tuple(extra))
        elif s.control_planes > 1:  # kubeadm's stacked etcd: N control-plane nodes behind a load balancer
            from kubetui.cluster.ha import HAControlPlane
            cp = HAControlPlane(s, self.state_dir, clock=self.clock, extra_hosts=tuple(extra))
        else:
            cp = ControlPlane(s, self.state_dir, clock=self.clock, extra_hosts=tuple(extra))
        self.control_plane = cp
        await cp.start(self.progress)
        if s.api_port != cp.apiserver.port:
            s.api_port = cp.apiserver.port
            s.save(self.state_dir)
        if cp.ingress_ports is not None and (s.ingress_http_port, s.ingress_https_port) != cp.ingress_ports:
            s.ingress_http_port, s.ingress_https_port = cp.ingress_ports
            s.save(self.state_dir)
        if s.provider == "simulated":
            self.provider = make_provider(s, self.state_dir, client=cp.client, clock=self.clock)
            self.progress("provider", self.provider.description)
        names = node_names(s.nodes)
        api_host = self.provider.api_host_for_nodes()
        for name in names:
            self.progress(name, f"starting {name}: {self._node_meaning()}")
            await self.provider.start_node(cp.node_config(name, api_host))
        control_planes = getattr(cp, "nodes", [])  # several control planes: a kubelet on each, as kubeadm's
        for name in control_planes:
            self.progress(name, f"starting {name}'s kubelet: a control-plane node (tainted NoSchedule)")
            await cp.start_kubelet(self.provider, name, api_host)
        if s.provider == "local":   # after every kubelet: it serves NodePorts on each node's address
            block = self.provider.block
            self.progress("kube-proxy", f"starting kube-proxy (userspace): ClusterIP 10.96.A.B answers at "
                                        f"127.{block.services}.A.B, NodePorts at each node's 127.{block.pods}.0.N")
            # kube-proxy's own identity (upstream: the system:kube-proxy user, group system:node-proxier)
            token = cp.authenticator.token_for("system:kube-proxy", ("system:node-proxier",))
            cp.proxy_metrics = [await self.provider.start_proxy(
                f"https://{api_host}:{cp.apiserver.port}", token, cp.pki.ca_pem().decode(), names[0])]
        wait_ready = getattr(cp, "wait_ready", None)
        if wait_ready is not None:  # control-plane containers boot while the worker nodes are created
            await wait_ready(self.progress)
        self.progress("ready", f"waiting for {len(names) + len(control_planes)} node(s) to report Ready")
        await wait_nodes_ready(cp.client, names + control_planes, ready_timeout)
        for name in control_planes:
            await cp.mark_control_plane(name)
        return cp.kubeconfig_path

    def _node_meaning(self) -> str:
        return {
            "docker": "a Docker container that will run a kubelet",
            "local": "a local process that runs a kubelet (no container isolation)",
            "simulated": "a simulated node (no containers: pods are only marked Running)",
        }[self.settings.provider]

    async def stop(self) -> None:
        """Stop the control plane; nodes that can outlive it (Docker) keep running."""
        if self.provider is not None:
            if self.settings.provider in ("local", "simulated"):
                # every node at once: each kubelet stops its own pods (one after another took ~1 s a node)
                await asyncio.gather(*(self.provider.stop_node(h.name) for h in await self.provider.list_nodes()))
                if hasattr(self.provider, "stop_proxy"):
                    await self.provider.stop_proxy()
            await self.provider.close()
        if self.control_plane is not None:
            await self.control_plane.stop()
