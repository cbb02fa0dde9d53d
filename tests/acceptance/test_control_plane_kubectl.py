"""Issue 3 acceptance: the real kubectl against a WHOLE control plane with no nodes.

``tests/apiserver/test_kubectl.py`` checks each kubectl command against a bare
Registry. Here the scheduler and every controller run too (a
``kubetui up --headless --nodes 0``-like cluster), so these tests check what a
learner sees when the pieces work together: ``kubectl create deployment``
gives a ReplicaSet and Pending pods, the scheduler says why they stay Pending,
``expose`` gives Endpoints, deleting cascades, a namespace takes its contents
with it — each as a real cluster with no nodes would show it.
"""

from __future__ import annotations

import asyncio
import json
import re

import pytest
import pytest_asyncio
import yaml

from tests.acceptance.conftest import eventually, names, owner_uids, rows, start_cluster

pytestmark = pytest.mark.asyncio(loop_scope="module")

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: c
        image: {image}
"""

POD = """apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  containers:
  - name: c
    image: nginx:1.27
"""

NO_NODES = "no nodes available to schedule pods"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory):
    c = await start_cluster(tmp_path_factory.mktemp("nodes0"), nodes=0)
    yield c
    await c.stop()


async def test_an_empty_cluster_as_a_learner_first_sees_it(cluster):
    version = json.loads(await cluster.ok("version", "-o", "json"))
    assert re.match(r"v1\.\d+\.\d+", version["serverVersion"]["gitVersion"])
    rc, out, err = await cluster.kubectl("get", "nodes")
    assert (rc, out, err.strip()) == (0, "", "No resources found")
    assert [r[0] for r in rows(await cluster.ok("get", "namespaces"))] == [
        "default", "kube-node-lease", "kube-public", "kube-system"]
    # The `kubernetes` Service points at this very API server (the endpoints controller keeps it so).
    svc = rows(await cluster.ok("get", "svc", "kubernetes"))[0]
    assert svc[:5] == ["kubernetes", "ClusterIP", "10.96.0.1", "<none>", "443/TCP"]
    ep = rows(await cluster.ok("get", "endpoints", "kubernetes"))[0]
    assert ep[1] == f"127.0.0.1:{cluster.cp.apiserver.port}"
    resources = {r[0]: r for r in rows(await cluster.ok("api-resources"))}
    assert {"pods", "deployments", "replicasets", "services", "endpoints", "events", "nodes"} <= set(resources)
    out = await cluster.ok("explain", "pod.spec.containers")
    assert "FIELD: containers" in out and "image\t<string>" in out


async def test_create_deployment_gives_a_replicaset_and_pending_pods_the_scheduler_explains(cluster):
    assert "deployment.apps/web created" in await cluster.ok(
        "create", "deployment", "web", "--image=nginx:1.27", "--replicas=3")

    async def three_pods():
        pods = await cluster.pods(selector="app=web")
        return pods if len(pods) == 3 else None
    pods = await eventually(three_pods, "3 pods of deployment web")
    rs = (await cluster.client.list("replicasets", "default", label_selector="app=web"))["items"]
    assert len(rs) == 1
    rs_name = rs[0]["metadata"]["name"]
    dep = await cluster.client.get("deployments", "web", "default")
    assert owner_uids(rs[0]) == [dep["metadata"]["uid"]]
    assert all(owner_uids(p) == [rs[0]["metadata"]["uid"]] for p in pods)
    assert all(p["metadata"]["name"].startswith(rs_name + "-") for p in pods)

    # kubectl get: Pending, no node, no IP.
    out = await cluster.ok("get", "pods", "-l", "app=web", "-o", "wide")
    for row in rows(out):
        assert row[1:6] == ["0/1", "Pending", "0"] + row[4:5] + ["<none>"] and row[6] == "<none>", out
    out = await cluster.ok("get", "pods", "-A", "-l", "app=web")
    assert {r[0] for r in rows(out)} == {"default"} and len(rows(out)) == 3
    rs_row = rows(await cluster.ok("get", "rs", rs_name))[0]
    assert rs_row[:4] == [rs_name, "3", "3", "0"]
    dep_row = rows(await cluster.ok("get", "deploy", "web"))[0]
    assert dep_row[:4] == ["web", "0/3", "3", "0"]

    # The pod's status says why: PodScheduled=False, reason Unschedulable.
    async def unschedulable():
        pod = await cluster.client.get("pods", pods[0]["metadata"]["name"], "default")
        conds = {c["type"]: c for c in pod["status"].get("conditions") or ()}
        c = conds.get("PodScheduled")
        return c if c and c["status"] == "False" else None
    cond = await eventually(unschedulable, "PodScheduled=False")
    assert cond["reason"] == "Unschedulable" and cond["message"] == NO_NODES

    # Events from three components, in Kubernetes' words.
    async def all_events():
        out = await cluster.ok("get", "events")
        need = (f"Scaled up replica set {rs_name} from 0 to 3", f"Created pod: {rs_name}-", NO_NODES)
        return out if all(n in out for n in need) else None
    out = await eventually(all_events, "ScalingReplicaSet, SuccessfulCreate and FailedScheduling events")
    assert re.search(r"Normal\s+ScalingReplicaSet\s+deployment/web", out)
    assert re.search(rf"Normal\s+SuccessfulCreate\s+replicaset/{rs_name}", out)
    assert re.search(rf"Warning\s+FailedScheduling\s+pod/{rs_name}-", out)

    out = await cluster.ok("describe", "pod", pods[0]["metadata"]["name"])
    # kubectl aligns this block to its longest key, "Service Account:" (admission sets it), as on a real cluster
    assert f"Controlled By:    ReplicaSet/{rs_name}" in out
    assert "Priority:         0\nService Account:  default\n" in out
    assert re.search(r"Node:\s+<none>", out) and re.search(r"Status:\s+Pending", out)
    assert re.search(rf"Warning\s+FailedScheduling\s+\S+\s+default-scheduler\s+{NO_NODES}", out), out
    doc = yaml.safe_load(await cluster.ok("get", "pod", pods[0]["metadata"]["name"], "-o", "yaml"))
    assert (doc["apiVersion"], doc["kind"], doc["status"]["phase"]) == ("v1", "Pod", "Pending")
    ref = doc["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["controller"], ref["blockOwnerDeletion"]) == (
        "ReplicaSet", rs_name, True, True)
    assert doc["spec"]["schedulerName"] == "default-scheduler" and "nodeName" not in doc["spec"]
    out = await cluster.ok("describe", "deployment", "web")
    assert re.search(rf"NewReplicaSet:\s+{rs_name} \(3/3 replicas created\)", out), out
    assert re.search(rf"Normal\s+ScalingReplicaSet\s+\S+\s+deployment-controller\s+Scaled up replica set "
                     rf"{rs_name} from 0 to 3", out), out


async def test_deleting_an_owned_pod_gets_it_replaced_but_a_bare_pod_stays_gone(cluster):
    await cluster.ok("create", "deployment", "keep", "--image=nginx", "--replicas=2")
    pods = await eventually(lambda: _n_pods(cluster, "app=keep", 2), "2 pods of keep")
    victim = pods[0]["metadata"]["name"]
    # Unbound pods have no kubelet to wait for: deletion is immediate.
    assert f'pod "{victim}" deleted' in await cluster.ok("delete", "pod", victim)
    after = await eventually(
        lambda: _n_pods(cluster, "app=keep", 2, without=victim), "a replacement pod")
    assert victim not in names(after)

    assert "pod/solo created" in await cluster.ok("create", "-f", "-", stdin=POD.format(name="solo"))
    assert 'pod "solo" deleted' in await cluster.ok("delete", "-f", "-", stdin=POD.format(name="solo"))
    rc, _, err = await cluster.kubectl("get", "pod", "solo")
    assert rc == 1 and 'pods "solo" not found' in err


async def _n_pods(cluster, selector: str, n: int, without: str | None = None):
    pods = [p for p in await cluster.pods(selector=selector) if not p["metadata"].get("deletionTimestamp")]
    if without and without in names(pods):
        return None
    return pods if len(pods) == n else None


async def test_get_watch_follows_pods_the_replicaset_controller_creates_and_deletes(cluster):
    from tests.acceptance.conftest import kubectl_path

    proc = await asyncio.create_subprocess_exec(
        kubectl_path(), f"--kubeconfig={cluster.kubeconfig}", f"--cache-dir={cluster.state_dir / 'kubecache'}",
        "get", "pods", "-l", "app=watched", "-w", "--output-watch-events",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    seen: list[list[str]] = []

    async def read_until(pred, what):
        async def step():
            line = await asyncio.wait_for(proc.stdout.readline(), 15)
            assert line, f"kubectl get -w ended early; saw {seen}"
            seen.append(line.decode().split())
            return pred()
        await eventually(step, what, timeout=20, interval=0)

    try:
        # kubectl prints nothing (the header comes with the first row) until a pod matches.
        await cluster.ok("create", "deployment", "watched", "--image=nginx", "--replicas=1")
        await read_until(lambda: sum(r[0] == "ADDED" for r in seen) >= 1, "one ADDED")
        await cluster.ok("scale", "deployment", "watched", "--replicas=3")
        await read_until(lambda: len({r[1] for r in seen if r[0] == "ADDED"}) >= 3, "three pods ADDED")
        await cluster.ok("scale", "deployment", "watched", "--replicas=1")
        await read_until(lambda: len({r[1] for r in seen if r[0] == "DELETED"}) >= 2, "two pods DELETED")
    finally:
        proc.kill()
        await proc.wait()
    added = {r[1] for r in seen if r[0] == "ADDED"}
    deleted = {r[1] for r in seen if r[0] == "DELETED"}
    assert len(added) == 3 and deleted < added
    assert all(r[1].startswith("watched-") for r in seen if r[0] in ("ADDED", "MODIFIED", "DELETED"))
    left = await cluster.pods(selector="app=watched")
    assert names(left) == sorted(added - deleted)


async def test_apply_then_a_changed_image_starts_a_rolling_update_that_waits_for_nodes(cluster):
    out = await cluster.ok("apply", "-f", "-", stdin=DEPLOY.format(name="roll", image="nginx:1"))
    assert "deployment.apps/roll created" in out
    await eventually(lambda: _n_pods(cluster, "app=roll", 2), "2 pods of roll")
    assert "deployment.apps/roll unchanged" in await cluster.ok(
        "apply", "-f", "-", stdin=DEPLOY.format(name="roll", image="nginx:1"))
    out = await cluster.ok("apply", "-f", "-", stdin=DEPLOY.format(name="roll", image="nginx:2"))
    assert "deployment.apps/roll configured" in out

    async def two_replicasets():
        items = (await cluster.client.list("replicasets", "default", label_selector="app=roll"))["items"]
        by_rev = {r["metadata"]["annotations"].get("deployment.kubernetes.io/revision"): r for r in items}
        new = by_rev.get("2")
        return by_rev if set(by_rev) == {"1", "2"} and new["status"].get("replicas") == 1 else None
    by_rev = await eventually(two_replicasets, "the new ReplicaSet at revision 2 with one pod")
    image = lambda rs: rs["spec"]["template"]["spec"]["containers"][0]["image"]  # noqa: E731
    assert (image(by_rev["1"]), image(by_rev["2"])) == ("nginx:1", "nginx:2")
    # 2 replicas, maxSurge 25% -> 1 extra pod, maxUnavailable 25% -> 0: with no node to make the new pod
    # Ready the rollout waits here, exactly as it would on a real cluster.
    assert (by_rev["1"]["spec"]["replicas"], by_rev["2"]["spec"]["replicas"]) == (2, 1)

    async def status():
        d = await cluster.client.get("deployments", "roll", "default")
        s = d["status"]
        return s if s.get("observedGeneration") == d["metadata"]["generation"] and s.get("replicas") == 3 else None
    s = await eventually(status, "the deployment's status to catch up")
    assert (s["updatedReplicas"], s.get("availableReplicas", 0), s["unavailableReplicas"]) == (1, 0, 3)
    progressing = next(c for c in s["conditions"] if c["type"] == "Progressing")
    assert progressing["reason"] == "ReplicaSetUpdated"

    # delete -f: the garbage collector removes both ReplicaSets and all three pods.
    assert 'deployment.apps "roll" deleted' in await cluster.ok(
        "delete", "-f", "-", stdin=DEPLOY.format(name="roll", image="nginx:2"))

    async def all_gone():
        rs = (await cluster.client.list("replicasets", "default", label_selector="app=roll"))["items"]
        return not rs and not await cluster.pods(selector="app=roll")
    await eventually(all_gone, "ReplicaSets and pods of roll garbage-collected")


async def test_server_side_apply_creates_a_working_deployment(cluster):
    out = await cluster.ok("apply", "--server-side", "-f", "-", stdin=DEPLOY.format(name="ssa", image="nginx:1"))
    assert "deployment.apps/ssa serverside-applied" in out
    await eventually(lambda: _n_pods(cluster, "app=ssa", 2), "2 pods of ssa")
    out = await cluster.ok("apply", "--server-side", "-f", "-",
                           stdin=DEPLOY.format(name="ssa", image="nginx:1").replace("replicas: 2", "replicas: 4"))
    assert "deployment.apps/ssa serverside-applied" in out
    await eventually(lambda: _n_pods(cluster, "app=ssa", 4), "4 pods of ssa")
    dep = await cluster.client.get("deployments", "ssa", "default")
    managers = {m["manager"] for m in dep["metadata"].get("managedFields") or ()}
    assert "kubectl" in managers, managers


async def test_expose_gives_a_cluster_ip_and_endpoints_without_addresses(cluster):
    await cluster.ok("create", "deployment", "shop", "--image=nginx", "--replicas=2", "--port=8080")
    await eventually(lambda: _n_pods(cluster, "app=shop", 2), "2 pods of shop")
    assert "service/shop exposed" in await cluster.ok(
        "expose", "deployment", "shop", "--port=80", "--target-port=8080")
    out = await cluster.ok("get", "svc,endpoints", "-l", "app=shop")
    svc, ep = [r for r in rows(out) if r and r[0] != "NAME"]
    assert svc[0] == "service/shop" and svc[1] == "ClusterIP" and svc[4] == "80/TCP"
    assert re.fullmatch(r"10\.(9[6-9]|1[01]\d)\.\d+\.\d+", svc[2]), svc   # inside 10.96.0.0/12
    # Pending pods have no IP, so the endpoints controller lists no address yet.
    assert ep[:2] == ["endpoints/shop", "<none>"]

    async def endpoint_objects():
        try:
            e = await cluster.client.get("endpoints", "shop", "default")
        except Exception:  # noqa: BLE001 - not created yet
            return None
        slices = (await cluster.client.list("endpointslices", "default",
                                            label_selector="kubernetes.io/service-name=shop"))["items"]
        return (e, slices) if slices else None
    e, slices = await eventually(endpoint_objects, "Endpoints and EndpointSlice for shop")
    assert not e.get("subsets")
    assert len(slices) == 1 and not slices[0].get("endpoints")


async def test_namespace_deletion_takes_its_secrets_and_configmaps(cluster):
    assert "namespace/team created" in await cluster.ok("create", "namespace", "team")
    assert "secret/db created" in await cluster.ok(
        "create", "secret", "generic", "db", "-n", "team", "--from-literal=password=s3cret")
    assert "configmap/conf created" in await cluster.ok(
        "create", "configmap", "conf", "-n", "team", "--from-literal=mode=dev")
    await cluster.ok("create", "deployment", "api", "-n", "team", "--image=nginx")
    await eventually(lambda: _n_pods_ns(cluster, "team", 1), "a pod in team")
    out = await cluster.ok("get", "secret,configmap", "-n", "team")
    assert "secret/db" in out and "Opaque" in out and "configmap/conf" in out
    secret = yaml.safe_load(await cluster.ok("get", "secret", "db", "-n", "team", "-o", "yaml"))
    assert secret["data"] == {"password": "czNjcmV0"}

    # kubectl waits for the namespace to be gone: the namespace controller empties it first.
    assert 'namespace "team" deleted' in await cluster.ok("delete", "namespace", "team", timeout=30)
    rc, _, err = await cluster.kubectl("get", "namespace", "team")
    assert rc == 1 and 'namespaces "team" not found' in err
    for resource in ("secrets", "configmaps", "deployments", "replicasets", "pods"):
        assert (await cluster.client.list(resource, "team"))["items"] == [], resource


async def _n_pods_ns(cluster, ns: str, n: int):
    pods = await cluster.pods(ns)
    return pods if len(pods) == n else None


async def test_label_and_annotate_a_pod_out_of_its_replicaset(cluster):
    await cluster.ok("create", "deployment", "lab", "--image=nginx", "--replicas=2")
    pods = await eventually(lambda: _n_pods(cluster, "app=lab", 2), "2 pods of lab")
    pod = pods[0]["metadata"]["name"]
    assert f"pod/{pod} annotated" in await cluster.ok("annotate", "pod", pod, "note=debugging")
    # Relabelling a pod so the selector no longer matches releases it: the ReplicaSet makes a new one
    # and the pod lives on as an orphan (a real debugging trick).
    assert f"pod/{pod} labeled" in await cluster.ok("label", "pod", pod, "app=debug", "--overwrite")

    async def released():
        p = await cluster.client.get("pods", pod, "default")
        others = await _n_pods(cluster, "app=lab", 2)
        return p if others and not p["metadata"].get("ownerReferences") else None
    p = await eventually(released, "the relabelled pod released and replaced")
    assert p["metadata"]["annotations"]["note"] == "debugging"
    out = await cluster.ok("get", "pods", "-l", "app=debug")
    assert [r[0] for r in rows(out)] == [pod]
    out = await cluster.ok("describe", "pod", pod)
    assert "note: debugging" in out and "Controlled By" not in out


# --- a real `kubetui up --headless` process, stopped, killed and restarted ------------------------


def py_client(kubeconfig, *, retry_connect: bool):
    """The official Python client from the cluster's kubeconfig.

    ``retry_connect``: retry refused connections for a few seconds, so a watch
    reconnecting during a restart waits for the API server to come back.
    """
    import urllib3
    from kubernetes import client as k8s
    from kubernetes import config

    cfg = k8s.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=cfg)
    if retry_connect:
        cfg.retries = urllib3.Retry(total=100, connect=100, read=0, backoff_factor=0.05, backoff_max=0.25)
    else:
        cfg.retries = urllib3.Retry(total=0, connect=0, read=0)
    return k8s.CoreV1Api(k8s.ApiClient(cfg))


def configmap(name: str) -> dict:
    return {"metadata": {"name": name}, "data": {"value": name}}


def watch_across_restart(state_dir, how: str) -> tuple[list[tuple[str, str, str]], list[str]]:
    """Watch configmaps; restart the control plane (SIGTERM or SIGKILL) while the watcher is held.

    While the watcher waits (after it saw ``b``), the API server goes down, comes
    back on the same state dir and port, and four changes are made. Only then
    does the watcher ask for its next event: whatever it gets must come from the
    store's history after its last resourceVersion, not from "now".
    """
    import threading

    from kubernetes import watch
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import ProtocolError

    from tests.acceptance.conftest import Headless

    node = Headless(state_dir)
    kubeconfig = node.start()
    core = py_client(kubeconfig, retry_connect=True)
    seen: list[tuple[str, str, str]] = []
    reconnects: list[str] = []
    saw_b, go = threading.Event(), threading.Event()

    # Listed before any write, so `a` is after the watch's starting point (listing inside
    # the thread raced with the first create).
    start_rv = core.list_namespaced_config_map("default").metadata.resource_version

    def watcher() -> None:
        w = watch.Watch()
        rv = start_rv
        for _ in range(3):     # bounded: the stream itself resumes, or we resume it once by hand
            try:
                for ev in w.stream(core.list_namespaced_config_map, "default", resource_version=rv):
                    o = ev["object"].metadata
                    seen.append((ev["type"], o.name, o.resource_version))
                    if o.name == "b" and ev["type"] == "ADDED":
                        saw_b.set()
                        go.wait(30)
                    if o.name == "d":
                        w.stop()
                return
            except (ProtocolError, ApiException) as e:
                # A SIGKILLed server cuts the response mid-chunk; urllib3 raises and Watch.stream does
                # not retry that itself. Clients resume from the last resourceVersion they saw.
                reconnects.append(type(e).__name__)
                rv = w.resource_version

    t = threading.Thread(target=watcher, daemon=True)
    t.start()
    try:
        core.create_namespaced_config_map("default", configmap("a"))
        core.create_namespaced_config_map("default", configmap("b"))
        assert saw_b.wait(15), f"the watch never saw b: {seen}"
        if how == "SIGKILL":
            node.kill9()
        else:
            assert node.stop() == 0
        node.start()
        core.create_namespaced_config_map("default", configmap("c"))
        core.patch_namespaced_config_map("a", "default", {"data": {"value": "a2"}})
        core.delete_namespaced_config_map("b", "default")
        core.create_namespaced_config_map("default", configmap("d"))
        go.set()
        t.join(30)
        assert not t.is_alive(), f"the watch did not finish; saw {seen}"
    finally:
        go.set()
        node.stop()
    return seen, reconnects


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
async def test_python_client_watch_resumes_from_its_resource_version_after_a_restart(tmp_path, how):
    seen, reconnects = await asyncio.to_thread(watch_across_restart, tmp_path / "state", how)
    assert [(t, n) for t, n, _ in seen] == [("ADDED", "a"), ("ADDED", "b"), ("ADDED", "c"),
                                           ("MODIFIED", "a"), ("DELETED", "b"), ("ADDED", "d")]
    rvs = [int(rv) for _, _, rv in seen]
    assert rvs == sorted(rvs) and len(set(rvs)) == len(rvs)
    # After SIGTERM the server ends the stream cleanly and Watch.stream resumes by itself;
    # after SIGKILL the cut connection raises once and the caller resumes from w.resource_version.
    assert reconnects == ([] if how == "SIGTERM" else ["ProtocolError"])


def create_storm_then_kill(state_dir, kubectl_bin: str) -> dict:
    """Four HTTP writers and one kubectl writer create ConfigMaps until SIGKILL stops the control plane."""
    import subprocess
    import threading
    import time

    from tests.acceptance.conftest import Headless

    node = Headless(state_dir)
    kubeconfig = node.start()
    # A Deployment whose 3 Pending pods exist before the crash: after it, the controllers must
    # find them again rather than create more.
    subprocess.run([kubectl_bin, f"--kubeconfig={kubeconfig}", "create", "deployment", "web", "--image=nginx",
                    "--replicas=3"], check=True, capture_output=True, timeout=30)
    core = py_client(kubeconfig, retry_connect=False)
    deadline = time.monotonic() + 15
    while len(core.list_namespaced_pod("default", label_selector="app=web").items) < 3:
        assert time.monotonic() < deadline, "the deployment's 3 pods never appeared"
        time.sleep(0.05)
    pods_before = sorted(p.metadata.name for p in core.list_namespaced_pod("default", label_selector="app=web").items)
    acked: dict[str, str] = {}       # name -> resourceVersion the server acknowledged
    lock = threading.Lock()
    stop = threading.Event()

    def http_writer(w: int) -> None:
        core = py_client(kubeconfig, retry_connect=False)
        for i in range(300):
            if stop.is_set():
                return
            try:
                made = core.create_namespaced_config_map("default", configmap(f"http-{w}-{i}"))
            except Exception:  # noqa: BLE001 - the server was killed under us
                return
            with lock:
                acked[made.metadata.name] = made.metadata.resource_version

    def kubectl_writer() -> None:
        for i in range(40):
            if stop.is_set():
                return
            r = subprocess.run([kubectl_bin, f"--kubeconfig={kubeconfig}", "create", "configmap", f"cli-{i}",
                                f"--from-literal=value=cli-{i}", "-o", "jsonpath={.metadata.resourceVersion}"],
                               capture_output=True, text=True, timeout=30)
            if r.returncode != 0:
                return
            with lock:
                acked[f"cli-{i}"] = r.stdout.strip()

    writers = [threading.Thread(target=http_writer, args=(w,)) for w in range(4)]
    writers.append(threading.Thread(target=kubectl_writer))
    for t in writers:
        t.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with lock:
            if len(acked) >= 150 and any(n.startswith("cli-") for n in acked):
                break
        time.sleep(0.01)
    node.kill9()                    # mid-storm: writers are blocked in requests right now
    stop.set()
    for t in writers:
        t.join(30)
    with lock:
        acked_at_kill = dict(acked)

    node.start()
    try:
        core = py_client(kubeconfig, retry_connect=False)
        listed = core.list_namespaced_config_map("default")
        after = core.create_namespaced_config_map("default", configmap("after-restart"))
        # Give the restarted controllers time to act (several resyncs of their queues), then look.
        deadline = time.monotonic() + 2
        pods_after: list[str] = []
        while time.monotonic() < deadline:
            pods_after = sorted(p.metadata.name for p in
                                core.list_namespaced_pod("default", label_selector="app=web").items)
            if pods_after != pods_before:
                break
            time.sleep(0.1)
        return {"acked": acked_at_kill, "listed": listed, "after": after, "pods": (pods_before, pods_after)}
    finally:
        assert node.stop() == 0


@pytest.mark.slow
async def test_sigkill_during_a_create_storm_loses_no_acknowledged_object(tmp_path, kubectl_bin):
    r = await asyncio.to_thread(create_storm_then_kill, tmp_path / "state", kubectl_bin)
    acked, listed = r["acked"], r["listed"]
    assert len(acked) >= 150 and any(n.startswith("cli-") for n in acked)
    stored = {cm.metadata.name: cm for cm in listed.items if cm.metadata.name != "kube-root-ca.crt"}
    missing = sorted(set(acked) - set(stored))
    assert not missing, f"{len(missing)} acknowledged creates lost: {missing[:10]}"
    for name, rv in acked.items():
        assert stored[name].metadata.resource_version == rv, name
        assert stored[name].data == {"value": name}
    # At most one in-flight create per writer may have landed without its acknowledgement.
    assert len(set(stored) - set(acked)) <= 5
    # Revisions: distinct, none beyond the list's, and the first write after the restart goes on from there.
    rvs = [int(cm.metadata.resource_version) for cm in stored.values()]
    list_rv = int(listed.metadata.resource_version)
    assert len(set(rvs)) == len(rvs) and max(rvs) <= list_rv
    assert int(r["after"].metadata.resource_version) > list_rv
    # The controllers found the Deployment's pods again: none lost, none duplicated.
    before, after = r["pods"]
    assert len(before) == 3 and after == before
