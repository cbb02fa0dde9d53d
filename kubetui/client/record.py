"""Recording Events: what ``kubectl describe`` shows under "Events:".

Upstream: client-go/tools/record (``EventRecorder``, ``EventBroadcaster`` and
``EventCorrelator``). A component calls ``record(pod, "Normal", "Scheduled",
"Successfully assigned default/web to node-1")``; the recorder writes a core/v1
Event named ``<object name>.<16 hex digits>`` pointing at the object through
``involvedObject``. When the same thing happens again within ten minutes, the
existing Event is patched instead (``count`` + 1, new ``lastTimestamp``), which
is why describe prints "3x over 2m" instead of three lines.

The recorder works over any ``Client``: controllers, the scheduler and the
control plane's load-balancer controller all use it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kubetui.api.errors import NotFound, StatusError
from kubetui.api.patch import MERGE_PATCH
from kubetui.clock import Clock, rfc3339

log = logging.getLogger(__name__)

# EventCorrelator's aggregation window (client-go: maxLruCacheEntries / defaultAggregateIntervalInSeconds
# is 600 s for identical events).
AGGREGATE_WINDOW_SECONDS = 600
_CACHE_LIMIT = 4096


class EventRecorder:
    """Writes Events for one ``component`` (``default-scheduler``, ``kubelet``...) on ``host``."""

    def __init__(self, client: Any, component: str, host: str | None = None, *,
                 clock: Clock | None = None) -> None:
        self.client = client
        self.component = component
        self.host = host
        self.clock = clock or Clock()
        # (involvedObject..., type, reason, message) -> (event namespace, name, count, first seen)
        self._seen: dict[tuple[Any, ...], tuple[str, str, int, float]] = {}
        self._last_nanos = 0
        self._tasks: set[asyncio.Task[Any]] = set()

    def _reference(self, obj: dict[str, Any], field_path: str | None) -> dict[str, Any]:
        meta = obj.get("metadata") or {}
        ref = {"kind": obj.get("kind"), "namespace": meta.get("namespace"), "name": meta.get("name"),
               "uid": meta.get("uid"), "apiVersion": obj.get("apiVersion"),
               "resourceVersion": meta.get("resourceVersion")}
        if field_path:
            ref["fieldPath"] = field_path
        return {k: v for k, v in ref.items() if v is not None}

    def _event_name(self, name: str) -> str:
        # client-go: fmt.Sprintf("%v.%x", ref.Name, t.UnixNano()); kept unique per recorder.
        nanos = max(int(self.clock.time() * 1e9), self._last_nanos + 1)
        self._last_nanos = nanos
        return f"{name}.{nanos:016x}"

    async def record(self, obj: dict[str, Any], type: str, reason: str, message: str, *,
                     field_path: str | None = None) -> dict[str, Any] | None:
        """Record one occurrence; returns the Event written (None if writing failed).

        Failures are logged, never raised: losing an Event must not break the
        component that reported it (client-go drops them the same way).
        """
        ref = self._reference(obj, field_path)
        namespace = ref.get("namespace") or "default"  # events about cluster-scoped objects go to default
        key = (tuple((k, v) for k, v in ref.items() if k != "resourceVersion"), type, reason, message)
        now = self.clock.time()
        stamp = rfc3339(now)
        seen = self._seen.get(key)
        try:
            if seen is not None and now - seen[3] <= AGGREGATE_WINDOW_SECONDS:
                ns, name, count, first = seen
                try:
                    ev = await self.client.patch("events", name, {"count": count + 1, "lastTimestamp": stamp},
                                                 ns, patch_type=MERGE_PATCH)
                    self._seen[key] = (ns, name, count + 1, first)
                    return ev
                except NotFound:
                    pass  # someone deleted it: start a new one
            body = {
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": self._event_name(ref.get("name") or "unknown"), "namespace": namespace},
                "involvedObject": ref, "reason": reason, "message": message, "type": type,
                "source": {"component": self.component, **({"host": self.host} if self.host else {})},
                "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
                "reportingComponent": self.component,
                "reportingInstance": self.host or "",
            }
            ev = await self.client.create("events", body, namespace)
            if len(self._seen) >= _CACHE_LIMIT:
                self._seen.pop(next(iter(self._seen)))
            self._seen[key] = (namespace, body["metadata"]["name"], 1, now)
            return ev
        except StatusError as e:
            log.warning("could not record event %s/%s for %s %s/%s: %s", type, reason, ref.get("kind"),
                        ref.get("namespace"), ref.get("name"), e)
            return None

    def emit(self, obj: dict[str, Any], type: str, reason: str, message: str, *,
             field_path: str | None = None) -> None:
        """Fire and forget (from code that cannot await): the write runs as a task."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            log.debug("no event loop: dropping event %s", reason)
            return
        task = loop.create_task(self.record(obj, type, reason, message, field_path=field_path))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # client-go's name for it (``recorder.Event(obj, type, reason, message)``).
    event = emit

    async def flush(self) -> None:
        """Wait for events emitted with ``emit`` (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

