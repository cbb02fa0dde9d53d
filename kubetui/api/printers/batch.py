"""Printers for the batch group: Jobs and CronJobs.

Upstream: ``printJob`` and ``printCronJob`` in
``pkg/printers/internalversion/printers.go``. A Job's COMPLETIONS is
``succeeded/completions`` (``0/1 of 3`` for a work queue Job with parallelism
3), DURATION runs from startTime to completionTime (or to now while it runs),
and STATUS is the first of Complete, Failed, Terminating, Suspended,
FailureTarget, SuccessCriteriaMet, else Running.
"""

from __future__ import annotations

from typing import Any

from kubetui.api.printers.common import (
    AGE_COL, NAME_COL, age, col, format_label_selector, human_duration, layout_container_cells, parse_time, since,
)

_SELECTOR_DESC = ("A label query over pods that should match the pod count. Normally, the system sets this "
                  "field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/"
                  "labels/#label-selectors")
_WIDE = [
    col("Containers", priority=1, desc="Names of each container in the template."),
    col("Images", priority=1, desc="Images referenced by each container in the template."),
    col("Selector", priority=1, desc=_SELECTOR_DESC),
]

JOB_COLUMNS = [
    NAME_COL,
    col("Status", desc="Status of the job."),
    col("Completions", desc="The number of pods which reached phase Succeeded. The value increases monotonically "
                            "for a given spec. However, it may decrease in reaction to scale down of elastic "
                            "indexed jobs."),
    col("Duration", desc="Time required to complete the job."),
    AGE_COL, *_WIDE,
]

CRONJOB_COLUMNS = [
    NAME_COL,
    col("Schedule", desc="The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."),
    col("Timezone", desc="The time zone name for the given schedule, see "
                         "https://en.wikipedia.org/wiki/List_of_tz_database_time_zones."),
    col("Suspend", "boolean", desc="This flag tells the controller to suspend subsequent executions, it does not "
                                   "apply to already started executions.  Defaults to false."),
    col("Active", "integer", desc="A list of pointers to currently running jobs."),
    col("Last Schedule", desc="Information when was the last time the job was successfully scheduled."),
    AGE_COL, *_WIDE,
]


def has_condition(obj: dict, type_: str) -> bool:
    """A condition of this type with status True (``hasJobCondition``)."""
    return any(c.get("type") == type_ and c.get("status") == "True"
               for c in (obj.get("status") or {}).get("conditions") or [])


def job_status(job: dict) -> str:
    for cond in ("Complete", "Failed"):
        if has_condition(job, cond):
            return cond
    if (job.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    for cond in ("Suspended", "FailureTarget", "SuccessCriteriaMet"):
        if has_condition(job, cond):
            return cond
    return "Running"


def job_completions(job: dict) -> str:
    spec, st = job.get("spec") or {}, job.get("status") or {}
    succeeded = int(st.get("succeeded") or 0)
    if spec.get("completions") is not None:
        return f"{succeeded}/{spec['completions']}"
    parallelism = int(spec.get("parallelism") or 0)
    return f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"


def job_duration(job: dict, now: float) -> str:
    st = job.get("status") or {}
    start = parse_time(st.get("startTime"))
    if start is None:
        return ""
    end = parse_time(st.get("completionTime"))
    return human_duration((now if end is None else end) - start)


def job_row(job: dict, now: float) -> list[Any]:
    spec = job.get("spec") or {}
    containers, images = layout_container_cells(spec.get("template"))
    return [job["metadata"].get("name", ""), job_status(job), job_completions(job), job_duration(job, now),
            age(job, now), containers, images, format_label_selector(spec.get("selector"))]


def cronjob_row(cj: dict, now: float) -> list[Any]:
    spec, st = cj.get("spec") or {}, cj.get("status") or {}
    last = st.get("lastScheduleTime")
    suspend = spec.get("suspend")
    job_spec = ((spec.get("jobTemplate") or {}).get("spec") or {})
    containers, images = layout_container_cells(job_spec.get("template"))
    return [cj["metadata"].get("name", ""), spec.get("schedule", ""), spec.get("timeZone") or "<none>",
            "<unset>" if suspend is None else ("True" if suspend else "False"), len(st.get("active") or []),
            since(last, now) if last else "<none>", age(cj, now), containers, images,
            format_label_selector(job_spec.get("selector"))]
