"""The local provider: a real kubelet subprocess per node, pods as plain processes on 127.P.N.x (the cluster's block)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import urllib.request

import pytest

from kubetui.api.resources import resource_for
from kubetui.providers.base import ClusterConfig, NodeConfig
from kubetui.agent.loopback import LoopbackBlock
from kubetui.providers import loopback
from kubetui.providers.local import LocalProvider, loopback_pod_cidr
from kubetui.timings import LAB
from tests.kubelet.cluster import Cluster


@pytest.mark.parametrize("cidr,index,expected", [
    ("10.244.3.0/24", 9, "127.6.3.0/24"),
    (None, 2, "127.6.2.0/24"),
    ("10.244.0.0/24", 4, "127.6.4.0/24"),      # 127.6.0.0/24 holds the nodes' own addresses
])
def test_loopback_pod_cidr(cidr, index, expected):
    assert loopback_pod_cidr(LoopbackBlock(6), cidr, index) == expected


async def test_local_node_runs_a_pod_and_stops_cleanly(tmp_path, kubectl_bin):
    cluster = await Cluster().start(tmp_path / "cp", kubectl_bin, kubelet=False)
    provider = LocalProvider(ClusterConfig(name="t", state_dir=tmp_path / "state"))
    fast = dataclasses.replace(LAB, node_lease_renew_seconds=0.3, node_status_update_seconds=0.5)
    try:
        handle = await provider.start_node(NodeConfig(
            name="n1", api_url=cluster.server.url, token=cluster.auth.node_token("n1"),
            ca_pem=cluster.pki.ca_pem().decode(), timings=fast, pod_cidr="10.244.1.0/24",
            labels={"node-role.kubernetes.io/worker": ""}))
        block = provider.block
        assert handle.status == "running" and handle.address == f"127.{block.pods}.0.1"
        again = await provider.start_node(NodeConfig(name="n1", api_url=cluster.server.url,
                                                     token="x", ca_pem=""))
        assert again.details["pid"] == handle.details["pid"]          # idempotent

        nodes = resource_for("nodes")
        for _ in range(100):
            try:
                node = await cluster.registry.get(nodes, None, "n1")
                if node.get("status", {}).get("daemonEndpoints"):
                    break
            except Exception:  # noqa: BLE001 (not registered yet)
                pass
            await asyncio.sleep(0.1)
        assert node["metadata"]["labels"]["node-role.kubernetes.io/worker"] == ""
        assert "no network, mount, UTS or PID namespaces" in node["metadata"]["annotations"]["kubetui.io/isolation"]

        # Issue 12 item 9: an extended resource advertised in capacity (as a device plugin does)
        # is copied into allocatable by the kubelet's next status update.
        rc, out, err = await cluster.kubectl(
            "patch", "node", "n1", "--subresource=status", "--type=json", "-p",
            '[{"op": "add", "path": "/status/capacity/example.com~1dongle", "value": "2"}]')
        assert rc == 0, err
        for _ in range(100):
            node = await cluster.registry.get(nodes, None, "n1")
            if node["status"]["allocatable"].get("example.com/dongle") == "2":
                break
            await asyncio.sleep(0.1)
        assert node["status"]["allocatable"].get("example.com/dongle") == "2", node["status"]

        await cluster.registry.create(resource_for("pods"), "default", {
            "metadata": {"name": "web"},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "kubetui/hello:2"}]}})
        p = await cluster.wait_pod("web", lambda p: p.get("status", {}).get("phase") == "Running")
        ip = p["status"]["podIP"]
        assert ip.startswith(f"127.{block.pods}.1.") and p["status"]["hostIP"] == f"127.{block.pods}.0.1"
        for _ in range(50):
            try:
                body = await asyncio.to_thread(lambda: urllib.request.urlopen(f"http://{ip}:8080/", timeout=1).read())
                break
            except OSError:
                await asyncio.sleep(0.1)
        assert body == b"pod=web node=n1 version=2\n"
        rc, out, err = await cluster.kubectl("exec", "web", "--", "hostname")
        assert (rc, out) == (0, "web\n"), err

        pid = int(handle.details["pid"])
        await provider.stop_node("n1")
        assert [(h.name, h.status) for h in await provider.list_nodes()] == [("n1", "stopped")]
        with pytest.raises(OSError):
            await asyncio.to_thread(lambda: urllib.request.urlopen(f"http://{ip}:8080/", timeout=1))
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
        log = (tmp_path / "state" / "nodes" / "n1" / "kubelet.log").read_text()
        assert "registered node n1" in log
    finally:
        await provider.delete(purge=True)
        await cluster.stop()
    assert not (tmp_path / "state" / "nodes").exists()


async def test_the_block_stays_taken_while_any_process_of_the_cluster_runs(tmp_path, kubectl_bin):
    """The kubelet, and the pods it starts, inherit the block's lock: a pod a killed kubelet left behind still
    binds its address, so the block must not go to another cluster until that pod is gone too."""
    cluster = await Cluster().start(tmp_path / "cp", kubectl_bin, kubelet=False)
    provider = LocalProvider(ClusterConfig(name="t", state_dir=tmp_path / "state"))
    fast = dataclasses.replace(LAB, node_lease_renew_seconds=0.3, node_status_update_seconds=0.5)
    try:
        await provider.start_node(NodeConfig(
            name="n1", api_url=cluster.server.url, token=cluster.auth.node_token("n1"),
            ca_pem=cluster.pki.ca_pem().decode(), timings=fast))
        block = provider.block
        await cluster.registry.create(resource_for("pods"), "default", {
            "metadata": {"name": "idle"},
            # writes nothing: its output pipes outlive the kubelet unread (a writer would die of EPIPE)
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "600"]}]}})
        await cluster.wait_pod("idle", lambda p: p.get("status", {}).get("phase") == "Running")

        def live() -> bool:
            return block.pods in loopback.read_claims(loopback.registry_dir())[1]
        kubelet = int((tmp_path / "state" / "nodes" / "n1" / "kubelet.pid").read_text())
        os.kill(kubelet, signal.SIGKILL)                 # the kubelet dies; its pod runs on
        for _ in range(100):
            if not _alive(kubelet):
                break
            await asyncio.sleep(0.05)
        assert not _alive(kubelet)
        await provider.close()                           # and this process lets go of its own hold
        assert live()                                    # the orphaned pod still holds the block
        await provider.stop_node("n1")                   # cleans up what the dead kubelet left
        assert not live()
    finally:
        await provider.delete(purge=True)
        await cluster.stop()


def _alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)                      # reap it if it is our child
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False
