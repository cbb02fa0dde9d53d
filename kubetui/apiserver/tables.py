"""Server-side printing: the ``meta.k8s.io/v1`` Table kubectl displays.

Upstream: the ``TableConvertor`` in ``pkg/printers/storage``; the columns
and cells themselves come from the one printer, ``kubetui.api.printers``
(upstream's ``pkg/printers/internalversion/printers.go``), which the TUI
draws from too. kubectl has no printers of its own for built-in
types: it asks for ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io``
and prints the columns it gets, hiding ``priority: 1`` columns unless
``-o wide``. Like upstream, the server always fills every column.

Every cell here follows the upstream printer for that kind, so what a
learner sees in kubetui matches a real cluster, down to ``3 (12s ago)``.
"""

from __future__ import annotations

from typing import Any

from kubetui.api.printers import (  # noqa: F401 - re-exported for callers and tests
    AGE_DESC, CONFIGMAP_COLUMNS, DEFAULT_COLUMNS, DEPLOYMENT_COLUMNS, ENDPOINTSLICE_COLUMNS, ENDPOINTS_COLUMNS,
    EVENT_COLUMNS, LEASE_COLUMNS, NAMESPACE_COLUMNS, NAME_DESC, NODE_COLUMNS, POD_COLUMNS, PRINTERS,
    PVC_COLUMNS, PV_COLUMNS, REPLICASET_COLUMNS, SECRET_COLUMNS, SERVICEACCOUNT_COLUMNS, SERVICE_COLUMNS,
    STORAGECLASS_COLUMNS, configmap_row, default_row, deployment_row, endpoints_row, endpointslice_row,
    event_row, format_endpoints, format_label_selector, format_labels, human_duration, lease_row,
    namespace_row, node_row, pod_row, pod_status_reason, printer_for, pv_row, pvc_row, replicaset_row,
    secret_row, service_row, serviceaccount_row, since, storageclass_row,
)

TABLE_ACCEPT_MARK = "as=Table"


def wants_table(accept: str | None) -> bool:
    """Did the client ask for a v1 Table first (as ``kubectl get`` does)?"""
    if not accept or TABLE_ACCEPT_MARK not in accept:     # most requests: no split, no set
        return False
    first = accept.split(",")[0]
    params = {p.strip() for p in first.split(";")}
    return "as=Table" in params and "g=meta.k8s.io" in params and "v=v1" in params


def partial_object_metadata(obj: dict) -> dict:
    """``rows[].object``: the object's metadata only (``-A`` reads the namespace from it)."""
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}


def to_table(group_resource: str, objects: list[dict], now: float, *, resource_version: str = "",
             continue_: str = "", include_columns: bool = True) -> dict:
    """A ``meta.k8s.io/v1`` Table for ``objects`` of one resource."""
    printer = printer_for(group_resource)
    rows = []
    for o in objects:
        row: dict[str, Any] = {"cells": printer.row(o, now)}
        conditions = printer.row_conditions(o)
        if conditions:
            row["conditions"] = conditions  # kubectl greys out a Completed row
        row["object"] = partial_object_metadata(o)
        rows.append(row)
    meta: dict[str, Any] = {}
    if resource_version:
        meta["resourceVersion"] = resource_version
    if continue_:
        meta["continue"] = continue_
    table: dict[str, Any] = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta}
    if include_columns:
        table["columnDefinitions"] = printer.columns
    table["rows"] = rows
    return table
