"""MostAllocated: NodeResourcesFit's bin-packing scoring strategy.

Upstream: ``pkg/scheduler/framework/plugins/noderesources/most_allocated.go``.
The fuller a node (after placing the pod), the higher it scores, so pods pile
onto few nodes and whole nodes stay free (for big pods, or to scale down).
"""

from __future__ import annotations

from kubetui.scheduler.framework import MAX_NODE_SCORE


def most_requested_score(requested: int, capacity: int) -> int:
    """Used share of one resource after placing the pod, on 0–100 (capped at 100).

    Example: a node with 4000m CPU whose pods (plus this one) request 1000m →
    ``1000 * 100 // 4000 = 25``.
    """
    if capacity == 0:
        return 0
    if requested > capacity:
        requested = capacity
    return requested * MAX_NODE_SCORE // capacity


def most_allocated_score(requested: list[int], allocatable: list[int], weights: list[int]) -> int:
    """Weighted average of ``most_requested_score`` over the resources.

    Example: cpu 1000m of 4000m (25) and memory 1Gi of 8Gi (12), weights 1 and 1
    → ``(25 + 12) // 2 = 18``.
    """
    total = weight_sum = 0
    for req, cap, w in zip(requested, allocatable, weights):
        total += most_requested_score(req, cap) * w
        weight_sum += w
    return total // weight_sum if weight_sum else 0
