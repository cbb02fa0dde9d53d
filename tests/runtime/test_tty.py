"""``exec`` with ``tty=True`` (``kubectl exec -it``): a real pseudo-terminal in both runtimes.

A shell on it sees a terminal (``tty`` prints ``/dev/pts/N``), gets its size
and resizes (``stty size``), has job control, and its stderr comes out merged
with stdout on channel 1, as with runc's console.
"""

from __future__ import annotations

import asyncio
import re

import pytest

from kubetui.runtime import cri
from kubetui.runtime.process import ProcessRuntime
from tests.runtime.conftest import isolated_runtime


@pytest.fixture(params=["process", "isolated"])
async def rt(request, tmp_path):
    if request.param == "process":
        r = ProcessRuntime(tmp_path / "rt", node_name="node-t", pod_cidr="127.244.78.0/24")
        await r.start()
        yield r
        await r.close()
    else:
        async for r in isolated_runtime(tmp_path / "rt", "10.251.9.0/24", "y"):
            yield r


class Screen:
    """What the terminal printed, read until a pattern shows up (a real sync point)."""

    def __init__(self, proc: cri.ExecProcess) -> None:
        self.proc = proc
        self.text = ""
        self.channels: set[int] = set()
        self._it = proc.output().__aiter__()

    async def until(self, pattern: str, timeout: float = 15) -> re.Match | None:
        async def read() -> re.Match | None:
            while not (m := re.search(pattern, self.text)):
                try:
                    ch, data = await self._it.__anext__()
                except StopAsyncIteration:       # the session ended first
                    return None
                self.channels.add(ch)
                self.text += data.decode(errors="replace")
            return m
        try:
            m = await asyncio.wait_for(read(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"{pattern!r} never shown; the terminal showed {self.text!r}") from None
        if m is None:
            return None
        self.text = self.text[m.end():]
        return m

    async def rest(self, timeout: float = 15) -> str:
        async def read() -> None:
            async for ch, data in aiter(self._it):
                self.channels.add(ch)
                self.text += data.decode(errors="replace")
        await asyncio.wait_for(read(), timeout)
        return self.text


async def tty_shell(rt, name: str) -> cri.ExecProcess:
    """``sh`` on a terminal in a fresh busybox container (retried until its PID 1 is up)."""
    sb = await rt.run_pod_sandbox(cri.PodSandboxConfig(name=name, namespace="default", uid="u-" + name))
    cid = await rt.create_container(sb.id, cri.ContainerConfig(name="c", image="busybox",
                                                               command=["sleep", "600"]))
    await rt.start_container(cid)
    for _ in range(100):
        try:
            return await rt.exec(cid, ["sh"], stdin=True, tty=True)
        except cri.RuntimeError_:
            await asyncio.sleep(0.05)          # unshare has not forked the container's PID 1 yet
    raise AssertionError("the container never ran")


async def test_tty_exec_is_a_terminal_with_size_resize_and_job_control(rt):
    p = await tty_shell(rt, "shell")
    s = Screen(p)
    await p.resize(100, 30)
    await p.write_stdin(b"tty; stty size; echo $((6*7)); echo oops >&2\n")
    assert (await s.until(r"(/dev/pts/\d+)\r\n"))[1]          # a terminal, named in the container
    await s.until(r"30 100\r\n")                 # "rows cols"; newlines are the tty's \r\n
    await s.until(r"42\r\n")
    await s.until(r"oops\r\n")                                 # stderr, through the same terminal
    await p.resize(120, 40)
    await p.write_stdin(b"stty size\n")
    await s.until(r"40 120\r\n")
    # ^C is SIGINT for the foreground job only (the shell survives); ^Z stops it and the
    # shell takes the terminal back: job control. "started" means the job has the terminal.
    await p.write_stdin(b"sh -c 'echo started$((1+1)); exec sleep 30'\n")
    await s.until(r"started2\r\n")
    await p.write_stdin(b"\x03")
    await p.write_stdin(b"echo back $?\n")
    await s.until(r"back 130\r\n")
    await p.write_stdin(b"sh -c 'echo again$((1+1)); exec sleep 30'\n")
    await s.until(r"again2\r\n")
    await p.write_stdin(b"\x1a")
    await s.until(r"Stopped")
    await p.write_stdin(b"kill -9 %1; echo killed$((1+1))\n")
    await s.until(r"killed2\r\n")
    await p.write_stdin(b"exit 3\n")
    if await s.until(r"stopped jobs"):
        await p.write_stdin(b"exit 3\n")       # shells warn once about the (killed) stopped job
    await s.rest()
    assert await asyncio.wait_for(p.wait(), 10) == 3
    assert s.channels == {1}


async def test_ctrl_d_ends_the_shell(rt):
    p = await tty_shell(rt, "eof")
    s = Screen(p)
    await p.write_stdin(b"echo ready$((1+1))\n")
    await s.until(r"ready2\r\n")
    await p.write_stdin(b"\x04")                                # ^D at an empty prompt
    await s.rest()
    assert await asyncio.wait_for(p.wait(), 10) == 0


async def test_without_setsid_the_terminal_is_made_controlling_before_exec(tmp_path, monkeypatch):
    """Where util-linux ``setsid`` is missing, the runtime makes the pty the controlling
    terminal itself (``setsid()`` + ``TIOCSCTTY`` between fork and exec)."""
    from kubetui.runtime import tty as ptyexec
    monkeypatch.setattr(ptyexec.shutil, "which", lambda name: None)
    r = ProcessRuntime(tmp_path / "rt", node_name="node-t", pod_cidr="127.244.78.0/24")
    await r.start()
    try:
        p = await tty_shell(r, "nosetsid")
        s = Screen(p)
        await p.write_stdin(b"sh -c 'echo started$((1+1)); exec sleep 30'\n")
        await s.until(r"started2\r\n")
        await p.write_stdin(b"\x03")                            # ^C reaches the job: a controlling tty
        await p.write_stdin(b"echo back $?; exit 4\n")
        await s.until(r"back 130\r\n")
        await s.rest()
        assert await asyncio.wait_for(p.wait(), 10) == 4
    finally:
        await r.close()
