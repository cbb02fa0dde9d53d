"""The StatefulSet controller: pods with a stable name, DNS identity and volume, changed in order.

Upstream: ``pkg/controller/statefulset/stateful_set.go`` (the informer handlers
and sync), ``stateful_set_control.go`` (getStatefulSetRevisions,
updateStatefulSet, truncateHistory) and ``stateful_pod_control.go``
(createMissingPersistentVolumeClaims, the claims' owner references for
``persistentVolumeClaimRetentionPolicy``). What to do is decided by
``statefulset_util.decide`` (pure); this module reads the caches, keeps the
ControllerRevisions, carries the decision out and writes the status that
``kubectl get sts`` and ``kubectl rollout status|history|undo`` read.
"""

from __future__ import annotations

import copy
from typing import Any

from kubetui.api import errors
from kubetui.api.patch import MERGE_PATCH
from kubetui.client import reconciles
from kubetui.client.informer import CONTROLLER_INDEX, split_key
from kubetui.controllers import history
from kubetui.controllers import statefulset_util as ssu
from kubetui.controllers.base import Controller
from kubetui.controllers.expectations import Expectations
from kubetui.controllers.podowner import PodOwnerHandlers
from kubetui.controllers.util import (
    update_status_retrying_once,
    claim_children, is_deleting, meta, selector_of,
)

Obj = dict[str, Any]


def _owner_ref(owner: Obj, api_version: str, kind: str) -> Obj:
    """A plain (not controller) owner reference: the garbage collector deletes the claim with its owner."""
    return {"apiVersion": api_version, "kind": kind, "name": meta(owner)["name"], "uid": meta(owner)["uid"]}


