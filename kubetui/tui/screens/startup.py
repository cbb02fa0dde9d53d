"""Start-up: the phases of bringing a cluster up, and what each one is.

While the node image builds and nodes start, a learner reads what is
happening ("starting node-2: a Docker container that will run a kubelet"),
the way ``kind create cluster`` prints its steps.
"""

from __future__ import annotations

from typing import AsyncIterator

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, ProgressBar, Static

from kubetui.tui.backend import StartupPhase


class StartupScreen(Screen[None]):
    """Phases as they complete; switches to the ``then`` mode when the last is done."""

    def __init__(self, phases: AsyncIterator[StartupPhase], *, then: str = "map") -> None:
        super().__init__(id="startup-screen")
        self.phases = phases
        self.then = then
        self.seen: list[StartupPhase] = []
        self.failed: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="startup"):
            yield Static("[b]Bringing the cluster up[/b]", id="startup-title")
            yield ProgressBar(id="startup-progress", show_eta=False)
            yield Static("", id="startup-current")
            yield Static("", id="startup-log")
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"kubetui · {self.app.backend.cluster_name}"  # type: ignore[attr-defined]
        self.sub_title = "starting"
        self.consume()

    @work(exclusive=True, group="startup")
    async def consume(self) -> None:
        bar = self.query_one("#startup-progress", ProgressBar)
        try:
            async for phase in self.phases:
                self.seen.append(phase)
                if phase.total:
                    bar.update(total=phase.total, progress=phase.step)
                current = f"[b]{phase.title}[/b]" + (f": {phase.meaning}" if phase.meaning else "")
                if phase.error:
                    current += f"\n[red]{phase.error}[/red]"
                    self.failed = phase.error
                self.query_one("#startup-current", Static).update(current)
                self.query_one("#startup-log", Static).update(
                    "\n".join(("✓ " if p is not phase or p.done else "… ") + p.title for p in self.seen))
                if phase.error:
                    return
        except Exception as exc:  # loop boundary: show why the cluster did not come up
            self.failed = str(exc)
            self.query_one("#startup-current", Static).update(f"[red]start-up failed: {exc}[/red]")
            return
        ready = getattr(self.app, "cluster_ready", None)
        if ready is not None:
            ready.set()  # a lesson waiting for the cluster can start now
        self.app.switch_mode(self.then)
