"""The TUI's view of the one printer: kubectl's columns, as the resource browser shows them.

Every column and every STATUS text comes from ``kubetui.api.printers``
(upstream's ``pkg/printers/internalversion/printers.go``), the same code the
API server builds kubectl's Tables from, so the TUI and ``kubectl get`` never
disagree. What stays here is presentation: which columns a screen shows,
header spelling, and the chip colours of the cluster map.
"""

from __future__ import annotations

from typing import Any

from kubetui.api import printers as P
from kubetui.api.printers import (event_last_seen, human_duration, parse_time,  # noqa: F401 - re-exported
                                  pod_status_reason)

Obj = dict[str, Any]

#: The TUI's resource names (plain plurals) -> the printer's group-resource.
GROUP_RESOURCE = {
    "deployments": "deployments.apps",
    "replicasets": "replicasets.apps",
    "daemonsets": "daemonsets.apps",
    "statefulsets": "statefulsets.apps",
    "controllerrevisions": "controllerrevisions.apps",
    "jobs": "jobs.batch",
    "cronjobs": "cronjobs.batch",
    "horizontalpodautoscalers": "horizontalpodautoscalers.autoscaling",
    "endpointslices": "endpointslices.discovery.k8s.io",
    "storageclasses": "storageclasses.storage.k8s.io",
    "leases": "leases.coordination.k8s.io",
    "poddisruptionbudgets": "poddisruptionbudgets.policy",
    "priorityclasses": "priorityclasses.scheduling.k8s.io",
    "roles": "roles.rbac.authorization.k8s.io",
    "rolebindings": "rolebindings.rbac.authorization.k8s.io",
    "clusterroles": "clusterroles.rbac.authorization.k8s.io",
    "clusterrolebindings": "clusterrolebindings.rbac.authorization.k8s.io",
    "networkpolicies": "networkpolicies.networking.k8s.io",
}

#: Wide (``-o wide``) columns the browser shows anyway, because a learner
#: wants to see where a pod runs without switching views.
EXTRA_COLUMNS = {"pods": ("IP", "Node")}


def age(obj: Obj, now: float) -> str:
    return P.age(obj, now)


def _printer(resource: str) -> P.Printer:
    gr = GROUP_RESOURCE.get(resource)
    if gr is None:
        gr = resource
        if resource not in P.PRINTERS:
            # a custom resource: its printer (the CRD's printer columns) is keyed by plural.group
            from kubetui.api.resources import resource_for
            try:
                gr = resource_for(resource).group_resource
            except KeyError:
                pass
    return P.printer_for(gr)


def _shown(resource: str) -> list[int]:
    """Indexes of the columns the browser shows: kubectl's default ones plus ``EXTRA_COLUMNS``."""
    extra = EXTRA_COLUMNS.get(resource, ())
    return [i for i, c in enumerate(_printer(resource).columns) if c["priority"] == 0 or c["name"] in extra]


def headers_for(resource: str, *, with_namespace: bool = False) -> list[str]:
    """Column headers as kubectl prints them (upper case), NAMESPACE first with -A."""
    cols = _printer(resource).columns
    names = [cols[i]["name"].upper() for i in _shown(resource)]
    return (["NAMESPACE"] + names) if with_namespace else names


def _text(cell: Any) -> str:
    """A cell as kubectl prints it: booleans lower-case (Go's %v), everything else as is."""
    if isinstance(cell, bool):
        return "true" if cell else "false"
    return str(cell)


def row_for(resource: str, obj: Obj, now: float, *, with_namespace: bool = False) -> list[str]:
    """One table row, as strings, in ``headers_for(resource)`` order."""
    cells = _printer(resource).row(obj, now)
    out = [_text(cells[i]) for i in _shown(resource)]
    if with_namespace:
        out.insert(0, (obj.get("metadata") or {}).get("namespace", ""))
    return out


# -- pods ---------------------------------------------------------------------

#: Chip states on the cluster map, in the order a pod usually passes through them.
CHIP_STATES = ("Pending", "ContainerCreating", "Running", "Ready", "CrashLoopBackOff", "OOMKilled",
               "Terminating", "Failed", "Succeeded")


def pod_chip_state(pod: Obj) -> str:
    """One of ``CHIP_STATES``: the STATUS column folded into the colours the map uses.

    ``Running`` means the process runs but the pod is not Ready (a readiness
    probe has not passed yet); ``Ready`` means Services will send it traffic.
    """
    reason = pod_status_reason(pod)
    if reason == "Running":
        conds = {c.get("type"): c.get("status") for c in (pod.get("status") or {}).get("conditions") or []}
        return "Ready" if conds.get("Ready") == "True" else "Running"
    if reason in CHIP_STATES:
        return reason
    if reason in ("Completed",):
        return "Succeeded"
    if reason.startswith("Init:") or reason in ("PodInitializing",):
        return "ContainerCreating"
    if reason in ("Error", "ContainerStatusUnknown", "Unknown") or reason.startswith(("ExitCode:", "Signal:")):
        return "Failed"
    if reason.endswith("BackOff") or reason in ("ErrImagePull", "CreateContainerError", "RunContainerError"):
        return "CrashLoopBackOff"
    return "Pending"


def pod_ready(pod: Obj) -> str:
    """READY: ready containers / containers (sidecars included), e.g. ``1/2``."""
    return P.pod_status(pod).ready_text()


def pod_restarts(pod: Obj) -> int:
    return P.pod_status(pod).restarts


# -- nodes ----------------------------------------------------------------------

def node_ready(node: Obj) -> str:
    """kubectl's node STATUS: ``Ready``/``NotReady``/``Unknown``, plus ``SchedulingDisabled`` when cordoned."""
    return P.node_status(node)


def node_roles(node: Obj) -> str:
    return P.node_roles(node)
