"""NodeName: a pod that names a node (``spec.nodeName``) fits only that node.

Upstream: ``pkg/scheduler/framework/plugins/nodename``. A pod created with
``nodeName`` already set skips the scheduler entirely (the kubelet just runs
it); the plugin matters when such a spec is evaluated anyway (e.g. by
preemption or by ``kubetui explain``).
"""

from __future__ import annotations

from kubetui.scheduler.framework import (NODE_ADD, CycleState, NodeInfo, PodInfo, Status, skip,
                                         unresolvable)

NAME = "NodeName"
ERR_REASON = "node(s) didn't match the requested node name"


class NodeName:
    name = NAME
    events = (NODE_ADD,)

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        return None if pod.node_name else skip(NAME)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if pod.node_name and pod.node_name != node.name:
            return unresolvable(NAME, ERR_REASON)
        return None
