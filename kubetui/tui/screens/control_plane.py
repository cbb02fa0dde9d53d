"""The control plane as a cluster: its nodes, the etcd members' raft state, the API servers, the elected leaders.

What an operator of a kubeadm HA cluster reads from ``kubectl get nodes``,
``etcdctl endpoint status --cluster -w table``, the load balancer's stats page
and ``kubectl get lease -n kube-system``, on one screen, refreshed every
second from kubetui's ``controlplane.kubetui.dev`` group (``controlplanestatus``,
so an attached TUI and the web UI show the same). Kill a member
(``kubetui faults inject etcd-member-kill``) and watch the election: the
leader mark moves, the raft term grows, and the "what changed" log says so.

``describe_changes`` (what changed between two answers) and the row
builders are pure; the screen only polls and draws.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, RichLog, Static

from kubetui.tui.screens.base import MainScreen

Obj = dict[str, Any]
LEADER_MARK = "★"


def short(node: str, cluster: str) -> str:
    """``lab-control-plane2`` -> ``control-plane2`` on cluster ``lab`` (the columns stay narrow)."""
    return node.removeprefix(f"{cluster}-") if cluster else node


def size(n: int) -> str:
    """Bytes as etcdctl's table shows a DB size: ``20 kB``, ``3.1 MB``."""
    if n < 1000:
        return f"{n} B"
    if n < 1_000_000:
        return f"{n / 1000:.0f} kB"
    return f"{n / 1_000_000:.1f} MB"


def ago(timestamp: str, now: float) -> str:
    """``renewTime`` (RFC 3339 with microseconds) as seconds before ``now``: ``0.4s ago``."""
    if not timestamp:
        return "never"
    try:
        t = dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return timestamp
    return f"{max(0.0, now - t):.1f}s ago"


def describe_changes(old: Obj | None, new: Obj, cluster: str = "") -> list[str]:
    """What changed between two ``ControlPlaneStatus`` answers, in a learner's words (an election, a quorum
    lost, a member down, a Lease taken over, an API server out of the load balancer)."""
    if old is None:
        return []
    out: list[str] = []
    s = lambda n: short(n, cluster) or "nobody"  # noqa: E731
    oe, ne = old.get("etcd") or {}, new.get("etcd") or {}
    if oe and ne:
        if oe.get("leader") != ne.get("leader") or oe.get("raftTerm") != ne.get("raftTerm"):
            if ne.get("leader") and oe.get("leader"):
                out.append(f"etcd: {s(ne['leader'])} leads in term {ne.get('raftTerm')} "
                           f"(was {s(oe['leader'])}, term {oe.get('raftTerm')}): an election")
            elif ne.get("leader"):
                out.append(f"etcd: {s(ne['leader'])} elected leader in term {ne.get('raftTerm')}")
            elif ne.get("hasQuorum"):
                out.append(f"etcd: no leader (term {ne.get('raftTerm')}): the members are electing one")
            else:
                out.append(f"etcd: no leader (term {ne.get('raftTerm')}), and no majority left to elect one")
        if oe.get("hasQuorum") and not ne.get("hasQuorum"):
            out.append(f"etcd: quorum lost: {ne.get('reachableMembers', ne.get('healthyMembers'))} of "
                       f"{len(ne.get('members') or [])} members up, {ne.get('quorum')} needed; no write can commit")
        elif not oe.get("hasQuorum") and ne.get("hasQuorum"):
            out.append("etcd: quorum back: writes commit again")
        before = {m["name"]: m["healthy"] for m in oe.get("members") or []}
        for m in ne.get("members") or []:
            if before.get(m["name"]) is True and not m["healthy"]:
                out.append(f"etcd member {s(m['name'])} down: {'; '.join(m['errors']) or 'unhealthy'}")
            elif before.get(m["name"]) is False and m["healthy"]:
                out.append(f"etcd member {s(m['name'])} healthy again")
    holders = {r["name"]: r["holderNode"] for r in old.get("leases") or []}
    for r in new.get("leases") or []:
        if r["name"] in holders and holders[r["name"]] != r["holderNode"]:
            out.append(f"Lease {r['name']}: {s(r['holderNode'])} took over from {s(holders[r['name']])} "
                       f"(transitions: {r['leaseTransitions']})")
    ready = {a["node"]: a["healthy"] for a in old.get("apiServers") or []}
    for a in new.get("apiServers") or []:
        if ready.get(a["node"]) is True and not a["healthy"]:
            out.append(f"API server on {s(a['node'])} failed /readyz: the load balancer stops sending it requests")
        elif ready.get(a["node"]) is False and a["healthy"]:
            out.append(f"API server on {s(a['node'])} ready: back in the load balancer")
    return out


