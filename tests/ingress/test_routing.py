"""The routing decision, table-tested with the Kubernetes documentation's examples
(https://kubernetes.io/docs/concepts/services-networking/ingress/#examples) and the host rules."""

import pytest

from kubetui.ingress.routing import (
    Backend, RoutingTable, class_names, host_matches, normalize_host, path_matches, request_path, served_by,
)


def ingress(name, rules=(), default=None, tls=(), ts="2026-01-01T00:00:00Z", ns="default", cls="kubetui"):
    spec = {"ingressClassName": cls, "rules": list(rules), "tls": list(tls)}
    if default:
        spec["defaultBackend"] = {"service": {"name": default, "port": {"number": 80}}}
    return {"metadata": {"name": name, "namespace": ns, "creationTimestamp": ts}, "spec": spec}


def rule(host, *paths):
    r = {"http": {"paths": [{"path": p, "pathType": t, "backend": {"service": {"name": svc, "port": {"number": 80}}}}
                            for p, t, svc in paths]}}
    if host:
        r["host"] = host
    return r


# The documentation's table: Kind | Path(s) | Request path(s) | Matches? (which path, when several)
DOCS = [
    ("Prefix", ["/"], "/anything/at/all", "/"),
    ("Exact", ["/foo"], "/foo", "/foo"),
    ("Exact", ["/foo"], "/bar", None),
    ("Exact", ["/foo"], "/foo/", None),
    ("Exact", ["/foo/"], "/foo", None),
    ("Prefix", ["/foo"], "/foo", "/foo"),
    ("Prefix", ["/foo"], "/foo/", "/foo"),
    ("Prefix", ["/foo/"], "/foo", "/foo/"),
    ("Prefix", ["/foo/"], "/foo/", "/foo/"),
    ("Prefix", ["/aaa/bb"], "/aaa/bbb", None),
    ("Prefix", ["/aaa/bbb"], "/aaa/bbb", "/aaa/bbb"),
    ("Prefix", ["/aaa/bbb/"], "/aaa/bbb", "/aaa/bbb/"),          # ignores trailing slash
    ("Prefix", ["/aaa/bbb"], "/aaa/bbb/", "/aaa/bbb"),           # matches trailing slash
    ("Prefix", ["/aaa/bbb"], "/aaa/bbb/ccc", "/aaa/bbb"),        # matches subpath
    ("Prefix", ["/aaa/bbb"], "/aaa/bbbxyz", None),               # does not match string prefix
    ("Prefix", ["/", "/aaa"], "/aaa/ccc", "/aaa"),
    ("Prefix", ["/", "/aaa", "/aaa/bbb"], "/aaa/bbb", "/aaa/bbb"),
    ("Prefix", ["/", "/aaa", "/aaa/bbb"], "/ccc", "/"),
    ("Prefix", ["/aaa"], "/ccc", None),                          # uses the default backend
]


@pytest.mark.parametrize("kind,paths,req,want", DOCS)
def test_documentation_path_examples(kind, paths, req, want):
    table = RoutingTable.build([ingress("ex", [rule("", *[(p, kind, f"svc{p}") for p in paths])])])
    got = table.route("any.example", req)
    assert (got.path if got else None) == want
    if want:
        assert got.backend == Backend("default", f"svc{want}", 80)


def test_mixed_prefers_exact_on_a_tie():
    table = RoutingTable.build([ingress("ex", [rule("", ("/foo", "Prefix", "prefix"), ("/foo", "Exact", "exact"))])])
    assert table.route("h", "/foo").backend.service == "exact"
    assert table.route("h", "/foo/x").backend.service == "prefix"


def test_implementation_specific_is_prefix_here():
    table = RoutingTable.build([ingress("ex", [rule("", ("/app", "ImplementationSpecific", "app"))])])
    assert table.route("h", "/app/x").backend.service == "app" and table.route("h", "/apple") is None


@pytest.mark.parametrize("rule_host,host,ok", [
    ("foo.bar.com", "foo.bar.com", True),
    ("foo.bar.com", "bar.com", False),
    ("*.foo.com", "bar.foo.com", True),
    ("*.foo.com", "baz.bar.foo.com", False),     # the documentation's wildcard table
    ("*.foo.com", "foo.com", False),
    ("", "anything.example", True),
])
def test_host_matching(rule_host, host, ok):
    assert host_matches(rule_host, host) is ok


