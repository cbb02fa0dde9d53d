"""The words of a FailedScheduling event: "0/3 nodes are available: …".

Upstream: ``FitError.Error()`` in ``pkg/scheduler/framework/types.go`` and the
preemption evaluator's own FitError (``framework/preemption/preemption.go``).
Each node contributes the reasons of the filter that rejected it; equal
reasons are counted, written "<count> <reason>", sorted as strings and joined.
The DefaultPreemption PostFilter (``preemption.py``) then says why evicting
lower-priority pods cannot help ("preemption: 0/3 nodes are available: …"),
or, when it nominated a node, adds nothing.
"""

from __future__ import annotations

from typing import Iterable

from kubetui.scheduler.framework import Status

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
