"""The built-in ingress controller end to end on the local provider: host/path routing, round robin,
404, HTTPS with SNI (the Ingress's TLS Secret, else the fallback certificate), status, kubectl, traffic."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import ssl
import subprocess

import pytest
import pytest_asyncio

from kubetui.cluster import Cluster, ClusterSettings
from kubetui.ingress.dataplane import FALLBACK_CN

from tests.ingress.helpers import SHOP_INGRESS, curl, hello, ready_pods, service, tls_secret, until

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shop(tmp_path_factory):
    state = tmp_path_factory.mktemp("ingress-local")
    cluster = Cluster(ClusterSettings(name="ingress-local", provider="local", nodes=1, api_port=0,
                                      ingress_http_port=0, ingress_https_port=0), state)
    await cluster.up(ready_timeout=60)
    cp = cluster.control_plane
    c = cp.client
    try:
        for name, replicas in (("cart", 2), ("web", 1)):
            await c.create("deployments", hello(name, replicas), "default")
            await c.create("services", service(name), "default")
        secret, crt = tls_secret("shop.example", "shop-tls")
        await c.create("secrets", secret, "default")
        await c.create("ingresses", SHOP_INGRESS, "default")
        cart = await until("2 ready cart pods", lambda: ready_pods(c, "cart", 2))
        web = await until("1 ready web pod", lambda: ready_pods(c, "web", 1))
        yield cluster, {p["metadata"]["name"] for p in cart}, {p["metadata"]["name"] for p in web}, crt
    finally:
        await cluster.stop()


def _pod(body: str) -> str:
    return body.split()[0].removeprefix("pod=") if body.startswith("pod=") else body


async def test_default_class_and_status(shop):
    cluster, *_ = shop
    cp = cluster.control_plane
    ing = await until("the Ingress's address", lambda: _addressed(cp.client))
    assert ing["spec"]["ingressClassName"] == "kubetui"          # DefaultIngressClass admission
    dp = cp.ingress_dataplane
    assert ing["status"]["loadBalancer"]["ingress"] == [
        {"ip": "127.0.0.1", "ports": [{"port": dp.http_port, "protocol": "TCP"},
                                      {"port": dp.https_port, "protocol": "TCP"}]}]
    # the ports are remembered for the next start, like the API port
    saved = ClusterSettings.load(cluster.state_dir)
    assert (saved.ingress_http_port, saved.ingress_https_port) == (dp.http_port, dp.https_port)
    env = {**os.environ, "KUBECONFIG": str(cp.kubeconfig_path)}
    out = await asyncio.to_thread(subprocess.run, ["kubectl", "get", "ingress", "shop"], capture_output=True,
                                  text=True, env=env, timeout=30)
    assert out.stdout.splitlines()[0].split() == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
    assert out.stdout.splitlines()[1].split()[:6] == ["shop", "kubetui", "shop.example", "127.0.0.1", "80,", "443"]
    out = await asyncio.to_thread(subprocess.run, ["kubectl", "get", "ingressclass"], capture_output=True,
                                  text=True, env=env, timeout=30)
    assert out.stdout.splitlines()[1].split()[:3] == ["kubetui", "kubetui.dev/ingress-controller", "<none>"]


async def _addressed(c):
    ing = await c.get("ingresses", "shop", "default")
    return ing if (ing.get("status") or {}).get("loadBalancer", {}).get("ingress") else None


async def test_curl_routes_by_host_and_path(shop):
    cluster, cart, web, _ = shop
    port = cluster.control_plane.ingress_dataplane.http_port
    url = f"http://127.0.0.1:{port}"
    await until("the cart route", lambda: _ok("-H", "Host: shop.example", f"{url}/cart"))
    answered = set()
    for _ in range(6):
        code, body = await asyncio.to_thread(curl, "-H", "Host: shop.example", f"{url}/cart/items?id=1")
        assert code == 200, body
        answered.add(_pod(body))
    assert answered == cart                                       # round robin over both replicas
    code, body = await asyncio.to_thread(curl, "-H", "Host: shop.example", f"{url}/carts")
    assert code == 200 and _pod(body) in web                      # /carts is not under /cart: "/" wins
    code, body = await asyncio.to_thread(curl, "-H", "Host: other.example", f"{url}/cart")
    assert (code, body) == (404, "default backend - 404\n")


async def _ok(*args: str):
    """curl off the event loop (the data plane answers on it); the answer if 200."""
    code, body = await asyncio.to_thread(curl, *args)
    return (code, body) if code == 200 else None


async def test_https_uses_the_secret_for_its_host_and_a_fallback_otherwise(shop):
    cluster, cart, _web, crt = shop
    port = cluster.control_plane.ingress_dataplane.https_port
    # curl --resolve: the name resolves to 127.0.0.1, SNI and Host say shop.example, the Secret's cert verifies
    code, body = await asyncio.to_thread(
        curl, "--resolve", f"shop.example:{port}:127.0.0.1", "--cacert", _ca(crt),
        f"https://shop.example:{port}/cart")
    assert code == 200 and _pod(body) in cart, body
    # Python's ssl with server_hostname: the certificate served is the Secret's
    got = await asyncio.to_thread(_peer_cert, port, "shop.example", crt)
    assert ("commonName", "shop.example") in [x for rdn in got["subject"] for x in rdn]
    # another name: the fallback certificate
    der = await asyncio.to_thread(_peer_der, port, "nope.example")
    from cryptography import x509
    assert FALLBACK_CN in x509.load_der_x509_certificate(der).subject.rfc4514_string()


_CA_FILES: dict[bytes, str] = {}


def _ca(crt: bytes) -> str:
    import tempfile
    if crt not in _CA_FILES:
        f = tempfile.NamedTemporaryFile("wb", suffix=".pem", delete=False)
        f.write(crt)
        f.close()
        _CA_FILES[crt] = f.name
    return _CA_FILES[crt]


def _peer_cert(port: int, name: str, crt: bytes) -> dict:
    ctx = ssl.create_default_context(cadata=crt.decode())
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        with ctx.wrap_socket(s, server_hostname=name) as tls:
            tls.sendall(f"GET / HTTP/1.1\r\nHost: {name}\r\n\r\n".encode())
            assert tls.recv(12)[8:12] == b" 200"
            return tls.getpeercert()


def _peer_der(port: int, name: str) -> bytes:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        with ctx.wrap_socket(s, server_hostname=name) as tls:
            return tls.getpeercert(binary_form=True)


async def test_traffic_view_counts_ingress_connections_per_endpoint(shop):
    cluster, cart, _web, _ = shop
    cp = cluster.control_plane
    port = cp.ingress_dataplane.http_port
    for _ in range(4):
        await asyncio.to_thread(curl, "-H", "Host: shop.example", f"http://127.0.0.1:{port}/cart")
    from kubetui.cluster.views import traffic
    doc = await traffic(cp, "default/cart")
    eps = doc["ingresses"]["default/cart:80"]
    assert {e["pod"].split("/")[1] for e in eps.values()} == cart
    assert sum(e["connections"] for e in eps.values()) >= 4
    assert not doc["ingresses"].get("default/web:http") and json.dumps(doc)


async def _kubectl(cp, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KUBECONFIG": str(cp.kubeconfig_path)}
    return await asyncio.to_thread(subprocess.run, ["kubectl", *args], capture_output=True, text=True, env=env,
                                   timeout=30)


async def test_kubectl_create_and_describe_and_bad_input(shop):
    cluster, cart, _web, _ = shop
    cp = cluster.control_plane
    # kubectl create ingress sends protobuf; the rule becomes upstream's shape, the class the default one
    out = await _kubectl(cp, "create", "ingress", "simple", "--rule=foo.example/bar*=cart:80")
    assert out.returncode == 0, out.stderr
    got = await cp.client.get("ingresses", "simple", "default")
    assert got["spec"]["rules"] == [{"host": "foo.example", "http": {"paths": [
        {"path": "/bar", "pathType": "Prefix", "backend": {"service": {"name": "cart", "port": {"number": 80}}}}]}}]
    assert got["spec"]["ingressClassName"] == "kubetui"
    out = await _kubectl(cp, "describe", "ingress", "shop")
    assert out.returncode == 0, out.stderr
    assert "shop-tls terminates shop.example" in out.stdout
    line = next(x for x in out.stdout.splitlines() if "/cart" in x)
    assert "cart:80 (" in line and line.count(":8080") == 2, line      # both cart pods, as upstream prints
    # a path without a type: 422 with upstream's message, nothing stored
    bad = {**SHOP_INGRESS, "metadata": {"name": "bad"}, "spec": {"rules": [{"host": "x.example", "http": {"paths": [
        {"path": "/", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}
    out = await asyncio.to_thread(
        subprocess.run, ["kubectl", "apply", "-f", "-"], input=json.dumps(bad), capture_output=True, text=True,
        env={**os.environ, "KUBECONFIG": str(cp.kubeconfig_path)}, timeout=30)
    assert out.returncode != 0
    assert 'The Ingress "bad" is invalid: spec.rules[0].http.paths[0].pathType: Required value: pathType ' \
           "must be specified" in out.stderr
    assert (await _kubectl(cp, "get", "ingress", "bad")).returncode != 0
    # discovery and the OpenAPI schemas: short name, explain
    out = await _kubectl(cp, "api-resources", "--api-group=networking.k8s.io")
    rows = {line.split()[0]: line.split() for line in out.stdout.splitlines()[1:]}
    assert rows["ingresses"] == ["ingresses", "ing", "networking.k8s.io/v1", "true", "Ingress"]
    assert rows["ingressclasses"] == ["ingressclasses", "networking.k8s.io/v1", "false", "IngressClass"]
    out = await _kubectl(cp, "explain", "ing.spec.rules.http.paths.pathType")
    assert out.returncode == 0 and "ImplementationSpecific" in out.stdout, out.stderr
