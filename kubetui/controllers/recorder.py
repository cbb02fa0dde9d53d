"""Recording Events from controllers ("Scaled up replica set web-5d4f8 from 0 to 3").

Upstream: client-go ``tools/record`` (``EventRecorder.Eventf``). The API
server package owns kubetui's real recorder (``kubetui.apiserver.events``);
``recorder_for`` uses it when present and otherwise this small one, which
writes a core/v1 Event per call (no aggregation) in the background so a
reconcile never waits on, or fails because of, an Event.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from kubetui.client.base import Client
from kubetui.clock import Clock, rfc3339

log = logging.getLogger(__name__)
Obj = dict[str, Any]


class SimpleEventRecorder:
    def __init__(self, client: Client, component: str, clock: Clock | None = None) -> None:
        self.client = client
        self.component = component
        self.clock = clock or Clock()
        self._tasks: set[asyncio.Task[None]] = set()

    def emit(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        """Fire and forget, like ``kubetui.apiserver.events.EventRecorder.emit``."""
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace") or "default"
        now = rfc3339(self.clock.time())
        ev = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{meta.get('name')}.{uuid.uuid4().hex[:16]}", "namespace": ns},
            "involvedObject": {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
                               "name": meta.get("name"), "namespace": meta.get("namespace"),
                               "uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion")},
            "type": type_, "reason": reason, "message": message,
            "source": {"component": self.component},
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            "reportingComponent": self.component, "reportingInstance": "",
        }
        try:
            task = asyncio.get_running_loop().create_task(self._send(ev, ns))
        except RuntimeError:
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def flush(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _send(self, ev: Obj, ns: str) -> None:
        try:
            await self.client.create("events", ev, ns)
        except Exception as e:  # an Event is best effort, as upstream
            log.debug("dropping event %s: %s", ev["reason"], e)


def recorder_for(client: Client, component: str, clock: Clock) -> Any:
    """The API server package's recorder if it exists, else ``SimpleEventRecorder``."""
    try:
        from kubetui.apiserver.events import EventRecorder  # type: ignore
    except ImportError:
        return SimpleEventRecorder(client, component, clock)
    return EventRecorder(client, component, clock=clock)
