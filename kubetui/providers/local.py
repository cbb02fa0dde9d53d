"""The local provider: each node is a kubelet process on this machine (no Docker).

The same kubelet a Docker node runs (``python3 -m kubetui.kubelet``), started
as a local process per node with the plain-process runtime, so kubetui works
on a machine without Docker. What that costs is said once, when the first
node starts: pods are ordinary processes, with no network/mount/UTS/PID
namespaces and no cgroups (memory limits are not enforced, nothing is ever
OOMKilled). Each pod still gets its own address on this machine's loopback
(Linux routes all of 127.0.0.0/8 there), in ranges this cluster owns alone:
every local cluster of the machine gets its own *block* when it starts
(``kubetui.providers.loopback``, as each Kubernetes cluster has its own
``--cluster-cidr``; kind isolates clusters with network namespaces instead).
With block P: node N's kubelet listens on ``127.P.0.N`` and its pods bind
``127.P.N.x`` (``kubetui.agent.loopback``).

State lives in ``<state_dir>/nodes/<name>/``: ``kubelet.pid``, ``kubelet.log``,
the token and CA files, and the kubelet's root dir.

Services: ONE kube-proxy in userspace mode serves the whole cluster
(``<state_dir>/kube-proxy/``), since every node shares this machine's
loopback: a ClusterIP ``10.96.A.B`` (the cluster's Service range is kind's
10.96.0.0/16) answers at ``127.S.A.B`` (S = P + 1) on the Service's port, and a
NodePort at every node's ``127.P.0.N:<nodePort>``. It is started with the first
node's name, so a Service with ``internalTrafficPolicy: Local`` only uses
that node's endpoints. There is no cluster DNS for local pods: they share this
machine's ``/etc/resolv.conf`` (and its port 53), so names of Services do not
resolve inside them; they use the 127.S.A.B address instead.

The block's claim is a lock file every process of the cluster holds (this one,
each kubelet, the kube-proxy): while any runs, no other local cluster gets the
block; once all are gone, the block is free again, however they died.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from kubetui.agent.loopback import LoopbackBlock
from kubetui.netutil import free_port
from kubetui.providers import loopback
from kubetui.providers.base import NodeConfig, NodeHandle, Provider

log = logging.getLogger(__name__)

_WARNED = False
_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False


def _is_our_kubelet(pid: int, node_name: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return _pid_alive(pid)        # no /proc (macOS): trust the pid file
    return b"kubetui.kubelet" in argv and node_name.encode() in argv and _pid_alive(pid)


def _is_ours(pid: int, module: bytes, cwd: Path) -> bool:
    """``pid`` runs ``python -m <module>`` from ``cwd`` (not a recycled pid)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
        return module in argv and os.path.realpath(f"/proc/{pid}/cwd") == str(cwd.resolve()) and _pid_alive(pid)
    except OSError:
        return _pid_alive(pid)        # no /proc (macOS): trust the pid file


def loopback_pod_cidr(block: LoopbackBlock, pod_cidr: str | None, index: int) -> str:
    """``10.244.3.0/24`` -> ``127.P.3.0/24``: the node's pod range, moved into the cluster's block.

    Without a podCIDR (or with 10.244.0.0/24, whose 127.P.0.0/24 holds the nodes), the node's index says which.
    """
    if pod_cidr:
        third = int(ipaddress.ip_network(pod_cidr, strict=False).network_address) >> 8 & 0xFF
        if third:
            return block.pod_cidr(third)
    return block.pod_cidr(index)


