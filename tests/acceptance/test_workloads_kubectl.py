"""Issue 4 acceptance, workloads: the real kubectl drives Deployments on a whole
cluster with three simulated nodes (rollout status/history/undo, scale,
cascading and orphaning deletes), and a node that stops heartbeating has its
pods evicted and recreated elsewhere — on the real clock over HTTPS, and on a
FakeClock in process in well under a second.
"""

from __future__ import annotations

import asyncio
import re

import pytest
import pytest_asyncio

from tests.acceptance.conftest import eventually, is_ready, kubectl_path, names, owner_uids, rows, start_cluster

pytestmark = pytest.mark.asyncio(loop_scope="module")

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  annotations:
    kubernetes.io/change-cause: "{cause}"
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: c
        image: {image}
        resources:
          requests: {{cpu: 100m, memory: 64Mi}}
"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory):
    c = await start_cluster(tmp_path_factory.mktemp("workloads"), nodes=3)
    yield c
    await c.stop()


def image_of(obj: dict) -> str:
    return obj["spec"]["template"]["spec"]["containers"][0]["image"]


async def running(cluster, selector: str, n: int, image: str | None = None):
    """Exactly ``n`` live pods, all bound, Running and Ready (and of ``image``), or None."""
    pods = [p for p in await cluster.pods(selector=selector) if not p["metadata"].get("deletionTimestamp")]
    everyone = await cluster.pods(selector=selector)
    if len(pods) != n or len(everyone) != n:
        return None
    if not all(p["spec"].get("nodeName") and is_ready(p) for p in pods):
        return None
    if image and any(p["spec"]["containers"][0]["image"] != image for p in pods):
        return None
    return pods


async def replicasets(cluster, selector: str) -> dict[str, dict]:
    items = (await cluster.client.list("replicasets", "default", label_selector=selector))["items"]
    return {r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: r for r in items}


async def test_get_nodes_shows_three_ready_simulated_nodes(cluster):
    out = await cluster.ok("get", "nodes", "-o", "wide")
    header = out.splitlines()[0].split()
    assert header[:5] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"] and "INTERNAL-IP" in header
    table = rows(out)
    assert [r[:3] for r in table] == [[f"node-{i}", "Ready", "<none>"] for i in (1, 2, 3)]
    assert all("simulated://0.1" in r for r in table)
    ips = [r[header.index("INTERNAL-IP")] for r in table]
    assert len(set(ips)) == 3
    out = await cluster.ok("describe", "node", "node-2")
    assert "Ready            True" in out and "KubeletReady" in out and "PodCIDR:" in out


async def test_expose_lists_the_running_pods_in_endpoints(cluster):
    await cluster.ok("create", "deployment", "ep", "--image=nginx", "--replicas=3", "--port=8080")
    pods = await eventually(lambda: running(cluster, "app=ep", 3), "3 running pods of ep")
    assert "service/ep exposed" in await cluster.ok("expose", "deployment", "ep", "--port=80", "--target-port=8080")
    want = sorted(f"{p['status']['podIP']}:8080" for p in pods)

    async def endpoints(n: int):
        row = rows(await cluster.ok("get", "endpoints", "ep"))[0]
        shown = row[1]
        if n > 3 and shown.endswith("more..."):
            return row
        listed = sorted(shown.split(",")) if shown != "<none>" else []
        return listed if len(listed) == n else None
    assert await eventually(lambda: endpoints(3), "3 endpoint addresses") == want
    await cluster.ok("scale", "deployment", "ep", "--replicas=1")
    left = await eventually(lambda: endpoints(1), "1 endpoint address")
    assert left[0] in want
    out = await cluster.ok("describe", "service", "ep")
    assert re.search(r"Endpoints:\s+" + re.escape(left[0]), out), out


