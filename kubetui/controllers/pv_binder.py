"""Which PersistentVolume a claim gets: the matching rules of the PV controller, as pure functions.

Upstream: ``pkg/controller/volume/persistentvolume/index.go``
(``findBestMatchForClaim``) and ``component-helpers/storage/volume``
(``FindMatchingVolume``, ``CheckAccessModes``, ``GetPersistentVolumeClaimClass``).
A volume fits a claim when its class is the claim's, it offers every access
mode the claim asks for, its volumeMode is the claim's, its labels match the
claim's ``selector``, and its capacity is at least the request; of all the
volumes that fit, the *smallest* wins, so a 1Gi claim does not take the 100Gi
disk a later claim needs.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from kubetui.api.quantity import parse_quantity
from kubetui.api.selectors import label_selector_from_dict

Obj = dict[str, Any]

ANN_BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
ANN_BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
ANN_SELECTED_NODE = "volume.kubernetes.io/selected-node"
ANN_STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
ANN_BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"


def claim_class(claim: Obj) -> str:
    """``GetPersistentVolumeClaimClass``: the claim's class, "" for none."""
    return ((claim.get("spec") or {}).get("storageClassName")) or ""


def volume_class(pv: Obj) -> str:
    return ((pv.get("spec") or {}).get("storageClassName")) or ""


def requested_storage(claim: Obj) -> Fraction:
    req = (((claim.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")
    return parse_quantity(req) if req is not None else Fraction(0)


def volume_storage(pv: Obj) -> Fraction:
    cap = ((pv.get("spec") or {}).get("capacity") or {}).get("storage")
    return parse_quantity(cap) if cap is not None else Fraction(0)


def access_modes_fit(volume_modes: list[str] | None, claim_modes: list[str] | None) -> bool:
    """Every mode the claim asks for must be one the volume offers.

    >>> access_modes_fit(["ReadWriteOnce", "ReadOnlyMany"], ["ReadWriteOnce"])
    True
    >>> access_modes_fit(["ReadWriteOnce"], ["ReadWriteMany"])
    False
    """
    return set(claim_modes or ()) <= set(volume_modes or ())


def is_prebound_to(pv: Obj, claim: Obj) -> bool:
    """The volume's ``claimRef`` names this claim (an admin pre-bound it, or the controller did)."""
    ref = (pv.get("spec") or {}).get("claimRef")
    if not ref:
        return False
    m = claim["metadata"]
    if ref.get("name") != m.get("name") or (ref.get("namespace") or "") != (m.get("namespace") or ""):
        return False
    return not ref.get("uid") or ref.get("uid") == m.get("uid")


def mismatch(pv: Obj, claim: Obj, reaches_node: Any = None) -> str | None:
    """Why ``pv`` cannot serve ``claim`` (None if it can). ``reaches_node(pv) -> bool`` checks affinity."""
    spec, cspec = pv.get("spec") or {}, claim.get("spec") or {}
    if (pv.get("metadata") or {}).get("deletionTimestamp"):
        return "volume is being deleted"
    if (spec.get("volumeMode") or "Filesystem") != (cspec.get("volumeMode") or "Filesystem"):
        return "volumeMode differs"
    if volume_class(pv) != claim_class(claim):
        return f'storageClassName "{volume_class(pv)}" is not "{claim_class(claim)}"'
    if not access_modes_fit(spec.get("accessModes"), cspec.get("accessModes")):
        return "access modes do not include the claim's"
    if volume_storage(pv) < requested_storage(claim):
        return "capacity is smaller than the request"
    sel = cspec.get("selector")
    if sel and not label_selector_from_dict(sel).matches((pv.get("metadata") or {}).get("labels") or {}):
        return "labels do not match the claim's selector"
    if reaches_node is not None and not reaches_node(pv):
        return "node affinity does not reach the selected node"
    return None


def find_best_match(claim: Obj, volumes: list[Obj], reaches_node: Any = None) -> Obj | None:
    """The volume to bind ``claim`` to: one pre-bound to it, else the smallest free volume that fits.

    >>> def pv(name, size, modes=("ReadWriteOnce",)):
    ...     return {"metadata": {"name": name}, "spec": {"capacity": {"storage": size},
    ...             "accessModes": list(modes), "storageClassName": "manual"}}
    >>> claim = {"metadata": {"name": "c", "namespace": "default", "uid": "u"},
    ...          "spec": {"storageClassName": "manual", "accessModes": ["ReadWriteOnce"],
    ...                   "resources": {"requests": {"storage": "1Gi"}}}}
    >>> find_best_match(claim, [pv("big", "10Gi"), pv("small", "2Gi"), pv("tiny", "500Mi")])["metadata"]["name"]
    'small'
    """
    best: Obj | None = None
    for pv in volumes:
        if is_prebound_to(pv, claim):
            if mismatch(pv, claim, reaches_node) is None or (pv.get("spec") or {}).get("claimRef", {}).get("uid"):
                return pv
            continue
        if (pv.get("spec") or {}).get("claimRef"):
            continue  # bound, or pre-bound to another claim
        if mismatch(pv, claim, reaches_node) is not None:
            continue
        if best is None or volume_storage(pv) < volume_storage(best):
            best = pv
    return best
