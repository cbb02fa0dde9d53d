"""Validation of batch/v1 Jobs and CronJobs.

Upstream: pkg/apis/batch/validation/validation.go (ValidateJob,
validateJobSpec, validatePodFailurePolicy, ValidateJobSpecUpdate,
ValidateCronJobCreate, validateScheduleFormat, validateTimeZone). The rules a
learner meets: a Job's pods must not restart forever (``restartPolicy``
``OnFailure`` or ``Never``), counts are non-negative, an Indexed Job needs
``completions``, a CronJob's schedule must parse (robfig/cron's own error
text, ``kubetui.api.cron``) and its name leaves room for the 11 characters of
the Jobs it names ``<cronjob>-<minutes>``.
"""

from __future__ import annotations

import re
from typing import Any

from kubetui.api import cron
from kubetui.api.validation.field import (
    Cause, as_dict, as_list, dict_items, duplicate, forbidden, immutable, index, invalid, key, is_int, non_negative,
    not_supported, required, too_many,
)
from kubetui.api.validation.meta import (
    go_map, go_selector, selector_matches, validate_label_selector, validate_template_meta,
)
from kubetui.api.validation.pod import validate_pod_spec

JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
LEGACY_JOB_NAME_LABEL = "job-name"
LEGACY_CONTROLLER_UID_LABEL = "controller-uid"

COMPLETION_MODES = ("NonIndexed", "Indexed")
RESTART_POLICIES = ("OnFailure", "Never")
POD_REPLACEMENT_POLICIES = ("TerminatingOrFailed", "Failed")
FAILURE_ACTIONS = ("Count", "FailIndex", "FailJob", "Ignore")
EXIT_CODE_OPERATORS = ("In", "NotIn")
CONCURRENCY_POLICIES = ("Allow", "Forbid", "Replace")
# Indexed Jobs keep their completed indexes in status; upstream bounds them.
MAX_PARALLELISM_INDEXED = 100_000
MAX_COMPLETIONS_INDEXED = 100_000
MAX_RULES = 20
MAX_EXIT_CODES = 255
MAX_CONDITION_PATTERNS = 20
# A CronJob's Jobs are named <cronjob>-<11 digits>; a Job name must fit a label (63).
CRONJOB_NAME_MAX = 52
_TZ_CHARS = re.compile(r"^[A-Za-z.\-_0-9+]{1,14}$")


def _job_spec(spec: dict[str, Any], path: str, *, template_only: bool = False) -> list[Cause]:
    """validateJobSpec: what a Job and a CronJob's jobTemplate share."""
    errs: list[Cause] = []
    for f in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished",
              "backoffLimitPerIndex", "maxFailedIndexes"):
        errs += non_negative(f"{path}.{f}", spec.get(f))
    mode = spec.get("completionMode")
    if mode not in (None, *COMPLETION_MODES):
        errs.append(not_supported(f"{path}.completionMode", mode, COMPLETION_MODES))
    completions, parallelism = spec.get("completions"), spec.get("parallelism")
    if mode == "Indexed":
        if completions is None:
            errs.append(required(f"{path}.completions", "when completion mode is Indexed"))
        elif is_int(completions) and completions > MAX_COMPLETIONS_INDEXED:
            errs.append(invalid(f"{path}.completions", completions,
                                f"must be less than or equal to {MAX_COMPLETIONS_INDEXED} "
                                "when completion mode is Indexed"))
        if is_int(parallelism) and parallelism > MAX_PARALLELISM_INDEXED:
            errs.append(invalid(f"{path}.parallelism", parallelism,
                                f"must be less than or equal to {MAX_PARALLELISM_INDEXED} "
                                "when completion mode is Indexed"))
    if spec.get("backoffLimitPerIndex") is not None and mode != "Indexed":
        errs.append(forbidden(f"{path}.backoffLimitPerIndex", "requires indexed completion mode"))
    if spec.get("maxFailedIndexes") is not None and spec.get("backoffLimitPerIndex") is None:
        errs.append(required(f"{path}.backoffLimitPerIndex", "when maxFailedIndexes is specified"))
    replacement = spec.get("podReplacementPolicy")
    if replacement is not None and replacement not in POD_REPLACEMENT_POLICIES:
        errs.append(not_supported(f"{path}.podReplacementPolicy", replacement, POD_REPLACEMENT_POLICIES))
    elif replacement == "TerminatingOrFailed" and spec.get("podFailurePolicy") is not None:
        errs.append(not_supported(f"{path}.podReplacementPolicy", replacement, ("Failed",)))
    template = spec.get("template")
    if not isinstance(template, dict):
        errs.append(required(f"{path}.template", ""))
        template = {}
    errs += validate_template_meta(template.get("metadata"), f"{path}.template.metadata")
    errs += validate_pod_spec(template.get("spec"), f"{path}.template.spec", template=True)
    restart = as_dict(template.get("spec")).get("restartPolicy")
    if restart not in RESTART_POLICIES:
        errs.append(not_supported(f"{path}.template.spec.restartPolicy", restart or "", RESTART_POLICIES))
    elif restart == "OnFailure" and spec.get("podFailurePolicy") is not None:
        errs.append(invalid(f"{path}.template.spec.restartPolicy", restart,
                            'only "Never" is supported when podFailurePolicy is specified'))
    if spec.get("podFailurePolicy") is not None:
        errs += _pod_failure_policy(spec, f"{path}.podFailurePolicy")
    return errs


