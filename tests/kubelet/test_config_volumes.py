"""ConfigMaps, Secrets and claims through a real kubelet (plain-process runtime) and API server.

A missing ConfigMap keeps the container in CreateContainerConfigError with the
kubelet's words until it appears; a mounted ConfigMap follows an update
within the volume sync period while the env keeps its first value; a pod
whose claim is not bound yet waits (FailedMount) and starts once it is.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from kubetui.api.resources import resource_for
from tests.kubelet.cluster import NODE, Cluster
from tests.kubelet.test_e2e import ready

SYNC = 0.3


@pytest.fixture
async def cluster(tmp_path, kubectl_bin):
    c = await Cluster().start(tmp_path, kubectl_bin, kubelet=False)
    await c.start_kubelet(tmp_path, volume_sync_period=SYNC, backoff_initial=0.2)
    yield c
    await c.stop()


def configmap(value: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app", "namespace": "default"},
            "data": {"MODE": value}}


def reader_pod() -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "reader", "namespace": "default"},
            "spec": {"nodeName": NODE, "terminationGracePeriodSeconds": 1,
                     "volumes": [{"name": "cfg", "configMap": {"name": "app"}}],
                     "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"],
                                     "env": [{"name": "MODE", "valueFrom": {"configMapKeyRef": {
                                         "name": "app", "key": "MODE"}}}],
                                     "volumeMounts": [{"name": "cfg", "mountPath": "/etc/app"}]}]}}


def waiting(pod: dict) -> dict:
    return ((pod["status"].get("containerStatuses") or [{}])[0].get("state") or {}).get("waiting") or {}


async def test_configmap_env_error_then_file_follows_updates_but_env_does_not(cluster):
    reg, pods = cluster.registry, resource_for("pods")
    cms = resource_for("configmaps")
    # The volume's ConfigMap is missing: FailedMount, the pod waits in ContainerCreating.
    await reg.create(pods, "default", reader_pod())
    pod = await cluster.wait_pod("reader", lambda p: waiting(p).get("reason") == "ContainerCreating")
    await asyncio.sleep(0.5)
    rc, out, _ = await cluster.kubectl("get", "events", "--field-selector", "involvedObject.name=reader")
    assert 'MountVolume.SetUp failed for volume "cfg" : configmap "app" not found' in out, out
    # A ConfigMap without the key: the volume mounts, the env reference fails with the kubelet's words.
    await reg.create(cms, "default", {**configmap("x"), "data": {"OTHER": "1"}})
    pod = await cluster.wait_pod("reader", lambda p: waiting(p).get("reason") == "CreateContainerConfigError")
    assert waiting(pod)["message"] == "couldn't find key MODE in ConfigMap default/app"
    # The key appears: the container starts with it.
    cm = await reg.get(cms, "default", "app")
    await reg.update(cms, "default", "app", {**cm, "data": {"MODE": "blue"}})
    pod = await cluster.wait_pod("reader", ready)
    vol = cluster.kubelet.pods_dir / pod["metadata"]["uid"] / "volumes" / "kubernetes.io~configmap" / "cfg"
    assert (vol / "MODE").read_text() == "blue"
    # Update it: the file follows within the sync period (+ cache TTL); the env does not.
    cm = await reg.get(cms, "default", "app")
    await reg.update(cms, "default", "app", {**cm, "data": {"MODE": "green"}})
    loop = asyncio.get_running_loop()
    start = loop.time()
    while (vol / "MODE").read_text() != "green":
        assert loop.time() - start < 20 * SYNC, "mounted file never followed the update"
        await asyncio.sleep(0.05)
    assert not os.path.lexists(vol / "OTHER")
    rc, out, err = await cluster.kubectl("exec", "reader", "--", "sh", "-c", "echo $MODE")
    assert (rc, out.strip()) == (0, "blue"), err


async def test_pod_waits_for_its_claim_to_be_bound(cluster, tmp_path):
    reg = cluster.registry
    await reg.create(resource_for("persistentvolumeclaims"), "default", {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": "default"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "manual",
                 "resources": {"requests": {"storage": "1Gi"}}}})
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "claimer", "namespace": "default"},
           "spec": {"nodeName": NODE, "terminationGracePeriodSeconds": 1,
                    "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
                    "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"],
                                    "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}}
    await reg.create(resource_for("pods"), "default", pod)
    await cluster.wait_pod("claimer", lambda p: waiting(p).get("reason") == "ContainerCreating")
    await asyncio.sleep(0.5)
    rc, out, _ = await cluster.kubectl("get", "events", "--field-selector", "involvedObject.name=claimer")
    assert 'PersistentVolumeClaim "data" is not bound yet' in out, out
    # Bind it by hand (what the PersistentVolume controller does): the next sync mounts it.
    path = tmp_path / "pv-data"
    await reg.create(resource_for("persistentvolumes"), None, {
        "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv-data"},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "manual",
                 "hostPath": {"path": str(path)}}})
    pvcs = resource_for("persistentvolumeclaims")
    claim = await reg.get(pvcs, "default", "data")
    await reg.update(pvcs, "default", "data", {**claim, "spec": {**claim["spec"], "volumeName": "pv-data"}})
    claim = await reg.get(pvcs, "default", "data")
    await reg.update(pvcs, "default", "data", {**claim, "status": {"phase": "Bound"}}, subresource="status")
    await cluster.wait_pod("claimer", ready)
    assert path.is_dir()


async def test_disk_empty_dir_over_its_size_limit_evicts_the_pod(cluster):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "filler", "namespace": "default"},
           "spec": {"nodeName": NODE, "terminationGracePeriodSeconds": 1,
                    "volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "64Ki"}}],
                    "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"],
                                    "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}]}]}}
    await cluster.registry.create(resource_for("pods"), "default", pod)
    running = await cluster.wait_pod("filler", ready)
    scratch = cluster.kubelet.pods_dir / running["metadata"]["uid"] / "volumes" / "kubernetes.io~empty-dir" / "scratch"
    (scratch / "small").write_bytes(b"x" * 1024)
    await asyncio.sleep(3 * SYNC)
    assert ready(await cluster.pod("filler"))          # under the limit: nothing happens
    (scratch / "big").write_bytes(os.urandom(128 * 1024))
    evicted = await cluster.wait_pod("filler", lambda p: p["status"].get("phase") == "Failed")
    assert evicted["status"]["reason"] == "Evicted"
    assert evicted["status"]["message"] == 'Usage of EmptyDir volume "scratch" exceeds the limit "64Ki". '
    state = evicted["status"]["containerStatuses"][0]["state"]
    assert "terminated" in state, state
