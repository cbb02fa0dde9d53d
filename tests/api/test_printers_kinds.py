"""Table tests for the one printer's other kinds, ported case by case from upstream's printer tests.

Upstream: ``pkg/printers/internalversion/printers_test.go`` (``TestPrintService``,
``TestPrintServiceList``, ``TestPrintReplicaSet``, ``TestPrintPersistentVolume``,
``TestPrintPersistentVolumeClaim``, ``TestPrintConfigMap``, ``TestPrintStorageClass``,
``TestPrintLease``, ``TestPrintEndpoint``, ``TestPrintEndpointSlice``). Pods, nodes,
events and the rest are in ``test_printers.py``.
"""

from __future__ import annotations

import datetime as dt

import pytest

from kubetui.api import printers as P
from kubetui.api.printers.core import service_row
from tests.api.test_printers import NOW, ts



FUTURE = dt.datetime.fromtimestamp(NOW + 1.9, dt.timezone.utc).isoformat().replace("+00:00", "Z")  # "0s"
FIVE_MIN = ts(300)  # time.Now().Add(-3e11): "5m"


def svc(name, type_, ports, cips=None, ext=None, ingress=None, external_name=None, selector=None):
    spec: dict = {"type": type_, "ports": [dict(p) for p in ports]}
    if cips:
        spec["clusterIPs"] = cips
    if ext:
        spec["externalIPs"] = ext
    if external_name:
        spec["externalName"] = external_name
    if selector:
        spec["selector"] = selector
    out: dict = {"metadata": {"name": name}, "spec": spec}
    if ingress:
        out["status"] = {"loadBalancer": {"ingress": ingress}}
    return out


TCP_2233 = [{"protocol": "tcp", "port": 2233}]
TCP_8888 = [{"protocol": "tcp", "port": 8888}]
INGRESS2 = [{"ip": "2.3.4.5", "hostname": "test.cluster.local"}, {"ip": "3.4.5.6", "hostname": "test.cluster.com"}]


@pytest.mark.parametrize("obj,wide,cells", [
    # TestPrintService
    (svc("test1", "ClusterIP", TCP_2233, ["10.9.8.7"], selector={"foo": "bar"}), False,
     ["test1", "ClusterIP", "10.9.8.7", "<none>", "2233/tcp", "<unknown>"]),
    (svc("test1", "ClusterIP", TCP_2233, ["10.9.8.7"], selector={"foo": "bar"}), True,
     ["test1", "ClusterIP", "10.9.8.7", "<none>", "2233/tcp", "<unknown>", "foo=bar"]),
    (svc("test2", "NodePort", [{"protocol": "tcp", "port": 8888, "nodePort": 9999}], ["10.9.8.7"]), False,
     ["test2", "NodePort", "10.9.8.7", "<none>", "8888:9999/tcp", "<unknown>"]),
    (svc("test3", "LoadBalancer", TCP_8888, ["10.9.8.7"]), False,
     ["test3", "LoadBalancer", "10.9.8.7", "<pending>", "8888/tcp", "<unknown>"]),
    (svc("test4", "LoadBalancer", TCP_8888, ["10.9.8.7"], ext=["80.11.12.10"]), False,
     ["test4", "LoadBalancer", "10.9.8.7", "80.11.12.10", "8888/tcp", "<unknown>"]),
    (svc("test5", "LoadBalancer", TCP_8888, ["10.9.8.7"], ext=["80.11.12.10"],
         ingress=[{"ip": "3.4.5.6", "hostname": "test.cluster.com"}]), False,
     ["test5", "LoadBalancer", "10.9.8.7", "3.4.5.6,80.11.12.10", "8888/tcp", "<unknown>"]),
    (svc("test6", "LoadBalancer", TCP_8888, ["10.9.8.7"], ext=["80.11.12.10", "80.11.12.11"], ingress=INGRESS2), False,
     ["test6", "LoadBalancer", "10.9.8.7", "2.3.4.5,3.4.5.6,80.11.12.10,80.11.12.11", "8888/tcp", "<unknown>"]),
    (svc("test7", "ExternalName", [], external_name="my.database.example.com"), False,
     ["test7", "ExternalName", "<none>", "my.database.example.com", "<none>", "<unknown>"]),
    # TestPrintServiceList
    (svc("service2", "NodePort", [{"protocol": "udp", "port": 5566}], ["1.2.3.4"]), False,
     ["service2", "NodePort", "1.2.3.4", "<none>", "5566/udp", "<unknown>"]),
])
def test_print_service(obj, wide, cells):
    """TestPrintService, TestPrintServiceList."""
    assert service_row(obj, NOW, wide)[:len(cells)] == cells