def _pod_failure_policy(spec: dict[str, Any], path: str) -> list[Cause]:
    """validatePodFailurePolicy: each rule has one action and exactly one of onExitCodes/onPodConditions."""
    errs: list[Cause] = []
    rules = as_list(as_dict(spec.get("podFailurePolicy")).get("rules"))
    if len(rules) > MAX_RULES:
        return [too_many(f"{path}.rules", len(rules), MAX_RULES)]
    container_names = {c.get("name") for _, c in dict_items(as_dict(as_dict(spec.get("template")).get("spec"))
                                                              .get("containers"))}
    container_names |= {c.get("name") for _, c in dict_items(as_dict(as_dict(spec.get("template")).get("spec"))
                                                               .get("initContainers"))}
    for i, rule in dict_items(rules):
        p = index(f"{path}.rules", i)
        action = rule.get("action")
        if action in (None, ""):
            errs.append(required(f"{p}.action", ""))
        elif action not in FAILURE_ACTIONS:
            errs.append(not_supported(f"{p}.action", action, FAILURE_ACTIONS))
        elif action == "FailIndex" and spec.get("backoffLimitPerIndex") is None:
            errs.append(forbidden(f"{p}.action", "requires the backoffLimitPerIndex to be set"))
        exit_codes, conditions = rule.get("onExitCodes"), rule.get("onPodConditions")
        if exit_codes is not None and conditions is not None:
            errs.append(invalid(p, "", "specifying both OnExitCodes and OnPodConditions is not supported"))
        elif exit_codes is None and conditions is None:
            errs.append(invalid(p, "", "specifying one of OnExitCodes and OnPodConditions is required"))
        if isinstance(exit_codes, dict):
            errs += _on_exit_codes(exit_codes, f"{p}.onExitCodes", container_names)
        for j, pattern in dict_items(conditions):
            cp = index(f"{p}.onPodConditions", j)
            if not pattern.get("type"):
                errs.append(required(f"{cp}.type", ""))
            status = pattern.get("status")
            if status is not None and status not in ("True", "False", "Unknown"):
                errs.append(not_supported(f"{cp}.status", status or "", ("False", "True", "Unknown")))
        if len(as_list(conditions)) > MAX_CONDITION_PATTERNS:
            errs.append(too_many(f"{p}.onPodConditions", len(as_list(conditions)), MAX_CONDITION_PATTERNS))
    return errs


def _on_exit_codes(req: dict[str, Any], path: str, container_names: set[Any]) -> list[Cause]:
    errs: list[Cause] = []
    name = req.get("containerName")
    if name is not None and name not in container_names:
        errs.append(invalid(f"{path}.containerName", name,
                            "must be one of the container or initContainer names in the pod template"))
    op = req.get("operator")
    if op not in EXIT_CODE_OPERATORS:
        errs.append(not_supported(f"{path}.operator", op or "", EXIT_CODE_OPERATORS))
    values = as_list(req.get("values"))
    if not values:
        errs.append(required(f"{path}.values", "at least one value is required"))
    elif len(values) > MAX_EXIT_CODES:
        errs.append(too_many(f"{path}.values", len(values), MAX_EXIT_CODES))
    else:
        previous = None
        for k, v in enumerate(values):
            vp = index(f"{path}.values", k)
            if op == "In" and v == 0:
                errs.append(invalid(vp, v, "must not be 0 for the In operator"))
            if previous is not None:
                if v == previous:
                    errs.append(duplicate(vp, v))
                elif is_int(v) and is_int(previous) and v < previous:
                    errs.append(invalid(vp, v, "must be ordered"))
            previous = v
    return errs


