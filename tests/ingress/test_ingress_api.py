"""Ingress and IngressClass API parts, pure: validation messages, defaults, admission, Table rows,
protobuf decoding (upstream's cases from pkg/apis/networking/validation and printers_test.go)."""

import pytest

from kubetui.api.defaults import apply_defaults
from kubetui.api.printers import printer_for
from kubetui.api.printers.ingress import format_hosts
from kubetui.api.resources import resource_for
from kubetui.api.validation import validate
from kubetui.apiserver import protobuf
from kubetui.apiserver.strategies.ingress import admit_default_ingress_class


def causes(plural, obj, old=None, subresource=None):
    return [(c["field"], c["message"]) for c in validate(resource_for(plural), obj, old, subresource=subresource)]


def backend(name="web", number=80, port_name=None):
    port = {"name": port_name} if port_name else {"number": number}
    return {"service": {"name": name, "port": port}}


def ing(rules=None, **spec):
    s = dict(spec)
    if rules is not None:
        s["rules"] = rules
    return {"metadata": {"name": "shop", "namespace": "default"}, "spec": s}


def rule(host="shop.example", path="/cart", path_type="Prefix", be=None):
    p = {"path": path, "backend": backend() if be is None else be}
    if path_type is not None:
        p["pathType"] = path_type
    r = {"http": {"paths": [p]}}
    if host is not None:
        r["host"] = host
    return r


def test_valid_ingress_has_no_causes():
    assert causes("ingresses", ing([rule(), rule(host="*.shop.example", path_type="Exact", path="/")])) == []
    assert causes("ingresses", ing(defaultBackend=backend())) == []


P = "spec.rules[0].http.paths[0]"


@pytest.mark.parametrize("r,want", [
    (rule(path_type=None), (f"{P}.pathType", "Required value: pathType must be specified")),
    (rule(path_type="Regex"), (f"{P}.pathType", 'Unsupported value: "Regex": supported values: "Exact", '
                                               '"ImplementationSpecific", "Prefix"')),
    (rule(path="cart"), (f"{P}.path", 'Invalid value: "cart": must be an absolute path')),
    (rule(path="/a//b"), (f"{P}.path", "Invalid value: \"/a//b\": must not contain '//'")),
    (rule(path="/a/.."), (f"{P}.path", "Invalid value: \"/a/..\": cannot end with '/..'")),
    (rule(path="x", path_type="ImplementationSpecific"), (f"{P}.path", 'Invalid value: "x": must be an absolute path')),
    (rule(host="1.2.3.4"), ("spec.rules[0].host", 'Invalid value: "1.2.3.4": must be a DNS name, not an IP address')),
    (rule(host="Shop.example"), ("spec.rules[0].host",
                                 'Invalid value: "Shop.example": a lowercase RFC 1123 subdomain must consist of lower '
                                 "case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
                                 "character (e.g. 'example.com', regex used for validation is "
                                 "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")),
    (rule(host="*.*.shop"), ("spec.rules[0].host",
                             "Invalid value: \"*.*.shop\": a wildcard DNS-1123 subdomain must start with '*.', followed "
                             "by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or "
                             "'.' and end with an alphanumeric character (e.g. '*.example.com', regex used for "
                             "validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")),
    (rule(be={"service": {"name": "web", "port": {"name": "http", "number": 80}}}),
     (f"{P}.backend", 'Invalid value: "": cannot set both port name & port number')),
    (rule(be={"service": {"name": "web", "port": {}}}),
     (f"{P}.backend", "Required value: port name or number is required")),
    (rule(be={"service": {"name": "web", "port": {"number": 70000}}}),
     (f"{P}.backend.service.port.number", "Invalid value: 70000: must be between 1 and 65535, inclusive")),
    (rule(be={}), (f"{P}.backend", 'Invalid value: "": resource or service backend is required')),
    (rule(be={**backend(), "resource": {"kind": "Bucket", "name": "b"}}),
     (f"{P}.backend", 'Invalid value: "": cannot set both resource and service backends')),
    (rule(be={"service": {"port": {"number": 80}}}), (f"{P}.backend.service.name", "Required value")),
    ({"host": "shop.example", "http": {"paths": []}}, ("spec.rules[0].http.paths", "Required value")),
])
def test_ingress_rule_validation(r, want):
    assert want in causes("ingresses", ing([r]))


