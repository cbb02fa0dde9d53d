"""``pods/exec`` from a client: the WebSocket remotecommand protocol (upstream: client-go's
``tools/remotecommand``, what ``kubectl exec`` uses).

The client opens ``GET /api/v1/namespaces/{ns}/pods/{name}/exec?command=...&stdin=true&
stdout=true&tty=true`` as a WebSocket with the subprotocol ``v5.channel.k8s.io`` (or v4).
Every binary message starts with a channel byte: 0 stdin (client to server), 1 stdout,
2 stderr (none with a TTY: the terminal merges them), 3 the final ``Status`` (``Success``,
or ``Failure`` with reason ``NonZeroExitCode`` and an ``ExitCode`` cause), 4 resize
(client to server, ``{"Width":W,"Height":H}``), and in v5 255 close (``\\xff\\x00``: no
more stdin).
"""

from __future__ import annotations

import json
from typing import Any, AsyncIterator, Awaitable, Callable
from urllib.parse import quote

import aiohttp

from kubetui.api.errors import InternalError, StatusError

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")


def exec_params(command: list[str], *, container: str | None, stdin: bool, tty: bool) -> list[tuple[str, str]]:
    """The query kubectl sends (``stderr`` only without a TTY).

    >>> exec_params(["sh"], container=None, stdin=True, tty=True)
    [('command', 'sh'), ('stdin', 'true'), ('stdout', 'true'), ('tty', 'true')]
    """
    q = [("command", c) for c in command]
    if container:
        q.append(("container", container))
    if stdin:
        q.append(("stdin", "true"))
    q.append(("stdout", "true"))
    q.append(("tty", "true") if tty else ("stderr", "true"))
    return q


def exit_code(status: dict[str, Any] | None) -> int:
    """The command's exit code from the channel-3 ``Status``.

    >>> exit_code({"status": "Success"})
    0
    >>> exit_code({"status": "Failure", "reason": "NonZeroExitCode",
    ...            "details": {"causes": [{"reason": "ExitCode", "message": "7"}]}})
    7
    """
    if not status or status.get("status") == "Success":
        return 0
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            return int(cause.get("message") or 1)
    raise StatusError.from_status({"code": status.get("code") or 500, "reason": status.get("reason", ""),
                                   "message": status.get("message", "exec failed")})


class ExecStream:
    """One running exec: write stdin, resize the terminal, read output until the command ends."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        #: coroutines to run on ``close`` (e.g. closing a client made for this exec)
        self.on_close: list[Callable[[], Awaitable[Any]]] = []
        self.v5 = ws.protocol == "v5.channel.k8s.io"
        #: the final Status (channel 3), once the command has ended
        self.status: dict[str, Any] | None = None

    async def write(self, data: bytes) -> None:
        if data and not self.ws.closed:
            await self.ws.send_bytes(bytes([STDIN]) + data)

    async def resize(self, width: int, height: int) -> None:
        if not self.ws.closed:
            await self.ws.send_bytes(bytes([RESIZE]) + json.dumps({"Width": width, "Height": height}).encode())

    async def close_stdin(self) -> None:
        if self.v5 and not self.ws.closed:
            await self.ws.send_bytes(bytes([CLOSE, STDIN]))

    async def output(self) -> AsyncIterator[tuple[int, bytes]]:
        """``(1 | 2, data)`` until the server closes; the Status is then in ``status``."""
        async for msg in self.ws:
            if msg.type not in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
                break
            raw = msg.data if isinstance(msg.data, bytes) else msg.data.encode()
            if not raw:
                continue
            channel, data = raw[0], raw[1:]
            if channel == ERROR:
                self.status = json.loads(data or b"{}")
            elif channel in (STDOUT, STDERR) and data:
                yield channel, data

    def exit_code(self) -> int:
        return exit_code(self.status)

    async def close(self) -> None:
        await self.ws.close()
        for fn in self.on_close:
            await fn()
        self.on_close.clear()


async def open_exec(session: aiohttp.ClientSession, server: str, namespace: str, pod: str,
                    command: list[str], *, container: str | None = None, stdin: bool = True,
                    tty: bool = True) -> ExecStream:
    """Start ``command`` in a pod's container; a refusal raises the server's ``Status``."""
    url = f"{server}/api/v1/namespaces/{quote(namespace, safe='')}/pods/{quote(pod, safe='')}/exec"
    try:
        ws = await session.ws_connect(url, params=exec_params(command, container=container, stdin=stdin, tty=tty),
                                      protocols=PROTOCOLS, autoping=True, max_msg_size=0)
    except aiohttp.WSServerHandshakeError as exc:
        raise StatusError.from_status({"code": exc.status, "reason": "",
                                       "message": f"cannot exec in pod {pod}: {exc.message}"}) from None
    except aiohttp.ClientError as exc:
        raise InternalError(f"cannot reach the API server at {server}: {exc}") from exc
    return ExecStream(ws)