async def test_rollout_status_follows_a_rolling_update_then_history_and_undo(cluster):
    await cluster.ok("apply", "-f", "-", stdin=DEPLOY.format(name="web", replicas=4, image="nginx:1",
                                                            cause="apply nginx:1"))
    out = await cluster.ok("rollout", "status", "deployment/web", "--timeout=30s", timeout=40)
    assert 'deployment "web" successfully rolled out' in out
    await eventually(lambda: running(cluster, "app=web", 4, "nginx:1"), "4 pods of nginx:1")

    # Pause, change the template, and only then resume: `rollout status` is certainly waiting
    # when the rolling update starts, and follows it to the end.
    await cluster.ok("rollout", "pause", "deployment/web")
    await cluster.ok("set", "image", "deployment/web", "c=nginx:2")
    await cluster.ok("annotate", "deployment/web", "kubernetes.io/change-cause=set image nginx:2", "--overwrite")
    proc = await asyncio.create_subprocess_exec(
        kubectl_path(), f"--kubeconfig={cluster.kubeconfig}", f"--cache-dir={cluster.state_dir / 'kubecache'}",
        "rollout", "status", "deployment/web", "--timeout=30s",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        first = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        assert first == 'Waiting for deployment "web" rollout to finish: 0 out of 4 new replicas have been updated...\n'
        await cluster.ok("rollout", "resume", "deployment/web")
        rest, err = await asyncio.wait_for(proc.communicate(), 40)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    lines = rest.decode().splitlines()
    assert proc.returncode == 0, err
    assert lines[-1] == 'deployment "web" successfully rolled out'
    assert all(line.startswith('Waiting for deployment') for line in lines[:-1]), lines
    pods = await eventually(lambda: running(cluster, "app=web", 4, "nginx:2"), "4 pods of nginx:2")
    rs = await replicasets(cluster, "app=web")
    assert sorted(rs) == ["1", "2"]
    assert (rs["1"]["spec"]["replicas"], rs["2"]["spec"]["replicas"]) == (0, 4)
    assert {owner_uids(p)[0] for p in pods} == {rs["2"]["metadata"]["uid"]}

    out = await cluster.ok("rollout", "history", "deployment/web")
    assert rows(out.split("\n", 1)[1]) == [["1", "apply", "nginx:1"], ["2", "set", "image", "nginx:2"]]
    out = await cluster.ok("rollout", "history", "deployment/web", "--revision=1")
    assert "deployment.apps/web with revision #1" in out and "Image:\tnginx:1" in out

    # undo: back to revision 1's template, which becomes revision 3 (its ReplicaSet is reused).
    out = await cluster.ok("rollout", "undo", "deployment/web")
    assert "deployment.apps/web rolled back" in out
    assert 'successfully rolled out' in await cluster.ok("rollout", "status", "deployment/web", "--timeout=30s",
                                                         timeout=40)
    await eventually(lambda: running(cluster, "app=web", 4, "nginx:1"), "4 pods of nginx:1 again")
    rs = await replicasets(cluster, "app=web")
    assert sorted(rs) == ["2", "3"] and image_of(rs["3"]) == "nginx:1"
    dep = await cluster.client.get("deployments", "web", "default")
    assert image_of(dep) == "nginx:1"
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    out = await cluster.ok("rollout", "history", "deployment/web")
    assert rows(out.split("\n", 1)[1]) == [["2", "set", "image", "nginx:2"], ["3", "apply", "nginx:1"]]
    out = await cluster.ok("rollout", "undo", "deployment/web", "--to-revision=3")
    assert "skipped rollback (current template already matches revision 3)" in out


async def test_scale_up_and_down(cluster):
    await cluster.ok("create", "deployment", "sc", "--image=nginx", "--replicas=2")
    await eventually(lambda: running(cluster, "app=sc", 2), "2 running pods")
    assert "deployment.apps/sc scaled" in await cluster.ok("scale", "deployment", "sc", "--replicas=7")
    pods = await eventually(lambda: running(cluster, "app=sc", 7), "7 running pods")
    assert len({p["spec"]["nodeName"] for p in pods}) == 3      # spread over every node
    row = await eventually(lambda: _deploy_row(cluster, "sc", "7/7"), "READY 7/7")
    assert row[:4] == ["sc", "7/7", "7", "7"]
    assert "deployment.apps/sc scaled" in await cluster.ok("scale", "deployment/sc", "--replicas=1")
    # The scaled-down pods are bound, so they terminate gracefully: the node's kubelet finishes them.
    await eventually(lambda: running(cluster, "app=sc", 1), "1 pod left, the others gone")
    row = await eventually(lambda: _deploy_row(cluster, "sc", "1/1"), "READY 1/1")
    rs = (await cluster.client.list("replicasets", "default", label_selector="app=sc"))["items"]
    assert [r["status"]["replicas"] for r in rs] == [1]


async def _deploy_row(cluster, name: str, ready: str):
    row = rows(await cluster.ok("get", "deployment", name))[0]
    return row if row[1] == ready else None


async def test_deleting_a_deployment_cascades_unless_orphaned(cluster):
    for name in ("gone", "orphan", "fg"):
        await cluster.ok("create", "deployment", name, "--image=nginx", "--replicas=2")
    for name in ("gone", "orphan", "fg"):
        await eventually(lambda: running(cluster, f"app={name}", 2), f"2 running pods of {name}")

    # Background (kubectl's default): the Deployment goes now, the garbage collector takes the rest.
    assert 'deployment.apps "gone" deleted' in await cluster.ok("delete", "deployment", "gone")

    async def nothing_left():
        rs = (await cluster.client.list("replicasets", "default", label_selector="app=gone"))["items"]
        return not rs and not await cluster.pods(selector="app=gone")
    await eventually(nothing_left, "gone's ReplicaSet and pods deleted")

    # Foreground: kubectl returns once the Deployment is gone, which is after its dependents.
    assert 'deployment.apps "fg" deleted' in await cluster.ok("delete", "deployment", "fg", "--cascade=foreground")
    rs = (await cluster.client.list("replicasets", "default", label_selector="app=fg"))["items"]
    assert rs == [] and await cluster.pods(selector="app=fg") == []

    # Orphan: the ReplicaSet and its pods stay, no longer owned by anything.
    before = await cluster.pods(selector="app=orphan")
    assert 'deployment.apps "orphan" deleted' in await cluster.ok(
        "delete", "deployment", "orphan", "--cascade=orphan")
    rs = (await cluster.client.list("replicasets", "default", label_selector="app=orphan"))["items"]
    assert len(rs) == 1 and not rs[0]["metadata"].get("ownerReferences")
    pods = await running(cluster, "app=orphan", 2)
    assert pods and names(pods) == names(before)
    assert {owner_uids(p)[0] for p in pods} == {rs[0]["metadata"]["uid"]}
    out = await cluster.ok("get", "rs,pods", "-l", "app=orphan")
    assert f"replicaset.apps/{rs[0]['metadata']['name']}" in out and out.count("Running") == 2


@pytest.mark.slow
async def test_a_silent_node_goes_not_ready_and_its_pods_are_recreated_elsewhere(cluster):
    """pause_node stops node-1's heartbeats; lab timings evict its pods within seconds (real clock)."""
    await cluster.ok("create", "deployment", "evict", "--image=nginx", "--replicas=6")
    pods = await eventually(lambda: running(cluster, "app=evict", 6), "6 running pods")
    on_node1 = sorted(p["metadata"]["name"] for p in pods if p["spec"]["nodeName"] == "node-1")
    assert on_node1, "the default profile spreads 6 pods over 3 nodes"

    cluster.provider.pause_node("node-1")
    try:
        async def not_ready():
            row = next(r for r in rows(await cluster.ok("get", "nodes")) if r[0] == "node-1")
            return row if row[1] == "NotReady" else None
        await eventually(not_ready, "node-1 NotReady", timeout=15, interval=0.2)
        node = await cluster.client.get("nodes", "node-1")
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert (ready["status"], ready["reason"]) == ("Unknown", "NodeStatusUnknown")
        assert {(t["key"], t["effect"]) for t in node["spec"]["taints"]} == {
            ("node.kubernetes.io/unreachable", "NoSchedule"), ("node.kubernetes.io/unreachable", "NoExecute")}

        async def replaced():
            live = await running_elsewhere(cluster, "app=evict", 6, exclude="node-1")
            return live if live and not set(names(live)) & set(on_node1) else None
        live = await eventually(replaced, "6 running pods, none on node-1", timeout=15, interval=0.2)
        assert {p["spec"]["nodeName"] for p in live} <= {"node-2", "node-3"}
        events = [e for e in await cluster.events() if e["reason"] == "TaintManagerEviction"]
        assert {e["message"] for e in events} >= {f"Marking for deletion Pod default/{n}" for n in on_node1}
    finally:
        cluster.provider.unpause_node("node-1")
    async def ready_again():
        node = await cluster.client.get("nodes", "node-1")
        ok = any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"])
        return ok and not node["spec"].get("taints")
    await eventually(ready_again, "node-1 Ready and untainted again", timeout=15, interval=0.2)


async def running_elsewhere(cluster, selector: str, n: int, exclude: str):
    pods = [p for p in await cluster.pods(selector=selector)
            if not p["metadata"].get("deletionTimestamp") and p["spec"].get("nodeName") != exclude]
    if len(pods) == n and all(p["spec"].get("nodeName") and is_ready(p) for p in pods):
        return pods
    return None


async def test_a_silent_node_on_a_fake_clock_in_process(tmp_path):
    """The same story with no HTTP and a FakeClock: store, registry, scheduler, controllers, simulated nodes."""
    from kubetui.apiserver.registry import Registry
    from kubetui.apiserver.inprocess import InProcessClient
    from kubetui.clock import FakeClock
    from kubetui.controllers.manager import ControllerManager
    from kubetui.providers.base import ClusterConfig, NodeConfig
    from kubetui.providers.simulated import SimulatedProvider
    from kubetui.scheduler.scheduler import Scheduler
    from kubetui.store import Store
    from kubetui.timings import LAB

    clock = FakeClock()
    store = Store(None, clock=clock)
    await store.open()
    registry = Registry(store, clock=clock)
    await registry.bootstrap()
    client = InProcessClient(registry)
    scheduler = Scheduler(client, clock=clock, timings=LAB, seed=1)
    manager = ControllerManager(client, clock=clock, timings=LAB, resync_seconds=None)
    provider = SimulatedProvider(ClusterConfig("fake", tmp_path, timings=LAB), client, clock)
    try:
        await scheduler.start()
        await manager.start()
        for i in (1, 2, 3):
            await provider.start_node(NodeConfig(name=f"node-{i}", api_url="", token="", ca_pem="", timings=LAB,
                                                 cpus=2, memory="4Gi"))
        await client.create("deployments", {
            "metadata": {"name": "evict"},
            "spec": {"replicas": 6, "selector": {"matchLabels": {"app": "evict"}},
                     "template": {"metadata": {"labels": {"app": "evict"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}, "default")

        async def pods_now():
            return [p for p in (await client.list("pods", "default"))["items"]
                    if not p["metadata"].get("deletionTimestamp")]

        async def until(pred, what: str, fake_seconds: float) -> float:
            """Advance fake time in small steps until ``pred()``; returns the fake seconds it took."""
            t0 = clock.monotonic()
            while not await pred():
                if clock.monotonic() - t0 > fake_seconds:
                    raise AssertionError(f"{what}: not after {fake_seconds} fake seconds")
                await clock.advance(0.25, step=0.05)
                await manager.settle(rounds=2)
            return clock.monotonic() - t0

        async def six_running():
            ps = await pods_now()
            return len(ps) == 6 and all(p["spec"].get("nodeName") and is_ready(p) for p in ps)
        await until(six_running, "6 running pods", 10)
        on_node1 = {p["metadata"]["name"] for p in await pods_now() if p["spec"]["nodeName"] == "node-1"}
        assert on_node1

        provider.pause_node("node-1")

        async def moved():
            ps = await pods_now()
            return (len(ps) == 6 and not on_node1 & {p["metadata"]["name"] for p in ps}
                    and all(p["spec"].get("nodeName") in ("node-2", "node-3") and is_ready(p) for p in ps))
        took = await until(moved, "pods moved off node-1", 30)
        # grace period (4 s) to notice + tolerationSeconds (5 s) before eviction, in fake time
        assert LAB.node_monitor_grace_seconds + LAB.default_toleration_seconds <= took <= 15
        node = await client.get("nodes", "node-1")
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "Unknown"
    finally:
        await manager.stop()
        await scheduler.stop()
        await provider.close()
        await store.close()


async def test_kubectl_debug_on_a_simulated_node_ends_and_says_why(cluster):
    # kubectl debug waits, with no time limit, for its ephemeral container to run or end; a simulated
    # node runs no process, so it reports the container terminated at once, saying why (it hung before)
    await cluster.ok("run", "dbg-target", "--image=busybox:1.36", "--", "sleep", "3600")
    await eventually(lambda: _pod_phase(cluster, "dbg-target", "Running"), "dbg-target Running", timeout=30)
    rc, out, err = await cluster.kubectl("debug", "-i", "dbg-target", "--image=busybox:1.36", "--container=d",
                                         "--", "true", timeout=30)
    # it falls back to the container's logs: refused at once, a simulated node wrote none (they hung too)
    assert rc == 1 and "is a simulated node" in err and "so it wrote no logs" in err, (out, err)
    pod = (await cluster.client.get("pods", "dbg-target", "default"))
    (status,) = pod["status"]["ephemeralContainerStatuses"]
    assert status["name"] == "d" and status["state"]["terminated"]["message"].startswith(
        "not run: simulated nodes start no processes")
    described = await cluster.ok("describe", "pod", "dbg-target")
    assert "Ephemeral Containers:" in described and "not run: simulated nodes start no processes" in described


async def _pod_phase(cluster, name: str, phase: str) -> bool:
    pods = await cluster.pods()
    return any(p["metadata"]["name"] == name and (p.get("status") or {}).get("phase") == phase for p in pods)