def _generated_selector(job: dict[str, Any]) -> list[Cause]:
    """ValidateGeneratedSelector: without manualSelector, the labels must be the generated ones."""
    spec = as_dict(job.get("spec"))
    if spec.get("manualSelector") is True or spec.get("selector") is None:
        return []
    meta = as_dict(job.get("metadata"))
    uid, name = meta.get("uid") or "", meta.get("name") or ""
    errs: list[Cause] = []
    if not uid:
        errs.append(required("metadata.uid", ""))
    labels = as_dict(as_dict(as_dict(spec.get("template")).get("metadata")).get("labels"))
    path = "spec.template.metadata.labels"
    for label, want in ((LEGACY_CONTROLLER_UID_LABEL, uid), (LEGACY_JOB_NAME_LABEL, name),
                        (CONTROLLER_UID_LABEL, uid), (JOB_NAME_LABEL, name)):
        # ValidateHasLabel: Required with the expected value as detail, or Invalid showing the map.
        if label not in labels:
            errs.append(required(key(path, label), want))
        elif labels[label] != want:
            errs.append(invalid(key(path, label), go_map(labels), f"must be '{want}'"))
    selector = spec.get("selector")
    expected = {LEGACY_CONTROLLER_UID_LABEL: uid, LEGACY_JOB_NAME_LABEL: name,
                CONTROLLER_UID_LABEL: uid, JOB_NAME_LABEL: name}
    if isinstance(selector, dict) and not selector_matches(selector, expected):
        errs.append(invalid("spec.selector", go_selector(selector), "`selector` not auto-generated"))
    return errs


def validate_job(obj: dict[str, Any], old: dict[str, Any] | None, subresource: str | None) -> list[Cause]:
    if subresource == "status":
        return _job_status(obj)
    spec = as_dict(obj.get("spec"))
    errs = _generated_selector(obj) + _job_spec(spec, "spec")
    selector = spec.get("selector")
    if selector is None:
        errs.append(required("spec.selector", ""))
    else:
        errs += validate_label_selector(selector, "spec.selector")
        labels = as_dict(as_dict(as_dict(spec.get("template")).get("metadata")).get("labels"))
        if isinstance(selector, dict) and not selector_matches(selector, labels):
            errs.append(invalid("spec.template.metadata.labels", go_map(labels),
                                "`selector` does not match template `labels`"))
    if old is not None:
        errs += _job_update(spec, as_dict(old.get("spec")), as_dict(old.get("status")))
    return errs


def _job_update(spec: dict[str, Any], old_spec: dict[str, Any], old_status: dict[str, Any]) -> list[Cause]:
    """ValidateJobSpecUpdate: what cannot change once a Job exists."""
    errs: list[Cause] = []
    for f in ("selector", "completionMode", "podFailurePolicy", "backoffLimitPerIndex", "manualSelector",
              "podReplacementPolicy"):
        if spec.get(f) != old_spec.get(f):
            value = go_selector(spec.get(f)) if f == "selector" else spec.get(f)
            errs.append(immutable(f"spec.{f}", value))
    # Elastic Indexed Jobs may change completions together with parallelism.
    if spec.get("completions") != old_spec.get("completions"):
        elastic = (spec.get("completionMode") == "Indexed" and spec.get("completions") == spec.get("parallelism"))
        if not elastic:
            errs.append(immutable("spec.completions", spec.get("completions")))
    template, old_template = as_dict(spec.get("template")), as_dict(old_spec.get("template"))
    if template != old_template:
        # A suspended Job that never started may still change where its pods would run.
        mutable = old_spec.get("suspend") is True and not old_status.get("startTime")
        if not mutable or _without_scheduling(template) != _without_scheduling(old_template):
            errs.append(immutable("spec.template", _Go("core.PodTemplateSpec{…}")))
    return errs