def test_ingress_needs_rules_or_default_backend():
    assert causes("ingresses", ing()) == [
        ("spec", "Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified")]


def test_tls_hosts_and_secret_names():
    got = causes("ingresses", ing([rule()], tls=[{"hosts": ["shop.example", "*.shop.example", "Bad_Host"],
                                                  "secretName": "Shop_TLS"}]))
    fields = [f for f, _ in got]
    assert fields == ["spec.tls[0].hosts[2]", "spec.tls[0].secretName"]


def test_class_annotation_must_match_class_name_on_create_only():
    obj = ing([rule()], ingressClassName="kubetui")
    obj["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "nginx"}
    want = ("annotations.kubernetes.io/ingress.class",
            'Invalid value: "nginx": must match `ingressClassName` when both are specified')
    assert want in causes("ingresses", obj)
    assert want not in causes("ingresses", obj, old=obj)


def test_status_update_validates_load_balancer_addresses():
    obj = ing([rule()])
    obj["status"] = {"loadBalancer": {"ingress": [{"ip": "not-an-ip"}, {"hostname": "127.0.0.1"}]}}
    assert causes("ingresses", obj, old=ing([rule()]), subresource="status") == [
        ("status.loadBalancer.ingress[0].ip",
         'Invalid value: "not-an-ip": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'),
        ("status.loadBalancer.ingress[1].hostname", 'Invalid value: "127.0.0.1": must be a DNS name, not an IP address'),
    ]


def ic(controller="kubetui.dev/ingress-controller", **spec):
    return {"metadata": {"name": "kubetui"}, "spec": {"controller": controller, **spec}}


@pytest.mark.parametrize("obj,want", [
    (ic(""), ("spec.controller", "Required value")),
    (ic("nginx"), ("spec.controller", 'Invalid value: "nginx": must be a domain-prefixed path (such as "acme.io/foo")')),
    (ic(parameters={"kind": "Params", "name": "p", "scope": "Namespace"}),
     ("spec.parameters.namespace", "Required value: `parameters.scope` is set to 'Namespace'")),
    (ic(parameters={"kind": "Params", "name": "p", "scope": "Cluster", "namespace": "x"}),
     ("spec.parameters.namespace", "Forbidden: `parameters.scope` is set to 'Cluster'")),
    (ic(parameters={"kind": "Par/ams", "name": "p", "scope": "World"}),
     ("spec.parameters.scope", 'Unsupported value: "World": supported values: "Cluster", "Namespace"')),
])
def test_ingress_class_validation(obj, want):
    assert want in causes("ingressclasses", obj)


def test_ingress_class_controller_is_immutable():
    assert ("spec.controller", 'Invalid value: "example.com/other": field is immutable') in causes(
        "ingressclasses", ic("example.com/other"), old=ic())


def test_ingress_class_parameters_scope_defaults_to_cluster():
    obj = ic(parameters={"kind": "Params", "name": "p"})
    apply_defaults(resource_for("ingressclasses"), obj)
    assert obj["spec"]["parameters"]["scope"] == "Cluster"


def cls(name, ts, default=True):
    ann = {"ingressclass.kubernetes.io/is-default-class": "true"} if default else {}
    return {"metadata": {"name": name, "creationTimestamp": ts, "annotations": ann}}


@pytest.mark.parametrize("classes,obj,want", [
    ([cls("kubetui", "2026-01-01T00:00:00Z")], ing([rule()]), "kubetui"),
    ([cls("old", "2026-01-01T00:00:00Z"), cls("new", "2026-02-01T00:00:00Z")], ing([rule()]), "new"),
    ([cls("b", "2026-01-01T00:00:00Z"), cls("a", "2026-01-01T00:00:00Z")], ing([rule()]), "a"),
    ([cls("kubetui", "2026-01-01T00:00:00Z", default=False)], ing([rule()]), None),
    ([cls("kubetui", "2026-01-01T00:00:00Z")], ing([rule()], ingressClassName="mine"), "mine"),
])
def test_default_ingress_class_admission(classes, obj, want):
    admit_default_ingress_class(obj, classes)
    assert obj["spec"].get("ingressClassName") == want


def test_annotation_keeps_class_name_unset():
    obj = ing([rule()])
    obj["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "nginx"}
    admit_default_ingress_class(obj, [cls("kubetui", "2026-01-01T00:00:00Z")])
    assert "ingressClassName" not in obj["spec"]


@pytest.mark.parametrize("rules,want", [
    ([], "*"),
    ([{"http": {}}], "*"),
    ([{"host": "a"}, {"host": "b"}], "a,b"),
    ([{"host": h} for h in "abcde"], "a,b,c + 2 more..."),
])
def test_format_hosts(rules, want):
    assert format_hosts(rules) == want


def test_table_rows():
    obj = ing([rule(), rule(host="b.example")], ingressClassName="kubetui", tls=[{"hosts": ["shop.example"]}])
    obj["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    obj["status"] = {"loadBalancer": {"ingress": [{"ip": "127.0.0.1", "ports": [{"port": 8080, "protocol": "TCP"}]}]}}
    p = printer_for("ingresses.networking.k8s.io")
    assert [c["name"] for c in p.columns] == ["Name", "Class", "Hosts", "Address", "Ports", "Age"]
    now = 1767225600 + 300
    assert p.row(obj, now) == ["shop", "kubetui", "shop.example,b.example", "127.0.0.1", "80, 443", "5m"]
    bare = ing(defaultBackend=backend())
    bare["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    assert p.row(bare, now)[1:5] == ["<none>", "*", "", "80"]
    c = printer_for("ingressclasses.networking.k8s.io")
    assert [x["name"] for x in c.columns] == ["Name", "Controller", "Parameters", "Age"]
    klass = ic(parameters={"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "external-lb"})
    klass["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    assert c.row(klass, now) == ["kubetui", "kubetui.dev/ingress-controller",
                                 "IngressParameters.k8s.example.com/external-lb", "5m"]
    assert c.row(ic(), now)[2] == "<none>"


def _pb_field(num: int, payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return protobuf.field_bytes(num, data)


def test_protobuf_ingress_inlines_the_rule_value():
    """``kubectl create ingress`` sends protobuf: IngressRuleValue is embedded, its ``http`` sits in the rule."""
    port = _pb_field(1, "http")
    svc = _pb_field(1, "web") + _pb_field(2, port)
    path = _pb_field(1, "/cart") + _pb_field(2, _pb_field(4, svc)) + _pb_field(3, "Prefix")
    rule_ = _pb_field(1, "shop.example") + _pb_field(2, _pb_field(1, _pb_field(1, path)))
    spec = _pb_field(3, rule_) + _pb_field(4, "kubetui")
    msg = _pb_field(1, _pb_field(1, "shop")) + _pb_field(2, spec)
    type_meta = _pb_field(1, "networking.k8s.io/v1") + _pb_field(2, "Ingress")
    body = protobuf.MAGIC + _pb_field(1, type_meta) + _pb_field(2, msg)
    obj = protobuf.decode(body)
    assert obj["spec"] == {"ingressClassName": "kubetui", "rules": [
        {"host": "shop.example", "http": {"paths": [
            {"path": "/cart", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"name": "http"}}}}]}}]}


def test_up_says_where_the_ingress_controller_listens(tmp_path):
    """`kubetui up`'s closing lines name the ingress ports kept in cluster.json (local provider: no Docker)."""
    from kubetui.cluster.settings import ClusterSettings
    from kubetui.cmd.cluster import status_lines
    ClusterSettings(name="ingress-st", provider="local", nodes=1, ingress_http_port=18080,
                    ingress_https_port=18443).save(tmp_path)
    text = status_lines(tmp_path, stopped=False)
    assert "Ingress: http://127.0.0.1:18080, https://127.0.0.1:18443." in text
    ClusterSettings(name="ingress-st", provider="simulated", nodes=1).save(tmp_path)
    assert "Ingress:" not in status_lines(tmp_path, stopped=False)