def test_print_replicaset():
    """TestPrintReplicaSet (and the list's second item: an empty template)."""
    rs = {"metadata": {"name": "test1", "creationTimestamp": FUTURE},
          "spec": {"replicas": 5, "selector": {"matchLabels": {"foo": "bar"}},
                   "template": {"spec": {"containers": [{"name": "fake-container1", "image": "fake-image1"},
                                                        {"name": "fake-container2", "image": "fake-image2"}]}}},
          "status": {"replicas": 5, "readyReplicas": 2}}
    assert P.replicaset_row(rs, NOW) == ["test1", 5, 5, 2, "0s", "fake-container1,fake-container2",
                                         "fake-image1,fake-image2", "foo=bar"]
    rs2 = {"metadata": {"name": "replicaset2", "creationTimestamp": FUTURE},
           "spec": {"replicas": 4, "template": {}, "selector": {"matchLabels": {"foo": "bar"}}},
           "status": {"replicas": 3, "readyReplicas": 1}}
    assert P.replicaset_row(rs2, NOW)[:5] == ["replicaset2", 4, 3, 1, "0s"]


def pv(name, phase, modes, size, scn=None, vacn=None):
    spec: dict = {"claimRef": {"name": "test", "namespace": "default"}, "accessModes": modes,
                  "capacity": {"storage": size}}
    if scn:
        spec["storageClassName"] = scn
    if vacn:
        spec["volumeAttributesClassName"] = vacn
    return {"metadata": {"name": name}, "spec": spec, "status": {"phase": phase}}


@pytest.mark.parametrize("obj,cells", [
    (pv("test1", "Bound", ["ReadOnlyMany"], "4Gi"),
     ["test1", "4Gi", "ROX", "", "Bound", "default/test", "", "<unset>", "", "<unknown>", "<unset>"]),
    (pv("test2", "Failed", ["ReadOnlyMany"], "4Gi"),
     ["test2", "4Gi", "ROX", "", "Failed", "default/test", "", "<unset>", "", "<unknown>", "<unset>"]),
    (pv("test3", "Pending", ["ReadWriteMany"], "10Gi"),
     ["test3", "10Gi", "RWX", "", "Pending", "default/test", "", "<unset>", "", "<unknown>", "<unset>"]),
    (pv("test4", "Pending", ["ReadWriteOnce"], "10Gi", "my-scn"),
     ["test4", "10Gi", "RWO", "", "Pending", "default/test", "my-scn", "<unset>", "", "<unknown>", "<unset>"]),
    (pv("test4", "Pending", ["ReadWriteOnce"], "10Gi", "my-scn", "my-vacn"),
     ["test4", "10Gi", "RWO", "", "Pending", "default/test", "my-scn", "my-vacn", "", "<unknown>", "<unset>"]),
    (pv("test5", "Available", ["ReadWriteOnce"], "10Gi", "my-scn"),
     ["test5", "10Gi", "RWO", "", "Available", "default/test", "my-scn", "<unset>", "", "<unknown>", "<unset>"]),
    (pv("test6", "Released", ["ReadWriteOnce"], "10Gi", "my-scn"),
     ["test6", "10Gi", "RWO", "", "Released", "default/test", "my-scn", "<unset>", "", "<unknown>", "<unset>"]),
])
def test_print_persistent_volume(obj, cells):
    """TestPrintPersistentVolume."""
    assert P.pv_row(obj, NOW) == cells


