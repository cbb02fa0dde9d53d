"""Faults: seeded choice, the record of active faults, and real injections on in-process and local clusters."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess

import pytest

from kubetui.cluster import Cluster, ClusterSettings
from kubetui.faults import FAULTS, FaultContext, FaultError, FaultLog, inject, revert, revert_all
from kubetui.faults.base import FaultRecord, choose
from kubetui.faults.pods import probe_plan


def test_seeded_choice_is_the_same_for_everyone():
    names = [f"web-{i}" for i in range(10)]
    picks = {choose("pod-kill", list(reversed(names)) if i % 2 else names, 42) for i in range(10)}
    assert len(picks) == 1
    assert len({choose("pod-kill", names, s) for s in range(50)}) > 1      # different seeds differ
    with pytest.raises(FaultError):
        choose("pod-kill", [], 1)


def test_fault_log_records_and_finds(tmp_path):
    log = FaultLog(tmp_path)
    a = FaultRecord("abc123", "node-pause", "node-1", 7, 1.0)
    b = FaultRecord("abd999", "pod-kill", "web-1", 7, 2.0)
    log.add(a)
    log.add(b)
    assert [r.id for r in log.active()] == ["abc123", "abd999"]
    assert log.find("abc").target == "node-1"
    with pytest.raises(FaultError, match="matches 2"):
        log.find("ab")
    with pytest.raises(FaultError, match="no active fault"):
        log.find("zzz")
    log.remove(a)
    assert [r.id for r in log.active()] == ["abd999"]
    lines = (tmp_path / "faults" / "log.jsonl").read_text().splitlines()
    assert len(lines) == 3 and '"event": "revert"' in lines[-1]


@pytest.mark.parametrize("container,plan", [
    ({"name": "c", "image": "busybox", "livenessProbe": {"exec": {"command": ["cat", "/tmp/healthy"]}}},
     ("c", "rm -f /tmp/healthy", "touch /tmp/healthy")),
    ({"name": "c", "image": "busybox", "readinessProbe": {"exec": {"command": ["sh", "-c", "test -f /ready"]}}},
     ("c", "rm -f /ready", "touch /ready")),
    ({"name": "h", "image": "kubetui/hello:1", "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}}},
     ("h", 'touch "${KUBETUI_UNHEALTHY_FILE:-/tmp/kubetui-unhealthy-web-1}"',
      'rm -f "${KUBETUI_UNHEALTHY_FILE:-/tmp/kubetui-unhealthy-web-1}"')),
    ({"name": "n", "image": "nginx", "livenessProbe": {"httpGet": {"path": "/", "port": 80}}}, None),
    ({"name": "n", "image": "busybox"}, None),
])
def test_probe_plan(container, plan):
    assert probe_plan({"metadata": {"name": "web-1"}, "spec": {"containers": [container]}}) == plan


@pytest.mark.parametrize("env", [{"KUBETUI_POD_NAME": "web-1"},
                                 {"KUBETUI_POD_NAME": "web-1", "KUBETUI_UNHEALTHY_FILE": "/tmp/elsewhere"}])
def test_hello_marker_is_the_path_the_workload_checks(env, monkeypatch):
    """The break command, run by a real shell with the container's env, names the file hello checks."""
    from kubetui.workloads import hello
    _, brk, _ = probe_plan({"metadata": {"name": "web-1"}, "spec": {"containers": [
        {"name": "h", "image": "kubetui/hello:1", "readinessProbe": {"httpGet": {"path": "/healthz"}}}]}})
    named = subprocess.run(["sh", "-c", brk.replace("touch", "echo", 1)], env=env, capture_output=True,
                           text=True, check=True).stdout.strip()
    monkeypatch.delenv("KUBETUI_UNHEALTHY_FILE", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert named == hello.unhealthy_file()


def test_every_named_fault_is_listed():
    assert set(FAULTS) == {"node-kill", "node-pause", "node-partition", "kubelet-stop", "kube-proxy-stop",
                           "dns-break", "pod-kill", "probe-break", "cpu-hog", "mem-hog", "control-plane-restart",
                           "control-plane-node-kill", "control-plane-node-pause", "etcd-member-kill", "etcd-quorum-loss",
                           "leader-kill"}


@pytest.fixture
async def sim(tmp_path):
    settings = ClusterSettings(name="ft", provider="simulated", nodes=3, api_port=0)
    cluster = Cluster(settings, tmp_path / "state")
    kubeconfig = await cluster.up()
    ctx = FaultContext(cluster.control_plane.client, tmp_path / "state", "simulated", "ft", kubeconfig,
                       provider=cluster.provider)
    try:
        yield ctx
    finally:
        await cluster.stop()


async def ready_status(client, node: str) -> str:
    n = await client.get("nodes", node)
    return next(c["status"] for c in n["status"]["conditions"] if c["type"] == "Ready")


async def wait_for(pred, timeout: float = 20.0):
    for _ in range(int(timeout / 0.1)):
        if await pred():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not reached")


async def test_node_pause_on_simulated_nodes_and_revert(sim):
    rec = await inject(sim, "node-pause", target="node-2", seed=3)
    assert (rec.name, rec.target, rec.seed) == ("node-pause", "node-2", 3)
    assert [r.id for r in FaultLog(sim.state_dir).active()] == [rec.id]

    async def unknown():
        return await ready_status(sim.client, "node-2") == "Unknown"
    await wait_for(unknown)
    assert await ready_status(sim.client, "node-1") == "True"
    await revert(sim, rec.id)

    async def ready():
        return await ready_status(sim.client, "node-2") == "True"
    await wait_for(ready)
    assert FaultLog(sim.state_dir).active() == []


@pytest.mark.parametrize("fault,state", [("node-pause", "paused"), ("kubelet-stop", "paused"),
                                         ("node-partition", "paused"), ("node-kill", "killed")])
async def test_simulated_node_faults_annotate_the_node_from_outside(sim, fault, state):
    """No provider object (like `kubetui fault` beside a headless cluster): the Node annotation does it."""
    from kubetui.client.http import HTTPClient
    client = HTTPClient.from_kubeconfig(sim.kubeconfig)
    outside = dataclasses.replace(sim, client=client, provider=None)
    sim_node = sim.provider.nodes["node-3"]
    try:
        rec = await inject(outside, fault, target="node-3", seed=1)
        node = await client.get("nodes", "node-3")
        assert node["metadata"]["annotations"]["kubetui.dev/fault"] == state
        await wait_for(lambda: _true(sim_node.fault == state))
        await revert(outside, rec.id)
        node = await client.get("nodes", "node-3")
        assert "kubetui.dev/fault" not in (node["metadata"].get("annotations") or {})
        await wait_for(lambda: _true(sim_node.fault is None))
    finally:
        await client.close()


async def _true(value):
    return value


async def test_pod_kill_is_seeded_and_the_replicaset_replaces_the_pod(sim):
    c = sim.client
    await c.create("deployments", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "kubetui/hello:1"}]}}}}, "default")

    async def four_running():
        pods = (await c.list("pods", "default", label_selector="app=web"))["items"]
        return sum(1 for p in pods if p.get("status", {}).get("phase") == "Running"
                   and not p["metadata"].get("deletionTimestamp")) == 4
    await wait_for(four_running)
    names = sorted(p["metadata"]["name"] for p in (await c.list("pods", "default", label_selector="app=web"))["items"])
    rec = await inject(sim, "pod-kill", target="app=web", seed=11)
    assert rec.target == choose("pod-kill", names, 11)

    async def replaced():
        pods = (await c.list("pods", "default", label_selector="app=web"))["items"]
        live = {p["metadata"]["name"] for p in pods if not p["metadata"].get("deletionTimestamp")}
        return rec.target not in live and len(live) == 4
    await wait_for(replaced)
    assert [r.name for r in await revert_all(sim)] == ["pod-kill"]


