"""A shell in a pod (``kubectl exec -it POD -- sh``), inside the TUI.

The API server forwards ``pods/exec`` to the kubelet of the pod's node, which
runs ``sh`` in the container on a pseudo-terminal. This screen is the other
end of that terminal: it speaks the exec WebSocket through the backend's
client (``ClusterBackend.pod_exec``), feeds what the pod writes into a
``TerminalView``, sends what you type, and tells the pod when the window
changes size (the resize channel). ``exit`` or Ctrl-D end the shell and bring
you back; Ctrl-] leaves at once (the shell is killed, as when kubectl dies).
"""

from __future__ import annotations

from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from kubetui.api.errors import StatusError
from kubetui.tui.widgets.terminal import TerminalView

Obj = dict[str, Any]

#: bash if the container has it (line editing, history), else sh: what k9s runs for a shell
SHELL = ["sh", "-c", "command -v bash >/dev/null 2>&1 && exec bash || exec sh"]


def can_exec(backend: Any) -> bool:
    """Can this backend open an exec stream? (its client speaks HTTP, or it has a kubeconfig)"""
    return getattr(backend.client, "exec", None) is not None or backend.kubeconfig_path is not None


class ShellScreen(Screen[int | None]):
    """An interactive shell in a pod's container; dismissed with the shell's exit code.

    | Key | Action |
    | :- | :- |
    | ctrl+] | leave (ends the shell) |
    | every other key | typed into the shell |
    """

    BINDINGS = [Binding("ctrl+right_square_bracket", "leave", "Leave", priority=True)]

    DEFAULT_CSS = """
    ShellScreen #shell-title {
        height: 1;
        background: $panel;
        color: $text;
        padding: 0 1;
    }
    """

    def __init__(self, pod: Obj, command: list[str] | None = None, container: str | None = None) -> None:
        super().__init__()
        self.pod = pod
        self.command = command or SHELL
        containers = [c["name"] for c in pod.get("spec", {}).get("containers") or []]
        self.container = container or (containers[0] if containers else None)
        self.stream: Any = None
        self._started = False
        self._typed_ahead: list[bytes] = []

    def compose(self) -> ComposeResult:
        md = self.pod["metadata"]
        yield Static(f"kubectl exec -it {md['name']} -n {md['namespace']}"
                     + (f" -c {self.container}" if self.container else "")
                     + f" -- {'bash (or sh)' if self.command == SHELL else ' '.join(self.command)}"
                     + "    exit or Ctrl-D ends it · Ctrl-] leaves",
                     id="shell-title", markup=False)
        yield TerminalView(id="terminal")

    def on_mount(self) -> None:
        self.query_one(TerminalView).focus()

    @work(exclusive=True, group="shell")
    async def run_session(self) -> None:
        md = self.pod["metadata"]
        term = self.query_one(TerminalView)
        try:
            stream = await self.app.backend.pod_exec(  # type: ignore[attr-defined]
                md["namespace"], md["name"], self.command, container=self.container, tty=True)
        except StatusError as exc:
            self.app.notify(f"cannot open a shell in {md['name']}: {exc.message}", severity="error")
            self.dismiss(None)
            return
        code: int | None = None
        try:
            await stream.resize(*term.size_in_cells)
            while self._typed_ahead:                   # keys pressed while the exec was opening
                data = b"".join(self._typed_ahead)
                self._typed_ahead.clear()
                await stream.write(data)
            self.stream = stream
            async for _, data in self.stream.output():
                term.feed(data)
            try:
                code = self.stream.exit_code()
            except StatusError as exc:
                self.app.notify(f"shell in {md['name']} failed: {exc.message}", severity="error")
        finally:
            await stream.close()
        if code:
            self.app.notify(f"command terminated with exit code {code}", severity="warning")
        if self.is_attached and self.app.screen is self:
            self.dismiss(code)

    async def on_terminal_view_input(self, message: TerminalView.Input) -> None:
        if self.stream is None:
            self._typed_ahead.append(message.data)     # sent as soon as the exec is open
        else:
            await self.stream.write(message.data)

    async def on_terminal_view_resized(self, message: TerminalView.Resized) -> None:
        if not self._started:
            self._started = True       # the terminal knows its size: start the shell with it
            self.run_session()
        elif self.stream is not None:
            await self.stream.resize(message.width, message.height)

    async def action_leave(self) -> None:
        if self.stream is not None:
            await self.stream.close()      # the API server closes the exec; the kubelet kills the shell
        self.dismiss(None)
