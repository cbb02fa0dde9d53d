"""The API server's side of the kubelet API (upstream: ``pkg/kubelet/client`` and the
``pods/log``/``pods/exec`` proxying in ``pkg/registry/core/pod/rest``), plus the metrics
source behind ``kubectl top`` (what metrics-server does).

The API server finds the pod's node, reads where its kubelet listens
(``status.addresses`` InternalIP and ``status.daemonEndpoints.kubeletEndpoint.Port``)
and calls it with the node's token (the kubelet's side: ``kubetui/kubelet/server.py``,
whose framing this module shares). It runs in the control plane, never in nodes.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
import urllib.parse
from typing import Any, AsyncIterator, Awaitable, Callable

from kubetui.api import errors
from kubetui.api.resources import resource_for
from kubetui.kubelet.server import (CLOSE, END, EXEC_PROTOCOL, PORTFORWARD_PROTOCOL, RESIZE, STDIN, frame,
                                    read_frame)

log = logging.getLogger(__name__)

#: the label simulated nodes carry (``kubetui.providers.simulated``; not imported: layers)
SIMULATED_LABEL = "kubetui.dev/simulated"

NodeGetter = Callable[[str], Awaitable[dict]]


def _status_error(code: int, reason: str, message: str):
    return errors.StatusError(message, code=code, reason=reason or "InternalError")


def _unavailable(message: str):
    return errors.ServiceUnavailable(message)


def kubelet_endpoint(node: dict) -> tuple[str, int]:
    """Where a node's kubelet listens, from its Node status."""
    st = node.get("status") or {}
    port = ((st.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or 10250
    addrs = st.get("addresses") or []
    for kind in ("InternalIP", "ExternalIP", "Hostname"):
        for a in addrs:
            if a.get("type") == kind and a.get("address"):
                return a["address"], int(port)
    raise _unavailable(f"node {node['metadata']['name']} reports no address for its kubelet")


class KubeletExecSession:
    """An exec in a container, over the kubelet's framed stream (the ``ExecSession`` protocol)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self._code: int | None = None
        self._error: str | None = None
        self._done = asyncio.Event()

    async def read(self) -> tuple[int, bytes] | None:
        if self._done.is_set():
            return None
        while True:
            f = await read_frame(self.reader)
            if f is None:
                self._error = self._error or "connection to the kubelet closed"
                self._done.set()
                return None
            ch, data = f
            if ch == END:
                info = json.loads(data or b"{}")
                self._code = info.get("exitCode")
                self._error = info.get("error")
                self._done.set()
                return None
            return ch, data

    async def write(self, data: bytes) -> None:
        self.writer.write(frame(STDIN, data))
        await self.writer.drain()

    async def close_stdin(self) -> None:
        try:
            self.writer.write(frame(CLOSE, bytes([STDIN])))
            await self.writer.drain()
        except (ConnectionError, RuntimeError):
            pass

    async def resize(self, width: int, height: int) -> None:
        self.writer.write(frame(RESIZE, json.dumps({"Width": width, "Height": height}).encode()))
        await self.writer.drain()

    async def exit_code(self) -> int:
        while not self._done.is_set():
            if await self.read() is None:
                break
        if self._code is None:
            raise _status_error(500, "InternalError", self._error or "exec ended without an exit code")
        return int(self._code)

    async def close(self) -> None:
        self.writer.close()


class KubeletConnector:
    """Reaches kubelets for logs, exec and stats (``NodeConnector`` of ``kubetui.apiserver.exec``)."""

    def __init__(self, get_node: NodeGetter, token_for_node: Callable[[str], str], *,
                 endpoint: Callable[[dict], tuple[str, int]] = kubelet_endpoint,
                 timeout: float = 5.0) -> None:
        self.get_node = get_node
        self.token_for_node = token_for_node
        self.endpoint = endpoint
        self.timeout = timeout

    @classmethod
    def for_registry(cls, registry: Any, authenticator: Any, **kw: Any) -> "KubeletConnector":
        """Wiring for the control plane: nodes from the registry, tokens from the authenticator."""
        nodes = resource_for("nodes")

        async def get_node(name: str) -> dict:
            return await registry.get(nodes, None, name)
        return cls(get_node, authenticator.node_token, **kw)

    async def _connect(self, node_name: str, method: str, path: str, extra: list[str] | None = None):
        node = await self.get_node(node_name)
        host, port = self.endpoint(node)
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, limit=2 ** 20),
                                                    self.timeout)
        except (OSError, asyncio.TimeoutError) as e:
            raise _unavailable(f"cannot reach the kubelet of node {node_name} at {host}:{port}: "
                               f"{e or 'timeout'}") from None
        head = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}",
                f"Authorization: Bearer {self.token_for_node(node_name)}"] + (extra or [])
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), self.timeout)
        if not status:
            writer.close()
            raise _unavailable(f"the kubelet of node {node_name} closed the connection")
        code = int(status.split()[1])
        headers: dict[str, str] = {}
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            k, _, v = line.decode("latin-1").partition(":")
            headers[k.strip().lower()] = v.strip()
        if code >= 400:
            body = await reader.read(65536)
            writer.close()
            try:
                st = json.loads(body)
                raise _status_error(int(st.get("code") or code), st.get("reason", ""), st.get("message", ""))
            except ValueError:
                raise _status_error(code, "", body.decode(errors="replace")) from None
        return code, headers, reader, writer

    @staticmethod
    def _pod_path(kind: str, pod: dict, container: str) -> str:
        m = pod["metadata"]
        q = urllib.parse.quote
        return f"/{kind}/{q(m.get('namespace', 'default'))}/{q(m['name'])}/{q(container)}"

    async def logs(self, pod: dict, container: str, *, follow: bool = False, tail_lines: int | None = None,
                   previous: bool = False, timestamps: bool = False, since_seconds: int | None = None,
                   limit_bytes: int | None = None) -> AsyncIterator[bytes]:
        params = {"follow": follow, "previous": previous, "timestamps": timestamps, "tailLines": tail_lines,
                  "sinceSeconds": since_seconds, "limitBytes": limit_bytes}
        qs = urllib.parse.urlencode({k: (str(v).lower() if isinstance(v, bool) else v)
                                     for k, v in params.items() if v is not None and v is not False})
        path = self._pod_path("containerLogs", pod, container) + (f"?{qs}" if qs else "")
        await self._refuse_simulated(pod, "get logs of", "so it wrote no logs")
        _, headers, reader, writer = await self._connect(pod["spec"]["nodeName"], "GET", path)
        try:
            while True:
                size_line = await reader.readline()
                if not size_line:
                    return
                size = int(size_line.strip() or b"0", 16)
                if size == 0:
                    return
                data = await reader.readexactly(size)
                await reader.readline()
                yield data
        finally:
            writer.close()

    async def exec(self, pod: dict, container: str, command: list[str], *, stdin: bool,
                   tty: bool) -> KubeletExecSession:
        qs = urllib.parse.urlencode([("command", c) for c in command]
                                    + [("stdin", str(stdin).lower()), ("tty", str(tty).lower())])
        path = self._pod_path("exec", pod, container) + "?" + qs
        code, _, reader, writer = await self._connect(
            pod["spec"]["nodeName"], "POST", path,
            ["Connection: Upgrade", f"Upgrade: {EXEC_PROTOCOL}"])
        if code != 101:
            writer.close()
            raise _status_error(500, "InternalError", f"the kubelet did not upgrade the exec stream ({code})")
        return KubeletExecSession(reader, writer)

    async def attach(self, pod: dict, container: str, *, stdin: bool, tty: bool) -> KubeletExecSession:
        qs = urllib.parse.urlencode([("stdin", str(stdin).lower()), ("tty", str(tty).lower())])
        path = self._pod_path("attach", pod, container) + "?" + qs
        code, _, reader, writer = await self._connect(
            pod["spec"]["nodeName"], "POST", path,
            ["Connection: Upgrade", f"Upgrade: {EXEC_PROTOCOL}"])
        if code != 101:
            writer.close()
            raise _status_error(500, "InternalError", f"the kubelet did not upgrade the attach stream ({code})")
        return KubeletExecSession(reader, writer)

    async def check_port_forward(self, pod: dict) -> None:
        """Refuse up front what can never be forwarded: pods on simulated nodes run nothing."""
        await self._refuse_simulated(pod, "forward ports to", "so nothing listens")

    async def _refuse_simulated(self, pod: dict, what: str, so: str) -> None:
        """A pod on a simulated node runs no process: say so at once (no kubelet would ever answer)."""
        node_name = pod["spec"]["nodeName"]
        node = await self.get_node(node_name)
        if ((node.get("metadata") or {}).get("labels") or {}).get(SIMULATED_LABEL) == "true":
            raise errors.BadRequest(
                f"cannot {what} pod {pod['metadata']['name']}: node {node_name} is a simulated "
                f"node (its pods are bookkeeping only: no process runs there, {so})")

    async def port_forward(self, pod: dict, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """One forwarded connection to ``port`` in the pod: the kubelet's ``/portForward`` stream."""
        node_name = pod["spec"]["nodeName"]
        await self.check_port_forward(pod)
        m = pod["metadata"]
        q = urllib.parse.quote
        path = f"/portForward/{q(m.get('namespace', 'default'))}/{q(m['name'])}?port={int(port)}"
        code, _, reader, writer = await self._connect(
            node_name, "POST", path, ["Connection: Upgrade", f"Upgrade: {PORTFORWARD_PROTOCOL}"])
        if code != 101:
            writer.close()
            raise _status_error(500, "InternalError", f"the kubelet did not upgrade the port-forward stream ({code})")
        return reader, writer

    async def stats(self, node_name: str) -> dict:
        _, headers, reader, writer = await self._connect(node_name, "GET", "/stats/summary")
        try:
            n = int(headers.get("content-length", "0"))
            return json.loads(await reader.readexactly(n))
        finally:
            writer.close()


class KubeletMetrics:
    """``metrics_source`` for the API server: ``metrics.k8s.io`` from every kubelet's Summary API.

    Like metrics-server, it reports usage rates (the kubelet computes them from
    successive samples), so the first scrape of a pod reports 0.
    """

    def __init__(self, connector: KubeletConnector, list_nodes: Callable[[], Awaitable[list[dict]]],
                 window: str = "10s", simulated: Callable[[], Awaitable[list[dict]]] | None = None) -> None:
        self.connector = connector
        self.list_nodes = list_nodes
        self.window = window
        # Summaries of the nodes no kubelet serves (simulated nodes: providers/simulated_stats.py).
        self.simulated = simulated

    async def __call__(self) -> dict:
        nodes = await self.list_nodes()
        results = await asyncio.gather(*[self.connector.stats(n["metadata"]["name"]) for n in nodes],
                                       return_exceptions=True)
        if self.simulated is not None:
            extra = await self.simulated()
            nodes, results = nodes + [{"metadata": {"name": s["node"]["nodeName"]}} for s in extra], \
                list(results) + extra
        out: dict[str, list] = {"nodes": [], "pods": []}
        for node, summ in zip(nodes, results):
            if isinstance(summ, BaseException):
                log.debug("no stats from node %s: %s", node["metadata"]["name"], summ)
                continue
            out["nodes"].append(self._usage_obj({"name": summ["node"]["nodeName"]}, summ["node"]))
            for p in summ.get("pods") or []:
                obj = self._usage_obj({"name": p["podRef"]["name"], "namespace": p["podRef"]["namespace"]}, p)
                obj.pop("usage")
                obj["containers"] = [{"name": c["name"], "usage": _usage(c)} for c in p.get("containers") or []]
                out["pods"].append(obj)
        return out

    def _usage_obj(self, meta: dict, s: dict) -> dict:
        return {"metadata": dict(meta, creationTimestamp=None),
                "timestamp": (s.get("cpu") or {}).get("time") or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "window": self.window, "usage": _usage(s)}


def _usage(s: dict) -> dict:
    nano = int((s.get("cpu") or {}).get("usageNanoCores") or 0)
    mem = int((s.get("memory") or {}).get("workingSetBytes") or 0)
    return {"cpu": f"{nano}n", "memory": f"{mem // 1024}Ki"}


async def maybe_await(v: Any) -> Any:
    return await v if inspect.isawaitable(v) else v
