"""``kubectl port-forward`` and the official client's ``portforward()`` end to end, on a
process-runtime kubelet: API server (SPDY over WebSocket, raw SPDY, channel protocol) ->
kubelet ``/portForward`` -> the pod's port. Only loopback traffic."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import re
import socket
import urllib.request

import pytest
import pytest_asyncio
from kubernetes import client as k8s
from kubernetes.stream import portforward

from kubetui.api.resources import resource_for
from tests.kubelet.cluster import NODE, Cluster
from tests.kubelet.test_exec_stream import api_client, running


# One control plane and kubelet (with the pod `web` and its Service) for the whole module: every
# test only reads `web` or adds objects of its own (`waiting`, `echo`, the Deployment `web`).
shared = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory, kubectl_bin):
    c = await Cluster().start(tmp_path_factory.mktemp("portforward"), kubectl_bin)
    await c.registry.create(resource_for("pods"), "default", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"nodeName": NODE, "terminationGracePeriodSeconds": 1,
                 "containers": [{"name": "c", "image": "kubetui/hello",
                                 "ports": [{"containerPort": 8080, "name": "http"}],
                                 "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080},
                                                    "periodSeconds": 1}}]}})
    await c.registry.create(resource_for("services"), "default", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}})
    await c.wait_pod("web", ready)     # listening (Running alone may be before the bind)
    yield c
    await c.stop()


def ready(pod) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def start_forward(cluster, *args: str, env: dict | None = None):
    proc = await asyncio.create_subprocess_exec(
        cluster.kubectl_bin, "--kubeconfig", str(cluster.kubeconfig), "port-forward", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})})
    line = await asyncio.wait_for(proc.stdout.readline(), 30)   # "Forwarding from 127.0.0.1:P -> R"
    m = re.search(rb"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)", line)
    if not m:
        proc.kill()
        err = await proc.stderr.read()
        raise AssertionError(f"kubectl port-forward did not start: {line!r} {err!r}")
    return proc, int(m.group(1))


async def stop_forward(proc) -> bytes:
    if proc.returncode is None:
        proc.terminate()
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    return err


def fetch(port: int, path: str = "/") -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=20) as r:
        return r.read().decode()


def fetch_many(port: int, n: int) -> list[str]:
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda i: fetch(port, "/json"), range(n)))


@pytest.mark.parametrize("target,env", [("pod/web", {}), ("svc/web", {}), ("deploy/web", {}),
                                        ("pod/web", {"KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"})],
                         ids=["pod-websocket", "svc-websocket", "deploy-any-local-port", "pod-spdy"])
@shared
async def test_kubectl_port_forward_carries_20_concurrent_connections(cluster, target, env):
    local = free_port()
    if target.startswith("deploy/"):
        # kubectl picks one of the Deployment's pods by its selector; ":8080" = any free local port
        await cluster.registry.create(resource_for("deployments"), "default", {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": "kubetui/hello"}]}}}})
        spec = ":8080"
    else:
        spec = f"{local}:{'80' if target.startswith('svc/') else '8080'}"
    proc, port = await start_forward(cluster, target, spec, env=env)
    try:
        assert port == local or spec.startswith(":")
        try:
            answers = await asyncio.wait_for(asyncio.to_thread(fetch_many, port, 20), 60)
            # a second round on the same forward: streams are per connection, the session lives on
            again = await asyncio.to_thread(fetch, port)
        except Exception as e:
            raise AssertionError(f"{e!r}; kubectl said: {(await stop_forward(proc)).decode()}") from e
        assert len(answers) == 20 and all('"pod": "web"' in a or '"pod":"web"' in a for a in answers), answers[:2]
        assert "pod=web" in again
    finally:
        await stop_forward(proc)


@shared
async def test_kubectl_port_forward_nothing_listening_is_upstreams_error(cluster):
    proc, port = await start_forward(cluster, "pod/web", f"{free_port()}:81")
    try:
        with pytest.raises(Exception):
            await asyncio.to_thread(fetch, port)
    finally:
        err = (await stop_forward(proc)).decode()
    assert "error forwarding port 81 to pod " in err, err
    assert ", uid : failed to execute portforward in network namespace " in err, err
    assert "failed to connect to localhost:81 inside namespace " in err, err
    assert f"IPv4: dial tcp4 {cluster.pod_prefix}" in err and ":81: connect: connection refused" in err, err


@shared
async def test_port_forward_to_a_pending_pod_is_400(cluster):
    await cluster.registry.create(resource_for("pods"), "default", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "waiting"},
        "spec": {"containers": [{"name": "c", "image": "kubetui/hello"}]}})    # no node: stays Pending
    core = k8s.CoreV1Api(api_client(cluster))

    def attempt():
        portforward(core.connect_get_namespaced_pod_portforward, "waiting", "default", ports="80")
    with pytest.raises(Exception) as e:
        await asyncio.to_thread(attempt)
    assert "400" in str(e.value)
    assert "unable to forward port because pod is not running. Current status=Pending" in str(e.value)


@shared
async def test_python_client_portforward(cluster):
    core = k8s.CoreV1Api(api_client(cluster))

    def talk() -> tuple[bytes, str | None, str | None]:
        pf = portforward(core.connect_get_namespaced_pod_portforward, "web", "default", ports="8080,81")
        s = pf.socket(8080)
        s.setblocking(True)
        s.sendall(b"GET / HTTP/1.0\r\nHost: web\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        bad = pf.socket(81)
        bad.setblocking(True)
        bad.settimeout(20)
        try:
            while bad.recv(4096):
                pass
        except OSError:
            pass
        bad.close()
        return data, pf.error(8080), pf.error(81)
    data, ok_err, bad_err = await asyncio.wait_for(asyncio.to_thread(talk), 60)
    assert data.startswith(b"HTTP/1.0 200") and b"pod=web" in data, data
    assert ok_err is None
    assert bad_err and "failed to connect to localhost:81 inside namespace" in bad_err, bad_err


async def test_port_forward_to_a_pod_on_a_simulated_node_says_it_cannot(tmp_path, kubectl_bin):
    c = await Cluster().start(tmp_path, kubectl_bin, kubelet=False)
    try:
        await c.registry.create(resource_for("nodes"), None, {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "sim-1", "labels": {"kubetui.dev/simulated": "true"}}})
        pod = await c.registry.create(resource_for("pods"), "default", {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "simpod"},
            "spec": {"nodeName": "sim-1", "containers": [{"name": "c", "image": "kubetui/hello"}]}})
        pod["status"] = {"phase": "Running"}
        await c.registry.update(resource_for("pods"), "default", "simpod", pod, subresource="status")
        code, out, err = await c.kubectl("port-forward", "pod/simpod", f"{free_port()}:8080", timeout=30)
        assert code != 0
        assert "node sim-1 is a simulated node" in err and "nothing listens" in err, err
    finally:
        await c.stop()


def test_spdy_header_blocks_round_trip_with_the_spdy3_dictionary():
    import zlib
    from kubetui.apiserver import spdy
    assert len(spdy.DICTIONARY) == 1423 and zlib.adler32(spdy.DICTIONARY) == 0xE3C6A7C2
    a, b = spdy.Framer(), spdy.Framer()
    for hdrs in ({"streamtype": "error", "port": "80", "requestid": "0"},
                 {"streamtype": "data", "port": "80", "requestid": "0"}):      # one context, in order
        frame = spdy.control(spdy.SYN_STREAM, 0, b"\0\0\0\x03\0\0\0\0\0\0" + a.header_block(hdrs))
        (kind, ftype, _, payload), = b.feed(frame[:5]) + b.feed(frame[5:])
        sid, block = spdy.syn_stream_id(payload)
        assert (kind, ftype, sid, b.headers(block)) == ("control", spdy.SYN_STREAM, 3, hdrs)


@shared
async def test_kubetui_client_forwards_a_service_as_kubectl_picks_its_pod(cluster):
    """What the TUI's ``F`` key runs: the Service's targetPort on one of its running pods, a local
    listener, one channel-protocol WebSocket per connection."""
    from kubetui.client.http import HTTPClient
    from kubetui.client.portforward import target_for
    client = HTTPClient.from_kubeconfig(cluster.kubeconfig)
    try:
        svc = await client.get("services", "web", "default")
        pod, port = await target_for(client, "services", svc)
        assert (pod["metadata"]["name"], port) == ("web", 8080)
        pf = await client.port_forward("default", "web", port)
        try:
            answers = await asyncio.wait_for(asyncio.to_thread(fetch_many, pf.local_port, 20), 60)
            assert all('"pod": "web"' in a or '"pod":"web"' in a for a in answers), answers[:2]
        finally:
            await pf.close()
        bad = await client.port_forward("default", "web", 81)
        try:
            with pytest.raises(Exception):
                await asyncio.to_thread(fetch, bad.local_port)
            assert any("failed to connect to localhost:81 inside namespace" in e for e in bad.errors), bad.errors
        finally:
            await bad.close()
    finally:
        await client.close()


ECHO_SERVER = r'''
import os, socket, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((os.environ.get("KUBETUI_POD_IP", "0.0.0.0"), 9000))
s.listen(64)
def serve(c):
    while d := c.recv(65536):
        c.sendall(d)
    c.shutdown(socket.SHUT_WR)          # answer the client's half-close with ours
    c.close()
while True:
    threading.Thread(target=serve, args=(s.accept()[0],), daemon=True).start()
'''


@pytest.mark.parametrize("env", [{}, {"KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"}], ids=["websocket", "spdy"])
@shared
async def test_kubectl_port_forward_streams_megabytes_both_ways_and_half_closes(cluster, env):
    """Bytes are relayed unchanged in both directions (many DATA frames), and the client's
    half-close (DATA+FIN) reaches the pod as EOF while the pod can still answer."""
    if "echo" not in [p["metadata"]["name"] for p in
                      (await cluster.registry.list(resource_for("pods"), "default"))["items"]]:
        await cluster.registry.create(resource_for("pods"), "default", {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "echo"},
            "spec": {"nodeName": NODE, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "c", "image": "busybox", "command": ["python3", "-c", ECHO_SERVER],
                                     "readinessProbe": {"tcpSocket": {"port": 9000}, "periodSeconds": 1}}]}})
        await cluster.wait_pod("echo", ready)
    proc, port = await start_forward(cluster, "pod/echo", f"{free_port()}:9000", env=env)
    payload = os.urandom(4 << 20)

    def roundtrip() -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            sender = concurrent.futures.ThreadPoolExecutor(1)
            sent = sender.submit(lambda: (s.sendall(payload), s.shutdown(socket.SHUT_WR)))
            got = bytearray()
            while chunk := s.recv(1 << 20):
                got += chunk
            sent.result(30)
            sender.shutdown()
            return bytes(got)
    try:
        got = await asyncio.wait_for(asyncio.to_thread(roundtrip), 60)
    finally:
        await stop_forward(proc)
    assert len(got) == len(payload) and got == payload


@shared
async def test_portforward_without_an_upgrade_or_with_another_method_is_refused(cluster):
    import json
    import ssl
    ctx = ssl.create_default_context(cadata=cluster.pki.ca_pem().decode())

    def call(method: str) -> tuple[int, dict]:
        req = urllib.request.Request(f"{cluster.server.url}/api/v1/namespaces/default/pods/web/portforward",
                                     method=method, headers={"Authorization": f"Bearer {cluster.auth.admin_token()}"})
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=20) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())
    code, body = await asyncio.to_thread(call, "GET")
    assert (code, body["message"]) == (400, "Upgrade request required")
    code, body = await asyncio.to_thread(call, "DELETE")
    assert (code, body["reason"]) == (405, "MethodNotAllowed")


@shared
async def test_pods_and_services_proxy_reach_the_app_as_the_basics_tutorial_does(cluster):
    # kubectl proxy + curl .../pods/$POD_NAME:8080/proxy/ (Kubernetes Basics, "Explore your app")
    for ident in ("web:8080", "web:http", "http:web:8080"):
        rc, out, err = await cluster.kubectl("get", "--raw", f"/api/v1/namespaces/default/pods/{ident}/proxy/")
        assert rc == 0 and "pod=web node=node-e2e" in out, (ident, out, err)
    rc, out, err = await cluster.kubectl("get", "--raw", "/api/v1/namespaces/default/pods/web:8080/proxy/healthz")
    assert rc == 0 and out.strip(), err
    pod = await cluster.pod("web")
    await cluster.registry.create(resource_for("endpoints"), "default", {
        "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web"},
        "subsets": [{"addresses": [{"ip": pod["status"]["podIP"], "targetRef": {
            "kind": "Pod", "namespace": "default", "name": "web", "uid": pod["metadata"]["uid"]}}],
            "ports": [{"port": 8080, "protocol": "TCP"}]}]})
    for ident in ("web", "web:80"):
        rc, out, err = await cluster.kubectl("get", "--raw", f"/api/v1/namespaces/default/services/{ident}/proxy/")
        assert rc == 0 and "pod=web node=node-e2e" in out, (ident, out, err)
    await cluster.registry.create(resource_for("services"), "default", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "lonely"},
        "spec": {"selector": {"app": "nobody"}, "ports": [{"port": 80}]}})
    rc, _, err = await cluster.kubectl("get", "--raw", "/api/v1/namespaces/default/services/lonely:80/proxy/")
    assert rc != 0 and 'Error from server (ServiceUnavailable): no endpoints available for service "lonely"' in err, err
    rc, _, err = await cluster.kubectl("get", "--raw", "/api/v1/namespaces/default/pods/web:9/proxy/")
    assert rc != 0 and "(ServiceUnavailable): error trying to reach service: dial tcp" in err, err
