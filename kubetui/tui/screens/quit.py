"""Quitting: asked once per cluster, what should happen to it when its last UI closes.

The control plane runs in its own process and outlives any window (as a
real cluster outlives kubectl); the learner chooses, once, whether closing
the last TUI or web session also stops it. The answer is kept in the
cluster's state dir (``ui.json``) and never asked again; on every quit the
terminal then says what keeps running and how to stop it.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

from kubetui.statedir import KEEP, STOP


class LastUIQuitScreen(ModalScreen[str | None]):
    """Dismisses with ``keep``, ``stop``, or None (escape: do not quit).

    | Key | Action |
    | :- | :- |
    | k | keep the cluster running when the last UI closes |
    | s | stop the cluster (control plane and nodes) when the last UI closes |
    | escape | stay in kubetui |
    """

    BINDINGS = [
        Binding("k", "answer('keep')", "Keep running"),
        Binding("s", "answer('stop')", "Stop it"),
        Binding("escape", "answer(None)", "Stay"),
    ]

    DEFAULT_CSS = """
    LastUIQuitScreen { align: center middle; }
    LastUIQuitScreen > Vertical { width: 72; height: auto; border: round $primary; padding: 1 2; background: $surface; }
    /* A Label sizes itself to its longest source line; the question is longer than the dialog,
       so it must take the dialog's width to wrap (otherwise it is clipped after one row). */
    LastUIQuitScreen #last-ui-question { width: 100%; }
    LastUIQuitScreen Horizontal { height: auto; margin-top: 1; }
    LastUIQuitScreen Button { margin-right: 2; }
    """

    def __init__(self, cluster: str) -> None:
        super().__init__()
        self.cluster = cluster

    def compose(self) -> ComposeResult:
        with Vertical(id="last-ui"):
            yield Label(f"Cluster {self.cluster!r} runs in its own process, apart from this window. "
                        "When the last kubetui window closes, should the cluster keep running or stop "
                        "(control plane and nodes; its state is kept)?\n"
                        "Asked once; the answer is kept in the cluster's ui.json.", id="last-ui-question")
            with Horizontal():
                yield Button("Keep running (k)", variant="primary", id=KEEP)
                yield Button("Stop it (s)", variant="warning", id=STOP)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id)

    def action_answer(self, choice: str | None) -> None:
        self.dismiss(choice)
