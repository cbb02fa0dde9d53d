"""VolumeBinding: a pod's PersistentVolumeClaims must exist, be usable, and their volumes reachable.

Upstream: ``pkg/scheduler/framework/plugins/volumebinding`` (much larger: it
also picks and provisions volumes for ``WaitForFirstConsumer`` claims). Kept
small here:

- PreFilter: every claim the pod mounts must exist and not be terminating;
  it must be ``Bound`` — or unbound with a StorageClass whose
  ``volumeBindingMode`` is ``WaitForFirstConsumer`` (binding waits for the
  pod's node). An unbound ``Immediate`` claim blocks the pod.
- Filter: a bound PersistentVolume with ``spec.nodeAffinity`` (a local disk,
  a zonal volume) only reaches the nodes it selects.
"""

from __future__ import annotations

from typing import Any, Protocol

from kubetui.api.nodeaffinity import pv_reaches_node
from kubetui.scheduler.framework import (NODE_ADD, NODE_UPDATE, PV_CHANGE, PVC_CHANGE, STORAGECLASS_CHANGE,
                                         CycleState, NodeInfo, PodInfo, Status, skip, unresolvable)

NAME = "VolumeBinding"
ERR_REASON_UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
ERR_REASON_NODE_CONFLICT = "node(s) had volume node affinity conflict"
_STATE_KEY = "PreFilter" + NAME


class VolumeLister(Protocol):
    """What the plugin reads from the scheduler's cache."""

    def get_pvc(self, namespace: str, name: str) -> dict[str, Any] | None: ...
    def get_pv(self, name: str) -> dict[str, Any] | None: ...
    def get_storage_class(self, name: str) -> dict[str, Any] | None: ...


def claim_problem(pvc: dict[str, Any] | None, name: str,
                  storage_class: dict[str, Any] | None) -> str | None:
    """Why a claim blocks scheduling (upstream's wording), or None if it is usable.

    >>> claim_problem(None, "data", None)
    'persistentvolumeclaim "data" not found'
    >>> claim_problem({"spec": {"volumeName": "pv-1"}, "status": {"phase": "Bound"}}, "data", None)
    >>> claim_problem({"spec": {"storageClassName": "local"}, "status": {"phase": "Pending"}}, "data",
    ...               {"volumeBindingMode": "WaitForFirstConsumer"})
    >>> claim_problem({"spec": {}, "status": {"phase": "Pending"}}, "data", None)
    'pod has unbound immediate PersistentVolumeClaims'
    """
    if pvc is None:
        return f'persistentvolumeclaim "{name}" not found'
    if (pvc.get("metadata") or {}).get("deletionTimestamp"):
        return f'persistentvolumeclaim "{name}" is being deleted'
    if (pvc.get("spec") or {}).get("volumeName") and (pvc.get("status") or {}).get("phase", "Bound") == "Bound":
        return None
    if storage_class and storage_class.get("volumeBindingMode") == "WaitForFirstConsumer":
        return None
    return ERR_REASON_UNBOUND_IMMEDIATE


class VolumeBinding:
    name = NAME
    events = (PVC_CHANGE, PV_CHANGE, STORAGECLASS_CHANGE, NODE_ADD, NODE_UPDATE)

    def __init__(self, lister: VolumeLister | None = None) -> None:
        self.lister = lister

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        if not pod.pvc_names or self.lister is None:
            return skip(NAME)
        bound_pvs = []
        for claim in pod.pvc_names:
            pvc = self.lister.get_pvc(pod.namespace, claim)
            sc_name = ((pvc or {}).get("spec") or {}).get("storageClassName")
            sc = self.lister.get_storage_class(sc_name) if sc_name else None
            problem = claim_problem(pvc, claim, sc)
            if problem:
                return unresolvable(NAME, problem)
            volume = ((pvc or {}).get("spec") or {}).get("volumeName")
            if volume:
                pv = self.lister.get_pv(volume)
                if pv is None:
                    return unresolvable(NAME, f'persistentvolume "{volume}" not found')
                bound_pvs.append(pv)
        state[_STATE_KEY] = bound_pvs
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        for pv in state.get(_STATE_KEY) or ():
            if not pv_reaches_node(pv, node.labels, node.name):
                return unresolvable(NAME, ERR_REASON_NODE_CONFLICT,
                                    detail=f"persistentvolume {pv['metadata']['name']} is not reachable from this node")
        return None