class _Go(str):
    """Upstream prints the whole Go struct; kubetui prints its type only."""


def _without_scheduling(template: dict[str, Any]) -> dict[str, Any]:
    spec = dict(as_dict(template.get("spec")))
    for f in ("nodeSelector", "affinity", "tolerations", "schedulingGates"):
        spec.pop(f, None)
    meta = dict(as_dict(template.get("metadata")))
    for f in ("labels", "annotations"):
        meta.pop(f, None)
    return {"metadata": meta, "spec": spec}


def _job_status(obj: dict[str, Any]) -> list[Cause]:
    status = as_dict(obj.get("status"))
    errs: list[Cause] = []
    for f in ("active", "succeeded", "failed", "ready", "terminating"):
        errs += non_negative(f"status.{f}", status.get(f))
    return errs


def validate_cron_job(obj: dict[str, Any], old: dict[str, Any] | None, subresource: str | None) -> list[Cause]:
    if subresource == "status":
        return []
    errs: list[Cause] = []
    name = as_dict(obj.get("metadata")).get("name")
    if old is None and isinstance(name, str) and len(name) > CRONJOB_NAME_MAX:
        errs.append(invalid("metadata.name", name, f"must be no more than {CRONJOB_NAME_MAX} characters"))
    spec = as_dict(obj.get("spec"))
    schedule = spec.get("schedule")
    time_zone = spec.get("timeZone")
    if not schedule:
        errs.append(required("spec.schedule", ""))
    elif isinstance(schedule, str):
        try:
            cron.parse(schedule)
        except cron.CronError as e:
            errs.append(invalid("spec.schedule", schedule, str(e)))
        # Updates keep a TZ that was there before; anything new must use spec.timeZone.
        old_schedule = as_dict(as_dict(old).get("spec")).get("schedule") if old else None
        allow_tz = old is not None and isinstance(old_schedule, str) and "TZ" in old_schedule
        if allow_tz and "TZ" in schedule and time_zone is not None:
            errs.append(invalid("spec.schedule", schedule, "cannot use both timeZone field and TZ or CRON_TZ in "
                                                           "schedule"))
        elif not allow_tz and "TZ" in schedule:
            errs.append(invalid("spec.schedule", schedule,
                                "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
    errs += _time_zone(time_zone)
    for f in ("startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        errs += non_negative(f"spec.{f}", spec.get(f))
    policy = spec.get("concurrencyPolicy")
    if policy in (None, ""):
        errs.append(required("spec.concurrencyPolicy", ""))
    elif policy not in CONCURRENCY_POLICIES:
        errs.append(not_supported("spec.concurrencyPolicy", policy, CONCURRENCY_POLICIES))
    template = as_dict(spec.get("jobTemplate"))
    errs += validate_template_meta(template.get("metadata"), "spec.jobTemplate.metadata")
    tspec = as_dict(template.get("spec"))
    errs += _job_spec(tspec, "spec.jobTemplate.spec")
    if tspec.get("selector") is not None:
        errs.append(invalid("spec.jobTemplate.spec.selector", go_selector(tspec["selector"]),
                            "`selector` will be auto-generated"))
    if tspec.get("manualSelector") is True:
        errs.append(not_supported("spec.jobTemplate.spec.manualSelector", True, ("nil", "false")))
    return errs


def _time_zone(tz: Any) -> list[Cause]:
    """validateTimeZone: an explicit IANA name the controller can load."""
    if tz is None:
        return []
    if not isinstance(tz, str) or tz == "":
        return [invalid("spec.timeZone", tz, "timeZone must be nil or non-empty string")]
    for part in tz.split("/"):
        if part in (".", "..") or part.startswith("-") or not _TZ_CHARS.match(part):
            return [invalid("spec.timeZone", tz, f"unknown time zone {tz}")]
    if tz.lower() == "local":
        return [invalid("spec.timeZone", tz,
                        "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones")]
    try:
        cron.load_zone(tz)
    except Exception:
        return [invalid("spec.timeZone", tz, f"unknown time zone {tz}")]
    return []


__all__ = ["validate_job", "validate_cron_job", "JOB_NAME_LABEL", "CONTROLLER_UID_LABEL",
           "LEGACY_JOB_NAME_LABEL", "LEGACY_CONTROLLER_UID_LABEL"]
