"""NodeResourcesFit: does the pod's request fit what the node has left? And how full is the node?

Upstream: ``pkg/scheduler/framework/plugins/noderesources/fit.go``. Filter
compares the pod's requests (``framework.pod_requests``: app containers add
up, init containers take the max) with ``status.allocatable`` minus what the
pods already on the node (bound or assumed) request, for cpu, memory,
ephemeral-storage, the pod count and every *scalar* resource the pod asks
for: extended resources (``example.com/dongle: 3``, offered by a node in
``status.allocatable`` once a device plugin or an operator advertises them)
and hugepages. A node that offers none of an extended resource has 0 of it:
``Insufficient example.com/dongle``. Score uses a *strategy*:
``LeastAllocated`` (spread, the default) or ``MostAllocated`` (bin packing).
"""

from __future__ import annotations

from kubetui.api.quantity import BINARY_SI, format_quantity
from kubetui.scheduler.framework import (NODE_ADD, NODE_UPDATE, POD_DELETE, POD_UPDATE, Code,
                                         CycleState, NodeInfo, PodInfo, Status, is_extended_resource_name)
from kubetui.scheduler.plugins.least_allocated import least_allocated_score
from kubetui.scheduler.plugins.most_allocated import most_allocated_score

NAME = "NodeResourcesFit"
LEAST_ALLOCATED = "LeastAllocated"
MOST_ALLOCATED = "MostAllocated"


def insufficient_resources(pod: PodInfo, node: NodeInfo) -> list[tuple[str, int, int, int]]:
    """Every resource the node lacks: ``(name, requested, used, capacity)``.

    Upstream ``fitsRequest``. Pods count against ``allocatable.pods``; a
    resource the pod does not request (or requests 0 of) never fails. Scalar
    resources come last, sorted by name.

    Example: node allocatable cpu 2000m with 1500m already requested; a pod
    asking 1000m → ``[("cpu", 1000, 1500, 2000)]`` → reason ``Insufficient cpu``.
    A pod asking ``example.com/dongle: 3`` of a node that offers 4 with 2 in
    use → ``[("example.com/dongle", 3, 2, 4)]``; of a node that offers none →
    ``[("example.com/dongle", 3, 0, 0)]``.
    """
    out = []
    a = node.allocatable
    u = node.requested
    r = pod.requests
    if len(node.pods) + 1 > a.allowed_pods:
        out.append(("pods", 1, len(node.pods), a.allowed_pods))
    if r.milli_cpu and r.milli_cpu > a.milli_cpu - u.milli_cpu:
        out.append(("cpu", r.milli_cpu, u.milli_cpu, a.milli_cpu))
    if r.memory and r.memory > a.memory - u.memory:
        out.append(("memory", r.memory, u.memory, a.memory))
    if r.ephemeral_storage and r.ephemeral_storage > a.ephemeral_storage - u.ephemeral_storage:
        out.append(("ephemeral-storage", r.ephemeral_storage, u.ephemeral_storage, a.ephemeral_storage))
    for name in sorted(r.scalar):
        want = r.scalar[name]
        if not want:
            continue
        have, used = a.scalar.get(name, 0), u.scalar.get(name, 0)
        if want > have - used:
            out.append((name, want, used, have))
    return out


def _fmt(resource: str, amount: int) -> str:
    """``1500m`` for CPU, ``512Mi`` for bytes, a plain count for pods."""
    if resource == "cpu":
        return f"{amount}m"
    if resource == "pods" or is_extended_resource_name(resource):
        return str(amount)
    return format_quantity(amount, BINARY_SI)


def reason_for(resource: str) -> str:
    """Upstream's wording: ``Too many pods`` or ``Insufficient <resource>``."""
    return "Too many pods" if resource == "pods" else f"Insufficient {resource}"


class NodeResourcesFit:
    name = NAME
    events = (NODE_ADD, NODE_UPDATE, POD_DELETE, POD_UPDATE)

    def __init__(self, strategy: str = LEAST_ALLOCATED, resources: dict[str, int] | None = None) -> None:
        if strategy not in (LEAST_ALLOCATED, MOST_ALLOCATED):
            raise ValueError(f"NodeResourcesFit: unknown scoring strategy {strategy!r}")
        self.strategy = strategy
        # Upstream's default: cpu and memory, weight 1 each.
        self.resources = dict(resources or {"cpu": 1, "memory": 1})
        self._weights = [self.resources.get("cpu", 0), self.resources.get("memory", 0)]
        self._score_fn = least_allocated_score if strategy == LEAST_ALLOCATED else most_allocated_score

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        a = node.allocatable
        u = node.requested
        r = pod.requests
        # Fast path: the common "it fits" case without building a list.
        if (len(node.pods) < a.allowed_pods
                and (not r.milli_cpu or r.milli_cpu <= a.milli_cpu - u.milli_cpu)
                and (not r.memory or r.memory <= a.memory - u.memory)
                and (not r.ephemeral_storage or r.ephemeral_storage <= a.ephemeral_storage - u.ephemeral_storage)
                and not r.scalar):
            return None
        missing = insufficient_resources(pod, node)
        if not missing:
            return None
        detail = "; ".join(f"{name}: pod requests {_fmt(name, req)}, {_fmt(name, used)} of "
                           f"{_fmt(name, cap)} already requested" for name, req, used, cap in missing)
        return Status(Code.Unschedulable, *(reason_for(m[0]) for m in missing), plugin=NAME, detail=detail)

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        # Scoring counts containers without requests as 100m / 200Mi ("non-zero" requests).
        a = node.allocatable
        return self._score_fn([node.non_zero_cpu + pod.non_zero_cpu, node.non_zero_mem + pod.non_zero_mem],
                              [a.milli_cpu, a.memory], self._weights)

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        """``score`` for many nodes at once, with the two-resource maths inlined (the hot path).

        Gives exactly ``least_allocated_score`` / ``most_allocated_score`` (tests compare them).
        """
        pc, pm = pod.non_zero_cpu, pod.non_zero_mem
        wc, wm = self._weights
        ws = wc + wm
        if not ws:
            return [0] * len(nodes)
        least = self.strategy == LEAST_ALLOCATED
        out = []
        for ni in nodes:
            a = ni.allocatable
            cc, cm = a.milli_cpu, a.memory
            rc, rm = ni.non_zero_cpu + pc, ni.non_zero_mem + pm
            if least:
                sc = (cc - rc) * 100 // cc if cc and rc <= cc else 0
                sm = (cm - rm) * 100 // cm if cm and rm <= cm else 0
            else:
                sc = min(rc, cc) * 100 // cc if cc else 0
                sm = min(rm, cm) * 100 // cm if cm else 0
            out.append((sc * wc + sm * wm) // ws)
        return out
