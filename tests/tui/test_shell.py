"""The TUI's shell (key ``s`` on a pod): a terminal widget over the exec WebSocket.

- Pilot: the ``TerminalView`` turns a program's bytes into a screen (text,
  colours, cursor moves, answers to queries) and key presses into the bytes a
  terminal sends; ``ShellScreen`` wires it to an exec stream.
- tmux: the real TUI against a real API server and a process-runtime kubelet:
  ``s`` on the running pod, ``echo $((6*7))`` shows 42, Ctrl-D returns to the map.
"""

from __future__ import annotations

import asyncio
import shutil
import sys

import pytest
from textual.app import App, ComposeResult

from kubetui.tui.widgets.terminal import TerminalView, key_bytes


class TermApp(App):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[bytes] = []
        self.sizes: list[tuple[int, int]] = []

    def compose(self) -> ComposeResult:
        yield TerminalView()

    def on_mount(self) -> None:
        self.query_one(TerminalView).focus()

    def on_terminal_view_input(self, msg: TerminalView.Input) -> None:
        self.sent.append(msg.data)

    def on_terminal_view_resized(self, msg: TerminalView.Resized) -> None:
        self.sizes.append((msg.width, msg.height))


async def test_terminal_draws_what_the_program_writes():
    app = TermApp()
    async with app.run_test(size=(40, 8)) as pilot:
        term = app.query_one(TerminalView)
        await pilot.pause()
        assert term.size_in_cells == (40, 8) and app.sizes[-1] == (40, 8)
        term.feed(b"\x1b[31mred\x1b[0m plain\r\nsecond\r\n")
        term.feed(b"\x1b[2;1HSEC\x1b[3;1H")                 # cursor to row 2, column 1: overwrite
        term.feed("wide \u4e2d!\r\n".encode())                # a wide character takes two cells
        term.feed(b"\x1b[38;5;208morange\x1b[0m \x1b[1;44mbold on blue\x1b[0m")
        term.feed(b" half-")
        term.feed(b"\xe2\x82")                                # a UTF-8 character split across reads
        term.feed(b"\xac")
        await pilot.pause()
        lines = [line.rstrip() for line in term.display_lines()]
        assert lines[:4] == ["red plain", "SECond", "wide \u4e2d!", "orange bold on blue half-\u20ac"]
        first = term.render_line(0)
        red = [seg for seg in first if seg.text == "red"]
        assert red and red[0].style.color.name == "red"
        third = list(term.render_line(3))
        orange = [seg for seg in third if seg.text == "orange"][0]
        assert orange.style.color.triplet.hex == "#ff8700"
        blue = [seg for seg in third if seg.text == "bold on blue"][0]
        assert blue.style.bold and blue.style.bgcolor.name == "blue"
        term.feed(b"\x1b[2J\x1b[Hcleared")                    # erase the screen, cursor home
        await pilot.pause()
        assert [line.rstrip() for line in term.display_lines()][:2] == ["cleared", ""]
        term.feed(b"\x1b[6n")                                 # "where is the cursor?" is answered
        await pilot.pause()
        assert app.sent[-1] == b"\x1b[1;8R"


async def test_keys_become_terminal_bytes_and_resizes_are_reported():
    app = TermApp()
    async with app.run_test(size=(50, 10)) as pilot:
        term = app.query_one(TerminalView)
        await pilot.press("e", "c", "h", "o", "space", "H", "enter", "backspace", "tab", "ctrl+d",
                          "ctrl+c", "ctrl+z", "escape", "up", "left", "q", "s", "colon")
        await pilot.pause()
        assert b"".join(app.sent) == (b"echo H\r\x7f\t\x04\x03\x1a\x1b\x1b[A\x1b[Dqs:")
        app.sent.clear()
        term.feed(b"\x1b[?1h")                                # full-screen programs ask for app cursor keys
        await pilot.press("up", "down")
        await pilot.pause()
        assert app.sent == [b"\x1bOA", b"\x1bOB"]
        await pilot.resize_terminal(70, 20)
        await pilot.pause()
        assert app.sizes[-1] == (70, 20) and term.size_in_cells == (70, 20)


