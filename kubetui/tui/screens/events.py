"""The events stream: what the cluster is telling you, as it happens (``kubectl get events -w``).

Controllers, the scheduler and kubelets record Events (Scheduled, Pulled,
BackOff, FailedScheduling, ScalingReplicaSet...). They are the first place to
look when something does not happen. Newest at the bottom; type to filter.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Input, Static

from kubetui.tui.bridge import ObjectsChanged
from kubetui.tui.printers import event_last_seen, parse_time
from kubetui.tui.screens.base import MainScreen

Obj = dict[str, Any]


def event_time(ev: Obj) -> float:
    for field in ("lastTimestamp", "eventTime", "firstTimestamp"):
        t = parse_time(ev.get(field))
        if t is not None:
            return t
    return parse_time(ev.get("metadata", {}).get("creationTimestamp")) or 0.0


class EventsScreen(MainScreen):
    """A scrolling feed of Events.

    | Key | Action |
    | :- | :- |
    | / | filter |
    | W | warnings only (again: all) |
    """

    BINDINGS = [
        Binding("slash", "filter", "Filter", key_display="/", tooltip="filter the events as you type"),
        Binding("W", "warnings", "Warnings only", tooltip="only warnings (again: all events)"),
        Binding("escape", "clear_filter", "Clear filter", show=False, tooltip="clear the filter"),
    ]

    #: how often LAST SEEN is recomputed for the rows on screen
    AGE_TICK_SECONDS = 1.0

    def __init__(self) -> None:
        super().__init__(id="events-screen")
        self.warnings_only = False
        self.shown: list[str] = []

    def compose_content(self) -> ComposeResult:
        with Vertical(id="events"):
            yield Input(placeholder="filter events (reason, object, message)", id="events-filter")
            table: DataTable[str] = DataTable(id="events-table", cursor_type="row", zebra_stripes=True)
            table.add_columns("LAST SEEN", "TYPE", "REASON", "OBJECT", "FROM", "MESSAGE")
            yield table
            yield Static("", id="events-status")

    def on_mount(self) -> None:
        self.title = f"kubetui · {self.app.backend.cluster_name}"
        self.sub_title = "events"
        self.app.bridge.subscribe(self, "events")
        self.refresh_rows()
        self.query_one("#events-table", DataTable).focus()
        self.set_interval(self.AGE_TICK_SECONDS, self.tick_ages)

    def tick_ages(self) -> None:
        """LAST SEEN moves on with the clock: recompute it for the rows on screen only."""
        if self.app.screen is not self:
            return
        table = self.query_one("#events-table", DataTable)
        first = int(table.scroll_y)
        now = self.app.clock.time()
        column = next(iter(table.columns))
        events = self.app.bridge.objects("events")
        for key in self.shown[first:first + table.scrollable_content_region.height]:
            ev = events.get(key)
            if ev is not None and (seen := event_last_seen(ev, now)) != table.get_cell(key, column):
                table.update_cell(key, column, seen)

    def on_unmount(self) -> None:
        self.app.bridge.unsubscribe(self)

    @on(ObjectsChanged)
    def _changed(self, message: ObjectsChanged) -> None:
        changes = message.bridge.take_changes(self).get("events", {})
        self.refresh_rows()
        self.app.after_shown("events", set(changes))

    @on(Input.Changed, "#events-filter")
    def _filter(self) -> None:
        self.refresh_rows()

    def _rows(self) -> list[tuple[str, list[str]]]:
        now = self.app.clock.time()
        needle = self.query_one("#events-filter", Input).value.lower()
        ns = self.app.namespace
        rows = []
        for key, ev in sorted(self.app.bridge.objects("events").items(), key=lambda kv: (event_time(kv[1]), kv[0])):
            if ns is not None and ev.get("metadata", {}).get("namespace") != ns:
                continue
            if self.warnings_only and ev.get("type") != "Warning":
                continue
            io = ev.get("involvedObject") or {}
            cells = [event_last_seen(ev, now), ev.get("type", ""), ev.get("reason", ""),
                     f"{(io.get('kind') or '').lower()}/{io.get('name', '')}",
                     (ev.get("source") or {}).get("component") or ev.get("reportingComponent") or "",
                     ev.get("message", "")]
            if needle and not any(needle in c.lower() for c in cells):
                continue
            rows.append((key, cells))
        return rows

    def refresh_rows(self) -> None:
        table = self.query_one("#events-table", DataTable)
        rows = self._rows()
        at_end = table.cursor_row >= table.row_count - 1
        table.clear()
        for key, cells in rows:
            table.add_row(*cells, key=key)
        self.shown = [k for k, _ in rows]
        if at_end and rows:
            table.move_cursor(row=len(rows) - 1, animate=False)  # follow the stream
        total = len(self.app.bridge.objects("events"))
        self.query_one("#events-status", Static).update(
            f"{len(rows)}/{total} events" + (" · warnings only" if self.warnings_only else ""))

    def action_filter(self) -> None:
        self.query_one("#events-filter", Input).focus()

    def action_clear_filter(self) -> None:
        self.query_one("#events-filter", Input).value = ""
        self.query_one("#events-table", DataTable).focus()

    def action_warnings(self) -> None:
        self.warnings_only = not self.warnings_only
        self.refresh_rows()

    def namespace_changed(self) -> None:
        self.refresh_rows()
