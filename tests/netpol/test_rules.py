"""The pure rule computation, table-tested: policies + pods + namespaces -> iptables rules per node,
run through a small iptables evaluator (``iptables_sim``) for each connection, on the sender's node
(egress) and the receiver's (ingress), as the kernel would."""

from __future__ import annotations

import pytest

from kubetui.api.defaults import default_network_policy
from kubetui.netpol.rules import build_rules, parse_counters, pod_chain

from tests.netpol.iptables_sim import verdict


def pod(name, ip, node, ns="default", ports=None, **labels):
    return {"metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"nodeName": node, "containers": [{"name": "c", "ports": ports or []}]},
            "status": {"podIP": ip, "phase": "Running"}}


PODS = [
    pod("db", "10.244.1.2", "node-1", app="db", ports=[{"name": "pg", "containerPort": 5432}]),
    pod("web", "10.244.1.3", "node-1", app="web", ports=[{"name": "http", "containerPort": 8080}]),
    pod("web2", "10.244.2.2", "node-2", app="web"),
    pod("other", "10.244.2.3", "node-2", app="other"),
    pod("api", "10.244.1.4", "node-1", ns="prod", app="web"),
    pod("tool", "10.244.2.4", "node-2", ns="dev", app="tool"),
]
NAMESPACES = [{"metadata": {"name": "default"}}, {"metadata": {"name": "prod", "labels": {"project": "myproject"}}},
              {"metadata": {"name": "dev"}}]
BY_NAME = {p["metadata"]["name"]: p for p in PODS}


def policy(name, ns="default", **spec):
    obj = {"metadata": {"name": name, "namespace": ns}, "spec": spec}
    default_network_policy(obj)
    return obj


def connect(policies, src, dst, port=80, proto="tcp", pods=PODS):
    """Is a new connection from pod ``src`` (or an address) to pod ``dst`` allowed, and who counted it?"""
    s, d = BY_NAME.get(src), BY_NAME[dst]
    src_ip = s["status"]["podIP"] if s else src
    nodes = [d["spec"]["nodeName"]] + ([s["spec"]["nodeName"]] if s and s["spec"]["nodeName"] !=
                                       d["spec"]["nodeName"] else [])
    hits = []
    for node in nodes:
        rs = build_rules(policies, pods, NAMESPACES, node)
        v, h = verdict(rs.text, src_ip, d["status"]["podIP"], port, proto)
        hits += h
        if v == "drop":
            return "drop", hits
    return "allow", hits


DENY_INGRESS = policy("default-deny-ingress", podSelector={}, policyTypes=["Ingress"])
DENY_EGRESS = policy("default-deny-egress", podSelector={}, policyTypes=["Egress"])
ALLOW_WEB_TO_DB = policy("allow-web", podSelector={"matchLabels": {"app": "db"}},
                         ingress=[{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}]}])

CASES = [
    # (policies, src, dst, port, proto, expected)
    ([], "web", "db", 80, "tcp", "allow"),                               # no policy: not isolated
    ([DENY_INGRESS], "web", "db", 80, "tcp", "drop"),                     # same node
    ([DENY_INGRESS], "web2", "db", 80, "tcp", "drop"),                    # across nodes
    ([DENY_INGRESS], "db", "web2", 80, "tcp", "drop"),
    ([DENY_INGRESS], "api", "tool", 80, "tcp", "allow"),                  # other namespaces are not isolated
    ([DENY_INGRESS, ALLOW_WEB_TO_DB], "web", "db", 80, "tcp", "allow"),   # policies add up
    ([DENY_INGRESS, ALLOW_WEB_TO_DB], "web2", "db", 80, "tcp", "allow"),  # from the other node
    ([DENY_INGRESS, ALLOW_WEB_TO_DB], "other", "db", 80, "tcp", "drop"),
    ([DENY_INGRESS, ALLOW_WEB_TO_DB], "api", "db", 80, "tcp", "drop"),    # podSelector alone: own namespace
    ([DENY_INGRESS, ALLOW_WEB_TO_DB], "db", "web", 80, "tcp", "drop"),    # web is isolated by deny-all
    ([ALLOW_WEB_TO_DB], "other", "web", 80, "tcp", "allow"),              # web is not selected by allow-web
    ([DENY_EGRESS], "web", "db", 80, "tcp", "drop"),                      # egress isolation, same node
    ([DENY_EGRESS], "web", "tool", 80, "tcp", "drop"),                    # ... and across nodes
    ([DENY_EGRESS], "tool", "web", 80, "tcp", "allow"),
    ([DENY_EGRESS, policy("dns", podSelector={}, policyTypes=["Egress"],
                          egress=[{"ports": [{"port": 53, "protocol": "UDP"}]}])], "web", "tool", 53, "udp", "allow"),
    ([DENY_EGRESS, policy("dns", podSelector={}, policyTypes=["Egress"],
                          egress=[{"ports": [{"port": 53, "protocol": "UDP"}]}])], "web", "tool", 53, "tcp", "drop"),
]


