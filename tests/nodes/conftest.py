"""A real Docker cluster shared by a test module: `kubetui up --headless --provider docker` in a subprocess.

Every container, network and volume it creates carries the label
``io.kubetui.cluster=<name>``; teardown runs ``kubetui down --purge`` and then
removes anything still labelled, so a failing test leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from tests.conftest import docker_available, require_or_skip
from tests.test_cluster import stop


def start_headless(state: Path, *args: str, timeout: float = 180,
                   env: dict[str, str] | None = None) -> tuple[subprocess.Popen, Path]:
    """`kubetui up --headless` until it prints `ready <kubeconfig>` (the first run builds the node image).

    Its stderr goes to a file and its stdout is drained after `ready`: a pipe nobody reads fills
    up in a long test, and the control plane then blocks on its next log line.
    """
    state.mkdir(parents=True, exist_ok=True)
    errlog = open(state / "headless.stderr", "w")
    proc = subprocess.Popen([sys.executable, "-m", "kubetui", "up", "--headless", "--state-dir", str(state), *args],
                            stdout=subprocess.PIPE, stderr=errlog, text=True, env=env)
    errlog.close()
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("ready "):
            threading.Thread(target=proc.stdout.read, daemon=True).start()  # drain what follows
            return proc, Path(line.split(" ", 1)[1].strip())
    proc.kill()
    proc.wait(timeout=10)
    err = (state / "headless.stderr").read_text(errors="replace")
    pytest.fail(f"kubetui up --headless never printed `ready`: rc={proc.returncode}\n{err[-3000:]}")


def docker(*args: str, check: bool = True, timeout: float = 60,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    r = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, env=env)
    if check and r.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {r.stderr.strip()}")
    return r


def labelled(name: str, kind: str, env: dict[str, str] | None = None) -> list[str]:
    """IDs of containers / networks / volumes labelled as belonging to cluster ``name``."""
    f = ["--filter", f"label=io.kubetui.cluster={name}"]
    if kind == "container":
        return docker("ps", "-aq", *f, env=env).stdout.split()
    return docker(kind, "ls", "-q", *f, env=env).stdout.split()


def force_cleanup(name: str, env: dict[str, str] | None = None) -> None:
    """Remove what is left of Docker cluster ``name`` (``env``: for a caller in a thread, see
    tests/lesson_selftests.py)."""
    for cid in labelled(name, "container", env):
        docker("rm", "-f", cid, check=False, env=env)
    for nid in labelled(name, "network", env):
        docker("network", "rm", nid, check=False, env=env)
    for vid in labelled(name, "volume", env):
        docker("volume", "rm", "-f", vid, check=False, env=env)


def wait_for(what: str, probe: Callable[[], Any], timeout: float, interval: float = 0.3) -> Any:
    """Call ``probe`` until it returns something truthy (bounded in time); fail saying what was awaited."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = probe()
        except AssertionError as e:
            last = e
        if last and not isinstance(last, AssertionError):
            return last
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}"[:3000])
        time.sleep(interval)


@dataclass
class DockerCluster:
    name: str
    state: Path
    kubeconfig: Path
    kubectl_bin: str
    proc: subprocess.Popen | None
    up_args: tuple[str, ...]

    def container(self, node: str) -> str:
        return f"kubetui-{self.name}-{node}"

    def kubectl(self, *args: str, stdin: str | None = None, timeout: float = 60,
                check: bool = True) -> subprocess.CompletedProcess:
        r = subprocess.run([self.kubectl_bin, f"--kubeconfig={self.kubeconfig}", *args], input=stdin,
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {r.stderr.strip()}")
        return r

    def get(self, *args: str) -> dict:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def apply(self, manifest: dict) -> None:
        self.kubectl("apply", "-f", "-", stdin=json.dumps(manifest))

    def pods(self, selector: str) -> list[dict]:
        return self.get("pods", "-l", selector)["items"]

    def node_exec(self, node: str, *argv: str) -> str:
        return docker("exec", self.container(node), *argv).stdout

    def stop_control_plane(self) -> None:
        if self.proc is not None:
            assert stop(self.proc) == 0
            self.proc = None

    def start_control_plane(self, *extra: str) -> None:
        self.proc, self.kubeconfig = start_headless(self.state, *self.up_args, *extra)

    def down(self) -> subprocess.CompletedProcess:
        self.stop_control_plane()
        return subprocess.run([sys.executable, "-m", "kubetui", "down", "--state-dir", str(self.state), "--purge"],
                              capture_output=True, text=True, timeout=120)


def node_ready(node: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"].get("conditions", []))


def pod_ready(pod: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


@contextlib.contextmanager
def started_docker_cluster(tmp_path_factory, kubectl_bin, prefix: str, nodes: int) -> Iterator[DockerCluster]:
    """A Docker cluster of ``nodes`` small nodes (1 CPU, 1 GiB) with a unique name starting with
    ``prefix``, its control plane started; ``kubetui down`` and a forced clean-up afterwards
    (the one start-up every Docker test module's cluster fixture shares)."""
    require_or_skip(*docker_available())
    name = f"{prefix}{uuid.uuid4().hex[:6]}"
    state = tmp_path_factory.mktemp(prefix) / name
    args = ("--provider", "docker", "--nodes", str(nodes), "--name", name, "--node-cpus", "1", "--node-memory", "1Gi")
    cluster = DockerCluster(name, state, state / "kubeconfig", kubectl_bin, None, args)
    try:
        cluster.start_control_plane("--api-port", "0")
        yield cluster
    finally:
        try:
            cluster.down()
        finally:
            force_cleanup(name)


@pytest.fixture(scope="module")
def docker_cluster(tmp_path_factory, kubectl_bin):
    with started_docker_cluster(tmp_path_factory, kubectl_bin, "t", 3) as cluster:
        yield cluster


