"""The Docker provider's cluster DNS add-on: what it creates, and that creating it again changes nothing."""

from __future__ import annotations

import base64

from kubetui.cluster import Cluster, ClusterSettings
from kubetui.providers.docker.addons import SA_MOUNT, dns_objects, install_dns, service_account_user


def test_dns_pod_mounts_the_service_account_token_secret():
    objs = dict(dns_objects("tok", "CA PEM"))
    secret = objs["secrets"]
    assert secret["type"] == "kubernetes.io/service-account-token"
    assert secret["metadata"]["annotations"] == {"kubernetes.io/service-account.name": "kube-dns"}
    assert {k: base64.b64decode(v).decode() for k, v in secret["data"].items()} == \
        {"token": "tok", "ca.crt": "CA PEM", "namespace": "kube-system"}
    pod = objs["deployments"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "kube-dns"
    assert pod["volumes"] == [{"name": "kube-api-access", "secret": {"secretName": "kube-dns-token"}}]
    assert pod["containers"][0]["volumeMounts"] == [{"name": "kube-api-access", "mountPath": SA_MOUNT,
                                                     "readOnly": True}]
    assert pod["containers"][0]["image"] == "kubetui/dns:1"
    assert objs["services"]["spec"]["clusterIP"] == "10.96.0.10"
    assert service_account_user("kube-system", "kube-dns") == "system:serviceaccount:kube-system:kube-dns"


async def test_install_is_accepted_by_the_api_and_idempotent(tmp_path):
    cluster = Cluster(ClusterSettings(name="dnsaddon", provider="simulated", nodes=1, api_port=0), tmp_path)
    await cluster.up(ready_timeout=30)
    try:
        client = cluster.control_plane.client
        first = await install_dns(client, "tok", "CA PEM")
        assert first == ["ServiceAccount/kube-dns", "Secret/kube-dns-token", "Service/kube-dns", "Deployment/kube-dns"]
        assert await install_dns(client, "tok", "CA PEM") == []
        svc = await client.get("services", "kube-dns", "kube-system")
        assert [(p["name"], p["protocol"]) for p in svc["spec"]["ports"]] == [("dns", "UDP"), ("dns-tcp", "TCP")]
    finally:
        await cluster.stop()
