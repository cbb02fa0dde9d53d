"""Job pods run to completion on simulated nodes, end to end (API, scheduler, Job controller, simulated kubelet)."""

import pytest

from kubetui.bench.jobs import run_job
from kubetui.providers.simulated_run import finished_status, restarted_status, run_plan


def pod(policy, *command):
    return {"spec": {"restartPolicy": policy, "containers": [{"name": "c", "command": list(command)}]}}


def test_run_plan_reads_sleep_and_exit():
    assert run_plan(pod("Always", "sleep", "5")) is None
    assert run_plan(pod("Never", "sleep", "5")) == (5.0, 0)
    assert run_plan(pod("OnFailure", "sh", "-c", "sleep 1; sleep 2; exit 3")) == (3.0, 3)
    assert run_plan(pod("Never", "perl", "-e", "print 1")) == (0.0, 0)


def test_finished_status_is_what_kubectl_shows_as_completed_or_error():
    running = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
               "containerStatuses": [{"name": "c", "ready": True, "restartCount": 0,
                                      "state": {"running": {"startedAt": "t0"}}}]}
    done = finished_status(running, 0, "t1")
    assert done["phase"] == "Succeeded"
    assert done["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    assert done["conditions"][0]["reason"] == "PodCompleted"
    failed = finished_status(running, 2, "t1")
    assert failed["phase"] == "Failed"
    assert failed["containerStatuses"][0]["state"]["terminated"] == {
        "exitCode": 2, "reason": "Error", "startedAt": "t0", "finishedAt": "t1", "containerID": None}
    again = restarted_status(running, 1, "t1")
    assert again["phase"] == "Running" and again["containerStatuses"][0]["restartCount"] == 1


@pytest.mark.asyncio
async def test_a_parallel_job_completes_on_simulated_nodes():
    result = await run_job(nodes=3, completions=12, parallelism=4, timeout=60)
    assert "Complete" in result["conditions"], result
    assert result["succeeded"] == 12 and result["failed"] == 0
