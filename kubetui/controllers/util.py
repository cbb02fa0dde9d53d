"""Helpers every workload controller needs: pod readiness, owner references, adoption.

Upstream: ``pkg/api/v1/pod/util.go`` (IsPodReady, IsPodAvailable),
``pkg/controller/controller_utils.go`` (FilterActivePods) and
``pkg/controller/controller_ref_manager.go`` (ClaimPods / ClaimReplicaSets:
adopt orphans that match the selector, release children that no longer match).
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from kubetui.api import errors
from kubetui.api.selectors import LabelSelector, label_selector_from_dict
from kubetui.client.base import Client
from kubetui.clock import parse_rfc3339

Obj = dict[str, Any]
log = logging.getLogger(__name__)


def meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def labels_of(obj: Obj) -> dict[str, str]:
    return meta(obj).get("labels") or {}


def is_deleting(obj: Obj) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


# --- pods ---

def pod_condition(pod: Obj, type_: str) -> Obj | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return c
    return None


def is_pod_ready(pod: Obj) -> bool:
    """The pod's ``Ready`` condition is ``True``."""
    c = pod_condition(pod, "Ready")
    return bool(c and c.get("status") == "True")


def pod_ready_since(pod: Obj) -> float | None:
    """When the pod last became Ready (its Ready condition's lastTransitionTime)."""
    c = pod_condition(pod, "Ready")
    if not c or c.get("status") != "True" or not c.get("lastTransitionTime"):
        return None
    return parse_rfc3339(c["lastTransitionTime"])


def is_pod_available(pod: Obj, min_ready_seconds: int, now: float) -> bool:
    """Ready, and Ready for at least ``minReadySeconds`` (``podutil.IsPodAvailable``)."""
    if not is_pod_ready(pod):
        return False
    if not min_ready_seconds:
        return True
    since = pod_ready_since(pod)
    return since is not None and since + min_ready_seconds <= now


def is_pod_active(pod: Obj) -> bool:
    """Not finished and not being deleted (``controller.IsPodActive``)."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not is_deleting(pod)


# --- owner references ---

def controller_ref(obj: Obj) -> Obj | None:
    """The ownerReference with ``controller: true`` (``metav1.GetControllerOf``)."""
    for ref in meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def new_controller_ref(owner: Obj, api_version: str, kind: str) -> Obj:
    """The ownerReference a controller puts on what it creates (``metav1.NewControllerRef``)."""
    return {"apiVersion": api_version, "kind": kind, "name": meta(owner)["name"],
            "uid": meta(owner)["uid"], "controller": True, "blockOwnerDeletion": True}


def selector_of(obj: Obj) -> LabelSelector:
    """``spec.selector`` as a selector; a malformed one matches nothing."""
    try:
        return label_selector_from_dict((obj.get("spec") or {}).get("selector"))
    except errors.StatusError:
        return LabelSelector.nothing()


async def claim_children(client: Client, resource: str, owner: Obj, owner_api_version: str,
                         owner_kind: str, selector: LabelSelector, candidates: list[Obj],
                         *, can_adopt: bool = True) -> list[Obj]:
    """Which ``candidates`` belong to ``owner``, adopting and releasing as needed.

    The rule (``ControllerRefManager.ClaimObject``): an object controlled by
    the owner (same uid) stays if the selector still matches, and is released
    (its ownerReference removed) if not; an orphan that matches is adopted
    (an ownerReference added) unless the owner is being deleted; objects
    controlled by someone else are never touched.
    """
    uid = meta(owner)["uid"]
    claimed: list[Obj] = []
    for child in candidates:
        ref = controller_ref(child)
        matches = selector.matches(labels_of(child))
        if ref is not None:
            if ref.get("uid") != uid:
                continue
            if matches:
                claimed.append(child)
            elif not is_deleting(child):
                await _release(client, resource, child, uid)
            continue
        if not matches or is_deleting(child) or not can_adopt or is_deleting(owner):
            continue
        adopted = await _adopt(client, resource, child, new_controller_ref(owner, owner_api_version, owner_kind))
        if adopted is not None:
            claimed.append(adopted)
    return claimed


async def _adopt(client: Client, resource: str, child: Obj, ref: Obj) -> Obj | None:
    body = copy.deepcopy(child)
    body["metadata"]["ownerReferences"] = list(meta(child).get("ownerReferences") or []) + [ref]
    try:
        return await client.update(resource, body, meta(child).get("namespace"))
    except (errors.NotFound, errors.Conflict):
        return None  # gone or changed: the next sync sees the new state


async def _release(client: Client, resource: str, child: Obj, owner_uid: str) -> None:
    body = copy.deepcopy(child)
    body["metadata"]["ownerReferences"] = [r for r in meta(child).get("ownerReferences") or []
                                           if r.get("uid") != owner_uid]
    try:
        await client.update(resource, body, meta(child).get("namespace"))
    except (errors.NotFound, errors.Conflict):
        pass


def resolve_controller(ref: Obj | None, informer: Any, namespace: str | None, kind: str) -> Obj | None:
    """The cached owner a controllerRef points at, if it is that kind and the uid matches."""
    if not ref or ref.get("kind") != kind:
        return None
    owner = informer.get(f"{namespace}/{ref.get('name')}" if namespace else ref.get("name", ""))
    if owner is None or meta(owner).get("uid") != ref.get("uid"):
        return None
    return owner


async def update_status_retrying_once(client: Client, resource: str, obj: Obj, status: Obj, *,
                                      missing_ok: bool = False) -> None:
    """Write ``status`` through the status subresource; on a conflict fetch the latest and try once more.

    Upstream's workload controllers do this (``statusUpdateRetries`` in
    replica_set.go, ``updateDaemonSetStatus``, ``updateStatefulSetStatus``):
    another controller writes the same object's spec meanwhile, so a stale
    resourceVersion is routine; a second conflict is raised and the key is
    requeued. ``missing_ok``: the object was deleted meanwhile, nothing to write.
    """
    ns, name = meta(obj).get("namespace"), meta(obj).get("name")
    body = copy.deepcopy(obj)
    for attempt in range(2):
        body["status"] = status
        try:
            await client.update(resource, body, ns, subresource="status")
            return
        except errors.NotFound:
            if missing_ok:
                return
            raise
        except errors.Conflict:
            if attempt:
                raise
            body = await client.get(resource, name, ns)
