"""The words of a FailedScheduling event: "0/3 nodes are available: …".

Upstream: ``FitError.Error()`` in ``pkg/scheduler/framework/types.go`` and the
preemption evaluator's own FitError (``framework/preemption/preemption.go``).
Each node contributes the reasons of the filter that rejected it; equal
reasons are counted, written "<count> <reason>", sorted as strings and joined.
The DefaultPreemption PostFilter then says whether evicting lower-priority
pods could help.

kubetui does not evict pods to make room (no preemption); it runs
preemption's *dry run* so the message reads as Kubernetes' would.
"""

from __future__ import annotations

from typing import Iterable

from kubetui.scheduler.framework import Code, NodeInfo, PodInfo, Status

NO_NODE_AVAILABLE_MSG = "0/{} nodes are available"
PREEMPTION_NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"


def reasons_histogram(statuses: Iterable[Status]) -> list[str]:
    """``["2 Insufficient cpu", "1 node(s) had untolerated taint(s)"]`` — sorted as strings, as upstream.

    >>> from kubetui.scheduler.framework import unschedulable
    >>> reasons_histogram([unschedulable("F", "Insufficient cpu"), unschedulable("F", "Insufficient cpu"),
    ...                    unschedulable("T", "node(s) were unschedulable")])
    ['1 node(s) were unschedulable', '2 Insufficient cpu']
    """
    counts: dict[str, int] = {}
    for st in statuses:
        for r in st.reasons:
            counts[r] = counts.get(r, 0) + 1
    return sorted(f"{v} {k}" for k, v in counts.items())


def fit_error_message(num_all_nodes: int, statuses: Iterable[Status], pre_filter_msg: str = "",
                      post_filter_msg: str = "") -> str:
    """The whole message: ``0/N nodes are available: <PreFilter msg or histogram>. <PostFilter msg>``.

    >>> from kubetui.scheduler.framework import unschedulable, unresolvable
    >>> fit_error_message(3, [unschedulable("NodeResourcesFit", "Insufficient cpu")] * 2
    ...                   + [unresolvable("TaintToleration", "node(s) had untolerated taint(s)")],
    ...                   post_filter_msg="preemption: 0/3 nodes are available: "
    ...                                   "1 Preemption is not helpful for scheduling, "
    ...                                   "2 No preemption victims found for incoming pod.")
    '0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.'
    """
    msg = NO_NODE_AVAILABLE_MSG.format(num_all_nodes) + ":"
    if pre_filter_msg:
        msg += f" {pre_filter_msg}."
    else:
        hist = reasons_histogram(statuses)
        if hist:
            msg += f" {', '.join(hist)}."
    if post_filter_msg:
        msg += f" {post_filter_msg}"
    return msg


def _fits_without(pod: PodInfo, node: NodeInfo, victims: list[PodInfo]) -> bool:
    """Would the pod's requests fit if ``victims`` left the node?"""
    a = node.allocatable
    u = node.requested
    r = pod.requests
    cpu = u.milli_cpu - sum(v.requests.milli_cpu for v in victims)
    mem = u.memory - sum(v.requests.memory for v in victims)
    eph = u.ephemeral_storage - sum(v.requests.ephemeral_storage for v in victims)
    pods = len(node.pods) - len(victims)
    scalar_ok = all(want <= a.scalar.get(name, 0) - u.scalar.get(name, 0)
                    + sum(v.requests.scalar.get(name, 0) for v in victims)
                    for name, want in r.scalar.items() if want)
    return (pods + 1 <= a.allowed_pods and r.milli_cpu <= a.milli_cpu - cpu and r.memory <= a.memory - mem
            and r.ephemeral_storage <= a.ephemeral_storage - eph and scalar_ok)


def preemption_message(pod: PodInfo, nodes: list[NodeInfo], statuses: dict[str, Status]) -> str:
    """DefaultPreemption's verdict, as a dry run.

    A node rejected as *UnschedulableAndUnresolvable* (taint, selector,
    cordon, volume) cannot be helped by evicting pods; on the others, only
    pods of lower priority may be evicted — with every pod at the default
    priority 0 there are none ("No preemption victims found").
    """
    if (pod.pod.get("spec") or {}).get("preemptionPolicy") == "Never":
        return "preemption: not eligible due to preemptionPolicy=Never."
    per_node: list[Status] = []
    for ni in nodes:
        st = statuses.get(ni.name)
        if st is None:
            continue
        if st.code == Code.UnschedulableAndUnresolvable:
            per_node.append(Status(Code.UnschedulableAndUnresolvable, PREEMPTION_NOT_HELPFUL))
            continue
        victims = [p for p in ni.pods.values() if p.priority < pod.priority]
        if not victims:
            per_node.append(Status(Code.UnschedulableAndUnresolvable, NO_VICTIMS))
        elif not _fits_without(pod, ni, victims):
            per_node.append(Status(Code.Unschedulable, *st.reasons))
        else:
            # Upstream would evict these victims and nominate the node; kubetui does not preempt.
            per_node.append(Status(Code.Unschedulable,
                                   "kubetui does not preempt lower-priority pods"))
    return f"preemption: {fit_error_message(len(nodes), per_node)}"
