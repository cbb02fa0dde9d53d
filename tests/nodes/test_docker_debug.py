"""``kubectl debug`` on a Docker cluster, with the real kubectl, as the Kubernetes documentation's
"Debug Running Pods" page does it: an ephemeral container in a running pod that sees the target
container's processes, and a copy of a pod.

One 1-node cluster for the module (its Docker objects are named ``kubetui-debug…``).
"""

from __future__ import annotations


import pytest

from tests.nodes.conftest import DockerCluster, pod_ready, started_docker_cluster, wait_for

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, kubectl_bin):
    with started_docker_cluster(tmp_path_factory, kubectl_bin, "debug", 1) as c:
        c.kubectl("run", "web", "--image=busybox:1.36", "--", "sleep", "3600")
        wait_for("pod web Ready", lambda: pod_ready(c.get("pod", "web")), 60)
        yield c


def ephemeral_status(c: DockerCluster, pod: str, name: str) -> dict:
    statuses = (c.get("pod", pod).get("status") or {}).get("ephemeralContainerStatuses") or []
    return next((s for s in statuses if s["name"] == name), {})


def test_ephemeral_container_sees_the_target_containers_processes(cluster):
    r = cluster.kubectl("debug", "web", "--image=busybox:1.36", "--target=web", "--container=ps1", "--", "ps")
    assert 'Targeting container "web"' in r.stdout + r.stderr
    done = wait_for("ps1 to finish", lambda: (ephemeral_status(cluster, "web", "ps1").get("state") or {})
                    .get("terminated"), 30)
    assert done["exitCode"] == 0 and done["reason"] == "Completed"
    # PID 1 of the target's PID namespace is the target's own process, seen from the debugger
    lines = cluster.kubectl("logs", "web", "-c", "ps1").stdout.splitlines()
    assert any(line.split()[:1] == ["1"] and "sleep 3600" in line for line in lines), lines
    pod = cluster.get("pod", "web")
    assert pod["status"]["phase"] == "Running"
    (ec,) = [s for s in pod["status"]["ephemeralContainerStatuses"] if s["name"] == "ps1"]
    assert ec["restartCount"] == 0 and ec["ready"] is False
    described = cluster.kubectl("describe", "pod", "web").stdout
    assert "Ephemeral Containers:" in described and "ps1:" in described


def test_debug_it_attaches_to_a_shell_in_the_pod(cluster):
    r = cluster.kubectl("debug", "-it", "web", "--image=busybox:1.36", "--target=web", "--container=sh1",
                        "--", "sh", stdin="ps\nhostname\nexit\n", timeout=60)
    assert "sleep 3600" in r.stdout, r.stdout + r.stderr
    assert "\nweb" in r.stdout.replace("\r", "")          # the pod's UTS namespace: its hostname
    # an ephemeral container is never restarted: it stays terminated
    state = wait_for("sh1 to end", lambda: (ephemeral_status(cluster, "web", "sh1").get("state") or {})
                     .get("terminated"), 30)
    assert state["exitCode"] == 0


def test_changing_an_ephemeral_container_is_refused_as_upstream(cluster):
    r = cluster.kubectl("patch", "pod", "web", "--subresource=ephemeralcontainers", "--type=json", "-p",
                        '[{"op": "remove", "path": "/spec/ephemeralContainers/0"}]', check=False)
    assert r.returncode == 1
    assert 'existing ephemeral containers "ps1" may not be removed' in r.stderr


def test_copy_to_with_share_processes_sees_the_other_containers(cluster):
    cluster.kubectl("debug", "web", "--copy-to=web-copy", "--share-processes", "--image=busybox:1.36",
                    "--container=dbg", "--", "sleep", "3600")
    wait_for("web-copy Ready", lambda: pod_ready(cluster.get("pod", "web-copy")), 60)
    spec = cluster.get("pod", "web-copy")["spec"]
    assert spec["shareProcessNamespace"] is True and [c["name"] for c in spec["containers"]] == ["web", "dbg"]
    lines = cluster.kubectl("exec", "web-copy", "-c", "dbg", "--", "ps").stdout.splitlines()
    # one PID namespace for the pod: the pause process is its PID 1, and both containers are in it
    assert any(line.split()[:1] == ["1"] and "/pause" in line for line in lines), lines
    assert any("sleep 3600" in line for line in lines) and sum("sleep 3600" in line for line in lines) == 2, lines


def test_debug_node_runs_in_the_nodes_namespaces_with_its_root_at_host(cluster):
    node_hostname = cluster.node_exec("node-1", "hostname").strip()
    r = cluster.kubectl("debug", "node/node-1", "-it", "--image=busybox:1.36", "--", "sh",
                        stdin="hostname\nps\nls /host/opt\nexit\n", timeout=60)
    out = r.stdout.replace("\r", "")
    assert "Creating debugging pod node-debugger-node-1-" in out, out + r.stderr
    assert f"\n{node_hostname}\n" in out, out             # hostNetwork: the node's UTS namespace
    assert "kubetui" in out and "kubelet" in out, out     # hostPID: the node's processes (its kubelet)
