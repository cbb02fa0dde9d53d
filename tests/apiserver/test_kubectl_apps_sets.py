"""The real kubectl against DaemonSets, StatefulSets and ControllerRevisions (API only, no controllers)."""

from __future__ import annotations

import json

import pytest
import pytest_asyncio
import yaml

from tests.apiserver.test_http_support import start_cluster

pytestmark = pytest.mark.asyncio(loop_scope="module")

STS = """apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{port: 80, name: web}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: %s}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        volumeMounts: [{name: www, mountPath: /usr/share/nginx/html}]
  volumeClaimTemplates:
  - metadata: {name: www}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
"""

DS = """apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      tolerations: [{key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}]
      containers: [{name: agent, image: busybox:1.36, command: [sleep, "3600"]}]
"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory):
    c = await start_cluster(tmp_path_factory.mktemp("kubectl-apps"))
    yield c
    await c.stop()


async def ok(c, *args, stdin=None):
    rc, out, err = await c.kubectl(*args, stdin=stdin)
    assert rc == 0, f"kubectl {' '.join(args)} -> {rc}\nstdout: {out}\nstderr: {err}"
    return out


async def test_api_resources_and_explain(cluster):
    out = await ok(cluster, "api-resources", "--api-group=apps")
    lines = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert lines["daemonsets"][1] == "ds" and lines["statefulsets"][1] == "sts"
    assert lines["controllerrevisions"][1:] == ["apps/v1", "true", "ControllerRevision"]
    out = await ok(cluster, "explain", "statefulset.spec.persistentVolumeClaimRetentionPolicy")
    assert "whenDeleted" in out and "whenScaled" in out
    out = await ok(cluster, "explain", "ds.spec.updateStrategy.rollingUpdate")
    assert "maxSurge" in out


async def test_statefulset_selector_mismatch_is_422_and_nothing_stored(cluster):
    rc, out, err = await cluster.kubectl("apply", "-f", "-", stdin=(STS % "other").encode())
    assert rc != 0
    assert ('The StatefulSet "web" is invalid: spec.template.metadata.labels: Invalid value: '
            'map[string]string{"app":"other"}: `selector` does not match template `labels`') in err
    rc, _, err = await cluster.kubectl("get", "sts", "web")
    assert rc != 0 and "NotFound" in err


async def test_apply_defaults_get_scale_and_get_all(cluster):
    await ok(cluster, "apply", "-f", "-", stdin=(STS % "web").encode())
    await ok(cluster, "apply", "-f", "-", stdin=DS.encode())
    sts = json.loads(await ok(cluster, "get", "sts", "web", "-o", "json"))
    assert sts["spec"]["podManagementPolicy"] == "OrderedReady"
    assert sts["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert sts["spec"]["volumeClaimTemplates"][0]["status"] == {"phase": "Pending"}
    assert sts["metadata"]["generation"] == 1 and sts["status"] == {}
    ds = json.loads(await ok(cluster, "get", "ds", "agent", "-o", "json"))
    assert ds["spec"]["updateStrategy"]["rollingUpdate"] == {"maxUnavailable": 1, "maxSurge": 0}
    assert ds["metadata"]["annotations"]["deprecated.daemonset.template.generation"] == "1"
    out = await ok(cluster, "get", "ds")
    assert out.splitlines()[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE",
                                           "NODE", "SELECTOR", "AGE"]
    assert out.splitlines()[1].split()[:7] == ["agent", "0", "0", "0", "0", "0", "<none>"]
    out = await ok(cluster, "get", "sts")
    assert out.splitlines()[0].split() == ["NAME", "READY", "AGE"]
    assert out.splitlines()[1].split()[:2] == ["web", "0/2"]
    await ok(cluster, "scale", "sts", "web", "--replicas=3")
    sts = json.loads(await ok(cluster, "get", "sts", "web", "-o", "json"))
    assert sts["spec"]["replicas"] == 3 and sts["metadata"]["generation"] == 2
    out = await ok(cluster, "get", "all")
    assert "daemonset.apps/agent" in out and "statefulset.apps/web" in out
    # A template change bumps the DaemonSet's template generation.
    await ok(cluster, "set", "image", "ds/agent", "agent=busybox:1.37")
    ds = json.loads(await ok(cluster, "get", "ds", "agent", "-o", "json"))
    assert ds["metadata"]["annotations"]["deprecated.daemonset.template.generation"] == "2"
    # Only some StatefulSet fields may change.
    rc, _, err = await cluster.kubectl("patch", "sts", "web", "-p", '{"spec":{"serviceName":"other"}}')
    assert rc != 0 and "updates to statefulset spec for fields other than" in err


async def test_controller_revisions_table(cluster):
    cr = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
          "metadata": {"name": "web-7b9c", "labels": {"app": "web"}}, "data": {"spec": {}}, "revision": 1}
    await ok(cluster, "create", "-f", "-", stdin=yaml.safe_dump(cr).encode())
    out = await ok(cluster, "get", "controllerrevisions")
    assert out.splitlines()[0].split() == ["NAME", "CONTROLLER", "REVISION", "AGE"]
    assert out.splitlines()[1].split()[:3] == ["web-7b9c", "<none>", "1"]