def summary_line(doc: Obj, cluster: str = "") -> Text:
    """The line above the tables: topology, quorum, who answered."""
    etcd = doc.get("etcd")
    t = Text()
    if doc.get("topology") == "stacked-etcd":
        t.append(f"{len(doc.get('nodes') or [])} control-plane nodes (kubeadm's stacked etcd)", style="bold")
    else:
        t.append("one control plane in one process", style="bold")
    if etcd:
        up = etcd.get("reachableMembers", etcd["healthyMembers"])
        if etcd.get("hasQuorum") and etcd.get("leader"):
            t.append(f" · etcd quorum {up}/{len(etcd['members'])} up (needs {etcd['quorum']})", style="green")
        elif etcd.get("hasQuorum"):
            t.append(f" · etcd {up}/{len(etcd['members'])} up, electing a leader: writes wait", style="yellow")
        else:
            t.append(f" · etcd has NO QUORUM ({up}/{len(etcd['members'])} up, needs "
                     f"{etcd['quorum']}): writes fail", style="bold red")
    else:
        t.append(f" · store: {doc.get('store', {}).get('backend', '?')} (embedded, no raft)", style="dim")
    t.append(f" · revision {doc.get('store', {}).get('revision', '?')}", style="dim")
    t.append(f" · this answer from {short(doc.get('servedBy', ''), cluster)}", style="dim")
    return t


def recent_line(doc: Obj, cluster: str = "") -> str:
    """Which API server took each of the load balancer's latest connections (newest last)."""
    recent = [short(n, cluster) for n in (doc.get("recentRequests") or [])[-12:]]
    return "latest connections → " + (" ".join(recent) if recent else "(none through a load balancer)")


