"""The Deployment controller: roll a pod template out through ReplicaSets.

Upstream: ``pkg/controller/deployment/`` (``deployment_controller.go``
syncDeployment, ``sync.go`` getNewReplicaSet/scale/cleanup/status,
``rolling.go``, ``recreate.go``, ``progress.go``). A Deployment owns one
ReplicaSet per distinct pod template (named ``<deploy>-<pod-template-hash>``).
A rollout creates the new one and moves replicas over within ``maxSurge`` /
``maxUnavailable``; ``rollout undo`` puts an old template back, which this
controller recognises (semantic template equality) so the old ReplicaSet is
reused with its revision bumped. Revisions, conditions and status are what
``kubectl rollout status|history|undo`` read.
"""

from __future__ import annotations

import copy
from typing import Any

from kubetui.client import reconciles
from kubetui.client.informer import CONTROLLER_INDEX, split_key
from kubetui.controllers import deployment_util as du
from kubetui.controllers.base import Controller
from kubetui.controllers.deployment_sync import DeploymentSync
from kubetui.controllers.util import (
    claim_children, controller_ref, labels_of, meta, resolve_controller, selector_of,
)

Obj = dict[str, Any]


class DeploymentController(Controller):
    name = "deployment"
    kind = "Deployment"
    component = "deployment-controller"
    workers = 2

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.d_informer = self.factory.informer("deployments")
        self.rs_informer = self.factory.informer("replicasets")
        self.pod_informer = self.factory.informer("pods")
        self.d_informer.add_handler(self.enqueue, lambda old, new: self.enqueue(new), self.enqueue)
        self.rs_informer.add_handler(self._rs_changed, lambda old, new: self._rs_updated(old, new),
                                     self._rs_changed)
        self.pod_informer.add_handler(on_delete=self._pod_deleted)

    # --- handlers ---

    def _owner_key(self, rs: Obj) -> str | None:
        ns = meta(rs).get("namespace")
        d = resolve_controller(controller_ref(rs), self.d_informer, ns, "Deployment")
        return f"{ns}/{meta(d)['name']}" if d else None

    def _rs_changed(self, rs: Obj) -> None:
        key = self._owner_key(rs)
        if key:
            self.queue.add(key)
        elif controller_ref(rs) is None:
            for d in self.d_informer.list(meta(rs).get("namespace")):
                if selector_of(d).matches(labels_of(rs)):
                    self.enqueue(d)

    def _rs_updated(self, old: Obj, new: Obj) -> None:
        old_key = self._owner_key(old)
        if old_key and old_key != self._owner_key(new):
            self.queue.add(old_key)
        self._rs_changed(new)

    def _pod_deleted(self, pod: Obj) -> None:
        """Recreate waits for old pods to be gone, so a pod deletion may unblock it."""
        ns = meta(pod).get("namespace")
        rs = resolve_controller(controller_ref(pod), self.rs_informer, ns, "ReplicaSet")
        if rs is not None:
            key = self._owner_key(rs)
            if key:
                self.queue.add(key)

    # --- reconcile ---

    async def reconcile(self, key: Any) -> float | None:
        ns, name = split_key(key)
        cached = self.d_informer.get(key)
        if cached is None:
            return None
        d = copy.deepcopy(cached)
        sync = DeploymentSync(self, d)
        if not (d.get("spec") or {}).get("selector") or selector_of(d).empty():
            # An empty selector would match every pod in the namespace: refuse, as upstream.
            self.event(d, "Warning", "SelectingAll",
                       "This deployment is selecting all pods. A non-empty selector is required.")
            if (d.get("status") or {}).get("observedGeneration") != meta(d).get("generation"):
                d.setdefault("status", {})["observedGeneration"] = meta(d).get("generation")
                await sync.update_status(d["status"])
            return None
        rs_list = await self._replica_sets_for(d)
        if (rec := reconciles.current()) is not None:
            self._observe(rec, d, rs_list, sync)
        if meta(d).get("deletionTimestamp"):
            await sync.sync_status_only(rs_list)
            return None
        await sync.check_paused_conditions()
        if (d.get("spec") or {}).get("paused"):
            await sync.sync_scale_only(rs_list)
            return None
        if await sync.is_scaling_event(rs_list):
            await sync.sync_scale_only(rs_list)
            return None
        if du.is_rolling(d):
            return await sync.rollout_rolling(rs_list)
        return await sync.rollout_recreate(rs_list, self._pods_by_rs(d, rs_list))

    def _observe(self, rec: Any, d: Obj, rs_list: list[Obj], sync: DeploymentSync) -> None:
        """The reconcile log's "observed": ``want 5, have 4 pods (1 terminating); rs web-7d9f (new) 2 of 2 ...``."""
        want = du.replicas_of(d)
        pods = [p for pods in self._pods_by_rs(d, rs_list).values() for p in pods]
        terminating = sum(1 for p in pods if meta(p).get("deletionTimestamp"))
        line = f"want {want}, have {len(pods) - terminating} pods" + (f" ({terminating} terminating)" if terminating else "")
        if du.is_rolling(d):
            line += f"; maxSurge {du.max_surge(d)}, maxUnavailable {du.max_unavailable(d)}"
        rec.observe(line)
        new = sync.find_new_rs(rs_list)
        if not rs_list:
            rec.observe("no ReplicaSet yet")
        for rs in sorted(rs_list, key=lambda r: meta(r).get("creationTimestamp") or ""):
            st = rs.get("status") or {}
            rec.observe(f"rs {meta(rs)['name']} ({'new' if rs is new else 'old'}): {du.replicas_of(rs)} wanted, "
                        f"{int(st.get('replicas') or 0)} pods, {int(st.get('availableReplicas') or 0)} available")

    async def _replica_sets_for(self, d: Obj) -> list[Obj]:
        """This Deployment's ReplicaSets: owned ones that match, plus adopted orphans."""
        ns = meta(d).get("namespace")
        candidates = self.rs_informer.list(ns)
        claimed = await claim_children(self.client, "replicasets", d, "apps/v1", "Deployment",
                                       selector_of(d), candidates)
        return [copy.deepcopy(rs) for rs in claimed]

    def _pods_by_rs(self, d: Obj, rs_list: list[Obj]) -> dict[str, list[Obj]]:
        out: dict[str, list[Obj]] = {}
        for rs in rs_list:
            uid = meta(rs).get("uid", "")
            out[uid] = list(self.pod_informer.by_index(CONTROLLER_INDEX, uid))
        return out

