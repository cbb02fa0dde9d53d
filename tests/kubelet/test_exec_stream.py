"""``pods/exec`` streams as Kubernetes clients drive them, on a process-runtime kubelet.

The official Python client's interactive exec (``stream(..., _preload_content=False)``)
writes stdin and resize messages as TEXT WebSocket frames whose first character is
the channel; kube-apiserver accepts those as well as binary frames.
"""

from __future__ import annotations

import asyncio
import os
import shutil

import pytest
from kubernetes import client as k8s
from kubernetes.stream import stream

from kubetui.api.resources import resource_for
from kubetui.client.http import HTTPClient
from tests.kubelet.cluster import NODE, Cluster
from tests.kubelet.tty_session import exec_it_session


@pytest.fixture
async def cluster(tmp_path, kubectl_bin):
    c = await Cluster().start(tmp_path, kubectl_bin)
    yield c
    await c.stop()


def api_client(cluster) -> k8s.ApiClient:
    cfg = k8s.Configuration()
    cfg.host = cluster.server.url
    cfg.api_key = {"authorization": cluster.auth.admin_token()}
    cfg.api_key_prefix = {"authorization": "Bearer"}
    cfg.ssl_ca_cert = str(cluster.kubeconfig.parent / "ca-for-pyclient.crt")
    cluster.kubeconfig.parent.joinpath("ca-for-pyclient.crt").write_bytes(cluster.pki.ca_pem())
    return k8s.ApiClient(cfg)


def running(pod):
    return (pod.get("status") or {}).get("phase") == "Running"


async def shell_pod(cluster, name="sh"):
    await cluster.registry.create(resource_for("pods"), "default", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"nodeName": NODE, "terminationGracePeriodSeconds": 1,
                 "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]}})
    await cluster.wait_pod(name, running)


async def test_pyclient_write_stdin_text_frames_reach_the_command(cluster):
    await shell_pod(cluster)
    core = k8s.CoreV1Api(api_client(cluster))

    def interact() -> tuple[str, str, int]:
        resp = stream(core.connect_get_namespaced_pod_exec, "sh", "default",
                      command=["sh", "-c", "read a; echo got:$a; cat; exit 4"],
                      stdin=True, stdout=True, stderr=True, tty=False, _preload_content=False)
        try:
            resp.write_stdin("hello\n")             # a str: sent as a TEXT frame "\x00hello\n"
            first = resp.readline_stdout(timeout=10)
            resp.write_stdin("second line\n")
            second = resp.readline_stdout(timeout=10)
            resp.close_channel(0)                    # v5: stdin EOF ends `cat`
            resp.run_forever(timeout=10)
            return first, second, resp.returncode
        finally:
            resp.close()

    first, second, code = await asyncio.wait_for(asyncio.to_thread(interact), 40)
    assert first == "got:hello"
    assert second == "second line"
    assert code == 4


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
async def test_kubectl_exec_it_is_a_terminal(cluster, tmp_path):
    """`kubectl exec -it POD -- sh` in tmux: 42, a /dev/pts terminal of the window's size that
    follows a resize, Ctrl-D back to the host shell, and `exit 7` as kubectl's exit code."""
    await shell_pod(cluster)
    kubectl = [cluster.kubectl_bin, "--kubeconfig", str(cluster.kubeconfig)]
    await asyncio.wait_for(asyncio.to_thread(exec_it_session, tmp_path, kubectl, "sh"), 120)


async def test_kubetui_client_tty_exec_and_hangup_when_the_client_leaves(cluster):
    """kubetui's own client (the TUI's shell): one merged stream on a terminal, the exit code
    from the Status; and a terminal whose client goes away is hung up: the kubelet kills it."""
    await shell_pod(cluster)
    client = HTTPClient.from_kubeconfig(cluster.kubeconfig)
    try:
        stream = await client.exec("default", "sh", ["sh", "-c", "tty; echo oops >&2; exit 5"], tty=True)
        out = b"".join([data async for ch, data in stream.output() if ch == 1])
        await stream.close()
        assert out.startswith(b"/dev/pts/") and out.endswith(b"oops\r\n") and stream.exit_code() == 5

        stream = await client.exec("default", "sh", ["sh", "-c", "echo pid:$$; exec sleep 300"], tty=True)
        it = aiter(stream.output())
        seen = b""
        while b"\r\n" not in seen.partition(b"pid:")[2]:
            seen += (await asyncio.wait_for(anext(it), 10))[1]
        pid = int(seen.partition(b"pid:")[2].split(b"\r\n")[0])
        os.kill(pid, 0)                                       # sleep is running on the terminal
        await stream.close()
        for _ in range(200):                                  # bounded: the kubelet kills it
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"the exec'd process {pid} outlived its client")
    finally:
        await client.close()
