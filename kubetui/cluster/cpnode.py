"""A control-plane node container's supervisor: what the kubelet does with kubeadm's static pods.

Upstream a kubeadm control-plane node's kubelet runs the manifests in
``/etc/kubernetes/manifests`` (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler) as static pods and restarts them when they die. In a kubetui
control-plane container (``kubetui up --control-planes N --provider docker``;
the image is ``kubetui/control-plane``, its entrypoint ``python3 -m
kubetui.cluster.cpnode``) this process plays that part:

1. it starts the node agents (kubelet, kube-proxy, policy agent) through the
   node image's own entrypoint, with the kubelet arguments the container was
   created with;
2. it starts the node's etcd member (data on the node's ``/var/lib/etcd``
   volume; listening on 0.0.0.0, advertising ``https://<node>:2379/2380``, a
   name its peers resolve on the cluster's Docker network; TLS from the
   cluster CA in the state directory, mounted at the same path as on the host);
3. at the same time it starts the node's control-plane process
   (``kubetui.cluster.member``: API server on :6443 with the local etcd member
   as its store, kubeadm's ``--etcd-servers=https://127.0.0.1:2379``; scheduler
   and controller manager as Lease candidates), which does its imports, then
   waits for etcd (``--join``). On the node's first boot every node but the
   first also waits until the first one is ready: it bootstraps the store
   alone, as ``kubeadm init`` runs before ``kubeadm join --control-plane``;
4. it restarts whichever of the three exits, after a second, and stops them all
   on SIGTERM (``docker stop``). One that is *held* (``/run/kubetui/held/etcd`` or
   ``.../control-plane`` exists) stays down: what moving its manifest out of
   ``/etc/kubernetes/manifests`` does upstream. The control-plane faults hold
   and kill one, and their revert releases it (``faults/controlplane.py``).

Its settings are ``/etc/kubetui/control-plane.json``, copied in when the
container is created (``kubetui/providers/docker/controlplane.py``). It imports
only the standard library and etcd's runner, so it starts at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# only the standard library and etcd's runner: this process starts first, before anything it supervises
from kubetui.store.etcdserver import EtcdServer, EtcdTLS

log = logging.getLogger("kubetui.cpnode")

CONFIG = Path("/etc/kubetui/control-plane.json")
NODE_ENTRYPOINT = "/usr/local/bin/kubetui-node-entrypoint"
ETCD_DATA = Path("/var/lib/etcd")
API_PORT, ETCD_CLIENT_PORT, ETCD_PEER_PORT = 6443, 2379, 2380
#: a file per component (``etcd``, ``control-plane``) that must not be restarted; on /run, a tmpfs: a restarted
#: node starts everything again
HELD = Path("/run/kubetui/held")


def held(component: str) -> bool:
    return (HELD / component).exists()


def etcd_member(cfg: dict[str, Any]) -> EtcdServer:
    node = cfg["node"]
    return EtcdServer(ETCD_DATA / "data", ETCD_CLIENT_PORT, ETCD_PEER_PORT,
                      Path(cfg["logDir"]) / node / "etcd.log", name=node,
                      tls=EtcdTLS.in_pki(Path(cfg["stateDir"]) / "pki"), host=node,
                      listen_host="0.0.0.0", initial_cluster=cfg["initialCluster"])


def member_argv(cfg: dict[str, Any], own_ip: str, first_boot: bool) -> list[str]:
    """The control-plane process's command line (kube-apiserver's flags, as kubeadm writes them). It starts
    with etcd and waits for it (``--join``); on a first boot every node but the first waits for the first."""
    argv = [sys.executable, "-m", "kubetui.cluster.member", "--state-dir", cfg["stateDir"], "--node", cfg["node"],
            "--etcd-servers", f"https://127.0.0.1:{ETCD_CLIENT_PORT}", "--port", str(API_PORT),
            "--bind-address", own_ip, "--advertise-address", own_ip,
            "--join", cfg["first"] if first_boot and cfg["node"] != cfg["first"] else ""]
    for h in cfg.get("extraHosts") or []:
        argv += ["--extra-host", h]
    if cfg.get("ingressPorts"):  # on every address: the host's load balancer reaches it through the published ports
        argv += ["--ingress-address", "0.0.0.0", "--ingress-ports", ",".join(map(str, cfg["ingressPorts"]))]
    return argv


def own_address(node: str) -> str:
    """This container's address on the cluster network (Docker's DNS answers for the node name)."""
    for _ in range(50):
        try:
            return socket.gethostbyname(node)
        except OSError:
            time.sleep(0.1)
    return socket.gethostbyname(socket.gethostname())


class NodeSupervisor:
    """Start, watch and restart the node's agents, etcd member and control-plane process."""

    def __init__(self, cfg: dict[str, Any], kubelet_args: list[str]) -> None:
        self.cfg = cfg
        self.kubelet_args = kubelet_args
        self.state = Path(cfg["stateDir"])
        self.node = cfg["node"]
        self.etcd = etcd_member(cfg)
        self.agents: subprocess.Popen | None = None
        self.member: subprocess.Popen | None = None
        self.own_ip = ""
        self.first_boot = False
        self.stopping = asyncio.Event()

    def _start_agents(self) -> None:
        self.agents = subprocess.Popen([NODE_ENTRYPOINT, *self.kubelet_args], stdin=subprocess.DEVNULL)

    def _start_member(self) -> None:
        logf = open(Path(self.cfg["logDir"]) / f"{self.node}.log", "ab")
        with logf:
            self.member = subprocess.Popen(member_argv(self.cfg, self.own_ip, self.first_boot), stdin=subprocess.DEVNULL,
                                           stdout=logf, stderr=subprocess.STDOUT)

    async def run(self) -> None:
        (Path(self.cfg["logDir"]) / self.node).mkdir(parents=True, exist_ok=True)
        self.first_boot = not (ETCD_DATA / "data" / "member").exists()
        if self.first_boot:
            # the kubelet has nothing to do before an API server answers: on a new cluster its imports would
            # only slow the first control plane's start (every process here shares the machine's cores)
            asyncio.get_running_loop().create_task(self._agents_once_first_ready())
        else:
            self._start_agents()
        self.own_ip = await asyncio.to_thread(own_address, self.node)
        # the control-plane process starts with etcd and waits for it: its imports overlap etcd's election
        self._start_member()
        log.info("starting etcd member %s (%s) and the control-plane process (pid %d)", self.node,
                 self.etcd.peer_url, self.member.pid)
        await asyncio.to_thread(self.etcd.start, 300)
        self.first_boot = False  # a restarted control-plane process joins at once
        await self._supervise()

    async def _agents_once_first_ready(self, timeout: float = 60.0) -> None:
        record = Path(self.cfg["logDir"]) / f"{self.cfg['first']}.json"
        deadline = asyncio.get_running_loop().time() + timeout
        while not self.stopping.is_set() and asyncio.get_running_loop().time() < deadline:
            try:
                if json.loads(record.read_text()).get("phase") == "ready":
                    break
            except (OSError, ValueError):
                pass
            await asyncio.sleep(0.1)
        if not self.stopping.is_set():
            self._start_agents()

    async def _supervise(self) -> None:
        """The kubelet's restart of a static pod that exited (without CrashLoopBackOff's growth)."""
        while not self.stopping.is_set():
            try:
                await asyncio.wait_for(self.stopping.wait(), 1.0)
                return
            except asyncio.TimeoutError:
                pass
            if self.etcd.proc is not None and self.etcd.proc.poll() is not None and not held("etcd"):
                log.warning("etcd exited with %s: restarting it", self.etcd.proc.returncode)
                try:
                    await asyncio.to_thread(self.etcd.start, 300)
                except RuntimeError as e:
                    log.error("restarting etcd: %s", e)
            if self.member is not None and self.member.poll() is not None and not held("control-plane"):
                log.warning("the control-plane process exited with %s: restarting it", self.member.returncode)
                self._start_member()
            if self.agents is not None and self.agents.poll() is not None:
                log.warning("the node agents exited with %s: restarting them", self.agents.returncode)
                self._start_agents()

    async def stop(self) -> None:
        for proc in (self.member, self.agents):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # the member releases its Leases
        for proc in (self.member, self.agents):
            if proc is not None:
                try:
                    await asyncio.to_thread(proc.wait, 20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        await asyncio.to_thread(self.etcd.stop)


async def main_async(kubelet_args: list[str]) -> int:
    cfg = json.loads(CONFIG.read_text())
    sup = NodeSupervisor(cfg, kubelet_args)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, sup.stopping.set)
    runner = asyncio.create_task(sup.run())
    stop = asyncio.create_task(sup.stopping.wait())
    await asyncio.wait({runner, stop}, return_when=asyncio.FIRST_COMPLETED)
    rc = 0
    if runner.done() and not runner.cancelled() and runner.exception() is not None:
        log.error("control-plane node %s failed: %s", sup.node, runner.exception())
        rc = 1  # the container exits: `docker ps -a` and the member's log say why
    runner.cancel()
    stop.cancel()
    try:
        await runner
    except (asyncio.CancelledError, Exception):  # noqa: BLE001 - stopping: what it was doing no longer matters
        pass
    await sup.stop()
    return rc


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return asyncio.run(main_async(list(sys.argv[1:] if argv is None else argv)))


if __name__ == "__main__":
    raise SystemExit(main())
