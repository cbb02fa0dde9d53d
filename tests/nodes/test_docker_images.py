"""Real images on a Docker cluster: ``kubetui image load`` of images built offline from Debian packages,
then pods running them, served through a Service; pull failures worded as the kubelet's.

One 2-node cluster for the module (its Docker objects are named ``kubetui-imghost…``). The example
images (busybox-static FROM scratch, nginx-light from a debootstrap root) are built once per machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

from tests.conftest import docker_available, require_or_skip
from tests.nodes.conftest import DockerCluster, force_cleanup, pod_ready, wait_for

pytestmark = pytest.mark.docker


def kubetui(c: DockerCluster, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kubetui", *args, "--state-dir", str(c.state)],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def images():
    require_or_skip(*docker_available())
    from kubetui.providers.docker import docker_client
    from kubetui.providers.docker.examples import build_busybox, build_nginx
    client = docker_client()
    try:
        return {"busybox": build_busybox(client), "nginx": build_nginx(client)}
    finally:
        client.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, kubectl_bin, images):
    name = f"imghost{uuid.uuid4().hex[:6]}"
    state = tmp_path_factory.mktemp("imghost") / name
    args = ("--provider", "docker", "--nodes", "2", "--name", name, "--node-cpus", "1", "--node-memory", "1Gi")
    c = DockerCluster(name, state, state / "kubeconfig", kubectl_bin, None, args)
    try:
        c.start_control_plane("--api-port", "0")
        r = kubetui(c, "image", "load", images["nginx"], images["busybox"])
        assert r.returncode == 0, r.stderr + r.stdout
        yield c
    finally:
        try:
            c.down()
        finally:
            force_cleanup(name)


def waiting(c: DockerCluster, pod: str) -> dict:
    cs = (c.get("pod", pod).get("status") or {}).get("containerStatuses") or [{}]
    return cs[0].get("state", {}).get("waiting") or {}


def test_loaded_image_is_on_every_node_and_in_node_status(cluster, images):
    r = kubetui(cluster, "image", "ls", "-o", "json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    want = images["nginx"]
    assert {row["node"] for row in rows if row["image"] == want} == {"node-1", "node-2"}

    def reported():
        node = cluster.get("node", "node-1")
        return any(want in img["names"] for img in node["status"].get("images") or [])
    wait_for("node-1 to report the loaded image in status.images", reported, 30)


def test_nginx_image_serves_http_through_a_service(cluster, images):
    cluster.kubectl("run", "web", f"--image={images['nginx']}", "--port=8080", "--labels=app=web")
    cluster.kubectl("expose", "pod", "web", "--port=80", "--target-port=8080")
    wait_for("pod web Ready", lambda: pod_ready(cluster.get("pod", "web")), 90)
    cluster.kubectl("run", "client", f"--image={images['busybox']}", "--restart=Never", "--", "sleep", "3600")
    wait_for("pod client Ready", lambda: pod_ready(cluster.get("pod", "client")), 90)

    def fetch():
        r = cluster.kubectl("exec", "client", "--", "wget", "-q", "-O", "-", "http://web.default.svc.cluster.local/",
                            check=False, timeout=30)
        return r.stdout if r.returncode == 0 else None
    assert "hello from nginx-light" in wait_for("nginx through the web Service", fetch, 60)
    # the container's root filesystem is the image's, not the node's
    assert "BusyBox" in cluster.kubectl("exec", "client", "--", "cat", "/etc/os-release").stdout
    pod = cluster.get("pod", "web")
    st = pod["status"]["containerStatuses"][0]
    assert st["image"] == images["nginx"]
    assert st["imageID"].startswith("sha256:") or "@sha256:" in st["imageID"]
    describe = cluster.kubectl("describe", "pod", "web").stdout
    assert f"Image:          {images['nginx']}" in describe and "Image ID:" in describe
    events = cluster.kubectl("get", "events", "--field-selector", "involvedObject.name=web",
                             "-o", "jsonpath={.items[*].message}").stdout
    assert f'Container image "{images["nginx"]}" already present on machine' in events


def test_pull_policy_never_with_a_missing_image(cluster):
    cluster.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "never"},
                   "spec": {"containers": [{"name": "c", "image": "imghost.invalid/absent:1",
                                            "imagePullPolicy": "Never"}]}})
    w = wait_for("ErrImageNeverPull", lambda: (lambda w: w if w.get("reason") == "ErrImageNeverPull" else None)(
        waiting(cluster, "never")), 60)
    assert w["message"] == 'Container image "imghost.invalid/absent:1" is not present with pull policy of Never'


def test_missing_image_nothing_can_pull_backs_off_with_the_hint(cluster):
    cluster.kubectl("run", "nope", "--image=imghost.invalid/absent:1", "--restart=Never")
    wait_for("ImagePullBackOff", lambda: waiting(cluster, "nope").get("reason") == "ImagePullBackOff", 60)
    events = cluster.kubectl("get", "events", "--field-selector", "involvedObject.name=nope",
                             "-o", "json").stdout
    msgs = {e["reason"]: e["message"] for e in json.loads(events)["items"]}
    assert msgs["Pulling"] == 'Pulling image "imghost.invalid/absent:1"'
    assert msgs["Failed"] in ("Error: ErrImagePull", "Error: ImagePullBackOff") or \
        msgs["Failed"].startswith('Failed to pull image "imghost.invalid/absent:1": ')
    assert msgs["BackOff"] == 'Back-off pulling image "imghost.invalid/absent:1"'
    failed = cluster.kubectl("get", "events", "--field-selector", "involvedObject.name=nope,reason=Failed",
                             "-o", "jsonpath={.items[*].message}").stdout
    assert "`kubetui image load imghost.invalid/absent:1`" in failed and "Error: ErrImagePull" in failed
