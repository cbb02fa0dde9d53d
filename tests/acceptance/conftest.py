"""Whole clusters for the acceptance tests: a control plane with its scheduler
and controllers running, simulated nodes, and the REAL kubectl (and Python
client) talking to it over HTTPS, exactly as a learner's would.

Two ways to get one:

- ``start_cluster(state_dir, nodes=…)``: ``kubetui.cluster.Cluster`` with
  ``provider="simulated"`` inside the test's event loop (fast; the test can
  also reach ``cluster.provider`` to pause a node's heartbeats);
- ``Headless(state_dir).start()``: ``kubetui up --headless`` as a real
  process, for tests that kill and restart the control plane.

Every wait is a poll with a deadline (``eventually``), never a bare sleep.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable

from kubetui.cluster import Cluster, ClusterSettings
from kubetui.providers.base import NodeConfig


def kubectl_path() -> str:
    here = Path(sys.executable).parent / "kubectl"
    return str(here) if here.exists() else "kubectl"


async def run_kubectl(kubeconfig: Path, cache: Path, *args: str, stdin: bytes | None = None,
                      timeout: float = 30.0) -> tuple[int, str, str]:
    """Run the real kubectl as a subprocess without blocking the event loop."""
    env = dict(os.environ, HOME=str(cache.parent), KUBECACHEDIR=str(cache))
    proc = await asyncio.create_subprocess_exec(
        kubectl_path(), f"--kubeconfig={kubeconfig}", f"--cache-dir={cache}", *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"kubectl {' '.join(args)} did not finish in {timeout}s") from None
    return proc.returncode, out.decode(), err.decode()


async def eventually(probe: Callable[[], Awaitable[Any]], what: str, timeout: float = 10.0,
                     interval: float = 0.05) -> Any:
    """Poll ``probe`` until it returns something truthy (returned), or fail after ``timeout`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Any = None
    while True:
        last = await probe()
        if last:
            return last
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        await asyncio.sleep(interval)


@dataclass
class AccCluster:
    """A running whole cluster and the ways a learner reaches it."""

    cluster: Cluster
    kubeconfig: Path
    state_dir: Path

    @property
    def cp(self):
        return self.cluster.control_plane

    @property
    def client(self):
        return self.cluster.control_plane.client

    @property
    def provider(self):
        return self.cluster.provider

    async def kubectl(self, *args: str, stdin: bytes | str | None = None,
                      timeout: float = 30.0) -> tuple[int, str, str]:
        if isinstance(stdin, str):
            stdin = stdin.encode()
        return await run_kubectl(self.kubeconfig, self.state_dir / "kubecache", *args, stdin=stdin,
                                 timeout=timeout)

    async def ok(self, *args: str, stdin: bytes | str | None = None, timeout: float = 30.0) -> str:
        rc, out, err = await self.kubectl(*args, stdin=stdin, timeout=timeout)
        assert rc == 0, f"kubectl {' '.join(args)} -> rc {rc}\nstdout: {out}\nstderr: {err}"
        return out

    async def pods(self, ns: str = "default", selector: str | None = None) -> list[dict]:
        return (await self.client.list("pods", ns, label_selector=selector))["items"]

    async def events(self, ns: str = "default") -> list[dict]:
        return (await self.client.list("events", ns))["items"]

    async def add_node(self, name: str, cpus: float | None = None, labels: dict | None = None) -> None:
        """Start one more simulated node (a learner's ``kubetui node add``)."""
        base = self.cp.node_config(name, self.provider.api_host_for_nodes())
        cfg = NodeConfig(name=base.name, api_url=base.api_url, token=base.token, ca_pem=base.ca_pem,
                         timings=base.timings, cpus=cpus if cpus is not None else base.cpus,
                         memory=base.memory, labels=labels or {})
        await self.provider.start_node(cfg)

    async def stop(self) -> None:
        await self.cluster.stop()


async def start_cluster(state_dir: Path, *, nodes: int = 3, profile: str = "default",
                        node_cpus: float = 2.0, node_memory: str = "4Gi") -> AccCluster:
    settings = ClusterSettings(name="acc", provider="simulated", nodes=nodes, api_port=0,
                               scheduler_profile=profile, node_cpus=node_cpus, node_memory=node_memory)
    cluster = Cluster(settings, state_dir)
    kubeconfig = await cluster.up(ready_timeout=20)
    return AccCluster(cluster, kubeconfig, state_dir)


def names(objs: list[dict]) -> list[str]:
    return sorted(o["metadata"]["name"] for o in objs)


def owner_uids(obj: dict) -> list[str]:
    return [r["uid"] for r in obj["metadata"].get("ownerReferences") or ()]


def is_ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or ())


class Headless:
    """``kubetui up --headless`` as a real process on a state dir (and, once chosen, a fixed port)."""

    def __init__(self, state_dir: Path, *args: str) -> None:
        self.state_dir = state_dir
        self.args = args
        self.proc: subprocess.Popen | None = None
        self.kubeconfig = state_dir / "kubeconfig"

    def start(self, timeout: float = 60.0) -> Path:
        first = not (self.state_dir / "cluster.json").exists()
        cmd = [sys.executable, "-m", "kubetui", "up", "--headless", "--state-dir", str(self.state_dir)]
        if first:
            cmd += ["--provider", "simulated", "--nodes", "0", "--api-port", "0", *self.args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.startswith("ready "):
                return Path(line.split(" ", 1)[1].strip())
        self.proc.kill()
        _, err = self.proc.communicate(timeout=10)
        raise AssertionError(f"kubetui up --headless never printed `ready` (rc={self.proc.returncode}):\n"
                             f"{err[-3000:]}")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self.proc.stderr.close()
        # A SIGKILLed control plane leaves its pid file behind; the pid is dead, so `up` starts anyway.

    def stop(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        self.proc.stdout.close()
        self.proc.stderr.close()
        return rc


def rows(out: str) -> list[list[str]]:
    """kubectl's table output, header dropped, one list of cells per line."""
    return [line.split() for line in out.strip().splitlines()[1:]]
