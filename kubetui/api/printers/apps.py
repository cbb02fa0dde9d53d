"""Printers for the apps group: Deployments and ReplicaSets.

Upstream: ``printDeployment`` and ``printReplicaSet`` in
``pkg/printers/internalversion/printers.go``. The wide columns are the pod
template's containers and images and the selector.
"""

from __future__ import annotations

from typing import Any

from kubetui.api.printers.common import (AGE_COL, NAME_COL, WORKLOAD_WIDE, age, col, format_label_selector,
                                         layout_container_cells)

DEPLOYMENT_COLUMNS = [
    NAME_COL,
    col("Ready", desc="Number of the pod with ready state"),
    col("Up-to-date", "integer", desc="Total number of non-terminated pods targeted by this deployment "
                                      "that have the desired template spec."),
    col("Available", "integer", desc="Total number of available pods (ready for at least minReadySeconds) "
                                     "targeted by this deployment."),
    AGE_COL, *WORKLOAD_WIDE,
]


def deployment_row(d: dict, now: float) -> list[Any]:
    spec, st = d.get("spec") or {}, d.get("status") or {}
    containers, images = layout_container_cells(spec.get("template"))
    replicas = spec.get("replicas", 1)
    return [d["metadata"].get("name", ""), f"{int(st.get('readyReplicas') or 0)}/{replicas}",
            int(st.get("updatedReplicas") or 0), int(st.get("availableReplicas") or 0), age(d, now),
            containers, images, format_label_selector(spec.get("selector"))]


REPLICASET_COLUMNS = [
    NAME_COL,
    col("Desired", "integer", desc="Replicas is the number of desired replicas."),
    col("Current", "integer", desc="Replicas is the most recently observed number of replicas."),
    col("Ready", "integer", desc="The number of ready replicas for this replica set."),
    AGE_COL, *WORKLOAD_WIDE,
]


def replicaset_row(rs: dict, now: float) -> list[Any]:
    spec, st = rs.get("spec") or {}, rs.get("status") or {}
    containers, images = layout_container_cells(spec.get("template"))
    return [rs["metadata"].get("name", ""), int(spec.get("replicas", 1)), int(st.get("replicas") or 0),
            int(st.get("readyReplicas") or 0), age(rs, now), containers, images,
            format_label_selector(spec.get("selector"))]
