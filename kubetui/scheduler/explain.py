"""Scheduling explanations: why a pod went where it went (or nowhere).

Upstream kube-scheduler keeps this only in its verbose logs and a one-line
FailedScheduling event. kubetui records every attempt: each node's Filter
verdict and reason, each Score plugin's raw, normalised and weighted score,
the totals and the winner. The scheduler keeps the last few attempts per pod
in memory and the API server serves them at a kubetui-specific path::

    GET /apis/scheduling.kubetui.dev/v1alpha1/namespaces/{ns}/decisions/{pod}

which returns a ``PodSchedulingDecisions`` object (``decisions_object``)::

    {"apiVersion": "scheduling.kubetui.dev/v1alpha1", "kind": "PodSchedulingDecisions",
     "metadata": {"name": "web-1", "namespace": "default"},
     "attempts": [            # oldest first, at most KEEP_ATTEMPTS
       {"attempt": 1, "time": "2026-01-01T00:00:00.000000Z", "profile": "default",
        "pod": {"namespace": "default", "name": "web-1", "uid": "…"},
        "outcome": "Scheduled" | "Unschedulable" | "Error" | "BindingFailed",
        "selectedNode": "node-2" | null,
        "message": "Successfully assigned default/web-1 to node-2" | "0/3 nodes are available: …",
        "numAllNodes": 3, "numNodesToFind": 3, "evaluatedNodes": 3, "feasibleNodes": 2,
        "preFilter": [{"plugin": "NodeAffinity", "code": "Skip", "reasons": []}, …],
        "preScoreSkipped": ["NodeAffinity"],
        "scoringSkipped": "" | "only one feasible node",
        "scorePlugins": [{"name": "NodeResourcesFit", "weight": 1}, …],
        "nodes": [             # in the order the filter loop visited them
          {"name": "node-1", "filter": {"verdict": "Passed"},
           "scores": [{"plugin": "NodeResourcesFit", "raw": 81, "normalized": 81,
                       "weight": 1, "weighted": 81}, …],
           "total": 281, "selected": false},
          {"name": "node-3", "filter": {"verdict": "Rejected", "plugin": "TaintToleration",
                                        "code": "UnschedulableAndUnresolvable",
                                        "reasons": ["node(s) had untolerated taint(s)"],
                                        "detail": "untolerated taint {dedicated: gpu} …"}},
          {"name": "node-9", "filter": {"verdict": "NotEvaluated"}}],
        "postFilter": null | {"plugin": "DefaultPreemption", "nominatedNode": "node-2" | null,
                              "victims": [{"name": "default/low-1", "priority": 0}],
                              "message": "" | "preemption: 0/3 nodes are available: …",
                              "candidates": [{"node": "node-2", "victims": […], "pdbViolations": 0}],
                              "nodes": {"node-1": {"plugin": …, "code": …, "reasons": […]}}}}]}

``NotEvaluated`` appears when there are 100 nodes or more: upstream stops
filtering once it has found enough feasible nodes (percentageOfNodesToScore).
Records are turned into dicts only when read, so recording costs little.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from kubetui.client.views import DECISIONS_GROUP as API_GROUP
from kubetui.client.views import DECISIONS_KIND as KIND
from kubetui.client.views import DECISIONS_VERSION as API_VERSION
from kubetui.client.views import BINDING_FAILED, ERROR, SCHEDULED, UNSCHEDULABLE
from kubetui.client.views import decisions_object, decisions_path  # noqa: F401  (decisions_path: re-exported)
from kubetui.clock import rfc3339_micro
from kubetui.scheduler.runtime import ScheduleResult

KEEP_ATTEMPTS = 5
MAX_PODS = 2000



class AttemptRecord:
    """One attempt, kept compact until someone reads it."""

    __slots__ = ("attempt", "time", "profile", "namespace", "name", "uid", "result", "outcome", "message")

    def __init__(self, attempt: int, time: float, profile: str, namespace: str, name: str, uid: str,
                 result: ScheduleResult) -> None:
        self.attempt = attempt
        self.time = time
        self.profile = profile
        self.namespace = namespace
        self.name = name
        self.uid = uid
        self.result = result
        if result.scheduled:
            self.outcome = SCHEDULED
            self.message = f"Successfully assigned {namespace}/{name} to {result.suggested_host}"
        elif result.error and result.error != result.message:
            self.outcome = ERROR
            self.message = result.error
        else:
            self.outcome = UNSCHEDULABLE
            self.message = result.message

    def binding_failed(self, message: str) -> None:
        self.outcome = BINDING_FAILED
        self.message = message

    def to_dict(self) -> dict[str, Any]:
        r = self.result
        by_node: dict[str, int] = {name: i for i, name in enumerate(r.feasible)}
        nodes = []
        for pos, name in enumerate(r.node_order):
            entry: dict[str, Any] = {"name": name}
            st = r.statuses.get(name)
            if st is not None:
                entry["filter"] = {"verdict": "Rejected", **st.as_dict()}
            elif name in by_node:
                entry["filter"] = {"verdict": "Passed"}
                i = by_node[name]
                if r.totals:
                    entry["scores"] = [{"plugin": s.plugin, "raw": s.raw[i], "normalized": s.normalized[i],
                                        "weight": s.weight, "weighted": s.normalized[i] * s.weight}
                                       for s in r.scores]
                    entry["total"] = r.totals[i]
                entry["selected"] = name == r.suggested_host
            else:
                entry["filter"] = {"verdict": "NotEvaluated"}
            nodes.append(entry)
        return {
            "attempt": self.attempt,
            "time": rfc3339_micro(self.time),
            "profile": self.profile,
            "pod": {"namespace": self.namespace, "name": self.name, "uid": self.uid},
            "outcome": self.outcome,
            "selectedNode": r.suggested_host if self.outcome == SCHEDULED else None,
            "message": self.message,
            "numAllNodes": r.num_all_nodes,
            "numNodesToFind": r.num_to_find,
            "evaluatedNodes": r.evaluated_nodes,
            "feasibleNodes": len(r.feasible),
            "preFilter": [s.as_dict() for s in r.pre_filter],
            "preScoreSkipped": list(r.pre_score_skipped),
            "scoringSkipped": r.scoring_skipped,
            "scorePlugins": [{"name": s.plugin, "weight": s.weight} for s in r.scores],
            "nodes": nodes,
            # PostFilter: DefaultPreemption's real decision (nominated node and victims, or why not)
            "postFilter": r.preemption.as_dict() if r.preemption is not None else None,
        }


class ExplanationStore:
    """The last ``keep`` attempts of the last ``max_pods`` pods that were tried (LRU)."""

    def __init__(self, keep: int = KEEP_ATTEMPTS, max_pods: int = MAX_PODS) -> None:
        self.keep = keep
        self.max_pods = max_pods
        self._by_pod: OrderedDict[str, list[AttemptRecord]] = OrderedDict()

    def record(self, rec: AttemptRecord) -> None:
        key = f"{rec.namespace}/{rec.name}"
        attempts = self._by_pod.pop(key, None) or []
        if attempts and attempts[-1].uid != rec.uid:
            attempts = []           # a new pod with the same name
        attempts.append(rec)
        del attempts[:-self.keep]
        self._by_pod[key] = attempts
        while len(self._by_pod) > self.max_pods:
            self._by_pod.popitem(last=False)

    def forget(self, key: str) -> None:
        self._by_pod.pop(key, None)

    def attempts(self, namespace: str, name: str) -> list[AttemptRecord]:
        return list(self._by_pod.get(f"{namespace}/{name}") or ())

    def latest(self, namespace: str, name: str) -> AttemptRecord | None:
        recs = self._by_pod.get(f"{namespace}/{name}")
        return recs[-1] if recs else None

    def __len__(self) -> int:
        return len(self._by_pod)


def not_found_status(namespace: str, name: str) -> dict[str, Any]:
    """The 404 ``Status`` for a pod the scheduler has no record of."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": f'decisions.{API_GROUP} "{name}" not found: the scheduler has not tried to '
                       f"schedule pod {namespace}/{name} (or it was scheduled before the control plane started)",
            "reason": "NotFound", "details": {"name": name, "group": API_GROUP, "kind": "decisions"},
            "code": 404}


def handle_decisions(scheduler: Any, namespace: str, name: str) -> tuple[int, dict[str, Any]]:
    """What the API server's route returns: ``(http status, JSON body)``.

    ``scheduler`` is the running ``kubetui.scheduler.scheduler.Scheduler``.
    """
    attempts = scheduler.explanations(namespace, name)
    if not attempts:
        return 404, not_found_status(namespace, name)
    return 200, decisions_object(namespace, name, attempts)
