"""The ingress controller's decision, pure: which Ingresses it serves, each backend's ready endpoints,
the TLS certificates, and what it reports as wrong (upstream ingress-nginx logs the same problems)."""

import base64

from kubetui.controllers.ingress import CONTROLLER_NAME, default_ingress_class, desired_config, tls_pair
from kubetui.ingress.routing import Backend

from tests.ingress.test_routing import ingress, rule

KUBETUI = default_ingress_class()
NGINX = {"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}}


def svc(name, ports):
    return {"metadata": {"name": name, "namespace": "default"},
            "spec": {"clusterIP": "10.96.0.9", "ports": [{"name": n, "port": p, "targetPort": t, "protocol": "TCP"}
                                                         for n, p, t in ports]}}


def slice_(svc_name, port_name, port, ready_ips, unready_ips=()):
    eps = [{"addresses": [ip], "conditions": {"ready": True}, "targetRef": {"kind": "Pod", "name": f"p-{ip}",
                                                                            "namespace": "default"}}
           for ip in ready_ips]
    eps += [{"addresses": [ip], "conditions": {"ready": False}} for ip in unready_ips]
    return {"metadata": {"name": f"{svc_name}-x", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": svc_name}},
            "addressType": "IPv4", "ports": [{"name": port_name, "port": port, "protocol": "TCP"}], "endpoints": eps}


def test_default_class_names_the_builtin_controller():
    assert KUBETUI["spec"]["controller"] == CONTROLLER_NAME == "kubetui.dev/ingress-controller"
    assert KUBETUI["metadata"]["annotations"] == {"ingressclass.kubernetes.io/is-default-class": "true"}


def test_serves_its_class_and_resolves_ready_endpoints_by_port_number_or_name():
    mine = ingress("shop", [rule("shop.example", ("/", "Prefix", "web"))])
    mine["spec"]["rules"][0]["http"]["paths"].append(
        {"path": "/api", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"name": "admin"}}}})
    other = ingress("other", [rule("x.example", ("/", "Prefix", "web"))], cls="nginx")
    services = [svc("web", [("http", 80, 8080), ("admin", 9000, 9090)])]
    slices = [slice_("web", "http", 8080, ["10.244.1.5", "10.244.2.6"], ["10.244.3.7"]),
              {**slice_("web", "admin", 9090, ["10.244.1.5"]), "metadata": {
                  "name": "web-y", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}}}]
    served, table, endpoints, certs, problems = desired_config([mine, other], [KUBETUI, NGINX], services, slices, [])
    assert [i["metadata"]["name"] for i in served] == ["shop"]
    assert table.route("x.example", "/") is None                  # nginx's Ingress is not ours
    assert sorted(str(e) for e in endpoints[Backend("default", "web", 80)]) == ["10.244.1.5:8080",
                                                                                "10.244.2.6:8080"]
    assert [str(e) for e in endpoints[Backend("default", "web", "admin")]] == ["10.244.1.5:9090"]
    assert problems == [] and certs == {}


def test_reports_missing_services_and_bad_tls_secrets():
    ing = ingress("shop", [rule("shop.example", ("/", "Prefix", "gone"))],
                  tls=[{"hosts": ["shop.example"], "secretName": "opaque"}, {"secretName": "missing"}])
    opaque = {"metadata": {"name": "opaque", "namespace": "default"}, "type": "Opaque",
              "data": {"tls.crt": "", "tls.key": ""}}
    _, _, endpoints, certs, problems = desired_config([ing], [KUBETUI], [], [], [opaque])
    assert endpoints == {Backend("default", "gone", 80): []}
    assert problems == ["service default/gone (port 80) not found",
                        "TLS Secret default/opaque not found or not of type kubernetes.io/tls",
                        "TLS Secret default/missing not found or not of type kubernetes.io/tls"]
    assert certs == {}


def test_tls_pair_decodes_a_tls_secret():
    s = {"type": "kubernetes.io/tls", "data": {"tls.crt": base64.b64encode(b"CRT").decode(),
                                               "tls.key": base64.b64encode(b"KEY").decode()}}
    assert tls_pair(s) == (b"CRT", b"KEY")
    assert tls_pair({**s, "type": "Opaque"}) is None and tls_pair(None) is None


def test_a_deleting_ingress_is_no_longer_routed():
    ing = ingress("shop", [rule("shop.example", ("/", "Prefix", "web"))])
    ing["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    served, table, *_ = desired_config([ing], [KUBETUI], [], [], [])
    assert served == [] and table.route("shop.example", "/") is None
