"""The Job controller against the real registry, with a fake clock; the test plays scheduler and kubelet."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from ctrl_helpers import events, settle
from kubetui.clock import rfc3339
from kubetui.controllers import job_util as ju
from kubetui.timings import LAB

pytestmark = pytest.mark.asyncio

# Pod changes sync a Job at once here (no batching), so each step is one settle().
UNBATCHED = dataclasses.replace(LAB, job_pod_update_batch_seconds=0.0)


@pytest.fixture
def manager_for(manager_for):
    async def make(*names, **kw):
        return await manager_for(*names, timings=kw.pop("timings", UNBATCHED), **kw)
    return make


def job(name="pi", **spec):
    body = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": "default"},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                                           "containers": [{"name": "main", "image": "busybox"}]}}}}
    body["spec"].update(spec)
    return body


async def pods_of(api, name="pi"):
    items = (await api.list("pods", "default", label_selector=f"batch.kubernetes.io/job-name={name}"))["items"]
    return sorted(items, key=lambda p: p["metadata"]["name"])


async def finish(api, clock, pod, code=0, reason=None):
    """Play the kubelet: the pod's container exits with ``code``."""
    cur = copy.deepcopy(await api.get("pods", pod["metadata"]["name"], "default"))
    now = rfc3339(clock.time())
    cur["status"] = {"phase": "Succeeded" if code == 0 else "Failed",
                     "containerStatuses": [{"name": "main", "ready": False, "restartCount": 0, "image": "busybox",
                                            "state": {"terminated": {"exitCode": code,
                                                                     "reason": reason or ("Completed" if code == 0
                                                                                          else "Error"),
                                                                     "finishedAt": now}}}]}
    await api.update("pods", cur, "default", subresource="status")


async def active(api, name="pi"):
    return [p for p in await pods_of(api, name) if ju.is_active(p)]


async def test_runs_completions_with_parallelism_and_completes(api, clock, manager_for):
    cm = await manager_for("job")
    await api.create("jobs", job(completions=5, parallelism=2), "default")
    await settle(cm)
    running = await active(api)
    assert len(running) == 2
    assert all(ju.TRACKING_FINALIZER in p["metadata"]["finalizers"] for p in running)
    for _ in range(10):
        running = await active(api)
        if not running:
            break
        await finish(api, clock, running[0])
        await settle(cm)
    j = await api.get("jobs", "pi", "default")
    st = j["status"]
    assert st["succeeded"] == 5 and st["active"] == 0 and st["uncountedTerminatedPods"] == {}
    types = {c["type"]: (c["status"], c["reason"], c["message"]) for c in st["conditions"]}
    assert types["Complete"] == ("True", "CompletionsReached", "Reached expected number of succeeded pods")
    assert types["SuccessCriteriaMet"][0] == "True"
    assert st["completionTime"] and st["startTime"]
    # every finished pod was counted once and released
    assert all(ju.TRACKING_FINALIZER not in (p["metadata"].get("finalizers") or []) for p in await pods_of(api))
    assert len(await pods_of(api)) == 5
    assert "Job completed" in await events(api, "Completed")


async def test_backoff_limit_fails_the_job_with_upstreams_reason(api, clock, manager_for):
    cm = await manager_for("job")
    await api.create("jobs", job(backoffLimit=1), "default")
    await settle(cm)
    await finish(api, clock, (await active(api))[0], code=1)
    await settle(cm)
    assert not await active(api), "the replacement waits for the backoff"
    await settle(cm, clock, 1.5)
    [second] = await active(api)
    await finish(api, clock, second, code=1)
    await settle(cm)
    st = (await api.get("jobs", "pi", "default"))["status"]
    assert st["failed"] == 2
    failed = [c for c in st["conditions"] if c["type"] == "Failed"][0]
    assert (failed["reason"], failed["message"]) == ("BackoffLimitExceeded",
                                                     "Job has reached the specified backoff limit")
    assert [c["type"] for c in st["conditions"]] == ["FailureTarget", "Failed"]
    assert "Job has reached the specified backoff limit" in await events(api, "BackoffLimitExceeded")


