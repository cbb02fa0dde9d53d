"""The simulated kubelet's stats: what ``/stats/summary`` would say for a simulated node.

Upstream counterpart: KWOK's ``metrics-usage`` (a ClusterResourceUsage
object, or the ``kwok.x-k8s.io/usage-cpu`` / ``usage-memory`` pod
annotations) that lets a fake kubelet report usage. A simulated node runs no
container, so nothing burns CPU; the usage is what the pod says it is, and a
learner (or a test, or a lesson) controls it:

=================================  ============================================
pod annotation                     reported usage
=================================  ============================================
``kubetui.dev/cpu-usage: 300m``    the pod uses 300m CPU, split evenly over its
                                   containers (a quantity, like a request)
``kubetui.dev/memory-usage: 64Mi`` the same for memory (working set)
(absent)                           0, as an idle process
=================================  ============================================

A pod inherits the annotation from its Deployment's template, so
``kubectl patch deploy web -p '{"spec":{"template":{"metadata":{"annotations":
{"kubetui.dev/cpu-usage":"400m"}}}}}'`` is "load goes up" for the whole
Deployment (it rolls out new pods, which a real load change would not), and
``kubectl annotate pod -l app=web kubetui.dev/cpu-usage=50m --overwrite``
changes the running pods in place. Only Running pods report, as a kubelet
reports only running containers.
"""

from __future__ import annotations

from typing import Any

from kubetui.api.quantity import parse_quantity
from kubetui.clock import rfc3339

CPU_ANNOTATION = "kubetui.dev/cpu-usage"
MEMORY_ANNOTATION = "kubetui.dev/memory-usage"

Obj = dict[str, Any]


def _amount(annotations: dict, key: str) -> float:
    try:
        return float(parse_quantity(annotations[key])) if key in annotations else 0.0
    except (ValueError, TypeError):
        return 0.0


def summary(node_name: str, pods: list[Obj], now: float) -> Obj:
    """A Summary API body (``{"node": …, "pods": […]}``) for the Running pods bound to ``node_name``."""
    ts = rfc3339(now)
    out_pods, node_cpu, node_mem = [], 0, 0
    for pod in pods:
        meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        if spec.get("nodeName") != node_name or (pod.get("status") or {}).get("phase") != "Running":
            continue
        containers = [c.get("name", "") for c in spec.get("containers") or []]
        if not containers:
            continue
        annotations = meta.get("annotations") or {}
        cpu = int(_amount(annotations, CPU_ANNOTATION) * 1e9)          # nanocores
        mem = int(_amount(annotations, MEMORY_ANNOTATION))              # bytes
        node_cpu += cpu
        node_mem += mem
        per = [({"time": ts, "usageNanoCores": cpu // len(containers)},
                {"time": ts, "workingSetBytes": mem // len(containers)}) for _ in containers]
        out_pods.append({"podRef": {"name": meta.get("name"), "namespace": meta.get("namespace")},
                         "cpu": {"time": ts, "usageNanoCores": cpu}, "memory": {"time": ts, "workingSetBytes": mem},
                         "containers": [{"name": n, "cpu": c, "memory": m} for n, (c, m) in zip(containers, per)]})
    return {"node": {"nodeName": node_name, "cpu": {"time": ts, "usageNanoCores": node_cpu},
                     "memory": {"time": ts, "workingSetBytes": node_mem}}, "pods": out_pods}
