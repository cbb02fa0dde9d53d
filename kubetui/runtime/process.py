"""A container runtime whose containers are plain processes (the local provider's runtime).

In Kubernetes this slot is containerd or CRI-O. Here each container is one
subprocess in its own process group (so stopping it reaches its children),
its output captured into CRI log files, its state kept on disk so a restarted
node can clean up after a killed one.

What is missing compared with a real runtime (and with ``isolated``), said
once in the node's log: no network namespace (each pod gets its own
127.x.y.z loopback address to bind, but can reach everything on the host), no
mount namespace (volumes are not mounted at their paths; workloads find them
through ``KUBETUI_MOUNTS``; ``readOnly`` is not enforced; ``emptyDir`` with
``medium: Memory`` is a directory on disk, not a tmpfs), no UTS namespace (``hostname`` answers through a
small shim printing ``$HOSTNAME``), no PID namespace, and no cgroups: memory
limits are not enforced, so a container is never OOMKilled, and CPU limits
are not enforced either.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import secrets
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import AsyncIterator

from kubetui.runtime import busybox, images, procfs, shims
from kubetui.agent.clock import RealClock
from kubetui.runtime import tty as ptyexec
from kubetui.runtime.cri import (CREATED, EXITED, RUNNING, ContainerConfig, ContainerStatus,
                                 ExecProcess, ExecResult, ImagePullError, NotFound, PodSandbox,
                                 PodSandboxConfig,
                                 RuntimeError_, RuntimeService, Usage, dial_error,
                                 port_forward_error)
from kubetui.runtime.logs import LogWriter

log = logging.getLogger(__name__)

# kubetui's package root, so `python -m kubetui.workloads.X` works in a container
_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])
_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _now() -> float:
    import time
    return time.time()


class _Container:
    def __init__(self, cid: str, sandbox: PodSandbox, config: ContainerConfig, log_path: str,
                 argv: list[str], env: dict[str, str], cwd: str) -> None:
        self.id = cid
        self.sandbox = sandbox
        self.config = config
        self.log_path = log_path
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.proc: asyncio.subprocess.Process | None = None
        self.pty: ptyexec.PtyExec | None = None     # the main process's terminal (spec tty)
        self.state = CREATED
        self.created_at = _now()
        self.started_at = 0.0
        self.finished_at = 0.0
        self.exit_code = 0
        self.reason = ""
        self.message = ""
        self.exited = asyncio.Event()
        self.waiter: asyncio.Task | None = None

    def status(self) -> ContainerStatus:
        return ContainerStatus(
            id=self.id, name=self.config.name, sandbox_id=self.sandbox.id, image=self.config.image,
            state=self.state, attempt=self.config.attempt, created_at=self.created_at,
            started_at=self.started_at, finished_at=self.finished_at, exit_code=self.exit_code,
            reason=self.reason, message=self.message, log_path=self.log_path,
            pid=self.proc.pid if self.proc else 0)


def exit_code_of(returncode: int) -> int:
    """A signal death (``-9``) is reported as 128+signal (``137``), as shells and runtimes do."""
    return 128 - returncode if returncode < 0 else returncode


class ProcessRuntime(RuntimeService):
    name = "kubetui-process"
    version = "0.1.0"
    #: a ``tty`` container's pty is its controlling terminal from the start (the isolated
    #: runtime makes it so inside the container's namespaces instead)
    TTY_CONTROLLING = True
    limitations = (
        "pods are plain processes: no network, mount, UTS or PID namespaces",
        "no cgroups: memory and CPU limits are not enforced (no OOMKilled)",
        "volumes are not mounted at their paths (workloads read KUBETUI_MOUNTS): readOnly is not "
        "enforced and emptyDir medium Memory is a directory on disk",
    )

    def __init__(self, root_dir: str | os.PathLike[str], *, node_name: str,
                 pod_cidr: str | None = "127.244.0.0/24", node_ip: str = "127.0.0.1",
                 clock=None, hold_fds: tuple[int, ...] = (),
                 state_dir: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root_dir)
        #: every container inherits these: its cluster's loopback-block lock (providers/loopback.py)
        self.hold_fds = hold_fds
        # containerd's two directories: ``root`` (/var/lib/containerd: what lasts, here the
        # containers' logs) and ``state`` (/run/containerd, a tmpfs: each sandbox's and task's small
        # files, gone with the machine). On a node, every file made on the kubelet's disk volume
        # costs a pod start ~0.2-0.7 ms of CPU (ext4 inode allocation), on a tmpfs ~0.01 ms.
        self.state = Path(state_dir) if state_dir is not None else self.root
        self.node_name = node_name
        self.node_ip = node_ip
        # None until the kubelet learns the node's podCIDR (Node.spec.podCIDR)
        self.network = ipaddress.ip_network(pod_cidr, strict=False) if pod_cidr else None
        self.clock = clock or RealClock()
        self._sandboxes: dict[str, PodSandbox] = {}
        self._containers: dict[str, _Container] = {}
        self._bin_dir = self.root / "bin"
        self._busybox_dir: Path | None = None   # BusyBox's applet links, if the node has BusyBox

    # -- lifecycle -----------------------------------------------------------
    async def start(self) -> None:
        (self.root / "pods").mkdir(parents=True, exist_ok=True)
        (self.state / "pods").mkdir(parents=True, exist_ok=True)
        shims.install(self._bin_dir, with_hostname=True)
        self._busybox_dir = busybox.install(self.root / "busybox" / "bin")
        if self._busybox_dir:
            # no UTS namespace here: the hostname shim (the pod's name) answers, not the host's name
            (self._busybox_dir / "hostname").unlink(missing_ok=True)
        self.cleanup_leftovers()

    def cleanup_leftovers(self) -> int:
        """Kill processes and remove sandboxes a previous (killed) kubelet left behind."""
        n, killed = 0, []
        for pod_dir in sorted((self.state / "pods").glob("*")):
            state = pod_dir / "processes.json"
            if state.exists():
                try:
                    procs = json.loads(state.read_text() or "{}")
                except ValueError:
                    procs = {}
                for pid, start_ticks in procs.values():
                    if procfs.same_process(pid, start_ticks):
                        try:
                            os.killpg(pid, signal.SIGKILL)
                            n += 1
                            killed.append(pid)
                        except OSError:
                            pass
            shutil.rmtree(pod_dir, ignore_errors=True)
        for pod_dir in sorted((self.root / "pods").glob("*")):
            shutil.rmtree(pod_dir, ignore_errors=True)
        # SIGKILL is delivered, not yet done: wait (bounded) until they have exited, so what they held
        # (their addresses, the cluster's loopback block) is free when this returns
        deadline = time.monotonic() + 5
        while killed and time.monotonic() < deadline:
            killed = [pid for pid in killed if procfs.running(pid)]
            if killed:
                time.sleep(0.01)
        if n:
            log.info("killed %d process group(s) left behind by a previous kubelet", n)
        return n

    @property
    def pod_cidr(self) -> str | None:
        return str(self.network) if self.network is not None else None

    async def set_pod_cidr(self, cidr: str) -> None:
        """The addresses pods get from now on (the CRI's ``UpdateRuntimeConfig``)."""
        self.network = ipaddress.ip_network(cidr, strict=False)

    async def close(self) -> None:
        for c in list(self._containers.values()):
            if c.state == RUNNING:
                _killpg(c, signal.SIGKILL)
        for c in list(self._containers.values()):
            if c.waiter:
                try:
                    await asyncio.wait_for(c.exited.wait(), 5)
                except asyncio.TimeoutError:
                    pass

    # -- images --------------------------------------------------------------
    def pull_image(self, image: str) -> str:
        try:
            return images.resolve(image).image_id
        except ImagePullError as e:
            # plain processes on the host: no root filesystem to give an image
            raise ImagePullError(f"{e.message}. Nodes of the local provider run kubetui's built-in programs "
                                 f"as plain processes and cannot run container images: "
                                 f"`kubetui up --provider docker` runs real images") from None

    # -- sandboxes -----------------------------------------------------------
    def _allocate_ip(self, config: PodSandboxConfig) -> str:
        if config.host_network:
            return self.node_ip
        if self.network is None:
            raise RuntimeError_("FailedCreatePodSandBox", "container runtime network not ready: "
                                "this node has no podCIDR yet (Node.spec.podCIDR)")
        used = {s.ip for s in self._sandboxes.values()}
        hosts = self.network.hosts()
        next(hosts, None)          # .1 is the "gateway" (the node), as on a CNI bridge
        for addr in hosts:
            if str(addr) not in used:
                return str(addr)
        raise RuntimeError_("FailedCreatePodSandBox", f"no free address left in {self.network}")

    def _pod_dir(self, sid: str) -> Path:
        """The sandbox's directory under ``root``: its containers' logs, ``<container>/<attempt>.log``
        (upstream's ``/var/log/pods/<pod>/<container>/<restart>.log``), made with the first one."""
        return self.root / "pods" / sid

    def _log_path(self, sid: str, config: ContainerConfig) -> str:
        return str(self._pod_dir(sid) / config.name / f"{config.attempt}.log")

    def _state_dir(self, sid: str) -> Path:
        """The sandbox's directory under ``state``: its record, its processes, its /etc files."""
        return self.state / "pods" / sid

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> PodSandbox:
        sid = secrets.token_hex(32)
        sb = PodSandbox(sid, config, self._allocate_ip(config), created_at=self.clock.time())
        d = self._state_dir(sid)
        d.mkdir(parents=True, exist_ok=True)
        (d / "sandbox.json").write_text(json.dumps(
            {"id": sid, "name": config.name, "namespace": config.namespace, "uid": config.uid,
             "ip": sb.ip}))
        (d / "processes.json").write_text("{}")
        self._sandboxes[sid] = sb
        log.info("sandbox %s for pod %s/%s: ip %s", sid[:12], config.namespace, config.name, sb.ip)
        return sb

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        for c in self._containers.values():
            if c.sandbox.id == sandbox_id and c.state == RUNNING:
                _killpg(c, signal.SIGKILL)
        for c in list(self._containers.values()):
            if c.sandbox.id == sandbox_id and c.waiter:
                await c.exited.wait()
        sb = self._sandboxes.get(sandbox_id)
        if sb:
            sb.state = "SANDBOX_NOTREADY"

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        await self.stop_pod_sandbox(sandbox_id)
        for cid in [c.id for c in self._containers.values() if c.sandbox.id == sandbox_id]:
            del self._containers[cid]
        self._sandboxes.pop(sandbox_id, None)
        shutil.rmtree(self._pod_dir(sandbox_id), ignore_errors=True)
        if self.state != self.root:
            shutil.rmtree(self._state_dir(sandbox_id), ignore_errors=True)

    def list_pod_sandboxes(self) -> list[PodSandbox]:
        return list(self._sandboxes.values())

    # -- containers ----------------------------------------------------------
    def _env(self, sb: PodSandbox, config: ContainerConfig) -> dict[str, str]:
        path = os.pathsep.join([str(self._bin_dir), os.environ.get("PATH", "/usr/bin:/bin")])
        env = {
            "PATH": path,
            "HOME": "/root" if os.geteuid() == 0 else os.environ.get("HOME", "/tmp"),
            "HOSTNAME": sb.config.hostname or sb.config.name,
            "PYTHONPATH": _PACKAGE_PARENT,
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "LANG": "C.UTF-8",
            "KUBETUI_POD_IP": sb.ip,
            "KUBETUI_POD_NAME": sb.config.name,
            "KUBETUI_POD_NAMESPACE": sb.config.namespace,
            "KUBETUI_NODE_NAME": self.node_name,
            "KUBETUI_MOUNTS": json.dumps({m.container_path: m.host_path for m in config.mounts}),
        }
        env.update(config.env)
        return env

    async def create_container(self, sandbox_id: str, config: ContainerConfig) -> str:
        sb = self._sandboxes.get(sandbox_id)
        if sb is None:
            raise NotFound(f"sandbox {sandbox_id} not found")
        img = images.resolve(config.image)
        env = dict(img.env)
        env.update(self._env(sb, config))
        if img.busybox and self._busybox_dir and "PATH" not in config.env:
            # BusyBox's applets come first for this image only: its `sh` is ash, its `wget` BusyBox's
            env["PATH"] = os.pathsep.join([str(self._busybox_dir), env["PATH"]])
        argv = images.container_argv(img, config.command, config.args, sys.executable)
        if not argv:
            raise RuntimeError_("CreateContainerError", "no command specified")
        cid = secrets.token_hex(32)
        log_path = self._log_path(sandbox_id, config)
        cwd = config.working_dir if config.working_dir and os.path.isdir(config.working_dir) \
            else str(self._pod_dir(sandbox_id))
        self._containers[cid] = _Container(cid, sb, config, log_path, argv, env, cwd)
        return cid

    async def start_container(self, container_id: str) -> None:
        c = self._get(container_id)
        if c.state != CREATED:
            raise RuntimeError_("RunContainerError", f"container {container_id[:12]} already started")
        writer = LogWriter(c.log_path, self.clock.time)
        try:
            if c.config.tty:
                # runc's console: the main process on a pty whose master the runtime keeps
                # (its output goes to the log as stdout; attach writes to it)
                c.pty = await ptyexec.spawn(c.argv, env=self._spawn_env(c), cwd=c.cwd, controlling=self.TTY_CONTROLLING,
                                            pass_fds=self._start_fds(c))
                c.proc = c.pty.proc
            else:
                c.proc = await self._spawn(c)
        except OSError as e:
            writer.close()
            # what runc reports when the command cannot be executed
            c.state, c.exit_code, c.reason = EXITED, 128, "StartError"
            c.message = (f'failed to create containerd task: exec: "{c.argv[0]}": '
                         f"{e.strerror or e}")
            c.started_at = c.finished_at = self.clock.time()
            c.exited.set()
            raise RuntimeError_("RunContainerError", c.message) from e
        c.state, c.started_at = RUNNING, self.clock.time()
        self._record_pid(c)
        c.waiter = asyncio.create_task(self._wait(c, writer))

    async def _spawn(self, c: _Container):
        """The container's first process, in a session of its own, its output on pipes."""
        return await asyncio.create_subprocess_exec(
            *c.argv, stdin=asyncio.subprocess.PIPE if c.config.stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=self._spawn_env(c), cwd=c.cwd, start_new_session=True, pass_fds=self._start_fds(c))

    def _spawn_env(self, c: _Container) -> dict[str, str]:
        """The environment the container's first process is started with (its own, here)."""
        return c.env

    def _start_fds(self, c: _Container) -> tuple[int, ...]:
        """Descriptors the container's first process inherits (a runtime's start-up handshake)."""
        return self.hold_fds

    def _record_pid(self, c: _Container) -> None:
        self._record(c.sandbox.id, c.id, c.proc.pid)

    def _record(self, sandbox_id: str, key: str, pid: int) -> None:
        """Remember a process of the pod on disk: a restarted kubelet kills what a killed one left."""
        f = self._state_dir(sandbox_id) / "processes.json"
        try:
            procs = json.loads(f.read_text() or "{}")
        except (OSError, ValueError):
            procs = {}
        procs[key] = [pid, procfs.start_ticks(pid)]
        f.write_text(json.dumps(procs))

    async def _wait(self, c: _Container, writer: LogWriter) -> None:
        assert c.proc is not None
        if c.pty is not None:
            async def feed() -> None:
                async for _, data in c.pty.output():
                    writer.write("stdout", data)
            pumps = [asyncio.create_task(feed())]
        else:
            pumps = [asyncio.create_task(writer.pump(c.proc.stdout, "stdout")),
                     asyncio.create_task(writer.pump(c.proc.stderr, "stderr"))]
        rc = await c.proc.wait()
        # The container is its process group: what it left running dies with it,
        # as everything in a PID namespace dies with its init.
        _killpg(c, signal.SIGKILL)
        try:
            await asyncio.wait_for(asyncio.gather(*pumps), 2)
        except asyncio.TimeoutError:
            for p in pumps:
                p.cancel()
        writer.close()
        c.exit_code = exit_code_of(rc)
        c.reason = "Completed" if c.exit_code == 0 else "Error"
        self._on_exit(c)
        c.finished_at = self.clock.time()
        c.state = EXITED
        c.exited.set()

    def _on_exit(self, c: _Container) -> None:
        """Refine how a container ended (a cgroup runtime knows about OOM kills)."""

    async def wait_container(self, container_id: str) -> None:
        await self._get(container_id).exited.wait()

    async def stop_container(self, container_id: str, timeout: float) -> None:
        c = self._get(container_id)
        if c.state != RUNNING:
            return
        self._send_term(c)
        waiter = asyncio.create_task(c.exited.wait())
        grace = asyncio.create_task(self.clock.sleep(max(0.0, timeout)))
        await asyncio.wait({waiter, grace}, return_when=asyncio.FIRST_COMPLETED)
        grace.cancel()
        if not c.exited.is_set():
            log.info("container %s did not stop within %.0fs: SIGKILL", c.config.name, timeout)
            _killpg(c, signal.SIGKILL)
        await waiter

    def _send_term(self, c: _Container) -> None:
        """SIGTERM, the polite half of a stop (the whole process group here)."""
        _killpg(c, signal.SIGTERM)

    async def remove_container(self, container_id: str) -> None:
        c = self._containers.get(container_id)
        if c is None:
            return
        if c.state == RUNNING:
            await self.stop_container(container_id, 0)
        del self._containers[container_id]

    def container_status(self, container_id: str) -> ContainerStatus:
        return self._get(container_id).status()

    def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]:
        return [c.status() for c in self._containers.values()
                if sandbox_id is None or c.sandbox.id == sandbox_id]

    def _get(self, container_id: str) -> _Container:
        c = self._containers.get(container_id)
        if c is None:
            raise NotFound(f"container {container_id} not found")
        return c

    # -- port-forward ------------------------------------------------------------
    async def port_forward(self, sandbox_id: str, port: int) -> tuple:
        """Connect to the pod's port. Without a network namespace, "inside the pod" is the pod's
        own loopback address (``sb.ip``), where its programs bind."""
        sb = self._sandboxes.get(sandbox_id)
        if sb is None:
            raise NotFound(f"sandbox {sandbox_id} not found")
        try:
            return await asyncio.wait_for(asyncio.open_connection(sb.ip, port), 10)
        except (OSError, asyncio.TimeoutError) as e:
            err = e if isinstance(e, OSError) else TimeoutError()
            raise RuntimeError_("PortForwardFailed", port_forward_error(
                f"host (no network namespace; pod address {sb.ip})", sandbox_id, port,
                dial_error("tcp4", f"{sb.ip}:{port}", err), None)) from None

    # -- exec, stats -----------------------------------------------------------
    def container_stdin(self, container_id: str) -> ExecProcess | None:
        c = self._get(container_id)
        if c.proc is None or not c.config.stdin:
            return None
        if c.pty is not None:
            return c.pty
        return SubprocessExec(c.proc) if c.proc.stdin is not None else None

    async def exec(self, container_id: str, cmd: list[str], stdin: bool,
                   tty: bool = False) -> ExecProcess:
        c = self._get(container_id)
        if c.state != RUNNING:
            raise RuntimeError_("ContainerNotRunning",
                                f"container {c.config.name} is not running")
        env = dict(c.env)
        if tty:
            try:
                return await ptyexec.spawn(cmd, env=env, cwd=c.cwd)
            except OSError as e:
                return FailedExec(f'exec: "{cmd[0]}": {e.strerror or e}\r\n'.encode(), channel=1)
        try:
            proc = await asyncio.create_subprocess_exec(
                *cmd, stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                env=env, cwd=c.cwd, start_new_session=True)
        except OSError as e:
            return FailedExec(f'exec: "{cmd[0]}": {e.strerror or e}\n'.encode())
        return SubprocessExec(proc)

    async def exec_sync(self, container_id: str, cmd: list[str], timeout: float) -> ExecResult:
        p = await self.exec(container_id, cmd, stdin=False)
        out: dict[int, bytearray] = {1: bytearray(), 2: bytearray()}

        async def collect() -> int:
            async for ch, data in p.output():
                out[ch] += data
            return await p.wait()
        try:
            rc = await asyncio.wait_for(collect(), timeout)
        except asyncio.TimeoutError:
            await p.kill()
            raise
        return ExecResult(rc, bytes(out[1]), bytes(out[2]))

    def container_stats(self, container_id: str) -> Usage:
        c = self._get(container_id)
        u = Usage(timestamp=self.clock.time())
        if c.state != RUNNING or not c.proc:
            return u
        ticks, rss = procfs.group_usage(c.proc.pid)
        u.cpu_usage_core_nanoseconds = ticks * 1_000_000_000 // _CLK_TCK
        u.memory_working_set_bytes = rss
        return u


