"""The StatefulSet controller's decisions: stable identity, stable storage, ordered change.

Upstream: ``pkg/controller/statefulset/stateful_set_utils.go`` (getPodName,
getPersistentVolumeClaimName, initIdentity, updateStorage,
newVersionedStatefulSetPod, isHealthy, completeRollingUpdate) and
``stateful_set_control.go`` (updateStatefulSet, processReplica,
processCondemned, the rolling update loop). ``decide`` is pure: given the
StatefulSet, its pods by ordinal, the claims that exist and the current and
update revisions, it returns a ``StatefulSetActions`` value.

The ideas a learner meets here: a pod's name is ``<set>-<ordinal>`` and its
claim ``<template>-<set>-<ordinal>``, so a replacement pod gets the same name,
the same DNS name (``hostname``/``subdomain`` under the governing headless
Service) and the same volume. With ``OrderedReady`` pods are created one at
a time in ordinal order, each Running and Ready before the next, and removed
in reverse; updates go from the highest ordinal down to the partition.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from kubetui.controllers.deployment_util import resolve_int_or_percent
from kubetui.controllers.history import REVISION_HASH_LABEL
from kubetui.controllers.util import is_deleting, is_pod_available, is_pod_ready, meta, new_controller_ref

Obj = dict[str, Any]

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"


def spec_of(sts: Obj) -> Obj:
    return sts.get("spec") or {}


def replicas_of(sts: Obj) -> int:
    return int(spec_of(sts).get("replicas", 1) or 0)


def start_ordinal(sts: Obj) -> int:
    return int((spec_of(sts).get("ordinals") or {}).get("start") or 0)


def pod_name(sts: Obj, ordinal: int) -> str:
    return f"{meta(sts)['name']}-{ordinal}"


def claim_name(claim_template: Obj, sts: Obj, ordinal: int) -> str:
    """``getPersistentVolumeClaimName``: ``www-web-0`` for template ``www`` of set ``web``."""
    return f"{meta(claim_template)['name']}-{meta(sts)['name']}-{ordinal}"


def ordinal_of(sts: Obj, pod: Obj) -> int | None:
    """``getParentNameAndOrdinal``: the ordinal in ``<set>-<n>``, None if the name is not one of ours."""
    m = re.fullmatch(rf"{re.escape(meta(sts)['name'])}-(\d+)", meta(pod).get("name", ""))
    return int(m.group(1)) if m else None


def revision_of(pod: Obj) -> str | None:
    return (meta(pod).get("labels") or {}).get(REVISION_HASH_LABEL)


def is_running_ready(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and is_pod_ready(pod)


def is_healthy(pod: Obj, min_ready: int, now: float) -> bool:
    """``isHealthy``: Running, Ready (for minReadySeconds), not being deleted."""
    return is_running_ready(pod) and not is_deleting(pod) and is_pod_available(pod, min_ready, now)


def is_finished(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Failed", "Succeeded")


# --- the pod and its claims ----------------------------------------------------------------


def claims_for(sts: Obj, ordinal: int) -> list[Obj]:
    """``getPersistentVolumeClaims``: one claim per volumeClaimTemplate, labelled with the set's selector."""
    out = []
    selector_labels = (spec_of(sts).get("selector") or {}).get("matchLabels") or {}
    for tpl in spec_of(sts).get("volumeClaimTemplates") or []:
        tmeta = tpl.get("metadata") or {}
        labels = {**(tmeta.get("labels") or {}), **selector_labels}
        claim_meta: Obj = {"name": claim_name(tpl, sts, ordinal), "namespace": meta(sts).get("namespace"),
                           "labels": labels}
        if tmeta.get("annotations"):
            claim_meta["annotations"] = dict(tmeta["annotations"])
        out.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": claim_meta,
                    "spec": copy.deepcopy(tpl.get("spec") or {})})
    return out


