"""Traffic for a Service: each endpoint's share of requests, as live bars.

A Service's ClusterIP is not a process: kube-proxy on every node spreads
connections across the ready endpoints (the pods the selector matches, listed
in the Endpoints object). The bars show how requests were really spread,
from the backend's per-endpoint counters.

NetworkPolicies are drawn under the bars: each policy rule that selects the
endpoint pods, in words, with the connections it let in, and the connections
the pods dropped because no rule allowed them (every node's policy agent
counts them in iptables).

A counted connection is not a served one: each kube-proxy also knocks on its
node's endpoints, and when none accepts connections on the Service's target
port (``kubectl expose deployment web --port 80`` for an app on 8080) the
screen says so, and why: the port the Service sends to against the
``containerPort`` the pods declare.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from kubetui.tui.netpol import policy_table
from kubetui.tui.widgets.bars import bar

Obj = dict[str, Any]


def endpoint_addresses(endpoints: Obj | None) -> list[tuple[str, str]]:
    """(``ip:port``, pod name) for each ready address of an Endpoints object."""
    out = []
    for subset in (endpoints or {}).get("subsets") or []:
        for a in subset.get("addresses") or []:
            for p in subset.get("ports") or [{}]:
                out.append((f"{a.get('ip')}:{p.get('port')}", (a.get("targetRef") or {}).get("name", "")))
    return out


#: what a kube-proxy's knock on an endpoint found, as the table says it
PROBE_TEXT = {"open": "yes", "refused": "refused", "timeout": "no answer", "unreachable": "unreachable"}


def traffic_table(addresses: list[tuple[str, str]], counts: dict[str, int], width: int = 30,
                  probes: dict[str, str] | None = None) -> Table:
    total = sum(counts.values())
    probes = probes or {}
    table = Table(expand=True)
    for col in ("ENDPOINT", "POD", "ACCEPTS", "SHARE", "", "CONNECTIONS"):
        table.add_column(col)
    known = dict(addresses)
    for addr in sorted(set(known) | set(counts)):
        n = counts.get(addr, 0)
        share = n / total if total else 0.0
        probe = probes.get(addr)
        accepts = Text(PROBE_TEXT.get(probe, probe or "?"), style="green" if probe == "open" else
                       ("bold red" if probe else "dim"))
        table.add_row(addr, known.get(addr, "(gone)"), accepts, bar(share, width, "cyan"), f"{share:.0%}", str(n))
    return table


def _declared_ports(pod: Obj | None) -> list[str]:
    """``8080`` or ``8080 (http)`` for each containerPort the pod's containers declare."""
    out = []
    for c in (pod or {}).get("spec", {}).get("containers") or []:
        for p in c.get("ports") or []:
            out.append(f"{p['containerPort']}" + (f" ({p['name']})" if p.get("name") else ""))
    return out


def refused_diagnosis(service: Obj, addresses: list[tuple[str, str]], probes: dict[str, str],
                      pods: dict[str, Obj]) -> str:
    """Why connections to the Service fail, when its endpoints refuse them; "" when nothing is known wrong.

    ``pods`` maps pod name -> pod (the Service's namespace).

    >>> svc = {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80, "targetPort": 80}]}}
    >>> pod = {"spec": {"containers": [{"ports": [{"containerPort": 8080}]}]}}
    >>> print(refused_diagnosis(svc, [("10.244.1.5:80", "web-1")], {"10.244.1.5:80": "refused"}, {"web-1": pod}))
    No endpoint accepts connections on port 80: every connection to web is refused.
    The Service sends to targetPort 80, but its pods declare containerPort 8080. Point targetPort at the port the app listens on (kubectl expose … --target-port=8080, or kubectl edit service web).
    """
    known = [(a, pod) for a, pod in addresses if a in probes]
    refused = [(a, pod) for a, pod in known if probes[a] != "open"]
    if not known or not refused:
        return ""
    name = service.get("metadata", {}).get("name", "")
    ports = sorted({a.rpartition(":")[2] for a, _ in refused}, key=lambda p: int(p) if p.isdigit() else 0)
    port = ", ".join(ports)
    if len(refused) == len(known) == len(addresses):
        head = f"No endpoint accepts connections on port {port}: every connection to {name} is refused."
    else:
        head = (f"{len(refused)} of {len(addresses)} endpoints do not accept connections on port {port}: "
                + ", ".join(pod or a for a, pod in refused) + ".")
    declared = sorted({d for _, pod in refused for d in _declared_ports(pods.get(pod))})
    numbers = {d.split(" ")[0] for d in declared}
    if declared and not numbers & set(ports):
        why = (f"The Service sends to targetPort {port}, but its pods declare containerPort {', '.join(declared)}. "
               f"Point targetPort at the port the app listens on (kubectl expose … --target-port="
               f"{sorted(numbers)[0]}, or kubectl edit service {name}).")
    elif not declared:
        why = (f"The Service sends to targetPort {port}; its pods declare no containerPort, so nothing says where "
               f"the app listens (kubectl expose used --port as the targetPort). kubectl logs shows where it "
               f"listens; set targetPort to that port (kubectl edit service {name}).")
    else:
        why = (f"The pods declare containerPort {', '.join(declared)}, yet nothing listens on it: the app may "
               f"still be starting, or listen on another port or only on localhost (kubectl logs, kubectl "
               f"describe pod).")
    return f"{head}\n{why}"


