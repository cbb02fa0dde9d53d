"""One scheduling decision: PreFilter → Filter → PreScore → Score → NormalizeScore → select.

Upstream: ``pkg/scheduler/schedule_one.go`` (``schedulePod``,
``findNodesThatFitPod``, ``prioritizeNodes``, ``selectHost``) and the
framework runtime (``framework/runtime/framework.go``). Pure with respect to
the API: it reads NodeInfos and returns a ``ScheduleResult`` that says which
node won and why every node passed or failed; the caller assumes and binds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from kubetui.scheduler.diagnosis import fit_error_message
from kubetui.scheduler.framework import Code, CycleState, NodeInfo, PodInfo, Status
from kubetui.scheduler.preemption import DefaultPreemption, PreemptionResult, node_with
from kubetui.scheduler.profiles import Profile

# Upstream's constants for sampling: with many nodes the scheduler stops
# filtering once it has found "enough" feasible nodes, since scoring every
# node of a 5000-node cluster for every pod costs more than it gains.
MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
NO_NODES_AVAILABLE = "no nodes available to schedule pods"


def num_feasible_nodes_to_find(percentage_of_nodes_to_score: int, num_all_nodes: int) -> int:
    """How many feasible nodes to find before scoring (upstream ``numFeasibleNodesToFind``).

    Below 100 nodes: all of them. Otherwise ``percentageOfNodesToScore``
    (0 = adaptive: ``50 - nodes/125`` percent, at least 5%), but never fewer
    than 100 nodes.

    Example: 500 nodes → adaptive ``50 - 500 // 125 = 46`` percent → 230 nodes;
    5000 nodes → 10% → 500; 200 nodes → 49% = 98, raised to 100.
    """
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    percentage = percentage_of_nodes_to_score
    if percentage <= 0:
        percentage = max(50 - num_all_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    num = num_all_nodes * percentage // 100
    return max(num, MIN_FEASIBLE_NODES_TO_FIND)


@dataclass
class PluginScores:
    """One Score plugin's numbers over the feasible nodes (same order as ``ScheduleResult.feasible``)."""

    plugin: str
    weight: int
    raw: list[int]
    normalized: list[int]


@dataclass
class ScheduleResult:
    """Everything one attempt decided, enough to explain it afterwards."""

    pod_key: str
    num_all_nodes: int
    num_to_find: int = 0
    # the snapshot's node names, and where the filter loop started in it: the
    # loop visits node_names[start:] + node_names[:start] and stops after evaluated_nodes
    node_names: tuple[str, ...] = ()
    start: int = 0
    evaluated_nodes: int = 0
    pre_filter: list[Status] = field(default_factory=list)
    pre_filter_failure: Status | None = None
    # node name -> the first Filter rejection on it
    statuses: dict[str, Status] = field(default_factory=dict)
    feasible: list[str] = field(default_factory=list)
    pre_score_skipped: list[str] = field(default_factory=list)
    scores: list[PluginScores] = field(default_factory=list)
    totals: list[int] = field(default_factory=list)
    scoring_skipped: str = ""
    suggested_host: str | None = None
    # Set when no node fits: the FailedScheduling message.
    message: str = ""
    error: str = ""
    # PostFilter (DefaultPreemption): the nominated node and its victims, or why preemption cannot help.
    preemption: PreemptionResult | None = None

    @property
    def scheduled(self) -> bool:
        return self.suggested_host is not None

    @property
    def node_order(self) -> list[str]:
        """Node names in the order the filter loop visited them."""
        return list(self.node_names[self.start:] + self.node_names[:self.start])

    def unschedulable_plugins(self) -> set[str]:
        """Plugins that rejected the pod somewhere: the queue waits for events *they* care about."""
        names = {s.plugin for s in self.statuses.values()}
        if self.pre_filter_failure is not None:
            names.add(self.pre_filter_failure.plugin)
        return names


