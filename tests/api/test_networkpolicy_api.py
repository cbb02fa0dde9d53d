"""NetworkPolicy's pure API parts: defaults, validation messages (upstream's wording), CIDR warnings, Table row."""

import pytest

from kubetui.api.defaults import apply_defaults
from kubetui.api.printers import printer_for
from kubetui.api.resources import resource_for
from kubetui.api.validation import validate
from kubetui.api.validation.networkpolicy import cidr_warnings

NETPOL = resource_for("networkpolicies.networking.k8s.io")


def policy(**spec):
    return {"metadata": {"name": "p", "namespace": "default"}, "spec": {"podSelector": {}, **spec}}


def causes(obj, old=None):
    return [(c["field"], c["message"]) for c in validate(NETPOL, obj, old)]


def test_resource_is_served_as_upstream_names_it():
    assert resource_for("netpol") is NETPOL and NETPOL.api_version == "networking.k8s.io/v1"
    assert NETPOL.key("deny", "prod") == "/registry/networkpolicies/prod/deny"


@pytest.mark.parametrize("spec,want", [
    ({}, ["Ingress"]),
    ({"ingress": [{}]}, ["Ingress"]),
    ({"egress": [{}]}, ["Ingress", "Egress"]),
    ({"egress": [{}], "policyTypes": ["Egress"]}, ["Egress"]),
])
def test_policy_types_default_from_the_presence_of_egress(spec, want):
    obj = policy(**spec)
    apply_defaults(NETPOL, obj)
    assert obj["spec"]["policyTypes"] == want


def test_port_protocol_defaults_to_tcp_and_pod_selector_is_always_written():
    obj = {"metadata": {"name": "p"}, "spec": {"ingress": [{"ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]}],
                                               "egress": [{"ports": [{"port": "dns"}]}]}}
    apply_defaults(NETPOL, obj)
    assert [p["protocol"] for p in obj["spec"]["ingress"][0]["ports"]] == ["TCP", "UDP"]
    assert obj["spec"]["egress"][0]["ports"][0]["protocol"] == "TCP"
    assert obj["spec"]["podSelector"] == {}


BAD = [
    ({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/33"}}]}]},
     ("spec.ingress[0].from[0].ipBlock.cidr",
      'Invalid value: "10.0.0.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)')),
    ({"ingress": [{"from": [{"ipBlock": {"cidr": "nonsense"}}]}]},
     ("spec.ingress[0].from[0].ipBlock.cidr",
      'Invalid value: "nonsense": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)')),
    ({"ingress": [{"from": [{"ipBlock": {"cidr": ""}}]}]},
     ("spec.ingress[0].from[0].ipBlock.cidr", "Required value")),
    ({"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.1.0.0/24"]}}]}]},
     ("spec.egress[0].to[0].ipBlock.except[0]", 'Invalid value: "10.1.0.0/24": must be a strict subset of `cidr`')),
    ({"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.0.0.0/16"]}}]}]},
     ("spec.egress[0].to[0].ipBlock.except[0]", 'Invalid value: "10.0.0.0/16": must be a strict subset of `cidr`')),
    ({"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.0.0.0/8"]}}]}]},
     ("spec.egress[0].to[0].ipBlock.except[0]", 'Invalid value: "10.0.0.0/8": must be a strict subset of `cidr`')),
    ({"ingress": [{"ports": [{"port": 8080, "endPort": 80}]}]},
     ("spec.ingress[0].ports[0].endPort", "Invalid value: 80: must be greater than or equal to `port`")),
    ({"ingress": [{"ports": [{"endPort": 80}]}]},
     ("spec.ingress[0].ports[0].endPort", "Invalid value: 80: may not be specified when `port` is not specified")),
    ({"ingress": [{"ports": [{"port": "http", "endPort": 80}]}]},
     ("spec.ingress[0].ports[0].endPort", "Invalid value: 80: may not be specified when `port` is non-numeric")),
    ({"ingress": [{"ports": [{"port": 70000}]}]},
     ("spec.ingress[0].ports[0].port", "Invalid value: 70000: must be between 1 and 65535, inclusive")),
    ({"ingress": [{"ports": [{"port": "Not_A_Name"}]}]},
     ("spec.ingress[0].ports[0].port", 'Invalid value: "Not_A_Name": must contain only alpha-numeric characters '
                                       '(a-z, 0-9), and hyphens (-)')),
    ({"ingress": [{"ports": [{"port": 80, "protocol": "ICMP"}]}]},
     ("spec.ingress[0].ports[0].protocol", 'Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"')),
    ({"policyTypes": ["Ingress", "Egres"]},
     ("spec.policyTypes[1]", 'Unsupported value: "Egres": supported values: "Ingress", "Egress"')),
    ({"policyTypes": ["Ingress", "Egress", "Ingress"]},
     ("spec.policyTypes", 'Invalid value: []networking.PolicyType{"Ingress", "Egress", "Ingress"}: '
                          'may not specify more than two policyTypes')),
    ({"ingress": [{"from": [{}]}]}, ("spec.ingress[0].from[0]", "Required value: must specify a peer")),
    ({"ingress": [{"from": [{"podSelector": {}, "ipBlock": {"cidr": "10.0.0.0/8"}}]}]},
     ("spec.ingress[0].from[0]", "Forbidden: may not specify both ipBlock and another peer")),
    ({"podSelector": {"matchLabels": {"app": "-bad-"}}},
     ("spec.podSelector.matchLabels", 'Invalid value: "-bad-": a valid label must be an empty string or consist '
      "of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character "
      "(e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
      "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")),
]


@pytest.mark.parametrize("spec,want", BAD)
def test_validation_messages_are_upstreams(spec, want):
    assert want in causes(policy(**spec))


@pytest.mark.parametrize("spec", [
    {},
    {"ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "frontend"}},
                            "namespaceSelector": {"matchLabels": {"project": "myproject"}}}],
                  "ports": [{"protocol": "TCP", "port": 6379}]}]},
    {"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/24"}}], "ports": [{"port": 32000, "endPort": 32768}]}],
     "policyTypes": ["Egress"]},
    {"ingress": [{"from": [{"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}}]}]},
    {"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.1/8"}}]}]},     # ambiguous: accepted, with a warning
])
def test_valid_policies_from_the_documentation_pass(spec):
    assert causes(policy(**spec)) == []


def test_ambiguous_and_nonstandard_cidrs_warn_as_upstream():
    spec = {"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.1/8", "except": ["010.1.0.0/16"]}}]}]}
    assert cidr_warnings(spec) == [
        'spec.ingress[0].from[0].ipBlock.cidr: CIDR value "10.0.0.1/8" is ambiguous in this context '
        '(should be "10.0.0.0/8" or "10.0.0.1/32"?)',
        'spec.ingress[0].from[0].ipBlock.except[0]: non-standard CIDR value "010.1.0.0/16" will be considered '
        'invalid in a future Kubernetes release: use "10.1.0.0/16"']
    assert cidr_warnings({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]}) == []


def test_table_row_is_name_pod_selector_age():
    p = printer_for("networkpolicies.networking.k8s.io")
    assert [c["name"] for c in p.columns] == ["Name", "Pod-Selector", "Age"]
    obj = policy()
    obj["metadata"]["creationTimestamp"] = "2026-12-07T21:00:00Z"
    now = 1796677200.0 + 300  # 2026-12-07T21:05:00Z
    assert p.row(obj, now) == ["p", "<none>", "5m"]
    obj["spec"]["podSelector"] = {"matchLabels": {"app": "db"},
                                  "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]}
    assert p.row(obj, now)[1] == "app=db,tier in (a,b)"
