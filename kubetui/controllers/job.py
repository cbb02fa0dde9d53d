"""The Job controller: run pods until ``completions`` of them succeed, or give up as upstream does.

Upstream: ``pkg/controller/job/job_controller.go``. Pods carry the
``batch.kubernetes.io/job-tracking`` finalizer, so a finished pod cannot
vanish before it is counted. Counting is a three-step protocol that never
counts a pod twice, even if the controller dies half-way:

1. a finished pod's uid goes into ``status.uncountedTerminatedPods`` (status write);
2. the pod's finalizer is removed (it may now be garbage collected);
3. the uids move into ``status.succeeded`` / ``status.failed`` (status write).

Then the decision (``job_util``, pure): fail (pod failure policy, backoffLimit,
activeDeadlineSeconds: a ``FailureTarget`` condition first, ``Failed`` once no
pod runs), succeed (``SuccessCriteriaMet``, then ``Complete`` with
completionTime), suspend (delete the running pods), or create/delete pods
toward ``parallelism``, waiting an exponential backoff after failures.
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass
from typing import Any

from kubetui.api import errors
from kubetui.client.base import MERGE_PATCH
from kubetui.client import reconciles
from kubetui.client.informer import CONTROLLER_INDEX, split_key
from kubetui.clock import parse_rfc3339, rfc3339
from kubetui.controllers import job_util as ju
from kubetui.controllers.base import Controller
from kubetui.controllers.expectations import Expectations
from kubetui.controllers.util import claim_children, controller_ref, is_deleting, meta, selector_of

Obj = dict[str, Any]
ORPHAN = "orphan-pod:"
#: ``spec.managedBy``: Jobs naming another controller are left to it (upstream's JobManagedBy)
JOB_CONTROLLER_NAME = "kubernetes.io/job-controller"
UNOWNED_INDEX = "unowned-by-namespace"


def index_unowned(pod: Obj) -> list[str]:
    """Pods no controller owns, by namespace: the only ones a Job could adopt."""
    return [] if controller_ref(pod) else [meta(pod).get("namespace") or ""]


@dataclass
class BackoffRecord:
    """``backoffRecord``: failures since the last success and when the last one happened."""

    failures: int = 0
    last_failure: float = 0.0


class JobController(Controller):
    name = "job"
    kind = "Job"
    component = "job-controller"
    workers = 2

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.job_informer = self.factory.informer("jobs")
        self.pod_informer = self.factory.informer("pods")
        self.pod_informer.add_indexers({UNOWNED_INDEX: index_unowned})
        self.expectations = Expectations(self.clock)
        self.backoff: dict[str, BackoffRecord] = {}
        # uids whose finalizer we removed, until the informer shows it gone (upstream's
        # finalizerExpectations): their finish is already in the status we wrote.
        self.counted: set[str] = set()
        self._latest: dict[str, Obj] = {}
        self.job_informer.add_handler(self.enqueue, self._job_updated, self._job_deleted)
        self.pod_informer.add_handler(self._pod_added, self._pod_updated, self._pod_deleted)

    # --- handlers -------------------------------------------------------------------

    def _job_updated(self, old: Obj, new: Obj) -> None:
        """A spec change syncs at once; a status change (our own writes, mostly) is batched (``updateJob``)."""
        if meta(old).get("generation") != meta(new).get("generation") or is_deleting(new) != is_deleting(old):
            self.enqueue(new)
        else:
            self.queue.add_after(f"{meta(new).get('namespace')}/{meta(new).get('name')}",
                                 self.timings.job_pod_update_batch_seconds)

    def _job_deleted(self, job: Obj) -> None:
        key = f"{meta(job).get('namespace')}/{meta(job).get('name')}"
        self.expectations.delete(key)
        self.backoff.pop(key, None)
        self._latest.pop(key, None)

    def _owner_key(self, pod: Obj) -> str | None:
        ref = controller_ref(pod)
        if not ref or ref.get("kind") != "Job" or ref.get("apiVersion", "").split("/")[0] != "batch":
            return None
        return f"{meta(pod).get('namespace')}/{ref.get('name')}"

    def _route(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is None:
            return
        job = self.job_informer.get(key)
        if job is None or meta(job).get("uid") != (controller_ref(pod) or {}).get("uid"):
            if ju.TRACKING_FINALIZER in (meta(pod).get("finalizers") or []):
                self.queue.add(f"{ORPHAN}{meta(pod).get('namespace')}/{meta(pod).get('name')}")
            return
        # Batched, as upstream's syncJobBatchPeriod: a wave of pod changes is one sync.
        self.queue.add_after(key, self.timings.job_pod_update_batch_seconds)

    def _pod_added(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key:
            self.expectations.creation_observed(key)
        self._route(pod)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if ju.TRACKING_FINALIZER not in (meta(new).get("finalizers") or []):
            self.counted.discard(meta(new).get("uid"))
        if is_deleting(new) and not is_deleting(old):
            key = self._owner_key(new)
            if key:
                self.expectations.deletion_observed(key, f"{meta(new).get('namespace')}/{meta(new).get('name')}")
        self._route(new)

    def _pod_deleted(self, pod: Obj) -> None:
        self.counted.discard(meta(pod).get("uid"))
        key = self._owner_key(pod)
        if key:
            self.expectations.deletion_observed(key, f"{meta(pod).get('namespace')}/{meta(pod).get('name')}")
            self.queue.add_after(key, self.timings.job_pod_update_batch_seconds)

    # --- reconcile --------------------------------------------------------------------

    def _current(self, key: str) -> Obj | None:
        """The informer's Job, or the one our last status write returned if that is newer."""
        cached, latest = self.job_informer.get(key), self._latest.get(key)
        if cached is None:
            return None
        if latest and meta(latest).get("uid") == meta(cached).get("uid") and \
                int(meta(latest).get("resourceVersion") or 0) > int(meta(cached).get("resourceVersion") or 0):
            return latest
        return cached

    def record_object(self, key: Any) -> tuple[str | None, str | None, str]:
        if isinstance(key, str) and key.startswith(ORPHAN):
            namespace, _, name = key[len(ORPHAN):].rpartition("/")
            return "Pod", namespace or None, name   # an orphan pod whose finalizer it removes
        return super().record_object(key)

    async def reconcile(self, key: Any) -> float | None:
        if key.startswith(ORPHAN):
            await self._release_orphan(key[len(ORPHAN):])
            return None
        job = self._current(key)
        if job is None or ju.spec(job).get("managedBy") not in (None, JOB_CONTROLLER_NAME):
            return None
        ns, _ = split_key(key)
        # Read the expectations before the cache: a pod created since must not be missed by
        # what we count now (upstream checks SatisfiedExpectations first, then lists pods).
        satisfied = self.expectations.satisfied(key)
        # Its own pods by the controller index, and the namespace's orphans (adoption), not every pod.
        candidates = (self.pod_informer.by_index(CONTROLLER_INDEX, meta(job).get("uid", ""))
                      + self.pod_informer.by_index(UNOWNED_INDEX, ns or ""))
        pods = await claim_children(self.client, "pods", job, "batch/v1", "Job", selector_of(job), candidates)
        if is_deleting(job) or ju.is_finished(job):
            # Nothing more to run: let every pod go (upstream removes finalizers of a finished Job's pods).
            for pod in pods:
                if ju.TRACKING_FINALIZER in (meta(pod).get("finalizers") or []) and \
                        (ju.finished_as(pod) or is_deleting(job)):
                    await self._remove_finalizer(pod)
            return None
        return await self._sync(key, job, pods, satisfied)

    async def _sync(self, key: str, job: Obj, pods: list[Obj], satisfied: bool) -> float | None:
        now = self.clock.time()
        ns = meta(job).get("namespace")
        t = ju.tally(job, pods, self.counted)
        if (rec := reconciles.current()) is not None:
            comp = ju.spec(job).get("completions")
            rec.observe(f"{len(t.active)} active, {t.succeeded} succeeded, {t.failed} failed"
                        + (f" of {comp} completions" if comp is not None else "")
                        + (f"; {t.terminating} terminating" if t.terminating else "")
                        + ("" if satisfied else "; waiting to see the pods it created (expectations)"))
        st = copy.deepcopy(ju.status(job))
        record = self.backoff.setdefault(key, BackoffRecord())
        # 1. record the newly finished pods as uncounted, durably, before touching them.
        if t.new_succeeded or t.new_failed:
            unc = st.setdefault("uncountedTerminatedPods", {})
            for field_, new in (("succeeded", t.new_succeeded), ("failed", t.new_failed)):
                uids = list(unc.get(field_) or [])
                uids += [meta(p)["uid"] for p in new if meta(p)["uid"] not in uids]
                if uids:
                    unc[field_] = uids
            job = await self._write_status(key, job, st)
            st = copy.deepcopy(ju.status(job))
            if t.new_failed:
                record.failures += len(t.new_failed)
                record.last_failure = now
            if t.new_succeeded:
                record.failures = 0
        # 2. let the finished pods go.
        for pod in pods:
            if ju.finished_as(pod) and ju.TRACKING_FINALIZER in (meta(pod).get("finalizers") or []) and \
                    meta(pod).get("uid") not in self.counted:
                await self._remove_finalizer(pod)
        # 3. counts (the uncounted uids are now in them).
        st["succeeded"], st["failed"] = t.succeeded, t.failed
        st["uncountedTerminatedPods"] = {}
        if ju.spec(job).get("completionMode") == "Indexed":
            st["completedIndexes"] = ju.format_indexes(t.completed_indexes)
            if ju.spec(job).get("backoffLimitPerIndex") is not None:
                st["failedIndexes"] = ju.format_indexes(t.failed_indexes)
        requeue = await self._decide_and_act(key, job, pods, t, st, record, now, satisfied)
        st["terminating"] = t.terminating
        st["ready"] = t.ready
        if st != (job.get("status") or {}):
            await self._write_status(key, job, st)
        return requeue

    async def _decide_and_act(self, key: str, job: Obj, pods: list[Obj], t: ju.Tally, st: Obj,
                              record: BackoffRecord, now: float, satisfied: bool) -> float | None:
        sp = ju.spec(job)
        target = ju.condition(job, "FailureTarget")
        failure = ((target["reason"], target["message"]) if target and target.get("status") == "True"
                   else ju.failure_of(job, t, pods, now))
        if failure is not None:
            ju.set_condition(st, "FailureTarget", "True", failure[0], failure[1], now)
            await self._delete_pods(key, job, t.active, count=True)
            st["active"] = 0
            if not t.active and not t.terminating:
                ju.set_condition(st, "Failed", "True", failure[0], failure[1], now)
                self.event(job, "Warning", failure[0], failure[1])
            return None
        if ju.is_done(job, t):
            ju.set_condition(st, "SuccessCriteriaMet", "True", *ju.COMPLETIONS_REACHED, now)
            await self._delete_pods(key, job, t.active, count=False)
            st["active"] = 0
            if not t.terminating:
                ju.set_condition(st, "Complete", "True", *ju.COMPLETIONS_REACHED, now)
                st["completionTime"] = rfc3339(now)
                self.event(job, "Normal", "Completed", "Job completed")
            return None
        if sp.get("suspend"):
            await self._delete_pods(key, job, t.active, count=False)
            st["active"] = 0
            if ju.set_condition(st, "Suspended", "True", *ju.SUSPENDED, now):
                self.event(job, "Normal", "Suspended", "Job suspended")
            return None
        suspended = ju.condition(job, "Suspended")
        if suspended and suspended.get("status") == "True":
            ju.set_condition(st, "Suspended", "False", *ju.RESUMED, now)
            st["startTime"] = rfc3339(now)
            self.event(job, "Normal", "Resumed", "Job resumed")
        st.setdefault("startTime", rfc3339(now))
        requeue = None
        deadline = sp.get("activeDeadlineSeconds")
        if deadline is not None:
            requeue = max(0.0, parse_rfc3339(st["startTime"]) + int(deadline) - now) + 0.01
        wait, created, deleted = await self._manage(key, job, t, record, now, satisfied)
        st["active"] = len(t.active) + created - deleted
        if wait is not None:
            requeue = wait if requeue is None else min(requeue, wait)
        return requeue

    async def _manage(self, key: str, job: Obj, t: ju.Tally, record: BackoffRecord,
                      now: float, satisfied: bool) -> tuple[float | None, int, int]:
        """``manageJob``: create or delete pods toward the wanted number of active ones.

        Returns (seconds until a backoff ends, pods created, pods deleted).
        """
        if not satisfied:
            return None, 0, 0
        want = ju.pods_wanted(job, t)
        budget = want - len(t.active)
        if ju.spec(job).get("podReplacementPolicy") == "Failed":
            budget -= t.terminating  # wait until a replaced pod has really stopped
        reconciles.observe(f"want {want} active (parallelism, completions left), have {len(t.active)}")
        if budget < 0:
            excess = sorted(t.active, key=lambda p: (ju.phase(p) == "Running", -(ju.pod_index(p) or 0)))[:-budget]
            reconciles.decide(f"delete {len(excess)} pods: {', '.join(meta(p)['name'] for p in excess)}",
                              action="delete", count=len(excess))
            await self._delete_pods(key, job, excess, count=False)
            return None, 0, len(excess)
        if budget == 0:
            return None, 0, 0
        delay = ju.backoff_delay(record.failures, self.timings.job_backoff_initial_seconds,
                                 self.timings.job_backoff_max_seconds)
        remaining = record.last_failure + delay - now
        if record.failures and remaining > 0:
            reconciles.decide(f"wait {remaining:.1f}s: backoff after {record.failures} failures", action="wait")
            return remaining, 0, 0
        reconciles.decide(f"create {budget} pod{'s' if budget > 1 else ''}", action="create", count=budget)
        if ju.spec(job).get("completionMode") == "Indexed":
            indexes: list[int | None] = list(ju.indexes_to_start(job, t, budget))
        else:
            indexes = [None] * budget
        return None, await self._create_pods(key, job, indexes, t), 0

    async def _create_pods(self, key: str, job: Obj, indexes: list[int | None], t: ju.Tally) -> int:
        """Slow start, as upstream: batches of 1, 2, 4 … created concurrently; stop at the first failure."""
        ns = meta(job).get("namespace")
        self.expectations.expect_creations(key, len(indexes))
        created, batch, pos = 0, 1, 0
        while pos < len(indexes):
            chunk = indexes[pos:pos + batch]
            pos += len(chunk)
            results = await asyncio.gather(*(
                self.client.create("pods", ju.pod_from_job(job, i, t.index_failures.get(i, 0) if i is not None
                                                           else 0), ns) for i in chunk), return_exceptions=True)
            failure = None
            for r in results:
                if isinstance(r, BaseException):
                    self.expectations.creation_observed(key)
                    failure = failure or r
                else:
                    created += 1
                    self.event(job, "Normal", "SuccessfulCreate", f"Created pod: {meta(r)['name']}")
            if failure is not None:
                for _ in indexes[pos:]:
                    self.expectations.creation_observed(key)
                self.event(job, "Warning", "FailedCreate", f"Error creating: {failure}")
                if isinstance(failure, Exception):
                    raise failure
            batch *= 2
        return created

    async def _delete_pods(self, key: str, job: Obj, pods: list[Obj], *, count: bool) -> None:
        """Delete running pods. ``count``: leave the finalizer so they are counted as failed
        (a failing Job); otherwise release them first (suspend, success, scale down)."""
        if not pods:
            return  # nothing to expect: an empty expectation would wipe pending creations
        ns = meta(job).get("namespace")
        self.expectations.expect_deletions(key, [f"{ns}/{meta(p)['name']}" for p in pods])
        for pod in pods:
            if not count:
                await self._remove_finalizer(pod)
            try:
                await self.client.delete("pods", meta(pod)["name"], ns)
                self.event(job, "Normal", "SuccessfulDelete", f"Deleted pod: {meta(pod)['name']}")
            except errors.NotFound:
                self.expectations.deletion_observed(key, f"{ns}/{meta(pod)['name']}")

    async def _remove_finalizer(self, pod: Obj) -> None:
        finalizers = [f for f in meta(pod).get("finalizers") or [] if f != ju.TRACKING_FINALIZER]
        try:
            await self.client.patch("pods", meta(pod)["name"], {"metadata": {"finalizers": finalizers or None}},
                                    meta(pod).get("namespace"), patch_type=MERGE_PATCH)
        except errors.NotFound:
            pass
        self.counted.add(meta(pod).get("uid"))

    async def _write_status(self, key: str, job: Obj, st: Obj) -> Obj:
        """PUT the status with the resourceVersion we acted on: a stale view fails with Conflict (and retries)."""
        body = copy.deepcopy(job)
        body["status"] = st
        try:
            out = await self.client.update("jobs", body, meta(job).get("namespace"), subresource="status")
        except errors.NotFound:
            return job
        self._latest[key] = out
        return out

    async def _release_orphan(self, pod_key: str) -> None:
        """A pod whose Job is gone keeps no finalizer of ours (upstream's orphan pod handling)."""
        pod = self.pod_informer.get(pod_key)
        if pod is None or ju.TRACKING_FINALIZER not in (meta(pod).get("finalizers") or []):
            return
        ref = controller_ref(pod) or {}
        try:
            job = await self.client.get("jobs", ref.get("name", ""), meta(pod).get("namespace"))
            if meta(job).get("uid") == ref.get("uid") and not is_deleting(job):
                return
        except errors.NotFound:
            pass
        await self._remove_finalizer(pod)
