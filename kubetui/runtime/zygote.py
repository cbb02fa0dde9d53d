"""The runtime's side of the container fork server (upstream: runc's ``init`` started for each container,
and containerd's shim that waits for it; kubetui forks them from one long-lived interpreter).

Starting every container as ``nsenter … unshare … python3 containerinit.py`` cost a burst of pod
starts ~11 ms of CPU per container before the container's own command ran: two small programs,
then a whole Python interpreter and ``ctypes``. :class:`ForkServer` starts ``containerinit.py
--zygote`` once, beside the kubelet, and asks it over a ``SOCK_SEQPACKET`` socket to fork each
container's PID 1 (in a new PID namespace, its own session and process group, then the pod's
network namespace and new mount and UTS namespaces, then ``containerinit``'s set-up and exec).
Its stdout and stderr are pipes this runtime reads into the container's log.

The containers are this process's children, not the zygote's: it clones each one as its own
parent's child (``CLONE_PARENT``; an ephemeral container joining another's PID namespace goes
through a middle process that ends at once, and this process, a child subreaper as containerd's
shim is, inherits the orphan). This process waits for each through a pidfd and reads its exit
status. The zygote holds nothing, so it is stopped after ``IDLE_SECONDS`` without a start and
started again on the next one: an idle node does not keep a second interpreter (~3 MiB; issue 18).

:class:`InitProcess` looks like the ``asyncio.subprocess.Process`` the process runtime keeps for a
container (``pid``, ``stdout``, ``stderr``, ``wait()``, ``returncode``), so everything after the
start (logs, stop, OOM, exit codes, ``kubectl exec``) is the same for both ways of starting.

Standard library only: this runs inside the node.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import marshal
import os
import secrets
import socket
import subprocess
import sys

log = logging.getLogger(__name__)

#: the zygote is stopped after this long without a container start (a burst of pod starts keeps
#: it; the first start after a quiet spell pays one interpreter start, ~10 ms of CPU)
IDLE_SECONDS = 2.0
#: how often a subreaper looks for orphans nobody waits for (see ``OrphanReaper``)
ORPHAN_SCAN_SECONDS = 30.0
PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    """Orphaned descendants (the containers' PID 1s) are re-parented to this process, not to PID 1."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(err)}")


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


def zombie_children(pid: int | None = None) -> set[int]:
    """The children of process ``pid`` (this one by default) that have ended and wait to be reaped."""
    pid = os.getpid() if pid is None else pid
    kids: set[int] = set()
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids.update(int(k) for k in f.read().split())
    except OSError:
        return set()
    out = set()
    for kid in kids:
        try:
            with open(f"/proc/{kid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        if stat[stat.rfind(")") + 2:].startswith("Z"):
            out.add(kid)
    return out


class OrphanReaper:
    """What PID 1 does for orphans, for the orphans a subreaper inherits: a process that ended
    after its parent (e.g. a container's PID 1 whose ``unshare --fork`` was killed first) is
    reparented to this process and would stay a zombie. Every ``ORPHAN_SCAN_SECONDS`` it reaps the
    zombie children seen in the scan before as well, and not in ``known``: whoever started a child
    of its own (asyncio's child watcher, ``subprocess``) has reaped it long before that."""

    def __init__(self, known) -> None:
        self.known = known                  # () -> the PIDs someone here waits for
        self._seen: set[int] = set()
        self.reaped = 0

    def scan(self) -> None:
        zombies = zombie_children() - set(self.known())
        for pid in zombies & self._seen:
            try:
                os.waitpid(pid, os.WNOHANG)
                self.reaped += 1
                log.debug("reaped orphan %d", pid)
            except ChildProcessError:
                pass
        self._seen = zombies - self._seen


class ForkServer:
    """One zygote per runtime, started on demand and stopped after ``IDLE_SECONDS`` without a start."""

    def __init__(self, init_path: str, python: str = sys.executable, idle_seconds: float = IDLE_SECONDS) -> None:
        self.init_path = init_path
        self.python = python
        self.idle_seconds = idle_seconds
        self._proc: subprocess.Popen | None = None
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: dict[str, asyncio.Future] = {}
        self._inits: dict[int, tuple[InitProcess, int]] = {}    # pid -> (its process, its pidfd)
        self._subreaper = False
        self._last_start = 0.0
        self._idle: asyncio.TimerHandle | None = None
        self.orphans = OrphanReaper(lambda: self._inits.keys())
        self._orphan_scan: asyncio.TimerHandle | None = None

    def _start(self) -> None:
        if not self._subreaper:
            become_subreaper()
            self._subreaper = True
            self._orphan_scan = asyncio.get_running_loop().call_later(ORPHAN_SCAN_SECONDS, self._scan_orphans)
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
        log.debug("container fork server (zygote) started: pid %d", self._proc.pid)

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
            fut = self._pending.pop(msg["id"], None)
            if fut is not None and not fut.done():
                fut.set_result(msg)

    def _gone(self) -> None:
        """The zygote ended on its own (killed, crashed): the requests it had not answered fail
        (the kubelet retries them); its containers are not its children and run on. The next start
        begins a new zygote."""
        log.warning("container fork server (zygote) ended; %d start(s) in flight fail", len(self._pending))
        self._stop_zygote()
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(ZygoteError("the container fork server ended"))
        self._pending.clear()

    def _exited(self, pid: int) -> None:
        """A container's PID 1 (this process's child) is readable on its pidfd: reap it."""
        init, fd = self._inits.get(pid, (None, -1))
        try:
            wpid, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:     # not ours to wait for (no subreaper?): its status is lost
            log.warning("container process %d ended but is not this process's child; exit status unknown", pid)
            wpid, status = pid, 255 << 8
        if wpid == 0:
            return
        self._inits.pop(pid, None)
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(fd)
        os.close(fd)
        if init is not None:
            init._ended(os.waitstatus_to_exitcode(status))

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

    async def pause(self, argv: list[str], netns: str | None, new_pid_ns: bool = False) -> InitProcess:
        """A pod's pause process (upstream: the sandbox's infra container, ``/pause``), in the pod's
        network namespace: ``argv`` is ``[program, its argv[0], args...]``, a program that sleeps until
        it is killed under a name that says whose it is."""
        req = {"pause": argv, "netns": netns, **({"newpid": True} if new_pid_ns else {})}
        return self._track(InitProcess(await self._fork(req, ()), None, None))

    async def _fork(self, req: dict, fds: tuple[int, ...]) -> int:
        """Send one request (with ``fds`` as SCM_RIGHTS) and wait for the forked child's PID."""
        if self._sock is None:
            self._start()
        assert self._sock is not None and self._loop is not None
        self._last_start = self._loop.time()
        if self._idle is None:
            self._idle = self._loop.call_later(self.idle_seconds, self._check_idle)
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
        """Wait for the container's PID 1 through a pidfd: it is this process's child (see above)
        and, until this process reaps it, a zombie keeps its PID, so the pidfd is never someone else's."""
        try:
            fd = os.pidfd_open(init.pid)
        except ProcessLookupError:
            log.warning("container process %d is gone before it could be waited for", init.pid)
            init._ended(255)
            return init
        self._inits[init.pid] = (init, fd)
        assert self._loop is not None
        self._loop.add_reader(fd, self._exited, init.pid)
        return init

    def _scan_orphans(self) -> None:
        self.orphans.scan()
        assert self._loop is not None
        self._orphan_scan = self._loop.call_later(ORPHAN_SCAN_SECONDS, self._scan_orphans)

    def _check_idle(self) -> None:
        """Stop the zygote once no container has started for ``idle_seconds`` (it holds none)."""
        self._idle = None
        if self._sock is None or self._loop is None:
            return
        wait = self._last_start + self.idle_seconds - self._loop.time()
        if self._pending or wait > 0:
            self._idle = self._loop.call_later(max(wait, 0.1), self._check_idle)
            return
        log.debug("container fork server (zygote) idle for %.0fs: stopping it", self.idle_seconds)
        self._stop_zygote()

    def _stop_zygote(self) -> None:
        """Close the socket (the zygote ends on it) and reap the zygote when it has ended, without blocking."""
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if self._sock is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            fd = os.pidfd_open(proc.pid)
        except OSError:
            proc.wait()
            return
        loop = self._loop
        assert loop is not None

        def reaped() -> None:
            loop.remove_reader(fd)
            os.close(fd)
            proc.wait()
        loop.add_reader(fd, reaped)

    async def _reader(self, fd: int) -> asyncio.StreamReader:
        reader = asyncio.StreamReader(limit=2 ** 16, loop=self._loop)
        await self._loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader, loop=self._loop),
                                           os.fdopen(fd, "rb", 0))
        return reader

    def close(self) -> None:
        """Stop serving (the runtime stops): the zygote sees the socket close and ends; the
        containers keep running, and nobody here waits for them any more."""
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if self._orphan_scan is not None:
            self._orphan_scan.cancel()
            self._orphan_scan = None
        if self._sock is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        for _, fd in self._inits.values():
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(fd)
            os.close(fd)
        self._inits.clear()
        if self._proc is not None:
            try:
                self._proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
