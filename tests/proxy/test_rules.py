"""kube-proxy's iptables-restore text, table-tested against upstream's layout (pkg/proxy/iptables/proxier.go)."""

from __future__ import annotations

import pytest
from tests.proxy.fixtures import endpoint, service, slice_

from kubetui.proxy.rules import (
    ProxyConfig, build_rules, endpoint_chain, probability, restore_chains, service_chain,
)

CFG = ProxyConfig(node_name="node-1", node_ip="172.18.0.2")
THREE = [endpoint("10.244.1.5"), endpoint("10.244.2.7", "node-2"), endpoint("10.244.3.9", "node-3")]


def nat(text: str) -> list[str]:
    return text.split("*nat\n", 1)[1].splitlines()


def filt(text: str) -> list[str]:
    return text.split("*nat\n", 1)[0].splitlines()


@pytest.mark.parametrize("name, proto, chain", [
    # the chains every real cluster has (kubeadm / kind): same hashes here
    ("default/kubernetes:https", "tcp", "KUBE-SVC-NPX46M4PTMTKRN6Y"),
    ("kube-system/kube-dns:dns", "udp", "KUBE-SVC-TCOU7JCQXEZGVUNU"),
    ("kube-system/kube-dns:dns-tcp", "tcp", "KUBE-SVC-ERIFXISQEP7F7OF4"),
    ("kube-system/kube-dns:metrics", "tcp", "KUBE-SVC-JD5MR3NA4I4DYORP"),
])
def test_chain_names_hash_as_upstream(name, proto, chain):
    assert service_chain(name, proto) == chain


@pytest.mark.parametrize("n, want", [(1, "1.0000000000"), (2, "0.5000000000"), (3, "0.3333333333"),
                                     (4, "0.2500000000"), (7, "0.1428571429")])
def test_probability_format(n, want):
    assert probability(n) == want


def test_cluster_ip_with_three_endpoints_is_exactly_upstreams_layout():
    rs = build_rules([service("web")], [slice_("web", THREE)], CFG)
    svc = "KUBE-SVC-CDGGSHYLG3RE2FKL"
    a, b, c = (endpoint_chain("default/web:http", "tcp", ep) for ep in
               ("10.244.1.5:8080", "10.244.2.7:8080", "10.244.3.9:8080"))
    assert nat(rs.text) == [
        ":KUBE-SERVICES - [0:0]", ":KUBE-NODEPORTS - [0:0]", ":KUBE-POSTROUTING - [0:0]", ":KUBE-MARK-MASQ - [0:0]",
        f":{svc} - [0:0]", f":{a} - [0:0]", f":{b} - [0:0]", f":{c} - [0:0]",
        "-A KUBE-POSTROUTING -m mark ! --mark 0x004000/0x004000 -j RETURN",
        "-A KUBE-POSTROUTING -j MARK --xor-mark 0x004000",
        '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
        "-A KUBE-MARK-MASQ -j MARK --or-mark 0x004000",
        f'-A KUBE-SERVICES -m comment --comment "default/web:http cluster IP" -m tcp -p tcp -d 10.96.0.20 --dport 80 -j {svc}',
        f'-A {svc} -m comment --comment "default/web:http cluster IP" -m tcp -p tcp -d 10.96.0.20 --dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ',
        f'-A {svc} -m comment --comment "default/web:http -> 10.244.1.5:8080" -m statistic --mode random --probability 0.3333333333 -j {a}',
        f'-A {svc} -m comment --comment "default/web:http -> 10.244.2.7:8080" -m statistic --mode random --probability 0.5000000000 -j {b}',
        f'-A {svc} -m comment --comment "default/web:http -> 10.244.3.9:8080" -j {c}',
        f"-A {a} -m comment --comment default/web:http -s 10.244.1.5 -j KUBE-MARK-MASQ",
        f"-A {a} -m comment --comment default/web:http -m tcp -p tcp -j DNAT --to-destination 10.244.1.5:8080",
        f"-A {b} -m comment --comment default/web:http -s 10.244.2.7 -j KUBE-MARK-MASQ",
        f"-A {b} -m comment --comment default/web:http -m tcp -p tcp -j DNAT --to-destination 10.244.2.7:8080",
        f"-A {c} -m comment --comment default/web:http -s 10.244.3.9 -j KUBE-MARK-MASQ",
        f"-A {c} -m comment --comment default/web:http -m tcp -p tcp -j DNAT --to-destination 10.244.3.9:8080",
        '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
        "COMMIT",
    ]
    assert filt(rs.text)[-4:] == [
        "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP",
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x004000/0x004000 -j ACCEPT',
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
        "COMMIT"]
    assert {e.endpoint for e in rs.endpoints.values()} == {"10.244.1.5:8080", "10.244.2.7:8080", "10.244.3.9:8080"}
    assert rs.endpoints[a].pod == "default/pod-5" and rs.endpoints[b].node_name == "node-2"


