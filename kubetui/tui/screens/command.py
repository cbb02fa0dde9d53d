"""The command bar: type a real kubectl command and read its output in a pane.

``kubectl get pods -o wide`` (the ``kubectl`` is optional) runs the real
kubectl against this cluster's kubeconfig. Like k9s, a bare resource name
(``pods``, ``deploy``, ``svc``) opens it in the browser, and ``ns NAME``
switches namespace (``ns -`` for all).
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, RichLog, Static

from kubetui.api.resources import resource_for
from kubetui.tui.kubectl import parse_command, run_kubectl


class CommandFinished(Message):
    """A kubectl command run from the command bar finished (a sync point for tests)."""


class CommandScreen(ModalScreen[None]):
    """Output pane above, input line below.

    | Key | Action |
    | :- | :- |
    | enter | run |
    | up / down | history |
    | escape | close |
    """

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Close"),
        Binding("up", "history(-1)", "Previous", show=False),
        Binding("down", "history(1)", "Next", show=False),
    ]

    def __init__(self, initial: str = "") -> None:
        super().__init__()
        self.initial = initial
        self.history_index = 0
        self.running = False

    def compose(self) -> ComposeResult:
        with Vertical(id="command-pane"):
            yield Static("kubectl against this cluster · a resource name opens it · esc closes", id="command-help")
            yield RichLog(id="command-output", markup=False, highlight=False, wrap=False, max_lines=4000)
            yield Input(value=self.initial, placeholder="kubectl get pods -A", id="command-input")

    def on_mount(self) -> None:
        out = self.query_one("#command-output", RichLog)
        for line in self.app.command_output:  # type: ignore[attr-defined]
            out.write(line)
        self.history_index = len(self.app.command_history)  # type: ignore[attr-defined]
        self.query_one("#command-input", Input).focus()

    def _write(self, text: str) -> None:
        out = self.query_one("#command-output", RichLog)
        for line in text.rstrip("\n").split("\n"):
            self.app.command_output.append(line)  # type: ignore[attr-defined]
            out.write(line)

    @on(Input.Submitted, "#command-input")
    def _submitted(self, event: Input.Submitted) -> None:
        line = event.value.strip()
        event.input.value = ""
        if not line:
            return
        self.app.command_history.append(line)  # type: ignore[attr-defined]
        self.history_index = len(self.app.command_history)  # type: ignore[attr-defined]
        try:
            words = parse_command(line)
        except ValueError as exc:
            self._write(f"error: {exc}")
            return
        if self._navigate(words):
            return
        self.run_command(words)

    def _navigate(self, words: list[str]) -> bool:
        """k9s-style shortcuts that change what the TUI shows rather than run kubectl."""
        if len(words) == 1 and not line_is_verb(words[0]):
            try:
                res = resource_for(words[0])
            except KeyError:
                return False
            self.app.pop_screen()
            self.app.show_resource(res.plural)  # type: ignore[attr-defined]
            return True
        if len(words) == 2 and words[0] in ("ns", "namespace"):
            self.app.namespace = None if words[1] in ("-", "all") else words[1]  # type: ignore[attr-defined]
            self._write(f"namespace: {words[1]}")
            return True
        return False

    @work(exclusive=True, group="kubectl")
    async def run_command(self, words: list[str]) -> None:
        self.running = True
        self._write("$ kubectl " + " ".join(words))
        try:
            result = await run_kubectl(words, self.app.backend.kubeconfig_path,  # type: ignore[attr-defined]
                                       kubectl=getattr(self.app.backend, "kubectl", None))
            self._write(result.output or "")
            if result.returncode:
                self._write(f"(exit status {result.returncode})")
        finally:
            self.running = False
            self.app.post_message(CommandFinished())  # type: ignore[arg-type]

    def action_history(self, step: int) -> None:
        hist = self.app.command_history  # type: ignore[attr-defined]
        if not hist:
            return
        self.history_index = max(0, min(len(hist), self.history_index + step))
        inp = self.query_one("#command-input", Input)
        inp.value = hist[self.history_index] if self.history_index < len(hist) else ""
        inp.cursor_position = len(inp.value)


_VERBS = {"get", "describe", "logs", "apply", "create", "delete", "edit", "exec", "explain", "rollout", "scale",
          "label", "annotate", "top", "version", "api-resources", "api-versions", "config", "cluster-info",
          "run", "expose", "set", "patch", "replace", "wait", "events", "auth", "cordon", "uncordon", "drain",
          "taint", "diff", "port-forward", "cp", "attach", "debug", "help"}


def line_is_verb(word: str) -> bool:
    return word in _VERBS or word.startswith("-")
