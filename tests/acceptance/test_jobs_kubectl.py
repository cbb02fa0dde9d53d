"""Issue 13 acceptance, batch: the real kubectl and the official Python client drive Jobs and CronJobs
on a whole cluster with simulated nodes, where Job pods run to completion (``simulated_run``)."""

from __future__ import annotations

import json

import pytest
import pytest_asyncio

from tests.acceptance.conftest import eventually, rows, start_cluster

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory):
    c = await start_cluster(tmp_path_factory.mktemp("jobs"), nodes=2)
    yield c
    await c.stop()


async def test_create_job_wait_complete_and_describe(cluster):
    await cluster.ok("create", "job", "hello", "--image=busybox:1.36", "--", "sh", "-c", "sleep 1; echo done")
    await cluster.ok("wait", "--for=condition=complete", "job/hello", "--timeout=60s", timeout=70)
    out = await cluster.ok("get", "job", "hello")
    assert rows(out)[0][:3] == ["hello", "Complete", "1/1"]
    pods = rows(await cluster.ok("get", "pods", "-l", "batch.kubernetes.io/job-name=hello"))
    assert [p[1:3] for p in pods] == [["0/1", "Completed"]]
    described = await cluster.ok("describe", "job", "hello")
    for line in ("Parallelism:      1", "Completions:      1", "Completion Mode:  NonIndexed",
                 "Backoff Limit:    6", "Pods Statuses:    0 Active (0 Ready) / 1 Succeeded / 0 Failed"):
        assert line in described, described
    assert "SuccessfulCreate" in described and "Completed" in described
    pod = (await cluster.pods(selector="job-name=hello"))[0]
    assert "batch.kubernetes.io/job-tracking" not in (pod["metadata"].get("finalizers") or [])


async def test_failing_job_reaches_backoff_limit(cluster):
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "fails"},
           "spec": {"backoffLimit": 1, "template": {"spec": {"restartPolicy": "Never", "containers": [
               {"name": "c", "image": "busybox:1.36", "command": ["sh", "-c", "exit 3"]}]}}}}
    await cluster.ok("apply", "-f", "-", stdin=json.dumps(job))
    await cluster.ok("wait", "--for=condition=failed", "job/fails", "--timeout=60s", timeout=70)
    described = await cluster.ok("describe", "job", "fails")
    assert "BackoffLimitExceeded" in described and "Job has reached the specified backoff limit" in described
    assert "0 Active (0 Ready) / 0 Succeeded / 2 Failed" in described
    statuses = {p[2] for p in rows(await cluster.ok("get", "pods", "-l", "job-name=fails"))}
    assert statuses == {"Error"}


async def test_cronjob_and_create_job_from_it(cluster):
    await cluster.ok("create", "cronjob", "tick", "--image=busybox:1.36", "--schedule=*/1 * * * *",
                     "--", "sh", "-c", "echo tick")
    await cluster.ok("create", "job", "tick-now", "--from=cronjob/tick")
    await cluster.ok("wait", "--for=condition=complete", "job/tick-now", "--timeout=60s", timeout=70)
    described = await cluster.ok("describe", "cronjob", "tick")
    for line in ("Schedule:                      */1 * * * *", "Concurrency Policy:            Allow",
                 "Suspend:                       False", "Successful Job History Limit:  3",
                 "Failed Job History Limit:      1"):
        assert line in described, described
    out = await cluster.ok("get", "cronjob", "tick")
    assert rows(out)[0][:7] == ["tick", "*/1", "*", "*", "*", "*", "<none>"]


async def test_official_python_client_runs_an_indexed_job(cluster):
    from kubernetes import client as k8s, config

    api_client = config.new_client_from_config(str(cluster.kubeconfig))
    batch = k8s.BatchV1Api(api_client)
    body = k8s.V1Job(metadata=k8s.V1ObjectMeta(name="indexed"), spec=k8s.V1JobSpec(
        completions=3, parallelism=3, completion_mode="Indexed",
        template=k8s.V1PodTemplateSpec(spec=k8s.V1PodSpec(restart_policy="Never", containers=[
            k8s.V1Container(name="c", image="busybox:1.36", command=["sh", "-c", "echo $JOB_COMPLETION_INDEX"])]))))
    import asyncio
    await asyncio.to_thread(batch.create_namespaced_job, "default", body)

    async def done():
        job = await asyncio.to_thread(batch.read_namespaced_job_status, "indexed", "default")
        return job if job.status.succeeded == 3 else None

    job = await eventually(done, "the Indexed Job to succeed 3 times", timeout=60)
    assert job.status.completed_indexes == "0-2"
    assert any(c.type == "Complete" and c.status == "True" for c in job.status.conditions)
    hostnames = sorted(p["spec"]["hostname"] for p in await cluster.pods(selector="job-name=indexed"))
    assert hostnames == ["indexed-0", "indexed-1", "indexed-2"]
    api_client.close()