def test_nodeport_goes_through_kube_nodeports_and_the_ext_chain():
    svc = service("web", type="NodePort",
                  ports=[{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080, "nodePort": 30080}])
    lines = nat(build_rules([svc], [slice_("web", THREE)], CFG).text)
    ext, chain = "KUBE-EXT-CDGGSHYLG3RE2FKL", "KUBE-SVC-CDGGSHYLG3RE2FKL"
    assert f"-A KUBE-NODEPORTS -m comment --comment default/web:http -m tcp -p tcp --dport 30080 -j {ext}" in lines
    assert (f'-A {ext} -m comment --comment "masquerade traffic for default/web:http external destinations" '
            "-j KUBE-MARK-MASQ") in lines
    assert f"-A {ext} -j {chain}" in lines
    assert lines[-2].endswith("-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS")   # still the last rule


def test_external_traffic_policy_local_uses_only_this_nodes_endpoints():
    svc = service("web", type="NodePort", externalTrafficPolicy="Local",
                  ports=[{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080}])
    lines = nat(build_rules([svc], [slice_("web", THREE)], CFG).text)
    svl = "KUBE-SVL-CDGGSHYLG3RE2FKL"
    assert "-A KUBE-EXT-CDGGSHYLG3RE2FKL -j " + svl in lines
    svl_rules = [line for line in lines if line.startswith(f"-A {svl} ")]
    assert len(svl_rules) == 1 and "10.244.1.5:8080" in svl_rules[0]     # node-1's endpoint only


def test_named_ports_resolve_per_slice_and_pick_the_matching_port():
    svc = service("web", ports=[{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "web"},
                                {"name": "metrics", "port": 9100, "protocol": "TCP", "targetPort": "metrics"}])
    slices = [slice_("web", [endpoint("10.244.1.5")], name="web-a",
                     ports=[{"name": "http", "port": 8080, "protocol": "TCP"},
                            {"name": "metrics", "port": 9100, "protocol": "TCP"}]),
              slice_("web", [endpoint("10.244.2.7", "node-2")], name="web-b",
                     ports=[{"name": "http", "port": 8081, "protocol": "TCP"},
                            {"name": "metrics", "port": 9100, "protocol": "TCP"}])]
    text = build_rules([svc], slices, CFG).text
    assert "--to-destination 10.244.1.5:8080" in text and "--to-destination 10.244.2.7:8081" in text
    assert "--to-destination 10.244.1.5:9100" in text
    assert '--comment "default/web:metrics cluster IP"' in text
    assert service_chain("default/web:metrics", "tcp") in text


def test_client_ip_affinity_checks_recent_before_the_random_spread():
    svc = service("web", sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 600}})
    lines = nat(build_rules([svc], [slice_("web", THREE[:2])], CFG).text)
    chain = "KUBE-SVC-CDGGSHYLG3RE2FKL"
    rules = [line for line in lines if line.startswith(f"-A {chain} ") and "KUBE-MARK-MASQ" not in line]
    a = endpoint_chain("default/web:http", "tcp", "10.244.1.5:8080")
    assert rules[0] == (f'-A {chain} -m comment --comment "default/web:http -> 10.244.1.5:8080" '
                        f"-m recent --name {a} --rcheck --seconds 600 --reap -j {a}")
    assert "statistic" in rules[2] and "recent" not in rules[2]
    assert (f"-A {a} -m comment --comment default/web:http -m recent --name {a} --set -m tcp -p tcp "
            "-j DNAT --to-destination 10.244.1.5:8080") in lines


