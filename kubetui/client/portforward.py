"""``pods/portforward`` from a client: a local listener whose connections reach a pod's port
(upstream: client-go's ``tools/portforward``, what ``kubectl port-forward`` runs).

Every accepted local connection opens its own WebSocket to
``/api/v1/namespaces/{ns}/pods/{name}/portforward?ports=N`` with the channel protocol
``v4.channel.k8s.io`` (what the official Python client speaks): channel 0 carries the
data, channel 1 the error text; each starts with the port number (2 bytes, little-endian).
``target_for`` resolves a Service the way kubectl does: one of its selector's running
pods, and the Service port translated to the pod's (``targetPort``, by number or name).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import quote

import aiohttp

from kubetui.api import errors

log = logging.getLogger(__name__)

PROTOCOL = "v4.channel.k8s.io"


def pod_port(pod: dict, want: int | str | None = None) -> int | None:
    """A port of the pod: ``want`` (a number, or a containerPort's name), else its first declared port."""
    ports = [p for c in (pod.get("spec") or {}).get("containers") or [] for p in c.get("ports") or []]
    if isinstance(want, int) or (isinstance(want, str) and want.isdigit()):
        return int(want)
    for p in ports:
        if want is None or p.get("name") == want:
            return int(p["containerPort"])
    return None


async def target_for(client: Any, resource: str, obj: dict) -> tuple[dict, int]:
    """``(pod, pod port)`` to forward to for a selected pod or Service, as kubectl picks them."""
    if resource == "pods":
        port = pod_port(obj)
        if port is None:
            raise errors.BadRequest(f"pod {obj['metadata']['name']} declares no containerPort to forward")
        return obj, port
    ns, name = obj["metadata"].get("namespace", "default"), obj["metadata"]["name"]
    selector = (obj.get("spec") or {}).get("selector") or {}
    if not selector:
        raise errors.BadRequest(f"service {name} has no selector, so no pod to forward to")
    pods = (await client.list("pods", ns, label_selector=",".join(f"{k}={v}" for k, v in selector.items())))["items"]
    running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"
               and not p["metadata"].get("deletionTimestamp")]
    if not running:
        raise errors.BadRequest(f"service {name} has no running pod to forward to")
    pod = sorted(running, key=lambda p: p["metadata"]["name"])[0]
    sp = ((obj.get("spec") or {}).get("ports") or [{}])[0]
    port = pod_port(pod, sp.get("targetPort", sp.get("port")))
    if port is None:
        raise errors.BadRequest(f"pod {pod['metadata']['name']} has no port named {sp.get('targetPort')!r}")
    return pod, port


class PortForward:
    """Listens on 127.0.0.1 and relays each connection to ``port`` in the pod."""

    def __init__(self, session: aiohttp.ClientSession, server: str, namespace: str, pod: str, port: int) -> None:
        self.session, self.server = session, server
        self.namespace, self.pod, self.port = namespace, pod, port
        self.local_port = 0
        self.errors: list[str] = []
        self._server: asyncio.base_events.Server | None = None

    @property
    def url(self) -> str:
        return (f"{self.server}/api/v1/namespaces/{quote(self.namespace, safe='')}/pods/"
                f"{quote(self.pod, safe='')}/portforward")

    async def start(self, local_port: int = 0) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", local_port)
        self.local_port = self._server.sockets[0].getsockname()[1]
        return self.local_port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            ws = await self.session.ws_connect(self.url, params={"ports": str(self.port)},
                                               protocols=(PROTOCOL,), autoping=True, max_msg_size=0)
        except aiohttp.ClientError as e:
            self.errors.append(f"cannot forward to pod {self.pod}: {e}")
            writer.close()
            return

        async def upstream() -> None:
            while data := await reader.read(32 * 1024):
                await ws.send_bytes(b"\x00" + data)
            await ws.close()        # the local side is gone (the channel protocol has no half-close)

        up = asyncio.create_task(upstream())
        seen = [False, False]                   # the port-number prefix frame on channels 0 and 1
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.BINARY or not msg.data:
                    continue
                ch, data = msg.data[0], msg.data[1:]
                if ch > 1:
                    continue
                if not seen[ch]:
                    seen[ch] = True
                    continue
                if ch == 0:
                    writer.write(data)
                    await writer.drain()
                elif data:
                    self.errors.append(data.decode(errors="replace"))
                    log.warning("port-forward to pod %s: %s", self.pod, self.errors[-1])
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            up.cancel()
            await ws.close()
            writer.close()
