"""batch/v1 validation: upstream's field paths and messages for what a learner gets wrong."""

import copy

import pytest

from kubetui.api.defaults import apply_defaults
from kubetui.api.resources import resource_for
from kubetui.api.validation import validate

JOBS, CRONJOBS = resource_for("jobs"), resource_for("cronjobs")

JOB = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi", "namespace": "default", "uid": "u"},
       "spec": {"manualSelector": True, "selector": {"matchLabels": {"app": "pi"}},
                "template": {"metadata": {"labels": {"app": "pi"}}, "spec": {
                    "restartPolicy": "Never", "containers": [{"name": "main", "image": "perl"}]}}}}
CJ = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "hello", "namespace": "default"},
      "spec": {"schedule": "@hourly", "jobTemplate": {"spec": {"template": {"spec": {
          "restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox"}]}}}}}}


def messages(resource, obj, old=None):
    body = copy.deepcopy(obj)
    apply_defaults(resource, body)
    return [f"{c['field']}: {c['message']}" for c in validate(resource, body, old)]


def with_spec(base, **spec):
    obj = copy.deepcopy(base)
    obj["spec"].update(spec)
    return obj


@pytest.mark.parametrize("spec, message", [
    ({"podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [0]}}]}},
     "spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value: 0: must not be 0 for the In operator"),
    ({"podFailurePolicy": {"rules": [{"action": "Retry", "onExitCodes": {"operator": "In", "values": [1]}}]}},
     'spec.podFailurePolicy.rules[0].action: Unsupported value: "Retry": supported values: "Count", '
     '"FailIndex", "FailJob", "Ignore"'),
    ({"podFailurePolicy": {"rules": [{"action": "Ignore", "onExitCodes": {"operator": "In", "values": [3, 2]}}]}},
     "spec.podFailurePolicy.rules[0].onExitCodes.values[1]: Invalid value: 2: must be ordered"),
    ({"podFailurePolicy": {"rules": [{"action": "Ignore"}]}},
     'spec.podFailurePolicy.rules[0]: Invalid value: "": specifying one of OnExitCodes and OnPodConditions is '
     'required'),
    ({"completionMode": "Sometimes"},
     'spec.completionMode: Unsupported value: "Sometimes": supported values: "NonIndexed", "Indexed"'),
    ({"backoffLimitPerIndex": 1}, "spec.backoffLimitPerIndex: Forbidden: requires indexed completion mode"),
    ({"activeDeadlineSeconds": -5},
     "spec.activeDeadlineSeconds: Invalid value: -5: must be greater than or equal to 0"),
])
def test_job_spec_errors(spec, message):
    assert message in messages(JOBS, with_spec(JOB, **spec))


def test_a_job_with_restart_policy_on_failure_and_a_pod_failure_policy_is_refused():
    obj = with_spec(JOB, podFailurePolicy={"rules": [{"action": "Ignore", "onPodConditions": [
        {"type": "DisruptionTarget"}]}]})
    obj["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    assert ('spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when '
            'podFailurePolicy is specified') in messages(JOBS, obj)


def test_generated_selector_labels_must_be_the_jobs_own():
    obj = copy.deepcopy(JOB)
    obj["spec"].pop("manualSelector")
    obj["spec"]["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": "someone-else"}}
    obj["spec"]["template"]["metadata"]["labels"] = {"batch.kubernetes.io/controller-uid": "someone-else"}
    msgs = messages(JOBS, obj)
    assert "spec.template.metadata.labels[controller-uid]: Required value: u" in msgs
    assert any(m.startswith("spec.template.metadata.labels[batch.kubernetes.io/controller-uid]: Invalid value: "
                            "map[string]string{") and m.endswith("must be 'u'") for m in msgs)
    assert any(m.startswith("spec.selector: Invalid value: v1.LabelSelector{") and
               m.endswith("`selector` not auto-generated") for m in msgs)


@pytest.mark.parametrize("spec, message", [
    ({"schedule": ""}, "spec.schedule: Required value"),
    ({"schedule": "* * * *"}, 'spec.schedule: Invalid value: "* * * *": expected exactly 5 fields, found 4: '
                              '[* * * *]'),
    ({"schedule": "0 25 * * *"}, 'spec.schedule: Invalid value: "0 25 * * *": end of range (25) above maximum '
                                 '(23): 25'),
    ({"schedule": "@fortnightly"}, 'spec.schedule: Invalid value: "@fortnightly": unrecognized descriptor: '
                                   '@fortnightly'),
    ({"schedule": "TZ=Europe/Berlin 0 9 * * *"},
     'spec.schedule: Invalid value: "TZ=Europe/Berlin 0 9 * * *": cannot use TZ or CRON_TZ in schedule, use '
     'timeZone field instead'),
    ({"timeZone": "Mars/Olympus"}, 'spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus'),
    ({"timeZone": "Local"}, 'spec.timeZone: Invalid value: "Local": timeZone must be an explicit time zone as '
                            'defined in https://www.iana.org/time-zones'),
    ({"concurrencyPolicy": "Sometimes"},
     'spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"'),
    ({"successfulJobsHistoryLimit": -1},
     "spec.successfulJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0"),
])
def test_cronjob_errors(spec, message):
    assert message in messages(CRONJOBS, with_spec(CJ, **spec))


def test_cronjob_name_leaves_room_for_the_job_suffix():
    obj = copy.deepcopy(CJ)
    obj["metadata"]["name"] = "x" * 53
    assert f'metadata.name: Invalid value: "{"x" * 53}": must be no more than 52 characters' in messages(CRONJOBS, obj)


def test_cronjob_job_template_may_not_choose_a_selector():
    obj = copy.deepcopy(CJ)
    obj["spec"]["jobTemplate"]["spec"]["selector"] = {"matchLabels": {"a": "b"}}
    assert any(m.startswith("spec.jobTemplate.spec.selector: Invalid value: ") and
               m.endswith("`selector` will be auto-generated") for m in messages(CRONJOBS, obj))


def test_good_schedules_pass():
    for schedule in ("*/5 * * * *", "0 0 1 1 *", "@yearly", "@annually", "@monthly", "@weekly", "@daily",
                     "@midnight", "@hourly", "0 9-17/2 * JAN-jun MON,wed,Fri", "0 0 ? * *", "@every 1h30m"):
        assert messages(CRONJOBS, with_spec(CJ, schedule=schedule)) == [], schedule
