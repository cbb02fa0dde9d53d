"""The Job controller's pure decisions: which pods finished, what the status says, how many pods to run.

Upstream: ``pkg/controller/job/job_controller.go`` (syncJob,
trackJobStatusAndRemoveFinalizers, manageJob, pastBackoffLimitOnFailure),
``indexed_job_utils.go`` (completed indexes as ``1,3-5,7``),
``pod_failure_policy.go`` (matchPodFailurePolicy) and ``backoff_utils.go``.
Everything here is a function of (job, pods, now): table-tested, no I/O.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from kubetui.clock import parse_rfc3339, rfc3339

Obj = dict[str, Any]

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
INDEX_FAILURE_COUNT = "batch.kubernetes.io/job-index-failure-count"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"

# Condition reasons and messages, as upstream writes them.
BACKOFF_LIMIT = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
DEADLINE = ("DeadlineExceeded", "Job was active longer than specified deadline")
MAX_FAILED_INDEXES = ("MaxFailedIndexesExceeded", "Job has exceeded the specified maximal number of failed indexes")
FAILED_INDEXES = ("FailedIndexes", "Job has failed indexes")
COMPLETIONS_REACHED = ("CompletionsReached", "Reached expected number of succeeded pods")
SUSPENDED = ("JobSuspended", "Job suspended")
RESUMED = ("JobResumed", "Job resumed")


def meta(o: Obj) -> Obj:
    return o.get("metadata") or {}


def spec(o: Obj) -> Obj:
    return o.get("spec") or {}


def status(o: Obj) -> Obj:
    return o.get("status") or {}


def condition(job: Obj, type_: str) -> Obj | None:
    for c in status(job).get("conditions") or []:
        if c.get("type") == type_:
            return c
    return None


def has_condition(job: Obj, type_: str) -> bool:
    c = condition(job, type_)
    return bool(c and c.get("status") == "True")


def is_finished(job: Obj) -> bool:
    """``IsJobFinished``: Complete or Failed is True."""
    return has_condition(job, "Complete") or has_condition(job, "Failed")


def set_condition(st: Obj, type_: str, cond_status: str, reason: str, message: str, now: float) -> bool:
    """Add or update a condition; lastTransitionTime moves only when the status flips. True if changed."""
    conds = st.setdefault("conditions", [])
    stamp = rfc3339(now)
    for c in conds:
        if c.get("type") == type_:
            if (c.get("status"), c.get("reason"), c.get("message")) == (cond_status, reason, message):
                return False
            if c.get("status") != cond_status:
                c["lastTransitionTime"] = stamp
            c.update({"status": cond_status, "reason": reason, "message": message, "lastProbeTime": stamp})
            return True
    conds.append({"type": type_, "status": cond_status, "lastProbeTime": stamp, "lastTransitionTime": stamp,
                  "reason": reason, "message": message})
    return True


# --- pods -----------------------------------------------------------------------------


def phase(pod: Obj) -> str:
    return status(pod).get("phase") or "Pending"


def is_terminating(pod: Obj) -> bool:
    return bool(meta(pod).get("deletionTimestamp")) and phase(pod) not in ("Succeeded", "Failed")


def is_active(pod: Obj) -> bool:
    """Pending or Running and not being deleted: it counts toward parallelism."""
    return phase(pod) not in ("Succeeded", "Failed") and not meta(pod).get("deletionTimestamp")


def finished_as(pod: Obj) -> str | None:
    """``succeeded`` / ``failed`` once a pod is done (a deleted unfinished pod failed), else None."""
    p = phase(pod)
    if p == "Succeeded":
        return "succeeded"
    if p == "Failed":
        return "failed"
    if meta(pod).get("deletionTimestamp"):
        return "failed"
    return None


def pod_index(pod: Obj) -> int | None:
    """The completion index a pod of an Indexed Job runs (its annotation, else its label)."""
    raw = (meta(pod).get("annotations") or {}).get(COMPLETION_INDEX)
    if raw is None:
        raw = (meta(pod).get("labels") or {}).get(COMPLETION_INDEX)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def restarts_of_active(pods: list[Obj]) -> int:
    """``pastBackoffLimitOnFailure``'s count: container restarts of Pending/Running pods."""
    total = 0
    for p in pods:
        if phase(p) in ("Pending", "Running"):
            for cs in (status(p).get("containerStatuses") or []) + (status(p).get("initContainerStatuses") or []):
                total += int(cs.get("restartCount") or 0)
    return total


