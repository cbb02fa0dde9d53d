"""The Docker provider for real: node containers on a cluster network, found by label, removed by `down`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.test_cluster import kubectl, start_headless, stop

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def docker_ids(*filters: str, kind: str = "ps") -> list[str]:
    args = ["docker", *kind.split(), "-q"] + (["-a"] if kind == "ps" else [])
    for f in filters:
        args += ["--filter", f]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout.split()


def test_docker_cluster_up_and_down(tmp_path, kubectl_bin):
    state = tmp_path / "dock"
    name = f"t{tmp_path.name[-8:].replace('_', '').lower()}"
    proc, kubeconfig = start_headless(state, "--provider", "docker", "--nodes", "2", "--name", name,
                                      "--node-cpus", "1", "--node-memory", "512Mi")
    try:
        r = kubectl(kubectl_bin, kubeconfig, "get", "nodes", "-o", "json")
        assert r.returncode == 0, r.stderr
        nodes = {n["metadata"]["name"]: n for n in json.loads(r.stdout)["items"]}
        assert sorted(nodes) == ["node-1", "node-2"]
        for n in nodes.values():
            addrs = {a["type"]: a["address"] for a in n["status"]["addresses"]}
            assert addrs.get("InternalIP"), n["status"]["addresses"]
            # Capacity is the container's real limit, not the host's.
            assert n["status"]["capacity"]["cpu"] in ("1", "1000m")
        # Docker's labels say which containers belong to the cluster.
        assert len(docker_ids(f"label=io.kubetui.cluster={name}", "label=io.kubetui.role=node")) == 2
        r = kubectl(kubectl_bin, kubeconfig, "get", "nodes", "-o", "wide")
        assert "INTERNAL-IP" in r.stdout and "CONTAINER-RUNTIME" in r.stdout
    finally:
        assert stop(proc) == 0
    r = subprocess.run([sys.executable, "-m", "kubetui", "down", "--state-dir", str(state), "--purge"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert docker_ids(f"label=io.kubetui.cluster={name}") == []
    assert docker_ids(f"label=io.kubetui.cluster={name}", kind="network ls") == []
    assert docker_ids(f"label=io.kubetui.cluster={name}", kind="volume ls") == []