async def test_active_deadline_kills_running_pods(api, clock, manager_for):
    cm = await manager_for("job")
    await api.create("jobs", job(activeDeadlineSeconds=30, parallelism=2, completions=4), "default")
    await settle(cm)
    assert len(await active(api)) == 2
    await settle(cm, clock, 31)
    # the pods were deleted and still carry the finalizer until counted; the kubelet stops them
    pods = await pods_of(api)
    assert all(p["metadata"].get("deletionTimestamp") for p in pods)
    for p in pods:
        await api.delete("pods", p["metadata"]["name"], "default", grace_period_seconds=0)
    await settle(cm)
    st = (await api.get("jobs", "pi", "default"))["status"]
    failed = [c for c in st["conditions"] if c["type"] == "Failed"][0]
    assert (failed["reason"], failed["message"]) == ("DeadlineExceeded",
                                                     "Job was active longer than specified deadline")
    assert st["failed"] == 2
    assert await pods_of(api) == []  # finalizers gone, pods deleted


async def test_indexed_job_gives_each_pod_its_index(api, clock, manager_for):
    cm = await manager_for("job")
    await api.create("jobs", job(completions=3, parallelism=3, completionMode="Indexed"), "default")
    await settle(cm)
    pods = await active(api)
    idx = sorted(int(p["metadata"]["annotations"][ju.COMPLETION_INDEX]) for p in pods)
    assert idx == [0, 1, 2]
    for p in pods:
        i = p["metadata"]["annotations"][ju.COMPLETION_INDEX]
        assert p["metadata"]["name"].startswith(f"pi-{i}-")
        assert p["metadata"]["labels"][ju.COMPLETION_INDEX] == i
        assert p["spec"]["hostname"] == f"pi-{i}"
        env = p["spec"]["containers"][0]["env"][0]
        assert env["name"] == "JOB_COMPLETION_INDEX"
        assert env["valueFrom"]["fieldRef"]["fieldPath"] == f"metadata.annotations['{ju.COMPLETION_INDEX}']"
    by_index = {p["metadata"]["annotations"][ju.COMPLETION_INDEX]: p for p in pods}
    await finish(api, clock, by_index["1"])
    await finish(api, clock, by_index["0"], code=2)
    await settle(cm, clock, 2)
    st = (await api.get("jobs", "pi", "default"))["status"]
    assert st["completedIndexes"] == "1"
    again = [p for p in await active(api) if p["metadata"]["annotations"][ju.COMPLETION_INDEX] == "0"]
    assert len(again) == 1, "index 0 runs again"
    for p in await active(api):
        await finish(api, clock, p)
    await settle(cm)
    st = (await api.get("jobs", "pi", "default"))["status"]
    assert st["completedIndexes"] == "0-2" and st["succeeded"] == 3 and st["failed"] == 1


async def test_pod_failure_policy_fail_job_and_ignore(api, clock, manager_for):
    cm = await manager_for("job")
    policy = {"rules": [{"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In",
                                                              "values": [42]}},
                        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}
    await api.create("jobs", job(backoffLimit=0, podFailurePolicy=policy), "default")
    await settle(cm)
    [pod] = await active(api)
    # a disruption is ignored: not counted, replaced at once
    cur = copy.deepcopy(await api.get("pods", pod["metadata"]["name"], "default"))
    cur["status"] = {"phase": "Failed", "conditions": [{"type": "DisruptionTarget", "status": "True",
                                                       "reason": "EvictionByEvictionAPI"}]}
    await api.update("pods", cur, "default", subresource="status")
    await settle(cm)
    st = (await api.get("jobs", "pi", "default"))["status"]
    assert st.get("failed", 0) == 0 and not any(c["type"] == "Failed" for c in st.get("conditions") or [])
    [pod] = await active(api)
    await finish(api, clock, pod, code=42)
    await settle(cm)
    st = (await api.get("jobs", "pi", "default"))["status"]
    failed = [c for c in st["conditions"] if c["type"] == "Failed"][0]
    assert failed["reason"] == "PodFailurePolicy"
    assert failed["message"] == (f"Container main for pod default/{pod['metadata']['name']} failed with exit code "
                                 "42 matching FailJob rule at index 0")


