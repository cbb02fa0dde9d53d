"""The help screen: every key binding of the screen below and of the app, by its action name."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Static


def binding_rows(screen: Screen, app_bindings: list[Binding]) -> list[tuple[str, str, str]]:
    """(key, action, description) for the screen's and the app's bindings, screen first."""
    rows, seen, keys = [], set(), set()
    # The screen's own bindings, then those it inherits (every main view's lesson keys), then the app's;
    # a key taken by the screen hides the inherited binding for it, as in the footer.
    inherited = [b for cls in type(screen).__mro__ for b in cls.__dict__.get("BINDINGS", [])]
    for b in [*inherited, *app_bindings]:
        if not isinstance(b, Binding) or b.action in seen or b.key in keys:
            continue
        seen.add(b.action)
        keys.add(b.key)
        rows.append((b.key_display or b.key, b.action, b.description))
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
