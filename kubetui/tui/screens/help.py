"""The help screen: every key of the screen below and of the app, with what it does in plain words.

Each binding's ``tooltip`` is its plain description (the footer's short
label otherwise); the action behind it (``switch_mode('map')``) is an
implementation detail and never shown.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Static


def binding_rows(screen: Screen, app_bindings: list[Binding]) -> list[tuple[str, str, str]]:
    """(key, action, what it does): the app's keys (views, kubectl, help) first, then the screen's.

    The screen's own bindings and those it inherits (every main view's lesson
    keys) follow; an action the screen delegates to the app (``app.help``) is
    listed once, under its own name.
    """
    rows: dict[str, tuple[str, str, str]] = {}
    keys: set[str] = set()
    inherited = [b for cls in type(screen).__mro__ for b in cls.__dict__.get("BINDINGS", [])]
    for b in [*app_bindings, *inherited]:
        if not isinstance(b, Binding) or b.key in keys:
            continue
        keys.add(b.key)
        action = b.action.removeprefix("app.")
        if action in rows:  # a second key for the same action (ctrl+l and its browser twin L)
            key, _, what = rows[action]
            rows[action] = (f"{key} / {key_names(b.key)}", action, what)
            continue
        rows[action] = (key_names(b.key), action, b.tooltip or b.description)
    return list(rows.values())


_KEY_NAMES = {"question_mark": "?", "colon": ":", "slash": "/", "plus": "+", "minus": "-",
              "left_square_bracket": "[", "right_square_bracket": "]", "full_stop": ".",
              "less_than_sign": "<", "greater_than_sign": ">"}


def key_names(keys: str) -> str:
    """``escape,q`` -> ``escape / q``; ``question_mark`` -> ``?``."""
    return " / ".join(dict.fromkeys(_KEY_NAMES.get(k, k) for k in keys.split(",")))


class HelpScreen(ModalScreen[None]):
    """A table of keys and what they do.

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
        table.add_columns("key", "what it does")
        for key, _action, what in self.rows:
            table.add_row(key, what)
        yield table
