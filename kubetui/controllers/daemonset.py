"""The DaemonSet controller: one pod on every eligible node, rolled out node by node.

Upstream: ``pkg/controller/daemon/daemon_controller.go`` (syncDaemonSet, manage,
syncNodes, the node and pod event handlers) and ``update.go`` (constructHistory,
cleanupHistory). The decisions are pure functions in ``daemonset_util``
(``decide``, ``daemon_set_status``); this module reads the informer caches,
asks them, and carries out the answer: create a pod for a node (pinned by
node affinity on ``metadata.name``; the scheduler binds it), delete pods,
keep the ControllerRevisions that ``kubectl rollout history|undo`` read, and
write the status that ``kubectl get ds`` and ``rollout status`` show.
"""

from __future__ import annotations

import copy
from typing import Any

from kubetui.api import errors
from kubetui.client import reconciles
from kubetui.client.informer import CONTROLLER_INDEX, split_key
from kubetui.controllers import daemonset_util as dsu
from kubetui.controllers import history
from kubetui.controllers.base import Controller
from kubetui.controllers.expectations import Expectations
from kubetui.controllers.podowner import PodOwnerHandlers
from kubetui.controllers.util import (
    update_status_retrying_once,
    claim_children, is_deleting, labels_of, meta, selector_of,
)

Obj = dict[str, Any]

# failedPodsBackoff: 1 s, doubling to 15 min, per DaemonSet and node.
FAILED_POD_BACKOFF_INITIAL = 1.0
FAILED_POD_BACKOFF_MAX = 15 * 60.0


