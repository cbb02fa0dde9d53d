"""``kubetui store snapshot save|restore`` on a running cluster, for both backends: save, delete a
namespace, a corrupt snapshot is refused with nothing changed, restore, the namespace is back.

On etcd the same cluster then shows that ``--store`` cannot be switched, and that the control plane
restarts a killed member (as the kubelet restarts etcd's static pod) and stops it on down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kubetui.netutil import free_port

from .conftest import BACKENDS


def kubetui(state: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "kubetui", *args, "--state-dir", str(state)],
                       capture_output=True, text=True, timeout=180)
    if check:
        assert r.returncode == 0, r.stdout + r.stderr
    return r


def kubectl(kubectl_bin: str, state: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([kubectl_bin, "--kubeconfig", str(state / "kubeconfig"), *args],
                          capture_output=True, text=True, timeout=60)


def files(d: Path) -> list[Path]:
    return [p for p in d.rglob("*") if p.is_file()]


@pytest.mark.parametrize("backend", BACKENDS)
def test_save_delete_namespace_restore_brings_it_back(backend: str, tmp_path: Path, kubectl_bin: str) -> None:
    state = tmp_path / "cluster"
    kubetui(state, "up", "--provider", "simulated", "--nodes", "1", "--store", backend,
            "--api-port", str(free_port()))
    try:
        assert kubectl(kubectl_bin, state, "create", "namespace", "keepme").returncode == 0
        snap = tmp_path / "snap.db"
        out = kubetui(state, "store", "snapshot", "save", str(snap)).stdout
        assert f"({backend}: revision" in out
        assert kubectl(kubectl_bin, state, "delete", "namespace", "keepme").returncode == 0
        deadline = time.monotonic() + 60
        while kubectl(kubectl_bin, state, "get", "namespace", "keepme").returncode == 0:
            assert time.monotonic() < deadline, "the namespace was not deleted"
            time.sleep(0.2)

        bad = tmp_path / "bad.db"
        data = snap.read_bytes()
        bad.write_bytes(data[: len(data) // 2] + bytes(reversed(data[len(data) // 2:])))
        store_dir = state / ("etcd" if backend == "etcd" else "store")
        pid_before = (state / "controlplane.pid").read_text()
        r = kubetui(state, "store", "snapshot", "restore", str(bad), check=False)
        assert r.returncode == 1 and "nothing was changed" in r.stderr
        assert (state / "controlplane.pid").read_text() == pid_before, "the control plane was not stopped"
        assert kubectl(kubectl_bin, state, "get", "namespace", "keepme").returncode != 0

        kubetui(state, "store", "snapshot", "restore", str(snap))
        r = kubectl(kubectl_bin, state, "get", "namespace", "keepme", "-o", "jsonpath={.status.phase}")
        assert r.returncode == 0 and r.stdout == "Active", r.stderr
        aside = [p for p in state.iterdir() if p.name.startswith(store_dir.name + ".before-restore-")]
        assert len(aside) == 1 and files(aside[0]), "the old store is kept aside"
        if backend == "etcd":
            member_restarts_after_kill(state, kubectl_bin)
    finally:
        kubetui(state, "down", check=False)
    if backend == "etcd":
        pid = (state / "etcd.pid").read_text().strip()
        assert not os.path.exists(f"/proc/{pid}") or "zombie" in Path(f"/proc/{pid}/status").read_text().lower(), \
            "down stops the member"


def member_restarts_after_kill(state: Path, kubectl_bin: str) -> None:
    r = kubetui(state, "up", "--store", "tinydb", check=False)
    assert r.returncode == 1 and "kubetui store migrate --to tinydb" in r.stderr
    first = int((state / "etcd.pid").read_text())
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while kubectl(kubectl_bin, state, "create", "namespace", "after-crash").returncode != 0:
        assert time.monotonic() < deadline, "writes did not resume after etcd was killed"
        time.sleep(0.3)
    assert int((state / "etcd.pid").read_text()) != first, "a new member runs"
    r = kubectl(kubectl_bin, state, "get", "--raw", "/readyz/etcd")
    assert r.returncode == 0 and r.stdout == "ok"
