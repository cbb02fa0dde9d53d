"""The real kubectl against the policy kinds (issue 13): ReplicationControllers, PodTemplates,
ResourceQuotas, LimitRanges, PodDisruptionBudgets and PriorityClasses, over HTTPS.

``kubectl create quota|pdb|priorityclass`` send protobuf bodies; ``kubectl scale rc``
goes through the scale subresource; ``kubectl explain`` reads the OpenAPI v3 schemas.
"""

from __future__ import annotations

import pytest
import pytest_asyncio
import yaml

from kubetui.api.resources import resource_for

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


LIMITS = """apiVersion: v1
kind: LimitRange
metadata: {name: cpu-defaults}
spec:
  limits:
  - type: Container
    default: {cpu: 500m, memory: 256Mi}
    defaultRequest: {cpu: 250m, memory: 128Mi}
    max: {cpu: "1"}
"""


async def _quota_used(c: HTTPCluster, want: dict) -> dict:
    """Wait for the quota controller to have counted (a real sync point, bounded)."""
    import asyncio
    for _ in range(200):
        rq = await c.registry.get(resource_for("quota"), "team", "compute")
        if (rq.get("status") or {}).get("used") == want:
            return rq
        await asyncio.sleep(0.05)
    raise AssertionError(f"quota used never became {want}: {rq.get('status')}")


