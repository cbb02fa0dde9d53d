"""The ReplicaSet controller: keep ``spec.replicas`` pods matching the selector alive.

Upstream: ``pkg/controller/replicaset/replica_set.go`` (syncReplicaSet,
manageReplicas, slowStartBatch), ``replica_set_utils.go`` (status) and
``pkg/controller/controller_utils.go`` (the deletion ranking). Pods are found
by label selector and ownerReference: orphans that match are adopted, owned
pods that stop matching are released. Too few pods -> create from the
template (``generateName: <rs>-``); too many -> delete the "cheapest" ones.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from kubetui.api import errors
from kubetui.client import reconciles
from kubetui.clock import parse_rfc3339
from kubetui.client.informer import CONTROLLER_INDEX, split_key
from kubetui.controllers.base import Controller
from kubetui.controllers.expectations import Expectations
from kubetui.controllers.util import (
    update_status_retrying_once,
    claim_children, controller_ref, is_deleting, is_pod_active, is_pod_available, is_pod_ready,
    labels_of, meta, new_controller_ref, pod_ready_since, resolve_controller, selector_of,
)

Obj = dict[str, Any]

# Upstream's burstReplicas: at most this many creations/deletions per sync.
BURST_REPLICAS = 500
# slowStartBatch starts with this many creations and doubles while they succeed.
SLOW_START_INITIAL_BATCH = 1
DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"

_PHASE_ORDER = {"Pending": 0, "Unknown": 1, "Running": 2}


def _log2_rank(since: float | None, now: float) -> int:
    """``logarithmicRankDiff``'s bucket: how many powers of two (ns) a pod has been around."""
    if since is None:
        return -1
    d = (now - since) * 1e9
    return int(math.log2(d)) if d > 0 else -1


def deletion_sort_key(pod: Obj, now: float, rank: int = 0) -> tuple:
    """Sort key: pods that sort FIRST are deleted first when scaling down.

    Upstream's ``ActivePodsWithRanks.Less``, in order:
    1. unscheduled < scheduled
    2. Pending < Unknown < Running
    3. not ready < ready
    4. lower ``controller.kubernetes.io/pod-deletion-cost`` < higher
    5. doubled up (more pods of the same owner on its node, ``rank``) < not
    6. ready for less time < ready for longer (in log2 buckets: LogarithmicScaleDown)
    7. more container restarts < fewer
    8. newer < older (creation time, log2 buckets)
    """
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    try:
        cost = int((meta(pod).get("annotations") or {}).get(DELETION_COST_ANNOTATION, 0))
    except ValueError:
        cost = 0
    ready = is_pod_ready(pod)
    restarts = sum(int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or [])
    created = meta(pod).get("creationTimestamp")
    created_at = parse_rfc3339(created) if created else None
    return (
        1 if spec.get("nodeName") else 0,
        _PHASE_ORDER.get(status.get("phase") or "Pending", 0),
        1 if ready else 0,
        cost,
        -rank,
        _log2_rank(pod_ready_since(pod), now) if ready else -1,
        -restarts,
        _log2_rank(created_at, now),
    )


def pods_to_delete(pods: list[Obj], count: int, now: float, related: list[Obj] | None = None) -> list[Obj]:
    """The ``count`` pods to delete, ranked as upstream (``getPodsToDelete``).

    ``related`` are the pods of the same owner family (for a Deployment: all its
    ReplicaSets' pods); a pod's rank is how many of them share its node.
    """
    if count <= 0:
        return []
    per_node: dict[str, int] = {}
    for p in related if related is not None else pods:
        node = (p.get("spec") or {}).get("nodeName")
        if node:
            per_node[node] = per_node.get(node, 0) + 1
    def key(p: Obj) -> tuple:
        node = (p.get("spec") or {}).get("nodeName")
        return deletion_sort_key(p, now, per_node.get(node, 0) if node else 0)
    return sorted(pods, key=key)[:count]


