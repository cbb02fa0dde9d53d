"""Real images on a Docker cluster: ``kubetui image load`` of images built offline from Debian packages,
then pods running them, served through a Service; pull failures worded as the kubelet's; and each
container's own root filesystem, config and user.

One 2-node cluster for the module (its Docker objects are named ``kubetui-imghost…``). The example
images (busybox-static FROM scratch, nginx-light from a debootstrap root) are built once per machine.
The built-in images are baked into the node image (``kubetui.runtime.imagebuild``); one more image is
built here from this machine's own tools (``tests.runtime.test_isolated_images``) and imported into
node-1's store the way ``kubetui image load`` does (``python3 -m kubetui.runtime.imagestore import -``
in the node); the root-filesystem pods are pinned to node-1 by its hostname label (through the scheduler).
(The root-filesystem tests had a one-node cluster of their own: one Docker cluster start fewer.)
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import docker_available, require_or_skip
from tests.nodes.conftest import DockerCluster, pod_ready, started_docker_cluster, wait_for
from tests.runtime.imagearchives import docker_save, image_config
from tests.runtime.test_isolated_images import _tool_layer, _top_layer

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
    with started_docker_cluster(tmp_path_factory, kubectl_bin, "imghost", 2) as c:
        r = kubetui(c, "image", "load", images["nginx"], images["busybox"])
        assert r.returncode == 0, r.stderr + r.stdout
        base, top = _tool_layer(), _top_layer()
        archive = docker_save(tmp_path_factory.mktemp("imgnode-img") / "tools.tar", [base, top], ["test/tools:1"],
                              config=image_config([base, top], Entrypoint=["/bin/sh", "-c"],
                                                  Cmd=["echo from-cmd $FROM_IMAGE; sleep 3600"],
                                                  Env=["FROM_IMAGE=yes", "PATH=/usr/bin:/bin"], WorkingDir="/srv",
                                                  User="app"))
        with open(archive, "rb") as f:
            r = subprocess.run(["docker", "exec", "-i", c.container("node-1"), "python3", "-m",
                                "kubetui.runtime.imagestore", "import", "-"], stdin=f, capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        yield c


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


# --- each container has its image's root filesystem, config and user (on node-1) -------------------------


def pod(name: str, image: str, **container) -> dict:
    sc = container.pop("securityContext", None)
    spec = {"terminationGracePeriodSeconds": 0, "nodeSelector": {"kubernetes.io/hostname": "node-1"},
            "containers": [{"name": "main", "image": image, **container, **({"securityContext": sc} if sc else {})}]}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": spec}


def running(c: DockerCluster, *names: str) -> None:
    def ready():
        pods = {p["metadata"]["name"]: p for p in c.get("pods")["items"]}
        return all(n in pods and pod_ready(pods[n]) for n in names) or None
    wait_for(f"pods {names} Ready", ready, 60)


@pytest.mark.slow
def test_exec_sees_the_images_files_not_the_nodes(cluster):
    c = cluster
    c.apply(pod("hello", "kubetui/hello:1"))
    c.apply(pod("one", "busybox", command=["sleep", "3600"]))
    c.apply(pod("two", "busybox:1.36", command=["sleep", "3600"]))
    running(c, "hello", "one", "two")
    in_pod = c.kubectl("exec", "hello", "--", "cat", "/etc/os-release").stdout
    on_node = c.node_exec("node-1", "cat", "/etc/os-release")
    assert "kubetui built-in image" in in_pod and "Debian GNU/Linux" in on_node and in_pod != on_node
    # the node's agent is not in the busybox image
    assert c.kubectl("exec", "one", "--", "ls", "/opt", check=False).returncode != 0
    # writes in one container of an image are not seen by another of the same image
    c.kubectl("exec", "one", "--", "sh", "-c", "echo mine > /etc/written-by-one")
    assert c.kubectl("exec", "one", "--", "cat", "/etc/written-by-one").stdout == "mine\n"
    r = c.kubectl("exec", "two", "--", "cat", "/etc/written-by-one", check=False)
    assert r.returncode != 0 and "No such file" in r.stderr + r.stdout
    # ... they went to the container's own upper directory on the node, the layers are untouched
    uppers = c.node_exec("node-1", "sh", "-c", "ls -d /var/lib/kubelet/images/containers/*/upper/etc/written-by-one")
    assert len(uppers.split()) == 1
    assert c.node_exec("node-1", "sh", "-c", "ls /var/lib/kubetui/images/blobs/sha256/*/etc/written-by-one "
                                             "2>/dev/null | wc -l").strip() == "0"


@pytest.mark.slow
def test_entrypoint_cmd_env_workdir_and_user_of_a_loaded_image(cluster):
    c = cluster
    c.apply(pod("tools", "test/tools:1"))
    c.apply(pod("tools-args", "test/tools:1", args=["echo args-only $FROM_IMAGE; sleep 3600"]))
    c.apply(pod("tools-root", "test/tools:1", command=["sleep", "3600"], securityContext={"runAsUser": 0}))
    running(c, "tools", "tools-args", "tools-root")
    assert c.kubectl("logs", "tools").stdout == "from-cmd yes\n"           # Entrypoint + Cmd, the image's Env
    assert c.kubectl("logs", "tools-args").stdout == "args-only yes\n"     # Entrypoint + args
    assert c.kubectl("exec", "tools", "--", "sh", "-c", "pwd; id -u; id -G").stdout.split() == \
        ["/srv", "1000", "1000", "50"]                                     # WorkingDir, User by name
    assert c.kubectl("exec", "tools-root", "--", "id", "-u").stdout.strip() == "0"   # runAsUser wins
    img = json.loads(c.node_exec("node-1", "python3", "-m", "kubetui.runtime.imagestore", "ls", "--json"))
    names = {n for i in img["images"] for n in i["names"]}
    assert {"test/tools:1", "kubetui/hello:1", "busybox:latest"} <= names


@pytest.mark.slow
def test_read_only_root_filesystem_refuses_writes(cluster):
    c = cluster
    ro = pod("ro", "busybox", command=["sleep", "3600"], securityContext={"readOnlyRootFilesystem": True},
             volumeMounts=[{"name": "scratch", "mountPath": "/scratch"}])
    ro["spec"]["volumes"] = [{"name": "scratch", "emptyDir": {}}]
    c.apply(ro)
    running(c, "ro")
    r = c.kubectl("exec", "ro", "--", "touch", "/etc/x", check=False)
    assert r.returncode != 0 and "Read-only file system" in r.stderr + r.stdout
    assert c.kubectl("exec", "ro", "--", "sh", "-c", "echo ok > /scratch/x && cat /scratch/x").stdout == "ok\n"