def test_request_host_is_normalized():
    assert normalize_host("Shop.Example:8080") == "shop.example" and normalize_host("shop.example.") == "shop.example"
    assert normalize_host("[::1]:80") == "::1"


SHOP = [
    ingress("shop", [rule("shop.example", ("/cart", "Prefix", "cart"), ("/", "Prefix", "web")),
                     rule("*.shop.example", ("/", "Prefix", "tenant"))], default="fallback"),
    ingress("blog", [rule("blog.example", ("/", "Exact", "blog"))], ts="2026-01-02T00:00:00Z"),
    ingress("catch", [rule("", ("/status", "Exact", "status"))], ts="2026-01-03T00:00:00Z"),
]


@pytest.mark.parametrize("host,path,want", [
    ("shop.example", "/cart", ("default/shop", "cart")),
    ("shop.example:8080", "/cart/items?x=1", ("default/shop", "cart")),
    ("shop.example", "/carts", ("default/shop", "web")),
    ("eu.shop.example", "/cart", ("default/shop", "tenant")),
    ("a.eu.shop.example", "/", ("default/shop", "fallback")),     # no host matches: a default backend
    ("blog.example", "/", ("default/blog", "blog")),
    ("blog.example", "/post", ("default/shop", "fallback")),      # blog has no default: the oldest one's
    ("other.example", "/status", ("default/catch", "status")),
])
def test_host_then_path(host, path, want):
    got = RoutingTable.build(SHOP).route(host, request_path(path))
    assert (got.ingress, got.backend.service) == want


def test_no_route_without_default_backend():
    table = RoutingTable.build([ingress("blog", [rule("blog.example", ("/", "Exact", "blog"))])])
    assert table.route("blog.example", "/x") is None and table.route("shop.example", "/") is None


def test_oldest_ingress_wins_an_identical_path():
    older = ingress("a", [rule("h.example", ("/", "Prefix", "old"))], ts="2026-01-01T00:00:00Z")
    newer = ingress("b", [rule("h.example", ("/", "Prefix", "new"))], ts="2026-02-01T00:00:00Z")
    assert RoutingTable.build([newer, older]).route("h.example", "/").backend.service == "old"


def test_merged_rules_longest_path_across_ingresses():
    a = ingress("a", [rule("h.example", ("/", "Prefix", "root"))])
    b = ingress("b", [rule("h.example", ("/api", "Prefix", "api"))], ts="2026-02-01T00:00:00Z")
    assert RoutingTable.build([a, b]).route("h.example", "/api/v1").backend.service == "api"


def test_certificate_by_sni():
    tls = [{"hosts": ["shop.example"], "secretName": "shop-tls"}, {"hosts": ["*.shop.example"], "secretName": "wild"}]
    table = RoutingTable.build([ingress("shop", [rule("shop.example", ("/", "Prefix", "web"))], tls=tls),
                                ingress("blog", [rule("blog.example", ("/", "Prefix", "b"))],
                                        tls=[{"secretName": "blog-tls"}], ts="2026-02-01T00:00:00Z")])
    assert table.certificate("shop.example") == ("default", "shop-tls")
    assert table.certificate("EU.shop.example") == ("default", "wild")
    assert table.certificate("blog.example") == ("default", "blog-tls")    # no hosts: the Ingress's rule hosts
    assert table.certificate("other.example") is None


def test_resource_backends_are_kept_as_such():
    ing = ingress("r", [])
    ing["spec"]["defaultBackend"] = {"resource": {"apiGroup": "k8s.example.com", "kind": "StorageBucket",
                                                  "name": "static-assets"}}
    got = RoutingTable.build([ing]).route("h", "/")
    assert got.default and str(got.backend) == "StorageBucket.k8s.example.com/static-assets"


def test_class_selection():
    classes = [{"metadata": {"name": "kubetui", "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"}},
                "spec": {"controller": "kubetui.dev/ingress-controller"}},
               {"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}}]
    names, default = class_names(classes, "kubetui.dev/ingress-controller")
    assert names == {"kubetui"} and default
    assert served_by(ingress("a"), names, default)
    assert not served_by(ingress("b", cls="nginx"), names, default)
    unclassed = ingress("c", cls=None)
    del unclassed["spec"]["ingressClassName"]
    assert served_by(unclassed, names, True) and not served_by(unclassed, names, False)
    unclassed["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "nginx"}
    assert not served_by(unclassed, names, True)


def test_path_match_function():
    assert path_matches("Exact", "/foo", "/foo") and not path_matches("Exact", "/foo", "/FOO")
