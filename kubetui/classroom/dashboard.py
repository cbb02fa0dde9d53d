"""``kubetui class dashboard``: the teacher's dashboard in the terminal (Textual).

The same view as the web page (``page.py``), from the same endpoint: a
worker thread long-polls ``/class/v1/dashboard?wait=SEQ`` and posts each new
view as a message; the heatmap is a DataTable, learners x lesson steps.
"""

from __future__ import annotations

import ssl
from typing import Any

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Input, Static

from kubetui.classroom.link import ClassError, request

GLYPH = {"done": "[green]██[/]", "working": "[yellow]▒▒[/]", "stuck": "[red]!![/]", "": "  "}


def cell_text(cell: dict[str, Any] | None) -> str:
    """One heatmap cell: its state's colour, then hints used (``*``: the solution was shown)."""
    if not cell:
        return "  "
    extra = (str(cell["hints"]) if cell.get("hints") else "") + ("*" if cell.get("solution") else "")
    return GLYPH.get(cell["state"], "  ") + extra


class DashboardApp(App[None]):
    """Keys: ``p`` pause/resume the class, ``m`` message everyone, ``h`` hint the selected learner, ``q`` quit."""

    BINDINGS = [
        Binding("p", "pause", "pause/resume"),
        Binding("m", "message('')", "message all"),
        Binding("h", "hint", "hint learner"),
        Binding("q", "quit", "quit"),
    ]
    CSS = "#stuck { height: auto; max-height: 12; } Input { dock: bottom; display: none; }"

    class Updated(Message):
        """The server sent a new dashboard view."""

        def __init__(self, view: dict[str, Any]) -> None:
            super().__init__()
            self.view = view

    def __init__(self, url: str, token: str, ctx: ssl.SSLContext) -> None:
        super().__init__()
        self.url, self.token, self.ctx = url, token, ctx
        self.view: dict[str, Any] = {"seq": -1, "paused": False, "columns": [], "learners": [], "stuck": [],
                                     "medianSeconds": {}}
        self._to = ""
        self._kind = "message"

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="heat", zebra_stripes=True)
        yield Static(id="stuck")
        yield Input(placeholder="message (Enter sends, Esc cancels)", id="say")
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"kubetui class · {self.url}"
        self.poll()

    @work(thread=True, exclusive=True)
    def poll(self) -> None:
        seq = -1
        from textual.worker import get_current_worker
        worker = get_current_worker()
        while not worker.is_cancelled:
            try:
                view = request(f"{self.url}/class/v1/dashboard?wait={seq}&timeout=10", token=self.token,
                               ctx=self.ctx, timeout=15)
            except ClassError as e:
                self.call_from_thread(self.notify, str(e), severity="error")
                import time
                time.sleep(2)
                continue
            seq = view["seq"]
            self.post_message(self.Updated(view))

    def on_dashboard_app_updated(self, message: Updated) -> None:
        self.view = v = message.view
        self.sub_title = "PAUSED" if v["paused"] else f"{len(v['learners'])} learners · {v['seq']} events"
        table = self.query_one("#heat", DataTable)
        table.clear(columns=True)
        table.add_column("learner", key="learner")
        for c in v["columns"]:
            table.add_column(c.split("/", 1)[1][:10], key=c)
        for d in v.get("drills", []):
            table.add_column(f"drill {d}"[:12], key=f"drill:{d}")
        blank = [""] * len(v.get("drills", []))
        table.add_row("median s", *[str(v["medianSeconds"].get(c, "")) for c in v["columns"]], *blank, key="_median")
        for row in v["learners"]:
            table.add_row(row["learner"], *[cell_text(row["cells"].get(c)) for c in v["columns"]],
                          *[str(row.get("drillScores", {}).get(d, "")) for d in v.get("drills", [])],
                          key=row["learner"])
        lines = ["[b]stuck longest[/b]"] + [
            f"{s['learner']:<16} {s['lesson']}/{s['step']:<24} {s['seconds']:>7.0f}s  {s['failingCheck']}"
            for s in v["stuck"][:10]] if v["stuck"] else ["nobody is stuck"]
        self.query_one("#stuck", Static).update("\n".join(lines))

    def _post(self, path: str, body: dict[str, Any]) -> None:
        try:
            request(f"{self.url}/class/v1/{path}", method="POST", body=body, token=self.token, ctx=self.ctx)
        except ClassError as e:
            self.notify(str(e), severity="error")

    def action_pause(self) -> None:
        self._post("pause", {"paused": not self.view["paused"]})

    def action_message(self, to: str, kind: str = "message") -> None:
        self._to, self._kind = to, kind
        box = self.query_one("#say", Input)
        box.placeholder = f"{kind} to {to or 'everyone'} (Enter sends, Esc cancels)"
        box.display = True
        box.focus()

    def action_hint(self) -> None:
        table = self.query_one("#heat", DataTable)
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:   # noqa: BLE001 - an empty table has no cursor row
            key = None
        if not key or key == "_median":
            self.notify("select a learner's row first")
            return
        self.action_message(str(key), "hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self._post("messages", {"to": self._to, "kind": self._kind, "text": event.value})
            self.notify(f"sent to {self._to or 'everyone'}")
        event.input.value = ""
        event.input.display = False
        self.query_one("#heat").focus()

    def key_escape(self) -> None:
        box = self.query_one("#say", Input)
        box.display = False
        self.query_one("#heat").focus()
