"""DefaultPreemption, the PostFilter plugin: make room for a pod by evicting lower-priority ones.

Upstream: ``pkg/scheduler/framework/plugins/defaultpreemption/default_preemption.go``
(``SelectVictimsOnNode``, ``PodEligibleToPreemptOthers``) and
``pkg/scheduler/framework/preemption/preemption.go`` (``Evaluator.Preempt``,
``findCandidates``/``DryRunPreemption``, ``SelectCandidate`` →
``pickOneNodeForPreemption``, ``filterPodsWithPDBViolation``). When no node
fits a pod, the scheduler asks, node by node:

1. Could evicting pods help here at all? A node rejected as
   *UnschedulableAndUnresolvable* (taint, selector, cordon) cannot be helped:
   ``Preemption is not helpful for scheduling``.
2. Remove every pod of lower priority; does the pod fit now? If there is no
   such pod: ``No preemption victims found for incoming pod``.
3. Give pods back, most important first (higher priority, then older), the
   ones a PodDisruptionBudget protects first, keeping each one that still
   leaves room: what is left are the *minimal* victims.

Then it picks one node, by upstream's criteria in order: fewest PDB
violations, lowest highest-victim priority, lowest sum of victim
priorities, fewest victims, latest start of the highest-priority victims,
then the first found. The scheduler (``scheduler.py``) acts: victims get the
``DisruptionTarget`` condition (reason ``PreemptionByScheduler``) and are
deleted, each gets a ``Preempted`` event ``Preempted by pod <uid> on node
<node>``, and the pod's ``status.nominatedNodeName`` is set; the pod is
scheduled once the victims are gone. Pure: it reads NodeInfos and PDBs.

Worked example: node n1 (1 cpu) runs ``low`` (priority 0, 800m) and
``mid`` (priority 100, 100m); a pod of priority 1000 asks 500m. Removing
both frees room; giving ``mid`` back (more important) still fits, giving
``low`` back does not: the victims on n1 are [low].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from kubetui.api.disruption import selects
from kubetui.clock import parse_rfc3339
from kubetui.scheduler.diagnosis import NO_VICTIMS, PREEMPTION_NOT_HELPFUL, fit_error_message
from kubetui.scheduler.framework import Code, CycleState, NodeInfo, PodInfo, Status

Obj = dict[str, Any]
NOT_ELIGIBLE_NEVER = "preemption: not eligible due to preemptionPolicy=Never."
NOT_ELIGIBLE_TERMINATING = "preemption: not eligible due to a terminating pod on the nominated node."
PLUGIN = "DefaultPreemption"


@dataclass
class Candidate:
    """A node where preemption would work, and what it would cost."""

    node: str
    victims: list[PodInfo]
    pdb_violations: int

    def as_dict(self) -> dict[str, Any]:
        return {"node": self.node, "victims": [{"name": v.key, "priority": v.priority} for v in self.victims],
                "pdbViolations": self.pdb_violations}


@dataclass
class PreemptionResult:
    """What PostFilter decided: a nominated node and its victims, or why not (``message``)."""

    nominated_node: str | None = None
    victims: list[PodInfo] = field(default_factory=list)
    message: str = ""
    candidates: list[Candidate] = field(default_factory=list)
    statuses: dict[str, Status] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"plugin": PLUGIN, "nominatedNode": self.nominated_node,
                "victims": [{"name": v.key, "priority": v.priority} for v in self.victims],
                "message": self.message, "candidates": [c.as_dict() for c in self.candidates],
                "nodes": {n: s.as_dict() for n, s in self.statuses.items()}}


def start_time(pi: PodInfo) -> float:
    """``GetPodStartTime``: status.startTime, else creation (an unstarted pod counts as now-ish)."""
    st = (pi.pod.get("status") or {}).get("startTime") or (pi.pod.get("metadata") or {}).get("creationTimestamp")
    try:
        return parse_rfc3339(st) if st else float("inf")
    except ValueError:
        return float("inf")


def more_important(a: PodInfo) -> tuple:
    """Sort key for ``MoreImportantPod``: higher priority first, then the one that started earlier."""
    return (-a.priority, start_time(a))


def node_with(ni: NodeInfo, remove: list[PodInfo] = (), add: list[PodInfo] = ()) -> NodeInfo:  # type: ignore[assignment]
    """A copy of a node's view with pods removed or added (upstream ``NodeInfo.Snapshot`` + Remove/AddPod)."""
    copy = NodeInfo(ni.node)
    gone = {p.key for p in remove}
    for key, p in ni.pods.items():
        if key not in gone:
            copy.add_pod(p)
    for p in add:
        copy.add_pod(p)
    return copy


def filter_pods_with_pdb_violation(victims: list[PodInfo], pdbs: list[Obj]) -> tuple[list[PodInfo], list[PodInfo]]:
    """``filterPodsWithPDBViolation``: (violating, non-violating), each in the given order.

    Each budget's ``disruptionsAllowed`` is spent pod by pod; a pod whose
    eviction would take some budget below zero violates it. Pods the Eviction
    API already counted (``disruptedPods``) do not spend it again.
    """
    allowed = [int((p.get("status") or {}).get("disruptionsAllowed") or 0) for p in pdbs]
    violating, ok = [], []
    for v in victims:
        hit = False
        if v.labels:
            for i, pdb in enumerate(pdbs):
                if (pdb.get("metadata") or {}).get("namespace") != v.namespace:
                    continue
                sel = (pdb.get("spec") or {}).get("selector")
                if not sel or not selects(pdb, v.labels):
                    continue  # a nil or empty selector matches nothing here
                if v.name in ((pdb.get("status") or {}).get("disruptedPods") or {}):
                    continue
                allowed[i] -= 1
                if allowed[i] < 0:
                    hit = True
        (violating if hit else ok).append(v)
    return violating, ok


