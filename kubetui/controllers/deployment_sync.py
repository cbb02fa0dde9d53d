"""One Deployment sync: find/create the new ReplicaSet, scale, roll, clean up, report status.

Upstream: ``pkg/controller/deployment/sync.go``, ``rolling.go``,
``recreate.go`` and ``progress.go``, function for function (names kept in
docstrings so a reader can open the Go next to this).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from kubetui.api import errors
from kubetui.client import reconciles
from kubetui.clock import parse_rfc3339, rfc3339
from kubetui.controllers import deployment_util as du
from kubetui.controllers.util import controller_ref, meta, new_controller_ref

if TYPE_CHECKING:
    from kubetui.controllers.deployment import DeploymentController

Obj = dict[str, Any]
MAX_INT32 = 2**31 - 1


def _by_creation(rss: list[Obj], newest_first: bool = False) -> list[Obj]:
    """``ReplicaSetsByCreationTimestamp`` (ties broken by name)."""
    return sorted(rss, key=lambda r: (meta(r).get("creationTimestamp") or "", meta(r).get("name", "")),
                  reverse=newest_first)


def _active(rss: list[Obj | None]) -> list[Obj]:
    return [rs for rs in rss if rs is not None and du.replicas_of(rs) > 0]


class DeploymentSync:
    def __init__(self, controller: "DeploymentController", d: Obj) -> None:
        self.c = controller
        self.d = d
        self.ns = meta(d).get("namespace")

    # --- small helpers ---

    def now(self) -> str:
        return rfc3339(self.c.clock.time())

    def progress_deadline(self) -> int | None:
        """``spec.progressDeadlineSeconds`` (kubetui's timings when unset); None = no deadline."""
        v = (self.d.get("spec") or {}).get("progressDeadlineSeconds", self.c.timings.progress_deadline_seconds)
        if v is None or int(v) == MAX_INT32:
            return None
        return int(v)

    async def update_status(self, status: Obj) -> None:
        body = copy.deepcopy(self.d)
        body["status"] = status
        self.d = await self.c.client.update("deployments", body, self.ns, subresource="status")

    async def _update_rs(self, rs: Obj) -> Obj:
        new = await self.c.client.update("replicasets", rs, self.ns)
        rs.clear()
        rs.update(new)
        return rs

    # --- new and old ReplicaSets ---

    def find_new_rs(self, rs_list: list[Obj]) -> Obj | None:
        """The oldest ReplicaSet whose template equals the Deployment's (``FindNewReplicaSet``)."""
        template = (self.d.get("spec") or {}).get("template")
        for rs in _by_creation(rs_list):
            if du.equal_ignore_hash((rs.get("spec") or {}).get("template"), template):
                return rs
        return None

    async def get_all_rss_and_sync_revision(self, rs_list: list[Obj], create: bool) -> tuple[Obj | None, list[Obj]]:
        new = self.find_new_rs(rs_list)
        old = [rs for rs in rs_list if rs is not new]
        new = await self.get_new_rs(rs_list, old, create)
        return new, old

    async def get_new_rs(self, rs_list: list[Obj], old: list[Obj], create: bool) -> Obj | None:
        """``getNewReplicaSet``: sync the existing new RS's revision, or create it."""
        existing = self.find_new_rs(rs_list)
        new_revision = du.max_revision(old) + 1
        deadline = self.progress_deadline()
        if existing is not None:
            rs_copy = copy.deepcopy(existing)
            changed = du.set_new_rs_annotations(self.d, rs_copy, new_revision, True)
            mrs = (self.d.get("spec") or {}).get("minReadySeconds", 0) or 0
            if (rs_copy.get("spec") or {}).get("minReadySeconds", 0) != mrs:
                rs_copy["spec"]["minReadySeconds"] = mrs
                changed = True
            if changed:
                await self._update_rs(rs_copy)
                existing.clear()
                existing.update(rs_copy)
            status = copy.deepcopy(self.d.get("status") or {})
            needs_update = self._set_deployment_revision(str(du.revision_of(existing)))
            if deadline is not None and du.get_condition(status, "Progressing") is None:
                du.set_condition(status, du.new_condition("Progressing", "True", du.FOUND_NEW_RS,
                                                          f'Found new replica set "{meta(existing)["name"]}"', self.now()))
                needs_update = True
            if needs_update:
                await self._flush_meta()
                if status != (self.d.get("status") or {}):
                    await self.update_status(status)
            return existing
        if not create:
            return None
        return await self._create_new_rs(old, new_revision)

    def _set_deployment_revision(self, revision: str) -> bool:
        """``SetDeploymentRevision``: the Deployment carries its newest revision too."""
        ann = self.d.setdefault("metadata", {}).setdefault("annotations", {})
        if ann.get(du.REVISION) == revision:
            return False
        ann[du.REVISION] = revision
        # Annotations live in metadata: written by a normal update before the status update.
        self._pending_meta_update = True
        return True

    async def _flush_meta(self) -> None:
        if getattr(self, "_pending_meta_update", False):
            self._pending_meta_update = False
            self.d = await self.c.client.update("deployments", self.d, self.ns)

    async def _create_new_rs(self, old: list[Obj], new_revision: int) -> Obj:
        spec = self.d.get("spec") or {}
        status = copy.deepcopy(self.d.get("status") or {})
        template = copy.deepcopy(spec.get("template") or {})
        pod_hash = du.compute_hash(template, status.get("collisionCount"))
        template.setdefault("metadata", {}).setdefault("labels", {})[du.POD_TEMPLATE_HASH] = pod_hash
        selector = copy.deepcopy(spec.get("selector") or {})
        selector.setdefault("matchLabels", {})[du.POD_TEMPLATE_HASH] = pod_hash
        new_rs: Obj = {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"{meta(self.d)['name']}-{pod_hash}", "namespace": self.ns,
                         "labels": dict(template["metadata"]["labels"]),
                         "ownerReferences": [new_controller_ref(self.d, "apps/v1", "Deployment")]},
            "spec": {"replicas": 0, "minReadySeconds": spec.get("minReadySeconds", 0) or 0,
                     "selector": selector, "template": template},
        }
        replicas = du.new_rs_new_replicas(self.d, [*old, new_rs], new_rs)
        new_rs["spec"]["replicas"] = replicas
        du.set_new_rs_annotations(self.d, new_rs, new_revision, False)
        deadline = self.progress_deadline()
        already_exists = False
        try:
            created = await self.c.client.create("replicasets", new_rs, self.ns)
        except errors.AlreadyExists:
            existing = await self.c.client.get("replicasets", new_rs["metadata"]["name"], self.ns)
            ref = controller_ref(existing)
            if (ref and ref.get("uid") == meta(self.d).get("uid")
                    and du.equal_ignore_hash((existing.get("spec") or {}).get("template"), spec.get("template"))):
                created, already_exists = existing, True
            else:
                # A hash collision: another template already has this name. Bump
                # collisionCount so the next hash differs, and try again.
                status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
                await self.update_status(status)
                raise errors.Conflict(f"hash collision for replica set {new_rs['metadata']['name']}; "
                                      f"collisionCount is now {status['collisionCount']}")
        except errors.StatusError as e:
            if deadline is not None:
                du.set_condition(status, du.new_condition("Progressing", "False", du.FAILED_RS_CREATE,
                                                          f'Failed to create new replica set "{new_rs["metadata"]["name"]}": {e}',
                                                          self.now()))
                await self.update_status(status)
            raise
        if not already_exists:
            reconciles.decide(f"create rs {meta(created)['name']} with {replicas} replica{'s' if replicas != 1 else ''}",
                              **{"action": "scale", "replicaSet": meta(created)["name"], "from": 0, "to": replicas,
                                 "available": int((self.d.get("status") or {}).get("availableReplicas") or 0)})
        if not already_exists and replicas > 0:
            self.c.event(self.d, "Normal", "ScalingReplicaSet",
                         f"Scaled up replica set {meta(created)['name']} from 0 to {replicas}")
        if not already_exists and deadline is not None:
            du.set_condition(status, du.new_condition("Progressing", "True", du.NEW_RS_CREATED,
                                                      f'Created new replica set "{meta(created)["name"]}"', self.now()))
        self._set_deployment_revision(str(new_revision))
        await self._flush_meta()
        if status != (self.d.get("status") or {}):
            await self.update_status(status)
        return created

    # --- scaling ---

    async def scale_rs(self, rs: Obj, new_scale: int) -> bool:
        """``scaleReplicaSetAndRecordEvent``: set replicas and the desired/max annotations."""
        size_changed = du.replicas_of(rs) != new_scale
        desired, max_total = du.replicas_of(self.d), du.replicas_of(self.d) + du.max_surge(self.d)
        if not size_changed and not du.replicas_annotations_need_update(rs, desired, max_total):
            return False
        old_scale = du.replicas_of(rs)
        if size_changed:
            reconciles.decide(f"scale {'up' if new_scale > old_scale else 'down'} rs {meta(rs)['name']} "
                              f"from {old_scale} to {new_scale}",
                              **{"action": "scale", "replicaSet": meta(rs)["name"], "from": old_scale, "to": new_scale,
                                 "available": int((self.d.get("status") or {}).get("availableReplicas") or 0)})
        body = copy.deepcopy(rs)
        body["spec"]["replicas"] = new_scale
        du.set_replicas_annotations(body, desired, max_total)
        await self._update_rs(body)
        rs.clear()
        rs.update(body)
        if size_changed:
            direction = "up" if new_scale > old_scale else "down"
            self.c.event(self.d, "Normal", "ScalingReplicaSet",
                         f"Scaled {direction} replica set {meta(rs)['name']} from {old_scale} to {new_scale}")
        return size_changed

    async def is_scaling_event(self, rs_list: list[Obj]) -> bool:
        """Did only ``spec.replicas`` change? (an RS's desired-replicas annotation disagrees)"""
        new, old = await self.get_all_rss_and_sync_revision(rs_list, False)
        for rs in _active([*old, new]):
            desired = (meta(rs).get("annotations") or {}).get(du.DESIRED_REPLICAS)
            if desired is not None and desired != str(du.replicas_of(self.d)):
                return True
        return False

    async def scale(self, new: Obj | None, old: list[Obj]) -> None:
        """``scale``: resize for a replicas change, proportionally across RSes mid-rollout."""
        d = self.d
        active_or_latest = self._find_active_or_latest(new, old)
        if active_or_latest is not None:
            if du.replicas_of(active_or_latest) != du.replicas_of(d):
                await self.scale_rs(active_or_latest, du.replicas_of(d))
            return
        if self._is_saturated(new):
            for rs in _active(old):
                await self.scale_rs(rs, 0)
            return
        if not du.is_rolling(d):
            return
        all_rss = _active([*old, new])
        allowed = du.replicas_of(d) + du.max_surge(d) if du.replicas_of(d) > 0 else 0
        to_add = allowed - du.total_spec_replicas(all_rss)
        def ts(r: Obj) -> tuple[str, str]:
            return (meta(r).get("creationTimestamp") or "", meta(r).get("name", ""))
        if to_add > 0:  # largest first, newer first on ties (ReplicaSetsBySizeNewer)
            all_rss.sort(key=lambda r: (du.replicas_of(r), ts(r)), reverse=True)
        elif to_add < 0:  # largest first, older first on ties (ReplicaSetsBySizeOlder)
            all_rss = sorted(_by_creation(all_rss), key=lambda r: du.replicas_of(r), reverse=True)
        added = 0
        sizes: dict[str, int] = {}
        d_status_replicas = int((d.get("status") or {}).get("replicas") or 0)
        for rs in all_rss:
            if to_add != 0:
                p = du.get_proportion(rs, d, to_add, added, d_status_replicas)
                sizes[meta(rs)["name"]] = du.replicas_of(rs) + p
                added += p
            else:
                sizes[meta(rs)["name"]] = du.replicas_of(rs)
        if to_add != 0 and all_rss:
            first = meta(all_rss[0])["name"]
            sizes[first] = max(0, sizes[first] + to_add - added)
        for rs in all_rss:
            await self.scale_rs(rs, sizes[meta(rs)["name"]])

    def _find_active_or_latest(self, new: Obj | None, old: list[Obj]) -> Obj | None:
        if new is None and not old:
            return None
        old_sorted = _by_creation(old, newest_first=True)
        active = _active([*old_sorted, new])
        if not active:
            return new if new is not None else old_sorted[0]
        if len(active) == 1:
            return active[0]
        return None

    def _is_saturated(self, rs: Obj | None) -> bool:
        if rs is None:
            return False
        desired = (meta(rs).get("annotations") or {}).get(du.DESIRED_REPLICAS)
        n = du.replicas_of(self.d)
        return (desired == str(n) and du.replicas_of(rs) == n
                and int((rs.get("status") or {}).get("availableReplicas") or 0) == n)

    async def sync_scale_only(self, rs_list: list[Obj]) -> None:
        """``sync``: scaling and paused deployments; no rollout progress."""
        new, old = await self.get_all_rss_and_sync_revision(rs_list, False)
        await self.scale(new, old)
        if (self.d.get("spec") or {}).get("paused"):
            await self.cleanup(old)
        await self.sync_deployment_status([*old, new], new)

    async def check_paused_conditions(self) -> None:
        """``checkPausedConditions``: Progressing=Unknown DeploymentPaused / DeploymentResumed."""
        if self.progress_deadline() is None:
            return
        status = copy.deepcopy(self.d.get("status") or {})
        cond = du.get_condition(status, "Progressing")
        if cond and cond.get("reason") == du.TIMED_OUT:
            return
        paused_exists = bool(cond and cond.get("reason") == du.PAUSED)
        paused = bool((self.d.get("spec") or {}).get("paused"))
        if paused and not paused_exists:
            du.set_condition(status, du.new_condition("Progressing", "Unknown", du.PAUSED, "Deployment is paused", self.now()))
        elif not paused and paused_exists:
            du.set_condition(status, du.new_condition("Progressing", "Unknown", du.RESUMED, "Deployment is resumed", self.now()))
        else:
            return
        await self.update_status(status)

    # --- rolling update ---

    async def rollout_rolling(self, rs_list: list[Obj]) -> float | None:
        new, old = await self.get_all_rss_and_sync_revision(rs_list, True)
        all_rss = [*old, new]
        if await self.reconcile_new_rs(all_rss, new):
            return await self.sync_rollout_status(all_rss, new)
        if await self.reconcile_old_rss(all_rss, _active(old), new):
            return await self.sync_rollout_status(all_rss, new)
        if du.deployment_complete(self.d, self.d.get("status") or {}):
            await self.cleanup(old)
        return await self.sync_rollout_status(all_rss, new)

    async def reconcile_new_rs(self, all_rss: list[Obj | None], new: Obj) -> bool:
        want = du.replicas_of(self.d)
        if du.replicas_of(new) == want:
            return False
        if du.replicas_of(new) > want:
            return await self.scale_rs(new, want)
        return await self.scale_rs(new, du.new_rs_new_replicas(self.d, all_rss, new))

    async def reconcile_old_rss(self, all_rss: list[Obj | None], old: list[Obj], new: Obj) -> bool:
        if du.total_spec_replicas(old) == 0:
            return False
        budget = du.max_scaled_down(self.d, all_rss, new)
        if budget <= 0:
            return False
        cleaned = await self._cleanup_unhealthy(old, budget)
        if cleaned is None:
            # Upstream gives up on scaling down for this sync (the error is logged, not
            # returned); the ReplicaSet's status update that is on its way requeues us.
            return False
        scaled = await self._scale_down_old_for_rolling([*old, new], old)
        return cleaned + scaled > 0

    async def _cleanup_unhealthy(self, old: list[Obj], budget: int) -> int | None:
        """``cleanupUnhealthyReplicas``: scale down old RSes' *unavailable* pods first: they serve nobody.

        An RS's status lags behind its spec: just after this controller scaled it
        from 2 to 1, it still reports ``availableReplicas: 2`` until the
        ReplicaSet controller has deleted a pod and written status. "Unhealthy"
        is then ``1 - 2 = -1``, and scaling "down" by -1 would scale the old RS
        back *up* to 2 (a fresh old pod created, then killed). Upstream refuses
        such a request ("got invalid request to scale down"); so does this,
        returning None: no scaling down in this sync.
        """
        total = 0
        for rs in _by_creation(old):
            if total >= budget:
                break
            n = du.replicas_of(rs)
            available = int((rs.get("status") or {}).get("availableReplicas") or 0)
            if n == 0 or n == available:
                continue
            down = min(budget - total, n - available)
            if n - down > n:
                self.c.log.info("when cleaning up unhealthy replicas, got invalid request to scale down "
                                "%s/%s %d -> %d", self.ns, meta(rs).get("name"), n, n - down)
                return None
            await self.scale_rs(rs, n - down)
            total += down
        return total

    async def _scale_down_old_for_rolling(self, all_rss: list[Obj | None], old: list[Obj]) -> int:
        min_available = du.replicas_of(self.d) - du.max_unavailable(self.d)
        available = du.total_status(all_rss, "availableReplicas")
        if available <= min_available:
            return 0
        budget = available - min_available
        total = 0
        for rs in _by_creation(old):
            if total >= budget:
                break
            n = du.replicas_of(rs)
            if n == 0:
                continue
            down = min(n, budget - total)
            await self.scale_rs(rs, n - down)
            total += down
        return total

    # --- recreate ---

    async def rollout_recreate(self, rs_list: list[Obj], pods_by_rs: dict[str, list[Obj]]) -> float | None:
        new, old = await self.get_all_rss_and_sync_revision(rs_list, False)
        all_rss = [*old, new]
        scaled = False
        for rs in _active(old):
            scaled = await self.scale_rs(rs, 0) or scaled
        if scaled:
            return await self.sync_rollout_status(all_rss, new)
        if self._old_pods_running(new, old, pods_by_rs):
            return await self.sync_rollout_status(all_rss, new)
        if new is None:
            new, old = await self.get_all_rss_and_sync_revision(rs_list, True)
            all_rss = [*old, new]
        await self.scale_rs(new, du.replicas_of(self.d))
        if du.deployment_complete(self.d, self.d.get("status") or {}):
            await self.cleanup(old)
        return await self.sync_rollout_status(all_rss, new)

    def _old_pods_running(self, new: Obj | None, old: list[Obj], pods_by_rs: dict[str, list[Obj]]) -> bool:
        if du.total_status(old, "replicas") > 0:
            return True
        new_uid = meta(new).get("uid") if new else None
        for uid, pods in pods_by_rs.items():
            if uid == new_uid:
                continue
            for p in pods:
                if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                    return True
        return False

    # --- history ---

    async def cleanup(self, old: list[Obj]) -> None:
        """``cleanupDeployment``: delete the oldest scaled-down RSes beyond revisionHistoryLimit."""
        limit = (self.d.get("spec") or {}).get("revisionHistoryLimit", 10)
        if limit is None:
            return
        cleanable = [rs for rs in old if not meta(rs).get("deletionTimestamp")]
        diff = len(cleanable) - int(limit)
        if diff <= 0:
            return
        cleanable.sort(key=lambda r: (du.revision_of(r), meta(r).get("creationTimestamp") or ""))
        for rs in cleanable[:diff]:
            st = rs.get("status") or {}
            if (int(st.get("replicas") or 0) != 0 or du.replicas_of(rs) != 0
                    or meta(rs).get("generation", 0) > int(st.get("observedGeneration") or 0)):
                continue
            reconciles.decide(f"delete old rs {meta(rs)['name']} (more than revisionHistoryLimit {limit} old ones)",
                              action="delete", replicaSet=meta(rs)["name"])
            try:
                await self.c.client.delete("replicasets", meta(rs)["name"], self.ns, uid=meta(rs).get("uid"))
            except errors.NotFound:
                pass

    # --- status ---

    def calculate_status(self, all_rss: list[Obj | None], new: Obj | None) -> Obj:
        d = self.d
        available = du.total_status(all_rss, "availableReplicas")
        total = du.total_spec_replicas(all_rss)
        status = copy.deepcopy(d.get("status") or {})
        status.update({
            "observedGeneration": meta(d).get("generation", 0),
            "replicas": du.total_status(all_rss, "replicas"),
            "updatedReplicas": du.total_status([new], "replicas"),
            "readyReplicas": du.total_status(all_rss, "readyReplicas"),
            "availableReplicas": available,
            "unavailableReplicas": max(0, total - available),
        })
        if available >= du.replicas_of(d) - du.max_unavailable(d):
            du.set_condition(status, du.new_condition("Available", "True", du.MIN_AVAILABLE,
                                                      "Deployment has minimum availability.", self.now()))
        else:
            du.set_condition(status, du.new_condition("Available", "False", du.MIN_UNAVAILABLE,
                                                      "Deployment does not have minimum availability.", self.now()))
        return status

    async def sync_deployment_status(self, all_rss: list[Obj | None], new: Obj | None) -> None:
        status = self.calculate_status(all_rss, new)
        if status != (self.d.get("status") or {}):
            await self.update_status(status)

    async def sync_status_only(self, rs_list: list[Obj]) -> None:
        new, old = await self.get_all_rss_and_sync_revision(rs_list, False)
        await self.sync_deployment_status([*old, new], new)

    async def sync_rollout_status(self, all_rss: list[Obj | None], new: Obj | None) -> float | None:
        """``syncRolloutStatus``: status plus the Progressing condition; returns when to look again."""
        d = self.d
        status = self.calculate_status(all_rss, new)
        deadline = self.progress_deadline()
        if deadline is None:
            du.remove_condition(status, "Progressing")
        current = du.get_condition(status, "Progressing")
        complete_already = (status.get("replicas") == status.get("updatedReplicas")
                            and current is not None and current.get("reason") == du.NEW_RS_AVAILABLE)
        what = f'ReplicaSet "{meta(new)["name"]}"' if new else f'Deployment "{meta(d)["name"]}"'
        if deadline is not None and not complete_already:
            if du.deployment_complete(d, status):
                du.set_condition(status, du.new_condition("Progressing", "True", du.NEW_RS_AVAILABLE,
                                                          f"{what} has successfully progressed.", self.now()))
            elif du.deployment_progressing(d, status):
                cond = du.new_condition("Progressing", "True", du.RS_UPDATED, f"{what} is progressing.", self.now())
                if current is not None:
                    if current.get("status") == "True":
                        cond["lastTransitionTime"] = current.get("lastTransitionTime")
                    du.remove_condition(status, "Progressing")
                du.set_condition(status, cond)
            elif self._timed_out(status, deadline):
                du.set_condition(status, du.new_condition("Progressing", "False", du.TIMED_OUT,
                                                          f"{what} has timed out progressing.", self.now()))
        if status != (d.get("status") or {}):
            await self.update_status(status)
        return self._requeue_stuck(status, deadline)

    def _timed_out(self, status: Obj, deadline: int) -> bool:
        cond = du.get_condition(status, "Progressing")
        if cond is None or cond.get("reason") == du.NEW_RS_AVAILABLE:
            return False
        if cond.get("reason") == du.TIMED_OUT:
            return True
        return parse_rfc3339(cond["lastUpdateTime"]) + deadline < self.c.clock.time()

    def _requeue_stuck(self, status: Obj, deadline: int | None) -> float | None:
        """``requeueStuckDeployment``: look again when the progress deadline would pass."""
        cond = du.get_condition(status, "Progressing")
        if deadline is None or cond is None or cond.get("reason") in (du.NEW_RS_AVAILABLE, du.TIMED_OUT):
            return None
        if du.deployment_complete(self.d, status):
            return None
        after = parse_rfc3339(cond["lastUpdateTime"]) + deadline - self.c.clock.time()
        return max(after, 0.0) + 1.0
