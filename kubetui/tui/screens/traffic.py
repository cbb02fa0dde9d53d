"""Traffic for a Service: each endpoint's share of requests, as live bars.

A Service's ClusterIP is not a process: kube-proxy on every node spreads
connections across the ready endpoints (the pods the selector matches, listed
in the Endpoints object). The bars show how requests were really spread,
from the backend's per-endpoint counters.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

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


def traffic_table(addresses: list[tuple[str, str]], counts: dict[str, int], width: int = 30) -> Table:
    total = sum(counts.values())
    table = Table(expand=True)
    for col in ("ENDPOINT", "POD", "SHARE", "", "REQUESTS"):
        table.add_column(col)
    known = dict(addresses)
    for addr in sorted(set(known) | set(counts)):
        n = counts.get(addr, 0)
        share = n / total if total else 0.0
        table.add_row(addr, known.get(addr, "(gone)"), bar(share, width, "cyan"), f"{share:.0%}", str(n))
    return table


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

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll():
            yield Static("", id="traffic-summary")
            yield Static("", id="traffic-table")
        yield Footer()

    def on_mount(self) -> None:
        md = self.service["metadata"]
        self.title = f"traffic to service {md['namespace']}/{md['name']}"
        self.app.bridge.ensure("endpoints")  # type: ignore[attr-defined]
        self.poll()
        self.set_interval(self.POLL_SECONDS, self.poll)

    def poll(self) -> None:
        md = self.service["metadata"]
        self.counts = self.app.backend.service_traffic(md["namespace"], md["name"])  # type: ignore[attr-defined]
        eps = self.app.bridge.get("endpoints", f"{md['namespace']}/{md['name']}")  # type: ignore[attr-defined]
        addresses = endpoint_addresses(eps)
        spec = self.service.get("spec", {})
        self.query_one("#traffic-summary", Static).update(
            f"ClusterIP {spec.get('clusterIP', '?')} · {len(addresses)} ready endpoints · "
            f"{sum(self.counts.values())} requests seen" +
            ("" if self.counts else "\n(no request counters from this cluster yet)"))
        self.query_one("#traffic-table", Static).update(traffic_table(addresses, self.counts))
