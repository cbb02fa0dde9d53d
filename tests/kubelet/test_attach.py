"""``pods/attach`` with real kubectl on a process-runtime kubelet: ``kubectl run -i``
and ``kubectl attach`` reach the container's main process (its output, and its stdin
when the spec has ``stdin: true``), as upstream's CRI ``Attach``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import urllib.error
import urllib.request

import shutil

import pytest

from kubetui.api.resources import resource_for
from tests.kubelet.cluster import NODE, Cluster
from tests.kubelet.tty_session import run_it_session

PODS = resource_for("pods")


async def _bind_pending(cluster) -> None:
    """The scheduler's part, for this scheduler-less cluster: bind new pods to the one node."""
    bound: set[str] = set()
    while True:
        for p in (await cluster.registry.list(PODS, "default"))["items"]:
            m = p["metadata"]
            if not p["spec"].get("nodeName") and m["uid"] not in bound:
                bound.add(m["uid"])
                await cluster.registry.create(PODS, "default", {
                    "apiVersion": "v1", "kind": "Binding", "metadata": {"name": m["name"]},
                    "target": {"apiVersion": "v1", "kind": "Node", "name": NODE}},
                    subresource="binding", name=m["name"])
        await asyncio.sleep(0.1)


@pytest.fixture
async def cluster(tmp_path, kubectl_bin):
    c = await Cluster().start(tmp_path, kubectl_bin)
    binder = asyncio.create_task(_bind_pending(c))
    yield c
    binder.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await binder
    await c.stop()


async def test_kubectl_run_i_rm_prints_output_and_deletes_the_pod(cluster):
    rc, out, err = await cluster.kubectl("run", "-i", "--rm", "t", "--image=busybox", "--restart=Never",
                                         "--", "sh", "-c", "echo hi", timeout=60)
    assert rc == 0, err
    # `sh -c 'echo hi'` may end before kubectl attaches: kubectl then prints the log (as upstream)
    assert "hi" in out.splitlines(), (out, err)
    assert 'pod "t" deleted' in out + err
    with pytest.raises(Exception):
        await cluster.pod("t")


async def test_kubectl_run_i_attaches_to_a_running_container(cluster):
    """Attach (not the log fallback) when the container still runs as kubectl attaches."""
    rc, out, err = await cluster.kubectl("run", "-i", "--rm", "t1", "--image=busybox", "--restart=Never",
                                         "--", "sh", "-c", "sleep 2; echo hi", timeout=60)
    assert rc == 0, err
    assert "couldn't attach" not in err, err
    assert "hi" in out.splitlines(), (out, err)


async def test_kubectl_run_i_feeds_stdin_to_the_main_process(cluster):
    rc, out, err = await cluster.kubectl("run", "-i", "t2", "--image=busybox", "--restart=Never",
                                         "--", "cat", stdin=b"hello\n", timeout=60)
    assert rc == 0, err
    assert "couldn't attach" not in err
    assert "hello" in out.splitlines(), (out, err)
    # stdinOnce: the session ended, so stdin closed and `cat` finished
    pod = await cluster.wait_pod("t2", lambda p: (p.get("status") or {}).get("phase") == "Succeeded")
    assert pod["spec"]["containers"][0]["stdinOnce"] is True


async def test_kubectl_attach_streams_a_running_pods_output(cluster):
    await cluster.registry.create(PODS, "default", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ticker"},
        "spec": {"nodeName": NODE, "terminationGracePeriodSeconds": 1, "containers": [{
            "name": "c", "image": "busybox",
            "command": ["sh", "-c", "sleep 2; for i in 1 2 3; do echo tick-$i; sleep 0.3; done"]}],
            "restartPolicy": "Never"}})
    await cluster.wait_pod("ticker", lambda p: (p.get("status") or {}).get("phase") == "Running")
    rc, out, err = await cluster.kubectl("attach", "ticker", timeout=60)
    assert rc == 0, err
    assert "tick-3" in out, (out, err)


async def test_attach_to_an_unknown_container_is_upstreams_400(cluster):
    await cluster.registry.create(PODS, "default", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "one"},
        "spec": {"nodeName": NODE, "terminationGracePeriodSeconds": 1,
                 "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]}})
    await cluster.wait_pod("one", lambda p: (p.get("status") or {}).get("phase") == "Running")
    ctx = ssl.create_default_context(cadata=cluster.pki.ca_pem().decode())
    req = urllib.request.Request(cluster.server.url + "/api/v1/namespaces/default/pods/one/attach?container=nope",
                                 headers={"Authorization": f"Bearer {cluster.auth.admin_token()}"})

    def get():
        try:
            urllib.request.urlopen(req, context=ctx, timeout=10)
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())
        return 200, {}
    code, status = await asyncio.to_thread(get)
    assert (code, status["message"]) == (400, "container nope is not valid for pod one")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
async def test_kubectl_run_it_rm_sh_is_a_terminal(cluster, tmp_path):
    """The docs' `kubectl run -it --rm debug --image=busybox -- sh`: `tty: true` puts the main
    process on a pty the runtime keeps; attach types into it and resizes it."""
    kubectl = [cluster.kubectl_bin, "--kubeconfig", str(cluster.kubeconfig)]
    await asyncio.wait_for(asyncio.to_thread(run_it_session, tmp_path, kubectl, "debug"), 150)


async def test_spdy_fallback_after_the_container_exited_repeats_the_kubelets_reason(cluster):
    # kubectl falls back to SPDY when its WebSocket attach was refused (the container had
    # exited); that second answer is the one it prints, so it must give the same reason
    await cluster.registry.create(PODS, "default", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "quick"},
        "spec": {"nodeName": NODE, "restartPolicy": "Never",
                 "containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}})
    await cluster.wait_pod("quick", lambda p: (p.get("status") or {}).get("phase") == "Succeeded")
    ctx = ssl.create_default_context(cadata=cluster.pki.ca_pem().decode())

    def post(sub: str):
        req = urllib.request.Request(
            cluster.server.url + f"/api/v1/namespaces/default/pods/quick/{sub}", method="POST",
            headers={"Authorization": f"Bearer {cluster.auth.admin_token()}", "Connection": "Upgrade",
                     "Upgrade": "SPDY/3.1", "X-Stream-Protocol-Version": "v4.channel.k8s.io"})
        try:
            urllib.request.urlopen(req, context=ctx, timeout=10)
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())["message"]
        return 200, ""
    assert await asyncio.to_thread(post, "attach?container=c&stdout=true") == (400, 'container not found ("c")')
    assert await asyncio.to_thread(post, "exec?container=c&command=true&stdout=true") == (
        400, 'container not found ("c")')
