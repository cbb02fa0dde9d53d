"""Configuration and storage on real Docker nodes: ConfigMaps as env and files, and PersistentVolumes that
follow (``shared``) or pin (``standard``) the kv app's pod.

One 3-node cluster for the module (``conftest.docker_cluster``); tests run in
file order. Figures (ConfigMap propagation delay) are logged with ``-s``.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.nodes.conftest import docker, pod_ready, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.slow]

KV_CLIENT = ("import os,sys,urllib.request as u\n"
             "m,k=sys.argv[1],sys.argv[2]\n"
             "d=sys.argv[3].encode() if len(sys.argv)>3 else None\n"
             "ip=os.environ.get('KUBETUI_POD_IP') or '127.0.0.1'\n"
             "print(u.urlopen(u.Request(f'http://{ip}:8080/{k}',data=d,method=m),timeout=5).read().decode(),end='')")


def running(c, selector: str):
    pods = [p for p in c.pods(selector) if pod_ready(p) and not p["metadata"].get("deletionTimestamp")]
    return pods[0] if len(pods) == 1 else None


def kv(c, pod: dict, method: str, key: str, value: str | None = None) -> str:
    args = [method, key] + ([value] if value is not None else [])
    return c.kubectl("exec", pod["metadata"]["name"], "--", "python3", "-c", KV_CLIENT, *args).stdout.strip()


def kv_deployment(name: str, claim: str) -> dict:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "strategy": {"type": "Recreate"},
                     "template": {"metadata": {"labels": labels}, "spec": {
                         "terminationGracePeriodSeconds": 1,
                         "containers": [{"name": "kv", "image": "kubetui/kv:latest",
                                         "ports": [{"containerPort": 8080}],
                                         "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                         "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]}}}}


def claim(name: str, storage_class: str, mode: str) -> dict:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": "default"},
            "spec": {"storageClassName": storage_class, "accessModes": [mode],
                     "resources": {"requests": {"storage": "100Mi"}}}}


def test_configmap_as_env_and_files_secret_projected_and_memory_volumes(docker_cluster):
    c = docker_cluster
    c.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app", "namespace": "default"},
             "data": {"MODE": "blue", "app.conf": "level=1\n"}})
    c.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "default"},
             "stringData": {"password": "s3cret"}})
    c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "cfg", "namespace": "default",
                                                              "labels": {"app": "cfg"}},
             "spec": {"terminationGracePeriodSeconds": 1,
                      "containers": [{"name": "main", "image": "busybox", "command": ["sleep", "3600"],
                                      "env": [{"name": "MODE", "valueFrom": {"configMapKeyRef": {
                                          "name": "app", "key": "MODE"}}}],
                                      "envFrom": [{"secretRef": {"name": "db"}, "prefix": "DB_"}],
                                      "volumeMounts": [
                                          {"name": "config", "mountPath": "/etc/app"},
                                          {"name": "config", "mountPath": "/etc/app.conf", "subPath": "app.conf"},
                                          {"name": "all", "mountPath": "/etc/all"},
                                          {"name": "cache", "mountPath": "/cache"}]}],
                      "volumes": [{"name": "config", "configMap": {"name": "app"}},
                                  {"name": "all", "projected": {"sources": [
                                      {"secret": {"name": "db", "items": [{"key": "password", "path": "db/pw",
                                                                           "mode": 0o400}]}},
                                      {"downwardAPI": {"items": [{"path": "labels", "fieldRef": {
                                          "fieldPath": "metadata.labels"}}]}}]}},
                                  {"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}}]}})
    wait_for("pod cfg Ready", lambda: running(c, "app=cfg"), 60)

    def sh(script: str, check: bool = True):
        return c.kubectl("exec", "cfg", "--", "sh", "-c", script, check=check)
    assert sh("cat /etc/app/MODE; echo; echo $MODE; echo $DB_password").stdout.split() == ["blue", "blue", "s3cret"]
    assert sh("cat /etc/all/db/pw; echo; cat /etc/all/labels").stdout.split() == ["s3cret", 'app="cfg"']
    assert sh("stat -L -c %a /etc/all/db/pw").stdout.strip() == "400"
    # ConfigMap, Secret, projected volumes are read-only; an emptyDir Memory is a tmpfs of its sizeLimit.
    r = sh("touch /etc/app/new", check=False)
    assert r.returncode != 0 and "Read-only file system" in r.stdout + r.stderr
    mounts = sh("cat /proc/mounts").stdout
    assert any(line.split()[1] == "/cache" and line.split()[2] == "tmpfs" and "size=16384k" in line
               for line in mounts.splitlines()), mounts
    assert any(line.split()[1] == "/etc/all" and line.split()[2] == "tmpfs" for line in mounts.splitlines())

    # Update the ConfigMap: the mounted file follows within seconds, the env and the subPath file do not.
    c.kubectl("patch", "configmap", "app", "--type=merge", "-p", json.dumps({"data": {"MODE": "green",
                                                                                      "app.conf": "level=2\n"}}))
    start = time.monotonic()
    wait_for("the mounted file to show green", lambda: sh("cat /etc/app/MODE").stdout.strip() == "green", 30, 0.2)
    delay = time.monotonic() - start
    print(f"\nConfigMap update -> mounted file: {delay:.1f} s (kubectl exec polling every 0.2 s)")
    assert sh("echo $MODE; cat /etc/app.conf; cat /etc/app/app.conf").stdout.split() == \
        ["blue", "level=1", "level=2"]
    # Labels change: the downwardAPI file follows too.
    c.kubectl("label", "pod", "cfg", "tier=web")
    wait_for("the labels file to follow", lambda: "tier=" in sh("cat /etc/all/labels").stdout, 30, 0.3)


def test_missing_configmap_key_is_create_container_config_error_until_it_appears(docker_cluster):
    c = docker_cluster
    c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "needs-key", "namespace": "default",
                                                              "labels": {"app": "needs-key"}},
             "spec": {"terminationGracePeriodSeconds": 1,
                      "containers": [{"name": "main", "image": "busybox", "command": ["sleep", "3600"],
                                      "env": [{"name": "FLAG", "valueFrom": {"configMapKeyRef": {
                                          "name": "flags", "key": "FLAG"}}}]}]}})

    def waiting():
        p = c.get("pod", "needs-key")
        return ((p["status"].get("containerStatuses") or [{}])[0].get("state") or {}).get("waiting") or {}
    w = wait_for("CreateContainerConfigError", lambda: waiting() if
                 waiting().get("reason") == "CreateContainerConfigError" else None, 60)
    assert w["message"] == 'configmap "flags" not found'
    assert "CreateContainerConfigError" in c.kubectl("get", "pod", "needs-key").stdout
    c.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "flags", "namespace": "default"},
             "data": {"OTHER": "x"}})
    wait_for("the key's message", lambda: waiting().get("message") == "couldn't find key FLAG in ConfigMap default/flags",
             30)
    c.kubectl("patch", "configmap", "flags", "--type=merge", "-p", '{"data":{"FLAG":"on"}}')
    wait_for("pod needs-key Ready", lambda: running(c, "app=needs-key"), 30)
    # A deleted pod's tmpfs volumes (emptyDir Memory, projected) are unmounted from its node.
    cfg = c.get("pod", "cfg")
    uid, node = cfg["metadata"]["uid"], cfg["spec"]["nodeName"]
    assert uid in c.node_exec(node, "cat", "/proc/mounts")
    c.kubectl("delete", "pod", "cfg", "needs-key", timeout=60)
    wait_for("cfg's tmpfs unmounted", lambda: uid not in c.node_exec(node, "cat", "/proc/mounts"), 15)
    assert c.node_exec(node, "sh", "-c", f"ls /var/lib/kubelet/pods | grep -c {uid} || true").strip() == "0"


def test_kv_data_on_a_shared_claim_follows_its_pod_drained_to_another_node(docker_cluster):
    c = docker_cluster
    c.apply(claim("kv-shared", "shared", "ReadWriteMany"))
    c.apply(kv_deployment("kv-shared", "kv-shared"))
    pod = wait_for("kv-shared Ready", lambda: running(c, "app=kv-shared"), 60)
    first = pod["spec"]["nodeName"]
    assert kv(c, pod, "PUT", "color", "blue") == "stored color"
    pv = c.get("pvc", "kv-shared")["spec"]["volumeName"]
    # The shared area is the host folder <state>/shared, the same in every node.
    assert json.loads((c.state / "shared" / pv / "kv.json").read_text()) == {"color": "blue"}
    try:
        c.kubectl("drain", first, "--ignore-daemonsets", "--delete-emptydir-data", "--force", "--timeout=90s",
                  timeout=120)
        moved = wait_for("kv-shared Ready elsewhere", lambda: (p := running(c, "app=kv-shared"))
                         and p["spec"]["nodeName"] != first and p, 60)
        assert kv(c, moved, "GET", "color") == "blue"
    finally:
        c.kubectl("uncordon", first)


def test_kv_data_on_a_standard_claim_pins_its_pod_to_the_node(docker_cluster):
    c = docker_cluster
    c.apply(claim("kv-local", "standard", "ReadWriteOnce"))
    c.apply(kv_deployment("kv-local", "kv-local"))
    pod = wait_for("kv-local Ready", lambda: running(c, "app=kv-local"), 60)
    node = pod["spec"]["nodeName"]
    assert kv(c, pod, "PUT", "color", "red") == "stored color"
    pv = c.get("pv", c.get("pvc", "kv-local")["spec"]["volumeName"])
    assert pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == [node]
    path = pv["spec"]["hostPath"]["path"]
    assert json.loads(c.node_exec(node, "cat", f"{path}/kv.json")) == {"color": "red"}
    try:
        # Drained, its node is cordoned: the replacement cannot go anywhere else.
        c.kubectl("drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--force", "--timeout=90s",
                  timeout=120)

        def pending_reason():
            pods = [p for p in c.pods("app=kv-local") if not p["metadata"].get("deletionTimestamp")]
            conds = [x for p in pods for x in p["status"].get("conditions") or [] if x["type"] == "PodScheduled"]
            return next((x["message"] for x in conds if x["status"] == "False"), None)
        msg = wait_for("the replacement Pending", pending_reason, 30)
        assert "volume node affinity conflict" in msg, msg
    finally:
        c.kubectl("uncordon", node)
    back = wait_for("kv-local Ready again", lambda: running(c, "app=kv-local"), 60)
    assert back["spec"]["nodeName"] == node
    assert kv(c, back, "GET", "color") == "red"


def test_reclaim_delete_removes_data_and_retain_keeps_a_released_volume(docker_cluster):
    c = docker_cluster
    # standard (Delete): the PV goes, and the kubelet of its node deletes the directory.
    local_pv = c.get("pv", c.get("pvc", "kv-local")["spec"]["volumeName"])
    node, path = local_pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0][
        "values"][0], local_pv["spec"]["hostPath"]["path"]
    c.kubectl("delete", "deployment", "kv-local")
    c.kubectl("delete", "pvc", "kv-local", timeout=90)
    wait_for("the standard PV deleted", lambda: c.kubectl("get", "pv", local_pv["metadata"]["name"],
                                                          check=False).returncode != 0, 30)
    wait_for(f"{path} removed on {node}", lambda: docker("exec", c.container(node), "test", "-e", path,
                                                         check=False).returncode != 0, 30)
    # shared, switched to Retain: the PV stays Released, the data stays.
    shared_pv = c.get("pvc", "kv-shared")["spec"]["volumeName"]
    c.kubectl("patch", "pv", shared_pv, "-p", '{"spec":{"persistentVolumeReclaimPolicy":"Retain"}}')
    c.kubectl("delete", "deployment", "kv-shared")
    c.kubectl("delete", "pvc", "kv-shared", timeout=90)
    wait_for("the shared PV Released", lambda: c.get("pv", shared_pv)["status"].get("phase") == "Released", 30)
    assert json.loads((c.state / "shared" / shared_pv / "kv.json").read_text()) == {"color": "blue"}
    # shared (Delete): the control plane removes the host folder itself.
    c.apply(claim("scratch", "shared", "ReadWriteMany"))
    pv = wait_for("scratch bound", lambda: c.get("pvc", "scratch")["spec"].get("volumeName"), 30)
    (c.state / "shared" / pv / "f").write_text("x")
    c.kubectl("delete", "pvc", "scratch", timeout=90)
    wait_for("the scratch data removed", lambda: not (c.state / "shared" / pv).exists(), 30)
    c.kubectl("delete", "pv", shared_pv)
