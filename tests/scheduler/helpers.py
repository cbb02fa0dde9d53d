"""Builders for scheduler tests: nodes and pods as Kubernetes objects."""

from __future__ import annotations

from typing import Any


def make_node(name: str, cpu: str = "4", memory: str = "8Gi", pods: int = 110, *, labels: dict | None = None,
              taints: list | None = None, unschedulable: bool = False, storage: str = "100Gi") -> dict[str, Any]:
    alloc = {"cpu": cpu, "memory": memory, "pods": str(pods), "ephemeral-storage": storage}
    spec: dict[str, Any] = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
            "spec": spec, "status": {"capacity": dict(alloc), "allocatable": alloc}}


def make_pod(name: str, cpu: str | None = None, memory: str | None = None, *, ns: str = "default",
             node_selector: dict | None = None, tolerations: list | None = None, affinity: dict | None = None,
             host_port: int | None = None, init: list[dict] | None = None, node_name: str | None = None,
             pvcs: list[str] | None = None, priority: int | None = None, uid: str | None = None) -> dict[str, Any]:
    req = {}
    if cpu:
        req["cpu"] = cpu
    if memory:
        req["memory"] = memory
    c: dict[str, Any] = {"name": "app", "image": "nginx", "resources": {"requests": req} if req else {}}
    if host_port:
        c["ports"] = [{"containerPort": 80, "hostPort": host_port, "protocol": "TCP"}]
    spec: dict[str, Any] = {"containers": [c]}
    if node_selector:
        spec["nodeSelector"] = node_selector
    if tolerations:
        spec["tolerations"] = tolerations
    if affinity:
        spec["affinity"] = affinity
    if init:
        spec["initContainers"] = init
    if node_name:
        spec["nodeName"] = node_name
    if pvcs:
        spec["volumes"] = [{"name": f"v{i}", "persistentVolumeClaim": {"claimName": n}} for i, n in enumerate(pvcs)]
    if priority is not None:
        spec["priority"] = priority
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "uid": uid or f"uid-{ns}-{name}"}, "spec": spec}
