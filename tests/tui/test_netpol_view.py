"""NetworkPolicies in the TUI: drawn on the traffic view with their counters, described as kubectl does,
listed in the resource browser with kubectl's columns."""

from __future__ import annotations

from rich.console import Console
from textual.widgets import Static

from kubetui.api.defaults import default_network_policy
from kubetui.tui.describe import describe
from kubetui.tui.netpol import policy_table
from kubetui.tui.printers import headers_for
from kubetui.tui.screens.browser import BROWSABLE, BrowserScreen
from kubetui.tui.screens.traffic import TrafficScreen
from tests.tui.test_app import settle, wait_for, wait_screen


def render(renderable) -> str:
    console = Console(width=140, record=True)
    console.print(renderable)
    return console.export_text()


def netpol(name, **spec):
    obj = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
           "metadata": {"name": name, "namespace": "default", "creationTimestamp": "2026-12-07T21:00:00Z"},
           "spec": spec}
    default_network_policy(obj)
    return obj


DENY = netpol("default-deny-ingress", podSelector={}, policyTypes=["Ingress"])
ALLOW = netpol("allow-client", podSelector={"matchLabels": {"app": "web"}},
               ingress=[{"from": [{"podSelector": {"matchLabels": {"role": "client"}}}], "ports": [{"port": 80}]}])
WEB = {"metadata": {"name": "web-1", "namespace": "default", "labels": {"app": "web"}}}
RULES = [
    {"node": "node-1", "pod": "default/web-1", "direction": "ingress", "action": "allow",
     "policy": "default/allow-client", "rule": 0, "packets": 7},
    {"node": "node-1", "pod": "default/web-1", "direction": "ingress", "action": "drop", "policy": "", "rule": -1,
     "packets": 3},
    {"node": "node-2", "pod": "default/other", "direction": "ingress", "action": "drop", "policy": "", "rule": -1,
     "packets": 100},
]


def test_policy_table_names_each_rule_with_its_connections_and_the_drops():
    text = render(policy_table([WEB], [DENY, ALLOW], RULES))
    assert "default/allow-client" in text and "from pods role=client of this namespace on TCP 80" in text
    row = next(line for line in text.splitlines() if "ingress[0]" in line)
    assert row.rstrip(" │").endswith("7")
    assert "default/default-deny-ingress" in text and "nothing (isolates only)" in text
    dropped = next(line for line in text.splitlines() if "dropped" in line)
    assert dropped.rstrip(" │").endswith("3")            # only these pods' drops, not other's 100


def test_pods_no_policy_selects_are_said_to_be_open():
    text = render(policy_table([WEB], [netpol("db-only", podSelector={"matchLabels": {"app": "db"}})], []))
    assert "No NetworkPolicy selects these pods for ingress: they are not isolated" in text


def test_describe_matches_kubectl():
    # kubectl describe networkpolicy default-deny-ingress (a real cluster's output)
    assert describe(DENY).startswith(
        "Name:         default-deny-ingress\n"
        "Namespace:    default\n"
        "Created on:   2026-12-07 21:00:00 +0000 UTC\n"
        "Labels:       <none>\n"
        "Annotations:  <none>\n"
        "Spec:\n"
        "  PodSelector:     <none> (Allowing the specific traffic to all pods in this namespace)\n"
        "  Allowing ingress traffic:\n"
        "    <none> (Selected pods are isolated for ingress connectivity)\n"
        "  Not affecting egress traffic\n"
        "  Policy Types: Ingress\n")
    doc = netpol("test-network-policy", podSelector={"matchLabels": {"role": "db"}}, policyTypes=["Ingress", "Egress"],
                 ingress=[{"from": [{"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}},
                                    {"namespaceSelector": {"matchLabels": {"project": "myproject"}}},
                                    {"podSelector": {"matchLabels": {"role": "frontend"}}}],
                           "ports": [{"protocol": "TCP", "port": 6379}]}],
                 egress=[{"to": [{"ipBlock": {"cidr": "10.0.0.0/24"}}], "ports": [{"protocol": "TCP", "port": 5978}]},
                         {"ports": [{"port": 32000, "endPort": 32768}]}])
    assert ("  PodSelector:     role=db\n"
            "  Allowing ingress traffic:\n"
            "    To Port: 6379/TCP\n"
            "    From:\n"
            "      IPBlock:\n"
            "        CIDR: 172.17.0.0/16\n"
            "        Except: 172.17.1.0/24\n"
            "    From:\n"
            "      NamespaceSelector: project=myproject\n"
            "    From:\n"
            "      PodSelector: role=frontend\n"
            "  Allowing egress traffic:\n"
            "    To Port: 5978/TCP\n"
            "    To:\n"
            "      IPBlock:\n"
            "        CIDR: 10.0.0.0/24\n"
            "        Except: \n"
            "    ----------\n"
            "    To Port Range: 32000-32768/TCP\n"
            "    To: <any> (traffic not restricted by destination)\n"
            "  Policy Types: Ingress, Egress\n") in describe(doc)


def test_browser_lists_network_policies_with_kubectls_columns():
    assert "networkpolicies" in BROWSABLE
    assert headers_for("networkpolicies") == ["NAME", "POD-SELECTOR", "AGE"]


async def test_traffic_view_draws_the_policies_on_the_services_pods(make_app, backend):
    backend.client.put("networkpolicies", DENY)
    backend.client.put("networkpolicies", ALLOW)
    backend.policy_rules = [dict(r, pod="default/web-7d4b9c8f6-abcde") for r in RULES[:2]]
    app = make_app(start="browse")
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot, "pods", "endpoints")
        screen = await wait_screen(pilot, BrowserScreen)
        screen.show_resource("services")
        await settle(app, pilot, "services")
        await pilot.press("t")
        traffic = await wait_screen(pilot, TrafficScreen)
        await settle(app, pilot, "networkpolicies")

        def drawn() -> str:
            traffic.poll()
            return render(traffic.query_one("#traffic-policies", Static).content)
        await wait_for(pilot, lambda: "default/allow-client" in drawn())
        text = drawn()
        assert "from pods role=client of this namespace on TCP 80" in text
        assert next(line for line in text.splitlines() if "dropped" in line).rstrip(" │").endswith("3")


def test_pods_on_local_nodes_are_said_to_be_unprotected():
    pod = {**WEB, "spec": {"nodeName": "node-1"}}
    local = {"metadata": {"name": "node-1"}, "status": {"nodeInfo": {"containerRuntimeVersion": "kubetui-process://0.1"}}}
    text = render(policy_table([pod], [DENY], [], nodes=[local]))
    assert "NetworkPolicy is not enforced on node node-1" in text
    docker = {"metadata": {"name": "node-1"}, "status": {"nodeInfo": {"containerRuntimeVersion": "kubetui-isolated://1"}}}
    assert "not enforced" not in render(policy_table([pod], [DENY], [], nodes=[docker]))
