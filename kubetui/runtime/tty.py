"""Exec with a terminal: what runc does for ``process.terminal: true`` (``kubectl exec -it``).

A shell wants a real terminal: line editing, echo, job control, ``Ctrl-C`` as a
signal, ``stty size``. The runtime opens a pseudo-terminal pair, makes the
child a session leader whose *controlling terminal* is the pty's slave end
(``setsid`` then ``TIOCSCTTY``), and gives it the slave as stdin, stdout and
stderr; the kubelet reads and writes the master end. So, as upstream, a TTY
exec has one output stream (stdout and stderr are merged by the terminal; no
stderr channel), and a resize (remotecommand channel 4,
``{"Width":W,"Height":H}``) becomes ``TIOCSWINSZ`` on the pty, which the
kernel follows with ``SIGWINCH`` to the foreground job.

The isolated runtime opens the pty in the node and hands its slave end to
``nsenter``; only *inside* the container's namespaces does ``setsid --ctty``
make a new session whose controlling terminal it is (``in_container_session``).
Job control needs that: a shell remembers the terminal's foreground process
group and gives it back on exit, and a group outside its PID namespace is
invisible to it ("Cannot set tty process group"). The container's mount
namespace (a copy of the node's) has the same ``/dev/pts``, so ``tty`` in the
container prints ``/dev/pts/N``, as with runc's console.

Standard library only (this runs in the node agent).
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import logging
import os
import shutil
import signal
import struct
import termios
from typing import AsyncIterator

from kubetui.runtime.cri import ExecProcess

log = logging.getLogger(__name__)

#: containerd sets this for a TTY exec when the container's env has no TERM
DEFAULT_TERM = "xterm"


def set_window_size(fd: int, width: int, height: int) -> None:
    """``TIOCSWINSZ``: the terminal's size in characters (``struct winsize``: rows, cols, xpix, ypix)."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", max(0, height), max(0, width), 0, 0))


def window_size(fd: int) -> tuple[int, int]:
    """``(width, height)`` of a terminal, as ``stty size`` reads it (``TIOCGWINSZ``)."""
    rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    return cols, rows


