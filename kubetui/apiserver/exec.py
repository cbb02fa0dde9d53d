"""``pods/exec`` and ``pods/log``: the API server as a proxy to the kubelet.

Upstream: ``pkg/registry/core/pod/rest/subresources.go`` finds the pod's
node and forwards the request to the kubelet's ``/exec`` and
``/containerLogs`` endpoints. kubetui does the same through a
``NodeConnector`` that the cluster supplies (it knows how to reach each
node's kubelet); without one, these requests get a ``Status`` that says so.

Exec speaks the WebSocket remotecommand protocol kubectl uses
(``v5.channel.k8s.io``, also ``v4``): every binary frame starts with a
channel byte, 0 stdin, 1 stdout, 2 stderr, 3 error/status (a ``Status``
JSON: ``Success``, or ``Failure`` with reason ``NonZeroExitCode`` and the
exit code as a cause), 4 resize, and in v5 255 "close", whose payload
names the channel the client has finished writing (``\\xff\\x00`` = stdin EOF).
Clients may send their frames as binary or as text (the channel is then the
text's first character), as upstream accepts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import AsyncIterator, Protocol

from aiohttp import WSMsgType, web

from kubetui.api.errors import BadRequest, ServiceUnavailable, StatusError

log = logging.getLogger(__name__)

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")


class ExecSession(Protocol):
    """A running command in a container, as a node connector returns it."""

    async def read(self) -> tuple[int, bytes] | None:
        """The next output chunk as ``(1 stdout | 2 stderr, data)``; ``None`` once both are done."""
        ...

    async def write(self, data: bytes) -> None:
        """Feed the command's stdin."""
        ...

    async def close_stdin(self) -> None:
        """EOF on the command's stdin."""
        ...

    async def exit_code(self) -> int:
        """Wait for the command to end and return its exit code."""
        ...

    async def resize(self, width: int, height: int) -> None:
        """Terminal size changed (TTY sessions; may ignore)."""
        ...

    async def close(self) -> None:
        """Kill the command if still running and release resources."""
        ...


class NodeConnector(Protocol):
    """How the API server reaches a node's kubelet (supplied by the cluster).

    ``pod`` is the full Pod object (``spec.nodeName`` says which node);
    ``container`` is already resolved to a name in ``pod.spec.containers``.
    Raise a ``kubetui.api.errors.StatusError`` (e.g. ``ServiceUnavailable``)
    when the node cannot be reached: the client sees it as a ``Status``.
    """

    def logs(self, pod: dict, container: str, *, follow: bool = False, tail_lines: int | None = None,
             previous: bool = False, timestamps: bool = False, since_seconds: int | None = None,
             limit_bytes: int | None = None) -> AsyncIterator[bytes]:
        """The container's log, as kubelet's ``/containerLogs`` serves it (an async generator)."""
        ...

    async def exec(self, pod: dict, container: str, command: list[str], *, stdin: bool,
                   tty: bool) -> ExecSession:
        """Start ``command`` in the container (kubelet's ``/exec``)."""
        ...

    async def attach(self, pod: dict, container: str, *, stdin: bool, tty: bool) -> ExecSession:
        """Attach to the container's main process (kubelet's ``/attach``): its output from
        now on and, if its spec has ``stdin: true``, its stdin. ``exit_code`` is the
        container's when it ends."""
        ...


def pick_container(pod: dict, requested: str | None) -> str:
    """``container=`` or the only container; upstream's errors otherwise."""
    name = pod["metadata"]["name"]
    containers = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
    inits = [c["name"] for c in (pod.get("spec") or {}).get("initContainers") or []]
    ephemeral = [c["name"] for c in (pod.get("spec") or {}).get("ephemeralContainers") or []]
    if requested:
        if requested not in containers and requested not in inits and requested not in ephemeral:
            raise BadRequest(f"container {requested} is not valid for pod {name}")
        return requested
    if len(containers) == 1:
        return containers[0]
    raise BadRequest(f"a container name must be specified for pod {name}, "
                     f"choose one of: [{' '.join(containers)}]"
                     + (f" or one of the init containers: [{' '.join(inits)}]" if inits else "")
                     + (f" or one of the ephemeral containers: [{' '.join(ephemeral)}]" if ephemeral else ""))