async def test_suspend_deletes_pods_and_resume_starts_again(api, clock, manager_for):
    cm = await manager_for("job")
    await api.create("jobs", job(parallelism=2, completions=2), "default")
    await settle(cm)
    assert len(await active(api)) == 2
    await api.patch("jobs", "pi", {"spec": {"suspend": True}}, "default", patch_type="application/merge-patch+json")
    await settle(cm)
    assert await active(api) == []
    st = (await api.get("jobs", "pi", "default"))["status"]
    sus = [c for c in st["conditions"] if c["type"] == "Suspended"][0]
    assert (sus["status"], sus["reason"], sus["message"]) == ("True", "JobSuspended", "Job suspended")
    assert st.get("failed", 0) == 0, "pods deleted by suspension are not failures"
    await api.patch("jobs", "pi", {"spec": {"suspend": False}}, "default",
                    patch_type="application/merge-patch+json")
    await settle(cm)
    assert len(await active(api)) == 2
    st = (await api.get("jobs", "pi", "default"))["status"]
    sus = [c for c in st["conditions"] if c["type"] == "Suspended"][0]
    assert (sus["status"], sus["reason"]) == ("False", "JobResumed")


async def test_work_queue_job_completes_when_one_succeeds_and_none_run(api, clock, manager_for):
    cm = await manager_for("job")
    await api.create("jobs", job(parallelism=3), "default")
    await settle(cm)
    pods = await active(api)
    assert len(pods) == 3
    await finish(api, clock, pods[0])
    await settle(cm)
    assert len(await active(api)) == 2, "no new pod after a success in a work queue"
    for p in pods[1:]:
        await finish(api, clock, p)
    await settle(cm)
    j = await api.get("jobs", "pi", "default")
    assert any(c["type"] == "Complete" for c in j["status"]["conditions"])
    assert j["status"]["succeeded"] == 3


async def test_indexes_format_like_upstream():
    assert ju.format_indexes({1, 3, 4, 5, 7}) == "1,3-5,7"
    assert ju.format_indexes({1, 2}) == "1,2"
    assert ju.parse_indexes("1,3-5,7") == {1, 3, 4, 5, 7}
    assert [ju.backoff_delay(n, 10, 360) for n in range(7)] == [0, 10, 20, 40, 80, 160, 320]
    assert ju.backoff_delay(7, 10, 360) == 360


async def test_backoff_limit_per_index_fails_only_that_index(api, clock, manager_for):
    cm = await manager_for("job")
    await api.create("jobs", job(completions=2, parallelism=2, completionMode="Indexed", backoffLimitPerIndex=0),
                     "default")
    await settle(cm)
    by_index = {p["metadata"]["annotations"][ju.COMPLETION_INDEX]: p for p in await active(api)}
    assert by_index["0"]["metadata"]["annotations"][ju.INDEX_FAILURE_COUNT] == "0"
    await finish(api, clock, by_index["0"], code=1)
    await settle(cm, clock, 2)
    assert [p["metadata"]["annotations"][ju.COMPLETION_INDEX] for p in await active(api)] == ["1"], \
        "index 0 used its only try; index 1 still runs"
    await finish(api, clock, by_index["1"])
    await settle(cm)
    st = (await api.get("jobs", "pi", "default"))["status"]
    assert (st["failedIndexes"], st["completedIndexes"]) == ("0", "1")
    failed = [c for c in st["conditions"] if c["type"] == "Failed"][0]
    assert (failed["reason"], failed["message"]) == ("FailedIndexes", "Job has failed indexes")


async def test_pod_changes_are_batched_into_one_sync(api, clock, manager_for):
    cm = await manager_for("job", timings=LAB)
    await api.create("jobs", job(completions=3, parallelism=3), "default")
    await settle(cm)
    pods = await active(api)
    assert len(pods) == 3
    job_ctrl = cm.controllers["job"]
    before = job_ctrl.stats.reconciles
    for p in pods:
        await finish(api, clock, p)
    await settle(cm)
    assert job_ctrl.stats.reconciles == before, "the sync waits for the batch period"
    await settle(cm, clock, LAB.job_pod_update_batch_seconds + 0.01)
    assert (await api.get("jobs", "pi", "default"))["status"]["succeeded"] == 3


async def test_a_job_managed_by_another_controller_is_left_alone(api, clock, manager_for):
    cm = await manager_for("job")
    await api.create("jobs", job(managedBy="example.com/batch-runner"), "default")
    await settle(cm)
    assert await pods_of(api) == []
    assert not (await api.get("jobs", "pi", "default")).get("status")
