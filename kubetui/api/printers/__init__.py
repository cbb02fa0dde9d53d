"""One printer: the columns ``kubectl get`` shows for every kind kubetui serves.

Upstream: ``pkg/printers/internalversion/printers.go`` (``AddHandlers``: one
column list and one ``printX`` function per kind) and the ``TableConvertor``
in ``pkg/printers/storage``. The API server turns these rows into
``meta.k8s.io/v1`` Tables for kubectl; the TUI draws the same cells, so a
learner sees the same STATUS in both. Pure functions of (object, now): no
clock, no I/O, no import from the rest of kubetui.

A kind's printer is registered here with one line (``PRINTERS``); kinds
without one get upstream's default ``Name``/``Created At`` columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from kubetui.api.printers.apps import DEPLOYMENT_COLUMNS, REPLICASET_COLUMNS, deployment_row, replicaset_row
from kubetui.api.printers.autoscaling import HPA_COLUMNS, hpa_row
from kubetui.api.printers.batch import CRONJOB_COLUMNS, JOB_COLUMNS, cronjob_row, job_row
from kubetui.api.printers.apps_sets import (CONTROLLERREVISION_COLUMNS, DAEMONSET_COLUMNS, STATEFULSET_COLUMNS,
                                            controllerrevision_row, daemonset_row, statefulset_row)
from kubetui.api.printers.common import (AGE_DESC, NAME_COL, NAME_DESC, age, col, format_label_selector,
                                         format_labels, human_duration, parse_time, since)
from kubetui.api.printers.core import (CONFIGMAP_COLUMNS, ENDPOINTS_COLUMNS, EVENT_COLUMNS, NAMESPACE_COLUMNS,
                                       NODE_COLUMNS, PV_COLUMNS, PVC_COLUMNS, SECRET_COLUMNS,
                                       SERVICE_COLUMNS, SERVICEACCOUNT_COLUMNS, configmap_row, endpoints_row,
                                       event_first_seen, event_last_seen, event_object, event_row,
                                       format_endpoints, namespace_row, node_roles, node_row, node_status,
                                       pv_row, pvc_row, secret_row, service_row, serviceaccount_row)
from kubetui.api.printers.networkpolicy import NETWORKPOLICY_COLUMNS, networkpolicy_row
from kubetui.api.printers.other import (ENDPOINTSLICE_COLUMNS, LEASE_COLUMNS, STORAGECLASS_COLUMNS,
                                        endpointslice_row, lease_row, storageclass_row)
from kubetui.api.printers.ingress import INGRESS_COLUMNS, INGRESSCLASS_COLUMNS, ingress_row, ingressclass_row
from kubetui.api.printers.rbac import BINDING_COLUMNS, ROLE_COLUMNS, binding_row, role_row
from kubetui.api.printers.policy import (LIMITRANGE_COLUMNS, PDB_COLUMNS, PODTEMPLATE_COLUMNS,
                                         PRIORITYCLASS_COLUMNS, RC_COLUMNS, RESOURCEQUOTA_COLUMNS, limitrange_row,
                                         pdb_row, podtemplate_row, priorityclass_row, replicationcontroller_row,
                                         resourcequota_row)
from kubetui.api.printers.pods import (POD_COLUMNS, PodStatus, pod_row, pod_row_conditions, pod_status,
                                       pod_status_reason)

Row = Callable[[dict, float], list[Any]]

from kubetui.api.printers.apiextensions import APISERVICE_COLUMNS, apiservice_row  # noqa: E402


@dataclass(frozen=True)
class Printer:
    """A kind's column definitions, its row function, and (optionally) its row conditions."""

    columns: list[dict]
    row: Row
    conditions: Callable[[dict], list[dict]] | None = None

    def row_conditions(self, obj: dict) -> list[dict]:
        return self.conditions(obj) if self.conditions else []


DEFAULT_COLUMNS = [NAME_COL, col("Created At", "date", desc=AGE_DESC)]


def default_row(obj: dict, now: float) -> list[Any]:
    """kinds without a printer: name and the creation timestamp itself (``DefaultTableConvertor``)."""
    return [obj["metadata"].get("name", ""), obj["metadata"].get("creationTimestamp", "")]


DEFAULT_PRINTER = Printer(DEFAULT_COLUMNS, default_row)

