"""``kubectl exec -it POD -- sh`` driven by keystrokes in a real terminal (tmux), for any cluster.

Shared by the local-provider (process runtime) and Docker (isolated runtime)
tests. It waits on what the screen shows (bounded polls), never on sleeps.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from pathlib import Path

from tests.tui.test_terminal import Tmux

HOST_PROMPT = "tmuxhost$"


def lines(screen: str) -> list[str]:
    return [line.rstrip() for line in screen.splitlines()]


def wait_line(tmux: Tmux, line: str, after: int = 0, timeout: float = 20.0, end: bool = False) -> int:
    """Wait until a screen line (at index >= ``after``) reads exactly ``line`` (or, with
    ``end``, ends with it: kubectl's last words may follow the container's prompt); its index."""
    deadline = time.monotonic() + timeout
    while True:
        shown = lines(tmux.screen())
        for i in range(after, len(shown)):
            if shown[i] == line or (end and shown[i].endswith(line)):
                return i
        if time.monotonic() > deadline:
            raise AssertionError(f"no line {line!r} after line {after}; screen was:\n" + "\n".join(shown))
        time.sleep(0.05)


def wait_prompt(tmux: Tmux, count: int, timeout: float = 20.0) -> None:
    """Wait until the host shell's prompt has been shown ``count`` times (we are back in it)."""
    deadline = time.monotonic() + timeout
    while sum(line.startswith(HOST_PROMPT) for line in lines(tmux.screen())) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"the host prompt was not shown {count} times:\n{tmux.screen()}")
        time.sleep(0.05)


def exec_it_session(tmp: Path, kubectl: list[str], pod: str) -> None:
    """The whole walk: a terminal, arithmetic, its size, a resize, Ctrl-D, and an exit code."""
    tmux = Tmux(tmp)
    exec_it = shlex.join([*kubectl, "exec", "-it", pod, "--", "sh"])
    try:
        tmux.start(f"env PS1='{HOST_PROMPT} ' bash --norc --noprofile", width=100, height=30)
        wait_prompt(tmux, 1)
        tmux.keys(exec_it, "Enter")
        tmux.keys("echo $((6*7)); tty", "Enter")
        at = wait_line(tmux, "42", end=True)   # keys typed ahead may follow a prompt
        assert lines(tmux.screen())[at + 1].startswith("/dev/pts/"), tmux.screen()
        tmux.keys("stty size", "Enter")
        at = wait_line(tmux, "30 100", at, end=True)   # rows cols: the tmux window
        subprocess.run(tmux.base + ["resize-window", "-t", "t", "-x", "120", "-y", "40"], check=True)
        tmux.keys("stty size", "Enter")
        at = wait_line(tmux, "40 120", at, end=True)   # SIGWINCH -> resize channel -> TIOCSWINSZ
        tmux.keys("C-d")                                      # end of input at the container's prompt
        wait_prompt(tmux, 2)
        tmux.keys("echo rc=$?", "Enter")
        at = wait_line(tmux, "rc=0", at)
        tmux.keys(exec_it, "Enter")
        tmux.keys("exit 7", "Enter")
        at = wait_line(tmux, "command terminated with exit code 7", at, end=True)
        wait_prompt(tmux, 4)
        tmux.keys("echo rc=$?", "Enter")
        wait_line(tmux, "rc=7", at)
    finally:
        tmux.kill()


def run_it_session(tmp: Path, kubectl: list[str], pod: str) -> None:
    """``kubectl run -it --rm POD --image=busybox --restart=Never -- sh`` (the docs' debug pod):
    the container's main process on a terminal, reached by pods/attach, removed at exit."""
    tmux = Tmux(tmp)
    run_it = shlex.join([*kubectl, "run", "-it", "--rm", pod, "--image=busybox", "--restart=Never",
                         "--", "sh"])
    try:
        tmux.start(f"env PS1='{HOST_PROMPT} ' bash --norc --noprofile", width=100, height=30)
        wait_prompt(tmux, 1)
        tmux.keys(run_it, "Enter")
        wait_line(tmux, "If you don't see a command prompt, try pressing enter.", timeout=60)
        tmux.keys("echo $((6*7)); tty", "Enter")
        at = wait_line(tmux, "42", end=True)
        assert lines(tmux.screen())[at + 1].startswith("/dev/pts/"), tmux.screen()
        tmux.keys("stty size", "Enter")
        at = wait_line(tmux, "30 100", at, end=True)   # the resize channel reached the main process's pty
        tmux.keys("exit", "Enter")
        wait_line(tmux, f'pod "{pod}" deleted from default namespace', at, timeout=60)
        wait_prompt(tmux, 2, timeout=60)
    finally:
        tmux.kill()
