"""Server-side printing: the ``meta.k8s.io/v1`` Table kubectl displays.

Upstream: ``pkg/printers/internalversion/printers.go`` (one ``printX``
function and one column list per kind) and the ``TableConvertor`` in
``pkg/printers/storage``. kubectl has no printers of its own for built-in
types: it asks for ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io``
and prints the columns it gets, hiding ``priority: 1`` columns unless
``-o wide``. Like upstream, the server always fills every column.

Every cell here follows the upstream printer for that kind, so what a
learner sees in kubetui matches a real cluster, down to ``3 (12s ago)``.
"""

from __future__ import annotations

from typing import Any, Callable

from kubetui.apiserver.printers import (  # noqa: F401 - re-exported for callers and tests
    AGE_DESC, CONFIGMAP_COLUMNS, DEPLOYMENT_COLUMNS, ENDPOINTSLICE_COLUMNS, ENDPOINTS_COLUMNS,
    EVENT_COLUMNS, LEASE_COLUMNS, NAMESPACE_COLUMNS, NAME_DESC, NODE_COLUMNS,
    POD_COLUMNS, PVC_COLUMNS, PV_COLUMNS, REPLICASET_COLUMNS, SECRET_COLUMNS,
    SERVICEACCOUNT_COLUMNS, SERVICE_COLUMNS, STORAGECLASS_COLUMNS, configmap_row, default_row,
    deployment_row, endpoints_row, endpointslice_row, event_row, format_endpoints,
    format_label_selector, format_labels, human_duration, lease_row, namespace_row,
    node_row, pod_row, pod_status_reason, pv_row, pvc_row,
    replicaset_row, secret_row, service_row, serviceaccount_row, since,
    storageclass_row, DEFAULT_COLUMNS,
)

TABLE_ACCEPT_MARK = "as=Table"


def wants_table(accept: str | None) -> bool:
    """Did the client ask for a v1 Table first (as ``kubectl get`` does)?"""
    if not accept:
        return False
    first = accept.split(",")[0]
    params = {p.strip() for p in first.split(";")}
    return "as=Table" in params and "g=meta.k8s.io" in params and "v=v1" in params


PRINTERS: dict[str, tuple[list[dict], Callable[[dict, float], list[Any]]]] = {
    "pods": (POD_COLUMNS, pod_row),
    "deployments.apps": (DEPLOYMENT_COLUMNS, deployment_row),
    "replicasets.apps": (REPLICASET_COLUMNS, replicaset_row),
    "services": (SERVICE_COLUMNS, service_row),
    "endpoints": (ENDPOINTS_COLUMNS, endpoints_row),
    "endpointslices.discovery.k8s.io": (ENDPOINTSLICE_COLUMNS, endpointslice_row),
    "nodes": (NODE_COLUMNS, node_row),
    "namespaces": (NAMESPACE_COLUMNS, namespace_row),
    "configmaps": (CONFIGMAP_COLUMNS, configmap_row),
    "secrets": (SECRET_COLUMNS, secret_row),
    "serviceaccounts": (SERVICEACCOUNT_COLUMNS, serviceaccount_row),
    "events": (EVENT_COLUMNS, event_row),
    "persistentvolumes": (PV_COLUMNS, pv_row),
    "persistentvolumeclaims": (PVC_COLUMNS, pvc_row),
    "storageclasses.storage.k8s.io": (STORAGECLASS_COLUMNS, storageclass_row),
    "leases.coordination.k8s.io": (LEASE_COLUMNS, lease_row),
}


def partial_object_metadata(obj: dict) -> dict:
    """``rows[].object``: the object's metadata only (``-A`` reads the namespace from it)."""
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}


def to_table(group_resource: str, objects: list[dict], now: float, *, resource_version: str = "",
             continue_: str = "", include_columns: bool = True) -> dict:
    """A ``meta.k8s.io/v1`` Table for ``objects`` of one resource."""
    columns, row_fn = PRINTERS.get(group_resource, (DEFAULT_COLUMNS, default_row))
    rows = [{"cells": row_fn(o, now), "object": partial_object_metadata(o)} for o in objects]
    meta: dict[str, Any] = {}
    if resource_version:
        meta["resourceVersion"] = resource_version
    if continue_:
        meta["continue"] = continue_
    table: dict[str, Any] = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta}
    if include_columns:
        table["columnDefinitions"] = columns
    table["rows"] = rows
    return table
