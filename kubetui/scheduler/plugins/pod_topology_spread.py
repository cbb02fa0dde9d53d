"""PodTopologySpread: keep matching pods evenly spread over zones, nodes or any other domain.

Upstream: ``pkg/scheduler/framework/plugins/podtopologyspread`` (``common.go``,
``filtering.go``, ``scoring.go``). A ``topologySpreadConstraint`` names a
node label (``topologyKey``: every value is one *domain*), a
``labelSelector`` for the pods to count (in the pod's own namespace), and
``maxSkew``: how many more matching pods one domain may hold than the
emptiest.

- ``whenUnsatisfiable: DoNotSchedule`` → **Filter**: placing the pod on a
  node must keep ``pods in its domain + 1 - global minimum <= maxSkew``
  (``node(s) didn't match pod topology spread constraints``). A node without
  the topology label belongs to no domain and is rejected outright
  (``… (missing required label)``, unresolvable). With ``minDomains`` and
  fewer domains than that, the global minimum counts as 0.
- ``whenUnsatisfiable: ScheduleAnyway`` → **Score**: fewer matching pods in a
  node's domain score better, weighted by ``log(domains + 2)``.

Which nodes count: nodes carrying every constraint's topology key, and, per
``nodeAffinityPolicy`` (default ``Honor``), only those matching the pod's
nodeSelector / required node affinity; per ``nodeTaintsPolicy`` (default
``Ignore``), with ``Honor`` only those whose taints the pod tolerates.
``matchLabelKeys`` adds ``key in (the pod's value)`` to the selector (so each
Deployment revision spreads on its own). kubetui does not apply upstream's
cluster-level default constraints (zone 5, hostname 3, for pods owned by a
Service or ReplicaSet): a pod without constraints is not scored here.
"""

from __future__ import annotations

import math
from typing import Any

from kubetui.api.selectors import IN, LabelSelector, Requirement
from kubetui.scheduler.framework import (MAX_NODE_SCORE, NODE_ADD, NODE_UPDATE, POD_ADD, POD_DELETE, POD_UPDATE,
                                         CycleState, NodeInfo, PodInfo, Status, selector_or_nothing, skip,
                                         unresolvable, unschedulable)
from kubetui.scheduler.plugins.node_affinity import required_matches
from kubetui.scheduler.plugins.taint_toleration import find_untolerated_taint

NAME = "PodTopologySpread"
ERR_REASON_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
ERR_REASON_NODE_LABEL_NOT_MATCH = ERR_REASON_CONSTRAINTS_NOT_MATCH + " (missing required label)"
DO_NOT_SCHEDULE = "DoNotSchedule"
SCHEDULE_ANYWAY = "ScheduleAnyway"
HONOR = "Honor"
IGNORE = "Ignore"
HOSTNAME = "kubernetes.io/hostname"
_FILTER_KEY = "PreFilter" + NAME
_SCORE_KEY = "PreScore" + NAME


class Constraint:
    """One ``topologySpreadConstraint``, ready to evaluate (upstream ``topologySpreadConstraint``)."""

    __slots__ = ("max_skew", "topology_key", "selector", "min_domains", "node_affinity_policy",
                 "node_taints_policy")

    def __init__(self, max_skew: int, topology_key: str, selector: LabelSelector, min_domains: int = 1,
                 node_affinity_policy: str = HONOR, node_taints_policy: str = IGNORE) -> None:
        self.max_skew = max_skew
        self.topology_key = topology_key
        self.selector = selector
        self.min_domains = min_domains
        self.node_affinity_policy = node_affinity_policy
        self.node_taints_policy = node_taints_policy

    def __repr__(self) -> str:
        return f"Constraint({self.topology_key}, maxSkew={self.max_skew}, {self.selector!s})"


def build_constraints(spec_constraints: list[dict[str, Any]], pod_labels: dict[str, str],
                      action: str) -> list[Constraint]:
    """The pod's constraints with ``whenUnsatisfiable == action`` (upstream ``filterTopologySpreadConstraints``).

    ``matchLabelKeys`` become ``key in (value)`` requirements for the keys the pod carries.
    """
    out = []
    for c in spec_constraints:
        if (c.get("whenUnsatisfiable") or DO_NOT_SCHEDULE) != action:
            continue
        selector = selector_or_nothing(c.get("labelSelector"))
        extra = [Requirement(k, IN, (pod_labels[k],)) for k in c.get("matchLabelKeys") or () if k in pod_labels]
        if extra and not selector.match_nothing:
            selector = LabelSelector([*selector.requirements, *extra])
        out.append(Constraint(int(c.get("maxSkew") or 1), c.get("topologyKey") or "", selector,
                              int(c.get("minDomains") or 1), c.get("nodeAffinityPolicy") or HONOR,
                              c.get("nodeTaintsPolicy") or IGNORE))
    return out