class StatefulSetController(PodOwnerHandlers, Controller):
    owner_kind = "StatefulSet"
    name = "statefulset"
    kind = "StatefulSet"
    component = "statefulset-controller"
    workers = 2

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.sts_informer = self.factory.informer("statefulsets")
        self.pod_informer = self.factory.informer("pods")
        self.cr_informer = self.factory.informer("controllerrevisions")
        self.pvc_informer = self.factory.informer("persistentvolumeclaims")
        self.expectations = Expectations(self.clock)
        self.owner_informer = self.sts_informer
        self.sts_informer.add_handler(self.enqueue, self._owner_updated, self._owner_deleted)
        self.pod_informer.add_handler(self._pod_added, self._pod_updated, self._pod_deleted)

    # --- reconcile ---

    async def reconcile(self, key: Any) -> float | None:
        ns, name = split_key(key)
        sts = self.sts_informer.get(key)
        if sts is None:
            self.expectations.delete(key)
            return None
        candidates = [p for p in self.pod_informer.list(ns) if ssu.ordinal_of(sts, p) is not None]
        owned = await claim_children(self.client, "pods", sts, "apps/v1", "StatefulSet", selector_of(sts),
                                     candidates)
        pods = {ssu.ordinal_of(sts, p): p for p in owned}
        current, update, collision_count = await self._revisions(sts)
        now = self.clock.time()
        if not is_deleting(sts) and self.expectations.satisfied(key):
            claims = {meta(c)["name"] for c in self.pvc_informer.list(ns)}
            actions = ssu.decide(sts, pods, claims, meta(update)["name"], now)  # type: ignore[arg-type]
            if (rec := reconciles.current()) is not None:
                _record(rec, sts, pods, actions)
            if actions:
                await self._act(key, sts, actions, pods, current, update, claims)
            await self._truncate_history(sts, list(pods.values()), current, update)
        status = ssu.stateful_set_status(sts, list(pods.values()), meta(current)["name"], meta(update)["name"],
                                         collision_count, now)
        if status != (sts.get("status") or {}):
            await self._update_status(sts, status)
        min_ready = int((sts.get("spec") or {}).get("minReadySeconds") or 0)
        if min_ready and status["readyReplicas"] != status["availableReplicas"]:
            return float(min_ready)
        return None

    async def _act(self, key: str, sts: Obj, actions: ssu.StatefulSetActions, pods: dict[int, Obj],
                   current: Obj, update: Obj, claims: set[str]) -> None:
        ns = meta(sts).get("namespace")
        for ordinal in actions.create_claims:
            await self._create_claims(sts, ordinal, claims)
        self.expectations.expect_creations(key, len(actions.create_pods))
        for ordinal in actions.create_pods:
            revision = current if ssu.uses_current_revision(sts, ordinal) else update
            template = ssu.template_from_revision(revision, sts)
            pod = ssu.stateful_pod(sts, template, ordinal, meta(revision)["name"])
            try:
                await self.client.create("pods", pod, ns)
            except errors.AlreadyExists:
                self.expectations.creation_observed(key)
                continue
            except errors.StatusError as e:
                self.expectations.creation_observed(key)
                self.event(sts, "Warning", "FailedCreate",
                           f"create Pod {meta(pod)['name']} in StatefulSet {meta(sts)['name']} failed error: {e}")
                raise
            self.event(sts, "Normal", "SuccessfulCreate",
                       f"create Pod {meta(pod)['name']} in StatefulSet {meta(sts)['name']} successful")
        for pod_name, labels in actions.relabel:
            # updateIdentity: put back the labels that make the pod findable by its name and ordinal.
            try:
                await self.client.patch("pods", pod_name, {"metadata": {"labels": labels}}, ns,
                                        patch_type=MERGE_PATCH)
            except errors.NotFound:
                pass
        for ordinal in actions.release_claims_of:
            await self._claims_follow_pod(sts, pods[ordinal], ordinal)
        self.expectations.expect_deletions(key, [f"{ns}/{n}" for n, _ in actions.delete_pods])
        for pod_name, _reason in actions.delete_pods:
            try:
                await self.client.delete("pods", pod_name, ns)
            except errors.NotFound:
                self.expectations.deletion_observed(key, f"{ns}/{pod_name}")
                continue
            self.event(sts, "Normal", "SuccessfulDelete",
                       f"delete Pod {pod_name} in StatefulSet {meta(sts)['name']} successful")

    async def _create_claims(self, sts: Obj, ordinal: int, existing: set[str]) -> None:
        """``createMissingPersistentVolumeClaims``: the claim outlives the pod; whenDeleted Delete ties it to the set."""
        policy = (sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
        for claim in ssu.claims_for(sts, ordinal):
            if meta(claim)["name"] in existing:
                continue
            if policy.get("whenDeleted") == "Delete":
                claim["metadata"]["ownerReferences"] = [_owner_ref(sts, "apps/v1", "StatefulSet")]
            try:
                await self.client.create("persistentvolumeclaims", claim, meta(sts).get("namespace"))
            except errors.AlreadyExists:
                continue
            except errors.StatusError as e:
                self.event(sts, "Warning", "FailedCreate",
                           f"create Claim {meta(claim)['name']} for Pod {ssu.pod_name(sts, ordinal)} in "
                           f"StatefulSet {meta(sts)['name']} failed error: {e}")
                raise
            self.event(sts, "Normal", "SuccessfulCreate",
                       f"create Claim {meta(claim)['name']} Pod {ssu.pod_name(sts, ordinal)} in StatefulSet "
                       f"{meta(sts)['name']} success")

    async def _claims_follow_pod(self, sts: Obj, pod: Obj, ordinal: int) -> None:
        """whenScaled Delete: a condemned pod's claims become the pod's, so they go with it."""
        policy = (sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
        if policy.get("whenScaled") != "Delete":
            return
        ns = meta(sts).get("namespace")
        for claim in ssu.claims_for(sts, ordinal):
            live = self.pvc_informer.get(f"{ns}/{meta(claim)['name']}")
            if live is None:
                continue
            refs = [r for r in meta(live).get("ownerReferences") or [] if r.get("uid") != meta(sts).get("uid")]
            if any(r.get("uid") == meta(pod).get("uid") for r in refs):
                continue
            body = copy.deepcopy(live)
            body["metadata"]["ownerReferences"] = refs + [_owner_ref(pod, "v1", "Pod")]
            try:
                await self.client.update("persistentvolumeclaims", body, ns)
            except (errors.NotFound, errors.Conflict):
                pass

    async def _update_status(self, sts: Obj, status: Obj) -> None:
        await update_status_retrying_once(self.client, "statefulsets", sts, status, missing_ok=True)

    # --- history ---

    def _owned_revisions(self, sts: Obj) -> list[Obj]:
        return history.sort_revisions([cr for cr in self.cr_informer.by_index(CONTROLLER_INDEX, meta(sts)["uid"])
                                       if not is_deleting(cr)])

    async def _revisions(self, sts: Obj) -> tuple[Obj, Obj, int]:
        """``getStatefulSetRevisions``: (current, update revision, collisionCount).

        The update revision is the set's template; an equal older revision is
        reused with a new number (that is a rollback), else one is created.
        The current revision is the one status names, until a rollout completes.
        """
        ns = meta(sts).get("namespace")
        revisions = self._owned_revisions(sts)
        collision_count = int((sts.get("status") or {}).get("collisionCount") or 0)
        top = history.max_revision(revisions)
        update = history.new_revision(sts, "apps/v1", "StatefulSet", top + 1, collision_count)
        equal = [r for r in revisions if history.same_data(r, update)]
        if equal and revisions and equal[-1] is revisions[-1]:
            update = revisions[-1]
        elif equal:
            body = copy.deepcopy(equal[-1])
            body["revision"] = top + 1
            update = await self.client.update("controllerrevisions", body, ns)
        else:
            for _ in range(5):
                try:
                    update = await self.client.create("controllerrevisions", update, ns)
                    break
                except errors.AlreadyExists:
                    existing = await self.client.get("controllerrevisions", meta(update)["name"], ns)
                    if history.same_data(existing, update) and history.owned_by(existing, sts):
                        update = existing
                        break
                    collision_count += 1   # a hash collision: another name, as upstream
                    update = history.new_revision(sts, "apps/v1", "StatefulSet", top + 1, collision_count)
        current_name = (sts.get("status") or {}).get("currentRevision")
        current = next((r for r in revisions if meta(r)["name"] == current_name), None) or update
        return current, update, collision_count

    async def _truncate_history(self, sts: Obj, pods: list[Obj], current: Obj, update: Obj) -> None:
        limit = int((sts.get("spec") or {}).get("revisionHistoryLimit", 10))
        live = {ssu.revision_of(p) for p in pods} | {meta(current)["name"], meta(update)["name"]}
        for cr in history.revisions_to_prune(self._owned_revisions(sts), {n for n in live if n}, limit):
            try:
                await self.client.delete("controllerrevisions", meta(cr)["name"], meta(cr).get("namespace"))
            except errors.NotFound:
                pass


def _record(rec: Any, sts: Obj, pods: dict[Any, Obj], actions: ssu.StatefulSetActions) -> None:
    """The reconcile log's words: ``want 3, have 2 pods (0, 1)`` and ``create pod web-2``."""
    want = int((sts.get("spec") or {}).get("replicas", 1) or 0)
    have = sorted(o for o in pods if o is not None)
    rec.observe(f"want {want}, have {len(have)} pods" + (f" (ordinals {', '.join(map(str, have))})" if have else ""))
    name = meta(sts)["name"]
    for ordinal in actions.create_claims:
        rec.decide(f"create the volume claims of {name}-{ordinal}", action="create-claims", ordinal=ordinal)
    for ordinal in actions.create_pods:
        rec.decide(f"create pod {name}-{ordinal}", action="create", ordinal=ordinal)
    for pod, why in actions.delete_pods:
        rec.decide(f"delete pod {pod}: {why}", action="delete", pod=pod)
    for pod, labels in actions.relabel:
        rec.decide(f"put back pod {pod}'s identity labels {labels}", action="relabel", pod=pod)
    if actions.waiting_for:
        rec.decide(f"wait: {actions.waiting_for}", action="wait")
