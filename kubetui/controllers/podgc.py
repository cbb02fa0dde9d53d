"""The pod garbage collector: finish off pods no kubelet will ever finish.

Upstream: ``pkg/controller/podgc/gc_controller.go``. A graceful delete only
sets ``deletionTimestamp``; the pod disappears when its kubelet confirms the
containers are gone. A dead node's kubelet never will, so its pods would stay
Terminating forever. Upstream rules kubetui follows:

* ``gcOrphaned``: a pod bound to a node that no longer exists is deleted
  (after a quarantine; here ``node_monitor_grace_seconds``).
* ``gcTerminating``: a terminating pod on a node that is not Ready *and*
  carries ``node.kubernetes.io/out-of-service`` is force-deleted (grace 0).

kubetui extends ``gcTerminating`` in one documented way, so evicted pods on a
dead lab node do not linger: a terminating pod on a node that has carried the
``unreachable`` NoExecute taint (Ready=Unknown, lease stopped) for at least
``node_monitor_grace_seconds`` is force-deleted too, without waiting out its
termination grace period (no kubelet is there to use it). Upstream leaves
such pods Terminating until an admin adds the out-of-service taint (or the
node returns); their replacements are created either way, because a
terminating pod is no longer "active" for the ReplicaSet controller.
"""

from __future__ import annotations

from typing import Any

from kubetui.api import errors
from kubetui.clock import parse_rfc3339
from kubetui.controllers.base import Controller
from kubetui.controllers.nodelifecycle import UNREACHABLE, ready_status
from kubetui.controllers.util import meta

Obj = dict[str, Any]
OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"


def should_force_delete(pod: Obj, node: Obj | None, now: float, grace: float) -> bool:
    """Does pod GC force-delete this terminating pod now? (see the module docstring)"""
    m = meta(pod)
    if not m.get("deletionTimestamp"):
        return False
    if node is None:
        return False  # orphans are handled by the quarantine path
    taints = (node.get("spec") or {}).get("taints") or []
    if ready_status(node) != "True" and any(t.get("key") == OUT_OF_SERVICE for t in taints):
        return True
    for t in taints:
        if t.get("key") == UNREACHABLE and t.get("effect") == "NoExecute" and t.get("timeAdded"):
            if parse_rfc3339(t["timeAdded"]) + grace <= now:
                return True
    return False


class PodGCController(Controller):
    name = "pod-garbage-collector"
    component = "pod-garbage-collector"

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.node_informer = self.factory.informer("nodes")
        self.pod_informer = self.factory.informer("pods")
        # pod key -> monotonic time its node was first seen missing (the quarantine)
        self._orphaned_since: dict[str, float] = {}

    def loops(self) -> list[Any]:
        return [self._gc_loop]

    async def _gc_loop(self) -> None:
        """Upstream runs gc() every 20 s; here every node monitor period."""
        while True:
            await self.clock.sleep(self.timings.node_monitor_period_seconds)
            for pod in self.pod_informer.list():
                if (pod.get("spec") or {}).get("nodeName") and (
                        meta(pod).get("deletionTimestamp") or
                        self.node_informer.get(pod["spec"]["nodeName"]) is None):
                    self.enqueue(pod)

    async def reconcile(self, key: Any) -> float | None:
        pod = self.pod_informer.get(key)
        if pod is None:
            self._orphaned_since.pop(key, None)
            return None
        node_name = (pod.get("spec") or {}).get("nodeName")
        if not node_name:
            return None
        node = self.node_informer.get(node_name)
        grace = self.timings.node_monitor_grace_seconds
        if node is None:
            first = self._orphaned_since.setdefault(key, self.clock.monotonic())
            if self.clock.monotonic() - first < grace:
                return None
            try:
                await self.client.get("nodes", node_name)
                return None  # the informer lags; the node exists
            except errors.NotFound:
                pass
            self.log.info("deleting orphaned pod %s (node %s is gone)", key, node_name)
        elif not should_force_delete(pod, node, self.clock.time(), grace):
            return None
        else:
            self.log.info("force-deleting pod %s stuck terminating on unreachable node %s", key, node_name)
        self._orphaned_since.pop(key, None)
        try:
            await self.client.delete("pods", meta(pod)["name"], meta(pod).get("namespace"), grace_period_seconds=0)
        except errors.NotFound:
            pass
        return None
