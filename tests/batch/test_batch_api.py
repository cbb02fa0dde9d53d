"""batch/v1 over HTTPS with the real kubectl: discovery, defaults, validation, printing, protobuf create.

One API server per module (no controllers): what kube-apiserver itself does
with Jobs and CronJobs.
"""

from __future__ import annotations

import json

import pytest
import pytest_asyncio
import yaml

from kubetui.api.resources import resource_for
from tests.apiserver.test_http_support import start_cluster

pytestmark = pytest.mark.asyncio(loop_scope="module")

JOBS, CRONJOBS = resource_for("jobs"), resource_for("cronjobs")

PI = """apiVersion: batch/v1
kind: Job
metadata:
  name: pi
spec:
  template:
    spec:
      containers:
      - name: pi
        image: perl:5.34.0
        command: ["perl",  "-Mbignum=bpi", "-wle", "print bpi(2000)"]
      restartPolicy: Never
  backoffLimit: 4
"""

HELLO = """apiVersion: batch/v1
kind: CronJob
metadata:
  name: hello
spec:
  schedule: "{schedule}"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: hello
            image: busybox:1.28
            imagePullPolicy: IfNotPresent
            command: [/bin/sh, -c, date; echo Hello from the Kubernetes cluster]
          restartPolicy: OnFailure
"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory):
    c = await start_cluster(tmp_path_factory.mktemp("batch"))
    yield c
    await c.stop()


async def ok(c, *args, stdin=None):
    rc, out, err = await c.kubectl(*args, stdin=stdin)
    assert rc == 0, f"kubectl {' '.join(args)} -> {rc}\n{out}\n{err}"
    return out


async def test_api_resources_list_jobs_and_cronjobs(cluster):
    out = await ok(cluster, "api-resources", "--api-group=batch")
    lines = [line.split() for line in out.splitlines()[1:]]
    assert ["cronjobs", "cj", "batch/v1", "true", "CronJob"] in lines
    assert ["jobs", "batch/v1", "true", "Job"] in lines


async def test_job_is_defaulted_and_gets_a_generated_selector(cluster):
    await ok(cluster, "apply", "-f", "-", stdin=PI.encode())
    job = json.loads(await ok(cluster, "get", "job", "pi", "-o", "json"))
    uid, spec = job["metadata"]["uid"], job["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 4)
    assert (spec["completionMode"], spec["suspend"], spec["manualSelector"]) == ("NonIndexed", False, False)
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    want = {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": "pi",
            "controller-uid": uid, "job-name": "pi"}
    assert spec["template"]["metadata"]["labels"] == want
    assert job["metadata"]["labels"] == want
    assert job["metadata"]["generation"] == 1
    out = await ok(cluster, "get", "jobs")
    assert out.split("\n")[0].split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert out.split("\n")[1].split()[:3] == ["pi", "Running", "0/1"]
    wide = await ok(cluster, "get", "job", "pi", "-o", "wide")
    assert wide.split("\n")[0].split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE", "CONTAINERS",
                                           "IMAGES", "SELECTOR"]
    assert f"batch.kubernetes.io/controller-uid={uid}" in wide


async def test_job_spec_is_immutable_where_upstream_says(cluster):
    rc, _, err = await cluster.kubectl("patch", "job", "pi", "--type=merge", "-p", '{"spec":{"completions":3}}')
    assert rc == 1
    assert 'spec.completions: Invalid value: 3: field is immutable' in err


@pytest.mark.parametrize("patch, message", [
    ({"spec": {"completions": -1}}, "spec.completions: Invalid value: -1: must be greater than or equal to 0"),
    ({"spec": {"template": {"spec": {"restartPolicy": "Always"}}}},
     'spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"'),
    ({"spec": {"completionMode": "Indexed", "parallelism": 2, "completions": None}},
     "spec.completions: Required value: when completion mode is Indexed"),
    ({"spec": {"backoffLimit": -2}}, "spec.backoffLimit: Invalid value: -2: must be greater than or equal to 0"),
])
async def test_bad_jobs_are_refused_with_upstreams_words_and_nothing_is_stored(cluster, patch, message):
    job = yaml.safe_load(PI)
    job["metadata"]["name"] = "bad"
    for k, v in patch["spec"].items():
        if isinstance(v, dict):
            job["spec"]["template"]["spec"].update(v["spec"])
        elif v is None:
            job["spec"].pop(k, None)
        else:
            job["spec"][k] = v
    rc, _, err = await cluster.kubectl("create", "-f", "-", stdin=json.dumps(job).encode())
    assert rc == 1 and message in err, err
    assert 'The Job "bad" is invalid' in err
    rc, _, err = await cluster.kubectl("get", "job", "bad")
    assert rc == 1 and "NotFound" in err


async def test_cronjob_with_a_bad_schedule_is_refused(cluster):
    rc, _, err = await cluster.kubectl("apply", "-f", "-", stdin=HELLO.format(schedule="61 * * * *").encode())
    assert rc == 1
    assert ('The CronJob "hello" is invalid: spec.schedule: Invalid value: "61 * * * *": '
            'end of range (61) above maximum (59): 61') in err
    rc, _, err = await cluster.kubectl("apply", "-f", "-",
                                       stdin=HELLO.format(schedule="CRON_TZ=UTC 0 * * * *").encode())
    assert rc == 1 and "cannot use TZ or CRON_TZ in schedule, use timeZone field instead" in err
    rc, _, _ = await cluster.kubectl("get", "cronjob", "hello")
    assert rc == 1


async def test_cronjob_defaults_and_columns(cluster):
    await ok(cluster, "apply", "-f", "-", stdin=HELLO.format(schedule="* * * * *").encode())
    cj = json.loads(await ok(cluster, "get", "cj", "hello", "-o", "json"))
    spec = cj["spec"]
    assert (spec["concurrencyPolicy"], spec["suspend"]) == ("Allow", False)
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 1)
    assert "backoffLimit" not in spec["jobTemplate"]["spec"]  # SetDefaults_Job is a Job's, not a template's
    out = await ok(cluster, "get", "cronjobs")
    assert out.split("\n")[0].split() == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE",
                                          "AGE"]
    assert out.split("\n")[1].split()[:8] == ["hello", "*", "*", "*", "*", "*", "<none>", "False"]


async def test_kubectl_create_job_and_cronjob_send_protobuf(cluster):
    await ok(cluster, "create", "job", "once", "--image=busybox:1.36", "--", "sh", "-c", "echo hi")
    job = json.loads(await ok(cluster, "get", "job", "once", "-o", "json"))
    c = job["spec"]["template"]["spec"]["containers"][0]
    assert c["command"] == ["sh", "-c", "echo hi"] and c["image"] == "busybox:1.36"
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    await ok(cluster, "create", "cronjob", "tick", "--image=busybox:1.36", "--schedule=*/1 * * * *",
             "--", "date")
    cj = json.loads(await ok(cluster, "get", "cronjob", "tick", "-o", "json"))
    assert cj["spec"]["schedule"] == "*/1 * * * *"
    assert cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"
    await ok(cluster, "create", "job", "tick-manual", "--from=cronjob/tick")
    manual = json.loads(await ok(cluster, "get", "job", "tick-manual", "-o", "json"))
    assert manual["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    ref = manual["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["uid"]) == ("CronJob", "tick", cj["metadata"]["uid"])


async def test_get_all_lists_jobs_and_cronjobs(cluster):
    out = await ok(cluster, "get", "all")
    assert "job.batch/pi" in out and "cronjob.batch/hello" in out


async def test_explain_job_template(cluster):
    out = await ok(cluster, "explain", "job.spec.template")
    assert "KIND:       Job" in out and "FIELD: template <PodTemplateSpec>" in out and "spec\t<PodSpec>" in out
    out = await ok(cluster, "explain", "cronjob.spec.concurrencyPolicy")
    assert "Forbid" in out


async def test_status_subresource_keeps_spec(cluster):
    job = await cluster.registry.get(JOBS, "default", "pi")
    job["status"] = {"active": 1}
    job["spec"]["parallelism"] = 7
    await cluster.registry.update(JOBS, "default", "pi", job, subresource="status")
    stored = await cluster.registry.get(JOBS, "default", "pi")
    assert stored["status"]["active"] == 1 and stored["spec"]["parallelism"] == 1


async def test_deleting_a_job_without_a_policy_orphans_its_pods_as_batch_v1_does(cluster):
    await cluster.registry.create(JOBS, "default", yaml.safe_load(PI.replace("name: pi", "name: keep")))
    gone = await cluster.registry.delete(JOBS, "default", "keep")
    assert gone["metadata"]["finalizers"] == ["orphan"], "the garbage collector orphans the pods first"
    await cluster.registry.create(JOBS, "default", yaml.safe_load(PI.replace("name: pi", "name: drop")))
    gone = await cluster.registry.delete(JOBS, "default", "drop", propagation_policy="Background")
    assert not gone["metadata"].get("finalizers")
