"""`kubetui fault` from another process against `kubetui up --headless --provider simulated`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest

from tests.test_cluster import kubectl, start_headless, stop


def ready(kubectl_bin, kubeconfig, node: str) -> str:
    r = kubectl(kubectl_bin, kubeconfig, "get", "node", node, "-o", "json")
    assert r.returncode == 0, r.stderr
    conds = json.loads(r.stdout)["status"]["conditions"]
    return next(c["status"] for c in conds if c["type"] == "Ready")


def wait_ready(kubectl_bin, kubeconfig, node: str, want_ready: bool, limit: float = 40.0) -> None:
    """Poll (bounded) until the node's Ready is / is not True."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if (ready(kubectl_bin, kubeconfig, node) == "True") == want_ready:
            return
        time.sleep(0.25)
    raise AssertionError(f"{node} never became {'Ready' if want_ready else 'NotReady'} within {limit}s")


def kubetui(state, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kubetui", "--state-dir", str(state), *args],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.slow
def test_node_pause_on_a_headless_simulated_cluster_from_another_process(tmp_path, kubectl_bin):
    state = tmp_path / "state"
    proc, kubeconfig = start_headless(state, "--provider", "simulated", "--nodes", "2")
    try:
        r = kubetui(state, "fault", "inject", "node-pause", "--target", "node-2")
        assert r.returncode == 0, r.stderr
        fault_id = re.search(r"\(id (\w+),", r.stdout).group(1)
        # lab timings: the node lifecycle controller gives up on node-2 after its grace period
        wait_ready(kubectl_bin, kubeconfig, "node-2", want_ready=False)
        assert ready(kubectl_bin, kubeconfig, "node-1") == "True"
        for _ in range(80):          # the unreachable taint follows Ready=Unknown (bounded wait)
            r = kubectl(kubectl_bin, kubeconfig, "get", "node", "node-2", "-o", "jsonpath={.spec.taints[*].key}")
            if "node.kubernetes.io/unreachable" in r.stdout:
                break
            time.sleep(0.25)
        else:
            raise AssertionError(f"node-2 never tainted unreachable: {r.stdout!r}")
        r = kubetui(state, "fault", "list")
        assert fault_id in r.stdout and "node-pause" in r.stdout

        r = kubetui(state, "fault", "revert", fault_id)
        assert r.returncode == 0 and f"reverted node-pause on node-2 (id {fault_id})" in r.stdout, r.stderr
        wait_ready(kubectl_bin, kubeconfig, "node-2", want_ready=True)
        r = kubectl(kubectl_bin, kubeconfig, "get", "node", "node-2", "-o", "jsonpath={.metadata.annotations}")
        assert "kubetui.dev/fault" not in r.stdout
        assert "No active faults." in kubetui(state, "fault", "list").stdout
    finally:
        assert stop(proc) == 0