def test_headless_and_external_name_services_are_not_proxied():
    headless = service("db", ip="None")
    ext = service("ext", ip=None, type="ExternalName", externalName="example.org")
    rs = build_rules([headless, ext], [slice_("db", THREE)], CFG)
    assert "KUBE-SVC-" not in rs.text and "KUBE-SEP-" not in rs.text and not rs.endpoints


def test_no_endpoints_rejects_in_the_filter_table_and_writes_no_nat_chains():
    rs = build_rules([service("web")], [slice_("web", [])], CFG)
    assert ('-A KUBE-SERVICES -m comment --comment "default/web:http has no endpoints" -m tcp -p tcp '
            "-d 10.96.0.20 --dport 80 -j REJECT") in filt(rs.text)
    assert "KUBE-SVC-" not in rs.text


def test_only_ready_endpoints_then_serving_terminating_as_a_fallback():
    eps = [endpoint("10.244.1.5"), endpoint("10.244.2.7", ready=False),               # not ready: out
           endpoint("10.244.3.9", ready=False, serving=True, terminating=True)]       # terminating: out
    text = build_rules([service("web")], [slice_("web", eps)], CFG).text
    assert "10.244.1.5:8080" in text and "10.244.2.7" not in text and "10.244.3.9" not in text
    # when nothing is ready, terminating-but-still-serving endpoints keep the Service answering
    eps = [endpoint("10.244.2.7", ready=False), endpoint("10.244.3.9", ready=False, serving=True, terminating=True)]
    text = build_rules([service("web")], [slice_("web", eps)], CFG).text
    assert "--to-destination 10.244.3.9:8080" in text and "10.244.2.7" not in text


def test_manual_endpoint_slice_of_a_service_without_selector():
    svc = service("legacy", ports=[{"port": 5432, "protocol": "TCP"}])
    del svc["spec"]["selector"]
    sl = slice_("legacy", [{"addresses": ["172.18.0.50"], "conditions": {"ready": True}}],
                ports=[{"name": "", "port": 5432, "protocol": "TCP"}])
    text = build_rules([svc], [sl], CFG).text
    assert '"default/legacy cluster IP"' in text and "--to-destination 172.18.0.50:5432" in text


def test_load_balancer_vip_rules_unless_ip_mode_proxy():
    svc = service("web", type="LoadBalancer",
                  ports=[{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080}])
    svc["status"] = {"loadBalancer": {"ingress": [{"ip": "172.18.255.1"}]}}
    text = build_rules([svc], [slice_("web", THREE)], CFG).text
    assert '"default/web:http loadbalancer IP" -m tcp -p tcp -d 172.18.255.1 --dport 80 -j KUBE-EXT-' in text
    svc["status"]["loadBalancer"]["ingress"][0]["ipMode"] = "Proxy"
    assert "loadbalancer IP" not in build_rules([svc], [slice_("web", THREE)], CFG).text


def test_stale_service_chains_are_flushed_and_deleted_others_left_alone():
    rs = build_rules([], [], CFG, existing_nat_chains={"KUBE-SVC-OLDOLDOLDOLDOLDO", "DOCKER_OUTPUT"})
    assert ":KUBE-SVC-OLDOLDOLDOLDOLDO - [0:0]" in rs.text and "-X KUBE-SVC-OLDOLDOLDOLDOLDO" in rs.text
    assert "DOCKER_OUTPUT" not in rs.text
    assert restore_chains(rs.text)["nat"] >= {"KUBE-SERVICES", "KUBE-SVC-OLDOLDOLDOLDOLDO"}
