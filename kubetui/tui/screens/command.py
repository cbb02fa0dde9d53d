"""The command bar: type a real kubectl command and read its output in a pane.

``kubectl get pods -o wide`` (the ``kubectl`` is optional) runs the real
kubectl against this cluster's kubeconfig; ``kubetui explain pod hello`` runs
kubetui's own command against the same cluster (only with the explicit
``kubetui`` prefix). Like k9s, a bare resource name (``pods``, ``deploy``,
``svc``) opens it in the browser, and ``ns NAME`` switches namespace (``ns -``
for all). Output wraps to the pane and scrolls (page up / down, the mouse);
the pane grows with its output only up to part of the screen, so the map
stays in sight above it.
"""

from __future__ import annotations

from pathlib import Path

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, RichLog, Static

from kubetui.api.resources import resource_for
from kubetui.tui.kubectl import (echo_line, hosted_refusal, kubetui_refusal, parse_command_line, run_kubectl,
                                 run_kubetui)


class CommandFinished(Message):
    """A kubectl command run from the command bar finished (a sync point for tests)."""


class CommandOutput(RichLog):
    """The output pane: wrapped to its width, and wrapped again when that width changes."""

    def __init__(self, lines: list[str], *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False, highlight=False, wrap=True, min_width=20, max_lines=4000)
        self.source = lines
        self._wrapped_at = 0

    def add(self, line: str) -> None:
        # An explicit width: left to itself, RichLog measures text against the app console's
        # width (80 columns in a headless run), not its own.
        width = self.scrollable_content_region.width
        self.write(line, width=width if self._size_known and width else None)

    def on_resize(self, event: events.Resize) -> None:
        width = self.scrollable_content_region.width
        if width and width != self._wrapped_at:
            self._wrapped_at = width
            self.clear()
            self._size_known = True
            for line in self.source[-(self.max_lines or 4000):]:
                self.add(line)


class CommandScreen(ModalScreen[None]):
    """Output pane above, input line below.

    | Key | Action |
    | :- | :- |
    | enter | run |
    | up / down | history |
    | page up / page down | scroll the output |
    | escape | close |
    """

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Close", tooltip="close the command bar"),
        Binding("up", "history(-1)", "Previous", show=False, tooltip="the previous command"),
        Binding("down", "history(1)", "Next", show=False, tooltip="the next command"),
        Binding("pageup", "scroll_output(-1)", "Scroll up", show=False, tooltip="scroll the output up"),
        Binding("pagedown", "scroll_output(1)", "Scroll down", show=False, tooltip="scroll the output down"),
    ]

    def __init__(self, initial: str = "") -> None:
        super().__init__()
        self.initial = initial
        self.history_index = 0
        self.running = False

    def compose(self) -> ComposeResult:
        with Vertical(id="command-pane"):
            yield Static("kubectl against this cluster · kubetui explain pod NAME · a resource name opens it · "
                         "pgup/pgdn scroll · esc closes", id="command-help")
            yield CommandOutput(self.app.command_output, id="command-output")  # type: ignore[attr-defined]
            yield Input(value=self.initial, placeholder="kubectl get pods -A", id="command-input")

    def on_mount(self) -> None:
        self.history_index = len(self.app.command_history)  # type: ignore[attr-defined]
        self.query_one("#command-input", Input).focus()
        self.call_after_refresh(self._fit_output)

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit_output)

    def _fit_output(self) -> None:
        """As tall as the output, at most half the screen (the rest scrolls): the map stays in sight."""
        out = self.query_one("#command-output", RichLog)
        height = max(3, min(len(out.lines), self.size.height // 2))
        if out.styles.height is None or out.styles.height.value != height:
            out.styles.height = height
        out.scroll_end(animate=False, immediate=False)

    def _write(self, text: str) -> None:
        out = self.query_one("#command-output", CommandOutput)
        for line in text.rstrip("\n").split("\n"):
            self.app.command_output.append(line)  # type: ignore[attr-defined]
            out.add(line)
        self._fit_output()

    @on(Input.Submitted, "#command-input")
    def _submitted(self, event: Input.Submitted) -> None:
        line = event.value.strip()
        event.input.value = ""
        if not line:
            return
        self.app.command_history.append(line)  # type: ignore[attr-defined]
        self.history_index = len(self.app.command_history)  # type: ignore[attr-defined]
        try:
            program, words = parse_command_line(line)
        except ValueError as exc:
            self._write(f"error: {exc}")
            return
        if program == "kubetui":
            refusal = kubetui_refusal(words)
            if refusal:
                self._write(f"$ {echo_line(line)}\n{refusal}")
                return
        elif (refusal := hosted_refusal(words)) is not None:
            self._write(f"$ {echo_line(line)}\n{refusal}")
            return
        elif self._navigate(words):
            return
        self.run_command(words, program, echo=echo_line(line))

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
    async def run_command(self, words: list[str], program: str = "kubectl", echo: str | None = None) -> None:
        self.running = True
        # Echo the line as typed (with its quotes), not the parsed words re-joined.
        self._write(f"$ {echo or (program + ' ' + ' '.join(words))}")
        backend = self.app.backend  # type: ignore[attr-defined]
        try:
            if program == "kubetui":
                width = self.query_one("#command-output", RichLog).scrollable_content_region.width
                result = await run_kubetui(words, cluster_state_dir(backend), columns=width or None)
            else:
                result = await run_kubectl(words, backend.kubeconfig_path, kubectl=getattr(backend, "kubectl", None))
            self._write(result.output or "")
            if result.returncode:
                self._write(f"(exit status {result.returncode})")
        finally:
            self.running = False
            self.app.post_message(CommandFinished())  # type: ignore[arg-type]

    def action_scroll_output(self, pages: int) -> None:
        out = self.query_one("#command-output", RichLog)
        out.scroll_to(y=out.scroll_y + pages * max(1, out.scrollable_content_region.height - 1), animate=False)

    def action_history(self, step: int) -> None:
        hist = self.app.command_history  # type: ignore[attr-defined]
        if not hist:
            return
        self.history_index = max(0, min(len(hist), self.history_index + step))
        inp = self.query_one("#command-input", Input)
        inp.value = hist[self.history_index] if self.history_index < len(hist) else ""
        inp.cursor_position = len(inp.value)


def cluster_state_dir(backend: object) -> Path | None:
    """The state directory of the cluster the TUI shows (where kubetui's commands find it)."""
    state_dir = getattr(backend, "state_dir", None)
    kubeconfig = getattr(backend, "kubeconfig_path", None)
    if state_dir is None and kubeconfig is not None:
        state_dir = Path(kubeconfig).parent
    return Path(state_dir) if state_dir is not None else None


_VERBS = {"get", "describe", "logs", "apply", "create", "delete", "edit", "exec", "explain", "rollout", "scale",
          "label", "annotate", "top", "version", "api-resources", "api-versions", "config", "cluster-info",
          "run", "expose", "set", "patch", "replace", "wait", "events", "auth", "cordon", "uncordon", "drain",
          "taint", "diff", "port-forward", "cp", "attach", "debug", "help"}


def line_is_verb(word: str) -> bool:
    return word in _VERBS or word.startswith("-")
