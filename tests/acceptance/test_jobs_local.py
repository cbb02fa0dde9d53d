"""Job pods really run to completion on a local node: exit codes, Completed/Error, kubectl logs job/x."""

from __future__ import annotations

import json

import pytest

from kubetui.cluster import Cluster, ClusterSettings
from tests.acceptance.conftest import AccCluster, rows

pytestmark = pytest.mark.asyncio


async def test_job_pods_run_to_completion_on_a_local_node(tmp_path):
    cluster = Cluster(ClusterSettings(name="batchlocal", provider="local", nodes=1, api_port=0), tmp_path)
    c = AccCluster(cluster, await cluster.up(ready_timeout=60), tmp_path)
    try:
        await c.ok("create", "job", "hello", "--image=busybox:1.36", "--", "sh", "-c", "sleep 1; echo hello-from-job")
        await c.ok("wait", "--for=condition=complete", "job/hello", "--timeout=60s", timeout=70)
        assert "hello-from-job" in await c.ok("logs", "job/hello")
        assert [r[2] for r in rows(await c.ok("get", "pods", "-l", "job-name=hello"))] == ["Completed"]
        job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "fail"},
               "spec": {"backoffLimit": 1, "template": {"spec": {"restartPolicy": "Never", "containers": [
                   {"name": "c", "image": "busybox", "command": ["sh", "-c", "exit 3"]}]}}}}
        await c.ok("apply", "-f", "-", stdin=json.dumps(job))
        await c.ok("wait", "--for=condition=failed", "job/fail", "--timeout=60s", timeout=70)
        pods = await c.pods(selector="job-name=fail")
        assert len(pods) == 2
        codes = {p["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] for p in pods}
        assert codes == {3}
    finally:
        await c.stop()
