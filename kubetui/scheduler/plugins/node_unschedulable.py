"""NodeUnschedulable: cordoned nodes (``spec.unschedulable: true``) take no new pods.

Upstream: ``pkg/scheduler/framework/plugins/nodeunschedulable``. ``kubectl
cordon`` sets the field; a pod that tolerates the
``node.kubernetes.io/unschedulable:NoSchedule`` taint may still land there
(DaemonSet pods do).
"""

from __future__ import annotations

from kubetui.scheduler.framework import (NODE_ADD, NODE_UPDATE, CycleState, NodeInfo, PodInfo,
                                         Status, unresolvable)
from kubetui.scheduler.plugins.taint_toleration import tolerates

NAME = "NodeUnschedulable"
ERR_REASON_UNSCHEDULABLE = "node(s) were unschedulable"
UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


class NodeUnschedulable:
    name = NAME
    events = (NODE_ADD, NODE_UPDATE)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not node.unschedulable:
            return None
        if any(tolerates(t, UNSCHEDULABLE_TAINT) for t in pod.tolerations):
            return None
        return unresolvable(NAME, ERR_REASON_UNSCHEDULABLE)
