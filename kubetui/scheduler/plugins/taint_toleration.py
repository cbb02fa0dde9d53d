"""TaintToleration: a node's taints repel pods that do not tolerate them.

Upstream: ``pkg/scheduler/framework/plugins/tainttoleration``. Filter rejects a
node with a ``NoSchedule`` or ``NoExecute`` taint the pod does not tolerate;
Score prefers nodes with fewer untolerated ``PreferNoSchedule`` taints.

The FailedScheduling reason is generic, ``node(s) had untolerated taint(s)``:
since Kubernetes 1.35 (PR #134740, backported to 1.34) pod statuses no longer
show taint keys and values, which may be sensitive. kubetui's explanation
still names the taint for each node, as the upstream log line does.
"""

from __future__ import annotations

from typing import Any, Iterable

from kubetui.scheduler.framework import (NODE_ADD, NODE_UPDATE, CycleState, NodeInfo, PodInfo,
                                         Status, default_normalize_score, unresolvable)

NAME = "TaintToleration"
ERR_REASON_NOT_MATCH = "node(s) had untolerated taint(s)"
_FILTER_EFFECTS = ("NoSchedule", "NoExecute")


def tolerates(toleration: dict[str, Any], taint: dict[str, Any]) -> bool:
    """Whether one toleration tolerates one taint (upstream ``Toleration.ToleratesTaint``).

    - an empty ``effect`` in the toleration matches every effect;
    - an empty ``key`` (only with ``operator: Exists``) matches every key;
    - ``Exists`` ignores the value, ``Equal`` (the default) compares it.

    >>> taint = {"key": "gpu", "value": "true", "effect": "NoSchedule"}
    >>> tolerates({"key": "gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}, taint)
    True
    >>> tolerates({"key": "gpu", "operator": "Exists"}, taint)
    True
    >>> tolerates({"key": "gpu", "value": "false"}, taint)
    False
    >>> tolerates({"operator": "Exists"}, taint)
    True
    """
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Exists":
        return True
    if op == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def find_untolerated_taint(taints: Iterable[dict[str, Any]], tolerations: list[dict[str, Any]],
                           effects: tuple[str, ...] = _FILTER_EFFECTS) -> dict[str, Any] | None:
    """The first taint with one of ``effects`` that no toleration tolerates, if any."""
    for taint in taints:
        if taint.get("effect") not in effects:
            continue
        if not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None


def count_intolerable_prefer_no_schedule(taints: Iterable[dict[str, Any]],
                                         tolerations: list[dict[str, Any]]) -> int:
    """Raw score: how many ``PreferNoSchedule`` taints the pod does not tolerate (lower is better).

    Only tolerations whose effect is empty or ``PreferNoSchedule`` count.
    Example: taints ``[a:PreferNoSchedule, b:PreferNoSchedule, c:NoSchedule]`` and a
    toleration for ``a`` → raw score 1; after the reversed normalisation over
    nodes scoring ``[1, 0]`` the node gets 0 and the clean node 100.
    """
    usable = [t for t in tolerations if (t.get("effect") or "PreferNoSchedule") == "PreferNoSchedule"]
    n = 0
    for taint in taints:
        if taint.get("effect") == "PreferNoSchedule" and not any(tolerates(t, taint) for t in usable):
            n += 1
    return n


def taint_string(taint: dict[str, Any]) -> str:
    """``key=value:Effect``, as ``kubectl describe node`` prints a taint."""
    v = taint.get("value")
    return f"{taint.get('key')}{'=' + v if v else ''}:{taint.get('effect')}"


class TaintToleration:
    name = NAME
    events = (NODE_ADD, NODE_UPDATE)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not node.taints:
            return None
        taint = find_untolerated_taint(node.taints, pod.tolerations)
        if taint is None:
            return None
        # The explanation names the taint (as upstream's log line does).
        return unresolvable(NAME, ERR_REASON_NOT_MATCH, detail=f"untolerated taint {taint_string(taint)}")

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        if not node.taints:
            return 0
        return count_intolerable_prefer_no_schedule(node.taints, pod.tolerations)

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        tolerations = pod.tolerations
        return [count_intolerable_prefer_no_schedule(ni.taints, tolerations) if ni.taints else 0 for ni in nodes]

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> list[int]:
        return default_normalize_score(scores, reverse=True)
