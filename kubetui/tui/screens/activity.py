"""The activity view: the reconcile log, live, for the whole cluster or one object.

Every controller sync and scheduling cycle is a row: which controller looked
at which object, what it decided, how many API writes it made, how long it
took; the highlighted row's full record (what it observed, decided, and each
write with its resourceVersion before → after) shows below. Opened with ``a``
on a selected object, it keeps that object's records and those of what it
owns (a Deployment: its ReplicaSets' and their pods'), in order. Records come
from ``controlplane.kubetui.dev`` (``kubetui.client.reconciles``), followed
with a long poll.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import logging

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from kubetui.client.reconciles import ReconcileRecord, lines

log = logging.getLogger(__name__)

#: rows kept in the table (the oldest go first)
MAX_ROWS = 2000
#: the first fetch: this many of the latest records
INITIAL_TAIL = 500
#: the long poll's wait (seconds); a backend that cannot long-poll is asked again after IDLE_SECONDS
WAIT_SECONDS = 10.0
IDLE_SECONDS = 1.0

_CONTROLLER_STYLE = {"scheduler": "magenta", "deployment": "cyan", "replicaset": "green"}


class ActivityScreen(Screen[None]):
    """The reconcile log as a live table; the highlighted record in full below.

    | Key | Action |
    | :- | :- |
    | escape / q | back |
    | f | show every object's records / only the object's again |
    | space | pause / follow |
    """

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("f", "toggle_filter", "All / object", tooltip="every object's records, or only the object's"),
        Binding("space", "toggle_pause", "Pause", tooltip="stop following new records (and go on)"),
    ]

    def __init__(self, object: str | None = None) -> None:
        super().__init__()
        #: ``Deployment/default/web``: the filter this screen was opened with (None: everything)
        self.object = object
        self.filtered = object is not None
        self.paused = False
        self.records: dict[int, ReconcileRecord] = {}
        self.last_seq = 0
        self.note = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="activity-filter")
        yield DataTable(id="activity-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="activity-detail-scroll"):
            yield Static("", id="activity-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "activity: the reconcile log"
        table = self.query_one("#activity-table", DataTable)
        table.styles.height = "2fr"
        self.query_one("#activity-detail-scroll").styles.height = "1fr"
        for label, key in (("#", "seq"), ("time", "time"), ("controller", "controller"), ("object", "object"),
                           ("writes", "writes"), ("ms", "ms"), ("decided", "decided")):
            table.add_column(label, key=key)
        self._show_filter()
        self.follow()

    def _show_filter(self) -> None:
        what = f"{self.object} and what it owns" if self.filtered else "every object"
        state = "paused" if self.paused else "following"
        # silent syncs (nothing observed, decided or written: the garbage collector's looks) are left out
        text = Text(f"records of {what} · {state} · {len(self.records)} shown (silent syncs hidden)")
        if self.note:
            text.append(f" · {self.note}", style="yellow")
        self.query_one("#activity-filter", Static).update(text)

    @work(exclusive=True, group="activity")
    async def follow(self) -> None:
        """Fetch the latest records, then long-poll for new ones until the screen goes."""
        backend = self.app.backend  # type: ignore[attr-defined]
        fetch = getattr(backend, "reconciles", None)
        if fetch is None:
            self.note = "this backend has no reconcile log"
            self._show_filter()
            return
        first = True
        while True:
            if self.paused:
                await asyncio.sleep(0.2)
                continue
            obj = self.object if self.filtered else None
            try:
                if first:
                    doc = await fetch(object=obj, tail=INITIAL_TAIL, silent=False)
                else:
                    doc = await fetch(since=self.last_seq, object=obj, wait=WAIT_SECONDS, silent=False)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a restarting control plane: say so, try again
                self.note = f"reading the log failed: {exc}"
                self._show_filter()
                await asyncio.sleep(IDLE_SECONDS)
                continue
            if doc.get("unavailable"):
                self.note = doc["unavailable"]
                self._show_filter()
                return
            first = False
            items = doc.get("items") or []
            oldest = int(doc.get("oldestSeq") or 0)
            if self.last_seq and oldest > self.last_seq + 1:
                self.note = f"records #{self.last_seq + 1}–#{oldest - 1} left the ring before they were shown"
            self.add_records([ReconcileRecord.from_dict(i) for i in items])
            self.last_seq = max(self.last_seq, int(doc.get("lastSeq") or 0))
            if not items:
                await asyncio.sleep(IDLE_SECONDS)

    def add_records(self, records: list[ReconcileRecord]) -> None:
        table = self.query_one("#activity-table", DataTable)
        follow_cursor = table.row_count == 0 or table.cursor_row >= table.row_count - 1
        for rec in records:
            if rec.seq in self.records:
                continue
            self.records[rec.seq] = rec
            at = _dt.datetime.fromtimestamp(rec.start, _dt.timezone.utc).strftime("%H:%M:%S.%f")[:-3]
            decided = "; ".join(rec.decided_text())
            if rec.result != "ok" and rec.result.startswith("error"):
                decided = f"✗ {rec.result}"
            table.add_row(str(rec.seq), at, Text(rec.controller, style=_CONTROLLER_STYLE.get(rec.controller, "")),
                          rec.object, str(len(rec.writes)), f"{rec.duration * 1000:.1f}", decided[:100],
                          key=str(rec.seq))
        while table.row_count > MAX_ROWS:
            oldest = min(self.records)
            table.remove_row(str(oldest))
            del self.records[oldest]
        if records:
            self._show_filter()
            if follow_cursor and table.row_count:
                table.move_cursor(row=table.row_count - 1)
                self._show_detail(table.row_count - 1)

    @on(DataTable.RowHighlighted, "#activity-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(event.cursor_row)

    def _show_detail(self, row: int) -> None:
        table = self.query_one("#activity-table", DataTable)
        if not 0 <= row < table.row_count:
            return
        seq = int(table.get_row_at(row)[0])
        rec = self.records.get(seq)
        if rec is None:
            return
        text = Text()
        for i, line in enumerate(lines(rec)):
            text.append(line + "\n", style="bold" if i == 0 else "")
        if rec.owner:
            text.append(f"    owner:    {rec.owner}\n", style="dim")
        self.query_one("#activity-detail", Static).update(text)

    def action_toggle_filter(self) -> None:
        if self.object is None:
            self.app.notify("Opened without an object: every record is shown (select one and press a)")
            return
        self.filtered = not self.filtered
        self.records.clear()
        self.last_seq = 0
        self.query_one("#activity-table", DataTable).clear()
        self._show_filter()
        self.follow()

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        self._show_filter()
