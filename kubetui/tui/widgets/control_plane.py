"""The control plane strip on the cluster map: API server, store, scheduler, controllers.

Each component shows a live activity indicator fed by the backend's counters
(requests served, store writes, pods bound, reconciles). The numbers are what
the components really did since the last look, not an animation.

With several control-plane nodes each box also says, under its border, what the
control-plane view (``5``) shows in full: how many API servers are ready, which
etcd member leads in which raft term (or that the quorum is lost), and which
node's scheduler and controller manager hold their Leases.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import Static

from kubetui.tui.backend import CONTROL_PLANE_COMPONENTS

LABELS = {
    "apiserver": ("API server", "every read and write goes through it"),
    "store": ("store", "etcd: the only place state lives"),
    "scheduler": ("scheduler", "picks a node for each new pod"),
    "controllers": ("controllers", "turn desired state into actual"),
}


def box_notes(doc: dict[str, Any] | None, cluster: str = "") -> dict[str, str]:
    """What each box says under its border, from a ``ControlPlaneStatus`` (empty for one control plane on
    the embedded store: nothing to elect, nothing to balance).

    >>> box_notes({"topology": "stacked-etcd", "apiServers": [{"healthy": True}, {"healthy": False}],
    ...            "etcd": {"leader": "lab-control-plane2", "raftTerm": 3, "hasQuorum": True},
    ...            "leases": [{"name": "kube-scheduler", "holderNode": "lab-control-plane"}]}, "lab")
    {'apiserver': '1/2 ready', 'store': 'etcd: control-plane2 leads, term 3', 'scheduler': 'leader control-plane'}
    """
    if not doc:
        return {}
    notes: dict[str, str] = {}
    short = lambda n: n.removeprefix(f"{cluster}-") if cluster else n  # noqa: E731
    ha = doc.get("topology") == "stacked-etcd"
    if ha:
        api = doc.get("apiServers") or []
        notes["apiserver"] = f"{sum(1 for a in api if a.get('healthy'))}/{len(api)} ready"
    etcd = doc.get("etcd")
    if etcd:
        notes["store"] = (f"etcd: {short(etcd['leader'])} leads, term {etcd['raftTerm']}" if etcd.get("leader")
                          else "etcd: electing a leader" if etcd.get("hasQuorum") else "etcd: NO QUORUM")
    if ha:
        component = {"kube-scheduler": "scheduler", "kube-controller-manager": "controllers"}
        for lease in doc.get("leases") or []:
            if lease.get("name") in component:
                holder = short(lease.get("holderNode") or "")
                notes[component[lease["name"]]] = f"leader {holder}" if holder else "no leader"
    return notes


class ComponentIndicator(Static):
    """One component: name, a dot lit when it did work since the last poll, and its rate."""

    DEFAULT_CSS = """
    ComponentIndicator { width: 1fr; height: 3; border: round $primary; padding: 0 1; }
    ComponentIndicator.-active { border: round $accent; }
    """

    total: reactive[int] = reactive(0)
    """The component's counter (monotonic)."""
    delta: reactive[int] = reactive(0)
    """Work done since the previous poll."""
    known: reactive[bool] = reactive(True)
    """False until the control plane has answered with this component's counter."""

    def __init__(self, component: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.component = component

    def on_mount(self) -> None:
        self.border_title = LABELS.get(self.component, (self.component, ""))[0]

    def render(self) -> Text:
        if not self.known:
            # The counters come from the control-plane process over the API
            # (controlplane.kubetui.dev); until the first answer, say so rather than show "idle".
            return Text("· asking the control plane…", style="dim")
        text = Text("● " if self.delta else "○ ", style="bold green" if self.delta else "dim")
        text.append(f"{self.delta}/s" if self.delta else "idle", style="bold" if self.delta else "dim")
        text.append(f"  total {self.total}", style="dim")
        return text

    def watch_delta(self, delta: int) -> None:
        self.set_class(delta > 0, "-active")


class ControlPlanePanel(Horizontal):
    """The four control plane components side by side; polls the backend's counters once a second.

    Only while its view shows: with another view on screen (the resource browser, the
    events) it asks nothing, so the backend stops fetching the counters from the control
    plane (thirty idle web sessions of a hosted class on other views cost it nothing).
    The first reading after a pause is a new baseline, never a burst of "N/s".
    """

    DEFAULT_CSS = """
    ControlPlanePanel { height: 3; }
    """

    POLL_SECONDS = 1.0
    #: how often the control-plane view's answer is asked for the notes under the boxes
    STATUS_SECONDS = 2.0

    def compose(self) -> ComposeResult:
        for component in CONTROL_PLANE_COMPONENTS:
            yield ComponentIndicator(component, id=f"cp-{component}")

    def on_mount(self) -> None:
        #: the next reading is a baseline (the first one, or the first after the view was away)
        self._rebase = True
        self._answered = False
        self.poll()
        self.set_interval(self.POLL_SECONDS, self.poll)
        self.poll_status()
        self.set_interval(self.STATUS_SECONDS, self.poll_status)

    @work(exclusive=True, group="control-plane-notes")
    async def poll_status(self) -> None:
        fetch = getattr(self.app.backend, "control_plane_status", None)
        try:
            doc = await fetch() if fetch is not None else None
        except Exception:  # noqa: BLE001 - a control plane restarting: keep the last notes, try again
            return
        notes = box_notes(doc, getattr(self.app.backend, "cluster_name", ""))  # type: ignore[attr-defined]
        for component in CONTROL_PLANE_COMPONENTS:
            self.query_one(f"#cp-{component}", ComponentIndicator).border_subtitle = notes.get(component, "")

    def poll(self) -> None:
        if self.screen not in self.app.screen_stack:  # another view (mode) is on screen: ask nothing
            self._rebase = True
            return
        counters = self.app.backend.control_plane_activity() or {}  # type: ignore[attr-defined]
        if not counters:
            # No answer yet: before the first one, say so; after a pause, keep what shows.
            if not self._answered:
                for component in CONTROL_PLANE_COMPONENTS:
                    self.query_one(f"#cp-{component}", ComponentIndicator).known = False
            self._rebase = True
            return
        self._answered = True
        for component in CONTROL_PLANE_COMPONENTS:
            ind = self.query_one(f"#cp-{component}", ComponentIndicator)
            ind.known = component in counters
            new = int(counters.get(component, 0))
            ind.delta = 0 if self._rebase else max(0, new - ind.total)
            ind.total = new
        self._rebase = False