class DaemonSetController(PodOwnerHandlers, Controller):
    owner_kind = "DaemonSet"
    name = "daemonset"
    kind = "DaemonSet"
    component = "daemonset-controller"
    workers = 2

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.ds_informer = self.factory.informer("daemonsets")
        self.pod_informer = self.factory.informer("pods")
        self.node_informer = self.factory.informer("nodes")
        self.cr_informer = self.factory.informer("controllerrevisions")
        self.expectations = Expectations(self.clock)
        # (DaemonSet uid, node) -> (when a failed pod there may next be deleted, the current delay)
        self.failed_backoff: dict[tuple[str, str], tuple[float, float]] = {}
        self.owner_informer = self.ds_informer
        self.ds_informer.add_handler(self.enqueue, self._owner_updated, self._owner_deleted)
        self.pod_informer.add_handler(self._pod_added, self._pod_updated, self._pod_deleted)
        self.node_informer.add_handler(self._node_added, self._node_updated)

    # --- handlers: compute keys, enqueue ---

    def _enqueue_all(self) -> None:
        for ds in self.ds_informer.list():
            self.enqueue(ds)

    def _node_added(self, node: Obj) -> None:
        self._enqueue_all()

    def _node_updated(self, old: Obj, new: Obj) -> None:
        # Only what NodeShouldRunDaemonPod reads matters: labels, taints, and the node's name.
        if labels_of(old) != labels_of(new) or (old.get("spec") or {}) != (new.get("spec") or {}):
            self._enqueue_all()

    # --- reconcile ---

    def _pods_by_node(self, ds: Obj, pods: list[Obj]) -> dict[str, list[Obj]]:
        """``getNodesToDaemonPods``: the DaemonSet's pods by the node they are (or will be) on."""
        out: dict[str, list[Obj]] = {}
        for pod in pods:
            phase = (pod.get("status") or {}).get("phase")
            if is_deleting(pod) and phase in ("Failed", "Succeeded"):
                continue
            node = dsu.target_node(pod)
            if node:
                out.setdefault(node, []).append(pod)
        return out

    async def reconcile(self, key: Any) -> float | None:
        ns, name = split_key(key)
        ds = self.ds_informer.get(key)
        if ds is None:
            self.expectations.delete(key)
            return None
        # A backoff entry expires once its delay has passed twice (upstream's GC of the backoff map).
        self.failed_backoff = {k: v for k, v in self.failed_backoff.items()
                               if v[0] + v[1] > self.clock.time()}
        candidates = self.pod_informer.list(ns)
        pods = await claim_children(self.client, "pods", ds, "apps/v1", "DaemonSet", selector_of(ds), candidates)
        nodes = sorted(self.node_informer.list(), key=lambda n: meta(n)["name"])
        pods_by_node = self._pods_by_node(ds, pods)
        now = self.clock.time()
        eligible = dsu.eligibility(ds, nodes)
        hash_ = dsu.template_hash(ds)
        again: float | None = None
        if not is_deleting(ds):
            if not await self._construct_history(ds):
                return 0.1    # a name collision bumped collisionCount: look again with the new hash
            if self.expectations.satisfied(key):
                uid = meta(ds).get("uid", "")
                in_backoff = {node for (u, node), (until, _) in self.failed_backoff.items()
                              if u == uid and until > now}
                actions = dsu.decide(ds, nodes, pods_by_node, now, eligible, hash_, in_backoff)
                if (rec := reconciles.current()) is not None:
                    _record(rec, ds, nodes, eligible, pods_by_node, actions)
                for node_name, pod_name in actions.failed_on:
                    _, delay = self.failed_backoff.get((uid, node_name), (0.0, FAILED_POD_BACKOFF_INITIAL / 2))
                    delay = min(delay * 2, FAILED_POD_BACKOFF_MAX)
                    self.failed_backoff[(uid, node_name)] = (now + delay, delay)
                    self.event(ds, "Warning", "FailedDaemonPod", f"Found failed daemon pod {ns}/{pod_name} on node "
                                                                  f"{node_name}, will try to kill it")
                if actions.backing_off:
                    again = min(self.failed_backoff[(uid, n)][0] for n in actions.backing_off) - now
                if actions:
                    await self._sync_nodes(key, ds, actions)
                await self._cleanup_history(ds, pods)
        status = dsu.daemon_set_status(ds, nodes, pods_by_node, now, eligible, hash_)
        if status != (ds.get("status") or {}):
            await self._update_status(ds, status)
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        if min_ready and status["numberReady"] != status["numberAvailable"]:
            again = min(again, float(min_ready)) if again is not None else float(min_ready)
        return again

    async def _sync_nodes(self, key: str, ds: Obj, actions: dsu.DaemonSetActions) -> None:
        """``syncNodes``: create the pods (the scheduler binds them), delete the others."""
        ns = meta(ds).get("namespace")
        hash_ = dsu.template_hash(ds)
        deletions = list(dict.fromkeys(n for n, _ in actions.delete))
        self.expectations.expect_creations(key, len(actions.create_on))
        self.expectations.expect_deletions(key, [f"{ns}/{n}" for n in deletions])
        failure: Exception | None = None
        for node_name in actions.create_on:
            try:
                pod = await self.client.create("pods", dsu.daemon_pod(ds, node_name, hash_), ns)
            except errors.StatusError as e:
                self.expectations.creation_observed(key)
                failure = failure or e
                self.event(ds, "Warning", "FailedCreate", f"Error creating: {e}")
                continue
            self.event(ds, "Normal", "SuccessfulCreate", f"Created pod: {meta(pod)['name']}")
        for pod_name in deletions:
            try:
                await self.client.delete("pods", pod_name, ns)
            except errors.NotFound:
                self.expectations.deletion_observed(key, f"{ns}/{pod_name}")
                continue
            self.event(ds, "Normal", "SuccessfulDelete", f"Deleted pod: {pod_name}")
        if failure is not None:
            raise failure

    async def _update_status(self, ds: Obj, status: Obj) -> None:
        await update_status_retrying_once(self.client, "daemonsets", ds, status, missing_ok=True)

    # --- history ---

    def _revisions(self, ds: Obj) -> list[Obj]:
        return [cr for cr in self.cr_informer.by_index(CONTROLLER_INDEX, meta(ds).get("uid", ""))
                if not is_deleting(cr)]

    async def _construct_history(self, ds: Obj) -> bool:
        """``constructHistory``: make sure the current template has a revision, numbered newest.

        False when the revision's name was taken by another template (a hash
        collision): collisionCount was bumped, and the sync must start again.
        """
        ns = meta(ds).get("namespace")
        hash_ = dsu.template_hash(ds)
        revisions = self._revisions(ds)
        top = history.max_revision(revisions)
        current = [cr for cr in revisions
                   if (labels_of(cr).get(history.REVISION_HASH_LABEL) == hash_)
                   or history.same_data(cr, {"data": history.template_patch(ds)})]
        if current:
            cur = history.sort_revisions(current)[-1]
            if int(cur.get("revision") or 0) < top:
                body = copy.deepcopy(cur)
                body["revision"] = top + 1
                try:
                    await self.client.update("controllerrevisions", body, ns)
                except (errors.NotFound, errors.Conflict):
                    pass
            return True
        cr = history.new_revision(ds, "apps/v1", "DaemonSet", top + 1, None, hash_=hash_,
                                  hash_label=history.REVISION_HASH_LABEL)
        cr["metadata"]["name"] = history.revision_name(meta(ds)["name"], hash_)
        try:
            await self.client.create("controllerrevisions", cr, ns)
        except errors.AlreadyExists:
            existing = await self.client.get("controllerrevisions", cr["metadata"]["name"], ns)
            if not history.same_data(existing, cr):
                # A hash collision: bump collisionCount so the next sync picks another name.
                status = dict(ds.get("status") or {})
                status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
                await self._update_status(ds, status)
                return False
        return True

    async def _cleanup_history(self, ds: Obj, pods: list[Obj]) -> None:
        """``cleanupHistory``: keep revisionHistoryLimit old revisions besides those pods still use."""
        limit = int((ds.get("spec") or {}).get("revisionHistoryLimit", 10))
        hash_ = dsu.template_hash(ds)
        live_hashes = {labels_of(p).get(history.REVISION_HASH_LABEL) for p in pods} | {hash_}
        revisions = self._revisions(ds)
        live = {meta(cr)["name"] for cr in revisions
                if labels_of(cr).get(history.REVISION_HASH_LABEL) in live_hashes}
        for cr in history.revisions_to_prune(revisions, live, limit):
            try:
                await self.client.delete("controllerrevisions", meta(cr)["name"], meta(cr).get("namespace"))
            except errors.NotFound:
                pass


def _record(rec: Any, ds: Obj, nodes: list[Obj], eligible: Any, pods_by_node: dict[str, list[Obj]],
            actions: dsu.DaemonSetActions) -> None:
    """The reconcile log's words: ``want a pod on 3 of 4 nodes, have 2`` and ``create a pod on node-3``."""
    want = sum(1 for n in nodes if eligible.get(meta(n)["name"], (False, False))[0])
    have = sum(1 for pods in pods_by_node.values() if pods)
    rec.observe(f"want a pod on {want} of {len(nodes)} nodes, have pods on {have}")
    for node in actions.create_on:
        rec.decide(f"create a pod on {node}", action="create", node=node)
    for pod, why in actions.delete:
        rec.decide(f"delete pod {pod}: {why}", action="delete", pod=pod)
    for node in actions.backing_off:
        rec.decide(f"wait: the failed pod on {node} backs off", action="wait", node=node)
