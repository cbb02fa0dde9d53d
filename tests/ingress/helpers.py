"""What the ingress end-to-end tests share: manifests, a TLS certificate, curl, polling."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import subprocess

import pytest


def hello(name: str, replicas: int) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{
                                      "name": "hello", "image": "kubetui/hello:1",
                                      "ports": [{"containerPort": 8080}],
                                      "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080},
                                                         "periodSeconds": 1}}]}}}}


def service(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}


SHOP_INGRESS = {
    "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "shop"},
    "spec": {"tls": [{"hosts": ["shop.example"], "secretName": "shop-tls"}],
             "rules": [{"host": "shop.example", "http": {"paths": [
                 {"path": "/cart", "pathType": "Prefix",
                  "backend": {"service": {"name": "cart", "port": {"number": 80}}}},
                 {"path": "/", "pathType": "Prefix",
                  "backend": {"service": {"name": "web", "port": {"name": "http"}}}}]}}]}}


def tls_secret(host: str, name: str) -> tuple[dict, bytes]:
    """A ``kubernetes.io/tls`` Secret with a self-signed certificate for ``host``, and that certificate (PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    crt = cert.public_bytes(serialization.Encoding.PEM)
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return ({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "type": "kubernetes.io/tls",
             "data": {"tls.crt": base64.b64encode(crt).decode(), "tls.key": base64.b64encode(pem_key).decode()}},
            crt)


def curl(*args: str) -> tuple[int, str]:
    """``curl -s -w '\\n%{http_code}' ...``: (status code, body)."""
    r = subprocess.run(["curl", "-s", "--max-time", "10", "-w", "\n%{http_code}", *args],
                       capture_output=True, text=True, timeout=20)
    body, _, code = r.stdout.rpartition("\n")
    return int(code or 0), body


async def until(what: str, probe, timeout: float = 60.0):
    """Await ``probe()`` until truthy (bounded); fail naming what was awaited and the last answer."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last = None
    while loop.time() < deadline:
        try:
            last = await probe()
        except Exception as e:  # noqa: BLE001 - keep polling, report the last failure
            last = e
        if last and not isinstance(last, Exception):
            return last
        await asyncio.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}; last: {last!r}")


async def ready_pods(c, app: str, n: int):
    pods = (await c.list("pods", "default", label_selector=f"app={app}"))["items"]
    ready = [p for p in pods if any(x.get("type") == "Ready" and x.get("status") == "True"
                                    for x in (p.get("status") or {}).get("conditions") or [])]
    return ready if len(ready) >= n else None