def node_has_all_keys(labels: dict[str, str], constraints: list[Constraint]) -> bool:
    """Upstream ``nodeLabelsMatchSpreadConstraints``: only such nodes count towards any domain."""
    return all(c.topology_key in labels for c in constraints)


def node_included(c: Constraint, pod: PodInfo, node: NodeInfo) -> bool:
    """Upstream ``matchNodeInclusionPolicies``: does this node's domain count for this constraint?

    ``nodeAffinityPolicy: Honor`` (the default) counts only nodes the pod's
    nodeSelector / required node affinity allow; ``nodeTaintsPolicy: Honor``
    only nodes whose NoSchedule/NoExecute taints the pod tolerates (the
    default ``Ignore`` counts tainted nodes too).
    """
    if c.node_affinity_policy == HONOR and not required_matches(pod, node.labels, node.name):
        return False
    if c.node_taints_policy == HONOR and node.taints and find_untolerated_taint(node.taints, pod.tolerations):
        return False
    return True


def count_matching(node: NodeInfo, selector: LabelSelector, namespace: str) -> int:
    """Matching pods on one node (upstream ``countPodsMatchSelector``).

    Only the pod's own namespace; terminating pods do not count; an empty
    selector (``{}``) counts nothing.
    """
    if selector.empty():
        return 0
    return sum(1 for p in node.pods.values()
               if p.namespace == namespace and not p.deleting and selector.matches(p.labels))


def count_domains(pod: PodInfo, constraints: list[Constraint], nodes: list[NodeInfo]) -> list[dict[str, int]]:
    """For each constraint, matching pods per domain value, over the nodes that count.

    Example: zones a (node-1: 2 ``app=web`` pods, node-2: 0) and b (node-3: 1)
    → ``[{"a": 2, "b": 1}]``. A domain whose nodes hold no matching pod is
    still a domain, with 0.
    """
    counts: list[dict[str, int]] = [{} for _ in constraints]
    for ni in nodes:
        labels = ni.labels
        if not node_has_all_keys(labels, constraints):
            continue
        for i, c in enumerate(constraints):
            if not node_included(c, pod, ni):
                continue
            value = labels[c.topology_key]
            counts[i][value] = counts[i].get(value, 0) + count_matching(ni, c.selector, pod.namespace)
    return counts


def skew_if_placed(domain_count: int, self_match: bool, domains: dict[str, int], min_domains: int) -> int:
    """``pods in the node's domain + (1 if the pod matches its own selector) - global minimum``.

    The global minimum is the emptiest domain's count, or 0 while there are
    fewer domains than ``minDomains`` (so pods wait for new domains instead of
    piling up).

    >>> skew_if_placed(2, True, {"a": 2, "b": 1}, 1)     # zone a: 2 + 1 - 1
    2
    >>> skew_if_placed(1, True, {"a": 2, "b": 1}, 1)     # zone b: 1 + 1 - 1
    1
    >>> skew_if_placed(1, True, {"a": 1, "b": 1}, 3)     # minDomains 3 > 2 domains: minimum is 0
    2
    """
    minimum = min(domains.values()) if domains else 0
    if len(domains) < min_domains:
        minimum = 0
    return domain_count + (1 if self_match else 0) - minimum


def topology_normalizing_weight(size: int) -> float:
    """``log(domains + 2)``: a constraint over many domains weighs more (upstream ``topologyNormalizingWeight``).

    >>> round(topology_normalizing_weight(3), 3)
    1.609
    """
    return math.log(size + 2)


def score_for_count(count: int, max_skew: int, weight: float) -> float:
    """One constraint's raw contribution: ``count × weight + (maxSkew − 1)`` (upstream ``scoreForCount``).

    Adding ``maxSkew − 1`` waters down the differences a larger skew tolerates.
    Example: 2 matching pods in the node's zone, 3 zones, maxSkew 1 →
    ``2 × log(5) + 0 = 3.22``.
    """
    return count * weight + (max_skew - 1)