def pvc(name, phase, modes, size, volume=None, scn=None, vacn=None, mode="Filesystem"):
    spec: dict = {}
    if volume:
        spec["volumeName"] = volume
    if mode:
        spec["volumeMode"] = mode
    if scn:
        spec["storageClassName"] = scn
    if vacn:
        spec["volumeAttributesClassName"] = vacn
    return {"metadata": {"name": name}, "spec": spec,
            "status": {"phase": phase, "accessModes": modes, "capacity": {"storage": size}}}


@pytest.mark.parametrize("obj,cells", [
    (pvc("test1", "Bound", ["ReadOnlyMany"], "4Gi", "my-volume"),
     ["test1", "Bound", "my-volume", "4Gi", "ROX", "", "<unset>", "<unknown>", "Filesystem"]),
    (pvc("test2", "Lost", ["ReadOnlyMany"], "4Gi"),
     ["test2", "Lost", "", "", "", "", "<unset>", "<unknown>", "Filesystem"]),
    (pvc("test3", "Pending", ["ReadWriteMany"], "10Gi", "my-volume"),
     ["test3", "Pending", "my-volume", "10Gi", "RWX", "", "<unset>", "<unknown>", "Filesystem"]),
    (pvc("test4", "Pending", ["ReadWriteOnce"], "10Gi", "my-volume", "my-scn"),
     ["test4", "Pending", "my-volume", "10Gi", "RWO", "my-scn", "<unset>", "<unknown>", "Filesystem"]),
    (pvc("test5", "Pending", ["ReadWriteOnce"], "10Gi", "my-volume", "my-scn", mode=None),
     ["test5", "Pending", "my-volume", "10Gi", "RWO", "my-scn", "<unset>", "<unknown>", "<unset>"]),
    (pvc("test5", "Pending", ["ReadWriteOnce"], "10Gi", "my-volume", "my-scn", "my-vacn", mode=None),
     ["test5", "Pending", "my-volume", "10Gi", "RWO", "my-scn", "my-vacn", "<unknown>", "<unset>"]),
])
def test_print_persistent_volume_claim(obj, cells):
    """TestPrintPersistentVolumeClaim: capacity and access modes show once spec.volumeName is set."""
    assert P.pvc_row(obj, NOW) == cells


def test_print_configmap():
    """TestPrintConfigMap: DATA counts data and binaryData."""
    cm = {"metadata": {"name": "configmap1", "creationTimestamp": FUTURE}}
    assert P.configmap_row(cm, NOW) == ["configmap1", 0, "0s"]
    cm = {"metadata": {"name": "configmap2", "creationTimestamp": FUTURE}, "data": {"foo": "bar"}}
    assert P.configmap_row(cm, NOW) == ["configmap2", 1, "0s"]
    cm["binaryData"] = {"bin": "YmluYXJ5IGRhdGE="}
    cm["metadata"]["name"] = "configmap3"
    assert P.configmap_row(cm, NOW) == ["configmap3", 2, "0s"]


@pytest.mark.parametrize("extra,created,cells", [
    ({}, FUTURE, ["sc1", "kubernetes.io/glusterfs", "Delete", "Immediate", False, "0s"]),
    ({"provisioner": "kubernetes.io/nfs"}, FIVE_MIN, ["sc2", "kubernetes.io/nfs", "Delete", "Immediate", False, "5m"]),
    ({"provisioner": "kubernetes.io/nfs", "reclaimPolicy": "Delete"}, FIVE_MIN,
     ["sc3", "kubernetes.io/nfs", "Delete", "Immediate", False, "5m"]),
    ({"provisioner": "kubernetes.io/nfs", "reclaimPolicy": "Retain", "volumeBindingMode": "Immediate"}, FIVE_MIN,
     ["sc4", "kubernetes.io/nfs", "Retain", "Immediate", False, "5m"]),
    ({"provisioner": "kubernetes.io/nfs", "reclaimPolicy": "Retain", "volumeBindingMode": "WaitForFirstConsumer"},
     FIVE_MIN, ["sc5", "kubernetes.io/nfs", "Retain", "WaitForFirstConsumer", False, "5m"]),
    ({"provisioner": "kubernetes.io/nfs", "reclaimPolicy": "Retain", "volumeBindingMode": "WaitForFirstConsumer",
      "allowVolumeExpansion": True}, FIVE_MIN, ["sc6", "kubernetes.io/nfs", "Retain", "WaitForFirstConsumer", True, "5m"]),
])
def test_print_storage_class(extra, created, cells):
    """TestPrintStorageClass: ALLOWVOLUMEEXPANSION is a boolean cell."""
    sc = {"metadata": {"name": cells[0], "creationTimestamp": created}, "provisioner": "kubernetes.io/glusterfs",
          **extra}
    assert P.storageclass_row(sc, NOW) == cells


