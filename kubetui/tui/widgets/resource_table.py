"""A ``kubectl get`` table that follows the cache: same columns, filter as you type, sort.

Rows are keyed by ``namespace/name``. When only existing objects change the
cells are updated in place (cheap, keeps the cursor); additions, deletions,
a new filter or sort rebuild the rows, keeping the cursor on the same object.
Time moves on even when nothing changes: ``tick`` recomputes the rows on
screen (AGE, LAST SEEN, "restarted 12s ago"), never the whole table.
"""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable

from kubetui.tui.printers import headers_for, row_for

Obj = dict[str, Any]


def _age_key(obj: Obj) -> str:
    return obj.get("metadata", {}).get("creationTimestamp") or ""


class ResourceTable(DataTable[str]):
    """Rows of one resource, in kubectl's columns."""

    DEFAULT_CSS = """
    ResourceTable { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.resource = "pods"
        self.with_namespace = True
        self.filter_text = ""
        self.sort_column = "NAME"
        self.sort_reverse = False
        self.shown_keys: list[str] = []

    def configure(self, resource: str, *, with_namespace: bool) -> None:
        self.resource = resource
        self.with_namespace = with_namespace
        self.clear(columns=True)
        self.add_columns(*headers_for(resource, with_namespace=with_namespace))
        if self.sort_column not in headers_for(resource, with_namespace=with_namespace):
            self.sort_column = "NAME" if "NAME" in headers_for(resource) else headers_for(resource)[0]

    def _matches(self, cells: list[str]) -> bool:
        if not self.filter_text:
            return True
        needle = self.filter_text.lower()
        return any(needle in c.lower() for c in cells)

    def rebuild(self, objects: dict[str, Obj], now: float) -> None:
        current = self.selected_key
        headers = headers_for(self.resource, with_namespace=self.with_namespace)
        rows = []
        for key, obj in objects.items():
            cells = row_for(self.resource, obj, now, with_namespace=self.with_namespace)
            if self._matches(cells):
                rows.append((key, obj, cells))
        col = headers.index(self.sort_column) if self.sort_column in headers else 0
        if self.sort_column == "AGE":
            rows.sort(key=lambda r: _age_key(r[1]), reverse=not self.sort_reverse)
        else:
            rows.sort(key=lambda r: (_natural(r[2][col]), r[0]), reverse=self.sort_reverse)
        self.clear()
        for key, _, cells in rows:
            self.add_row(*cells, key=key)
        self.shown_keys = [r[0] for r in rows]
        if current in self.shown_keys:
            self.move_cursor(row=self.shown_keys.index(current), animate=False)

    def update_in_place(self, objects: dict[str, Obj], keys: set[str], now: float) -> bool:
        """Update changed rows' cells; False if the rows themselves must change (rebuild)."""
        columns = list(self.columns)
        for key in keys:
            obj = objects.get(key)
            if obj is None or key not in self.shown_keys:
                return False
            cells = row_for(self.resource, obj, now, with_namespace=self.with_namespace)
            if not self._matches(cells):
                return False
            for col, value in zip(columns, cells):
                self.update_cell(key, col, value)
        return True

    def visible_keys(self) -> list[str]:
        """Keys of the rows on screen now (the only ones whose age is worth recomputing)."""
        first = int(self.scroll_y)
        return self.shown_keys[first:first + max(0, self.scrollable_content_region.height)]

    def tick(self, objects: dict[str, Obj], now: float) -> int:
        """Recompute the visible rows' cells for ``now``; update those that changed. Returns that count."""
        columns = list(self.columns)
        changed = 0
        for key in self.visible_keys():
            obj = objects.get(key)
            if obj is None:
                continue
            row = self.get_row(key)
            cells = row_for(self.resource, obj, now, with_namespace=self.with_namespace)
            for col, old, value in zip(columns, row, cells):
                if old != value:
                    self.update_cell(key, col, value)
                    changed += 1
        return changed

    @property
    def selected_key(self) -> str | None:
        if not self.shown_keys or self.cursor_row < 0 or self.cursor_row >= len(self.shown_keys):
            return None
        return self.shown_keys[self.cursor_row]


def _natural(value: str) -> tuple[int, float | str]:
    """Numbers sort as numbers (RESTARTS), everything else as text."""
    try:
        return (0, float(value))
    except ValueError:
        return (1, value.lower())