class TrafficScreen(Screen[None]):
    """Bars per endpoint, refreshed every second.

    | Key | Action |
    | :- | :- |
    | escape / q | back |
    """

    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back")]
    POLL_SECONDS = 1.0

    def __init__(self, service: Obj) -> None:
        super().__init__()
        self.service = service
        self.counts: dict[str, int] = {}
        self.probes: dict[str, str] = {}
        #: why connections fail (endpoints refuse them), or ""
        self.diagnosis = ""

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll():
            yield Static("", id="traffic-summary")
            yield Static("", id="traffic-table")
            yield Static("", id="traffic-policies")
        yield Footer()

    def on_mount(self) -> None:
        md = self.service["metadata"]
        self.title = f"traffic to service {md['namespace']}/{md['name']}"
        self.app.bridge.ensure("endpoints")  # type: ignore[attr-defined]
        self.app.bridge.ensure("pods")  # type: ignore[attr-defined]  # their declared containerPorts
        self.app.bridge.ensure("networkpolicies", "nodes")  # type: ignore[attr-defined]  # who may reach them
        self.poll()
        self.set_interval(self.POLL_SECONDS, self.poll)

    def poll(self) -> None:
        md = self.service["metadata"]
        backend = self.app.backend  # type: ignore[attr-defined]
        self.counts = backend.service_traffic(md["namespace"], md["name"])
        probes_of = getattr(backend, "service_probes", None)
        self.probes = probes_of(md["namespace"], md["name"]) if probes_of else {}
        eps = self.app.bridge.get("endpoints", f"{md['namespace']}/{md['name']}")  # type: ignore[attr-defined]
        addresses = endpoint_addresses(eps)
        pods = {p["metadata"]["name"]: p for p in self.app.bridge.objects("pods").values()  # type: ignore[attr-defined]
                if p["metadata"].get("namespace") == md["namespace"]}
        spec = self.service.get("spec", {})
        summary = Text(f"ClusterIP {spec.get('clusterIP', '?')} · {len(addresses)} ready endpoints · "
                       f"{sum(self.counts.values())} connections seen")
        if not self.counts:
            summary.append("\n(no connection counters from this cluster yet)", style="dim")
        self.diagnosis = refused_diagnosis(self.service, addresses, self.probes, pods)
        if self.diagnosis:
            summary.append("\n" + self.diagnosis, style="bold red")
        self.query_one("#traffic-summary", Static).update(summary)
        self.query_one("#traffic-table", Static).update(traffic_table(addresses, self.counts, probes=self.probes))
        # NetworkPolicies drawn over the same pods: which rule let connections in, how many were dropped
        endpoint_pods = [pods[name] for _, name in addresses if name in pods]
        policies = list(self.app.bridge.objects("networkpolicies").values())  # type: ignore[attr-defined]
        rules_of = getattr(backend, "policy_traffic", None)
        nodes = list(self.app.bridge.objects("nodes").values())  # type: ignore[attr-defined]
        self.query_one("#traffic-policies", Static).update(
            policy_table(endpoint_pods, policies, rules_of() if rules_of else [], nodes=nodes))