def test_print_lease():
    """TestPrintLease."""
    assert P.lease_row({"metadata": {"name": "lease1", "creationTimestamp": FUTURE},
                        "spec": {"holderIdentity": "holder1"}}, NOW) == ["lease1", "holder1", "0s"]
    assert P.lease_row({"metadata": {"name": "lease2", "creationTimestamp": FIVE_MIN},
                        "spec": {"holderIdentity": "holder2"}}, NOW) == ["lease2", "holder2", "5m"]


ADDRS = [{"ip": "1.2.3.4"}, {"ip": "5.6.7.8"}]


@pytest.mark.parametrize("name,created,subsets,text,age_", [
    ("endpoint1", FUTURE, None, "<none>", "0s"),
    ("endpoint3", FIVE_MIN, [{"addresses": ADDRS}], "1.2.3.4,5.6.7.8", "5m"),
    ("endpoint2", FUTURE, [{"addresses": ADDRS, "ports": [{"port": 8001, "protocol": "tcp"}]}],
     "1.2.3.4:8001,5.6.7.8:8001", "0s"),
    ("endpoint2", FUTURE, [{"addresses": ADDRS + [{"ip": "9.8.7.6"}, {"ip": "6.6.6.6"}],
                            "ports": [{"port": 8001, "protocol": "tcp"}]}],
     "1.2.3.4:8001,5.6.7.8:8001,9.8.7.6:8001 + 1 more...", "0s"),
])
def test_print_endpoints(name, created, subsets, text, age_):
    """TestPrintEndpoint."""
    ep: dict = {"metadata": {"name": name, "creationTimestamp": created}}
    if subsets is not None:
        ep["subsets"] = subsets
    assert P.endpoints_row(ep, NOW) == [name, text, age_]


def _port(name, port):
    return {"name": name, "port": port, "protocol": "TCP"}


@pytest.mark.parametrize("es,cells", [
    ({"metadata": {"name": "abcslice.123", "creationTimestamp": FUTURE}, "addressType": "IPv4",
      "ports": [_port("http", 80)], "endpoints": [{"addresses": ["10.1.2.3", "2001:db8::1234:5678"]}]},
     ["abcslice.123", "IPv4", "80", "10.1.2.3,2001:db8::1234:5678", "0s"]),
    ({"metadata": {"name": "longerslicename.123", "creationTimestamp": FIVE_MIN}, "addressType": "IPv6",
      "ports": [_port("http", 80), _port("https", 443)],
      "endpoints": [{"addresses": ["10.1.2.3", "2001:db8::1234:5678"]},
                    {"addresses": ["10.2.3.4", "2001:db8::2345:6789"]}]},
     ["longerslicename.123", "IPv6", "80,443", "10.1.2.3,2001:db8::1234:5678,10.2.3.4 + 1 more...", "5m"]),
    ({"metadata": {"name": "multiportslice.123", "creationTimestamp": FIVE_MIN}, "addressType": "IPv4",
      "ports": [_port("http", 80), _port("https", 443), _port("extra1", 3000), _port("extra2", 3001)],
      "endpoints": [{"addresses": ["10.1.2.3", "2001:db8::1234:5678"]},
                    {"addresses": ["10.2.3.4", "2001:db8::2345:6789"]}]},
     ["multiportslice.123", "IPv4", "80,443,3000 + 1 more...", "10.1.2.3,2001:db8::1234:5678,10.2.3.4 + 1 more...",
      "5m"]),
])
def test_print_endpoint_slice(es, cells):
    """TestPrintEndpointSlice."""
    assert P.endpointslice_row(es, NOW) == cells