def require_node(pod: dict, connector: NodeConnector | None, what: str) -> NodeConnector:
    name = pod["metadata"]["name"]
    if not (pod.get("spec") or {}).get("nodeName"):
        raise BadRequest(f"pod {name} does not have a host assigned")
    if connector is None:
        raise ServiceUnavailable(
            f"cannot {what} pod {name}: this API server has no connection to kubelets "
            f"(no node connector configured), so it cannot reach node {pod['spec']['nodeName']}")
    return connector


def _not_websocket(pod: dict, container: str, what: str) -> BadRequest:
    """The refusal of a SPDY exec/attach. kubectl tries a WebSocket first and falls back
    to SPDY only when that upgrade was refused, e.g. because the container had already
    exited (``kubectl run -i --rm`` of a quick command): then the reason the kubelet gave
    the first time, not "no SPDY", is what the user must read (``warning: couldn't attach
    to pod/x, falling back to streaming logs: unable to upgrade connection: container not
    found ("x")``, as upstream prints it)."""
    statuses = [*((pod.get("status") or {}).get("containerStatuses") or []),
                *((pod.get("status") or {}).get("ephemeralContainerStatuses") or [])]
    status = next((s for s in statuses if s.get("name") == container), None)
    if status is None or not (status.get("state") or {}).get("running"):
        return BadRequest(f'container not found ("{container}")')
    return BadRequest(f"{what} needs a WebSocket upgrade (subprotocol v5.channel.k8s.io); "
                      "SPDY is not supported by kubetui")


def _bool(q, key: str) -> bool:
    return q.get(key, "false").lower() in ("true", "1")


async def serve_logs(request: web.Request, pod: dict, connector: NodeConnector | None) -> web.StreamResponse:
    q = request.query
    conn = require_node(pod, connector, "get logs of")
    container = pick_container(pod, q.get("container"))

    def opt_int(key: str) -> int | None:
        if key not in q:
            return None
        try:
            return int(q[key])
        except ValueError:
            raise BadRequest(f"{key}: invalid integer {q[key]!r}") from None

    chunks = conn.logs(pod, container, follow=_bool(q, "follow"), tail_lines=opt_int("tailLines"),
                       previous=_bool(q, "previous"), timestamps=_bool(q, "timestamps"),
                       since_seconds=opt_int("sinceSeconds"), limit_bytes=opt_int("limitBytes"))
    it = chunks.__aiter__()
    # Read the first chunk before answering 200, so "container not found" and
    # friends still reach the client as a proper Status.
    try:
        first = await it.__anext__()
    except StopAsyncIteration:
        first = b""
    resp = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    try:
        if first:
            await resp.write(first)
        async for chunk in it:
            await resp.write(chunk)
        await resp.write_eof()
    except ConnectionResetError:
        pass
    except StatusError as exc:
        # the 200 is already sent: end the stream with the reason, as the kubelet would
        log.warning("log stream of pod %s ended: %s", pod["metadata"]["name"], exc.message)
        await resp.write(f"\nerror: {exc.message}\n".encode())
        await resp.write_eof()
    finally:
        aclose = getattr(it, "aclose", None)
        if aclose is not None:
            await aclose()
    return resp