def past_backoff_limit_on_failure(job: Obj, pods: list[Obj]) -> bool:
    """With restartPolicy OnFailure the kubelet restarts in place: restarts count as failures."""
    template_spec = (spec(job).get("template") or {}).get("spec") or {}
    if template_spec.get("restartPolicy") != "OnFailure":
        return False
    restarts = restarts_of_active(pods)
    limit = int(spec(job).get("backoffLimit") or 0)
    return restarts > 0 if limit == 0 else restarts >= limit


# --- pod failure policy ------------------------------------------------------------------


def _terminated(cs: Obj) -> Obj | None:
    return (cs.get("state") or {}).get("terminated")


def match_pod_failure_policy(job: Obj, pod: Obj) -> tuple[str | None, str, int | None]:
    """``matchPodFailurePolicy``: (action, message, rule index) of the first rule the failed pod matches.

    Exit code rules look at containers that terminated with a non-zero code;
    condition rules at the pod's conditions (``DisruptionTarget`` after an
    eviction or preemption). No match: (None, "", None), which counts the
    failure as usual.
    """
    rules = (spec(job).get("podFailurePolicy") or {}).get("rules") or []
    st = status(pod)
    ns, name = meta(pod).get("namespace"), meta(pod).get("name")
    for i, rule in enumerate(rules):
        action = rule.get("action")
        on_codes = rule.get("onExitCodes")
        if isinstance(on_codes, dict):
            values = set(on_codes.get("values") or [])
            for cs in (st.get("containerStatuses") or []) + (st.get("initContainerStatuses") or []):
                if on_codes.get("containerName") and cs.get("name") != on_codes["containerName"]:
                    continue
                term = _terminated(cs)
                if not term:
                    continue
                code = int(term.get("exitCode") or 0)
                if code == 0:
                    continue
                matched = code in values if on_codes.get("operator") == "In" else code not in values
                if matched:
                    return action, (f"Container {cs.get('name')} for pod {ns}/{name} failed with exit code {code} "
                                    f"matching {action} rule at index {i}"), i
        for pattern in rule.get("onPodConditions") or []:
            for c in st.get("conditions") or []:
                if c.get("type") == pattern.get("type") and c.get("status") == (pattern.get("status") or "True"):
                    return action, (f"Pod {ns}/{name} has condition {c['type']} matching {action} rule at "
                                    f"index {i}"), i
    return None, "", None


# --- indexes -----------------------------------------------------------------------------


def parse_indexes(text: str | None) -> set[int]:
    """``1,3-5,7`` -> {1, 3, 4, 5, 7}."""
    out: set[int] = set()
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            a, b = part.split("-", 1)
            out.update(range(int(a), int(b) + 1))
        else:
            out.add(int(part))
    return out


def format_indexes(indexes: set[int]) -> str:
    """Sorted, three or more consecutive numbers as ``first-last`` (``1,3-5,7``; ``1,2`` stays)."""
    out: list[str] = []
    items = sorted(indexes)
    i = 0
    while i < len(items):
        j = i
        while j + 1 < len(items) and items[j + 1] == items[j] + 1:
            j += 1
        if j - i >= 2:
            out.append(f"{items[i]}-{items[j]}")
        else:
            out.extend(str(v) for v in items[i:j + 1])
        i = j + 1
    return ",".join(out)


# --- backoff -----------------------------------------------------------------------------


def backoff_delay(failures: int, initial: float, cap: float) -> float:
    """Seconds a replacement waits after ``failures`` failures in a row: 10 s, 20 s, 40 s … capped."""
    if failures <= 0:
        return 0.0
    return min(initial * (2 ** (failures - 1)), cap)


# --- the decision ------------------------------------------------------------------------


