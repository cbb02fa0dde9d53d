"""The cluster DNS add-on of a Docker cluster (kubeadm's CoreDNS add-on phase, ``kubeadm init phase addon coredns``).

At bootstrap the control plane creates, in ``kube-system``:

* the ``kube-dns`` ServiceAccount and a Secret of type
  ``kubernetes.io/service-account-token`` holding its token, the cluster CA and
  the namespace: what the (legacy) token controller writes; the DNS pod
  mounts it at ``/var/run/secrets/kubernetes.io/serviceaccount``, the path
  every in-cluster client reads. The token authenticates as
  ``system:serviceaccount:kube-system:kube-dns``, not as a node;
* the ``kube-dns`` Service (ClusterIP 10.96.0.10, 53/UDP and 53/TCP) and
  Deployment (image ``kubetui/dns:1``, ``python3 -m kubetui.dns``) from
  ``kubetui.dns.manifests``.

Only the Docker provider gets it: its pods have their own network namespace
and ``/etc/resolv.conf``, which the kubelet points at 10.96.0.10. Local pods
share this machine's resolv.conf and its port 53, so a cluster DNS could never
be their resolver (they reach Services at 127.S.A.B, in their cluster's loopback block); simulated pods
run nowhere. Creating it is idempotent: what exists is left alone.
"""

from __future__ import annotations

import base64
import logging
from typing import Any

from kubetui.api import errors
from kubetui.dns.manifests import NAMESPACE, dns_deployment, dns_service

log = logging.getLogger(__name__)

DNS_IMAGE = "kubetui/dns:1"
SERVICE_ACCOUNT = "kube-dns"
TOKEN_SECRET = "kube-dns-token"
SA_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


def service_account_user(namespace: str, name: str) -> str:
    """The user name a ServiceAccount token authenticates as (upstream ``serviceaccount.MakeUsername``)."""
    return f"system:serviceaccount:{namespace}:{name}"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def token_secret(token: str, ca_pem: str, namespace: str = NAMESPACE, sa: str = SERVICE_ACCOUNT) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
            "metadata": {"name": TOKEN_SECRET, "namespace": namespace,
                         "annotations": {"kubernetes.io/service-account.name": sa}},
            "data": {"token": _b64(token), "ca.crt": _b64(ca_pem), "namespace": _b64(namespace)}}


def dns_objects(token: str, ca_pem: str) -> list[tuple[str, dict[str, Any]]]:
    """(resource, object) to create, in order."""
    deploy = dns_deployment(DNS_IMAGE)
    pod = deploy["spec"]["template"]["spec"]
    # What the ServiceAccount admission plugin adds to a pod, spelled out (a
    # secret volume instead of today's projected one).
    pod["serviceAccountName"] = SERVICE_ACCOUNT
    pod["automountServiceAccountToken"] = False
    pod["volumes"] = [{"name": "kube-api-access", "secret": {"secretName": TOKEN_SECRET}}]
    for c in pod["containers"]:
        c["volumeMounts"] = [{"name": "kube-api-access", "mountPath": SA_MOUNT, "readOnly": True}]
    return [("serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount",
                                 "metadata": {"name": SERVICE_ACCOUNT, "namespace": NAMESPACE}}),
            ("secrets", token_secret(token, ca_pem)),
            ("services", dns_service()),
            ("deployments", deploy)]


async def install_dns(client: Any, token: str, ca_pem: str) -> list[str]:
    """Create whatever of the DNS add-on is missing; returns what was created (``kind/name``)."""
    created = []
    for resource, obj in dns_objects(token, ca_pem):
        try:
            # Look first: creating a Service that exists fails on its ClusterIP, not as AlreadyExists.
            await client.get(resource, obj["metadata"]["name"], NAMESPACE)
            continue
        except errors.NotFound:
            pass
        try:
            await client.create(resource, obj, NAMESPACE)
            created.append(f"{obj['kind']}/{obj['metadata']['name']}")
        except errors.AlreadyExists:
            pass
    if created:
        log.info("cluster DNS add-on: created %s", ", ".join(created))
    return created