def exit_status(code: int, command: list[str] | None = None) -> dict:
    """The channel-3 ``Status`` for a finished command."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command "
                       f"[{' '.join(command or [])}], exit code {code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


async def serve_exec(request: web.Request, pod: dict, connector: NodeConnector | None) -> web.StreamResponse:
    q = request.query
    command = q.getall("command", [])
    if not command:
        raise BadRequest("you must specify at least 1 command")
    conn = require_node(pod, connector, "exec into")
    container = pick_container(pod, q.get("container"))
    if request.headers.get("Upgrade", "").lower() != "websocket":
        raise _not_websocket(pod, container, "exec")
    want_stdin, tty = _bool(q, "stdin"), _bool(q, "tty")
    session = await conn.exec(pod, container, list(command), stdin=want_stdin, tty=tty)
    return await _stream(request, session, tty, list(command))


async def serve_attach(request: web.Request, pod: dict, connector: NodeConnector | None) -> web.StreamResponse:
    """``pods/attach``: the same channels as exec, to the container's main process.

    kubectl checks the container spec itself (``stdin``/``tty``) and warns; the
    server streams what the container prints from now on, feeds its stdin when the
    spec keeps one open, and ends with ``Success`` on channel 3 when the container
    exits (attach reports no exit code: ``kubectl run`` reads it from the pod).
    """
    q = request.query
    conn = require_node(pod, connector, "attach to")
    container = pick_container(pod, q.get("container"))
    if request.headers.get("Upgrade", "").lower() != "websocket":
        raise _not_websocket(pod, container, "attach")
    want_stdin, tty = _bool(q, "stdin"), _bool(q, "tty")
    session = await conn.attach(pod, container, stdin=want_stdin, tty=tty)
    return await _stream(request, session, tty, None)


async def _stream(request: web.Request, session: ExecSession, tty: bool,
                  command: list[str] | None) -> web.StreamResponse:
    """Relay a session over the remotecommand WebSocket (``command`` None: attach)."""

    ws = web.WebSocketResponse(protocols=PROTOCOLS, autoping=True)
    await ws.prepare(request)
    v5 = ws.ws_protocol == "v5.channel.k8s.io"
    if not ws.ws_protocol:
        log.info("exec client offered no known subprotocol; speaking v4 framing")

    async def client_to_command() -> None:
        async for msg in ws:
            # Binary frames (kubectl) or TEXT frames whose first character is the channel
            # (the official Python client's write_stdin("...")): kube-apiserver's wsstream
            # reads both into bytes, and so do we.
            if msg.type == WSMsgType.TEXT:
                raw = msg.data.encode("utf-8")
            elif msg.type == WSMsgType.BINARY:
                raw = msg.data
            else:
                continue
            if not raw:
                continue
            channel, data = raw[0], raw[1:]
            if channel == STDIN and data:
                await session.write(data)
            elif channel == CLOSE and v5 and data[:1] == bytes([STDIN]):
                await session.close_stdin()
            elif channel == RESIZE:
                try:
                    size = json.loads(data)
                    await session.resize(int(size.get("Width", 0)), int(size.get("Height", 0)))
                except (ValueError, AttributeError):
                    pass
        # WebSocket closed by the client: no more stdin. A terminal nobody is at any more
        # is hung up (the kubelet then kills its session), as when kubectl dies; an
        # attach only detaches (the container goes on).
        if command is None and ws.closed:
            await session.close()
        elif tty and command is not None:
            await session.close()
        else:
            await session.close_stdin()

    reader = asyncio.create_task(client_to_command(), name="exec-stdin")
    try:
        while True:
            out = await session.read()
            if out is None:
                break
            stream, data = out
            if data:
                await ws.send_bytes(bytes([stream]) + data)
        code = await session.exit_code()
        status = exit_status(code, command) if command is not None else exit_status(0)
        await ws.send_bytes(bytes([ERROR]) + json.dumps(status).encode())
    except StatusError as exc:
        if not ws.closed:
            with contextlib.suppress(ConnectionResetError):
                await ws.send_bytes(bytes([ERROR]) + json.dumps(exc.status()).encode())
    except ConnectionResetError:
        pass
    finally:
        reader.cancel()
        try:
            await reader
        except (asyncio.CancelledError, Exception):  # noqa: BLE001
            pass
        await session.close()
        await ws.close()
    return ws
