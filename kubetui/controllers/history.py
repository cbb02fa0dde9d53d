"""ControllerRevisions: the rollout history DaemonSets and StatefulSets keep.

Upstream: ``pkg/controller/history/controller_history.go`` (NewControllerRevision,
HashControllerRevision, ControllerRevisionName, FindEqualRevisions,
SortControllerRevisions) and each controller's ``getPatch``: a revision's
``data`` is a strategic merge patch that puts the pod template back,
``{"spec": {"template": {..., "$patch": "replace"}}}``. That is exactly what
``kubectl rollout undo daemonset|statefulset`` sends back to the owner.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from kubetui.controllers.deployment_util import fnv32a, safe_encode
from kubetui.controllers.util import controller_ref, meta, new_controller_ref

Obj = dict[str, Any]

#: The pod label naming the revision a pod was made from (apps.ControllerRevisionHashLabelKey).
REVISION_HASH_LABEL = "controller-revision-hash"
#: The label a ControllerRevision carries with its own hash (history.ControllerRevisionHashLabel).
HISTORY_HASH_LABEL = "controller.kubernetes.io/hash"


def template_patch(owner: Obj) -> Obj:
    """``getPatch``: the owner's pod template as a patch that replaces it whole."""
    template = copy.deepcopy((owner.get("spec") or {}).get("template") or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def hash_revision(data: Obj, collision_count: int | None = None) -> str:
    """``HashControllerRevision``: fnv32a of the data (plus the collision count), safe-encoded."""
    raw = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        raw += str(int(collision_count)).encode()
    return safe_encode(str(fnv32a(raw)))


def revision_name(owner_name: str, hash_: str) -> str:
    """``ControllerRevisionName``: ``<owner>-<hash>``, the owner's part cut so the whole fits 253."""
    prefix = owner_name if len(owner_name) <= 223 else owner_name[:223]
    return f"{prefix}-{hash_}"


def new_revision(owner: Obj, api_version: str, kind: str, revision: int, collision_count: int | None,
                 hash_: str | None = None, hash_label: str = HISTORY_HASH_LABEL) -> Obj:
    """``NewControllerRevision``: owned by ``owner``, named from the hash of its data.

    The owner's annotations are copied too (as both controllers do), so a
    ``kubernetes.io/change-cause`` shows up in ``kubectl rollout history``.
    """
    data = template_patch(owner)
    hash_ = hash_ or hash_revision(data, collision_count)
    template_labels = ((((owner.get("spec") or {}).get("template") or {}).get("metadata") or {})
                       .get("labels") or {})
    cr_labels = dict(template_labels)
    cr_labels[hash_label] = hash_
    cr_meta: Obj = {"name": revision_name(meta(owner)["name"], hash_), "namespace": meta(owner).get("namespace"),
                    "labels": cr_labels, "ownerReferences": [new_controller_ref(owner, api_version, kind)]}
    annotations = {k: v for k, v in (meta(owner).get("annotations") or {}).items()
                   if k != "kubectl.kubernetes.io/last-applied-configuration"}
    if annotations:
        cr_meta["annotations"] = annotations
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": cr_meta, "data": data,
            "revision": revision}


def same_data(a: Obj, b: Obj) -> bool:
    """Do two revisions describe the same template (``FindEqualRevisions``)?"""
    return (a.get("data") or {}) == (b.get("data") or {})


def sort_revisions(revisions: list[Obj]) -> list[Obj]:
    """Oldest first: by revision number, then creation time, then name (``SortControllerRevisions``)."""
    return sorted(revisions, key=lambda r: (int(r.get("revision") or 0), meta(r).get("creationTimestamp") or "",
                                            meta(r).get("name", "")))


def max_revision(revisions: list[Obj]) -> int:
    return max((int(r.get("revision") or 0) for r in revisions), default=0)


def owned_by(cr: Obj, owner: Obj) -> bool:
    ref = controller_ref(cr)
    return bool(ref and ref.get("uid") == meta(owner).get("uid"))


def revisions_to_prune(revisions: list[Obj], live: set[str], limit: int) -> list[Obj]:
    """``truncateHistory``: the oldest revisions beyond ``revisionHistoryLimit`` that no pod uses."""
    candidates = [r for r in sort_revisions(revisions) if meta(r)["name"] not in live]
    excess = len(candidates) - max(limit, 0)
    return candidates[:excess] if excess > 0 else []
