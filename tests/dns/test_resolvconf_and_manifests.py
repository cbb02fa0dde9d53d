"""Pods' resolv.conf (the kubelet's dnsPolicy rules) and the kube-dns objects created at bootstrap."""

from __future__ import annotations

import pytest

from kubetui.dns.manifests import dns_deployment, dns_service
from kubetui.dns.resolvconf import pod_resolv_conf

NODE = "nameserver 127.0.0.11\nsearch lab.example\noptions edns0 trust-ad\n"


def pod(ns="shop", **spec):
    return {"metadata": {"name": "p", "namespace": ns}, "spec": spec}


@pytest.mark.parametrize("spec, want", [
    ({}, "search shop.svc.cluster.local svc.cluster.local cluster.local lab.example\n"
         "nameserver 10.96.0.10\noptions ndots:5\n"),
    ({"dnsPolicy": "Default"}, "search lab.example\nnameserver 127.0.0.11\noptions edns0 trust-ad\n"),
    ({"hostNetwork": True}, "search lab.example\nnameserver 127.0.0.11\noptions edns0 trust-ad\n"),
    ({"hostNetwork": True, "dnsPolicy": "ClusterFirstWithHostNet"},
     "search shop.svc.cluster.local svc.cluster.local cluster.local lab.example\n"
     "nameserver 10.96.0.10\noptions ndots:5\n"),
    ({"dnsPolicy": "None", "dnsConfig": {"nameservers": ["1.2.3.4"], "searches": ["a.b"],
                                         "options": [{"name": "ndots", "value": "2"}]}},
     "search a.b\nnameserver 1.2.3.4\noptions ndots:2\n"),
    ({"dnsConfig": {"options": [{"name": "ndots", "value": "1"}, {"name": "edns0"}]}},
     "search shop.svc.cluster.local svc.cluster.local cluster.local lab.example\n"
     "nameserver 10.96.0.10\noptions ndots:1 edns0\n"),
])
def test_pod_resolv_conf(spec, want):
    assert pod_resolv_conf(pod(**spec), node_resolv_conf=NODE) == want


async def test_kube_dns_objects_are_accepted_by_the_api_server(tmp_path):
    from kubetui.apiserver.registry import Registry
    from kubetui.apiserver.inprocess import InProcessClient
    from kubetui.clock import FakeClock
    from kubetui.store import Store
    store = Store(None, clock=FakeClock())
    await store.open()
    registry = Registry(store, clock=FakeClock())
    await registry.bootstrap()
    client = InProcessClient(registry)
    try:
        svc = await client.create("services", dns_service(), "kube-system")
        assert svc["spec"]["clusterIP"] == "10.96.0.10"
        dep = await client.create("deployments", dns_deployment("kubetui/node:test"), "kube-system")
        assert dep["spec"]["template"]["metadata"]["labels"] == svc["spec"]["selector"]
    finally:
        await store.close()


def test_dns_flags_parse_like_argparse(monkeypatch, capsys):
    """The DNS server's own flag parser (no argparse in the pod): defaults, both spellings, errors."""
    from kubetui.dns.__main__ import SA_DIR, parse_args
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    monkeypatch.delenv("KUBETUI_LOG_LEVEL", raising=False)
    a = parse_args(["--listen", "0.0.0.0:53", "--upstream=1.1.1.1", "--service-addresses", "loopback"])
    assert (a.api_server, a.token_file, a.ca_file, a.listen, a.cluster_domain, a.upstream,
            a.service_addresses, a.log_level) == ("https://10.96.0.1:443", f"{SA_DIR}/token", f"{SA_DIR}/ca.crt",
                                                  "0.0.0.0:53", "cluster.local", "1.1.1.1", "loopback", "INFO")
    for bad, msg in ((["--nope", "x"], "unrecognized arguments: --nope"),
                     (["--listen"], "argument --listen: expected one argument"),
                     (["--service-addresses", "x"], "argument --service-addresses: invalid choice: 'x'")):
        with pytest.raises(SystemExit) as e:
            parse_args(bad)
        assert e.value.code == 2 and msg in capsys.readouterr().err
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST")
    with pytest.raises(SystemExit):
        parse_args([])
    assert "--api-server is required" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        parse_args(["--help"])
    assert e.value.code == 0 and "--cluster-domain" in capsys.readouterr().out