async def test_team_namespace_quota_and_limit_range_kubectl_and_python_client(cluster):
    """LimitRange defaults applied, quota charged, the over-quota pod refused with upstream's 403 (kubectl
    and the official Python client), and kubectl describe quota/limitrange as on a real cluster."""
    import asyncio
    import json

    from kubernetes import client as k8s
    from kubernetes.client.rest import ApiException

    from kubetui.apiserver.inprocess import InProcessClient
    from kubetui.controllers.manager import ControllerManager
    from tests.apiserver.test_pyclient import api_client

    cm = ControllerManager(InProcessClient(cluster.registry), controllers=["resourcequota"])
    await cm.start()
    try:
        await ok(cluster, "create", "namespace", "team")
        await ok(cluster, "apply", "-n", "team", "-f", "-", stdin=LIMITS.encode())
        await ok(cluster, "create", "quota", "compute", "-n", "team",
                 "--hard=pods=2,requests.cpu=1,limits.memory=1Gi")
        await _quota_used(cluster, {"pods": "0", "requests.cpu": "0", "limits.memory": "0"})
        await ok(cluster, "run", "a", "-n", "team", "--image=nginx")
        res = json.loads(await ok(cluster, "get", "pod", "a", "-n", "team", "-o",
                                  "jsonpath={.spec.containers[0].resources}"))
        assert res == {"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "250m", "memory": "128Mi"}}
        err = await fails(cluster, "run", "big", "-n", "team", "--image=nginx", "--overrides",
                          '{"spec":{"containers":[{"name":"big","image":"nginx","resources":{"limits":{"cpu":"2"}}}]}}')
        assert 'pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2' in err
        await ok(cluster, "run", "b", "-n", "team", "--image=nginx")
        await _quota_used(cluster, {"pods": "2", "requests.cpu": "500m", "limits.memory": "512Mi"})
        out = await ok(cluster, "get", "quota", "-n", "team")
        assert out.splitlines()[1].split()[:7] == ["compute", "pods:", "2/2,", "requests.cpu:", "500m/1",
                                                   "limits.memory:", "512Mi/1Gi"]
        err = await fails(cluster, "run", "c", "-n", "team", "--image=nginx")
        assert ('Error from server (Forbidden): pods "c" is forbidden: exceeded quota: compute, requested: pods=1, '
                'used: pods=2, limited: pods=2') in err
        core = k8s.CoreV1Api(api_client(cluster))
        body = {"metadata": {"name": "py"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
        try:
            await asyncio.to_thread(core.create_namespaced_pod, "team", body)
            raise AssertionError("the over-quota pod was admitted")
        except ApiException as e:
            status = json.loads(e.body)
            assert (e.status, status["reason"]) == (403, "Forbidden")
            assert status["message"].startswith('pods "py" is forbidden: exceeded quota: compute')
        out = await ok(cluster, "describe", "quota", "compute", "-n", "team")
        assert [line.split() for line in out.splitlines()[2:7]] == [
            ["Resource", "Used", "Hard"], ["--------", "----", "----"], ["limits.memory", "512Mi", "1Gi"],
            ["pods", "2", "2"], ["requests.cpu", "500m", "1"]]
        out = await ok(cluster, "describe", "limitrange", "-n", "team")
        assert ["Container", "cpu", "-", "1", "250m", "500m", "-"] in [line.split() for line in out.splitlines()]
    finally:
        await cm.stop()


async def test_get_all_lists_rcs_and_object_count_quota(cluster):
    """``kubectl get all`` includes ReplicationControllers (upstream's ``all`` category), and a
    ``count/deployments.apps`` quota refuses the second Deployment with upstream's words."""
    from kubetui.apiserver.inprocess import InProcessClient
    from kubetui.controllers.manager import ControllerManager

    out = await ok(cluster, "get", "all")
    assert "replicationcontroller/nginx" in out
    cm = ControllerManager(InProcessClient(cluster.registry), controllers=["resourcequota"])
    await cm.start()
    try:
        await ok(cluster, "create", "namespace", "counted")
        await ok(cluster, "create", "quota", "objects", "-n", "counted", "--hard=count/deployments.apps=1")
        import asyncio
        for _ in range(200):
            rq = await cluster.registry.get(resource_for("quota"), "counted", "objects")
            if (rq.get("status") or {}).get("used") == {"count/deployments.apps": "0"}:
                break
            await asyncio.sleep(0.05)
        await ok(cluster, "create", "deployment", "one", "-n", "counted", "--image=nginx")
        err = await fails(cluster, "create", "deployment", "two", "-n", "counted", "--image=nginx")
        assert ('deployments.apps "two" is forbidden: exceeded quota: objects, requested: '
                'count/deployments.apps=1, used: count/deployments.apps=1, limited: count/deployments.apps=1') in err
    finally:
        await cm.stop()


async def test_python_client_eviction_is_refused_by_the_budget(cluster):
    """The official client's create_namespaced_pod_eviction gets upstream's 429 with the DisruptionBudget cause."""
    import asyncio
    import json

    from kubernetes import client as k8s
    from kubernetes.client.rest import ApiException

    from kubetui.apiserver.inprocess import InProcessClient
    from kubetui.clock import rfc3339
    from kubetui.controllers.manager import ControllerManager
    from tests.apiserver.test_pyclient import api_client

    pods = resource_for("pods")
    await ok(cluster, "create", "namespace", "budgets")   # (default has a compute quota from another test)
    await cluster.registry.create(pods, "budgets", {"metadata": {"name": "guarded", "labels": {"app": "guarded"}},
                                                    "spec": {"nodeName": "node-x",
                                                             "containers": [{"name": "c", "image": "nginx"}]}})
    live = await cluster.registry.get(pods, "budgets", "guarded")
    live["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True",
                                                          "lastTransitionTime": rfc3339(0)}]}
    await cluster.registry.update(pods, "budgets", "guarded", live, subresource="status")
    cm = ControllerManager(InProcessClient(cluster.registry), controllers=["disruption"])
    await cm.start()
    try:
        await ok(cluster, "create", "pdb", "guarded", "-n", "budgets", "--selector=app=guarded", "--min-available=1")
        for _ in range(200):
            pdb = await cluster.registry.get(resource_for("pdb"), "budgets", "guarded")
            if (pdb.get("status") or {}).get("observedGeneration") == 1:
                break
            await asyncio.sleep(0.05)
        assert pdb["status"]["currentHealthy"] == 1 and pdb["status"]["disruptionsAllowed"] == 0
        core = k8s.CoreV1Api(api_client(cluster))
        body = k8s.V1Eviction(metadata=k8s.V1ObjectMeta(name="guarded", namespace="budgets"))
        try:
            await asyncio.to_thread(core.create_namespaced_pod_eviction, "guarded", "budgets", body)
            raise AssertionError("the eviction was allowed")
        except ApiException as e:
            status = json.loads(e.body)
            assert (e.status, status["reason"]) == (429, "TooManyRequests")
            assert status["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
            assert status["details"]["causes"] == [{"reason": "DisruptionBudget", "message": "The disruption budget "
                                                    "guarded needs 1 healthy pods and has 1 currently"}]
        assert (await cluster.registry.get(pods, "budgets", "guarded"))["metadata"].get("deletionTimestamp") is None
    finally:
        await cm.stop()
