"""The API server's pure pieces: certificates, tokens, kubeconfig, discovery, Tables, protobuf."""

from __future__ import annotations

import os
import ssl
import stat

import pytest
from cryptography import x509

from kubetui.api.errors import BadRequest, Unauthorized, UnsupportedMediaType
from kubetui.apiserver import discovery, protobuf, tables
from kubetui.apiserver.auth import TokenAuthenticator
from kubetui.apiserver.certs import ensure_pki
from kubetui.client.kubeconfig import load_kubeconfig, write_kubeconfig

NOW = 1_700_000_000.0


def ts(seconds_ago: float) -> str:
    from kubetui.clock import rfc3339
    return rfc3339(NOW - seconds_ago)


# -- certificates -----------------------------------------------------------------

def test_pki_created_reused_and_reissued_for_new_sans(tmp_path):
    pki = ensure_pki(tmp_path, "lab")
    for p in (pki.ca_crt, pki.ca_key, pki.apiserver_crt, pki.apiserver_key):
        assert p.exists()
    assert stat.S_IMODE(os.stat(pki.ca_key).st_mode) == 0o600
    cert = x509.load_pem_x509_certificate(pki.apiserver_crt.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in sans.get_values_for_type(x509.DNSName)
    assert "127.0.0.1" in [str(i) for i in sans.get_values_for_type(x509.IPAddress)]
    first = pki.apiserver_crt.read_bytes()
    ca = pki.ca_crt.read_bytes()

    again = ensure_pki(tmp_path, "lab")
    assert again.apiserver_crt.read_bytes() == first  # reused

    extra = ensure_pki(tmp_path, "lab", extra_sans=["172.18.0.1"])
    assert extra.apiserver_crt.read_bytes() != first  # re-issued to cover the new address
    assert extra.ca_crt.read_bytes() == ca             # by the same CA
    cert = x509.load_pem_x509_certificate(extra.apiserver_crt.read_bytes())
    ips = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "172.18.0.1" in [str(i) for i in ips.get_values_for_type(x509.IPAddress)]
    # the contexts load: the server's chain, and a client trusting only the CA
    assert isinstance(extra.server_ssl_context(), ssl.SSLContext)
    assert extra.client_ssl_context().verify_mode == ssl.CERT_REQUIRED


# -- tokens ------------------------------------------------------------------------

def test_tokens_persist_and_authenticate(tmp_path):
    auth = TokenAuthenticator.for_state_dir(tmp_path)
    admin = auth.admin_token()
    node = auth.node_token("node-1")
    assert stat.S_IMODE(os.stat(tmp_path / "tokens.json").st_mode) == 0o600
    again = TokenAuthenticator.for_state_dir(tmp_path)
    assert again.admin_token() == admin
    user = again.authenticate(f"Bearer {admin}")
    assert user.name == "kubernetes-admin" and "system:masters" in user.groups
    nuser = again.authenticate(f"Bearer {node}")
    assert nuser.name == "system:node:node-1" and nuser.groups == ("system:nodes",)
    for bad in (None, "", "Basic abc", "Bearer nope", f"Bearer {admin}x"):
        with pytest.raises(Unauthorized):
            again.authenticate(bad)


# -- kubeconfig -----------------------------------------------------------------------

def test_kubeconfig_round_trip(tmp_path):
    pki = ensure_pki(tmp_path)
    path = write_kubeconfig(tmp_path / "kubeconfig", "lab", "https://127.0.0.1:6443", pki.ca_pem(), "tok")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    cfg = load_kubeconfig(path)
    assert cfg.server == "https://127.0.0.1:6443"
    assert cfg.token == "tok" and cfg.ca_pem == pki.ca_pem()
    assert cfg.context == "kubetui-lab" and cfg.cluster == "kubetui-lab"
    assert cfg.ssl_context() is not None
    with pytest.raises(ValueError, match="context"):
        load_kubeconfig(path, context="other")


# -- discovery ---------------------------------------------------------------------------

def test_aggregated_discovery_shapes():
    core = discovery.aggregated(core=True)
    assert core["kind"] == "APIGroupDiscoveryList" and core["apiVersion"] == "apidiscovery.k8s.io/v2"
    (group,) = core["items"]
    pods = next(r for r in group["versions"][0]["resources"] if r["resource"] == "pods")
    assert pods["responseKind"] == {"group": "", "version": "v1", "kind": "Pod"}
    assert pods["scope"] == "Namespaced" and pods["singularResource"] == "pod"
    assert "po" in pods["shortNames"] and "all" in pods["categories"]
    subs = {s["subresource"]: s for s in pods["subresources"]}
    assert subs["status"]["responseKind"]["kind"] == "Pod"
    assert subs["eviction"]["responseKind"] == {"group": "policy", "version": "v1", "kind": "Eviction"}
    named = {i["metadata"]["name"] for i in discovery.aggregated(core=False)["items"]}
    assert {"apps", "metrics.k8s.io", "authorization.k8s.io"} <= named
    deploy = next(r for i in discovery.aggregated(core=False)["items"] if i["metadata"]["name"] == "apps"
                  for r in i["versions"][0]["resources"] if r["resource"] == "deployments")
    scale = next(s for s in deploy["subresources"] if s["subresource"] == "scale")
    assert scale["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}


def test_legacy_discovery_lists_subresources():
    rl = discovery.api_resource_list("", "v1")
    names = {r["name"]: r for r in rl["resources"]}
    assert names["pods"]["namespaced"] and names["pods"]["kind"] == "Pod"
    assert "pods/status" in names and "pods/log" in names
    assert names["pods/eviction"]["group"] == "policy"
    assert rl["groupVersion"] == "v1"
    assert discovery.api_resource_list("apps", "v1")["groupVersion"] == "apps/v1"
    groups = {g["name"] for g in discovery.api_group_list()["groups"]}
    assert "apps" in groups and "" not in groups


@pytest.mark.parametrize("accept,want", [
    ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json", True),
    ("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json", False),
    ("application/json, */*", False),
    ("", False),
])
def test_wants_aggregated(accept, want):
    assert discovery.wants_aggregated(accept) is want


# -- tables --------------------------------------------------------------------------------

@pytest.mark.parametrize("seconds,text", [
    (-5, "<invalid>"), (-1, "0s"), (0, "0s"), (59, "59s"), (119, "119s"), (120, "2m"), (302, "5m2s"),
    (600, "10m"), (179 * 60, "179m"), (3 * 3600, "3h"), (3 * 3600 + 600, "3h10m"), (10 * 3600, "10h"),
    (47 * 3600, "47h"), (2 * 86400, "2d"), (3 * 86400 + 4 * 3600, "3d4h"), (30 * 86400, "30d"),
    (800 * 86400, "2y70d"), (3650 * 86400, "10y"),
])
def test_human_duration(seconds, text):
    assert tables.human_duration(seconds) == text


def _pod(**status):
    return {"metadata": {"name": "web", "namespace": "default", "creationTimestamp": ts(65)},
            "spec": {"containers": [{"name": "c"}], "nodeName": "node-1"},
            "status": status}


def _cs(state, ready=False, restarts=0, last=None):
    out = {"name": "c", "state": state, "ready": ready, "restartCount": restarts}
    if last is not None:
        out["lastState"] = {"terminated": {"exitCode": 1, "finishedAt": ts(last)}}
    return out


@pytest.mark.parametrize("pod,status,ready,restarts", [
    (_pod(phase="Pending"), "Pending", "0/1", "0"),
    (_pod(phase="Pending", containerStatuses=[_cs({"waiting": {"reason": "ContainerCreating"}})]),
     "ContainerCreating", "0/1", "0"),
    (_pod(phase="Running", containerStatuses=[_cs({"running": {}}, ready=True)]), "Running", "1/1", "0"),
    (_pod(phase="Running", containerStatuses=[_cs({"waiting": {"reason": "CrashLoopBackOff"}}, restarts=3,
                                                   last=12)]),
     "CrashLoopBackOff", "0/1", "3 (12s ago)"),
    (_pod(phase="Running", containerStatuses=[_cs({"terminated": {"reason": "OOMKilled", "exitCode": 137}})]),
     "OOMKilled", "0/1", "0"),
    (_pod(phase="Succeeded", containerStatuses=[_cs({"terminated": {"reason": "Completed", "exitCode": 0}})]),
     "Completed", "0/1", "0"),
    (_pod(phase="Running", containerStatuses=[_cs({"terminated": {"exitCode": 2}})]), "ExitCode:2", "0/1", "0"),
])
def test_pod_rows_match_kubectl(pod, status, ready, restarts):
    cells = tables.pod_row(pod, NOW)
    assert cells[:4] == ["web", ready, status, restarts]
    assert cells[4] == "65s"
    assert cells[6] == "node-1" and cells[5] == "<none>"


def test_pod_init_and_terminating():
    pod = _pod(phase="Pending", initContainerStatuses=[
        {"name": "init", "state": {"waiting": {"reason": "PodInitializing"}}, "restartCount": 0}])
    pod["spec"]["initContainers"] = [{"name": "init"}]
    assert tables.pod_row(pod, NOW)[2] == "Init:0/1"
    pod = _pod(phase="Running", containerStatuses=[_cs({"running": {}}, ready=True)])
    pod["metadata"]["deletionTimestamp"] = ts(1)
    assert tables.pod_row(pod, NOW)[2] == "Terminating"


def test_table_shapes_and_wide_columns():
    dep = {"metadata": {"name": "web", "namespace": "default", "creationTimestamp": ts(3 * 86400 + 4 * 3600),
                        "managedFields": [{}]},
           "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}},
           "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}
    t = tables.to_table("deployments.apps", [dep], NOW, resource_version="42")
    assert t["kind"] == "Table" and t["apiVersion"] == "meta.k8s.io/v1"
    assert t["metadata"]["resourceVersion"] == "42"
    assert [c["name"] for c in t["columnDefinitions"] if c["priority"] == 0] == \
        ["Name", "Ready", "Up-to-date", "Available", "Age"]
    row = t["rows"][0]
    assert row["cells"] == ["web", "2/3", 3, 2, "3d4h", "c", "nginx:1", "app=web"]
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["metadata"]["namespace"] == "default"
    assert "managedFields" not in row["object"]["metadata"]


@pytest.mark.parametrize("svc,cells", [
    ({"spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
               "ports": [{"port": 80, "protocol": "TCP"}], "selector": {"app": "web"}}},
     ["ClusterIP", "10.96.0.10", "<none>", "80/TCP"]),
    ({"spec": {"type": "NodePort", "clusterIPs": ["10.96.0.11"],
               "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]}},
     ["NodePort", "10.96.0.11", "<none>", "80:30080/TCP"]),
    ({"spec": {"type": "LoadBalancer", "clusterIPs": ["10.96.0.12"], "ports": []}},
     ["LoadBalancer", "10.96.0.12", "<pending>", "<none>"]),
    ({"spec": {"type": "ExternalName", "externalName": "example.com"}},
     ["ExternalName", "<none>", "example.com", "<none>"]),
])
def test_service_rows(svc, cells):
    svc["metadata"] = {"name": "s", "creationTimestamp": ts(10)}
    assert tables.service_row(svc, NOW)[1:5] == cells


def test_endpoints_node_event_rows():
    ep = {"metadata": {"name": "web", "creationTimestamp": ts(5)},
          "subsets": [{"addresses": [{"ip": f"10.244.0.{i}"} for i in range(1, 6)], "ports": [{"port": 80}]}]}
    assert tables.endpoints_row(ep, NOW)[1] == "10.244.0.1:80,10.244.0.2:80,10.244.0.3:80 + 2 more..."
    node = {"metadata": {"name": "node-1", "creationTimestamp": ts(5),
                         "labels": {"node-role.kubernetes.io/control-plane": ""}},
            "spec": {"unschedulable": True},
            "status": {"conditions": [{"type": "Ready", "status": "False"}],
                       "nodeInfo": {"kubeletVersion": "v1.37.0"},
                       "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}]}}
    assert tables.node_row(node, NOW)[:5] == ["node-1", "NotReady,SchedulingDisabled", "control-plane", "5s",
                                              "v1.37.0"]
    assert tables.node_row(node, NOW)[5:7] == ["172.18.0.2", "<none>"]
    ev = {"metadata": {"name": "web.1"}, "type": "Warning", "reason": "BackOff", "message": " back-off ",
          "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{c}"},
          "source": {"component": "kubelet", "host": "node-1"},
          "firstTimestamp": ts(300), "lastTimestamp": ts(20), "count": 4}
    assert tables.event_row(ev, NOW) == ["20s", "Warning", "BackOff", "pod/web", "spec.containers{c}",
                                         "kubelet, node-1", "back-off", "5m", 4, "web.1"]


@pytest.mark.parametrize("accept,want", [
    ("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
     "application/json", True),
    ("application/json", False),
    ("application/json;as=Table;v=v1beta1;g=meta.k8s.io", False),
    (None, False),
])
def test_wants_table(accept, want):
    assert tables.wants_table(accept) is want


# -- protobuf ----------------------------------------------------------------------------

def _s(num, text):
    return protobuf.field_bytes(num, text.encode() if isinstance(text, str) else text)


def _map_entry(num, k, v):
    return protobuf.field_bytes(num, _s(1, k) + _s(2, v))


def test_protobuf_secret_and_configmap():
    meta = _s(1, "s1") + _s(2, "") + _s(3, "")  # empty optional strings are sent explicitly
    raw = protobuf.field_bytes(1, meta) + _map_entry(2, "a", b"\x00b") + _s(3, "Opaque")
    obj = protobuf.decode(protobuf.envelope("v1", "Secret", raw))
    assert obj == {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s1"},
                   "data": {"a": "AGI="}, "type": "Opaque"}
    raw = protobuf.field_bytes(1, _s(1, "cm")) + _map_entry(2, "k", "v")
    assert protobuf.decode(protobuf.envelope("v1", "ConfigMap", raw))["data"] == {"k": "v"}


def test_protobuf_deployment_keeps_pointer_zero_and_intorstring():
    container = _s(1, "nginx") + _s(2, "nginx") + protobuf.field_bytes(6, protobuf.field_varint(3, 80)) \
        + protobuf.field_bytes(8, b"") + protobuf.field_varint(16, 0)
    template = protobuf.field_bytes(2, protobuf.field_bytes(2, container))
    spec = protobuf.field_varint(1, 0) + protobuf.field_bytes(3, template)
    raw = protobuf.field_bytes(1, _s(1, "d1")) + protobuf.field_bytes(2, spec)
    obj = protobuf.decode(protobuf.envelope("apps/v1", "Deployment", raw))
    assert obj["spec"]["replicas"] == 0
    assert obj["spec"]["template"]["spec"]["containers"] == [
        {"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}], "resources": {}}]
    port = _s(1, "80-8080") + protobuf.field_varint(3, 80) + \
        protobuf.field_bytes(4, protobuf.field_varint(1, 0) + protobuf.field_varint(2, 8080))
    raw = protobuf.field_bytes(1, _s(1, "s")) + protobuf.field_bytes(2, protobuf.field_bytes(1, port))
    svc = protobuf.decode(protobuf.envelope("v1", "Service", raw))
    assert svc["spec"]["ports"] == [{"name": "80-8080", "port": 80, "targetPort": 8080}]


def test_protobuf_rejects_unknown_kinds_and_garbage():
    with pytest.raises(UnsupportedMediaType, match="stable.example.com/v1/CronTab"):
        protobuf.decode(protobuf.envelope("stable.example.com/v1", "CronTab", b""))
    with pytest.raises(BadRequest):
        protobuf.decode(b"nope")
    with pytest.raises(BadRequest):
        protobuf.decode(protobuf.MAGIC + b"\x0a\xff")
