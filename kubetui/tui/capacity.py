"""How full a node is: requests of its pods against its allocatable resources.

Upstream: ``kubectl describe node``'s "Allocated resources" section
(kubectl/pkg/describe/describe.go ``describeNodeResource``) and the
scheduler's NodeResourcesFit view of a node. The scheduler places pods by
*requests*, not by live usage, which is why the map shows both.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable

from kubetui.api.quantity import quantity_bytes, quantity_millis

Obj = dict[str, Any]


@dataclass(frozen=True)
class NodeAllocation:
    """Requested and allocatable CPU (millicores), memory (bytes) and pod slots."""

    cpu_requested: int
    cpu_allocatable: int
    memory_requested: int
    memory_allocatable: int
    pods: int
    pods_allocatable: int

    @staticmethod
    def fraction(used: int, total: int) -> float:
        return 0.0 if total <= 0 else min(1.0, used / total)


@lru_cache(maxsize=4096)
def _q_cached(fn: Any, value: Any, default: int) -> int:
    try:
        return int(fn(value))
    except (ValueError, TypeError):
        return default


def _q(fn: Any, value: Any, default: int = 0) -> int:
    """A quantity as an int; the same few strings ("100m", "64Mi") recur, so parses are cached."""
    if value is None:
        return default
    try:
        return _q_cached(fn, value, default)
    except TypeError:  # unhashable: not a quantity
        return default


def pod_requests(pod: Obj) -> tuple[int, int]:
    """(millicores, bytes) a pod requests: the sum over its containers.

    An init container runs before the others, so upstream takes the max of
    each init container and the sum of the app containers; a limit without a
    request counts as the request (defaulting does the same).

    >>> pod_requests({"spec": {"containers": [
    ...     {"resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}},
    ...     {"resources": {"limits": {"cpu": "1"}}}]}})
    (1250, 67108864)
    """
    def one(c: Obj) -> tuple[int, int]:
        res = c.get("resources") or {}
        req = {**(res.get("limits") or {}), **(res.get("requests") or {})}
        return _q(quantity_millis, req.get("cpu")), _q(quantity_bytes, req.get("memory"))

    spec = pod.get("spec", {}) or {}
    cpu = mem = 0
    for c in spec.get("containers") or []:
        a, b = one(c)
        cpu, mem = cpu + a, mem + b
    for c in spec.get("initContainers") or []:
        a, b = one(c)
        cpu, mem = max(cpu, a), max(mem, b)
    return cpu, mem


def counts_against_node(pod: Obj) -> bool:
    """Finished pods no longer hold their requests."""
    return pod.get("status", {}).get("phase") not in ("Succeeded", "Failed")


def node_allocation(node: Obj, pods: Iterable[Obj]) -> NodeAllocation:
    alloc = node.get("status", {}).get("allocatable") or node.get("status", {}).get("capacity") or {}
    cpu = mem = n = 0
    for pod in pods:
        if not counts_against_node(pod):
            continue
        a, b = pod_requests(pod)
        cpu, mem, n = cpu + a, mem + b, n + 1
    return NodeAllocation(cpu, _q(quantity_millis, alloc.get("cpu")), mem, _q(quantity_bytes, alloc.get("memory")),
                          n, _q(int, alloc.get("pods")))


def format_cpu(millis: int) -> str:
    """``1500`` -> ``1.5``, ``250`` -> ``250m``."""
    return f"{millis}m" if millis % 1000 else str(millis // 1000)


def format_bytes(n: int) -> str:
    """Binary units as kubectl top prints them: ``128Mi``, ``2Gi``."""
    for unit, size in (("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if n >= size:
            v = n / size
            return f"{v:.1f}{unit}".replace(".0" + unit, unit)
    return str(n)
