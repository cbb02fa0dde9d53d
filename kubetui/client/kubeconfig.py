"""kubeconfig files: where the cluster is, how to trust it, who you are.

Upstream: ``k8s.io/client-go/tools/clientcmd``. A kubeconfig names clusters
(server URL + CA), users (a bearer token, or a client certificate and key
signed by the cluster CA) and contexts pairing them;
``current-context`` picks one. kubetui writes one per cluster, so the same
file works with real kubectl, the ``kubernetes`` Python client and
kubetui's own ``HTTPClient``.
"""

from __future__ import annotations

import base64
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass(frozen=True)
class KubeConfig:
    """The parts of the current context a client needs."""

    server: str
    ca_pem: bytes | None
    token: str | None
    cluster: str = ""
    user: str = ""
    context: str = ""
    namespace: str = "default"
    insecure_skip_tls_verify: bool = False
    client_cert_pem: bytes | None = None
    client_key_pem: bytes | None = None
    # the user's ``as`` / ``as-groups`` (client-go's ImpersonationConfig): sent as Impersonate-* headers
    impersonate_user: str = ""
    impersonate_groups: tuple[str, ...] = ()

    def impersonation_headers(self) -> list[tuple[str, str]]:
        if not self.impersonate_user:
            return []
        return [("Impersonate-User", self.impersonate_user),
                *(("Impersonate-Group", g) for g in self.impersonate_groups)]

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.server.startswith("https://"):
            return None
        if self.insecure_skip_tls_verify:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif self.ca_pem:
            ctx = ssl.create_default_context(cadata=self.ca_pem.decode())
        else:
            ctx = ssl.create_default_context()
        if self.client_cert_pem and self.client_key_pem:
            _load_client_cert(ctx, self.client_cert_pem, self.client_key_pem)
        return ctx


def _load_client_cert(ctx: ssl.SSLContext, cert_pem: bytes, key_pem: bytes) -> None:
    """``load_cert_chain`` reads files only: a private 0600 temp file, removed at once."""
    import tempfile
    fd, path = tempfile.mkstemp(prefix="kubetui-client-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(cert_pem + b"\n" + key_pem)
        ctx.load_cert_chain(path)
    finally:
        os.unlink(path)


def kubeconfig_dict(name: str, server: str, ca_pem: bytes | None, token: str,
                    user: str = "kubernetes-admin") -> dict:
    """A kubeconfig for cluster ``kubetui-<name>`` (as kind names its contexts ``kind-<name>``)."""
    cluster_name = f"kubetui-{name}"
    cluster: dict = {"server": server}
    if ca_pem:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    user_name = f"{user}@{cluster_name}" if user != "kubernetes-admin" else cluster_name
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": cluster_name, "cluster": cluster}],
        "users": [{"name": user_name, "user": {"token": token}}],
        "contexts": [{"name": cluster_name,
                      "context": {"cluster": cluster_name, "user": user_name, "namespace": "default"}}],
        "current-context": cluster_name,
    }


def write_kubeconfig(path: str | os.PathLike[str], name: str, server: str, ca_pem: bytes | None,
                     token: str | None, user: str = "kubernetes-admin", *,
                     client_cert: tuple[bytes, bytes] | None = None, namespace: str = "default") -> Path:
    """Write the kubeconfig (mode 0600: it holds a credential): a token, or a client (cert, key).

    ``namespace`` is the context's: where kubectl (and the TUI) work without ``-n``.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    d = kubeconfig_dict(name, server, ca_pem, token or "", user)
    d["contexts"][0]["context"]["namespace"] = namespace
    if client_cert is not None:
        d["users"][0]["user"] = {"client-certificate-data": base64.b64encode(client_cert[0]).decode(),
                                 "client-key-data": base64.b64encode(client_cert[1]).decode()}
    text = yaml.safe_dump(d, sort_keys=False)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(p, 0o600)
    return p


def load_kubeconfig(path: str | os.PathLike[str], context: str | None = None) -> KubeConfig:
    """Read the current (or named) context of a kubeconfig file."""
    p = Path(path)
    data = yaml.safe_load(p.read_text()) or {}
    ctx_name = context or data.get("current-context")
    contexts = {c["name"]: c.get("context", {}) for c in data.get("contexts") or []}
    if not ctx_name or ctx_name not in contexts:
        raise ValueError(f"kubeconfig {p}: context {ctx_name!r} not found")
    ctx = contexts[ctx_name]
    clusters = {c["name"]: c.get("cluster", {}) for c in data.get("clusters") or []}
    users = {u["name"]: u.get("user", {}) for u in data.get("users") or []}
    cluster = clusters.get(ctx.get("cluster"))
    if cluster is None:
        raise ValueError(f"kubeconfig {p}: cluster {ctx.get('cluster')!r} not found")
    user = users.get(ctx.get("user"), {})
    ca_pem: bytes | None = None
    if cluster.get("certificate-authority-data"):
        ca_pem = base64.b64decode(cluster["certificate-authority-data"])
    elif cluster.get("certificate-authority"):
        ca_path = Path(cluster["certificate-authority"])
        if not ca_path.is_absolute():
            ca_path = p.parent / ca_path
        ca_pem = ca_path.read_bytes()
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = Path(user["tokenFile"]).read_text().strip()
    cert = base64.b64decode(user["client-certificate-data"]) if user.get("client-certificate-data") else None
    key = base64.b64decode(user["client-key-data"]) if user.get("client-key-data") else None
    return KubeConfig(server=cluster["server"].rstrip("/"), ca_pem=ca_pem, token=token,
                      client_cert_pem=cert, client_key_pem=key,
                      cluster=ctx.get("cluster", ""), user=ctx.get("user", ""), context=ctx_name,
                      namespace=ctx.get("namespace") or "default",
                      insecure_skip_tls_verify=bool(cluster.get("insecure-skip-tls-verify")),
                      impersonate_user=str(user.get("as") or ""),
                      impersonate_groups=tuple(str(g) for g in user.get("as-groups") or ()))
