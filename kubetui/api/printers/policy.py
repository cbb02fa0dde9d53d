"""Printers for the policy kinds: ReplicationControllers, PodTemplates, ResourceQuotas,
LimitRanges, PodDisruptionBudgets and PriorityClasses.

Upstream: ``printReplicationController``, ``printPodTemplate``,
``printResourceQuota``, ``printLimitRange``, ``printPodDisruptionBudget`` and
``printPriorityClass`` in ``pkg/printers/internalversion/printers.go``. A
quota's REQUEST and LIMIT cells are ``name: used/hard`` pairs read from its
*status* (empty until the quota controller has counted), ``limits.*`` names
in LIMIT and everything else in REQUEST.
"""

from __future__ import annotations

from typing import Any

from kubetui.api.printers.common import (AGE_COL, AGE_DESC, NAME_COL, WORKLOAD_WIDE, age, col,
                                         format_label_selector, format_labels, layout_container_cells)

RC_COLUMNS = [
    NAME_COL,
    col("Desired", "integer", desc="Replicas is the number of desired replicas. This is a pointer to "
                                   "distinguish between explicit zero and unspecified. Defaults to 1."),
    col("Current", "integer", desc="Replicas is the most recently observed number of replicas."),
    col("Ready", "integer", desc="The number of ready replicas for this replication controller."),
    AGE_COL, *WORKLOAD_WIDE,
]


def replicationcontroller_row(rc: dict, now: float) -> list[Any]:
    spec, st = rc.get("spec") or {}, rc.get("status") or {}
    containers, images = layout_container_cells(spec.get("template"))
    selector = {"matchLabels": spec.get("selector")} if spec.get("selector") else None
    return [rc["metadata"].get("name", ""), int(spec.get("replicas", 1)), int(st.get("replicas") or 0),
            int(st.get("readyReplicas") or 0), age(rc, now), containers, images, format_label_selector(selector)]


PODTEMPLATE_COLUMNS = [
    NAME_COL,
    col("Containers", desc="Names of each container in the template."),
    col("Images", desc="Images referenced by each container in the template."),
    col("Pod Labels", desc="The labels for the pod template."),
]


def podtemplate_row(pt: dict, now: float) -> list[Any]:
    template = pt.get("template") or {}
    containers, images = layout_container_cells(template)
    return [pt["metadata"].get("name", ""), containers, images,
            format_labels((template.get("metadata") or {}).get("labels"))]


RESOURCEQUOTA_COLUMNS = [
    NAME_COL,
    col("Request", desc="Request represents a minimum amount of cpu/memory that a container may consume."),
    col("Limit", desc="Limits control the maximum amount of cpu/memory that a container may use independent "
                      "of contention on the node."),
    AGE_COL,
]


def resourcequota_row(rq: dict, now: float) -> list[Any]:
    """``cpu: 500m/1, pods: 2/10`` from status.used / status.hard, sorted by name."""
    st = rq.get("status") or {}
    hard, used = st.get("hard") or {}, st.get("used") or {}
    request, limit = [], []
    for name in sorted(hard):
        cell = f"{name}: {used.get(name, '0')}/{hard[name]}"
        pieces = name.split(".")
        (limit if len(pieces) > 1 and pieces[0] == "limits" else request).append(cell)
    return [rq["metadata"].get("name", ""), ", ".join(request), ", ".join(limit), age(rq, now)]


LIMITRANGE_COLUMNS = [NAME_COL, col("Created At", "date", desc=AGE_DESC)]


def limitrange_row(lr: dict, now: float) -> list[Any]:
    return [lr["metadata"].get("name", ""), lr["metadata"].get("creationTimestamp", "")]


PDB_COLUMNS = [
    NAME_COL,
    col("Min Available", desc="The minimum number of pods that must be available."),
    col("Max Unavailable", desc="The maximum number of pods that may be unavailable."),
    col("Allowed Disruptions", "integer", desc="Calculated number of pods that may be disrupted at this time."),
    AGE_COL,
]


def pdb_row(pdb: dict, now: float) -> list[Any]:
    spec, st = pdb.get("spec") or {}, pdb.get("status") or {}
    min_available = spec.get("minAvailable")
    max_unavailable = spec.get("maxUnavailable")
    return [pdb["metadata"].get("name", ""), "N/A" if min_available is None else str(min_available),
            "N/A" if max_unavailable is None else str(max_unavailable), int(st.get("disruptionsAllowed") or 0),
            age(pdb, now)]


PRIORITYCLASS_COLUMNS = [
    NAME_COL,
    col("Value", "integer", desc="value represents the integer value of this priority class. This is the actual "
                                 "priority that pods receive when they have the name of this class in their pod "
                                 "spec."),
    col("Global-Default", "boolean", desc="globalDefault specifies whether this PriorityClass should be "
                                          "considered as the default priority for pods that do not have any "
                                          "priority class. Only one PriorityClass can be marked as "
                                          "`globalDefault`. However, if more than one PriorityClasses exists "
                                          "with their `globalDefault` field set to true, the smallest value of "
                                          "such global default PriorityClasses will be used as the default "
                                          "priority."),
    AGE_COL,
    col("PreemptionPolicy", desc="preemptionPolicy is the Policy for preempting pods with lower priority. One "
                                 "of Never, PreemptLowerPriority. Defaults to PreemptLowerPriority if unset."),
]


def priorityclass_row(pc: dict, now: float) -> list[Any]:
    return [pc["metadata"].get("name", ""), int(pc.get("value") or 0), bool(pc.get("globalDefault")),
            age(pc, now), pc.get("preemptionPolicy") or ""]
