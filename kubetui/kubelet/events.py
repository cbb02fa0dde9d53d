"""Events the kubelet records about pods (upstream: ``k8s.io/client-go/tools/record``).

``kubectl describe pod`` ends with these: Pulled, Created, Started,
Killing, BackOff, Unhealthy... A repeat of the same event bumps its
``count`` instead of creating a new object, as the upstream recorder's
correlator does. Posting is fire-and-forget: a pod never waits for its events.
As upstream's broadcaster does, the events go into a queue that one sender
drains in order (a count bump never overtakes the event it bumps). Events
are best effort, pod status is not: while the kubelet has requests under way
that something waits for (a burst of pod starts patching their status), the
sender holds back, up to ``MAX_DEFER_SECONDS``, so the node and the API
server spend their CPU on the status first.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time

from kubetui.agent.apiclient import APIClient, APIError
from kubetui.kubelet.timefmt import rfc3339, rfc3339_micro

log = logging.getLogger(__name__)

NORMAL, WARNING = "Normal", "Warning"
MAX_QUEUED = 1000       # upstream's broadcaster drops events beyond its queue of 1000 too
MAX_DEFER_SECONDS = 2.0
DEFER_POLL_SECONDS = 0.02


class EventRecorder:
    def __init__(self, api: APIClient, node_name: str, clock) -> None:
        self.api = api
        self.node_name = node_name
        self.clock = clock
        # (uid, fieldPath, reason, message) -> (event name, count)
        self._seen: dict[tuple, tuple[str, int]] = {}
        self._queue: collections.deque = collections.deque()   # (queued at, send, args), oldest first
        self._sender: asyncio.Task | None = None
        self.recorded: list[dict] = []   # the last few, for tests and the node's log
        self._last_ns = 0                # the last event name's nanoseconds (names never repeat)

    def pod_event(self, pod: dict, etype: str, reason: str, message: str,
                  container: str | None = None, init: bool = False) -> None:
        meta = pod["metadata"]
        field_path = ""
        if container:
            kind = "initContainers" if init else "containers"
            ephemeral = (pod.get("spec") or {}).get("ephemeralContainers") or ()
            if not init and any(c.get("name") == container for c in ephemeral):
                kind = "ephemeralContainers"        # what kubectl debug added (upstream's fieldPath)
            field_path = f"spec.{kind}{{{container}}}"
        involved = {"apiVersion": "v1", "kind": "Pod", "name": meta["name"],
                    "namespace": meta.get("namespace", "default"), "uid": meta.get("uid", "")}
        if field_path:
            involved["fieldPath"] = field_path
        self._record(involved, involved["namespace"], etype, reason, message)

    def node_event(self, etype: str, reason: str, message: str) -> None:
        """An Event about this Node (upstream's nodeRef: kind Node, uid = the node's name, in ``default``)."""
        self._record({"kind": "Node", "name": self.node_name, "uid": self.node_name}, "default",
                     etype, reason, message)

    def _record(self, involved: dict, namespace: str, etype: str, reason: str, message: str) -> None:
        field_path = involved.get("fieldPath", "")
        key = (involved.get("uid"), field_path, reason, message)
        now = self.clock.time()
        if key in self._seen:
            name, count = self._seen[key]
            count += 1
            self._seen[key] = (name, count)
            body = {"count": count, "lastTimestamp": rfc3339(now)}
            self._spawn(self._patch, namespace, name, body)
        else:
            # client-go's makeEvent: "<name>.<UnixNano in hex>", so a list (sorted by name) keeps the
            # order events were recorded in within one second (describe sorts by whole-second timestamps)
            self._last_ns = max(time.time_ns(), self._last_ns + 1)
            name = f"{involved['name']}.{self._last_ns:x}"
            self._seen[key] = (name, 1)
            event = {
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": name, "namespace": namespace},
                "involvedObject": involved, "reason": reason, "message": message, "type": etype,
                "source": {"component": "kubelet", "host": self.node_name},
                "firstTimestamp": rfc3339(now), "lastTimestamp": rfc3339(now), "count": 1,
                "eventTime": None, "reportingComponent": "kubelet", "reportingInstance": self.node_name,
            }
            self._spawn(self._create, namespace, event)
        # upstream's kubelet logs its events at verbosity 3: kubectl get events is where they show
        log.debug("event %s %s/%s %s: %s", etype, namespace, involved["name"], reason, message)
        self.recorded.append({"type": etype, "reason": reason, "message": message,
                              "pod": involved["name"], "fieldPath": field_path})
        del self.recorded[:-200]

    def forget(self, uid: str) -> None:
        for k in [k for k in self._seen if k[0] == uid]:
            del self._seen[k]

    def _spawn(self, send, *args) -> None:
        if len(self._queue) >= MAX_QUEUED:
            log.debug("event queue full (%d): dropping %s", MAX_QUEUED, args[-1].get("reason", ""))
            return
        self._queue.append((time.monotonic(), send, args))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._send_all(), name="event sender")

    async def _send_all(self) -> None:
        while self._queue:
            await self._yield_to_foreground(self._queue[0][0])
            _, send, args = self._queue.popleft()
            try:
                await send(*args)
            except Exception:  # a loop boundary: one bad event must not stop the others
                log.exception("could not send event")

    async def _yield_to_foreground(self, queued_at: float) -> None:
        # Real time, not self.clock: this paces against real requests on the wire.
        while getattr(self.api, "foreground", 0) > 0 and time.monotonic() - queued_at < MAX_DEFER_SECONDS:
            await asyncio.sleep(DEFER_POLL_SECONDS)

    async def _create(self, ns: str, event: dict) -> None:
        try:
            await self.api.create(f"/api/v1/namespaces/{ns}/events", event, background=True)
        except (APIError, OSError) as e:
            log.debug("could not record event %s: %s", event["reason"], e)

    async def _patch(self, ns: str, name: str, body: dict) -> None:
        try:
            await self.api.patch(f"/api/v1/namespaces/{ns}/events/{name}", body, background=True)
        except (APIError, OSError) as e:
            log.debug("could not update event %s: %s", name, e)

    async def flush(self) -> None:
        """Wait until every queued event was sent (or given up on)."""
        while self._sender is not None and not self._sender.done():
            await asyncio.gather(self._sender, return_exceptions=True)