class Framework:
    """A profile's plugins, ready to run (upstream ``frameworkImpl``)."""

    def __init__(self, profile: Profile, seed: int = 0) -> None:
        self.profile = profile
        plugins = profile.plugins
        self.pre_filter_plugins = [p for p in plugins if hasattr(p, "pre_filter")]
        self.filter_plugins = [p for p in plugins if hasattr(p, "filter")]
        self.pre_score_plugins = [p for p in plugins if hasattr(p, "pre_score")]
        self.score_plugins = [p for p in plugins if hasattr(p, "score") and profile.weights.get(p.name, 1) > 0]
        # Where the next filter pass starts, so sampling visits every node over time (upstream nextStartNodeIndex).
        self.next_start_node_index = 0
        # Ties between the best nodes are broken at random, seeded so runs repeat.
        self.rng = random.Random(seed)
        # PostFilter: DefaultPreemption over the same Filter plugins (the scheduler gives it the PDBs).
        self.preemption = DefaultPreemption([(p.name, p.filter) for p in self.filter_plugins],
                                            nominated_node_of=self.nominated_node_of)
        # node name -> pods nominated to it by preemption, waiting for their victims to go
        # (upstream's nominator): a pod of lower or equal priority must leave them room.
        self.nominated: dict[str, dict[str, PodInfo]] = {}

    @property
    def name(self) -> str:
        return self.profile.name

    def weight(self, plugin: str) -> int:
        return self.profile.weights.get(plugin, 1)

    def schedule_pod(self, pod: PodInfo, nodes: list[NodeInfo]) -> ScheduleResult:
        """Pick a node for ``pod`` among ``nodes`` (the snapshot), recording why."""
        n = len(nodes)
        result = ScheduleResult(pod_key=pod.key, num_all_nodes=n)
        if n == 0:
            result.error = NO_NODES_AVAILABLE
            result.message = NO_NODES_AVAILABLE
            return result
        state = CycleState(nodes)
        result.node_names = tuple([ni.name for ni in nodes])

        # PreFilter: once per pod. A rejection here rules out every node.
        for p in self.pre_filter_plugins:
            st = p.pre_filter(state, pod)
            if st is None:
                st = Status(Code.Success, plugin=p.name)
            st.plugin = st.plugin or p.name
            result.pre_filter.append(st)
            if st.is_skip():
                state.skip_filter.add(p.name)
            elif not st.is_success():
                result.pre_filter_failure = st
                result.evaluated_nodes = n
                for ni in nodes:
                    result.statuses[ni.name] = st
                result.preemption = self.preemption.post_filter(state, pod, nodes, result.statuses)
                result.message = fit_error_message(n, [], pre_filter_msg=st.message,
                                                   post_filter_msg=result.preemption.message)
                return result

        # Filter: every node until enough feasible ones are found.
        num_to_find = num_feasible_nodes_to_find(self.profile.percentage_of_nodes_to_score, n)
        result.num_to_find = num_to_find
        filters = [(p.name, p.filter) for p in self.filter_plugins if p.name not in state.skip_filter]
        feasible: list[NodeInfo] = []
        statuses = result.statuses
        start = self.next_start_node_index % n
        processed = 0
        for i in range(n):
            ni = nodes[(start + i) % n]
            processed += 1
            target = self._with_nominated(pod, ni)
            for name, fn in filters:
                st = fn(state, pod, target)
                if st is not None:
                    st.plugin = st.plugin or name
                    statuses[ni.name] = st
                    break
            else:
                feasible.append(ni)
                if len(feasible) >= num_to_find:
                    break
        self.next_start_node_index = (start + processed) % n
        result.evaluated_nodes = processed
        result.start = start
        result.feasible = [ni.name for ni in feasible]

        if not feasible:
            result.preemption = self.preemption.post_filter(state, pod, nodes, statuses)
            result.message = fit_error_message(n, statuses.values(), post_filter_msg=result.preemption.message)
            return result
        if len(feasible) == 1:
            # Upstream skips scoring when only one node fits: there is nothing to rank.
            result.scoring_skipped = "only one feasible node"
            result.suggested_host = feasible[0].name
            return result

        # PreScore / Score / NormalizeScore, then weights.
        skip_score = set()
        for p in self.pre_score_plugins:
            st = p.pre_score(state, pod, feasible)
            if st is not None and st.is_skip():
                skip_score.add(p.name)
            elif st is not None and not st.is_success():
                result.error = f"running PreScore plugin {p.name!r}: {st.message}"
                return result
        result.pre_score_skipped = sorted(skip_score)
        totals = [0] * len(feasible)
        for p in self.score_plugins:
            if p.name in skip_score:
                continue
            batch = getattr(p, "score_nodes", None)
            raw = batch(state, pod, feasible) if batch else [p.score(state, pod, ni) for ni in feasible]
            norm = p.normalize_score(state, pod, raw) if hasattr(p, "normalize_score") else raw
            w = self.weight(p.name)
            for i, v in enumerate(norm):
                totals[i] += v * w
            result.scores.append(PluginScores(p.name, w, raw, norm))
        result.totals = totals
        result.suggested_host = feasible[self._select_host(totals)].name
        return result

    def _with_nominated(self, pod: PodInfo, ni: NodeInfo) -> NodeInfo:
        """``addNominatedPods``: the node as if the pods nominated to it with priority >= this pod's ran there."""
        nominated = self.nominated.get(ni.name)
        if not nominated:
            return ni
        extra = [p for key, p in nominated.items() if key != pod.key and p.priority >= pod.priority]
        return node_with(ni, add=extra) if extra else ni

    def nominated_node_of(self, key: str) -> str | None:
        return next((node for node, pods in self.nominated.items() if key in pods), None)

    def nominate(self, pod: PodInfo, node: str | None) -> None:
        """Record (or, with None, forget) the node a pod was nominated to."""
        for pods in self.nominated.values():
            pods.pop(pod.key, None)
        if node:
            self.nominated.setdefault(node, {})[pod.key] = pod

    def _select_host(self, totals: list[int]) -> int:
        """Index of the highest total; ties broken uniformly at random.

        Upstream uses reservoir sampling over the node list; picking uniformly
        among the tied indices gives the same distribution in one draw.
        """
        top = max(totals)
        tied = [i for i, t in enumerate(totals) if t == top]
        return tied[self.rng.randrange(len(tied))] if len(tied) > 1 else tied[0]


def describe_result(result: ScheduleResult) -> dict[str, Any]:
    """A compact summary (for logs)."""
    return {"pod": result.pod_key, "node": result.suggested_host, "evaluated": result.evaluated_nodes,
            "feasible": len(result.feasible), "message": result.message}