class ControlPlaneScreen(MainScreen):
    """Control-plane nodes, etcd members, API servers and Lease holders, live.

    | Key | Action |
    | :- | :- |
    | r | ask again now |
    """

    BINDINGS = [Binding("r", "reload", "Refresh", tooltip="ask the control plane again now")]

    POLL_SECONDS = 1.0

    def __init__(self) -> None:
        super().__init__(id="controlplane-screen")
        #: the last answer (``ControlPlaneStatus``), None until the first
        self.status: Obj | None = None
        #: what changed, oldest first (also shown in the log)
        self.changes: list[str] = []
        self._errors: list[str] = []

    def compose_content(self) -> ComposeResult:
        with Vertical(id="controlplane"):
            yield Static("asking the control plane…", id="cp-summary")
            yield Static("[b]control-plane nodes[/b]", classes="cp-title")
            yield self._table("cp-nodes", "NODE", "PROCESS", "API SERVER", "ETCD MEMBER", "LEADS")
            yield Static("[b]etcd members[/b] (etcdctl endpoint status)", classes="cp-title")
            yield self._table("cp-etcd", "MEMBER", "ID", "LEADER", "RAFT TERM", "RAFT INDEX", "APPLIED", "DB SIZE",
                              "HEALTH")
            yield Static("[b]API servers[/b] behind the load balancer (its /readyz checks)", classes="cp-title")
            yield self._table("cp-api", "NODE", "ADDRESS", "READY", "OPEN", "CONNECTIONS")
            yield Static("", id="cp-recent")
            yield Static("[b]leader election[/b] (kubectl get lease -n kube-system)", classes="cp-title")
            yield self._table("cp-leases", "LEASE", "HOLDER", "RENEWED", "TRANSITIONS")
            yield RichLog(id="cp-changes", markup=False, wrap=True, max_lines=200)

    @staticmethod
    def _table(id: str, *columns: str) -> DataTable[Any]:
        table: DataTable[Any] = DataTable(id=id, cursor_type="row", show_cursor=False)
        table.add_columns(*columns)
        return table

    def on_mount(self) -> None:
        self.title = f"kubetui · {self.app.backend.cluster_name}"
        self.sub_title = "control plane"
        self.refresh_status()
        self.set_interval(self.POLL_SECONDS, self.refresh_status)

    def action_reload(self) -> None:
        self.refresh_status()

    @work(exclusive=True, group="controlplane-status")
    async def refresh_status(self) -> None:
        fetch = getattr(self.app.backend, "control_plane_status", None)
        try:
            doc = await fetch() if fetch is not None else None
        except Exception as exc:  # noqa: BLE001 - the poll's boundary: say why, keep polling
            doc = exc
        if not self.is_mounted or not self.query("#cp-summary"):
            return  # the screen went away (the app quits) while the answer came
        if isinstance(doc, Exception):
            self.query_one("#cp-summary", Static).update(Text(f"the control plane did not answer: {doc}",
                                                              style="red"))
            return
        if doc is None:
            self.query_one("#cp-summary", Static).update(Text(
                "this cluster does not serve kubetui's control-plane view (controlplane.kubetui.dev)", style="dim"))
            return
        self.show(doc)

    def show(self, doc: Obj) -> None:
        """Draw one answer (and log what changed since the last one)."""
        cluster = self.app.backend.cluster_name
        s = lambda n: short(n, cluster)  # noqa: E731
        for line in describe_changes(self.status, doc, cluster):
            self.changes.append(line)
            stamp = dt.datetime.fromtimestamp(self.app.clock.time()).strftime("%H:%M:%S")
            self.query_one("#cp-changes", RichLog).write(f"{stamp} {line}")
        self.status = doc
        self.query_one("#cp-summary", Static).update(summary_line(doc, cluster))

        nodes = self.query_one("#cp-nodes", DataTable)
        nodes.clear()
        for n in doc.get("nodes") or []:
            api = "ready" if n.get("apiServerReady") else ("not ready" if n.get("apiServerReady") is False else "?")
            member = n.get("etcdMember") or "-"
            if member != "-":
                member = (f"{s(member)} {LEADER_MARK}" if n.get("etcdLeader") else s(member)) + (
                    "" if n.get("etcdHealthy") else " (down)")
            nodes.add_row(s(n["name"]), n.get("process", "?"), api, member, ", ".join(n.get("leads") or []) or "-")

        etcd = self.query_one("#cp-etcd", DataTable)
        etcd.clear()
        for m in (doc.get("etcd") or {}).get("members") or []:
            health = Text("healthy", style="green") if m["healthy"] else Text(
                "; ".join(m.get("errors") or []) or "unhealthy", style="red")
            etcd.add_row(s(m["name"]), m.get("id", ""), LEADER_MARK if m["isLeader"] else "", str(m["raftTerm"]),
                         str(m["raftIndex"]), str(m["raftAppliedIndex"]), size(int(m["dbSize"])), health)
        if not (doc.get("etcd") or {}).get("members"):
            etcd.add_row("(none)", "", "", "", "", "", "", Text("the embedded store has no raft members", style="dim"))

        api = self.query_one("#cp-api", DataTable)
        api.clear()
        for a in doc.get("apiServers") or []:
            api.add_row(s(a["node"]), a.get("address", ""),
                        Text("ready", style="green") if a["healthy"] else Text(a.get("lastError") or "not ready",
                                                                               style="red"),
                        str(a.get("connections", 0)), str(a.get("served", 0)))
        self.query_one("#cp-recent", Static).update(recent_line(doc, cluster))

        leases = self.query_one("#cp-leases", DataTable)
        leases.clear()
        now = self.app.clock.time()
        for r in doc.get("leases") or []:
            leases.add_row(r["name"], s(r["holderNode"]) or "(none)", ago(r.get("renewTime", ""), now),
                           str(r.get("leaseTransitions", 0)))
        if doc.get("errors") and doc.get("errors") != self._errors:
            for err in doc["errors"]:
                self.query_one("#cp-changes", RichLog).write(f"(could not read: {err})")
        self._errors = list(doc.get("errors") or [])
