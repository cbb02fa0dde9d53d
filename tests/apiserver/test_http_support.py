"""Shared helpers for the API server's HTTP tests: a real server on an
ephemeral 127.0.0.1 port over a real Store + Registry, the real kubectl run
as a subprocess (never blocking the event loop), and a fake kubelet
connector whose exec/logs behave like a tiny shell.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator

from kubetui.apiserver.auth import TokenAuthenticator
from kubetui.apiserver.certs import ensure_pki
from kubetui.apiserver.registry import Registry
from kubetui.apiserver.server import APIServer
from kubetui.client.kubeconfig import write_kubeconfig
from kubetui.clock import Clock
from kubetui.store import Store


def kubectl_path() -> str:
    here = Path(sys.executable).parent / "kubectl"
    if here.exists():
        return str(here)
    return shutil.which("kubectl") or "/work/venv/bin/kubectl"


class FakeExec:
    """A command run by the fake kubelet: ``echo``, ``cat`` (stdin), ``exit N``, ``err TEXT``."""

    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.out: asyncio.Queue = asyncio.Queue()
        self.code: asyncio.Future = asyncio.get_running_loop().create_future()
        self.stdin_done = asyncio.Event()
        self.closed = False
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        cmd = self.command
        if cmd and cmd[0] == "sh" and len(cmd) >= 3 and cmd[1] == "-c":
            cmd = shlex.split(cmd[2])
        name, args = (cmd[0], cmd[1:]) if cmd else ("", [])
        code = 0
        if name == "echo":
            self.out.put_nowait((1, (" ".join(args) + "\n").encode()))
        elif name == "cat":
            await self.stdin_done.wait()
        elif name == "err":
            self.out.put_nowait((2, (" ".join(args) + "\n").encode()))
            code = 1
        elif name == "exit":
            code = int(args[0])
        else:
            self.out.put_nowait((2, f"{name}: command not found\n".encode()))
            code = 127
        self.out.put_nowait(None)
        self.code.set_result(code)

    async def read(self):
        return await self.out.get()

    async def write(self, data: bytes) -> None:
        if self.command[:1] == ["cat"]:
            self.out.put_nowait((1, data))

    async def close_stdin(self) -> None:
        self.stdin_done.set()

    async def exit_code(self) -> int:
        return await self.code

    async def resize(self, width: int, height: int) -> None:
        pass

    async def close(self) -> None:
        self.closed = True
        self._task.cancel()


@dataclass
class FakeConnector:
    """Stands in for the kubelets: logs are ``line 1..N``; exec runs ``FakeExec``."""

    lines: int = 5
    sessions: list[FakeExec] = field(default_factory=list)

    async def logs(self, pod: dict, container: str, *, follow: bool = False, tail_lines: int | None = None,
                   previous: bool = False, timestamps: bool = False, since_seconds: int | None = None,
                   limit_bytes: int | None = None) -> AsyncIterator[bytes]:
        lines = [f"{pod['metadata']['name']}/{container} line {i}\n" for i in range(1, self.lines + 1)]
        if tail_lines is not None:
            lines = lines[-tail_lines:] if tail_lines else []
        for line in lines:
            yield line.encode()

    async def exec(self, pod: dict, container: str, command: list[str], *, stdin: bool, tty: bool) -> FakeExec:
        s = FakeExec(command)
        self.sessions.append(s)
        return s


@dataclass
class HTTPCluster:
    server: APIServer
    registry: Registry
    store: Store
    state_dir: Path
    kubeconfig: Path
    token: str
    connector: FakeConnector

    async def kubectl(self, *args: str, stdin: bytes | None = None, timeout: float = 30.0) -> tuple[int, str, str]:
        env = dict(os.environ, KUBECACHEDIR=str(self.state_dir / "kubecache"), HOME=str(self.state_dir))
        proc = await asyncio.create_subprocess_exec(
            kubectl_path(), f"--kubeconfig={self.kubeconfig}", f"--cache-dir={self.state_dir / 'kubecache'}",
            *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env)
        try:
            out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            raise AssertionError(f"kubectl {' '.join(args)} did not finish in {timeout}s") from None
        return proc.returncode, out.decode(), err.decode()

    async def stop(self) -> None:
        await self.server.stop()
        await self.store.close()


async def start_cluster(state_dir: Path, *, store_path: Path | None = None, clock: Clock | None = None,
                        port: int = 0, metrics_source=None, history_events: int = 10_000,
                        history_seconds: float = 300,
                        node_connector: object | None = "fake", audit=None) -> HTTPCluster:
    clock = clock or Clock()
    store = Store(store_path, history_events=history_events, history_seconds=history_seconds, clock=clock)
    await store.open()
    registry = Registry(store, clock=clock)
    await registry.bootstrap()
    pki = ensure_pki(state_dir, "test")
    auth = TokenAuthenticator.for_state_dir(state_dir)
    connector = FakeConnector()
    server = APIServer(registry, port=port, ssl_context=pki.server_ssl_context(), authenticator=auth,
                       node_connector=connector if node_connector == "fake" else node_connector, clock=clock, metrics_source=metrics_source,
                       audit=audit)
    await server.start()
    kubeconfig = write_kubeconfig(state_dir / "kubeconfig", "test", server.url, pki.ca_pem(), auth.admin_token())
    return HTTPCluster(server, registry, store, state_dir, kubeconfig, auth.admin_token(), connector)