@dataclass
class Tally:
    """What the pods say, after the previous counts (status) and the uncounted ones are added."""

    succeeded: int = 0
    failed: int = 0
    new_succeeded: list[Obj] = field(default_factory=list)  # finished pods still carrying the finalizer
    new_failed: list[Obj] = field(default_factory=list)
    ignored: list[Obj] = field(default_factory=list)  # failures an Ignore rule does not count
    active: list[Obj] = field(default_factory=list)
    terminating: int = 0
    ready: int = 0
    completed_indexes: set[int] = field(default_factory=set)
    failed_indexes: set[int] = field(default_factory=set)
    failure: tuple[str, str] | None = None  # (reason, message) that fails the Job
    index_failures: dict[int, int] = field(default_factory=dict)  # Indexed: failures so far per index


def tally(job: Obj, pods: list[Obj], counted: set[str]) -> Tally:
    """Count the Job's pods. ``counted``: uids whose finish is already in status (their finalizer is going)."""
    st = status(job)
    uncounted = st.get("uncountedTerminatedPods") or {}
    unc_s, unc_f = set(uncounted.get("succeeded") or []), set(uncounted.get("failed") or [])
    t = Tally(succeeded=int(st.get("succeeded") or 0), failed=int(st.get("failed") or 0))
    indexed = spec(job).get("completionMode") == "Indexed"
    completions = spec(job).get("completions")
    t.completed_indexes = parse_indexes(st.get("completedIndexes"))
    t.failed_indexes = parse_indexes(st.get("failedIndexes"))
    per_index = spec(job).get("backoffLimitPerIndex")
    for pod in pods:
        md = pod.get("metadata") or {}
        tracked = TRACKING_FINALIZER in (md.get("finalizers") or ())
        if not tracked and not indexed and not md.get("deletionTimestamp") and \
                (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue  # finished, counted and released long ago: most pods of a big Job
        uid = md.get("uid")
        idx = pod_index(pod) if indexed else None
        if is_active(pod):
            t.active.append(pod)
            if any(c.get("type") == "Ready" and c.get("status") == "True"
                   for c in status(pod).get("conditions") or []):
                t.ready += 1
            continue
        if is_terminating(pod):
            t.terminating += 1
        how = finished_as(pod)
        if how == "failed" and idx is not None:
            try:
                prior = int((meta(pod).get("annotations") or {}).get(INDEX_FAILURE_COUNT, 0))
            except ValueError:
                prior = 0
            t.index_failures[idx] = max(t.index_failures.get(idx, 0), prior + 1)
        if not tracked or uid in counted:
            continue
        if how == "succeeded":
            if uid not in unc_s:
                t.new_succeeded.append(pod)
            if idx is not None and (completions is None or idx < completions):
                t.completed_indexes.add(idx)
        elif how == "failed":
            action, message, _ = match_pod_failure_policy(job, pod)
            if action == "Ignore":
                t.ignored.append(pod)
                continue
            if uid not in unc_f:
                t.new_failed.append(pod)
            if action == "FailJob" and t.failure is None:
                t.failure = ("PodFailurePolicy", message)
            if idx is not None and per_index is not None:
                if action == "FailIndex" or t.index_failures.get(idx, 0) > int(per_index):
                    t.failed_indexes.add(idx)
    if indexed:
        t.succeeded = len(t.completed_indexes)
    else:
        t.succeeded += len(unc_s) + len([p for p in t.new_succeeded if meta(p).get("uid") not in unc_s])
    t.failed += len(unc_f) + len([p for p in t.new_failed if meta(p).get("uid") not in unc_f])
    return t


def is_done(job: Obj, t: Tally) -> bool:
    """Have the completions been reached (``SuccessCriteriaMet``)?"""
    completions = spec(job).get("completions")
    if spec(job).get("completionMode") == "Indexed":
        return completions is not None and len(t.completed_indexes) >= int(completions)
    if completions is None:
        # A work queue Job: done once any pod succeeded and none still runs.
        return t.succeeded > 0 and not t.active
    return t.succeeded >= int(completions)


def failure_of(job: Obj, t: Tally, pods: list[Obj], now: float) -> tuple[str, str] | None:
    """Why the Job fails now, in upstream's order: pod failure policy, backoff limit, deadline, indexes."""
    if t.failure is not None:
        return t.failure
    sp = spec(job)
    limit = sp.get("backoffLimit")
    if limit is not None and (t.failed > int(limit) or past_backoff_limit_on_failure(job, pods)):
        return BACKOFF_LIMIT
    deadline, start = sp.get("activeDeadlineSeconds"), status(job).get("startTime")
    if deadline is not None and start and not sp.get("suspend"):
        if now - parse_rfc3339(start) >= int(deadline):
            return DEADLINE
    if sp.get("maxFailedIndexes") is not None and len(t.failed_indexes) > int(sp["maxFailedIndexes"]):
        return MAX_FAILED_INDEXES
    completions = sp.get("completions")
    if t.failed_indexes and completions is not None and not t.active and \
            len(t.completed_indexes) + len(t.failed_indexes) >= int(completions):
        # every index has finished one way or the other, and some failed
        return FAILED_INDEXES
    return None


def indexes_to_start(job: Obj, t: Tally, want: int) -> list[int]:
    """The lowest indexes neither completed, failed nor running, at most ``want`` of them."""
    completions = int(spec(job).get("completions") or 0)
    running = {pod_index(p) for p in t.active}
    out = []
    for i in range(completions):
        if len(out) >= want:
            break
        if i in t.completed_indexes or i in t.failed_indexes or i in running:
            continue
        out.append(i)
    return out


def pods_wanted(job: Obj, t: Tally) -> int:
    """How many pods should be active (``wantActive`` in manageJob)."""
    sp = spec(job)
    parallelism = int(sp.get("parallelism") or 0)
    completions = sp.get("completions")
    if sp.get("completionMode") == "Indexed":
        remaining = int(completions or 0) - len(t.completed_indexes) - len(t.failed_indexes)
        return max(0, min(parallelism, remaining))
    if completions is None:
        # A work queue: once one pod succeeded, leave whatever runs running, start nothing new.
        return len(t.active) if t.succeeded > 0 else parallelism
    return max(0, min(parallelism, int(completions) - t.succeeded))


def pod_from_job(job: Obj, index: int | None, failures: int = 0) -> Obj:
    """The pod a Job creates: its template, the tracking finalizer, and for Indexed Jobs its index.

    An Indexed pod is named ``<job>-<index>-<random>``, carries the index as
    annotation and label, gets hostname ``<job>-<index>`` and the
    ``JOB_COMPLETION_INDEX`` environment variable from the downward API.
    """
    template = copy.deepcopy(spec(job).get("template") or {})
    tmeta = template.get("metadata") or {}
    name = meta(job)["name"]
    pod_meta: Obj = {"generateName": f"{name}-", "namespace": meta(job).get("namespace"),
                     "labels": dict(tmeta.get("labels") or {}),
                     "annotations": dict(tmeta.get("annotations") or {}),
                     "finalizers": [*(tmeta.get("finalizers") or []), TRACKING_FINALIZER],
                     "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": name,
                                          "uid": meta(job)["uid"], "controller": True,
                                          "blockOwnerDeletion": True}]}
    pod_spec = template.get("spec") or {}
    if index is not None:
        pod_meta["generateName"] = f"{name}-{index}-"
        pod_meta["annotations"][COMPLETION_INDEX] = str(index)
        pod_meta["labels"][COMPLETION_INDEX] = str(index)
        if spec(job).get("backoffLimitPerIndex") is not None:
            pod_meta["annotations"][INDEX_FAILURE_COUNT] = str(failures)
        pod_spec["hostname"] = f"{name}-{index}"
        env = {"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
            "apiVersion": "v1", "fieldPath": f"metadata.annotations['{COMPLETION_INDEX}']"}}}
        for key in ("initContainers", "containers"):
            for c in pod_spec.get(key) or []:
                if not any(e.get("name") == "JOB_COMPLETION_INDEX" for e in c.get("env") or []):
                    c["env"] = [*(c.get("env") or []), copy.deepcopy(env)]
    if not pod_meta["annotations"]:
        del pod_meta["annotations"]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": pod_spec}
