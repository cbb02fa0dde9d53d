"""LeastAllocated: NodeResourcesFit's default scoring strategy, which spreads pods.

Upstream: ``pkg/scheduler/framework/plugins/noderesources/least_allocated.go``.
The emptier a node (after placing the pod), the higher it scores, so
replicas fan out across nodes.
"""

from __future__ import annotations

from kubetui.scheduler.framework import MAX_NODE_SCORE


def least_requested_score(requested: int, capacity: int) -> int:
    """Free share of one resource after placing the pod, on 0–100.

    ``(capacity - requested) * 100 // capacity``; 0 if the node has none of
    the resource or would be over-committed.

    Example: a node with 4000m CPU whose pods (plus this one) request 1000m →
    ``(4000 - 1000) * 100 // 4000 = 75``.
    """
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


def least_allocated_score(requested: list[int], allocatable: list[int], weights: list[int]) -> int:
    """Weighted average of ``least_requested_score`` over the resources (cpu, memory by default).

    Example: cpu 1000m of 4000m (75) and memory 1Gi of 8Gi (87), weights 1 and 1
    → ``(75 + 87) // 2 = 81``.
    """
    total = weight_sum = 0
    for req, cap, w in zip(requested, allocatable, weights):
        total += least_requested_score(req, cap) * w
        weight_sum += w
    return total // weight_sum if weight_sum else 0
