"""NetworkPolicies enforced on 3 Docker nodes: the documentation's deny-all and allow-from-label
examples behave as upstream, within one node and across nodes, for ingress and egress.

One cluster for the module (its name contains "netpol"). Pods are pinned to nodes with
``nodeName`` so "same node" and "across nodes" are certain:

    node-1: db (app=db, kubetui/hello on 8080), web-a (app=web, busybox)
    node-2: web-b (app=web, busybox)
    node-3: other (app=other, busybox)

A refused connection is a timeout (the packet is dropped), so each check that
expects one costs its wget timeout (1 s).
"""

from __future__ import annotations

import json

import pytest

from tests.nodes.conftest import pod_ready, started_docker_cluster, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def pinned(name: str, node: str, app: str, image: str = "busybox") -> dict:
    c = {"name": "c", "image": image}
    if image == "busybox":
        c["command"] = ["sleep", "3600"]
    else:
        c["ports"] = [{"name": "http", "containerPort": 8080}]
        c["readinessProbe"] = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": app}},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0, "containers": [c]}}


# https://kubernetes.io/docs/concepts/services-networking/network-policies/#default-deny-all-ingress-traffic
DENY_INGRESS = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": "default-deny-ingress"},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
# allow from a label (the documentation's podSelector peer)
ALLOW_WEB = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "allow-web"},
             "spec": {"podSelector": {"matchLabels": {"app": "db"}},
                      "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}],
                                   "ports": [{"protocol": "TCP", "port": 8080}]}]}}
# https://kubernetes.io/docs/concepts/services-networking/network-policies/#default-deny-all-egress-traffic
DENY_EGRESS = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": "default-deny-egress"},
               "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Egress"]}}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, kubectl_bin):
    with started_docker_cluster(tmp_path_factory, kubectl_bin, "netpol", 3) as c:
        for name_, node, app, image in (("db", "node-1", "db", "kubetui/hello:1"), ("web-a", "node-1", "web", "busybox"),
                                        ("web-b", "node-2", "web", "busybox"), ("other", "node-3", "other", "busybox")):
            c.apply(pinned(name_, node, app, image))
        for p in ("db", "web-a", "web-b", "other"):
            wait_for(f"pod {p} ready", lambda p=p: pod_ready(c.get("pod", p)), 120)
        yield c


def db_url(c) -> str:
    return f"http://{c.get('pod', 'db')['status']['podIP']}:8080/"


def reaches(c, client: str, url: str) -> bool:
    r = c.kubectl("exec", client, "--", "wget", "-qO-", "-T", "1", url, check=False, timeout=30)
    return r.returncode == 0 and r.stdout.startswith("pod=")


def reachability(c) -> dict[str, bool]:
    url = db_url(c)
    return {client: reaches(c, client, url) for client in ("web-a", "web-b", "other")}


def enforced(c, policy: str, nodes=("node-1", "node-2", "node-3")) -> bool:
    """Every node's agent has applied the policy's current resourceVersion (its /policies says so)."""
    rv = c.get("netpol", policy)["metadata"]["resourceVersion"]
    for node in nodes:
        doc = json.loads(c.node_exec(node, "python3", "-c", "import urllib.request;print(urllib.request."
                                     "urlopen('http://127.0.0.1:9099/policies',timeout=5).read().decode())"))
        if doc["applied"].get(f"default/{policy}") != rv:
            return False
    return True


def removed(c, policy: str) -> bool:
    for node in ("node-1", "node-2", "node-3"):
        doc = json.loads(c.node_exec(node, "python3", "-c", "import urllib.request;print(urllib.request."
                                     "urlopen('http://127.0.0.1:9099/policies',timeout=5).read().decode())"))
        if f"default/{policy}" in doc["applied"]:
            return False
    return True


def test_no_policy_everything_reaches_db(cluster):
    assert wait_for("all clients reach db", lambda: all(reachability(cluster).values()), 30)


def test_default_deny_ingress_then_allow_from_label(cluster):
    c = cluster
    c.apply(DENY_INGRESS)
    wait_for("deny-all enforced on every node", lambda: enforced(c, "default-deny-ingress"), 30)
    assert reachability(c) == {"web-a": False, "web-b": False, "other": False}
    # the kubelet's readiness probe comes from the node itself: still allowed, db stays Ready
    assert pod_ready(c.get("pod", "db"))

    c.apply(ALLOW_WEB)
    wait_for("allow-web enforced on every node", lambda: enforced(c, "allow-web"), 30)
    # policies add up: web-a (same node) and web-b (another node) get in, other does not
    assert reachability(c) == {"web-a": True, "web-b": True, "other": False}
    # not on the allowed port: the rule names TCP 8080 only
    assert not reaches(c, "web-a", db_url(c).replace(":8080", ":8081"))

    # the counters say which policy let whom in, and that something was dropped
    doc = json.loads(c.node_exec("node-1", "python3", "-c", "import urllib.request;print(urllib.request."
                                 "urlopen('http://127.0.0.1:9099/policies').read().decode())"))
    rules = {(r["pod"], r["action"], r["policy"]): r["packets"] for r in doc["rules"]}
    assert rules[("default/db", "allow", "default/allow-web")] >= 2
    assert rules[("default/db", "drop", "")] >= 1
    # the same counters, merged from every node, through kubetui's own API (what the TUI's `t` view reads)
    view = json.loads(c.kubectl("get", "--raw", "/apis/networking.kubetui.dev/v1alpha1/networkpolicytraffic").stdout)
    assert set(view["agents"]) == {"node-1", "node-2", "node-3"} and view["unenforcedNodes"] == []
    allowed = [r for r in view["rules"] if r["pod"] == "default/db" and r["policy"] == "default/allow-web"]
    assert allowed and allowed[0]["node"] == "node-1" and allowed[0]["packets"] >= 2
    # and iptables shows the same chains a learner can read
    assert "KUBETUI-NETPOL" in c.node_exec("node-1", "iptables", "-S", "FORWARD").splitlines()[1]


def test_default_deny_egress_is_enforced_on_the_senders_node(cluster):
    c = cluster
    c.apply(DENY_EGRESS)
    wait_for("deny-egress enforced", lambda: enforced(c, "default-deny-egress"), 30)
    assert reachability(c) == {"web-a": False, "web-b": False, "other": False}
    c.kubectl("delete", "netpol", "default-deny-egress", "default-deny-ingress", "allow-web")
    wait_for("policies removed from every node", lambda: all(removed(c, p) for p in
                                                              ("default-deny-egress", "default-deny-ingress",
                                                               "allow-web")), 30)
    assert reachability(c) == {"web-a": True, "web-b": True, "other": True}
