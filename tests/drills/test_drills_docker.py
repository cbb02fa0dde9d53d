"""The Docker-only drills (OOMKilled needs cgroups, DNS needs the cluster DNS, NetworkPolicy needs the
policy agent) self-tested on one Docker cluster shared by the module."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from kubetui.drills.format import load_all
from tests.drills.test_drills_local import drain
from tests.nodes.conftest import force_cleanup, start_headless
from tests.test_cluster import stop

pytestmark = [pytest.mark.docker, pytest.mark.slow]

DOCKER_ONLY = [d.id for d in load_all() if "docker" in d.requires]


@pytest.fixture(scope="module")
def docker_state(tmp_path_factory):
    name = f"drills-{uuid.uuid4().hex[:6]}"
    state = tmp_path_factory.mktemp("drillsdocker") / name
    proc, _ = start_headless(state, "--provider", "docker", "--nodes", "2", "--name", name, "--api-port", "0",
                             "--node-cpus", "1", "--node-memory", "1Gi")
    drain(proc)
    try:
        yield state
    finally:
        try:
            stop(proc)
            subprocess.run([sys.executable, "-m", "kubetui", "down", "--state-dir", str(state), "--purge"],
                           capture_output=True, text=True, timeout=120)
        finally:
            force_cleanup(name)


def test_docker_only_drills_pass_their_selftest(docker_state):
    assert len(DOCKER_ONLY) >= 3
    r = subprocess.run([sys.executable, "-m", "kubetui", "drill", "test", *DOCKER_ONLY, "--state-dir",
                        str(docker_state)], capture_output=True, text=True, timeout=900)
    assert f"{len(DOCKER_ONLY)} passed, 0 failed" in r.stdout, r.stdout + r.stderr[-3000:]