async def test_cpu_hog_pins_a_pod_to_the_node_and_revert_deletes_it(sim):
    rec = await inject(sim, "cpu-hog", target="node-3", seed=1)
    pod = await sim.client.get("pods", rec.data["pod"], "default")
    assert pod["spec"]["nodeName"] == "node-3" and pod["spec"]["containers"][0]["image"] == "kubetui/cpuhog:latest"
    await revert(sim, rec.id)
    from kubetui.api import errors

    async def gone():
        try:
            await sim.client.get("pods", rec.data["pod"], "default")
            return False
        except errors.NotFound:
            return True
    await wait_for(gone)


async def test_clear_errors_for_faults_that_cannot_act_here(sim):
    rec = await inject(sim, "node-kill", target="node-1", seed=1)
    with pytest.raises(FaultError, match="already killed by another fault"):
        await inject(sim, "node-pause", target="node-1", seed=1)
    await revert(sim, rec.id)
    with pytest.raises(FaultError, match="no node 'node-9'"):
        await inject(sim, "node-kill", target="node-9", seed=1)
    with pytest.raises(FaultError, match="no cluster DNS"):
        await inject(sim, "dns-break", seed=1)
    with pytest.raises(FaultError, match="run no kube-proxy"):
        await inject(sim, "kube-proxy-stop", seed=1)
    with pytest.raises(FaultError, match="no control plane process serves"):
        await inject(sim, "control-plane-restart", seed=1)      # this one runs in the test's process
    with pytest.raises(FaultError, match="unknown fault"):
        await inject(sim, "meteor", seed=1)
    assert FaultLog(sim.state_dir).active() == []


