"""Several control-plane nodes: an etcd cluster, N API servers behind a load balancer, elected leaders.

Upstream this is kubeadm's "stacked etcd" topology (``kubeadm init`` then
``kubeadm join --control-plane``): every control-plane node runs an etcd
member, kube-apiserver, kube-scheduler and kube-controller-manager; the etcd
members form one raft cluster (peer traffic TLS from the cluster CA); a TCP
load balancer in front of the API servers is the address in every kubeconfig,
kubelet and kube-proxy; the schedulers and controller managers each elect one
leader through a Lease in ``kube-system``.

kubetui's ``kubetui up --control-planes N --store etcd`` (local provider) plays
it with processes: this module, in the cluster's process, starts the N etcd
members, then N control-plane processes (``kubetui.cluster.member``: API
server + scheduler + controller manager each, own pid and log under
``<state>/control-planes/``), then the load balancer (``cluster/apilb.py``).
Killing one control-plane process (``kill -9``) is a control-plane node
failure: the load balancer stops sending it requests (its ``/readyz`` stops
answering) and, if it held a Lease, another one takes it once it has run out.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from kubetui.apiserver.auth import TokenAuthenticator
from kubetui.apiserver.certs import ensure_pki
from kubetui.apiserver.etcdcerts import ETCD_ENDPOINT_FILE, ensure_etcd_certs
from kubetui.client.http import HTTPClient
from kubetui.client.kubeconfig import write_kubeconfig
from kubetui.cluster.apilb import APILoadBalancer, Backend, Forward
from kubetui.cluster.settings import ClusterSettings, Progress
from kubetui.netutil import free_port, listening_socket, port_free
from kubetui.providers.base import NodeConfig
from kubetui.store.etcdserver import EtcdServer, EtcdTLS

log = logging.getLogger(__name__)

MEMBERS_DIR = "control-planes"
ETCD_PORTS_FILE = "etcd-members.json"
#: ``<state>/control-planes/apilb.json``: the API load balancer's URL and its stats address (host:port)
APILB_FILE = "apilb.json"
#: Docker control-plane nodes (cluster/hadocker.py): each container's published ports
DOCKER_NODES_FILE = "docker-nodes.json"
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
#: how long a stopping member may take before SIGKILL when the whole cluster stops
ETCD_STOP_TIMEOUT = 3.0


def member_names(cluster: str, n: int) -> list[str]:
    """kind's control-plane node names: ``<cluster>-control-plane``, ``...-control-plane2``, ..."""
    return [f"{cluster}-control-plane{'' if i == 1 else i}" for i in range(1, n + 1)]


def initial_cluster(members: list[EtcdServer]) -> str:
    """etcd's ``--initial-cluster``: ``name=peerURL`` of every member, comma-separated."""
    return ",".join(f"{m.name}={m.peer_url}" for m in members)


def member_file(state_dir: Path, node: str) -> Path:
    """``<state>/control-planes/<node>.json``: the control-plane process's pid, API server URL and phase."""
    return state_dir / MEMBERS_DIR / f"{node}.json"


def read_members(state_dir: Path) -> dict[str, dict[str, Any]]:
    """Every control-plane process's record (for faults and tests): node name -> its JSON."""
    out = {}
    for p in sorted((state_dir / MEMBERS_DIR).glob("*.json")):
        if p.name in (ETCD_PORTS_FILE, APILB_FILE, DOCKER_NODES_FILE):
            continue
        try:
            out[p.stem] = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
    return out


@dataclass
class _Served:
    """What the rest of kubetui reads as ``control_plane.apiserver``: the load balancer's address."""

    url: str
    port: int


