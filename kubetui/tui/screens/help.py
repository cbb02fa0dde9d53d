"""The help screen: every key binding of the screen below and of the app, by its action name."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Static


def binding_rows(screen: Screen, app_bindings: list[Binding]) -> list[tuple[str, str, str]]:
    """(key, action, description): the app's keys (views, kubectl, help) first, then the screen's.

    The screen's own bindings and those it inherits (every main view's lesson
    keys) follow; an action the screen delegates to the app (``app.help``) is
    listed once, under its own name.
    """
    rows, seen, keys = [], set(), set()
    inherited = [b for cls in type(screen).__mro__ for b in cls.__dict__.get("BINDINGS", [])]
    for b in [*app_bindings, *inherited]:
        if not isinstance(b, Binding):
            continue
        action = b.action.removeprefix("app.")
        if action in seen or b.key in keys:
            continue
        seen.add(action)
        keys.add(b.key)
        rows.append((b.key_display or b.key, action, b.description))
    return rows


class HelpScreen(ModalScreen[None]):
    """A table of keys and actions.

    | Key | Action |
    | :- | :- |
    | escape / q / ? | close |
    """

    BINDINGS = [Binding("escape,q,question_mark", "app.pop_screen", "Close")]

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        yield Static("[b]Keys[/b]  (mouse works too: click rows, tabs and pod chips)", id="help-title")
        table: DataTable[str] = DataTable(id="help-table", cursor_type="row")
        table.add_columns("key", "action", "what it does")
        for row in self.rows:
            table.add_row(*row)
        yield table
