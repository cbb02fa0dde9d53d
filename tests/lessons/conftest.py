"""Fixtures for lessons tests: a real in-process cluster (simulated nodes) and a LabEnv on it."""

from __future__ import annotations

import pytest

from kubetui.cluster import Cluster, ClusterSettings
from kubetui.lessons.runner import LabEnv


@pytest.fixture
async def lab(tmp_path):
    """A 3-node simulated cluster in this process, as ``kubetui lessons test`` makes one."""
    settings = ClusterSettings(name="lt", provider="simulated", nodes=3, api_port=0)
    cluster = Cluster(settings, tmp_path / "state")
    kubeconfig = await cluster.up()
    env = LabEnv(cluster.control_plane.client, tmp_path / "state", kubeconfig, "simulated", "lt",
                 provider=cluster.provider, scheduler_profile="default", nodes=3)
    try:
        yield env
    finally:
        await cluster.stop()