class HAControlPlane:
    """N control-plane processes on an N-member etcd cluster, behind one API load balancer."""

    def __init__(self, settings: ClusterSettings, state_dir: Path, *, clock: Any = None,
                 extra_hosts: tuple[str, ...] = ()) -> None:
        self.settings = settings
        self.state_dir = state_dir
        self.extra_hosts = extra_hosts
        self.nodes = member_names(settings.name, settings.control_planes)
        self.etcd_members: list[EtcdServer] = []
        self.procs: dict[str, subprocess.Popen] = {}
        self.lb: APILoadBalancer | None = None
        self.apiserver: _Served | None = None
        self.client: HTTPClient | None = None
        self.authenticator: TokenAuthenticator | None = None
        self.pki: Any = None
        self.ingress_dataplane = None
        #: the cluster's ingress HTTP and HTTPS ports on 127.0.0.1: the load balancer's, in front of every
        #: control-plane node's ingress data plane (chosen before the nodes start: their Ingress status names them)
        self.ingress_ports: tuple[int, int] | None = None
        #: the listening sockets of ``ingress_ports`` until the load balancer serves them
        self.ingress_socks: list[socket.socket] = []
        self.proxy_metrics: list[str] | None = None

    @property
    def kubeconfig_path(self) -> Path:
        return self.state_dir / "kubeconfig"

    @property
    def etcd_servers(self) -> str:
        return ",".join(m.endpoint for m in self.etcd_members)

    async def start(self, progress: Progress = lambda p, d: None) -> None:
        (self.state_dir / MEMBERS_DIR).mkdir(parents=True, exist_ok=True)
        self.pki = ensure_pki(self.state_dir, self.settings.name, list(self.extra_hosts))
        tls = ensure_etcd_certs(self.pki)
        progress("etcd", f"starting etcd: {len(self.nodes)} members, one per control-plane node "
                         "(raft: a write commits once a majority has it)")
        self.etcd_members = self._etcd_members(tls)
        await asyncio.gather(*(asyncio.to_thread(m.start, 60) for m in self.etcd_members))
        self._write_etcd_endpoint(tls)
        # The first control plane alone bootstraps the store (namespaces, RBAC, the kubernetes
        # Service) and issues the serving certificate; the others join what it wrote.
        self.choose_ingress_ports()
        first, *rest = self.nodes
        progress(first, f"starting control plane {first}: API server, scheduler, controller manager")
        await self.start_member(first)
        for node in rest:
            progress(node, f"starting control plane {node} (joins the etcd cluster's state)")
        await asyncio.gather(*(self.start_member(n) for n in rest))
        self.authenticator = TokenAuthenticator.for_state_dir(self.state_dir)
        port = self.settings.api_port if port_free(self.settings.api_port) else 0
        records = read_members(self.state_dir)
        self.lb = APILoadBalancer([Backend("127.0.0.1", int(records[n]["port"])) for n in self.nodes],
                                  ca_pem=self.pki.ca_pem().decode(), port=port,
                                  forwards=ingress_forwards(self.ingress_ports, [
                                      records[n].get("ingressPorts") or [None, None] for n in self.nodes],
                                      self.ingress_socks))
        await self.lb.start()
        (self.state_dir / MEMBERS_DIR / APILB_FILE).write_text(json.dumps(
            {"url": self.lb.url, "stats": f"127.0.0.1:{self.lb.stats_port}"}))
        # a backend comes in after RISE good /readyz checks in a row: wait for it, as kubeadm waits for its LB
        for _ in range(200):
            if any(b.healthy for b in self.lb.backends):
                break
            await asyncio.sleep(self.lb.interval / 2)
        self.apiserver = _Served(self.lb.url, self.lb.port)
        progress("apiserver", f"API load balancer on {self.lb.url}: over {len(self.nodes)} API servers by /readyz")
        write_kubeconfig(self.kubeconfig_path, self.settings.name, self.lb.url, self.pki.ca_pem(),
                         self.authenticator.admin_token())
        ctx = ssl.create_default_context(cadata=self.pki.ca_pem().decode())
        self.client = HTTPClient(self.lb.url, token=self.authenticator.admin_token(), ssl_context=ctx)

    def choose_ingress_ports(self) -> None:
        """The cluster's ingress ports, chosen as the API port is: the remembered ones, free ones if those are
        taken; kept in cluster.json, which the control-plane nodes read for their Ingresses' status.

        Held from now on (listening sockets the load balancer serves later): the members start in between,
        for seconds, and another cluster starting meanwhile took a port that was only checked free here
        (this start then failed with 'address already in use')."""
        self.close_ingress_sockets()
        socks = []
        for p in (self.settings.ingress_http_port, self.settings.ingress_https_port):
            try:
                socks.append(listening_socket(p or 0))
            except OSError:
                socks.append(listening_socket(0))
        self.ingress_socks = socks
        ports = tuple(s.getsockname()[1] for s in socks)
        if ports != (self.settings.ingress_http_port, self.settings.ingress_https_port):
            log.warning("ingress ports %s taken: the load balancer listens on %s instead",
                        (self.settings.ingress_http_port, self.settings.ingress_https_port), ports)
            self.settings.ingress_http_port, self.settings.ingress_https_port = ports
            self.settings.save(self.state_dir)
        self.ingress_ports = (ports[0], ports[1])

    def close_ingress_sockets(self) -> None:
        """Let go of ports ``choose_ingress_ports`` holds and no load balancer serves (a failed start)."""
        served = {fw.sock for fw in (self.lb.forwards if self.lb is not None else [])}
        for sock in self.ingress_socks:
            if sock not in served:
                sock.close()
        self.ingress_socks = []

    def _etcd_members(self, tls: Any) -> list[EtcdServer]:
        """The members, on the ports they were created with (their data dirs remember their peers)."""
        ports_file = self.state_dir / MEMBERS_DIR / ETCD_PORTS_FILE
        try:
            ports = json.loads(ports_file.read_text())
        except (OSError, ValueError):
            ports = {}
        members = []
        for node in self.nodes:
            client_port, peer_port = ports.get(node) or (free_port(), free_port())
            ports[node] = [client_port, peer_port]
            d = self.state_dir / MEMBERS_DIR / node
            members.append(EtcdServer(d / "etcd", client_port, peer_port, d / "etcd.log", name=node, tls=tls,
                                      pid_path=d / "etcd.pid", initial_cluster="-"))
        ports_file.write_text(json.dumps(ports))
        for m in members:
            m.initial_cluster = initial_cluster(members)
        return members

    def _write_etcd_endpoint(self, tls: Any) -> None:
        """``<state>/etcd.json`` as for one member, with every member's endpoint (etcdctl takes the list)."""
        doc = {"endpoint": self.etcd_servers, "cacert": str(tls.ca), "cert": str(tls.client_cert),
               "key": str(tls.client_key), "members": {m.name: {"endpoint": m.endpoint, "pid": m.proc.pid,
                                                               "dataDir": str(m.data_dir)}
                                                      for m in self.etcd_members}}
        (self.state_dir / ETCD_ENDPOINT_FILE).write_text(json.dumps(doc, indent=2))

    async def start_member(self, node: str) -> None:
        """Start one control-plane process and wait until its API server is ready."""
        self.procs[node] = await spawn_member(self.state_dir, node, self.etcd_servers, self.extra_hosts)

    async def mark_control_plane(self, node: str) -> None:
        """kubeadm's ``mark-control-plane`` phase: the label and taint a kubelet may not set on itself
        (the NodeRestriction admission plugin forbids node-role labels), patched by the installer."""
        await self.client.patch("nodes", node, {
            "metadata": {"labels": {CONTROL_PLANE_LABEL: "", "node.kubernetes.io/exclude-from-external-load-balancers": ""}},
            "spec": {"taints": [{"key": CONTROL_PLANE_LABEL, "effect": "NoSchedule"}]}})

    async def start_kubelet(self, provider: Any, name: str, api_host: str) -> None:
        """A kubelet on control-plane node ``name``: a node of the provider's (a local process here)."""
        await provider.start_node(self.node_config(name, api_host))

    def node_config(self, name: str, api_host: str) -> NodeConfig:
        assert self.authenticator is not None and self.apiserver is not None
        return NodeConfig(name=name, api_url=f"https://{api_host}:{self.apiserver.port}",
                          token=self.authenticator.node_token(name), ca_pem=self.pki.ca_pem().decode(),
                          timings=self.settings.timing_preset, cpus=self.settings.node_cpus,
                          memory=self.settings.node_memory)

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.close()
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # releases its Leases and closes its store
        for node, proc in self.procs.items():
            try:
                await asyncio.to_thread(proc.wait, 30)
            except subprocess.TimeoutExpired:
                log.warning("control plane %s did not stop in 30s: killing it", node)
                proc.kill()
        # members restarted by a fault's revert are no children of this process: stop them by their records,
        # and wait for them as for the others, before etcd goes (one still closing its store when etcd
        # vanished under it hung in its shutdown and outlived `kubetui down`)
        others = {node: int(rec["pid"]) for node, rec in read_members(self.state_dir).items()
                  if rec.get("phase") != "stopped" and member_alive(rec, node)}
        for pid in others.values():
            kill_pid(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while others and time.monotonic() < deadline:
            others = {n: p for n, p in others.items() if member_alive({"pid": p}, n)}
            await asyncio.sleep(0.1)
        for node, pid in others.items():
            log.warning("control plane %s did not stop in 30s: killing it", node)
            kill_pid(pid, signal.SIGKILL)
        if self.lb is not None:
            await self.lb.stop()
        self.close_ingress_sockets()
        # The whole etcd cluster stops at once. A member that leads when its peers have gone tries to
        # hand its leadership over on SIGTERM and waits etcd's request timeout (7 s) for nobody; its
        # writes are already in its fsynced WAL (what kill -9 relies on too), so 3 s are enough.
        def stop_member(m: EtcdServer) -> None:
            m.stop(ETCD_STOP_TIMEOUT)
            m._stop_stale(ETCD_STOP_TIMEOUT)  # one a fault's revert restarted (its pid file)
        await asyncio.gather(*(asyncio.to_thread(stop_member, m) for m in self.etcd_members))
        (self.state_dir / ETCD_ENDPOINT_FILE).unlink(missing_ok=True)


def ingress_forwards(ports: tuple[int, int] | None, per_node: list[list[int | None]],
                     socks: Sequence[socket.socket] = ()) -> list[Forward]:
    """The load balancer's ingress frontends: the cluster's HTTP and HTTPS ports, each to the same listener
    (HTTP: the first, HTTPS: the second of ``per_node[i]``) on every control-plane node (``socks``: the
    ports' listening sockets, held since they were chosen)."""
    if ports is None:
        return []
    return [Forward(ports[k], [node[k] for node in per_node], sock=socks[k] if socks else None) for k in (0, 1)]


def kill_pid(pid: int, sig: int = signal.SIGKILL) -> bool:
    """Signal a process; False if it is gone already."""
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


def member_alive(rec: dict[str, Any], node: str) -> bool:
    """Whether the recorded control-plane process still runs (and is that member, not a reused pid)."""
    try:
        cmdline = Path(f"/proc/{int(rec['pid'])}/cmdline").read_bytes().split(b"\0")
        stat = Path(f"/proc/{int(rec['pid'])}/stat").read_text()
    except (OSError, ValueError, KeyError):
        return False
    return node.encode() in cmdline and stat.rpartition(")")[2].split()[0] != "Z"


async def spawn_member(state_dir: Path, node: str, etcd_servers: str, extra_hosts: tuple[str, ...] = (), *,
                       port: int = 0, timeout: float = 120.0) -> subprocess.Popen:
    """Start the control-plane process of ``node`` (detached) and wait until its API server is ready.
    A restarted one keeps its ingress data plane's ports: the host's load balancer forwards to them."""
    rec = member_file(state_dir, node)
    try:
        ingress = json.loads(rec.read_text()).get("ingressPorts") or [0, 0]
    except (OSError, ValueError):
        ingress = [0, 0]
    rec.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "kubetui.cluster.member", "--state-dir", str(state_dir),
            "--node", node, "--etcd-servers", etcd_servers, "--ingress-ports", f"{ingress[0]},{ingress[1]}"]
    if port:
        argv += ["--port", str(port)]
    for h in extra_hosts:
        argv += ["--extra-host", h]
    with open(state_dir / MEMBERS_DIR / f"{node}.log", "ab") as logf:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                start_new_session=True)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"control plane {node} exited with {proc.returncode}; see "
                               f"{state_dir / MEMBERS_DIR / (node + '.log')}")
        try:
            if json.loads(rec.read_text()).get("phase") == "ready":
                return proc
        except (OSError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"control plane {node} not ready within {timeout:.0f}s")
        await asyncio.sleep(0.1)