def _become_terminal_owner() -> None:
    """Runs in the child between fork and exec, after ``setsid`` (``start_new_session``):
    the slave on fd 0 becomes this new session's controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def in_container_session(cmd: list[str]) -> list[str]:
    """``cmd`` as the leader of a new session whose controlling terminal is its stdin, waited
    for if setsid must fork, so its exit code comes back (util-linux ``setsid``, in every
    node image)."""
    return ["setsid", "--wait", "--ctty", *cmd]


async def spawn(argv: list[str], *, env: dict[str, str], cwd: str | None,
                controlling: bool = True, pass_fds: tuple[int, ...] = ()) -> "PtyExec":
    """Start ``argv`` on a new pseudo-terminal (raises ``OSError`` if it cannot be executed).

    ``controlling``: make the terminal ``argv``'s controlling terminal here; ``False`` when
    ``argv`` does it itself further in (``in_container_session``). ``setsid`` does it
    where it exists (a hook between fork and exec is unsafe in a threaded process, and
    the kubelet has threads); elsewhere the hook it is.
    """
    hook = None
    new_session = True
    if controlling and shutil.which("setsid"):
        # a child of the kubelet is no process group leader: setsid execs the command
        # itself (no extra process), as the leader of the new session
        argv, new_session = in_container_session(argv), False
    elif controlling:
        hook = _become_terminal_owner
    master, slave = os.openpty()
    try:
        set_window_size(master, 80, 24)      # until the client says its size
        env = dict(env)
        env.setdefault("TERM", DEFAULT_TERM)
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd,
            start_new_session=new_session, preexec_fn=hook, pass_fds=pass_fds)
    except BaseException:
        os.close(master)
        raise
    finally:
        # Only the child holds the slave now: when every process in the container
        # that has it open is gone, reading the master fails with EIO (the end).
        os.close(slave)
    return PtyExec(proc, master)


class PtyExec(ExecProcess):
    """A command on a pseudo-terminal: stdin and output go through its master end."""

    def __init__(self, proc: asyncio.subprocess.Process, master: int) -> None:
        self.proc = proc
        self.master = master
        os.set_blocking(master, False)
        self._loop = asyncio.get_running_loop()
        self._closed = False

    # -- input -----------------------------------------------------------------
    async def write_stdin(self, data: bytes) -> None:
        view = memoryview(data)
        while view and not self._closed:
            try:
                n = os.write(self.master, view)
                view = view[n:]
            except BlockingIOError:
                await self._writable()
            except OSError:          # the terminal is gone (EIO): the command ended
                return

    async def _writable(self) -> None:
        fut = self._loop.create_future()
        self._loop.add_writer(self.master, lambda: fut.done() or fut.set_result(None))
        try:
            await fut
        finally:
            self._loop.remove_writer(self.master)

    async def close_stdin(self) -> None:
        """The client has no more input: type the terminal's end-of-file character (``^D``),
        which is what ends a shell's or ``cat``'s input on a terminal."""
        if self._closed:
            return
        try:
            eof = termios.tcgetattr(self.master)[6][termios.VEOF]
            await self.write_stdin(eof if isinstance(eof, bytes) else bytes([eof]))
        except (OSError, termios.error):
            pass

    async def resize(self, width: int, height: int) -> None:
        if self._closed or width <= 0 or height <= 0:
            return
        try:
            set_window_size(self.master, width, height)
        except OSError as e:
            log.debug("resize of exec pty failed: %s", e)

    # -- output ----------------------------------------------------------------
    async def output(self) -> AsyncIterator[tuple[int, bytes]]:
        """Everything the terminal shows, on channel 1, until the command has exited and
        the terminal has no more to say (or nobody holds its slave end any more)."""
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()

        def readable() -> None:
            try:
                data = os.read(self.master, 65536)
            except BlockingIOError:
                return
            except OSError as e:            # EIO: every holder of the slave end is gone
                if e.errno != errno.EIO:
                    log.debug("reading exec pty: %s", e)
                data = b""
            if not data:
                self._loop.remove_reader(self.master)
            queue.put_nowait(data or None)

        async def exited() -> None:
            await self.proc.wait()
            # A background job may still hold the terminal; the session ends with the
            # command (as with runc), after what it wrote before exiting is read.
            await asyncio.sleep(0.05)
            queue.put_nowait(None)

        self._loop.add_reader(self.master, readable)
        waiter = asyncio.create_task(exited())
        try:
            while True:
                data = await queue.get()
                if data is None:
                    break
                yield 1, data
            # drain what is still buffered in the terminal
            while True:
                try:
                    data = os.read(self.master, 65536)
                except OSError:
                    break
                if not data:
                    break
                yield 1, data
        finally:
            waiter.cancel()
            if not self._closed:
                self._loop.remove_reader(self.master)

    async def wait(self) -> int:
        from kubetui.runtime.process import exit_code_of
        code = exit_code_of(await self.proc.wait())
        self._close()
        return code

    async def kill(self) -> None:
        """SIGKILL the command and everything it started (the shell may have put its jobs in
        process groups, and in a container in a session, of their own), then hang the
        terminal up (SIGHUP to whatever still holds it)."""
        for pid in descendants(self.proc.pid):
            if pid == self.proc.pid and self.proc.returncode is not None:
                continue                 # reaped: its PID may belong to someone else now
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        await self.proc.wait()
        self._close()

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            self._loop.remove_reader(self.master)
            self._loop.remove_writer(self.master)
            os.close(self.master)


def descendants(root: int) -> list[int]:
    """``root`` and the PIDs of every process below it or in its session (from ``/proc``)."""
    parent: dict[int, int] = {}
    session: dict[int, int] = {}
    try:
        entries = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return [root]
    for pid in entries:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                raw = f.read().decode(errors="replace")
        except OSError:
            continue
        # fields after the command name: state ppid pgrp session ...
        fields = raw[raw.rfind(")") + 2:].split()
        if len(fields) > 3:
            parent[pid], session[pid] = int(fields[1]), int(fields[3])
    found = [root]
    changed = True
    while changed:                # a few dozen processes per node: the fixpoint is cheap
        changed = False
        for pid, ppid in parent.items():
            if pid not in found and (ppid in found or session[pid] == root):
                found.append(pid)
                changed = True
    return found
