"""The real TUI in a real terminal: tmux runs ``kubetui --kubeconfig`` against a headless cluster.

Types a kubectl command into the command bar and reads kubectl's answer off
the screen (``tmux capture-pane``). Polls the pane (bounded) for known text
rather than sleeping.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path
from uuid import uuid4

import pytest

from tests.acceptance.conftest import Headless

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


class Tmux:
    def __init__(self, tmp: Path) -> None:
        self.sock = str(tmp / f"tmux-{uuid4().hex[:8]}.sock")
        self.base = ["tmux", "-S", self.sock, "-f", "/dev/null"]

    def start(self, command: str, width: int = 120, height: int = 40) -> None:
        subprocess.run(self.base + ["new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height),
                                    "-c", str(ROOT), command], check=True)

    def keys(self, *keys: str, literal: bool = False) -> None:
        subprocess.run(self.base + ["send-keys", "-t", "t", *(["-l"] if literal else []), *keys], check=True)

    def screen(self) -> str:
        return subprocess.run(self.base + ["capture-pane", "-p", "-t", "t"], capture_output=True,
                              text=True).stdout

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.05)
        raise AssertionError(f"{text!r} never appeared; screen was:\n{self.screen()}")

    def kill(self) -> None:
        subprocess.run(self.base + ["kill-server"], capture_output=True)


@pytest.fixture
def headless(tmp_path):
    h = Headless(tmp_path / "cluster", "--nodes", "2")
    h.start()
    yield h
    h.stop()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_command_bar_in_a_real_terminal(tmp_path, headless):
    tmux = Tmux(tmp_path)
    try:
        tmux.start(f"{sys.executable} -m kubetui --kubeconfig {headless.kubeconfig}")
        tmux.wait_for("node-1")            # the cluster map is up, showing the nodes
        tmux.keys(":")
        tmux.wait_for("kubectl against this cluster")
        tmux.keys("kubectl get nodes -o wide", literal=True)
        tmux.keys("Enter")
        screen = tmux.wait_for("INTERNAL-IP")
        rows = [line for line in screen.splitlines() if "node-2" in line and "Ready" in line]
        assert rows, screen
        tmux.keys("Escape")
        tmux.keys("q")
    finally:
        tmux.kill()