#: group-resource (``deployments.apps``; core kinds have no group) -> its printer.
PRINTERS: dict[str, Printer] = {
    "pods": Printer(POD_COLUMNS, pod_row, pod_row_conditions),
    "nodes": Printer(NODE_COLUMNS, node_row),
    "namespaces": Printer(NAMESPACE_COLUMNS, namespace_row),
    "services": Printer(SERVICE_COLUMNS, service_row),
    "endpoints": Printer(ENDPOINTS_COLUMNS, endpoints_row),
    "events": Printer(EVENT_COLUMNS, event_row),
    "configmaps": Printer(CONFIGMAP_COLUMNS, configmap_row),
    "secrets": Printer(SECRET_COLUMNS, secret_row),
    "serviceaccounts": Printer(SERVICEACCOUNT_COLUMNS, serviceaccount_row),
    "persistentvolumes": Printer(PV_COLUMNS, pv_row),
    "persistentvolumeclaims": Printer(PVC_COLUMNS, pvc_row),
    "deployments.apps": Printer(DEPLOYMENT_COLUMNS, deployment_row),
    "replicasets.apps": Printer(REPLICASET_COLUMNS, replicaset_row),
    "jobs.batch": Printer(JOB_COLUMNS, job_row),
    "cronjobs.batch": Printer(CRONJOB_COLUMNS, cronjob_row),
    "horizontalpodautoscalers.autoscaling": Printer(HPA_COLUMNS, hpa_row),
    "daemonsets.apps": Printer(DAEMONSET_COLUMNS, daemonset_row),
    "statefulsets.apps": Printer(STATEFULSET_COLUMNS, statefulset_row),
    "controllerrevisions.apps": Printer(CONTROLLERREVISION_COLUMNS, controllerrevision_row),
    "endpointslices.discovery.k8s.io": Printer(ENDPOINTSLICE_COLUMNS, endpointslice_row),
    "storageclasses.storage.k8s.io": Printer(STORAGECLASS_COLUMNS, storageclass_row),
    "leases.coordination.k8s.io": Printer(LEASE_COLUMNS, lease_row),
    "replicationcontrollers": Printer(RC_COLUMNS, replicationcontroller_row),
    "podtemplates": Printer(PODTEMPLATE_COLUMNS, podtemplate_row),
    "resourcequotas": Printer(RESOURCEQUOTA_COLUMNS, resourcequota_row),
    "limitranges": Printer(LIMITRANGE_COLUMNS, limitrange_row),
    "poddisruptionbudgets.policy": Printer(PDB_COLUMNS, pdb_row),
    "priorityclasses.scheduling.k8s.io": Printer(PRIORITYCLASS_COLUMNS, priorityclass_row),
    "roles.rbac.authorization.k8s.io": Printer(ROLE_COLUMNS, role_row),
    "clusterroles.rbac.authorization.k8s.io": Printer(ROLE_COLUMNS, role_row),
    "rolebindings.rbac.authorization.k8s.io": Printer(BINDING_COLUMNS, binding_row),
    "clusterrolebindings.rbac.authorization.k8s.io": Printer(BINDING_COLUMNS, binding_row),
    "customresourcedefinitions.apiextensions.k8s.io": DEFAULT_PRINTER,
    "apiservices.apiregistration.k8s.io": Printer(APISERVICE_COLUMNS, apiservice_row),
    "ingresses.networking.k8s.io": Printer(INGRESS_COLUMNS, ingress_row),
    "ingressclasses.networking.k8s.io": Printer(INGRESSCLASS_COLUMNS, ingressclass_row),
    "networkpolicies.networking.k8s.io": Printer(NETWORKPOLICY_COLUMNS, networkpolicy_row),
}


def printer_for(group_resource: str) -> Printer:
    return PRINTERS.get(group_resource, DEFAULT_PRINTER)


__all__ = [
    "AGE_DESC", "NAME_DESC", "PRINTERS", "DEFAULT_PRINTER", "DEFAULT_COLUMNS", "Printer", "PodStatus",
    "printer_for", "default_row", "age", "since", "human_duration", "parse_time", "format_labels",
    "format_label_selector", "format_endpoints", "pod_status", "pod_status_reason", "pod_row",
    "pod_row_conditions", "node_status", "node_roles", "node_row", "event_last_seen", "event_first_seen",
    "event_object", "event_row", "service_row", "deployment_row", "replicaset_row", "endpoints_row",
    "endpointslice_row", "namespace_row", "configmap_row", "secret_row", "serviceaccount_row", "pv_row",
    "pvc_row", "storageclass_row", "lease_row",
    "POD_COLUMNS", "NODE_COLUMNS", "NAMESPACE_COLUMNS", "SERVICE_COLUMNS", "ENDPOINTS_COLUMNS",
    "EVENT_COLUMNS", "CONFIGMAP_COLUMNS", "SECRET_COLUMNS", "SERVICEACCOUNT_COLUMNS", "PV_COLUMNS",
    "PVC_COLUMNS", "DEPLOYMENT_COLUMNS", "REPLICASET_COLUMNS", "ENDPOINTSLICE_COLUMNS",
    "STORAGECLASS_COLUMNS", "LEASE_COLUMNS",
]
