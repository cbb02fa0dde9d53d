"""``kubetui up --store etcd``: the control plane runs the etcd member, restarts it when it dies (as
the kubelet restarts etcd's static pod), reports it in /readyz meanwhile, and stops it on down."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from kubetui.netutil import free_port

from .test_store_snapshot import kubectl, kubetui

pytestmark = pytest.mark.etcd


def test_killed_member_is_restarted_and_writes_resume(tmp_path: Path, kubectl_bin: str) -> None:
    state = tmp_path / "cluster"
    kubetui(state, "up", "--provider", "simulated", "--nodes", "1", "--store", "etcd", "--api-port", str(free_port()))
    try:
        r = kubetui(state, "up", "--store", "tinydb", check=False)
        assert r.returncode == 1 and "kubetui store migrate --to tinydb" in r.stderr
        first = int((state / "etcd.pid").read_text())
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while kubectl(kubectl_bin, state, "create", "namespace", "after-crash").returncode != 0:
            assert time.monotonic() < deadline, "writes did not resume after etcd was killed"
            time.sleep(0.3)
        second = int((state / "etcd.pid").read_text())
        assert second != first
        r = kubectl(kubectl_bin, state, "get", "--raw", "/readyz/etcd")
        assert r.returncode == 0 and r.stdout == "ok"
        r = kubectl(kubectl_bin, state, "get", "namespace", "after-crash", "-o", "jsonpath={.metadata.name}")
        assert r.stdout == "after-crash"
    finally:
        kubetui(state, "down", check=False)
    assert not Path(f"/proc/{second}").exists() or "Z" in Path(f"/proc/{second}/stat").read_text().split()[2]
