"""Printers for DaemonSets, StatefulSets and ControllerRevisions.

Upstream: ``printDaemonSet``, ``printStatefulSet`` and
``printControllerRevision`` in ``pkg/printers/internalversion/printers.go``.
A ControllerRevision's CONTROLLER cell names its owner as
``formatResourceName`` does: ``daemonset.apps/fluentd``.
"""

from __future__ import annotations

from typing import Any

from kubetui.api.printers.common import (AGE_COL, NAME_COL, WORKLOAD_WIDE, age, col, format_label_selector,
                                         format_labels, layout_container_cells)

_DS_DOC = "More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"

DAEMONSET_COLUMNS = [
    NAME_COL,
    col("Desired", "integer", desc="The total number of nodes that should be running the daemon pod (including "
                                   f"nodes correctly running the daemon pod). {_DS_DOC}"),
    col("Current", "integer", desc="The number of nodes that are running at least 1 daemon pod and are supposed "
                                   f"to run the daemon pod. {_DS_DOC}"),
    col("Ready", "integer", desc="numberReady is the number of nodes that should be running the daemon pod and "
                                 "have one or more of the daemon pod running with a Ready Condition."),
    col("Up-to-date", "integer", desc="The total number of nodes that are running updated daemon pod"),
    col("Available", "integer", desc="The number of nodes that should be running the daemon pod and have one or "
                                     "more of the daemon pod running and available (ready for at least "
                                     "spec.minReadySeconds)"),
    col("Node Selector", desc="NodeSelector is a selector which must be true for the pod to fit on a node. "
                              "Selector which must match a node's labels for the pod to be scheduled on that "
                              "node. More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/"),
    AGE_COL, *WORKLOAD_WIDE,
]


def daemonset_row(ds: dict, now: float) -> list[Any]:
    spec, st = ds.get("spec") or {}, ds.get("status") or {}
    template = spec.get("template") or {}
    containers, images = layout_container_cells(template)
    return [ds["metadata"].get("name", ""), int(st.get("desiredNumberScheduled") or 0),
            int(st.get("currentNumberScheduled") or 0), int(st.get("numberReady") or 0),
            int(st.get("updatedNumberScheduled") or 0), int(st.get("numberAvailable") or 0),
            format_labels((template.get("spec") or {}).get("nodeSelector")), age(ds, now),
            containers, images, format_label_selector(spec.get("selector"))]


STATEFULSET_COLUMNS = [
    NAME_COL,
    col("Ready", desc="Number of the pod with ready state"),
    AGE_COL, *WORKLOAD_WIDE[:2],
]


def statefulset_row(sts: dict, now: float) -> list[Any]:
    spec, st = sts.get("spec") or {}, sts.get("status") or {}
    containers, images = layout_container_cells(spec.get("template"))
    return [sts["metadata"].get("name", ""), f"{int(st.get('readyReplicas') or 0)}/{int(spec.get('replicas', 1))}",
            age(sts, now), containers, images]


CONTROLLERREVISION_COLUMNS = [
    NAME_COL,
    col("Controller", desc="Controller of the object"),
    col("Revision", desc="Revision indicates the revision of the state represented by Data."),
    AGE_COL,
]


def controller_name(obj: dict) -> str:
    """``kind.group/name`` of the controlling owner, ``<none>`` without one."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            api_version = ref.get("apiVersion", "")
            group = api_version.split("/")[0] if "/" in api_version else ""
            kind = ref.get("kind", "").lower()
            return f"{kind}.{group}/{ref.get('name', '')}" if group else f"{kind}/{ref.get('name', '')}"
    return "<none>"


def controllerrevision_row(cr: dict, now: float) -> list[Any]:
    return [cr["metadata"].get("name", ""), controller_name(cr), int(cr.get("revision") or 0), age(cr, now)]