def replica_set_status(rs: Obj, pods: list[Obj], now: float) -> Obj:
    """``calculateStatus``: counts of the active pods the ReplicaSet owns."""
    template_labels = (((rs.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
    min_ready = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
    fully_labeled = ready = available = 0
    for p in pods:
        labels = labels_of(p)
        if all(labels.get(k) == v for k, v in template_labels.items()):
            fully_labeled += 1
        if is_pod_ready(p):
            ready += 1
            if is_pod_available(p, min_ready, now):
                available += 1
    status = dict(rs.get("status") or {})
    status.update({"replicas": len(pods), "fullyLabeledReplicas": fully_labeled,
                   "readyReplicas": ready, "availableReplicas": available,
                   "observedGeneration": meta(rs).get("generation", 0)})
    return status


def pod_from_template(rs: Obj, api_version: str = "apps/v1", kind: str = "ReplicaSet") -> Obj:
    """The pod a ReplicaSet creates (``GetPodFromTemplate``)."""
    template = copy.deepcopy((rs.get("spec") or {}).get("template") or {})
    tmeta = template.get("metadata") or {}
    metadata: Obj = {"generateName": f"{meta(rs)['name']}-", "namespace": meta(rs).get("namespace"),
                     "labels": dict(tmeta.get("labels") or {}),
                     "ownerReferences": [new_controller_ref(rs, api_version, kind)]}
    if tmeta.get("annotations"):
        metadata["annotations"] = dict(tmeta["annotations"])
    if tmeta.get("finalizers"):
        metadata["finalizers"] = list(tmeta["finalizers"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template.get("spec") or {}}


class ReplicaSetController(Controller):
    name = "replicaset"
    kind = "ReplicaSet"
    component = "replicaset-controller"
    workers = 2
    #: the kind this controller manages; the ReplicationController manager reuses all of this class
    #: with its own (upstream's ``NewBaseController(rsInformer, podInformer, ..., GroupVersionKind)``).
    resource = "replicasets"
    owner_api_version = "apps/v1"
    owner_kind = "ReplicaSet"

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.rs_informer = self.factory.informer(self.resource)
        self.pod_informer = self.factory.informer("pods")
        self.expectations = Expectations(self.clock)
        self.rs_informer.add_handler(self.enqueue, self._rs_updated, self._rs_deleted)
        self.pod_informer.add_handler(self._pod_added, self._pod_updated, self._pod_deleted)

    def selector(self, rs: Obj) -> Any:
        """The owner's pod selector (a LabelSelector for a ReplicaSet)."""
        return selector_of(rs)

    # --- handlers: compute keys, enqueue ---

    def _rs_updated(self, old: Obj, new: Obj) -> None:
        self.enqueue(new)

    def _rs_deleted(self, rs: Obj) -> None:
        key = f"{meta(rs).get('namespace')}/{meta(rs).get('name')}"
        self.expectations.delete(key)
        self.queue.add(key)

    def _owner_key(self, pod: Obj) -> str | None:
        ns = meta(pod).get("namespace")
        owner = resolve_controller(controller_ref(pod), self.rs_informer, ns, self.owner_kind)
        return f"{ns}/{meta(owner)['name']}" if owner else None

    def _enqueue_matching(self, pod: Obj) -> None:
        """An orphan pod: wake every ReplicaSet whose selector matches (one may adopt it)."""
        for rs in self.rs_informer.list(meta(pod).get("namespace")):
            if self.selector(rs).matches(labels_of(pod)):
                self.enqueue(rs)

    def _pod_added(self, pod: Obj) -> None:
        if is_deleting(pod):
            self._pod_deleted(pod)
            return
        key = self._owner_key(pod)
        if key:
            self.expectations.creation_observed(key)
            self.queue.add(key)
        elif controller_ref(pod) is None:
            self._enqueue_matching(pod)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if is_deleting(new) and not is_deleting(old):
            self._pod_deleted(new)
            return
        key = self._owner_key(new)
        old_key = self._owner_key(old)
        if old_key and old_key != key:
            self.queue.add(old_key)
        if key:
            self.queue.add(key)
            # A pod that just became ready becomes *available* minReadySeconds later.
            if is_pod_ready(new) and not is_pod_ready(old):
                rs = self.rs_informer.get(key)
                mrs = int(((rs or {}).get("spec") or {}).get("minReadySeconds") or 0)
                if mrs:
                    self.queue.add_after(key, mrs + 1)
        elif controller_ref(new) is None:
            # Released, or its labels changed: a ReplicaSet may want to adopt it now.
            if labels_of(old) != labels_of(new) or controller_ref(old) is not None:
                self._enqueue_matching(new)

    def _pod_deleted(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key:
            self.expectations.deletion_observed(key, f"{meta(pod).get('namespace')}/{meta(pod).get('name')}")
            self.queue.add(key)

    # --- reconcile ---

    async def reconcile(self, key: Any) -> float | None:
        ns, name = split_key(key)
        rs = self.rs_informer.get(key)
        if rs is None:
            self.expectations.delete(key)
            return None
        satisfied = self.expectations.satisfied(key)
        selector = self.selector(rs)
        candidates = [p for p in self.pod_informer.list(ns) if is_pod_active(p)]
        pods = await claim_children(self.client, "pods", rs, self.owner_api_version, self.owner_kind, selector,
                                    candidates)
        if (rec := reconciles.current()) is not None:
            self._observe(rec, key, rs, pods, satisfied)
        if satisfied and not is_deleting(rs):
            await self._manage_replicas(key, rs, pods)
        # Ready times are the kubelets' (wall clock), not the time dial's (which falls behind while held)
        now = self.clock.wall_time()
        status = replica_set_status(rs, pods, now)
        if status != (rs.get("status") or {}):
            try:
                await self._update_status(rs, status)
            except errors.NotFound:
                return None
        mrs = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
        if mrs and status["readyReplicas"] != status["availableReplicas"]:
            return float(mrs)
        return None

    def _observe(self, rec: Any, key: str, rs: Obj, pods: list[Obj], satisfied: bool) -> None:
        """The reconcile log's "observed": ``want 3, have 2 pods (1 not ready); waiting to see 1 creation``."""
        reconciles.set_owner_of(rec, rs)
        want = int((rs.get("spec") or {}).get("replicas", 1) or 0)
        not_ready = sum(1 for p in pods if not is_pod_ready(p))
        terminating = sum(1 for p in self.pod_informer.by_index(CONTROLLER_INDEX, meta(rs).get("uid", ""))
                          if is_deleting(p))
        text = f"want {want}, have {len(pods)} pods"
        extra = [f"{n} {what}" for n, what in ((not_ready, "not ready"), (terminating, "terminating")) if n]
        rec.observe(text + (f" ({', '.join(extra)})" if extra else ""))
        if not satisfied:
            adds, deletes = self.expectations.pending(key)
            waiting = [f"{n} {what}{'s' if n > 1 else ''}" for n, what in ((adds, "creation"), (deletes, "deletion"))
                       if n]
            rec.observe(f"waiting to see {' and '.join(waiting)} it made: no action until then (expectations)")

    async def _update_status(self, rs: Obj, status: Obj) -> None:
        """``updateReplicaSetStatus``: on a conflict, fetch the latest object and try once more.

        The Deployment controller writes the same ReplicaSet (its ``spec.replicas``)
        while this one writes its status, so a stale resourceVersion is routine;
        upstream retries once (``statusUpdateRetries``) before requeueing. The
        status keeps the observedGeneration of the ReplicaSet we acted on.
        """
        await update_status_retrying_once(self.client, self.resource, rs, status)

    async def _manage_replicas(self, key: str, rs: Obj, pods: list[Obj]) -> None:
        want = int((rs.get("spec") or {}).get("replicas", 1) or 0)
        diff = len(pods) - want
        ns = meta(rs).get("namespace")
        if diff < 0:
            count = min(-diff, BURST_REPLICAS)
            reconciles.decide(f"create {count} pod{'s' if count > 1 else ''}", action="create", count=count)
            self.expectations.expect_creations(key, count)
            created, failure = await self._slow_start_create(rs, count)
            for _ in range(count - created):
                self.expectations.creation_observed(key)  # those will never arrive
            if failure is not None:
                raise failure
        elif diff > 0:
            count = min(diff, BURST_REPLICAS)
            related = self._related_pods(rs, pods)
            victims = pods_to_delete(pods, count, self.clock.wall_time(), related)
            reconciles.decide(f"delete {count} pod{'s' if count > 1 else ''}: "
                              f"{', '.join(meta(p)['name'] for p in victims)} (ranked as upstream's getPodsToDelete)",
                              action="delete", count=count)
            self.expectations.expect_deletions(key, [f"{ns}/{meta(p)['name']}" for p in victims])
            for pod in victims:
                pod_name = meta(pod)["name"]
                try:
                    await self.client.delete("pods", pod_name, ns)
                except errors.NotFound:
                    self.expectations.deletion_observed(key, f"{ns}/{pod_name}")
                    continue
                except Exception:
                    self.expectations.deletion_observed(key, f"{ns}/{pod_name}")
                    raise
                self.event(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {pod_name}")

    def _related_pods(self, rs: Obj, pods: list[Obj]) -> list[Obj]:
        """Pods of this ReplicaSet's siblings (same controller owner), for the doubled-up rank."""
        ref = controller_ref(rs)
        if not ref:
            return pods
        related = list(pods)
        for sibling in self.rs_informer.by_index(CONTROLLER_INDEX, ref.get("uid", "")):
            if meta(sibling).get("uid") != meta(rs).get("uid"):
                related += [p for p in self.pod_informer.by_index(CONTROLLER_INDEX, meta(sibling).get("uid", ""))
                            if is_pod_active(p)]
        return related

    async def _slow_start_create(self, rs: Obj, count: int) -> tuple[int, Exception | None]:
        """Create in batches of 1, 2, 4, ... and stop at the first failing batch (slowStartBatch)."""
        created = 0
        batch = SLOW_START_INITIAL_BATCH
        ns = meta(rs).get("namespace")
        while created < count:
            n = min(batch, count - created)
            failures: list[Exception] = []
            for _ in range(n):
                try:
                    pod = await self.client.create("pods", pod_from_template(rs, self.owner_api_version,
                                                                             self.owner_kind), ns)
                except errors.StatusError as e:
                    failures.append(e)
                    continue
                created += 1
                self.event(rs, "Normal", "SuccessfulCreate", f"Created pod: {meta(pod)['name']}")
            if failures:
                # Quota, admission or a missing namespace: trying more now would fail the same way.
                self.event(rs, "Warning", "FailedCreate", f"Error creating: {failures[0]}")
                return created, failures[0]
            batch *= 2
        return created, None

