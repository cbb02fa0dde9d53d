"""Containers of real images on a Docker node: each has the image's root filesystem, config and user.

One one-node cluster for the module. The built-in images are baked into the node image
(``kubetui.runtime.imagebuild``); one more image is built here from this machine's own tools
(``tests.runtime.test_isolated_images``) and imported into the node's store the way
``kubetui image load`` does (``python3 -m kubetui.runtime.imagestore import -`` in the node).
"""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest

from tests.conftest import docker_available, require_or_skip
from tests.nodes.conftest import DockerCluster, docker, force_cleanup, pod_ready, wait_for
from tests.runtime.imagearchives import docker_save, image_config
from tests.runtime.test_isolated_images import _tool_layer, _top_layer

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, kubectl_bin):
    require_or_skip(*docker_available())
    name = f"imgnode{uuid.uuid4().hex[:6]}"
    state = tmp_path_factory.mktemp("imgnode") / name
    args = ("--provider", "docker", "--nodes", "1", "--name", name, "--node-cpus", "1", "--node-memory", "1Gi")
    c = DockerCluster(name, state, state / "kubeconfig", kubectl_bin, None, args)
    try:
        c.start_control_plane("--api-port", "0")
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
    finally:
        try:
            c.down()
        finally:
            force_cleanup(name)


def pod(name: str, image: str, **container) -> dict:
    sc = container.pop("securityContext", None)
    spec = {"terminationGracePeriodSeconds": 0,
            "containers": [{"name": "main", "image": image, **container, **({"securityContext": sc} if sc else {})}]}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": spec}


def running(c: DockerCluster, *names: str) -> None:
    def ready():
        pods = {p["metadata"]["name"]: p for p in c.get("pods")["items"]}
        return all(n in pods and pod_ready(pods[n]) for n in names) or None
    wait_for(f"pods {names} Ready", ready, 60)


def test_exec_sees_the_images_files_not_the_nodes(cluster):
    c = cluster
    c.apply(pod("web", "kubetui/hello:1"))
    c.apply(pod("one", "busybox", command=["sleep", "3600"]))
    c.apply(pod("two", "busybox:1.36", command=["sleep", "3600"]))
    running(c, "web", "one", "two")
    in_pod = c.kubectl("exec", "web", "--", "cat", "/etc/os-release").stdout
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
