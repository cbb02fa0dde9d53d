"""The real kubectl against the policy kinds (issue 13): ReplicationControllers, PodTemplates,
ResourceQuotas, LimitRanges, PodDisruptionBudgets and PriorityClasses, over HTTPS.

``kubectl create quota|pdb|priorityclass`` send protobuf bodies; ``kubectl scale rc``
goes through the scale subresource; ``kubectl explain`` reads the OpenAPI v3 schemas.
"""

from __future__ import annotations

import pytest
import pytest_asyncio
import yaml

from tests.apiserver.test_http_support import HTTPCluster, start_cluster

pytestmark = pytest.mark.asyncio(loop_scope="module")

RC = """apiVersion: v1
kind: ReplicationController
metadata: {name: nginx}
spec:
  replicas: 3
  template:
    metadata: {labels: {app: nginx}}
    spec:
      containers: [{name: nginx, image: nginx}]
"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory):
    c = await start_cluster(tmp_path_factory.mktemp("policy"))
    yield c
    await c.stop()


async def ok(c: HTTPCluster, *args: str, stdin: bytes | None = None) -> str:
    rc, out, err = await c.kubectl(*args, stdin=stdin)
    assert rc == 0, f"kubectl {' '.join(args)} -> {rc}\nstdout: {out}\nstderr: {err}"
    return out


async def fails(c: HTTPCluster, *args: str, stdin: bytes | None = None) -> str:
    rc, out, err = await c.kubectl(*args, stdin=stdin)
    assert rc != 0, f"kubectl {' '.join(args)} succeeded: {out}"
    return err


async def test_api_resources_lists_the_policy_kinds(cluster):
    out = await ok(cluster, "api-resources")
    lines = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert lines["replicationcontrollers"] == ["replicationcontrollers", "rc", "v1", "true", "ReplicationController"]
    assert lines["podtemplates"] == ["podtemplates", "v1", "true", "PodTemplate"]
    assert lines["resourcequotas"] == ["resourcequotas", "quota", "v1", "true", "ResourceQuota"]
    assert lines["limitranges"] == ["limitranges", "limits", "v1", "true", "LimitRange"]
    assert lines["poddisruptionbudgets"] == ["poddisruptionbudgets", "pdb", "policy/v1", "true",
                                             "PodDisruptionBudget"]
    assert lines["priorityclasses"] == ["priorityclasses", "pc", "scheduling.k8s.io/v1", "false", "PriorityClass"]


async def test_create_generators_send_protobuf_and_print_upstream_columns(cluster):
    assert "resourcequota/q1 created" in await ok(
        cluster, "create", "quota", "q1", "--hard=cpu=1,memory=1Gi,pods=2,count/deployments.apps=1",
        "--scopes=NotTerminating")
    q = yaml.safe_load(await ok(cluster, "get", "quota", "q1", "-o", "yaml"))
    assert q["spec"] == {"hard": {"count/deployments.apps": "1", "cpu": "1", "memory": "1Gi", "pods": "2"},
                         "scopes": ["NotTerminating"]}
    assert "poddisruptionbudget.policy/p1 created" in await ok(
        cluster, "create", "pdb", "p1", "--selector=app=nginx", "--min-available=2")
    assert "priorityclass.scheduling.k8s.io/high created" in await ok(
        cluster, "create", "priorityclass", "high", "--value=1000", "--description=high",
        "--preemption-policy=Never")
    out = await ok(cluster, "get", "pdb,pc")
    assert "MIN AVAILABLE   MAX UNAVAILABLE   ALLOWED DISRUPTIONS" in out
    assert any(line.split() == ["poddisruptionbudget.policy/p1", "2", "N/A", "0", line.split()[-1]]
               for line in out.splitlines())
    assert "VALUE        GLOBAL-DEFAULT   AGE   PREEMPTIONPOLICY" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    assert rows["priorityclass.scheduling.k8s.io/system-node-critical"][1:3] == ["2000001000", "false"]
    assert rows["priorityclass.scheduling.k8s.io/high"][1:3] == ["1000", "false"]
    assert rows["priorityclass.scheduling.k8s.io/high"][-1] == "Never"


async def test_replication_controller_scale_subresource(cluster):
    assert "replicationcontroller/nginx created" in await ok(cluster, "apply", "-f", "-", stdin=RC.encode())
    assert "replicationcontroller/nginx scaled" in await ok(cluster, "scale", "rc", "nginx", "--replicas=5")
    out = await ok(cluster, "get", "rc", "nginx", "-o", "wide")
    assert out.splitlines()[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE", "CONTAINERS", "IMAGES",
                                           "SELECTOR"]
    assert out.splitlines()[1].split()[:2] == ["nginx", "5"] and "app=nginx" in out
    scale = yaml.safe_load(await ok(cluster, "get", "--raw",
                                    "/api/v1/namespaces/default/replicationcontrollers/nginx/scale"))
    assert scale["spec"]["replicas"] == 5 and scale["status"]["selector"] == "app=nginx"


async def test_bad_input_is_refused_with_upstream_messages(cluster):
    err = await fails(cluster, "create", "priorityclass", "toohigh", "--value=2000000000")
    assert 'PriorityClass "toohigh" is invalid: value: Forbidden: maximum allowed value of a user defined ' \
           "priority is 1000000000" in err
    err = await fails(cluster, "delete", "pc", "system-node-critical")
    assert 'priorityclasses.scheduling.k8s.io "system-node-critical" is forbidden: this is a system priority ' \
           "class and cannot be deleted" in err
    err = await fails(cluster, "create", "pdb", "bad", "--selector=app=x", "--min-available=120%")
    assert 'spec.minAvailable: Invalid value: "120%": must not be greater than 100%' in err
    assert "bad" not in await ok(cluster, "get", "pdb")


async def test_explain_reads_the_schemas(cluster):
    out = await ok(cluster, "explain", "limitrange.spec.limits")
    assert "defaultRequest\t<map[string]Quantity>" in out and "maxLimitRequestRatio" in out
    out = await ok(cluster, "explain", "pdb.spec.unhealthyPodEvictionPolicy")
    assert "IfHealthyBudget" in out
    out = await ok(cluster, "explain", "resourcequota.spec.scopeSelector")
    assert "matchExpressions" in out
