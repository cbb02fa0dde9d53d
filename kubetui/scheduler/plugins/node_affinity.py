"""NodeAffinity: ``nodeSelector`` and node affinity rules.

Upstream: ``pkg/scheduler/framework/plugins/nodeaffinity``. Filter enforces
``spec.nodeSelector`` (every label must match) and
``requiredDuringSchedulingIgnoredDuringExecution`` (any one term must match);
Score adds the weights of the ``preferredDuringScheduling…`` terms a node
matches, normalised so the best node gets 100.
"""

from __future__ import annotations

from typing import Any

from kubetui.api.nodeaffinity import match_term
from kubetui.scheduler.framework import (NODE_ADD, NODE_UPDATE, CycleState, NodeInfo, PodInfo,
                                         Status, default_normalize_score, skip, unresolvable)

NAME = "NodeAffinity"
ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"


def required_matches(pod: PodInfo, labels: dict[str, str], node_name: str) -> bool:
    """nodeSelector AND (any required term), as upstream's ``RequiredNodeAffinity.Match``."""
    for k, v in pod.node_selector.items():
        if labels.get(k) != v:
            return False
    required = pod.affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    if required is not None:
        terms = required.get("nodeSelectorTerms") or []
        if not any(match_term(t, labels, node_name) for t in terms):
            return False
    return True


def preferred_score(preferred: list[dict[str, Any]], labels: dict[str, str], node_name: str) -> int:
    """Raw score: the sum of ``weight`` over the preferred terms the node matches.

    Example: terms ``{weight: 80, zone In [a]}`` and ``{weight: 20, disk In [ssd]}``;
    a node in zone a with an hdd scores 80, one in zone b with an ssd scores 20.
    Normalised over those two nodes: 100 and 25.
    """
    total = 0
    for p in preferred:
        if match_term(p.get("preference") or {}, labels, node_name):
            total += int(p.get("weight") or 0)
    return total


class NodeAffinity:
    name = NAME
    events = (NODE_ADD, NODE_UPDATE)

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        if not pod.node_selector and "requiredDuringSchedulingIgnoredDuringExecution" not in pod.affinity:
            return skip(NAME)
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if required_matches(pod, node.labels, node.name):
            return None
        return unresolvable(NAME, ERR_REASON_POD)

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        if not pod.affinity.get("preferredDuringSchedulingIgnoredDuringExecution"):
            return skip(NAME)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        preferred = pod.affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or []
        return preferred_score(preferred, node.labels, node.name)

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> list[int]:
        return default_normalize_score(scores)
