"""``kubetui class dashboard``: the teacher's dashboard in the terminal (Textual).

The same view as the web page (``page.py``), from the same endpoint: an
asyncio worker long-polls ``/class/v1/dashboard?wait=SEQ`` and posts each new
view as a message (not a thread: quitting cancels a poll the server holds,
where the app's exit waited for a thread blocked in one); the heatmap is a DataTable, learners x lesson steps.
The actions post to the teacher's endpoints; what a learner's lab does
(reset to a step, start a drill) their own kubetui carries out
(``classroom/channel.py``).
"""

from __future__ import annotations

import asyncio
import json
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


async def get_json(http: Any, url: str, *, token: str | None, ctx: ssl.SSLContext | None, timeout: float) -> Any:
    """``link.request``'s GET for an asyncio caller (``http``: an ``aiohttp.ClientSession``); a refusal
    raises ClassError with the server's Status message, as there."""
    import aiohttp
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with http.get(url, headers=headers, ssl=ctx if ctx is not None else True,
                            timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            raw = await resp.read()
            status, reason, ctype = resp.status, resp.reason, resp.headers.get("Content-Type", "")
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
        raise ClassError(f"cannot reach {url}: {e}") from None
    if status >= 400:
        try:
            msg = json.loads(raw).get("message", reason)
        except ValueError:
            msg = reason
        raise ClassError(f"{status}: {msg}", status)
    return json.loads(raw) if "json" in ctype else raw.decode()


class DashboardApp(App[None]):
    """The teacher's dashboard.

    | Key | Action |
    | :- | :- |
    | p | pause / resume the class |
    | m | message everyone |
    | t | message the selected learner |
    | h | hint the selected learner |
    | r | reset the selected learner's lab to a step (``lesson/step``; their current step is offered) |
    | d | start a drill for everyone (``DRILL [SEED]``) |
    | q | quit |
    """

    BINDINGS = [
        Binding("p", "pause", "pause/resume"),
        Binding("m", "message('')", "message all"),
        Binding("t", "tell", "message learner"),
        Binding("h", "hint", "hint learner"),
        Binding("r", "reset", "reset learner"),
        Binding("d", "drill", "drill for all"),
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

    @work(exclusive=True)
    async def poll(self) -> None:
        """Each new view of the class, as the server answers the long-poll (up to 10 s when nothing
        changes). An asyncio worker: quitting cancels the poll in flight. A thread worker blocked in it,
        and ``asyncio.run`` waits for the default executor's threads on exit, so ``q`` took up to 10 s."""
        import aiohttp
        seq = -1
        async with aiohttp.ClientSession() as http:
            while True:
                try:
                    view = await get_json(http, f"{self.url}/class/v1/dashboard?wait={seq}&timeout=10",
                                          token=self.token, ctx=self.ctx, timeout=15)
                except ClassError as e:
                    self.notify(str(e), severity="error")
                    await asyncio.sleep(2)
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

    def _post(self, path: str, body: dict[str, Any], done: str = "") -> bool:
        """Send an action to the class server (in a worker: a slow server never freezes the dashboard)."""
        self._send(path, body, done)
        return True

    @work(thread=True, group="actions")
    def _send(self, path: str, body: dict[str, Any], done: str) -> None:
        try:
            # a hosted class resets labs and starts everyone's drill before it answers: minutes
            got = request(f"{self.url}/class/v1/{path}", method="POST", body=body, token=self.token, ctx=self.ctx,
                          timeout=1800.0)
        except ClassError as e:
            self.call_from_thread(self.notify, str(e), severity="error")
            return
        if done:
            seed = got.get("seed") if isinstance(got, dict) and path == "drills" else None
            self.call_from_thread(self.notify, done + (f" (seed {seed})" if seed is not None else ""))
        for line in (got.get("also") or []) if isinstance(got, dict) else []:
            failed = "failed" in line or "not started" in line
            self.call_from_thread(self.notify, line, severity="error" if failed else "information")

    def action_pause(self) -> None:
        self._post("pause", {"paused": not self.view["paused"]})

    def action_message(self, to: str, kind: str = "message", value: str = "") -> None:
        """Open the input line for a ``kind`` (message, hint, reset, drill) to ``to`` ('' = everyone)."""
        self._to, self._kind = to, kind
        box = self.query_one("#say", Input)
        box.placeholder = {
            "reset": f"reset {to}'s lab to LESSON/STEP (step number or id; Enter sends, Esc cancels)",
            "drill": "start a drill for everyone: DRILL [SEED] (Enter sends, Esc cancels)",
        }.get(kind, f"{kind} to {to or 'everyone'} (Enter sends, Esc cancels)")
        box.value = value
        box.display = True
        box.focus()

    def selected_learner(self) -> str | None:
        """The learner whose heatmap row the cursor is on (None: no row, or the medians' row)."""
        table = self.query_one("#heat", DataTable)
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:   # noqa: BLE001 - an empty table has no cursor row
            key = None
        if not key or key == "_median":
            self.notify("select a learner's row first")
            return None
        return str(key)

    def action_hint(self) -> None:
        if (who := self.selected_learner()) is not None:
            self.action_message(who, "hint")

    def action_tell(self) -> None:
        if (who := self.selected_learner()) is not None:
            self.action_message(who, "message")

    def action_reset(self) -> None:
        if (who := self.selected_learner()) is None:
            return
        row = next((r for r in self.view["learners"] if r["learner"] == who), {})
        self.action_message(who, "reset", row.get("current", ""))    # where they are now, to edit

    def action_drill(self) -> None:
        self.action_message("", "drill")

    def send(self, kind: str, to: str, value: str) -> bool:
        """Post what the input line says; False (and a notification why) when it does not parse."""
        if kind == "reset":
            lesson, _, step = value.strip().partition("/")
            if not lesson:
                self.notify("reset to LESSON/STEP, e.g. pods/2 or pods/create", severity="error")
                return False
            step_ref: int | str = int(step) if step.isdigit() else (step or 1)
            return self._post(f"learners/{to}/reset", {"lesson": lesson, "step": step_ref},
                              f"{to}'s kubetui resets {lesson} to step {step_ref}")
        if kind == "drill":
            words = value.split()
            if not words or (len(words) > 1 and not words[1].isdigit()):
                self.notify("a drill: DRILL [SEED], e.g. bad-image-tag 42", severity="error")
                return False
            body = {"drill": words[0], "seed": int(words[1]) if len(words) > 1 else None}
            return self._post("drills", body, f"drill {words[0]} started for everyone")
        return self._post("messages", {"to": to, "kind": kind, "text": value}, f"sent to {to or 'everyone'}")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.send(self._kind, self._to, event.value)
        event.input.value = ""
        event.input.display = False
        self.query_one("#heat").focus()

    def key_escape(self) -> None:
        box = self.query_one("#say", Input)
        box.display = False
        self.query_one("#heat").focus()