def pick_one_node(candidates: list[Candidate]) -> Candidate:
    """``pickOneNodeForPreemption``: upstream's criteria, in order, ties passed on to the next one."""
    for c in candidates:
        if not c.victims:
            return c
    pool = list(candidates)
    criteria: list[Callable[[Candidate], float]] = [
        lambda c: c.pdb_violations,
        lambda c: max(v.priority for v in c.victims),
        # upstream adds MaxInt32+1 to each priority so that more victims always weigh more
        lambda c: sum(v.priority + 2**31 for v in c.victims),
        lambda c: len(c.victims),
        # the latest start time among the highest-priority victims wins (negated for min)
        lambda c: -min(start_time(v) for v in c.victims if v.priority == max(x.priority for x in c.victims)),
    ]
    for key in criteria:
        best = min(key(c) for c in pool)
        pool = [c for c in pool if key(c) == best]
        if len(pool) == 1:
            break
    return pool[0]


class DefaultPreemption:
    """The PostFilter plugin; ``filters`` are the profile's Filter plugins, ``pdbs`` lists the budgets."""

    name = PLUGIN

    def __init__(self, filters: list[tuple[str, Any]], pdbs: Callable[[], list[Obj]] = lambda: [],
                 nominated_node_of: Callable[[str], str | None] = lambda key: None) -> None:
        self.filters = filters
        self.pdbs = pdbs
        # the scheduler's own record of nominations (the pod's status may not show it yet)
        self.nominated_node_of = nominated_node_of

    def fits(self, state: CycleState, pod: PodInfo, ni: NodeInfo) -> Status | None:
        """Run every Filter (but those PreFilter skipped) on one node; None when the pod fits."""
        for name, fn in self.filters:
            if name in state.skip_filter:
                continue
            st = fn(state, pod, ni)
            if st is not None:
                st.plugin = st.plugin or name
                return st
        return None

    def eligible(self, pod: PodInfo, nodes: dict[str, NodeInfo]) -> str:
        """``PodEligibleToPreemptOthers``: '' or why not."""
        spec = pod.pod.get("spec") or {}
        if spec.get("preemptionPolicy") == "Never":
            return NOT_ELIGIBLE_NEVER
        nominated = (pod.pod.get("status") or {}).get("nominatedNodeName") or self.nominated_node_of(pod.key)
        ni = nodes.get(nominated or "")
        if ni is not None:
            for p in ni.pods.values():
                if p.deleting and p.priority < pod.priority:
                    return NOT_ELIGIBLE_TERMINATING
        return ""

    def select_victims_on_node(self, state: CycleState, pod: PodInfo, ni: NodeInfo,
                               pdbs: list[Obj]) -> tuple[list[PodInfo], int, Status | None]:
        """``SelectVictimsOnNode``: (victims, PDB violations, None) or ([], 0, why this node cannot help)."""
        potential = [p for p in ni.pods.values() if p.priority < pod.priority]
        if not potential:
            return [], 0, Status(Code.UnschedulableAndUnresolvable, NO_VICTIMS, plugin=PLUGIN)
        st = self.fits(state, pod, node_with(ni, remove=potential))
        if st is not None:
            return [], 0, Status(Code.Unschedulable, *st.reasons, plugin=st.plugin)
        potential.sort(key=more_important)
        violating, ok = filter_pods_with_pdb_violation(potential, pdbs)
        kept: list[PodInfo] = []
        victims: list[PodInfo] = []
        violations = 0
        for group, is_violating in ((violating, True), (ok, False)):
            for p in group:
                trial = node_with(ni, remove=potential, add=kept + [p])
                if self.fits(state, pod, trial) is None:
                    kept.append(p)     # reprieved
                else:
                    victims.append(p)
                    violations += is_violating
        return victims, violations, None

    def post_filter(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo],
                    statuses: dict[str, Status]) -> PreemptionResult:
        """``Evaluator.Preempt``: the nominated node and its victims, or a message saying why not."""
        by_name = {ni.name: ni for ni in nodes}
        why = self.eligible(pod, by_name)
        if why:
            return PreemptionResult(message=why)
        pdbs = self.pdbs()
        out = PreemptionResult()
        per_node: list[Status] = []
        for ni in nodes:
            st = statuses.get(ni.name)
            if st is None:
                continue
            if st.code == Code.UnschedulableAndUnresolvable:
                s = Status(Code.UnschedulableAndUnresolvable, PREEMPTION_NOT_HELPFUL, plugin=PLUGIN)
            else:
                victims, violations, s = self.select_victims_on_node(state, pod, ni, pdbs)
                if s is None:
                    out.candidates.append(Candidate(ni.name, victims, violations))
                    continue
            out.statuses[ni.name] = s
            per_node.append(s)
        if not out.candidates:
            out.message = f"preemption: {fit_error_message(len(nodes), per_node)}"
            return out
        best = pick_one_node(out.candidates)
        out.nominated_node, out.victims = best.node, best.victims
        return out