def etcd_tls(state_dir: Path) -> EtcdTLS:
    """The certificates the cluster issued for etcd (kubeadm's names): read, never reissued here."""
    return EtcdTLS.in_pki(state_dir / "pki")


async def wait_to_join(state_dir: Path, etcd_servers: str, after: str = "", timeout: float = 300.0) -> None:
    """Before a control-plane process opens its store: until an etcd member answers ``/health`` and, with
    ``after``, until that node's control plane is ready (it bootstraps the store alone: kubeadm's ``init``
    before ``join --control-plane``). Started early, the process has its imports done by then."""
    member = EtcdServer(Path("/nonexistent"), 0, 0, Path("/nonexistent"), tls=etcd_tls(state_dir))
    urls = etcd_servers.split(",")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout

    def etcd_up() -> bool:
        for url in urls:
            member.host, _, port = url.partition("://")[2].rpartition(":")
            member.client_port = int(port)
            if member.healthy():
                return True
        return False

    def first_ready() -> bool:
        try:
            return not after or json.loads(member_file(state_dir, after).read_text()).get("phase") == "ready"
        except (OSError, ValueError):
            return False

    while not (await asyncio.to_thread(etcd_up) and first_ready()):
        if loop.time() > deadline:
            raise TimeoutError(f"etcd ({etcd_servers}) or control plane {after or '-'} not ready in {timeout:.0f}s")
        await asyncio.sleep(0.05)


def etcd_member(state_dir: Path, node: str) -> EtcdServer:
    """The etcd member of control-plane ``node`` as it was created (ports, data dir, peers, certificates)."""
    ports = json.loads((state_dir / MEMBERS_DIR / ETCD_PORTS_FILE).read_text())
    tls = etcd_tls(state_dir)
    members = []
    for name, (client_port, peer_port) in ports.items():
        d = state_dir / MEMBERS_DIR / name
        members.append(EtcdServer(d / "etcd", client_port, peer_port, d / "etcd.log", name=name, tls=tls,
                                  pid_path=d / "etcd.pid", initial_cluster="-"))
    for m in members:
        m.initial_cluster = initial_cluster(members)
    return next(m for m in members if m.name == node)


def etcd_pid(state_dir: Path, node: str) -> int | None:
    """The running etcd member's pid on ``node`` (its pid file, checked against /proc), else None."""
    d = state_dir / MEMBERS_DIR / node
    try:
        pid = int((d / "etcd.pid").read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    if str(d / "etcd").encode() not in cmdline or stat.rpartition(")")[2].split()[0] == "Z":
        return None
    return pid
