"""What `kubetui up` and the quit message say about a Docker cluster's nodes (first-hour item 3).

They used to repeat the node count from cluster.json ("3 Docker node container(s) … keeps
running") even after the containers were removed from outside. Only Docker's container
list is used here: no cluster is started.
"""

from __future__ import annotations

import uuid

import pytest

from kubetui.cluster.settings import ClusterSettings
from kubetui.cmd.cluster import status_lines
from kubetui.providers.docker import docker_available, docker_client
from kubetui.providers.docker.nodespec import LABEL_CLUSTER, LABEL_NODE, LABEL_ROLE

pytestmark = pytest.mark.skipif(not docker_available(), reason="needs a Docker engine")


def test_status_counts_the_node_containers_docker_has_and_names_the_missing_ones(tmp_path):
    name = f"st-{uuid.uuid4().hex[:8]}"
    state = tmp_path / name
    state.mkdir()
    ClusterSettings(name=name, provider="docker", nodes=2).save(state)
    client = docker_client()
    image = next(i for i in client.images.list() if i.tags).tags[0]   # any local image: never started
    created = client.containers.create(
        image, name=f"kubetui-{name}-node-1",
        labels={LABEL_CLUSTER: name, LABEL_ROLE: "node", LABEL_NODE: "node-1"})
    try:
        text = status_lines(state, stopped=False)
        assert "0 of 2 Docker node container(s) running" in text, text
        assert f"MISSING (removed outside kubetui): kubetui-{name}-node-2:" in text, text
        assert f"kubetui-{name}-node-1," not in text and f"kubetui-{name}-node-1:" not in text
        assert f"`kubetui --state-dir {state} up` re-creates them" in text
    finally:
        created.remove(force=True)
        client.close()


def test_up_re_creates_a_node_container_removed_from_outside(tmp_path):
    """`kubetui up` on a running cluster whose node container was `docker rm -f`ed says which
    one is missing and re-creates it (it used to say "1 Docker node container(s)" and do nothing)."""
    import subprocess
    import sys

    name = f"st-{uuid.uuid4().hex[:8]}"
    state = tmp_path / name
    kubetui = [sys.executable, "-m", "kubetui", "up", "--state-dir", str(state)]
    client = docker_client()
    try:
        subprocess.run([*kubetui, "--name", name, "--nodes", "1", "--provider", "docker", "--api-port", "0"],
                       check=True, capture_output=True, text=True, timeout=300)
        client.containers.get(f"kubetui-{name}-node-1").remove(force=True)
        assert f"MISSING (removed outside kubetui): kubetui-{name}-node-1" in status_lines(state, stopped=False)
        again = subprocess.run(kubetui, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr
        assert f"node container(s) missing (removed outside kubetui): kubetui-{name}-node-1" in again.stderr
        assert "1 of 1 Docker node container(s) running" in again.stdout, again.stdout
        assert client.containers.get(f"kubetui-{name}-node-1").status == "running"
    finally:
        subprocess.run([sys.executable, "-m", "kubetui", "down", "--purge", "--state-dir", str(state)],
                       capture_output=True, timeout=120)
        client.close()
