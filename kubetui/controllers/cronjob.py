"""The CronJob controller: create a Job at each scheduled time, as upstream's ``cronjob_controllerv2`` does.

Upstream: ``pkg/controller/cronjob/cronjob_controllerv2.go`` (syncCronJob,
cleanupFinishedJobs) and ``utils.go`` (mostRecentScheduleTime,
getJobFromTemplate2). Each sync:

1. reconcile ``status.active`` with the Jobs this CronJob owns (a finished one
   leaves it: ``SawCompletedJob``; a missing one too: ``MissingJob``) and keep
   ``lastSuccessfulTime``;
2. delete finished Jobs beyond ``successfulJobsHistoryLimit``/``failedJobsHistoryLimit``;
3. unless suspended, find the most recent unmet schedule time since
   ``lastScheduleTime`` (or creation); too late for ``startingDeadlineSeconds``
   -> ``MissSchedule``; more than 100 missed -> ``TooManyMissedTimes`` (still
   runs the latest); ``Forbid`` skips while a Job runs, ``Replace`` deletes the
   running ones; then create ``<cronjob>-<minutes since epoch>``;
4. requeue at the next schedule time. Time is the injected clock's.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from kubetui.api import cron, errors
from kubetui.client.informer import split_key
from kubetui.clock import parse_rfc3339, rfc3339
from kubetui.controllers import job_util as ju
from kubetui.controllers.base import Controller
from kubetui.controllers.util import controller_ref, is_deleting, meta

Obj = dict[str, Any]
SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"
MAX_MISSED = 100  # upstream's limit before it warns about clock skew or a long outage


def job_name(cronjob: str, scheduled: float) -> str:
    """``<cronjob>-<scheduled time in minutes since the epoch>``: one name per run, so a run is never doubled."""
    return f"{cronjob}-{int(scheduled // 60)}"


def missed_times(schedule: cron.Schedule, zone: dt.tzinfo, earliest: float, now: float) -> tuple[float | None, int]:
    """``mostRecentScheduleTime``: the latest schedule time in (earliest, now], and how many there were."""
    t, last, count = earliest, None, 0
    while True:
        nxt = cron.next_after(schedule, t, zone)
        if nxt is None or nxt > now:
            return last, count
        last, count, t = nxt, count + 1, nxt
        if count > 10_000:  # @every 1s over a long outage: enough to know it is "too many"
            return cron.next_after(schedule, now - 61, zone) or last, count


def job_from_template(cj: Obj, scheduled: float, zone: dt.tzinfo) -> Obj:
    """``getJobFromTemplate2``: the jobTemplate, named for its time, owned by the CronJob."""
    template = copy.deepcopy((cj.get("spec") or {}).get("jobTemplate") or {})
    tmeta = template.get("metadata") or {}
    annotations = dict(tmeta.get("annotations") or {})
    annotations[SCHEDULED_TIMESTAMP] = dt.datetime.fromtimestamp(scheduled, zone).isoformat().replace("+00:00", "Z")
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": job_name(meta(cj)["name"], scheduled), "namespace": meta(cj).get("namespace"),
                         "labels": dict(tmeta.get("labels") or {}), "annotations": annotations,
                         "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": meta(cj)["name"],
                                              "uid": meta(cj)["uid"], "controller": True,
                                              "blockOwnerDeletion": True}]},
            "spec": template.get("spec") or {}}


def _finish_time(job: Obj) -> float:
    for c in ju.status(job).get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True" and c.get("lastTransitionTime"):
            return parse_rfc3339(c["lastTransitionTime"])
    return parse_rfc3339(meta(job).get("creationTimestamp") or "1970-01-01T00:00:00Z")


class CronJobController(Controller):
    name = "cronjob"
    kind = "CronJob"
    component = "cronjob-controller"
    workers = 1

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.cj_informer = self.factory.informer("cronjobs")
        self.job_informer = self.factory.informer("jobs")
        self.cj_informer.add_handler(self.enqueue, lambda old, new: self.enqueue(new), lambda o: None)
        self.job_informer.add_handler(self._job_changed, lambda old, new: self._job_changed(new),
                                      self._job_changed)

    def _job_changed(self, job: Obj) -> None:
        ref = controller_ref(job)
        if ref and ref.get("kind") == "CronJob":
            self.queue.add(f"{meta(job).get('namespace')}/{ref.get('name')}")

    def _owned_jobs(self, cj: Obj) -> list[Obj]:
        uid = meta(cj).get("uid")
        return [j for j in self.job_informer.list(meta(cj).get("namespace"))
                if (controller_ref(j) or {}).get("uid") == uid]

    async def reconcile(self, key: Any) -> float | None:
        ns, name = split_key(key)
        cached = self.cj_informer.get(key)
        if cached is None or is_deleting(cached):
            return None
        cj = copy.deepcopy(cached)
        jobs = self._owned_jobs(cj)
        st = cj.setdefault("status", {})
        before = copy.deepcopy(st)
        self._sync_active(cj, jobs)
        await self._cleanup(cj, jobs)
        requeue = await self._schedule(cj)
        if cj["status"] != before:
            body = copy.deepcopy(cached)
            body["status"] = cj["status"]
            try:
                await self.client.update("cronjobs", body, ns, subresource="status")
            except errors.NotFound:
                return None
        return requeue

    def _sync_active(self, cj: Obj, jobs: list[Obj]) -> None:
        st = cj["status"]
        active = list(st.get("active") or [])
        by_uid = {meta(j).get("uid"): j for j in jobs}
        for j in jobs:
            in_list = any(a.get("uid") == meta(j).get("uid") for a in active)
            if ju.is_finished(j):
                if in_list:
                    cond = "Complete" if ju.has_condition(j, "Complete") else "Failed"
                    self.event(cj, "Normal", "SawCompletedJob", f"Saw completed job: {meta(j)['name']}, "
                                                                f"condition: {cond}")
                    active = [a for a in active if a.get("uid") != meta(j).get("uid")]
                if ju.has_condition(j, "Complete"):
                    done = ju.status(j).get("completionTime")
                    last = st.get("lastSuccessfulTime")
                    if done and (not last or parse_rfc3339(done) > parse_rfc3339(last)):
                        st["lastSuccessfulTime"] = done
            elif not in_list:
                self.event(cj, "Warning", "UnexpectedJob",
                           f"Saw a job that the controller did not create or forgot: {meta(j)['name']}")
        for a in list(active):
            if a.get("uid") not in by_uid:
                self.event(cj, "Normal", "MissingJob", f"Active job went missing: {a.get('name')}")
                active.remove(a)
        if active:
            st["active"] = active
        else:
            st.pop("active", None)

    async def _cleanup(self, cj: Obj, jobs: list[Obj]) -> None:
        """``cleanupFinishedJobs``: keep the newest N successful and M failed Jobs."""
        sp = cj.get("spec") or {}
        for cond, limit in (("Complete", sp.get("successfulJobsHistoryLimit")),
                            ("Failed", sp.get("failedJobsHistoryLimit"))):
            if limit is None:
                continue
            finished = sorted((j for j in jobs if ju.has_condition(j, cond) and not is_deleting(j)),
                              key=_finish_time)
            for j in finished[:max(0, len(finished) - int(limit))]:
                await self._delete_job(cj, j)

    async def _delete_job(self, cj: Obj, job: Obj) -> None:
        try:
            await self.client.delete("jobs", meta(job)["name"], meta(job).get("namespace"),
                                     propagation_policy="Background")
        except errors.NotFound:
            return
        self.event(cj, "Normal", "SuccessfulDelete", f"Deleted job {meta(job)['name']}")

    async def _schedule(self, cj: Obj) -> float | None:
        sp, st = cj.get("spec") or {}, cj["status"]
        try:
            zone = cron.load_zone(sp.get("timeZone"))
        except Exception as e:
            self.event(cj, "Warning", "UnknownTimeZone", f"invalid timeZone: {sp.get('timeZone')!r}: {e}")
            return None
        try:
            schedule = cron.parse(sp.get("schedule") or "")
        except cron.CronError as e:
            self.event(cj, "Warning", "UnparseableSchedule", f"unparseable schedule: {sp.get('schedule')!r} : {e}")
            return None
        now = self.clock.time()
        last = st.get("lastScheduleTime") or meta(cj).get("creationTimestamp")
        earliest = parse_rfc3339(last) if last else now
        deadline = sp.get("startingDeadlineSeconds")
        if deadline is not None:
            earliest = max(earliest, now - int(deadline))
        scheduled, missed = missed_times(schedule, zone, earliest, now)
        nxt = cron.next_after(schedule, now, zone)
        requeue = None if nxt is None else max(0.0, nxt - now) + 0.1
        if sp.get("suspend") or scheduled is None:
            return requeue
        if missed > MAX_MISSED:
            self.event(cj, "Warning", "TooManyMissedTimes",
                       f"too many missed start times: {missed}. Set or decrease .spec.startingDeadlineSeconds "
                       "or check clock skew")
        if deadline is not None and scheduled + int(deadline) < now:
            self.event(cj, "Warning", "MissSchedule", f"Missed scheduled time to start a job: {rfc3339(scheduled)}")
            return requeue
        active = st.get("active") or []
        name = job_name(meta(cj)["name"], scheduled)
        if any(a.get("name") == name for a in active):
            return requeue
        policy = sp.get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and active:
            # upstream only logs this; the run is skipped and the next one is waited for
            self.log.info("%s/%s: not starting %s: the prior run is active and concurrencyPolicy is Forbid",
                          meta(cj).get("namespace"), meta(cj)["name"], name)
            return requeue
        if policy == "Replace":
            for a in active:
                job = self.job_informer.get(f"{meta(cj).get('namespace')}/{a.get('name')}")
                if job is not None:
                    await self._delete_job(cj, job)
            st.pop("active", None)
        try:
            job = await self.client.create("jobs", job_from_template(cj, scheduled, zone), meta(cj).get("namespace"))
        except errors.AlreadyExists:
            st["lastScheduleTime"] = rfc3339(scheduled)
            return requeue
        except errors.StatusError as e:
            self.event(cj, "Warning", "FailedCreate", f"Error creating job: {e}")
            raise
        self.event(cj, "Normal", "SuccessfulCreate", f"Created job {meta(job)['name']}")
        st["active"] = [*(st.get("active") or []), {
            "kind": "Job", "namespace": meta(job).get("namespace"), "name": meta(job)["name"],
            "uid": meta(job)["uid"], "apiVersion": "batch/v1", "resourceVersion": meta(job).get("resourceVersion")}]
        st["lastScheduleTime"] = rfc3339(scheduled)
        return requeue
