"""The pod garbage collector: finish off pods no kubelet will ever finish.

Upstream: ``pkg/controller/podgc/gc_controller.go``. A graceful delete only
sets ``deletionTimestamp``; the pod disappears when its kubelet confirms the
containers are gone. The rules kubetui follows, as upstream:

* ``gcOrphaned``: a pod bound to a node that no longer exists is deleted
  (after a quarantine; here ``node_monitor_grace_seconds``).
* ``gcTerminating``: a terminating pod on a node that is not Ready *and*
  carries ``node.kubernetes.io/out-of-service`` is force-deleted (grace 0).

Either way the pod is first marked ``Failed`` (an orphan also gets the
``DisruptionTarget`` condition, reason ``DeletionByPodGC``), since no kubelet
will ever report its end.

A pod evicted from an unreachable node (the taint eviction controller's
graceful DELETE) is *not* force-deleted: nobody can know whether its
containers still run behind a cut cable, so it stays ``Terminating`` until
the node's kubelet answers again and confirms (deleting it with grace 0), or
an admin force-deletes it (``kubectl delete pod --force --grace-period=0``),
deletes the Node, or marks the node ``out-of-service``. Its replacement is
created at once all the same: a terminating pod is no longer "active" for the
ReplicaSet controller. (kubetui used to force-delete such pods as soon as the
node had been unreachable for the grace period, so they vanished at once.)
"""

from __future__ import annotations

from typing import Any

from kubetui.api import errors
from kubetui.client.base import STRATEGIC_MERGE_PATCH
from kubetui.clock import rfc3339
from kubetui.controllers.base import Controller
from kubetui.controllers.nodelifecycle import ready_status
from kubetui.controllers.util import meta

Obj = dict[str, Any]
OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"
#: gcOrphaned's reason on the pods it deletes (the DisruptionTarget condition)
ORPHAN_CONDITION = {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
                    "message": "PodGC: node no longer exists"}


def should_force_delete(pod: Obj, node: Obj | None) -> bool:
    """``gcTerminating``: force-delete this terminating pod now? Only on an out-of-service, not-Ready node."""
    if not meta(pod).get("deletionTimestamp"):
        return False
    if node is None:
        return False  # orphans are handled by the quarantine path
    taints = (node.get("spec") or {}).get("taints") or []
    return ready_status(node) != "True" and any(t.get("key") == OUT_OF_SERVICE for t in taints)


class PodGCController(Controller):
    name = "pod-garbage-collector"
    kind = "Pod"
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
        elif not should_force_delete(pod, node):
            return None
        else:
            self.log.info("force-deleting pod %s terminating on out-of-service node %s", key, node_name)
        self._orphaned_since.pop(key, None)
        orphan = None if node is not None else ORPHAN_CONDITION
        try:
            await self._mark_failed(pod, orphan)
            await self.client.delete("pods", meta(pod)["name"], meta(pod).get("namespace"), grace_period_seconds=0)
        except errors.NotFound:
            pass
        return None

    async def _mark_failed(self, pod: Obj, condition: Obj | None) -> None:
        """``markFailedAndDeletePod(WithCondition)``: a pod no kubelet will finish becomes Failed first.

        No kubelet will ever move it out of Running, and controllers that count
        failures (the Job controller) must see it fail rather than just vanish.
        """
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return
        status: Obj = {"phase": "Failed"}
        if condition is not None:
            status["conditions"] = [{**condition, "lastTransitionTime": rfc3339(self.clock.time())}]
        await self.client.patch("pods", meta(pod)["name"], {"status": status}, meta(pod).get("namespace"),
                                subresource="status", patch_type=STRATEGIC_MERGE_PATCH)
