"""NodePorts: two pods cannot bind the same ``hostPort`` on one node.

Upstream: ``pkg/scheduler/framework/plugins/nodeports``. A container port with
``hostPort`` reserves that port on the node's IP; a conflict is the same
protocol and port where either side's hostIP is ``0.0.0.0`` or both are equal.
"""

from __future__ import annotations

from kubetui.scheduler.framework import (NODE_ADD, POD_DELETE, CycleState, NodeInfo, PodInfo, Status,
                                         skip, unschedulable)

NAME = "NodePorts"
ERR_REASON = "node(s) didn't have free ports for the requested pod ports"


def port_conflicts(wanted: list[tuple[str, str, int]], used: dict[tuple[str, str, int], int] | set) -> bool:
    """Whether any wanted ``(hostIP, protocol, port)`` clashes with one in use.

    >>> port_conflicts([("0.0.0.0", "TCP", 80)], {("10.0.0.1", "TCP", 80)})
    True
    >>> port_conflicts([("10.0.0.2", "TCP", 80)], {("10.0.0.1", "TCP", 80)})
    False
    >>> port_conflicts([("0.0.0.0", "UDP", 80)], {("0.0.0.0", "TCP", 80)})
    False
    """
    for ip, proto, port in wanted:
        for uip, uproto, uport in used:
            if port == uport and proto == uproto and (ip == uip or "0.0.0.0" in (ip, uip)):
                return True
    return False


class NodePorts:
    name = NAME
    events = (NODE_ADD, POD_DELETE)

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        return None if pod.host_ports else skip(NAME)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if pod.host_ports and node.used_ports and port_conflicts(pod.host_ports, node.used_ports):
            return unschedulable(NAME, ERR_REASON)
        return None
