"""`kubetui up --headless` end to end: a real process, the real kubectl, a clean shutdown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def start_headless(state: Path, *args: str) -> tuple[subprocess.Popen, Path]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubetui", "up", "--headless", "--state-dir", str(state), "--api-port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("ready "):
            return proc, Path(line.split(" ", 1)[1].strip())
    proc.kill()
    _, err = proc.communicate(timeout=10)
    pytest.fail(f"kubetui up --headless never printed `ready`: rc={proc.returncode}\n{err[-3000:]}")


def stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


def kubectl(kubectl_bin: str, kubeconfig: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([kubectl_bin, f"--kubeconfig={kubeconfig}", *args],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.slow
@pytest.mark.parametrize("provider", ["simulated", "local"])
def test_up_headless_gives_ready_nodes(tmp_path, kubectl_bin, provider):
    state = tmp_path / "state"
    proc, kubeconfig = start_headless(state, "--provider", provider, "--nodes", "2")
    try:
        assert kubeconfig == state / "kubeconfig"
        r = kubectl(kubectl_bin, kubeconfig, "get", "nodes", "-o", "json")
        assert r.returncode == 0, r.stderr
        nodes = json.loads(r.stdout)["items"]
        assert sorted(n["metadata"]["name"] for n in nodes) == ["node-1", "node-2"]
        for n in nodes:
            ready = [c for c in n["status"]["conditions"] if c["type"] == "Ready"]
            assert ready and ready[0]["status"] == "True"
        # The CLI wrapper reaches the same cluster.
        r = subprocess.run([sys.executable, "-m", "kubetui", "--state-dir", str(state), "kubectl", "get", "ns"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and "kube-system" in r.stdout, r.stderr
        # A second control plane on the same state is refused with one line.
        r = subprocess.run([sys.executable, "-m", "kubetui", "up", "--headless", "--state-dir", str(state)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 1 and "already running" in r.stderr
    finally:
        assert stop(proc) == 0
    assert not (state / "controlplane.pid").exists()
    settings = json.loads((state / "cluster.json").read_text())
    assert settings["provider"] == provider and settings["nodes"] == 2
    r = subprocess.run([sys.executable, "-m", "kubetui", "down", "--state-dir", str(state), "--purge"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert not state.exists()
