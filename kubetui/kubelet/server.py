"""The kubelet's own API, which the API server calls (upstream: ``pkg/kubelet/server/server.go``).

``kubectl logs`` and ``kubectl exec`` never reach a node directly: the API
server proxies them to the kubelet of the pod's node, on port 10250. The
endpoints keep upstream's paths:

- ``GET /containerLogs/{ns}/{pod}/{container}?follow=&tailLines=&previous=&timestamps=&sinceSeconds=&limitBytes=``
  streams the log as text (chunked);
- ``POST /exec/{ns}/{pod}/{container}?command=...&command=...&stdin=&tty=`` with
  ``Connection: Upgrade``/``Upgrade: kubetui-exec/1``: after ``101 Switching
  Protocols`` both sides send frames ``[channel: 1 byte][length: 4 bytes,
  big-endian][payload]``. Channels as in Kubernetes' remotecommand: 0 stdin,
  1 stdout, 2 stderr, 3 the end (JSON ``{"exitCode": N}`` or ``{"error": msg}``),
  4 resize (JSON ``{"Width": W, "Height": H}``: the TTY's new size), 255 close
  stdin. With ``tty=true`` the command runs on a pseudo-terminal
  (``runtime/tty.py``) and all its output comes on channel 1. (Upstream speaks SPDY/WebSocket here;
  a plain framing keeps this stdlib-only.)
- ``POST /attach/{ns}/{pod}/{container}?stdin=&stdout=&stderr=&tty=``, upgraded the
  same way: the container's main process, output from now on plus its stdin pipe
  when the spec has ``stdin: true``; channel 3 ends it when the container exits.
- ``POST /portForward/{ns}/{pod}?port=N`` with ``Upgrade: kubetui-portforward/1``:
  the kubelet connects to ``localhost:N`` inside the pod's network namespace
  (the runtime's ``port_forward``, as CRI ``PortForward``), answers ``101``
  and then relays raw bytes both ways, one TCP connection per forwarded
  connection (the API server multiplexes them for the client). A refused
  connection is a ``500`` before the upgrade, worded as upstream's
  ``error forwarding port N to pod <sandbox>, uid : ...``.
- ``GET /stats/summary``: the Summary API that metrics-server reads
  (``kubectl top``);
- ``GET /pods``: the pods this kubelet runs; ``GET /healthz``.

Every request but ``/healthz`` needs ``Authorization: Bearer <node token>``:
the node's own API token, which the API server knows. (Upstream uses TLS
client certificates; the node network is local to the machine here, and the
stdlib cannot mint certificates.)
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import struct
import urllib.parse
from typing import TYPE_CHECKING

from kubetui.kubelet import stats
from kubetui.kubelet.timefmt import parse
from kubetui.runtime import logs as crilogs
from kubetui.runtime.cri import RUNNING, RuntimeError_

if TYPE_CHECKING:
    from kubetui.kubelet.kubelet import Kubelet

log = logging.getLogger(__name__)

EXEC_PROTOCOL = "kubetui-exec/1"
PORTFORWARD_PROTOCOL = "kubetui-portforward/1"
STDIN, STDOUT, STDERR, END, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


def frame(channel: int, payload: bytes) -> bytes:
    return struct.pack(">BI", channel, len(payload)) + payload


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes] | None:
    try:
        head = await reader.readexactly(5)
        channel, n = struct.unpack(">BI", head)
        return channel, await reader.readexactly(n)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None


class HTTPError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


_PHRASES = {200: "OK", 101: "Switching Protocols", 400: "Bad Request", 401: "Unauthorized",
            404: "Not Found", 500: "Internal Server Error"}


class KubeletServer:
    def __init__(self, kubelet: "Kubelet", host: str, port: int, token: str | None) -> None:
        self.k = kubelet
        self.host, self.port = host, port
        self.token = token
        self._server: asyncio.base_events.Server | None = None
        self.stats = stats.StatsProvider(kubelet)

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("kubelet server listening on %s:%d", self.host, self.port)
        return self.port

    async def close(self) -> None:
        if self._server:
            self._server.close()
            await self._server.wait_closed()

    # -- HTTP plumbing -------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            if not line:
                return
            method, target, _ = line.decode("latin-1").split(" ", 2)
            headers: dict[str, str] = {}
            while True:
                h = await reader.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                k, _, v = h.decode("latin-1").partition(":")
                headers[k.strip().lower()] = v.strip()
            url = urllib.parse.urlsplit(target)
            q = urllib.parse.parse_qs(url.query)
            parts = [urllib.parse.unquote(p) for p in url.path.strip("/").split("/")]
            try:
                if parts != ["healthz"]:
                    self._authenticate(headers.get("authorization", ""))
                await self._route(method, parts, q, headers, reader, writer)
            except HTTPError as e:
                await self._send_json(writer, e.code, {"kind": "Status", "apiVersion": "v1",
                                                       "status": "Failure", "code": e.code,
                                                       "reason": e.reason, "message": e.message})
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        except Exception:  # a loop boundary: one bad request must not kill the server
            log.exception("kubelet server request failed")
        finally:
            try:
                writer.close()
            except Exception:  # noqa: BLE001
                pass

    def _authenticate(self, header: str) -> None:
        if self.token is None:
            return
        presented = header[len("Bearer "):].strip() if header.startswith("Bearer ") else ""
        if not hmac.compare_digest(presented.encode(), self.token.encode()):
            raise HTTPError(401, "Unauthorized", "Unauthorized")

    async def _send_json(self, writer: asyncio.StreamWriter, code: int, obj) -> None:
        body = json.dumps(obj).encode()
        writer.write(f"HTTP/1.1 {code} {_PHRASES.get(code, 'Error')}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        await writer.drain()

    async def _route(self, method, parts, q, headers, reader, writer) -> None:
        if parts == ["healthz"]:
            return await self._send_json(writer, 200, "ok")
        if parts == ["stats", "summary"]:
            return await self._send_json(writer, 200, self.stats.summary())
        if parts == ["pods"]:
            return await self._send_json(writer, 200, {
                "kind": "PodList", "apiVersion": "v1", "metadata": {},
                "items": [w.pod for w in self.k.workers.values()]})
        if len(parts) == 4 and parts[0] == "containerLogs" and method == "GET":
            return await self._logs(parts[1], parts[2], parts[3], q, writer)
        if len(parts) == 4 and parts[0] == "exec" and method in ("POST", "GET"):
            return await self._exec(parts[1], parts[2], parts[3], q, headers, reader, writer)
        if len(parts) == 4 and parts[0] == "attach" and method in ("POST", "GET"):
            return await self._attach(parts[1], parts[2], parts[3], q, reader, writer)
        if len(parts) == 3 and parts[0] == "portForward" and method in ("POST", "GET"):
            return await self._port_forward(parts[1], parts[2], q, reader, writer)
        raise HTTPError(404, "NotFound", f"the kubelet has no endpoint {method} /{'/'.join(parts)}")

    def _record(self, ns: str, pod: str, container: str):
        w = self.k.find_pod(ns, pod)
        if w is None:
            raise HTTPError(404, "NotFound", f'pod "{pod}" not found on node {self.k.config.node_name}')
        rec = w.records.get(container)
        if rec is None:
            raise HTTPError(400, "BadRequest", f"container {container} is not valid for pod {pod}")
        return w, rec

    # -- logs ----------------------------------------------------------------
    async def _logs(self, ns: str, pod: str, container: str, q: dict, writer) -> None:
        w, rec = self._record(ns, pod, container)
        flag = lambda k: (q.get(k, ["false"])[0].lower() in ("true", "1"))  # noqa: E731
        num = lambda k: int(q[k][0]) if k in q else None  # noqa: E731
        running = lambda: False  # noqa: E731
        if flag("previous"):
            path = rec.previous_log
            if not path:
                raise HTTPError(400, "BadRequest",
                                f'previous terminated container "{container}" in pod "{pod}" not found')
        else:
            st = w._status_of(rec)
            if st is None:
                why = rec.waiting[0] if rec.waiting else "ContainerCreating"
                raise HTTPError(400, "BadRequest",
                                f'container "{container}" in pod "{pod}" is waiting to start: {why}')
            path = st.log_path
            cid = rec.cid

            def running() -> bool:
                try:
                    return self.k.runtime.container_status(cid).state == RUNNING
                except RuntimeError_:
                    return False
        size = os.path.getsize(path) if os.path.exists(path) else 0
        lines = crilogs.read_lines(path, size)
        since = num("sinceSeconds")
        if since is not None:
            cutoff = self.k.clock.time() - since
            lines = [ln for ln in lines if parse(ln.timestamp[:26] + "Z") >= cutoff]
        lines = crilogs.tail(lines, num("tailLines"))
        limit = num("limitBytes")
        ts = flag("timestamps")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
                     b"Connection: close\r\n\r\n")
        sent = 0

        async def send(data: bytes) -> bool:
            nonlocal sent
            if limit is not None:
                data = data[:max(0, limit - sent)]
            if data:
                writer.write(b"%x\r\n%s\r\n" % (len(data), data))
                await writer.drain()
                sent += len(data)
            return limit is None or sent < limit

        ok = await send(b"".join(ln.render(ts) for ln in lines))
        if ok and flag("follow"):
            async for ln in crilogs.follow(path, size, running):
                if not await send(ln.render(ts)):
                    break
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    # -- exec ----------------------------------------------------------------
    async def _exec(self, ns, pod, container, q, headers, reader, writer) -> None:
        w, rec = self._record(ns, pod, container)
        command = q.get("command") or []
        if not command:
            raise HTTPError(400, "BadRequest", "you must specify at least 1 command")
        st = w._status_of(rec)
        if st is None or st.state != RUNNING:
            raise HTTPError(400, "BadRequest",
                            f"unable to upgrade connection: container not found (\"{container}\")")
        want_stdin = q.get("stdin", ["false"])[0].lower() in ("true", "1")
        tty = q.get("tty", ["false"])[0].lower() in ("true", "1")
        proc = await self.k.runtime.exec(rec.cid, command, want_stdin, tty=tty)
        writer.write(f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: {EXEC_PROTOCOL}\r\n"
                     f"Connection: Upgrade\r\n\r\n".encode())
        await writer.drain()

        async def pump_stdin() -> None:
            while True:
                f = await read_frame(reader)
                if f is None:
                    if tty:
                        # The client went away: nobody is at this terminal any more
                        # (a shell in it would wait for input forever).
                        await proc.kill()
                    else:
                        await proc.close_stdin()
                    return
                ch, data = f
                if ch == STDIN and data:
                    await proc.write_stdin(data)
                elif ch == CLOSE:
                    await proc.close_stdin()
                elif ch == RESIZE:
                    try:
                        size = json.loads(data)
                        await proc.resize(int(size.get("Width", 0)), int(size.get("Height", 0)))
                    except (ValueError, AttributeError, TypeError):
                        log.debug("bad resize message on exec stream: %r", data[:80])
        stdin_task = asyncio.create_task(pump_stdin())
        try:
            async for ch, data in proc.output():
                writer.write(frame(ch, data))
                await writer.drain()
            code = await proc.wait()
            writer.write(frame(END, json.dumps({"exitCode": code}).encode()))
            await writer.drain()
        except ConnectionError:
            await proc.kill()
        finally:
            stdin_task.cancel()

    # -- attach --------------------------------------------------------------
    async def _attach(self, ns, pod, container, q, reader, writer) -> None:
        """Attach to the container's main process (upstream: CRI ``Attach``).

        Output is the process's stdout/stderr from now on: the kubelet follows what the
        runtime writes to the container's log (the same bytes the process prints).
        Stdin, when the spec says ``stdin: true``, is the pipe the runtime kept open when it
        started the container; with ``stdinOnce`` it is closed when the first attach
        session that used it ends (what ``kubectl run -i`` relies on).
        """
        w, rec = self._record(ns, pod, container)
        st = w._status_of(rec)
        if st is None or st.state != RUNNING:
            raise HTTPError(400, "BadRequest",
                            f"unable to upgrade connection: container not found (\"{container}\")")
        pod_spec = w.pod.get("spec") or {}
        spec = next((c for c in [*(pod_spec.get("containers") or []), *(pod_spec.get("ephemeralContainers") or [])]
                     if c.get("name") == container), {})
        want_stdin = q.get("stdin", ["false"])[0].lower() in ("true", "1")
        cid = rec.cid
        stdin = self.k.runtime.container_stdin(cid) if want_stdin and spec.get("stdin") else None
        writer.write(f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: {EXEC_PROTOCOL}\r\n"
                     f"Connection: Upgrade\r\n\r\n".encode())
        await writer.drain()

        closed = False

        async def close_stdin_once() -> None:
            nonlocal closed
            if stdin is not None and spec.get("stdinOnce") and not closed:
                closed = True
                await stdin.close_stdin()

        async def pump_stdin() -> None:
            while True:
                f = await read_frame(reader)
                if f is None:
                    await close_stdin_once()
                    return
                ch, data = f
                if stdin is None or closed:
                    continue
                if ch == STDIN and data:
                    await stdin.write_stdin(data)
                elif ch == CLOSE:
                    await close_stdin_once()
                elif ch == RESIZE:
                    try:
                        size = json.loads(data)
                        await stdin.resize(int(size.get("Width", 0)), int(size.get("Height", 0)))
                    except (ValueError, AttributeError, TypeError):
                        log.debug("bad resize message on attach stream: %r", data[:80])

        def running() -> bool:
            try:
                return self.k.runtime.container_status(cid).state == RUNNING
            except RuntimeError_:
                return False
        path = st.log_path
        size = os.path.getsize(path) if os.path.exists(path) else 0
        async def relay_output() -> None:
            async for ln in crilogs.follow(path, size, running):
                writer.write(frame(2 if ln.stream == "stderr" else 1, ln.render(False)))
                await writer.drain()
            try:
                code = self.k.runtime.container_status(cid).exit_code
            except RuntimeError_:
                code = 0  # already removed (a restart): it ended; attach reports no exit code anyway
            writer.write(frame(END, json.dumps({"exitCode": code}).encode()))
            await writer.drain()

        stdin_task = asyncio.create_task(pump_stdin())
        out_task = asyncio.create_task(relay_output())
        try:
            # Ends when the container does, or when the client detaches (EOF on the
            # stream): the container goes on either way.
            await asyncio.wait({stdin_task, out_task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (stdin_task, out_task):
                t.cancel()
            for t in (stdin_task, out_task):
                with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                    await t
            await close_stdin_once()

    # -- port-forward ----------------------------------------------------------
    async def _port_forward(self, ns, pod, q, reader, writer) -> None:
        w = self.k.find_pod(ns, pod)
        if w is None:
            raise HTTPError(404, "NotFound", f'pod "{pod}" not found on node {self.k.config.node_name}')
        raw = (q.get("port") or [""])[0]
        try:
            port = int(raw)
            if not 0 < port < 65536:
                raise ValueError
        except ValueError:
            raise HTTPError(400, "BadRequest", f"unable to parse '{raw}' as a port") from None
        sb = w.sandbox
        if sb is None or w.terminal:
            raise HTTPError(400, "BadRequest",
                            "unable to forward port because pod is not running. Current status="
                            + str((w.pod.get("status") or {}).get("phase") or "Pending"))
        try:
            pod_r, pod_w = await self.k.runtime.port_forward(sb.id, port)
        except RuntimeError_ as e:
            # upstream's streaming server: "error forwarding port %d to pod %s, uid %v: %v"
            # (the pod is named by its sandbox id, and the uid is empty there)
            raise HTTPError(500, "InternalError",
                            f"error forwarding port {port} to pod {sb.id}, uid : {e.message}") from None
        writer.write(f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: {PORTFORWARD_PROTOCOL}\r\n"
                     f"Connection: Upgrade\r\n\r\n".encode())
        await writer.drain()
        await relay(reader, writer, pod_r, pod_w)


async def _copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await src.read(65536)
            if not data:
                break
            dst.write(data)
            await dst.drain()
        if dst.can_write_eof():
            dst.write_eof()          # a half-close: the other direction may still be talking
    except (ConnectionError, OSError):
        pass


async def relay(r1: asyncio.StreamReader, w1: asyncio.StreamWriter,
                r2: asyncio.StreamReader, w2: asyncio.StreamWriter) -> None:
    """Copy both ways until both directions have ended, then close both connections."""
    try:
        await asyncio.gather(_copy(r1, w2), _copy(r2, w1))
    finally:
        for w in (w1, w2):
            try:
                w.close()
            except Exception:  # noqa: BLE001
                pass