def normalize_spread_scores(scores: list[int], ignored: list[bool]) -> list[int]:
    """Fewer matching pods → higher score: ``100 × (max + min − score) / max`` (upstream ``NormalizeScore``).

    Nodes lacking a topology key (``ignored``) get 0; if every counted node
    scores 0, all get 100.

    Example: raw ``[3, 2, 0]`` → ``[0, 33, 100]``; raw ``[2, 2]`` → ``[100, 100]``.

    >>> normalize_spread_scores([3, 2, 0], [False, False, False])
    [0, 33, 100]
    >>> normalize_spread_scores([2, 2, 0], [False, False, True])
    [100, 100, 0]
    """
    counted = [s for s, ig in zip(scores, ignored) if not ig]
    if not counted:
        return [0 for _ in scores]
    lo, hi = min(counted), max(counted)
    out = []
    for s, ig in zip(scores, ignored):
        if ig:
            out.append(0)
        elif hi == 0:
            out.append(MAX_NODE_SCORE)
        else:
            out.append(MAX_NODE_SCORE * (hi + lo - s) // hi)
    return out


class _FilterState:
    __slots__ = ("constraints", "counts")

    def __init__(self, constraints: list[Constraint], counts: list[dict[str, int]]) -> None:
        self.constraints = constraints
        self.counts = counts


class _ScoreState:
    __slots__ = ("constraints", "counts", "weights", "ignored")

    def __init__(self, constraints: list[Constraint], counts: list[dict[str, int]], weights: list[float],
                 ignored: set[str]) -> None:
        self.constraints = constraints
        self.counts = counts
        self.weights = weights
        self.ignored = ignored


class PodTopologySpread:
    name = NAME
    events = (NODE_ADD, NODE_UPDATE, POD_ADD, POD_UPDATE, POD_DELETE)

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        if not pod.spread_constraints:
            return skip(NAME)
        constraints = build_constraints(pod.spread_constraints, pod.labels, DO_NOT_SCHEDULE)
        if not constraints:
            return skip(NAME)
        state[_FILTER_KEY] = _FilterState(constraints, count_domains(pod, constraints, state.nodes))
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: _FilterState = state[_FILTER_KEY]
        labels = node.labels
        for c, domains in zip(s.constraints, s.counts):
            value = labels.get(c.topology_key)
            if value is None:
                return unresolvable(NAME, ERR_REASON_NODE_LABEL_NOT_MATCH,
                                    detail=f"node has no label {c.topology_key}")
            skew = skew_if_placed(domains.get(value, 0), c.selector.matches(pod.labels), domains, c.min_domains)
            if skew > c.max_skew:
                return unschedulable(NAME, ERR_REASON_CONSTRAINTS_NOT_MATCH,
                                     detail=f"{c.topology_key}={value} would have skew {skew} > maxSkew "
                                            f"{c.max_skew} ({domains.get(value, 0)} matching pods there, "
                                            f"fewest in any domain {min(domains.values()) if domains else 0})")
        return None

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        constraints = (build_constraints(pod.spread_constraints, pod.labels, SCHEDULE_ANYWAY)
                       if pod.spread_constraints else [])
        if not constraints:
            return skip(NAME)
        ignored: set[str] = set()
        sizes = [0] * len(constraints)
        counts: list[dict[str, int]] = [{} for _ in constraints]
        for ni in nodes:
            if not node_has_all_keys(ni.labels, constraints):
                ignored.add(ni.name)       # scored 0 below
                continue
            for i, c in enumerate(constraints):
                if c.topology_key == HOSTNAME:
                    continue               # per-node counts are taken in Score
                value = ni.labels[c.topology_key]
                if value not in counts[i]:
                    counts[i][value] = 0
                    sizes[i] += 1
        weights = [topology_normalizing_weight(len(nodes) - len(ignored) if c.topology_key == HOSTNAME
                                               else sizes[i]) for i, c in enumerate(constraints)]
        # Count matching pods over every node (not only the feasible ones) in the candidate domains.
        for ni in state.nodes or nodes:
            if not node_has_all_keys(ni.labels, constraints):
                continue
            for i, c in enumerate(constraints):
                if c.topology_key == HOSTNAME or not node_included(c, pod, ni):
                    continue
                value = ni.labels[c.topology_key]
                if value in counts[i]:
                    counts[i][value] += count_matching(ni, c.selector, pod.namespace)
        state[_SCORE_KEY] = _ScoreState(constraints, counts, weights, ignored)
        state[_SCORE_KEY + "/order"] = [ni.name for ni in nodes]
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        s: _ScoreState = state[_SCORE_KEY]
        if node.name in s.ignored:
            return 0
        total = 0.0
        for i, c in enumerate(s.constraints):
            value = node.labels.get(c.topology_key)
            if value is None:
                continue
            if c.topology_key == HOSTNAME:
                cnt = count_matching(node, c.selector, pod.namespace)
            else:
                cnt = s.counts[i].get(value, 0)
            total += score_for_count(cnt, c.max_skew, s.weights[i])
        return int(math.floor(total + 0.5))     # Go's math.Round: halves away from zero

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> list[int]:
        s: _ScoreState = state[_SCORE_KEY]
        order: list[str] = state[_SCORE_KEY + "/order"]
        return normalize_spread_scores(scores, [name in s.ignored for name in order])
