"""The control plane strip on the cluster map: API server, store, scheduler, controllers.

Each component shows a live activity indicator fed by the backend's counters
(requests served, store writes, pods bound, reconciles). The numbers are what
the components really did since the last look, not an animation.
"""

from __future__ import annotations

from rich.text import Text
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
    """The four control plane components side by side; polls the backend's counters once a second."""

    DEFAULT_CSS = """
    ControlPlanePanel { height: 3; }
    """

    POLL_SECONDS = 1.0

    def compose(self) -> ComposeResult:
        for component in CONTROL_PLANE_COMPONENTS:
            yield ComponentIndicator(component, id=f"cp-{component}")

    def on_mount(self) -> None:
        self.poll()
        self.set_interval(self.POLL_SECONDS, self.poll)

    def poll(self) -> None:
        counters = self.app.backend.control_plane_activity() or {}  # type: ignore[attr-defined]
        for component in CONTROL_PLANE_COMPONENTS:
            ind = self.query_one(f"#cp-{component}", ComponentIndicator)
            ind.known = component in counters
            new = int(counters.get(component, 0))
            ind.delta = max(0, new - ind.total) if ind.total else 0
            ind.total = new