@pytest.mark.slow
async def test_local_node_pause_and_kill_act_from_outside_through_pid_files(tmp_path):
    settings = ClusterSettings(name="fl", provider="local", nodes=2, api_port=0)
    cluster = Cluster(settings, tmp_path / "state")
    kubeconfig = await cluster.up()
    from kubetui.client.http import HTTPClient
    client = HTTPClient.from_kubeconfig(kubeconfig)
    # no provider object: the fault acts like a separate process would
    ctx = FaultContext(client, tmp_path / "state", "local", "fl", kubeconfig)
    try:
        for fault in ("node-pause", "node-kill"):
            rec = await inject(ctx, fault, target="node-1", seed=1)

            async def unknown():
                return await ready_status(client, "node-1") == "Unknown"
            await wait_for(unknown, 30)
            await revert(ctx, rec.id)

            async def ready():
                return await ready_status(client, "node-1") == "True"
            await wait_for(ready, 30)
    finally:
        await revert_all(ctx)
        await client.close()
        await cluster.stop()


@pytest.mark.slow
async def test_probe_break_makes_a_hello_pod_unready_through_kubectl_exec_and_revert_heals_it(tmp_path, kubectl_bin):
    settings = ClusterSettings(name="fp", provider="local", nodes=1, api_port=0)
    cluster = Cluster(settings, tmp_path / "state")
    kubeconfig = await cluster.up()
    from kubetui.client.http import HTTPClient
    client = HTTPClient.from_kubeconfig(kubeconfig)
    ctx = FaultContext(client, tmp_path / "state", "local", "fp", kubeconfig, kubectl=kubectl_bin)
    probe = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1}
    for name in ("web-1", "web-2"):      # two pods on one machine: only the chosen one breaks
        await client.create("pods", {"apiVersion": "v1", "kind": "Pod",
                                     "metadata": {"name": name, "labels": {"app": "web"}},
                                     "spec": {"containers": [{"name": "h", "image": "kubetui/hello:1",
                                                              "readinessProbe": probe}]}}, "default")

    async def ready(name):
        p = await client.get("pods", name, "default")
        return next((c["status"] for c in (p.get("status") or {}).get("conditions") or ()
                     if c["type"] == "Ready"), None)

    async def both(a, b):
        return (await ready("web-1"), await ready("web-2")) == (a, b)
    rec = None
    try:
        await wait_for(lambda: both("True", "True"), 60)
        rec = await inject(ctx, "probe-break", target="web-1", seed=1)
        await wait_for(lambda: both("False", "True"), 30)
        await revert(ctx, rec.id)
        rec = None
        await wait_for(lambda: both("True", "True"), 30)
    finally:
        if rec is not None:  # the marker lives in the machine's /tmp: never leave it to a later run's web-1
            await revert(ctx, rec.id)
        await client.close()
        await cluster.stop()


def test_fault_list_columns_never_run_together(tmp_path, capsys):
    """`kubetui fault list`: kubectl-style columns as wide as their longest cell (fixed widths printed
    'control-plane nodekill -9 ...' and 'cplessons-ha-control-plane3410811')."""
    import argparse

    from kubetui.cmd.faults import cmd_list
    from kubetui.faults import FAULTS, FaultLog
    from kubetui.faults.base import FaultRecord

    FaultLog(tmp_path).add(FaultRecord("38187913", "etcd-member-kill", "lab-control-plane3", 410811, 0.0))
    cmd_list(argparse.Namespace(state_dir=str(tmp_path), name=None))
    lines = capsys.readouterr().out.splitlines()
    header, rows = lines[0], lines[1:1 + len(FAULTS)]
    col = header.index("WHAT IT DOES")
    for f, row in zip(FAULTS.values(), rows):
        assert row[col - 2:col] == "  " and row[col:] == f.summary, row
    active = next(line for line in lines if line.startswith("ID"))
    seed_col = active.index("SEED")
    row = lines[lines.index(active) + 1]
    assert row[seed_col:] == "410811" and row[seed_col - 2:seed_col] == "  ", row