@pytest.mark.parametrize("policies,src,dst,port,proto,want", CASES)
def test_connections(policies, src, dst, port, proto, want):
    assert connect(policies, src, dst, port, proto)[0] == want


NS_SEL = {"namespaceSelector": {"matchLabels": {"project": "myproject"}}}
POD_SEL = {"podSelector": {"matchLabels": {"app": "web"}}}


@pytest.mark.parametrize("peers,src,want", [
    ([NS_SEL], "api", "allow"),                      # any pod of a matching namespace
    ([NS_SEL], "web", "drop"),
    ([{**NS_SEL, **POD_SEL}], "api", "allow"),       # one peer with both: AND
    ([{**NS_SEL, **POD_SEL}], "web", "drop"),        # right labels, wrong namespace
    ([NS_SEL, POD_SEL], "web", "allow"),             # two peers: OR
    ([{"namespaceSelector": {}}], "tool", "allow"),  # every namespace
    ([{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "dev"}}}], "tool", "allow"),
    ([{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "dev"}}}], "api", "drop"),
])
def test_namespace_and_pod_selectors(peers, src, want):
    pol = policy("p", podSelector={"matchLabels": {"app": "db"}}, ingress=[{"from": peers}])
    assert connect([pol], src, "db")[0] == want


@pytest.mark.parametrize("src,want", [
    ("172.17.0.9", "allow"), ("172.17.1.9", "drop"), ("10.1.0.1", "drop"),
])
def test_ip_block_with_except(src, want):
    pol = policy("p", podSelector={"matchLabels": {"app": "db"}},
                 ingress=[{"from": [{"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}}]}])
    assert connect([pol], src, "db")[0] == want


def test_egress_ip_block_with_except():
    pol = policy("p", podSelector={"matchLabels": {"app": "web"}}, policyTypes=["Egress"],
                 egress=[{"to": [{"ipBlock": {"cidr": "10.244.0.0/16", "except": ["10.244.2.0/24"]}}]}])
    assert connect([pol], "web", "db")[0] == "allow"
    assert connect([pol], "web", "web2")[0] == "drop"


@pytest.mark.parametrize("ports,port,proto,want", [
    ([{"port": 5432}], 5432, "tcp", "allow"),
    ([{"port": 5432}], 5433, "tcp", "drop"),
    ([{"port": 5432}], 5432, "udp", "drop"),                                 # protocol defaults to TCP
    ([{"port": 5000, "endPort": 6000}], 5999, "tcp", "allow"),
    ([{"port": 5000, "endPort": 6000}], 6001, "tcp", "drop"),
    ([{"port": "pg"}], 5432, "tcp", "allow"),                                # named port of the receiver
    ([{"port": "pg"}], 8080, "tcp", "drop"),
    ([{"port": "nosuch"}], 5432, "tcp", "drop"),
    ([{"protocol": "UDP"}], 9999, "udp", "allow"),                           # a protocol, every port
])
def test_ports(ports, port, proto, want):
    pol = policy("p", podSelector={"matchLabels": {"app": "db"}}, ingress=[{"from": [POD_SEL], "ports": ports}])
    assert connect([pol], "web", "db", port, proto)[0] == want


def test_egress_named_port_resolves_on_the_peer():
    pol = policy("p", podSelector={"matchLabels": {"app": "web"}}, policyTypes=["Egress"],
                 egress=[{"ports": [{"port": "pg"}]}])
    assert connect([pol], "web", "db", 5432)[0] == "allow"
    assert connect([pol], "web", "db", 8080)[0] == "drop"


def test_traffic_from_the_node_itself_is_allowed():
    rs = build_rules([DENY_INGRESS], PODS, NAMESPACES, "node-1")
    assert verdict(rs.text, "172.18.0.2", "10.244.1.2", local={"172.18.0.2"})[0] == "allow"
    assert verdict(rs.text, "172.18.0.3", "10.244.1.2", local={"172.18.0.2"})[0] == "drop"


def test_counters_name_the_policy_rule_that_allowed_or_the_drop():
    v, hits = connect([DENY_INGRESS, ALLOW_WEB_TO_DB], "web2", "db")
    assert v == "allow" and hits == ["default/allow-web ingress[0] allows default/db"]
    v, hits = connect([DENY_INGRESS, ALLOW_WEB_TO_DB], "other", "db")
    assert v == "drop" and hits == ["drop default/db ingress: no rule of default/allow-web, default/default-deny-ingress "
                                    "allows it"]


def test_only_this_nodes_pods_get_chains_and_only_when_isolated():
    rs = build_rules([ALLOW_WEB_TO_DB], PODS, NAMESPACES, "node-1")
    assert pod_chain("ingress", "default", "db") in rs.chains
    assert pod_chain("ingress", "default", "web") not in rs.chains
    assert build_rules([ALLOW_WEB_TO_DB], PODS, NAMESPACES, "node-2").chains == {"KUBETUI-NETPOL"}
    assert rs.isolated == {"default/db ingress": ["default/allow-web"]}


def test_without_a_policy_every_node_gets_only_the_top_chain_whatever_its_pods():
    """No policy isolates anything: the rules do not depend on the pods (and build_rules, run on
    every pod change in the cluster, does not read them)."""
    for node in ("node-1", "node-2"):
        rs = build_rules([], PODS, NAMESPACES, node, pod_cidr="10.244.1.0/24")
        assert rs.text == build_rules([], [], NAMESPACES, node, pod_cidr="10.244.1.0/24").text
        assert rs.chains == {"KUBETUI-NETPOL"} and not rs.isolated and not rs.counted


def test_pods_without_ip_host_network_or_finished_are_no_peers():
    done = pod("done", "10.244.2.9", "node-2", app="web")
    done["status"]["phase"] = "Succeeded"
    host = pod("host", "172.18.0.3", "node-2", app="web")
    host["spec"]["hostNetwork"] = True
    rs = build_rules([ALLOW_WEB_TO_DB], PODS + [done, host], NAMESPACES, "node-1")
    assert "10.244.2.9" not in rs.text and "172.18.0.3" not in rs.text


def test_counters_are_carried_over_and_stale_chains_removed():
    rs = build_rules([DENY_INGRESS, ALLOW_WEB_TO_DB], PODS, NAMESPACES, "node-1")
    (chain, comment), = [k for k, r in rs.counted.items() if r.policy == "default/allow-web"]
    again = build_rules([DENY_INGRESS, ALLOW_WEB_TO_DB], PODS, NAMESPACES, "node-1",
                        counters={(chain, comment): (7, 420)}, existing_chains=rs.chains | {"KUBETUI-ING-OLD"})
    assert f'[7:420] -A {chain} -m comment --comment "{comment}"' in again.text
    assert ":KUBETUI-ING-OLD - [0:0]" in again.text and "-X KUBETUI-ING-OLD" in again.text
    saved = f'[7:420] -A {chain} -m mark --mark 0x10000/0x10000 -m comment --comment "{comment}" -j RETURN'
    assert parse_counters(saved) == {(chain, comment): (7, 420)}


def test_rules_are_deterministic():
    a = build_rules([DENY_INGRESS, ALLOW_WEB_TO_DB], PODS, NAMESPACES, "node-1").text
    b = build_rules([ALLOW_WEB_TO_DB, DENY_INGRESS], list(reversed(PODS)), NAMESPACES, "node-1").text
    assert a == b


def test_a_pod_may_always_reach_itself_even_through_its_service():
    # a hairpin through the pod's own Service arrives from itself, after DNAT
    rs = build_rules([DENY_INGRESS, DENY_EGRESS], PODS, NAMESPACES, "node-1")
    assert verdict(rs.text, "10.244.1.2", "10.244.1.2")[0] == "allow"
    assert verdict(rs.text, "10.244.1.3", "10.244.1.2")[0] == "drop"


def test_a_starting_pod_is_isolated_until_its_address_is_known():
    """The docs' Pod lifecycle: filtering is effective from the very first instant. A new pod's
    address (in the node's podCIDR, not yet in the API) is dropped both ways while policies exist."""
    rs = build_rules([ALLOW_WEB_TO_DB], PODS, NAMESPACES, "node-1", pod_cidr="10.244.1.0/24")
    v, hits = verdict(rs.text, "10.244.2.3", "10.244.1.77")          # to the new pod
    assert v == "drop" and hits == ["drop traffic to a pod of node-1 not known yet (starting)"]
    assert verdict(rs.text, "10.244.1.77", "10.244.2.3")[0] == "drop"  # from it
    # known pods of the node are untouched: web is not isolated, db only by allow-web
    assert verdict(rs.text, "10.244.2.3", "10.244.1.3")[0] == "allow"
    assert verdict(rs.text, "10.244.1.3", "10.244.2.3")[0] == "allow"
    assert verdict(rs.text, "10.244.2.2", "10.244.1.2")[0] == "allow"
    # without any policy nothing is isolated, starting or not
    assert verdict(build_rules([], PODS, NAMESPACES, "node-1", pod_cidr="10.244.1.0/24").text,
                   "10.244.2.3", "10.244.1.77")[0] == "allow"
