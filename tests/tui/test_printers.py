"""Table tests for the kubectl columns and pod states the TUI computes client-side."""

import pytest

from kubetui.tui.capacity import format_bytes, format_cpu, node_allocation, pod_requests
from kubetui.tui.printers import (headers_for, human_duration, node_ready, pod_chip_state, pod_status_reason,
                                  row_for)
from tests.tui.fakes import FIXED_NOW, node, pod, sample_objects


@pytest.mark.parametrize("seconds,expected", [
    (-5, "<invalid>"), (-0.5, "0s"), (0, "0s"), (59, "59s"), (119, "119s"), (120, "2m"), (150, "2m30s"),
    (599, "9m59s"), (600, "10m"), (3 * 3600 - 1, "179m"), (3 * 3600, "3h"), (3 * 3600 + 120, "3h2m"),
    (8 * 3600, "8h"), (47 * 3600, "47h"), (48 * 3600, "2d"), (49 * 3600, "2d1h"), (10 * 86400, "10d"),
    (800 * 86400, "2y70d"),
])
def test_human_duration_matches_kubectl(seconds, expected):
    assert human_duration(seconds) == expected


@pytest.mark.parametrize("state,status,chip", [
    ("Pending", "Pending", "Pending"),
    ("ContainerCreating", "ContainerCreating", "ContainerCreating"),
    ("Running", "Running", "Running"),
    ("Ready", "Running", "Ready"),
    ("CrashLoopBackOff", "CrashLoopBackOff", "CrashLoopBackOff"),
    ("OOMKilled", "OOMKilled", "OOMKilled"),
    ("Terminating", "Terminating", "Terminating"),
])
def test_pod_status_and_chip(state, status, chip):
    p = pod("x", state=state)
    assert pod_status_reason(p) == status
    assert pod_chip_state(p) == chip


def test_init_containers_and_completed():
    p = pod("x")
    p["spec"]["initContainers"] = [{"name": "init"}, {"name": "init2"}]
    p["status"]["initContainerStatuses"] = [
        {"name": "init", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
        {"name": "init2", "state": {"running": {}}}]
    assert pod_status_reason(p) == "Init:1/2"
    assert pod_chip_state(p) == "ContainerCreating"
    done = pod("y")
    done["status"]["containerStatuses"][0]["state"] = {"terminated": {"exitCode": 0, "reason": "Completed"}}
    done["status"]["phase"] = "Succeeded"
    assert pod_status_reason(done) == "Completed"
    assert pod_chip_state(done) == "Succeeded"
    err = pod("z")
    err["status"]["containerStatuses"][0]["state"] = {"terminated": {"exitCode": 2}}
    assert pod_status_reason(err) == "ExitCode:2"


def test_node_ready_and_cordon():
    assert node_ready(node("a")) == "Ready"
    # a Ready condition with status Unknown (kubelet silent) prints NotReady, as kubectl does
    assert node_ready(node("b", ready=False)) == "NotReady"
    n = node("c")
    n["spec"]["unschedulable"] = True
    n["status"]["conditions"][0]["status"] = "False"
    assert node_ready(n) == "NotReady,SchedulingDisabled"


def test_rows_have_kubectl_columns():
    objs = {(r, o["metadata"]["name"]): o for r, o in sample_objects()}
    assert headers_for("deployments") == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert row_for("deployments", objs[("deployments", "web")], FIXED_NOW) == ["web", "2/3", "3", "2", "10m"]
    assert row_for("services", objs[("services", "web")], FIXED_NOW, with_namespace=True) == \
        ["default", "web", "ClusterIP", "10.96.0.20", "<none>", "80/TCP", "10m"]
    assert row_for("endpoints", objs[("endpoints", "web")], FIXED_NOW)[1] == "10.244.1.5:80,10.244.2.7:80"
    assert row_for("secrets", objs[("secrets", "db-password")], FIXED_NOW) == ["db-password", "Opaque", "1", "10m"]
    assert row_for("pods", objs[("pods", "crasher")], FIXED_NOW)[:5] == ["crasher", "0/1", "CrashLoopBackOff", "4", "5m"]
    assert row_for("nodes", objs[("nodes", "node-3")], FIXED_NOW)[:3] == ["node-3", "NotReady", "<none>"]


def test_allocation_sums_requests_of_running_pods():
    pods = [pod("a", cpu="250m", memory="64Mi"), pod("b", cpu="1", memory="1Gi")]
    done = pod("c", cpu="1")
    done["status"]["phase"] = "Succeeded"
    a = node_allocation(node("n", cpu="2", memory="2Gi"), pods + [done])
    assert (a.cpu_requested, a.cpu_allocatable, a.pods, a.pods_allocatable) == (1250, 2000, 2, 110)
    assert a.memory_requested == (64 + 1024) * 2**20
    assert pod_requests({"spec": {"containers": [{}]}}) == (0, 0)
    assert (format_cpu(1500), format_cpu(2000), format_bytes(2**31), format_bytes(384 * 2**20)) == \
        ("1500m", "2", "2Gi", "384Mi")


@pytest.mark.parametrize("mutate,status", [
    # a sidecar (restartable init container) started: the pod runs, it is not initializing
    (lambda p: (p["spec"].__setitem__("initContainers", [{"name": "proxy", "restartPolicy": "Always"}]),
                p["status"].__setitem__("initContainerStatuses", [
                    {"name": "proxy", "started": True, "ready": True, "state": {"running": {}}}]),
                p["status"].setdefault("conditions", []).append({"type": "Initialized", "status": "True"})),
     "Running"),
    # a Succeeded pod being deleted still shows Completed (deletion does not override a finished phase)
    (lambda p: (p["metadata"].__setitem__("deletionTimestamp", "2023-11-14T22:00:00Z"),
                p["status"].__setitem__("phase", "Succeeded"),
                p["status"]["containerStatuses"][0].__setitem__(
                    "state", {"terminated": {"exitCode": 0, "reason": "Completed"}})),
     "Completed"),
    # a pod held by schedulingGates
    (lambda p: (p["spec"].pop("nodeName", None), p["status"].pop("containerStatuses", None),
                p["status"].__setitem__("phase", "Pending"),
                p["status"].__setitem__("conditions", [{"type": "PodScheduled", "status": "False",
                                                        "reason": "SchedulingGated"}])),
     "SchedulingGated"),
])
def test_tui_status_is_kubectls(mutate, status):
    """The TUI's STATUS is the API server's (they had drifted: Init:0/1, Terminating, Pending)."""
    from kubetui.apiserver.tables import pod_row

    p = pod("x")
    mutate(p)
    assert pod_status_reason(p) == status
    assert row_for("pods", p, FIXED_NOW)[2] == pod_row(p, FIXED_NOW)[2] == status


def test_boolean_cells_print_as_kubectl_does():
    """A boolean cell (StorageClass ALLOWVOLUMEEXPANSION) reads false/true, as kubectl prints Go's bool."""
    sc = {"metadata": {"name": "standard", "creationTimestamp": "2023-11-14T22:00:00Z"},
          "provisioner": "kubetui.io/local", "allowVolumeExpansion": True}
    assert row_for("storageclasses", sc, FIXED_NOW)[1:5] == ["kubetui.io/local", "Delete", "Immediate", "true"]
