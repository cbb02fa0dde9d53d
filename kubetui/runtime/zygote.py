"""The runtime's side of the container fork server (upstream: runc's ``init`` started for each container,
and containerd's shim that waits for it; kubetui forks them from one long-lived interpreter).

Starting every container as ``nsenter … unshare … python3 containerinit.py`` cost a burst of pod
starts ~11 ms of CPU per container before the container's own command ran: two small programs,
then a whole Python interpreter and ``ctypes``. :class:`ForkServer` starts ``containerinit.py
--zygote`` once, beside the kubelet, and asks it over a ``SOCK_SEQPACKET`` socket to fork each
container's PID 1 (in a new PID namespace, its own session and process group, then the pod's
network namespace and new mount and UTS namespaces, then ``containerinit``'s set-up and exec).
Its stdout and stderr are pipes this runtime reads into the container's log; the zygote, its
parent, reports how it ended.

:class:`InitProcess` looks like the ``asyncio.subprocess.Process`` the process runtime keeps for a
container (``pid``, ``stdout``, ``stderr``, ``wait()``, ``returncode``), so everything after the
start (logs, stop, OOM, exit codes, ``kubectl exec``) is the same for both ways of starting.

Standard library only: this runs inside the node.
"""

from __future__ import annotations

import asyncio
import logging
import marshal
import os
import secrets
import socket
import subprocess
import sys

log = logging.getLogger(__name__)


class ZygoteError(OSError):
    """The fork server could not start a container (or is gone)."""


class InitProcess:
    """A container's PID 1, forked by the zygote: what ``asyncio.subprocess.Process`` offers the runtime."""

    #: ``pid`` is the container's PID 1 itself (an ``unshare --fork`` process was its parent before)
    is_init = True

    def __init__(self, pid: int, stdout: asyncio.StreamReader | None, stderr: asyncio.StreamReader | None) -> None:
        self.pid = pid
        self.stdin = None
        self.stdout = stdout
        self.stderr = stderr
        self.returncode: int | None = None
        self._exited = asyncio.get_running_loop().create_future()

    def _ended(self, returncode: int) -> None:
        if self.returncode is None:
            self.returncode = returncode
            self._exited.set_result(returncode)

    async def wait(self) -> int:
        """Its return code as ``Popen`` gives it: the exit status, or minus the signal that killed it."""
        return await asyncio.shield(self._exited)


class ForkServer:
    """One zygote per runtime, started on first use and again if it ever ends."""

    def __init__(self, init_path: str, python: str = sys.executable) -> None:
        self.init_path = init_path
        self.python = python
        self._proc: subprocess.Popen | None = None
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: dict[str, asyncio.Future] = {}
        self._inits: dict[int, InitProcess] = {}
        self._early: dict[int, int] = {}        # exits reported before the fork's reply was read

    def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._proc = subprocess.Popen(
                [self.python, "-I", "-S", self.init_path, "--zygote", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        finally:
            theirs.close()
        ours.setblocking(False)
        self._sock = ours
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(ours.fileno(), self._readable)
        log.info("container fork server (zygote) started: pid %d", self._proc.pid)

    def _readable(self) -> None:
        while self._sock is not None:
            try:
                data = self._sock.recv(65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._gone()
                return
            msg = marshal.loads(data)
            if "exited" in msg:
                self._exited(msg["exited"], msg["status"])
                continue
            fut = self._pending.pop(msg["id"], None)
            if fut is not None and not fut.done():
                fut.set_result(msg)

    def _exited(self, pid: int, status: int) -> None:
        rc = os.waitstatus_to_exitcode(status)
        init = self._inits.pop(pid, None)
        if init is None:
            self._early[pid] = rc
        else:
            init._ended(rc)

    def _gone(self) -> None:
        """The zygote ended: nobody can wait for its containers any more. They are killed and
        reported so (the kubelet restarts them per their policy, as after a shim crash in
        containerd), and the next start begins a new zygote."""
        log.warning("container fork server (zygote) ended; killing the %d container(s) it started",
                    len(self._inits))
        self.close()
        for pid, init in self._inits.items():
            try:
                os.killpg(pid, 9)
            except OSError:
                pass
            init._ended(-9)
        self._inits.clear()
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(ZygoteError("the container fork server ended"))
        self._pending.clear()

    async def spawn(self, spec: str, netns: str | None, env: dict[str, str], cwd: str,
                    sync_fd: int, pidns: str | None = None) -> InitProcess:
        """Fork a container from its ``containerinit`` spec; it writes a byte on ``sync_fd`` before exec.
        ``pidns``: join that PID namespace (an ephemeral container's target's) instead of a new one."""
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        try:
            try:
                pid = await self._fork({"spec": spec, "netns": netns, "env": env, "cwd": cwd,
                                        **({"pidns": pidns} if pidns else {})}, (out_w, err_w, sync_fd))
            finally:
                os.close(out_w)
                os.close(err_w)
        except BaseException:
            os.close(out_r)
            os.close(err_r)
            raise
        return self._track(InitProcess(pid, await self._reader(out_r), await self._reader(err_r)))

    async def pause(self, argv: list[str], netns: str | None) -> InitProcess:
        """A pod's pause process (upstream: the sandbox's infra container, ``/pause``), in the pod's
        network namespace: ``argv`` is ``[program, its argv[0], args...]``, a program that sleeps until
        it is killed under a name that says whose it is."""
        return self._track(InitProcess(await self._fork({"pause": argv, "netns": netns}, ()), None, None))

    async def _fork(self, req: dict, fds: tuple[int, ...]) -> int:
        """Send one request (with ``fds`` as SCM_RIGHTS) and wait for the forked child's PID."""
        if self._sock is None:
            self._start()
        assert self._sock is not None and self._loop is not None
        rid = secrets.token_hex(8)
        fut = self._loop.create_future()
        self._pending[rid] = fut
        anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                b"".join(fd.to_bytes(4, sys.byteorder) for fd in fds))] if fds else []
        try:
            self._sock.sendmsg([marshal.dumps({"id": rid, **req})], anc)
        except BlockingIOError:
            self._pending.pop(rid, None)
            raise ZygoteError("the container fork server is not keeping up") from None
        except OSError as e:
            self._pending.pop(rid, None)
            self._gone()
            raise ZygoteError(f"the container fork server is gone: {e}") from None
        try:
            reply = await fut
        finally:
            self._pending.pop(rid, None)
        if reply.get("error"):
            raise ZygoteError(f"fork: {reply['error']}")
        return reply["pid"]

    def _track(self, init: InitProcess) -> InitProcess:
        early = self._early.pop(init.pid, None)
        if early is not None:
            init._ended(early)
        else:
            self._inits[init.pid] = init
        return init

    async def _reader(self, fd: int) -> asyncio.StreamReader:
        reader = asyncio.StreamReader(limit=2 ** 16, loop=self._loop)
        await self._loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader, loop=self._loop),
                                           os.fdopen(fd, "rb", 0))
        return reader

    def close(self) -> None:
        """Stop serving: the zygote sees the socket close and ends (containers keep running)."""
        if self._sock is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
