"""A StatefulSet on real Docker nodes: stable DNS names through its headless Service, and a deleted
pod that comes back with its name, its claim and its data.

One 3-node cluster for the module (``conftest.docker_cluster``).
"""

from __future__ import annotations

import pytest

from tests.nodes.conftest import pod_ready, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.slow]

KV_CLIENT = ("import sys,urllib.request as u\n"
             "m,h,k=sys.argv[1],sys.argv[2],sys.argv[3]\n"
             "d=sys.argv[4].encode() if len(sys.argv)>4 else None\n"
             "print(u.urlopen(u.Request(f'http://{h}:8080/{k}',data=d,method=m),timeout=5).read().decode(),end='')")
RESOLVE = "import socket,sys; print(socket.gethostbyname(sys.argv[1]))"

SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
           "spec": {"clusterIP": "None", "selector": {"app": "web"}, "ports": [{"name": "http", "port": 8080}]}}
STS = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web", "namespace": "default"},
       "spec": {"serviceName": "web", "replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{"name": "kv", "image": "kubetui/kv:latest", "ports": [{"containerPort": 8080}],
                                    "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}},
                "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                    "storageClassName": "shared", "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "100Mi"}}}}]}}


def ready_pods(c):
    pods = {p["metadata"]["name"]: p for p in c.pods("app=web")
            if pod_ready(p) and not p["metadata"].get("deletionTimestamp")}
    return pods if sorted(pods) == ["web-0", "web-1"] else None


def test_statefulset_dns_identity_and_storage_survive_a_deleted_pod(docker_cluster):
    c = docker_cluster
    c.apply(SERVICE)
    c.apply(STS)
    pods = wait_for("web-0 and web-1 ready", lambda: ready_pods(c), timeout=180)
    web1_ip, web1_uid = pods["web-1"]["status"]["podIP"], pods["web-1"]["metadata"]["uid"]

    def resolves(name):
        r = c.kubectl("exec", "web-0", "--", "python3", "-c", RESOLVE, name, check=False)
        return r.stdout.strip() if r.returncode == 0 else None

    assert wait_for("web-1.web resolves from web-0", lambda: resolves("web-1.web"), timeout=60) == web1_ip
    assert resolves("web-1.web.default.svc.cluster.local") == web1_ip
    put = c.kubectl("exec", "web-0", "--", "python3", "-c", KV_CLIENT, "PUT", "web-1.web", "color", "blue").stdout
    assert put.strip() == "stored color"

    c.kubectl("delete", "pod", "web-1")

    def back():
        pods = ready_pods(c)
        return pods if pods and pods["web-1"]["metadata"]["uid"] != web1_uid else None

    pods = wait_for("web-1 back under its name", back, timeout=180)
    claim = pods["web-1"]["spec"]["volumes"][0]
    assert claim == {"name": "data", "persistentVolumeClaim": {"claimName": "data-web-1"}}
    got = wait_for("web-1 answers with its data", lambda: c.kubectl(
        "exec", "web-0", "--", "python3", "-c", KV_CLIENT, "GET", "web-1.web", "color", check=False).stdout.strip(),
        timeout=60)
    assert got == "blue"
    assert sorted(p["metadata"]["name"] for p in c.get("pvc")["items"]) == ["data-web-0", "data-web-1"]