class SubprocessExec(ExecProcess):
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def write_stdin(self, data: bytes) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.write(data)
            try:
                await self.proc.stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                pass

    async def close_stdin(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()

    async def output(self) -> AsyncIterator[tuple[int, bytes]]:
        queue: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()

        async def read(ch: int, r: asyncio.StreamReader) -> None:
            while True:
                data = await r.read(65536)
                if not data:
                    break
                await queue.put((ch, data))
            await queue.put(None)
        tasks = [asyncio.create_task(read(1, self.proc.stdout)),
                 asyncio.create_task(read(2, self.proc.stderr))]
        done = 0
        try:
            while done < 2:
                item = await queue.get()
                if item is None:
                    done += 1
                else:
                    yield item
        finally:
            for t in tasks:
                t.cancel()

    async def wait(self) -> int:
        return exit_code_of(await self.proc.wait())

    async def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        await self.proc.wait()


class FailedExec(ExecProcess):
    """An exec whose command could not start: its error on stderr, exit code 126/127 like a shell."""

    def __init__(self, message: bytes, code: int = 127, channel: int = 2) -> None:
        self.message, self.code, self.channel = message, code, channel   # 1 on a TTY (no stderr)

    async def write_stdin(self, data: bytes) -> None:
        pass

    async def close_stdin(self) -> None:
        pass

    async def output(self) -> AsyncIterator[tuple[int, bytes]]:
        yield self.channel, self.message

    async def wait(self) -> int:
        return self.code

    async def kill(self) -> None:
        pass


def _killpg(c: _Container, sig: int) -> None:
    if c.proc is None:
        return
    procfs.kill_group(c.proc.pid, sig)
