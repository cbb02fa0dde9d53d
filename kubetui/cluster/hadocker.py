"""Several control-plane nodes as Docker containers: kind's HA cluster (``kubetui up --control-planes 3 --provider docker``).

Upstream ``kind create cluster`` with three ``role: control-plane`` nodes
creates ``<cluster>-control-plane``, ``-control-plane2`` and ``-control-plane3``
from ``kindest/node`` plus an ``<cluster>-external-load-balancer`` (haproxy)
container, runs ``kubeadm init`` on the first and ``kubeadm join
--control-plane`` on the others (stacked etcd: a member on each), and points
every kubeconfig and kubelet at the load balancer.

kubetui does the same with its control-plane image (``providers/docker/cpimage.py``):
the cluster process (this module) issues the certificates, creates the three
containers at once (their etcd members need each other for a quorum; each
container's ``kubetui.cluster.cpnode`` starts its member, then its API server,
scheduler and controller manager, the first alone, then the node's kubelet),
and runs the API load balancer (``cluster/apilb.py``) on the host: on 127.0.0.1
(the kubeconfig's address) and on the Docker network's gateway (the address
every kubelet and kube-proxy, workers' and control planes' alike, is given),
in front of the API servers' ports published on 127.0.0.1, by ``/readyz``; it
also forwards the cluster's ingress ports (127.0.0.1:8080/8443 by default) to
the ingress data plane of a healthy node (its 80/443, published the same way),
as kind users map host ports to a node's ingress controller (``extraPortMappings``).
Leader election and faults work as with processes (``cluster/ha.py``); the
containers outlive this process, like worker node containers, until ``kubetui down``.

``type: LoadBalancer`` Services are served on the host too: their listeners
(``providers/lb.py``, the cloud-controller-manager's service controller that
cloud-provider-kind plays for kind) open on the host's 127.0.0.1 at each Service
port, so this process runs that one controller, through the load balancer's API
address, to the nodes' NodePorts; in a container they would be unreachable from here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from pathlib import Path
from typing import Any

from kubetui.apiserver.auth import TokenAuthenticator
from kubetui.apiserver.certs import ensure_pki
from kubetui.apiserver.etcdcerts import ETCD_ENDPOINT_FILE, ensure_etcd_certs
from kubetui.client.http import HTTPClient
from kubetui.client.kubeconfig import write_kubeconfig
from kubetui.cluster.apilb import APILoadBalancer, Backend
from kubetui.cluster.ha import APILB_FILE, DOCKER_NODES_FILE, MEMBERS_DIR, HAControlPlane, _Served, ingress_forwards
from kubetui.cluster.settings import ClusterSettings, Progress
from kubetui.netutil import free_port, port_free
from kubetui.providers.base import NodeConfig

log = logging.getLogger(__name__)



def read_docker_nodes(state_dir: Path) -> dict[str, dict[str, Any]]:
    try:
        return json.loads((state_dir / MEMBERS_DIR / DOCKER_NODES_FILE).read_text())
    except (OSError, ValueError):
        return {}


class DockerHAControlPlane(HAControlPlane):
    """N control-plane node containers (etcd member + control-plane process + kubelet each) behind the host's LB."""

    def __init__(self, settings: ClusterSettings, state_dir: Path, provider: Any, *, clock: Any = None,
                 extra_hosts: tuple[str, ...] = ()) -> None:
        super().__init__(settings, state_dir, clock=clock, extra_hosts=extra_hosts)
        self.provider = provider
        self._lb_port = 0
        #: the service controller's manager on the host (LoadBalancer Services' listeners), once the API answers
        self.service_lb: Any = None

    async def start(self, progress: Progress = lambda p, d: None) -> None:
        members_dir = self.state_dir / MEMBERS_DIR
        members_dir.mkdir(parents=True, exist_ok=True)
        self.pki = ensure_pki(self.state_dir, self.settings.name, list(self.extra_hosts))
        # kubeadm's etcd/server.crt names the node: the members reach each other by their node names
        ensure_etcd_certs(self.pki, tuple(self.nodes))
        self.authenticator = TokenAuthenticator.for_state_dir(self.state_dir)
        self.authenticator.admin_token()
        # the load balancer's port is chosen first: it is in every kubelet's configuration
        self._lb_port = (self.settings.api_port if self.settings.api_port and port_free(self.settings.api_port)
                         else free_port())
        self.choose_ingress_ports()  # before the nodes start: their Ingresses' status names these
        image = await asyncio.to_thread(self.provider.control_plane_image)
        progress("store", f"etcd: {len(self.nodes)} members, one in each control-plane node container")
        progress("control-planes", f"starting {len(self.nodes)} control-plane node containers ({image}): "
                                   "an etcd member, API server, scheduler, controller manager and kubelet each")
        from kubetui.providers.docker.controlplane import INGRESS_HTTP_PORT, INGRESS_HTTPS_PORT, cp_config
        handles = await asyncio.gather(*(asyncio.to_thread(
            self.provider.start_control_plane_node, self._kubelet_config(n), image,
            cp_config(n, self.nodes, self.state_dir, self.extra_hosts)) for n in self.nodes))
        ports = {h.name: h.details["ports"] for h in handles}
        (members_dir / DOCKER_NODES_FILE).write_text(json.dumps(
            {h.name: {"container": h.details["container"], "apiPort": ports[h.name][6443],
                      "etcdPort": ports[h.name][2379]} for h in handles}, indent=1))
        self.lb = APILoadBalancer([Backend("127.0.0.1", ports[n][6443]) for n in self.nodes],
                                  ca_pem=self.pki.ca_pem().decode(), port=self._lb_port,
                                  extra_hosts=tuple(self.extra_hosts),
                                  forwards=ingress_forwards(self.ingress_ports, [
                                      [ports[n].get(INGRESS_HTTP_PORT), ports[n].get(INGRESS_HTTPS_PORT)]
                                      for n in self.nodes], self.ingress_socks))
        await self.lb.start()
        # the control-plane view's API servers (in the containers) reach the LB's stats on the gateway
        stats_host = self.extra_hosts[0] if self.extra_hosts else "127.0.0.1"
        (members_dir / APILB_FILE).write_text(json.dumps({"url": self.lb.url,
                                                         "stats": f"{stats_host}:{self.lb.stats_port}"}))
        progress("apiserver", f"API load balancer on {self.lb.url} (and {', '.join(self.extra_hosts)} for the "
                              f"nodes): over {len(self.nodes)} API servers by /readyz")
        # no wait here: the worker nodes are created while the control planes boot (wait_ready, after)
        self.apiserver = _Served(self.lb.url, self.lb.port)
        self._write_etcd_endpoint_docker(ports)
        write_kubeconfig(self.kubeconfig_path, self.settings.name, self.lb.url, self.pki.ca_pem(),
                         self.authenticator.admin_token())
        ctx = ssl.create_default_context(cadata=self.pki.ca_pem().decode())
        self.client = HTTPClient(self.lb.url, token=self.authenticator.admin_token(), ssl_context=ctx)

    async def wait_ready(self, progress: Progress = lambda p, d: None, timeout: float = 180.0) -> None:
        """Until every API server answers /readyz (the first alone bootstraps the store, then the others)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        said: set[int] = set()
        while not all(b.healthy for b in self.lb.backends):
            for i, b in enumerate(self.lb.backends):
                if b.healthy and i not in said:
                    said.add(i)
                    progress(self.nodes[i], f"{self.nodes[i]}'s API server is ready")
            if loop.time() > deadline:
                down = [self.nodes[i] for i, b in enumerate(self.lb.backends) if not b.healthy]
                raise TimeoutError(f"control plane(s) {', '.join(down)} not ready within {timeout:.0f}s; see "
                                   f"{self.state_dir / MEMBERS_DIR}/<node>.log and <node>/etcd.log")
            await asyncio.sleep(0.05)
        if self.service_lb is None:
            await self._start_service_lb()

    async def _start_service_lb(self) -> None:
        """LoadBalancer Services' listeners on this machine's 127.0.0.1, to the nodes' NodePorts (the single
        control plane's service controller, run here: one process, so no Lease to elect it)."""
        from kubetui.client.record import EventRecorder
        from kubetui.controllers.manager import ControllerManager
        from kubetui.providers.lb import LoadBalancerController
        cm = ControllerManager(self.client, timings=self.settings.timing_preset, controllers=[])
        lb = LoadBalancerController(self.client, cm.factory, clock=cm.timer_clock, timings=self.settings.timing_preset,
                                    recorder=EventRecorder(self.client, LoadBalancerController.component),
                                    backends="nodeports")
        cm.controllers[LoadBalancerController.name] = lb
        await cm.start()
        self.service_lb = cm

    def _write_etcd_endpoint_docker(self, ports: dict[str, dict[int, int]]) -> None:
        """``<state>/etcd.json``: every member's client port as published on 127.0.0.1 (etcdctl takes the list)."""
        pki = self.state_dir / "pki"
        endpoints = {n: f"https://127.0.0.1:{ports[n][2379]}" for n in self.nodes}
        containers = read_docker_nodes(self.state_dir)
        doc = {"endpoint": ",".join(endpoints.values()), "cacert": str(pki / "ca.crt"),
               "cert": str(pki / "apiserver-etcd-client.crt"), "key": str(pki / "apiserver-etcd-client.key"),
               "members": {n: {"endpoint": e, "container": containers.get(n, {}).get("container"),
                               "dataDir": "/var/lib/etcd/data"} for n, e in endpoints.items()}}
        (self.state_dir / ETCD_ENDPOINT_FILE).write_text(json.dumps(doc, indent=2))

    def _kubelet_config(self, name: str) -> NodeConfig:
        """A control-plane node's kubelet goes through the load balancer on the gateway, as the workers'."""
        api_host = self.extra_hosts[0] if self.extra_hosts else "127.0.0.1"
        return NodeConfig(name=name, api_url=f"https://{api_host}:{self._lb_port}",
                          token=self.authenticator.node_token(name), ca_pem=self.pki.ca_pem().decode(),
                          timings=self.settings.timing_preset, cpus=self.settings.node_cpus,
                          memory=self.settings.node_memory)

    async def start_kubelet(self, provider: Any, name: str, api_host: str) -> None:
        """Already running: the container's supervisor started it with the node."""

    async def stop(self) -> None:
        """Stop what runs in this process (the load balancer, the client); the containers stay, as worker
        nodes do, until ``kubetui down`` removes them with their volumes."""
        if self.service_lb is not None:
            try:
                await asyncio.wait_for(self.service_lb.stop(), 10)
            except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - stopping: its listeners close with us
                log.warning("stopping the LoadBalancer Services' controller", exc_info=True)
        if self.client is not None:
            await self.client.close()
        if self.lb is not None:
            await self.lb.stop()
        self.close_ingress_sockets()
        (self.state_dir / ETCD_ENDPOINT_FILE).unlink(missing_ok=True)
