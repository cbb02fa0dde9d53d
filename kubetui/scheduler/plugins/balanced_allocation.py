"""NodeResourcesBalancedAllocation: prefer nodes whose CPU and memory fill up evenly.

Upstream: ``pkg/scheduler/framework/plugins/noderesources/balanced_allocation.go``.
A node with 90% of its CPU requested but 10% of its memory strands the free
memory (nothing can use it without CPU); this plugin steers pods so the
fractions stay close. It counts real requests (not the scoring defaults).
"""

from __future__ import annotations

import math

from kubetui.scheduler.framework import (MAX_NODE_SCORE, NODE_ADD, NODE_UPDATE, POD_DELETE, CycleState,
                                         NodeInfo, PodInfo, Status, skip)

NAME = "NodeResourcesBalancedAllocation"


def balanced_resource_score(requested: list[int], allocatable: list[int]) -> int:
    """``(1 - std) * 100`` of the requested fractions (each capped at 1).

    With two resources the standard deviation is ``|f_cpu - f_mem| / 2``.

    Example: after placing the pod, cpu 3000m of 4000m (0.75) and memory 2Gi of
    8Gi (0.25): std = ``|0.75 - 0.25| / 2 = 0.25`` → score ``(1 - 0.25) * 100 = 75``.
    Equal fractions give 100.
    """
    fractions = []
    for req, cap in zip(requested, allocatable):
        if cap == 0:
            continue
        fractions.append(min(req / cap, 1.0))
    if len(fractions) == 2:
        std = abs(fractions[0] - fractions[1]) / 2
    elif len(fractions) > 2:
        mean = sum(fractions) / len(fractions)
        std = math.sqrt(sum((f - mean) ** 2 for f in fractions) / len(fractions))
    else:
        std = 0.0
    return int((1 - std) * MAX_NODE_SCORE)


class BalancedAllocation:
    name = NAME
    events = (NODE_ADD, NODE_UPDATE, POD_DELETE)

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        # Upstream skips pods that request none of the scored resources.
        if pod.requests.milli_cpu == 0 and pod.requests.memory == 0:
            return skip(NAME)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        a = node.allocatable
        r = node.requested
        p = pod.requests
        return balanced_resource_score([r.milli_cpu + p.milli_cpu, r.memory + p.memory],
                                       [a.milli_cpu, a.memory])

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        """``score`` for many nodes at once (two resources inlined); equals ``balanced_resource_score``."""
        pc, pm = pod.requests.milli_cpu, pod.requests.memory
        out = []
        for ni in nodes:
            a = ni.allocatable
            cc, cm = a.milli_cpu, a.memory
            if cc and cm:
                fc = min((ni.requested.milli_cpu + pc) / cc, 1.0)
                fm = min((ni.requested.memory + pm) / cm, 1.0)
                out.append(int((1 - abs(fc - fm) / 2) * MAX_NODE_SCORE))
            else:
                out.append(MAX_NODE_SCORE)
        return out