def test_key_bytes_table():
    assert key_bytes("ctrl+a", None) == b"\x01" and key_bytes("ctrl+z", None) == b"\x1a"
    assert key_bytes("pageup", None) == b"\x1b[5~" and key_bytes("delete", None) == b"\x1b[3~"
    assert key_bytes("f1", None) == b"\x1bOP" and key_bytes("shift+tab", None) == b"\x1b[Z"
    assert key_bytes("alt+b", "b") == b"\x1bb"
    assert key_bytes("shift", None) is None


class EchoStream:
    """An exec stream whose "shell" echoes lines and ends (exit 0) on Ctrl-D."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.queue.put_nowait(b"$ ")
        self.sizes: list[tuple[int, int]] = []
        self.closed = False
        self.line = b""

    async def write(self, data: bytes) -> None:
        for b in data:
            ch = bytes([b])
            if ch == b"\x04":
                self.queue.put_nowait(None)
            elif ch == b"\r":
                self.queue.put_nowait(b"\r\n" + self.line.upper() + b"\r\n$ ")
                self.line = b""
            else:
                self.line += ch
                self.queue.put_nowait(ch)

    async def resize(self, width: int, height: int) -> None:
        self.sizes.append((width, height))

    async def output(self):
        while (data := await self.queue.get()) is not None:
            yield 1, data

    def exit_code(self) -> int:
        return 0

    async def close(self) -> None:
        self.closed = True


async def test_shell_screen_talks_to_the_exec_stream(make_app, backend):
    from kubetui.tui.screens.shell import ShellScreen

    stream = EchoStream()
    calls = []

    async def pod_exec(namespace, name, command, *, container=None, tty=True):
        calls.append((namespace, name, container, tty))
        return stream
    backend.pod_exec = pod_exec
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        pod = {"metadata": {"name": "web-1", "namespace": "default"}, "spec": {"containers": [{"name": "c"}]}}
        results = []
        app.push_screen(ShellScreen(pod), results.append)
        await pilot.pause()
        shell = app.screen
        assert isinstance(shell, ShellScreen) and calls == [("default", "web-1", "c", True)]
        await pilot.press("h", "i", "enter")
        term = shell.query_one(TerminalView)
        for _ in range(50):
            if "HI" in "\n".join(term.display_lines()):
                break
            await pilot.pause()
        assert [line.rstrip() for line in term.display_lines()][:3] == ["$ hi", "HI", "$"]
        assert stream.sizes == [term.size_in_cells] == [(80, 23)]   # one row is the title
        await pilot.press("ctrl+d")
        for _ in range(50):
            if results:
                break
            await pilot.pause()
        assert results == [0] and stream.closed and not isinstance(app.screen, ShellScreen)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
async def test_tui_shell_key_opens_a_terminal_in_the_pod(tmp_path, kubectl_bin):
    from tests.kubelet.cluster import Cluster
    from tests.kubelet.test_exec_stream import shell_pod
    from tests.kubelet.tty_session import lines, wait_line
    from tests.tui.test_terminal import Tmux

    cluster = await Cluster().start(tmp_path, kubectl_bin)
    try:
        await shell_pod(cluster, "sh")

        def drive() -> None:
            tmux = Tmux(tmp_path)
            try:
                tmux.start(f"{sys.executable} -m kubetui --kubeconfig {cluster.kubeconfig}", width=100, height=30)
                tmux.wait_for("node-e2e")                     # the map is up
                tmux.keys("Right")                             # select the pod
                tmux.wait_for("selected pod default/sh")
                tmux.keys("s")
                tmux.wait_for("kubectl exec -it sh")
                tmux.keys("echo $((6*7))", "Enter")
                wait_line(tmux, "42")
                tmux.keys("C-d")
                tmux.wait_for("node-e2e")                      # back on the cluster map
                assert "kubectl exec -it" not in tmux.screen()
                assert not any(line == "42" for line in lines(tmux.screen()))
                tmux.keys("q")
            finally:
                tmux.kill()
        await asyncio.wait_for(asyncio.to_thread(drive), 120)
    finally:
        await cluster.stop()
