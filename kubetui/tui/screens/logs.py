"""Following a pod's logs (``kubectl logs -f``).

The kubelet keeps each container's stdout/stderr; the API server streams it
from the node (``pods/log``). Lines arrive through the backend's
``pod_logs`` iterator in a worker and are appended as they come.
"""

from __future__ import annotations

from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, RichLog

Obj = dict[str, Any]


class LogsScreen(Screen[None]):
    """A pod's log, followed live.

    | Key | Action |
    | :- | :- |
    | escape / q | back |
    | c | next container |
    | ctrl+l | clear |
    """

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("c", "next_container", "Container"),
        Binding("ctrl+l", "clear", "Clear"),
    ]

    def __init__(self, pod: Obj) -> None:
        super().__init__()
        self.pod = pod
        self.containers = [c["name"] for c in pod.get("spec", {}).get("containers") or []] or [None]
        self.container_index = 0
        self.lines: list[str] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield RichLog(id="log", highlight=False, markup=False, wrap=True, max_lines=5000)
        yield Footer()

    def on_mount(self) -> None:
        self.follow()

    @property
    def container(self) -> str | None:
        return self.containers[self.container_index]

    @work(exclusive=True, group="logs")
    async def follow(self) -> None:
        md = self.pod["metadata"]
        self.title = f"logs {md['namespace']}/{md['name']}"
        self.sub_title = f"container {self.container}" if self.container else ""
        log = self.query_one("#log", RichLog)
        async for line in self.app.backend.pod_logs(md["namespace"], md["name"], self.container, follow=True):  # type: ignore[attr-defined]
            self.lines.append(line)
            log.write(line)

    def action_next_container(self) -> None:
        self.container_index = (self.container_index + 1) % len(self.containers)
        self.action_clear()
        self.follow()

    def action_clear(self) -> None:
        self.lines.clear()
        self.query_one("#log", RichLog).clear()
