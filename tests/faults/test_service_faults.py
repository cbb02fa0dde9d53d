"""kube-proxy-stop and control-plane-restart on a local cluster run by `kubetui up --headless` (a separate process)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from kubetui.faults import FaultLog, context_for_state_dir, inject, revert
from kubetui.faults.services import restart_argv
from kubetui.providers.loopback import recorded
from tests.nodes.conftest import start_headless


def test_restart_argv_brings_back_the_flag_cluster_json_does_not(tmp_path):
    from kubetui.cluster import ClusterSettings
    ClusterSettings(name="x", provider="local", insecure_http=True).save(tmp_path)
    assert restart_argv(tmp_path)[-3:] == ["--state-dir", str(tmp_path), "--insecure-http"]
    ClusterSettings(name="x", provider="local").save(tmp_path)
    assert restart_argv(tmp_path)[-1] == str(tmp_path)


def get(url: str) -> str:
    """One request with a short timeout: the body, or the error's class name."""
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read().decode()
    except (OSError, urllib.error.URLError) as e:
        return type(e).__name__


async def until(what: str, pred, timeout: float = 60.0):
    for _ in range(int(timeout / 0.25)):
        value = await pred()
        if value:
            return value
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
async def test_kube_proxy_stop_and_control_plane_restart_on_a_local_cluster(tmp_path):
    state = tmp_path / "state"
    proc, kubeconfig = start_headless(state, "--provider", "local", "--nodes", "1", "--name", "fsvc",
                                      "--api-port", "0")
    ctx = context_for_state_dir(state)
    client = ctx.client
    try:
        await client.create("pods", {"apiVersion": "v1", "kind": "Pod",
                                     "metadata": {"name": "web", "labels": {"app": "web"}},
                                     "spec": {"containers": [{"name": "h", "image": "kubetui/hello:1"}]}}, "default")
        svc = await client.create("services", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                                               "spec": {"selector": {"app": "web"},
                                                        "ports": [{"port": 80, "targetPort": 8080}]}}, "default")
        # where this cluster's kube-proxy serves the ClusterIP: in the loopback block it owns
        url = f"http://{recorded(state).service_address(svc['spec']['clusterIP'])}:80/"

        async def answers():
            body = await asyncio.to_thread(get, url)
            return "web" in body and body
        await until("the Service to answer through kube-proxy", answers)

        # kube-proxy-stop: the one userspace proxy freezes, the ClusterIP stops answering; revert heals it.
        rec = await inject(ctx, "kube-proxy-stop", seed=1)
        assert rec.target == "node-1"
        assert "pid" in rec.data
        assert await asyncio.to_thread(get, url) in ("TimeoutError", "URLError", "RemoteDisconnected")
        await revert(ctx, rec.id)
        await until("the Service to answer again after revert", answers, 20)

        # control-plane-restart: a new process serves the same state dir; the kubelet and the pod carry on.
        pod_before = await client.get("pods", "web", "default")
        kubelet_pid = int((state / "nodes" / "node-1" / "kubelet.pid").read_text())
        rec = await inject(ctx, "control-plane-restart", seed=1)
        assert rec.data["old_pid"] == proc.pid and rec.data["new_pid"] != proc.pid
        assert int((state / "controlplane.pid").read_text()) == rec.data["new_pid"]
        os.kill(kubelet_pid, 0)                                      # the same kubelet process
        pod_after = await client.get("pods", "web", "default")      # through the restarted API server
        assert pod_after["metadata"]["uid"] == pod_before["metadata"]["uid"]
        assert (pod_after["status"]["containerStatuses"][0].get("restartCount")
                == pod_before["status"]["containerStatuses"][0].get("restartCount"))
        assert "web" in await asyncio.to_thread(get, url)           # Services never stopped
        assert FaultLog(state).active()[-1].name == "control-plane-restart"
        await revert(ctx, rec.id)                                    # nothing to undo; the record goes
        assert FaultLog(state).active() == []
    finally:
        await client.close()
        r = subprocess.run([sys.executable, "-m", "kubetui", "down", "--state-dir", str(state), "--purge"],
                           capture_output=True, text=True, timeout=120)
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        assert r.returncode == 0, r.stderr