class LocalProvider(Provider):
    name = "local"
    description = "nodes are local processes (no Docker): pods are plain processes without container isolation"

    def __init__(self, cluster) -> None:
        super().__init__(cluster)
        self._procs: dict[str, subprocess.Popen] = {}
        self._proxy: subprocess.Popen | None = None
        self._claim: loopback.Claim | None = None

    @property
    def block(self) -> LoopbackBlock:
        """This cluster's loopback block, claimed (machine-wide) on first use and held while this process runs."""
        if self._claim is None:
            self._claim = loopback.claim(self.cluster.state_dir)
            log.info("local cluster %s owns loopback block %s (pods, nodes) and %s (Services)",
                     self.cluster.name, self._claim.block.pod_range, self._claim.block.service_range)
        return self._claim.block

    async def prepare(self) -> list[str]:
        self.block           # before the control plane starts: it names the load balancer's address
        return []

    @property
    def nodes_dir(self) -> Path:
        return Path(self.cluster.state_dir) / "nodes"

    def _dir(self, name: str) -> Path:
        return self.nodes_dir / name

    def _pid(self, name: str) -> int | None:
        try:
            return int((self._dir(name) / "kubelet.pid").read_text())
        except (OSError, ValueError):
            return None

    def _running(self, name: str) -> int | None:
        proc = self._procs.get(name)
        if proc is not None:
            if proc.poll() is None:
                return proc.pid      # our own child (its cmdline may not show the exec yet)
            self._procs.pop(name, None)
        pid = self._pid(name)
        return pid if pid and _is_our_kubelet(pid, name) else None

    def _index(self, name: str) -> int:
        f = self._dir(name) / "index"
        if f.exists():
            return int(f.read_text())
        used = set()
        for d in self.nodes_dir.glob("*/index"):
            try:
                used.add(int(d.read_text()))
            except ValueError:
                pass
        i = next(i for i in range(1, 10_000) if i not in used)
        f.write_text(str(i))
        return i

    def node_ip(self, index: int) -> str:
        # distinct loopback addresses need Linux; elsewhere every node is 127.0.0.1
        return self.block.node_ip(index) if sys.platform.startswith("linux") else "127.0.0.1"

    def _node_ips(self) -> list[str]:
        ips = []
        for f in sorted(self.nodes_dir.glob("*/index")):
            try:
                ips.append(self.node_ip(int(f.read_text())))
            except ValueError:
                pass
        return sorted(set(ips)) or ["127.0.0.1"]

    async def start_node(self, node: NodeConfig) -> NodeHandle:
        global _WARNED
        if not _WARNED:
            _WARNED = True
            log.warning("kubetui is using the local provider: %s. Namespaces, cgroups (memory limits, "
                        "OOMKilled) and per-pod filesystems need the Docker provider.", self.description)
        d = self._dir(node.name)
        d.mkdir(parents=True, exist_ok=True)
        index = self._index(node.name)
        ip = self.node_ip(index)
        pid = self._running(node.name)
        if pid:
            return NodeHandle(node.name, self.name, ip, "running", self._details(node.name, pid))
        token_file, ca_file = d / "token", d / "ca.crt"
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(node.token)
        ca_file.write_text(node.ca_pem)
        labels = ",".join(f"{k}={v}" for k, v in node.labels.items())
        argv = [sys.executable, "-m", "kubetui.kubelet", "--api-server", node.api_url,
                "--token-file", str(token_file), "--ca-file", str(ca_file), "--node-name", node.name,
                "--node-ip", ip, "--address", ip, "--port", "0", "--root-dir", str(d / "kubelet"),
                "--runtime", "process", "--pod-cidr", loopback_pod_cidr(self.block, node.pod_cidr, index),
                "--cpus", str(node.cpus), "--memory", node.memory, "--max-pods", str(node.max_pods),
                "--timings", json.dumps(node.timings.as_dict())]
        if labels:
            argv += ["--node-labels", labels]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
        lock_fds = self._lock_fds()
        if lock_fds:        # the kubelet hands it on to its pods (kubetui/kubelet/__main__.py)
            env["KUBETUI_LOOPBACK_LOCK_FD"] = str(lock_fds[0])
        with open(d / "kubelet.log", "ab") as logf:
            # the kubelet inherits the block's lock: the block stays this cluster's while the node runs
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                    env=env, start_new_session=True, cwd=str(d), pass_fds=lock_fds)
        self._procs[node.name] = proc
        (d / "kubelet.pid").write_text(str(proc.pid))
        (d / "node.json").write_text(json.dumps({"name": node.name, "ip": ip, "argv": argv}))
        log.info("started node %s: kubelet pid %d, log %s", node.name, proc.pid, d / "kubelet.log")
        return NodeHandle(node.name, self.name, ip, "running", self._details(node.name, proc.pid))

    def _lock_fds(self) -> tuple[int, ...]:
        self.block
        return (self._claim.fd,) if self._claim is not None and self._claim.fd >= 0 else ()

    def _details(self, name: str, pid: int | None) -> dict:
        return {"pid": pid, "log": str(self._dir(name) / "kubelet.log"),
                "runtime": "process (no isolation)"}

    async def stop_node(self, name: str) -> None:
        pid = self._running(name)
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)     # the kubelet stops its pods, then exits
            except ProcessLookupError:
                pass
            for _ in range(100):
                if not _pid_alive(pid):
                    break
                await asyncio.sleep(0.1)
            else:
                log.warning("kubelet of node %s did not stop in 10s: SIGKILL", name)
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass
        proc = self._procs.pop(name, None)
        if proc is not None:
            await asyncio.to_thread(proc.wait)
        # whatever a killed kubelet left running dies with the node
        root = self._dir(name) / "kubelet" / "runtime"
        if (root / "pods").exists():
            from kubetui.runtime.process import ProcessRuntime
            ProcessRuntime(root, node_name=name).cleanup_leftovers()
        (self._dir(name) / "kubelet.pid").unlink(missing_ok=True)

    # -- the cluster's one userspace kube-proxy ---------------------------------
    @property
    def proxy_dir(self) -> Path:
        return Path(self.cluster.state_dir) / "kube-proxy"

    def _proxy_running(self) -> int | None:
        if self._proxy is not None and self._proxy.poll() is None:
            return self._proxy.pid
        try:
            pid = int((self.proxy_dir / "kube-proxy.pid").read_text())
        except (OSError, ValueError):
            return None
        return pid if _is_ours(pid, b"kubetui.proxy", self.proxy_dir) else None

    async def start_proxy(self, api_url: str, token: str, ca_pem: str, node_name: str) -> str:
        """Start (or find) the cluster's kube-proxy; returns where it serves /traffic (``host:port``)."""
        d = self.proxy_dir
        d.mkdir(parents=True, exist_ok=True)
        info = d / "proxy.json"
        if self._proxy_running() and info.exists():
            return json.loads(info.read_text())["metrics"]
        fd = os.open(d / "token", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token)
        (d / "ca.crt").write_text(ca_pem)
        metrics = f"127.0.0.1:{free_port()}"
        argv = [sys.executable, "-m", "kubetui.proxy", "--mode", "userspace", "--api-server", api_url,
                "--token-file", str(d / "token"), "--ca-file", str(d / "ca.crt"), "--node-name", node_name,
                "--metrics-bind-address", metrics, "--nodeport-address", ",".join(self._node_ips()),
                "--service-address-range", self.block.service_range]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
        with open(d / "kube-proxy.log", "ab") as logf:
            self._proxy = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                           env=env, start_new_session=True, cwd=str(d), pass_fds=self._lock_fds())
        (d / "kube-proxy.pid").write_text(str(self._proxy.pid))
        info.write_text(json.dumps({"metrics": metrics, "argv": argv}))
        log.info("started kube-proxy (userspace) pid %d, log %s", self._proxy.pid, d / "kube-proxy.log")
        return metrics

    async def stop_proxy(self) -> None:
        pid = self._proxy_running()
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            for _ in range(50):
                if not _pid_alive(pid):
                    break
                await asyncio.sleep(0.1)
            else:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        if self._proxy is not None:
            await asyncio.to_thread(self._proxy.wait)
            self._proxy = None
        (self.proxy_dir / "kube-proxy.pid").unlink(missing_ok=True)

    async def list_nodes(self) -> list[NodeHandle]:
        out = []
        if not self.nodes_dir.exists():
            return out
        for d in sorted(p for p in self.nodes_dir.iterdir() if p.is_dir()):
            pid = self._running(d.name)
            ip = None
            try:
                ip = json.loads((d / "node.json").read_text()).get("ip")
            except (OSError, ValueError):
                pass
            out.append(NodeHandle(d.name, self.name, ip, "running" if pid else "stopped",
                                  self._details(d.name, pid)))
        return out

    async def delete(self, purge: bool = False) -> None:
        for h in await self.list_nodes():
            await self.stop_node(h.name)
        await self.stop_proxy()
        if purge:
            shutil.rmtree(self.nodes_dir, ignore_errors=True)
        self._release()

    def _release(self) -> None:
        # this process's hold on the block: the nodes and kube-proxy still running keep theirs
        if self._claim is not None:
            self._claim.close()
            self._claim = None

    async def close(self) -> None:
        # The nodes keep running (like Docker containers outlive the CLI); only reap exited children.
        for name, proc in list(self._procs.items()):
            if proc.poll() is not None:
                self._procs.pop(name, None)
        self._release()
