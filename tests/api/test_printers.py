"""Table tests for the one printer, ported case by case from upstream's printer tests.

Upstream: ``pkg/printers/internalversion/printers_test.go`` (``TestPrintPod``,
``TestPrintPodWithRestartableInitContainer``, ``TestPrintPodwide``,
``TestPrintPodConditions``, ``TestPrintNodeStatus``, ``TestPrintNodeRole``,
``TestPrintNodeOSImage``, ``TestPrintNodeKernelVersion``,
``TestPrintNodeContainerRuntimeVersion``, ``TestPrintNodeName``,
``TestPrintNodeExternalIP``, ``TestPrintNodeInternalIP``, ``TestPrintEvent``,
``TestPrintNamespace``, ``TestPrintSecret``, ``TestPrintServiceAccount``,
``TestPrintServiceLoadBalancer``, ``TestPrintDeployment``). Go's zero values
become absent fields; ``time.Now().Add(-10s)`` becomes ``ts(10)`` against a
fixed ``NOW``. Non-wide cases compare the first cells (the API server always
fills the wide ones too).
"""

from __future__ import annotations

import datetime as dt

import pytest

from kubetui.api import printers as P
from kubetui.api.printers.core import service_row

NOW = 1_800_000_000.0
DAY = 86400


def ts(ago: float) -> str:
    return dt.datetime.fromtimestamp(NOW - ago, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def cs(*, ready=False, restarts=0, state=None, last_finished=None, name=None, started=None):
    """A container status; ``state`` is ``running``/``waiting:<reason>``/``terminated:<reason>:<code>``/None."""
    out: dict = {"ready": ready, "restartCount": restarts, "state": {}}
    if name is not None:
        out["name"] = name
    if started is not None:
        out["started"] = started
    if state == "running":
        out["state"] = {"running": {}}
    elif state and state.startswith("waiting"):
        reason = state.partition(":")[2]
        out["state"] = {"waiting": {"reason": reason} if reason else {}}
    elif state and state.startswith("terminated"):
        _, reason, code = (state.split(":") + ["", ""])[:3]
        term: dict = {"exitCode": int(code or 0)}
        if reason:
            term["reason"] = reason
        out["state"] = {"terminated": term}
    if last_finished is not None:
        out["lastState"] = {"terminated": {"finishedAt": ts(last_finished)}}
    return out


def pod(name, containers=1, *, init=0, init_specs=None, deleted=False, **status):
    spec: dict = {"containers": [{"name": f"c{i}"} for i in range(containers)]}
    if init or init_specs:
        spec["initContainers"] = init_specs or [{"name": f"i{i}"} for i in range(init)]
    meta: dict = {"name": name}
    if deleted:
        meta["deletionTimestamp"] = ts(10)
    return {"metadata": meta, "spec": spec, "status": status}


def cond(type_, status="True", reason=None):
    out = {"type": type_, "status": status}
    if reason:
        out["reason"] = reason
    return out


SIDECARS = [{"name": "restartable-init-1", "restartPolicy": "Always"},
            {"name": "restartable-init-2", "restartPolicy": "Always"}]

POD_CASES = [
    # TestPrintPod
    (pod("test1", 2, phase="podPhase", containerStatuses=[cs(ready=True, restarts=3, state="running"),
                                                          cs(restarts=3)]),
     ["test1", "1/2", "podPhase", "6", "<unknown>"]),
    (pod("test2", 2, phase="podPhase", containerStatuses=[
        cs(ready=True, restarts=3, state="running"), cs(restarts=3, state="waiting:ContainerWaitingReason")]),
     ["test2", "1/2", "ContainerWaitingReason", "6", "<unknown>"]),
    (pod("test3", 2, phase="podPhase", containerStatuses=[
        cs(restarts=3, state="waiting:ContainerWaitingReason"),
        cs(restarts=3, state="terminated:ContainerTerminatedReason")]),
     ["test3", "0/2", "ContainerWaitingReason", "6", "<unknown>"]),
    (pod("test4", 2, phase="podPhase", containerStatuses=[cs(ready=True, restarts=3, state="running"),
                                                          cs(ready=True, restarts=3)]),
     ["test4", "1/2", "podPhase", "6", "<unknown>"]),
    (pod("test5", 2, reason="podReason", phase="podPhase",
         containerStatuses=[cs(ready=True, restarts=3, state="running"), cs(ready=True, restarts=3)]),
     ["test5", "1/2", "podReason", "6", "<unknown>"]),
    (pod("test6", 2, phase="Running", containerStatuses=[
        cs(ready=True, restarts=3, state="terminated:Completed:0"), cs(ready=True, restarts=3, state="running")]),
     ["test6", "1/2", "NotReady", "6", "<unknown>"]),
    (pod("test6", 2, phase="Running", conditions=[cond("Ready")], containerStatuses=[
        cs(ready=True, restarts=3, state="terminated:Completed:0"), cs(ready=True, restarts=3, state="running")]),
     ["test6", "1/2", "Running", "6", "<unknown>"]),
    (pod("test7", 1, init=1, phase="podPhase",
         initContainerStatuses=[cs(restarts=3, state="running", last_finished=10)],
         containerStatuses=[cs(state="waiting")]),
     ["test7", "0/1", "Init:0/1", "3 (10s ago)", "<unknown>"]),
    (pod("test8", 1, init=2, phase="podPhase",
         initContainerStatuses=[cs(restarts=3, state="running", last_finished=10), cs(state="waiting")],
         containerStatuses=[cs(state="waiting")]),
     ["test8", "0/1", "Init:0/2", "3 (10s ago)", "<unknown>"]),
    (pod("test9", 1, init=2, phase="podPhase",
         initContainerStatuses=[cs(state="terminated"), cs(restarts=3, state="running", last_finished=10)],
         containerStatuses=[cs(state="waiting")]),
     ["test9", "0/1", "Init:1/2", "3 (10s ago)", "<unknown>"]),
    (pod("test10", 1, init=2, phase="podPhase",
         initContainerStatuses=[cs(restarts=2, state="terminated", last_finished=120),
                                cs(restarts=3, state="running", last_finished=10)],
         containerStatuses=[cs(state="waiting")]),
     ["test10", "0/1", "Init:1/2", "5 (10s ago)", "<unknown>"]),
    (pod("test11", 1, init=1, phase="Running",
         initContainerStatuses=[cs(restarts=2, state="terminated", last_finished=120)],
         containerStatuses=[cs(restarts=4, state="running", last_finished=20)]),
     ["test11", "0/1", "Running", "4 (20s ago)", "<unknown>"]),
    (pod("test12", 1, phase="Running",
         containerStatuses=[cs(ready=True, restarts=3, state="running", last_finished=5 * DAY)]),
     ["test12", "1/1", "Running", "3 (5d ago)", "<unknown>"]),
    (pod("test13", 2, phase="Running", containerStatuses=[
        cs(ready=True, state="running"), cs(ready=True, restarts=3, state="running", last_finished=10 * DAY)]),
     ["test13", "2/2", "Running", "3 (10d ago)", "<unknown>"]),
    (pod("test14", 2, phase="Running", containerStatuses=[
        cs(ready=True, restarts=6, state="running", last_finished=5 * DAY),
        cs(ready=True, restarts=3, state="running", last_finished=20 * DAY)]),
     ["test14", "2/2", "Running", "9 (5d ago)", "<unknown>"]),
    (pod("test15", 2, phase="podPhase", conditions=[cond("PodScheduled", "False", "SchedulingGated")]),
     ["test15", "0/2", "SchedulingGated", "0", "<unknown>"]),
    (pod("test16", 1, phase="Succeeded", containerStatuses=[cs(state="terminated:Completed:0")]),
     ["test16", "0/1", "Completed", "0", "<unknown>"]),
    (pod("test17", 1, phase="Failed", containerStatuses=[cs(state="terminated:Error:1")]),
     ["test17", "0/1", "Error", "0", "<unknown>"]),
    (pod("test18", 1, deleted=True, phase="Succeeded", containerStatuses=[cs(state="terminated:Completed:0")]),
     ["test18", "0/1", "Completed", "0", "<unknown>"]),
    (pod("test19", 1, deleted=True, phase="Running", containerStatuses=[cs(state="running")]),
     ["test19", "0/1", "Terminating", "0", "<unknown>"]),
    (pod("test20", 1, deleted=True, phase="Pending"), ["test20", "0/1", "Terminating", "0", "<unknown>"]),
    # TestPrintPodWithRestartableInitContainer
    (pod("test1", 1, init_specs=SIDECARS, phase="Pending", conditions=[cond("Initialized", "False")],
         initContainerStatuses=[
             cs(name="restartable-init-1", restarts=3, state="running", started=False, last_finished=10),
             cs(name="restartable-init-2", state="waiting", started=False)],
         containerStatuses=[cs(state="waiting")]),
     ["test1", "0/3", "Init:0/2", "3 (10s ago)", "<unknown>"]),
    (pod("test1", 1, init_specs=SIDECARS, phase="Pending", conditions=[cond("Initialized", "False")],
         initContainerStatuses=[
             cs(name="restartable-init-1", restarts=3, state="running", started=True, last_finished=10),
             cs(name="restartable-init-2", state="running", started=False)],
         containerStatuses=[cs(state="waiting")]),
     ["test1", "0/3", "Init:1/2", "3 (10s ago)", "<unknown>"]),
    (pod("test2", 1, init_specs=SIDECARS, phase="Running", conditions=[cond("Initialized")],
         initContainerStatuses=[
             cs(name="restartable-init-1", restarts=3, state="running", started=True, last_finished=10),
             cs(name="restartable-init-2", state="running", started=True)],
         containerStatuses=[cs(ready=True, restarts=4, state="running", last_finished=20)]),
     ["test2", "1/3", "Running", "7 (10s ago)", "<unknown>"]),
    (pod("test3", 1, init_specs=SIDECARS, phase="Succeeded", conditions=[cond("Initialized")],
         initContainerStatuses=[
             cs(name="restartable-init-1", restarts=3, state="terminated:Error:137", started=False,
                last_finished=10),
             cs(name="restartable-init-2", state="terminated:Error:137", started=False)],
         containerStatuses=[cs(restarts=4, state="terminated:Completed:0", last_finished=20)]),
     ["test3", "0/3", "Completed", "7 (10s ago)", "<unknown>"]),
    ({"metadata": {"name": "test4"},
      "spec": {"initContainers": [{"name": "init1", "image": "initimage"},
                                  {"name": "sidecar1", "image": "sidecarimage", "restartPolicy": "Always"}],
               "containers": [{"name": "container1", "image": "containerimage"}]},
      "status": {"phase": "Running",
                 "initContainerStatuses": [{"name": "initinvalid"}, {"name": "init1"}, {"name": "sidecar1"}],
                 "containerStatuses": [{"name": "containerinvalid"}, {"name": "container1"}]}},
     ["test4", "0/2", "Init:0/2", "0", "<unknown>"]),
]


@pytest.mark.parametrize("obj,cells", POD_CASES, ids=[f"{c[0]['metadata']['name']}-{i}"
                                                      for i, c in enumerate(POD_CASES)])
def test_print_pod(obj, cells):
    assert P.pod_row(obj, NOW)[:5] == cells


def _gated(name, ip_list, **extra):
    p = pod(name, 2, phase="podPhase", podIPs=[{"ip": ip} for ip in ip_list], nominatedNodeName="node1",
            conditions=[cond("condition1", "False"), cond("condition2")],
            containerStatuses=[cs(ready=True, restarts=3, state="running"), cs(restarts=3)])
    p["spec"]["nodeName"] = "test1"
    p["spec"]["readinessGates"] = [{"conditionType": f"condition{i}"} for i in (1, 2, 3)]
    return p


@pytest.mark.parametrize("obj,cells", [
    (_gated("test1", ["1.1.1.1"]),
     ["test1", "1/2", "podPhase", "6", "<unknown>", "1.1.1.1", "test1", "node1", "1/3"]),
    (_gated("test1", ["1.1.1.1", "2001:db8::"]),
     ["test1", "1/2", "podPhase", "6", "<unknown>", "1.1.1.1", "test1", "node1", "1/3"]),
    (pod("test2", 2, phase="podPhase", containerStatuses=[
        cs(ready=True, restarts=3, state="running"), cs(restarts=3, state="waiting:ContainerWaitingReason")]),
     ["test2", "1/2", "ContainerWaitingReason", "6", "<unknown>", "<none>", "<none>", "<none>", "<none>"]),
])
def test_print_pod_wide(obj, cells):
    """TestPrintPodwide."""
    assert P.pod_row(obj, NOW) == cells


@pytest.mark.parametrize("phase,cells,conditions", [
    ("Running", ["test1", "1/2", "Running", "6", "<unknown>"], []),
    ("Succeeded", ["test1", "1/2", "Succeeded", "6", "<unknown>"],
     [{"type": "Completed", "status": "True", "reason": "Succeeded",
       "message": "The pod has completed successfully."}]),
    ("Failed", ["test1", "1/2", "Failed", "6", "<unknown>"],
     [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]),
])
def test_print_pod_conditions(phase, cells, conditions):
    """TestPrintPodConditions: finished pods' rows carry a Completed condition."""
    p = pod("test1", 2, phase=phase, containerStatuses=[cs(ready=True, restarts=3, state="running"),
                                                        cs(restarts=3)])
    assert P.pod_row(p, NOW)[:5] == cells
    assert P.PRINTERS["pods"].row_conditions(p) == conditions


# -- nodes ------------------------------------------------------------------------------------

def node(name, conditions=None, unschedulable=False, labels=None, info=None, addresses=None):
    n: dict = {"metadata": {"name": name}, "spec": {}, "status": {}}
    if conditions is not None:
        n["status"]["conditions"] = conditions
    if unschedulable:
        n["spec"]["unschedulable"] = True
    if labels:
        n["metadata"]["labels"] = labels
    if info:
        n["status"]["nodeInfo"] = info
    if addresses:
        n["status"]["addresses"] = [{"type": t, "address": a} for t, a in addresses]
    return n


@pytest.mark.parametrize("obj,status", [
    (node("foo1", [cond("Ready")]), "Ready"),
    (node("foo2", [cond("Ready")], unschedulable=True), "Ready,SchedulingDisabled"),
    (node("foo3", [cond("Ready"), cond("Ready")]), "Ready"),
    (node("foo4", [cond("Ready", "False")]), "NotReady"),
    (node("foo5", [cond("Ready", "False")], unschedulable=True), "NotReady,SchedulingDisabled"),
    (node("foo6", [cond("InvalidValue")]), "Unknown"),
    (node("foo7", [{}]), "Unknown"),
    (node("foo8", [cond("InvalidValue")], unschedulable=True), "Unknown,SchedulingDisabled"),
    (node("foo9", [{}], unschedulable=True), "Unknown,SchedulingDisabled"),
])
def test_print_node_status(obj, status):
    """TestPrintNodeStatus."""
    assert P.node_row(obj, NOW)[:5] == [obj["metadata"]["name"], status, "<none>", "<unknown>", ""]


@pytest.mark.parametrize("labels,roles", [
    (None, "<none>"),
    ({"node-role.kubernetes.io/master": "", "node-role.kubernetes.io/control-plane": "",
      "node-role.kubernetes.io/proxy": "", "kubernetes.io/role": "node"}, "control-plane,master,node,proxy"),
    ({"kubernetes.io/role": "node"}, "node"),
])
def test_print_node_role(labels, roles):
    """TestPrintNodeRole."""
    assert P.node_row(node("foo", labels=labels), NOW)[:5] == ["foo", "Unknown", roles, "<unknown>", ""]


EXT = [("ExternalIP", "1.1.1.1")]


@pytest.mark.parametrize("obj,wide", [
    # TestPrintNodeOSImage, TestPrintNodeKernelVersion, TestPrintNodeContainerRuntimeVersion
    (node("foo1", info={"osImage": "fake-os-image"}, addresses=EXT),
     ["<none>", "1.1.1.1", "fake-os-image", "<unknown>", "<unknown>"]),
    (node("foo2", info={"kernelVersion": "fake-kernel-version"}, addresses=EXT),
     ["<none>", "1.1.1.1", "<unknown>", "fake-kernel-version", "<unknown>"]),
    (node("foo3", info={"containerRuntimeVersion": "foo://1.2.3"}, addresses=EXT),
     ["<none>", "1.1.1.1", "<unknown>", "<unknown>", "foo://1.2.3"]),
    (node("foo4", info={}, addresses=EXT), ["<none>", "1.1.1.1", "<unknown>", "<unknown>", "<unknown>"]),
    # TestPrintNodeExternalIP, TestPrintNodeInternalIP: the first address of each type
    (node("foo5", addresses=[("InternalIP", "1.1.1.1")]), ["1.1.1.1", "<none>", "<unknown>", "<unknown>",
                                                           "<unknown>"]),
    (node("foo6", addresses=[("ExternalIP", "2.2.2.2"), ("InternalIP", "3.3.3.3"), ("ExternalIP", "4.4.4.4")]),
     ["3.3.3.3", "2.2.2.2", "<unknown>", "<unknown>", "<unknown>"]),
    (node("foo7", addresses=[("InternalIP", "2.2.2.2"), ("ExternalIP", "3.3.3.3"), ("InternalIP", "4.4.4.4")]),
     ["2.2.2.2", "3.3.3.3", "<unknown>", "<unknown>", "<unknown>"]),
])
def test_print_node_wide(obj, wide):
    assert P.node_row(obj, NOW) == [obj["metadata"]["name"], "Unknown", "<none>", "<unknown>", ""] + wide


@pytest.mark.parametrize("name", ["127.0.0.1", ""])
def test_print_node_name(name):
    """TestPrintNodeName."""
    assert P.node_row(node(name), NOW)[:5] == [name, "Unknown", "<none>", "<unknown>", ""]


# -- events -------------------------------------------------------------------------------------

def event(name, kind="Deployment", obj_name="Deployment Name", type_="Warning", source=None, **times):
    ev = {"metadata": {"name": name}, "type": type_, "reason": "Event Reason", "message": "Message Data",
          "involvedObject": {"kind": kind, "name": obj_name, "fieldPath": "spec.containers{foo}"}}
    if source is not None:
        ev["source"] = source
    ev.update(times)
    return ev


KUBELET_NODE1 = {"component": "kubelet", "host": "Node1"}


@pytest.mark.parametrize("ev,cells", [
    (event("event1", "Pod", "Pod Name", "Normal", {"component": "kubelet"}, firstTimestamp=ts(3 * DAY),
           lastTimestamp=ts(2 * DAY), count=6),
     ["2d", "Normal", "Event Reason", "pod/Pod Name", "spec.containers{foo}", "kubelet", "Message Data", "3d", 6,
      "event1"]),
    (event("event2", source=KUBELET_NODE1, firstTimestamp=ts(3 * DAY), lastTimestamp=ts(2 * DAY), count=6),
     ["2d", "Warning", "Event Reason", "deployment/Deployment Name", "spec.containers{foo}", "kubelet, Node1",
      "Message Data", "3d", 6, "event2"]),
    (event("event3", source=KUBELET_NODE1, eventTime=ts(3 * DAY), lastTimestamp=ts(3 * DAY), count=1),
     ["3d", "Warning", "Event Reason", "deployment/Deployment Name", "spec.containers{foo}", "kubelet, Node1",
      "Message Data", "3d", 1, "event3"]),
    (event("event4", source=KUBELET_NODE1, eventTime=ts(3 * DAY), firstTimestamp=ts(3 * DAY), count=1),
     ["3d", "Warning", "Event Reason", "deployment/Deployment Name", "spec.containers{foo}", "kubelet, Node1",
      "Message Data", "3d", 1, "event4"]),
    (event("event5", source=KUBELET_NODE1, eventTime=ts(3 * DAY), count=1),
     ["3d", "Warning", "Event Reason", "deployment/Deployment Name", "spec.containers{foo}", "kubelet, Node1",
      "Message Data", "3d", 1, "event5"]),
    (event("event6", source=KUBELET_NODE1, eventTime=ts(3 * DAY),
           series={"count": 2, "lastObservedTime": ts(2 * DAY)}),
     ["2d", "Warning", "Event Reason", "deployment/Deployment Name", "spec.containers{foo}", "kubelet, Node1",
      "Message Data", "3d", 2, "event6"]),
    (event("event7", source=KUBELET_NODE1, eventTime=ts(3 * DAY)),
     ["3d", "Warning", "Event Reason", "deployment/Deployment Name", "spec.containers{foo}", "kubelet, Node1",
      "Message Data", "3d", 1, "event7"]),
    (event("event2", reportingComponent="kubelet", reportingInstance="test", firstTimestamp=ts(3 * DAY),
           lastTimestamp=ts(2 * DAY), count=6),
     ["2d", "Warning", "Event Reason", "deployment/Deployment Name", "spec.containers{foo}", "kubelet, test",
      "Message Data", "3d", 6, "event2"]),
])
def test_print_event(ev, cells):
    """TestPrintEvent (wide: every cell)."""
    assert P.event_row(ev, NOW) == cells


# -- namespaces, secrets, service accounts ----------------------------------------------------------

def test_print_namespace_secret_serviceaccount():
    """TestPrintNamespace, TestPrintSecret, TestPrintServiceAccount (a creation 1.9 s in the future is 0s)."""
    future = dt.datetime.fromtimestamp(NOW + 1.9, dt.timezone.utc).isoformat().replace("+00:00", "Z")
    assert P.namespace_row({"metadata": {"name": "namespace1", "creationTimestamp": future},
                            "status": {"phase": "FooStatus"}}, NOW) == ["namespace1", "FooStatus", "0s"]
    assert P.namespace_row({"metadata": {"name": "namespace2"}}, NOW) == ["namespace2", "", "<unknown>"]
    sec = {"metadata": {"name": "secret1", "creationTimestamp": future},
           "type": "kubernetes.io/service-account-token", "data": {"token": "c2VjcmV0IGRhdGE="}}
    assert P.secret_row(sec, NOW) == ["secret1", "kubernetes.io/service-account-token", 1, "0s"]
    del sec["data"]
    assert P.secret_row(sec, NOW) == ["secret1", "kubernetes.io/service-account-token", 0, "0s"]
    sa = {"metadata": {"name": "sa1", "creationTimestamp": future}, "secrets": []}
    assert P.serviceaccount_row(sa, NOW) == ["sa1", 0, "0s"]
    sa["secrets"] = [{"name": "Secret1"}, {"name": "Secret2"}]
    assert P.serviceaccount_row(sa, NOW) == ["sa1", 2, "0s"]


# -- services ---------------------------------------------------------------------------------------

def lb_service(name, cip, ports, ingress=None, selector=None):
    svc: dict = {"metadata": {"name": name},
                 "spec": {"clusterIPs": [cip], "type": "LoadBalancer",
                          "ports": [{"port": p, "protocol": proto} for p, proto in ports]}}
    if selector:
        svc["spec"]["selector"] = selector
    if ingress:
        svc["status"] = {"loadBalancer": {"ingress": ingress}}
    return svc


THREE = [(80, "TCP"), (8090, "UDP"), (8000, "TCP")]
LONG_INGRESS = [{"ip": "2.3.4.5"}, {"ip": "3.4.5.6"}, {"ip": "5.6.7.8", "hostname": "host5678"}]


@pytest.mark.parametrize("svc,wide,cells", [
    (lb_service("service1", "1.2.3.4", [(80, "TCP")], [{"ip": "2.3.4.5"}, {"ip": "3.4.5.6"}]), False,
     ["service1", "LoadBalancer", "1.2.3.4", "2.3.4.5,3.4.5.6", "80/TCP", "<unknown>"]),
    (lb_service("service2", "1.3.4.5", THREE + [(7777, "SCTP")]), False,
     ["service2", "LoadBalancer", "1.3.4.5", "<pending>", "80/TCP,8090/UDP,8000/TCP,7777/SCTP", "<unknown>"]),
    (lb_service("service3", "1.4.5.6", THREE, [{"ip": "2.3.4.5"}]), False,
     ["service3", "LoadBalancer", "1.4.5.6", "2.3.4.5", "80/TCP,8090/UDP,8000/TCP", "<unknown>"]),
    (lb_service("service4", "1.5.6.7", THREE, LONG_INGRESS), False,
     ["service4", "LoadBalancer", "1.5.6.7", "2.3.4.5,3.4.5...", "80/TCP,8090/UDP,8000/TCP", "<unknown>"]),
    (lb_service("service4", "1.5.6.7", THREE, LONG_INGRESS, {"foo": "bar"}), True,
     ["service4", "LoadBalancer", "1.5.6.7", "2.3.4.5,3.4.5.6,5.6.7.8", "80/TCP,8090/UDP,8000/TCP", "<unknown>",
      "foo=bar"]),
])
def test_print_service_load_balancer(svc, wide, cells):
    """TestPrintServiceLoadBalancer: ingress addresses sorted, clipped to 16 characters unless wide."""
    assert service_row(svc, NOW, wide)[:len(cells)] == cells


# -- deployments --------------------------------------------------------------------------------------

def test_print_deployment():
    """TestPrintDeployment: READY is readyReplicas/spec.replicas; wide adds containers, images, selector."""
    future = dt.datetime.fromtimestamp(NOW + 1.9, dt.timezone.utc).isoformat().replace("+00:00", "Z")
    d = {"metadata": {"name": "test1", "creationTimestamp": future},
         "spec": {"replicas": 5, "selector": {"matchLabels": {"foo": "bar"}},
                  "template": {"spec": {"containers": [{"name": "fake-container1", "image": "fake-image1"},
                                                       {"name": "fake-container2", "image": "fake-image2"}]}}},
         "status": {"replicas": 10, "updatedReplicas": 2, "availableReplicas": 1, "unavailableReplicas": 4}}
    assert P.deployment_row(d, NOW) == ["test1", "0/5", 2, 1, "0s", "fake-container1,fake-container2",
                                        "fake-image1,fake-image2", "foo=bar"]


# -- the registry covers every kind served ----------------------------------------------------------------

def test_every_served_kind_has_a_printer():
    from kubetui.api.resources import RESOURCES

    served = {r.group_resource for r in RESOURCES}
    assert served - set(P.PRINTERS) == set()
    for gr, printer in P.PRINTERS.items():
        assert printer.columns[0]["name"] in ("Name", "Last Seen"), gr


# -- defects the port revealed ------------------------------------------------------------------------------

def test_endpointslice_ports_show_name_or_star_and_more():
    """formatDiscoveryPorts: a port without a number shows its name (or ``*``); four ports show three + more."""
    es = {"metadata": {"name": "web-abc"}, "addressType": "IPv4",
          "ports": [{"name": "http"}, {}, {"port": 443}, {"port": 8443}],
          "endpoints": [{"addresses": ["10.0.0.1"]}]}
    assert P.endpointslice_row(es, NOW)[1:4] == ["IPv4", "http,*,443 + 1 more...", "10.0.0.1"]
    es["ports"] = []
    es["endpoints"] = []
    assert P.endpointslice_row(es, NOW)[2:4] == ["<unset>", "<unset>"]


def test_pv_and_pvc_being_deleted_show_terminating():
    """printPersistentVolume(Claim): a deletionTimestamp overrides the phase; capacity shows once a volume is named."""
    pv = {"metadata": {"name": "pv1", "deletionTimestamp": ts(5)},
          "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                   "claimRef": {"namespace": "default", "name": "data"}},
          "status": {"phase": "Bound"}}
    assert P.pv_row(pv, NOW)[1:6] == ["1Gi", "RWO", "", "Terminating", "default/data"]
    pvc = {"metadata": {"name": "data", "deletionTimestamp": ts(5)},
           "spec": {"volumeName": "pv1", "storageClassName": "standard"},
           "status": {"phase": "Pending", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]}}
    assert P.pvc_row(pvc, NOW)[:6] == ["data", "Terminating", "pv1", "1Gi", "RWO", "standard"]