def template_from_revision(revision: Obj | None, sts: Obj) -> Obj:
    """``ApplyRevision``: the pod template a revision's patch puts back (the set's own without one)."""
    if revision is None:
        return copy.deepcopy(spec_of(sts).get("template") or {})
    template = copy.deepcopy(((revision.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    return template


def stateful_pod(sts: Obj, template: Obj, ordinal: int, revision_name: str) -> Obj:
    """``newStatefulSetPod`` + ``initIdentity`` + ``updateStorage`` + ``setPodRevision``."""
    template = copy.deepcopy(template)
    tmeta = template.get("metadata") or {}
    spec = template.get("spec") or {}
    name = pod_name(sts, ordinal)
    labels = dict(tmeta.get("labels") or {})
    labels[POD_NAME_LABEL] = name
    labels[POD_INDEX_LABEL] = str(ordinal)
    labels[REVISION_HASH_LABEL] = revision_name
    spec["hostname"] = name
    if spec_of(sts).get("serviceName"):
        spec["subdomain"] = spec_of(sts)["serviceName"]
    volumes = [v for v in spec.get("volumes") or []]
    for tpl in spec_of(sts).get("volumeClaimTemplates") or []:
        tname = (tpl.get("metadata") or {}).get("name")
        volumes = [v for v in volumes if v.get("name") != tname]
        volumes.append({"name": tname, "persistentVolumeClaim": {"claimName": claim_name(tpl, sts, ordinal)}})
    if volumes:
        spec["volumes"] = volumes
    metadata: Obj = {"name": name, "namespace": meta(sts).get("namespace"), "labels": labels,
                     "ownerReferences": [new_controller_ref(sts, "apps/v1", "StatefulSet")]}
    if tmeta.get("annotations"):
        metadata["annotations"] = dict(tmeta["annotations"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def uses_current_revision(sts: Obj, ordinal: int) -> bool:
    """``newVersionedStatefulSetPod``: below the partition, a (re)created pod keeps the current revision."""
    strategy = spec_of(sts).get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return False
    rolling = strategy.get("rollingUpdate")
    start = start_ordinal(sts)
    if rolling is None:
        return ordinal < start + int((sts.get("status") or {}).get("currentReplicas") or 0)
    return ordinal < start + int(rolling.get("partition") or 0)


# --- decide --------------------------------------------------------------------------------


@dataclass
class StatefulSetActions:
    """One sync's writes, in order, and why the sync stopped there (if it waits)."""

    create_claims: list[int] = field(default_factory=list)      # ordinals whose missing claims to create
    create_pods: list[int] = field(default_factory=list)         # ordinals
    delete_pods: list[tuple[str, str]] = field(default_factory=list)   # (pod name, reason)
    release_claims_of: list[int] = field(default_factory=list)   # condemned ordinals (whenScaled: Delete)
    relabel: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # (pod, identity labels it lost)
    waiting_for: str = ""

    def __bool__(self) -> bool:
        return bool(self.create_pods or self.delete_pods or self.create_claims or self.relabel)


def missing_identity(sts: Obj, pod: Obj, ordinal: int) -> dict[str, str]:
    """``identityMatches``: the identity labels a pod should carry and does not (someone removed them)."""
    want = {POD_NAME_LABEL: pod_name(sts, ordinal), POD_INDEX_LABEL: str(ordinal)}
    labels = meta(pod).get("labels") or {}
    return {k: v for k, v in want.items() if labels.get(k) != v}


def decide(sts: Obj, pods: dict[int, Obj], claims: set[str], update_revision: str, now: float) -> StatefulSetActions:
    """``updateStatefulSet``: what to create, delete and wait for, as upstream orders it.

    ``pods`` maps ordinal -> the set's pod; ``claims`` are the names of the
    PersistentVolumeClaims that exist.

    >>> sts = {"metadata": {"name": "web"}, "spec": {"replicas": 3}}
    >>> decide(sts, {}, set(), "web-1", 0).create_pods   # OrderedReady: one at a time
    [0]
    >>> decide({**sts, "spec": {"replicas": 3, "podManagementPolicy": "Parallel"}}, {}, set(), "web-1", 0).create_pods
    [0, 1, 2]
    """
    actions = StatefulSetActions()
    spec = spec_of(sts)
    monotonic = spec.get("podManagementPolicy", "OrderedReady") != "Parallel"
    min_ready = int(spec.get("minReadySeconds") or 0)
    start, count = start_ordinal(sts), replicas_of(sts)
    wanted = range(start, start + count)
    condemned = sorted((o for o in pods if o not in wanted), reverse=True)
    templates = spec.get("volumeClaimTemplates") or []
    first_unhealthy: int | None = None

    for ordinal in wanted:
        pod = pods.get(ordinal)
        if pod is not None and is_finished(pod):
            if not is_deleting(pod):
                actions.delete_pods.append((meta(pod)["name"], f"pod {pod['status']['phase']}: recreate"))
            if monotonic:
                actions.waiting_for = f"{meta(pod)['name']} to be recreated"
                return actions
            continue
        if pod is None:
            if any(claim_name(t, sts, ordinal) not in claims for t in templates):
                actions.create_claims.append(ordinal)
            actions.create_pods.append(ordinal)
            if monotonic:
                actions.waiting_for = f"{pod_name(sts, ordinal)} to be Running and Ready"
                return actions
            continue
        lost = missing_identity(sts, pod, ordinal)
        if lost and not is_deleting(pod):
            actions.relabel.append((meta(pod)["name"], lost))
        if not is_healthy(pod, min_ready, now) and first_unhealthy is None:
            first_unhealthy = ordinal
        if monotonic and is_deleting(pod):
            actions.waiting_for = f"{meta(pod)['name']} to terminate"
            return actions
        if monotonic and not is_healthy(pod, min_ready, now):
            actions.waiting_for = f"{meta(pod)['name']} to be Running and Ready"
            return actions

    for ordinal in condemned:
        pod = pods[ordinal]
        if is_deleting(pod):
            if monotonic:
                actions.waiting_for = f"{meta(pod)['name']} to terminate"
                return actions
            continue
        if monotonic and first_unhealthy is not None and first_unhealthy != ordinal:
            actions.waiting_for = f"{pod_name(sts, first_unhealthy)} to be healthy before scaling down"
            return actions
        actions.release_claims_of.append(ordinal)
        actions.delete_pods.append((meta(pod)["name"], "scale down"))
        if monotonic:
            return actions

    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return actions
    rolling = strategy.get("rollingUpdate") or {}
    partition = start + int(rolling.get("partition") or 0)
    in_order = [pods[o] for o in sorted(pods) if o in wanted]
    max_unavailable = rolling.get("maxUnavailable")
    if max_unavailable is None:
        # Upstream's default: one pod at a time, from the highest ordinal down to the partition.
        for pod in reversed(in_order):
            if ordinal_of(sts, pod) is None or ordinal_of(sts, pod) < partition:  # type: ignore[operator]
                break
            if revision_of(pod) != update_revision and not is_deleting(pod):
                actions.delete_pods.append((meta(pod)["name"], "rolling update"))
                return actions
            if not is_healthy(pod, min_ready, now):
                actions.waiting_for = f"{meta(pod)['name']} to be healthy during the update"
                return actions
        return actions
    budget = max(1, resolve_int_or_percent(max_unavailable, count, True))
    unavailable = sum(1 for p in in_order if not is_healthy(p, min_ready, now))
    for pod in reversed(in_order):
        if unavailable >= budget:
            break
        ordinal = ordinal_of(sts, pod)
        if ordinal is None or ordinal < partition:
            break
        if revision_of(pod) != update_revision and not is_deleting(pod):
            actions.delete_pods.append((meta(pod)["name"], "rolling update"))
            if is_healthy(pod, min_ready, now):
                unavailable += 1
    return actions


def stateful_set_status(sts: Obj, pods: list[Obj], current_revision: str, update_revision: str,
                        collision_count: int, now: float) -> Obj:
    """The status ``updateStatefulSet`` computes, with ``completeRollingUpdate`` applied."""
    min_ready = int(spec_of(sts).get("minReadySeconds") or 0)
    replicas = ready = available = current = updated = 0
    for pod in pods:
        if (pod.get("status") or {}).get("phase"):   # isCreated
            replicas += 1
        if (pod.get("status") or {}).get("phase") and not is_deleting(pod):
            current += revision_of(pod) == current_revision
            updated += revision_of(pod) == update_revision
        if is_running_ready(pod):
            ready += 1
            if is_pod_available(pod, min_ready, now):
                available += 1
    status: Obj = {"observedGeneration": meta(sts).get("generation", 0), "replicas": replicas,
                   "readyReplicas": ready, "currentReplicas": current, "updatedReplicas": updated,
                   "availableReplicas": available, "currentRevision": current_revision,
                   "updateRevision": update_revision, "collisionCount": collision_count}
    strategy = spec_of(sts).get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") == "RollingUpdate" and updated == replicas and ready == replicas:
        status["currentRevision"] = update_revision
        status["currentReplicas"] = updated
    return status
