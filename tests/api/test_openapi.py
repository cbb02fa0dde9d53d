"""OpenAPI v3 documents and schema checks (unknown fields, wrong types)."""

from __future__ import annotations

import copy
import json

import pytest

from kubetui.api.openapi import (
    component_schemas, openapi_v3_document_bytes, openapi_v3_documents, openapi_v3_index, schema_for,
    type_errors, unknown_fields,
)
from kubetui.api.resources import RESOURCES, resource_for
from tests.api.test_validation import GOOD

FULL_DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"},
                 "annotations": {"kubernetes.io/change-cause": "v1"}, "uid": "u", "resourceVersion": "1",
                 "generation": 1, "creationTimestamp": "2025-01-01T00:00:00Z",
                 "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "x", "uid": "u", "controller": True}],
                 "managedFields": [{"manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1",
                                    "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]},
    "spec": {
        "replicas": 3, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600, "minReadySeconds": 0,
        "selector": {"matchLabels": {"app": "web"},
                     "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}]},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
        "template": {
            "metadata": {"labels": {"app": "web", "tier": "a"}},
            "spec": {
                "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                                        "labelSelector": {"matchLabels": {"app": "web"}}}}]}},
                "containers": [{
                    "name": "web", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent",
                    "command": ["nginx"], "args": ["-g", "daemon off;"], "workingDir": "/",
                    "ports": [{"containerPort": 80, "name": "http", "protocol": "TCP"}],
                    "env": [{"name": "A", "value": "1"},
                            {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}},
                            {"name": "C", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu",
                                                                              "divisor": "1m"}}}],
                    "envFrom": [{"secretRef": {"name": "s"}}],
                    "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"cpu": 1}},
                    "livenessProbe": {"httpGet": {"path": "/", "port": "http", "httpHeaders": [
                        {"name": "X", "value": "y"}]}, "initialDelaySeconds": 3},
                    "readinessProbe": {"tcpSocket": {"port": 80}},
                    "startupProbe": {"exec": {"command": ["true"]}, "failureThreshold": 30},
                    "lifecycle": {"preStop": {"exec": {"command": ["sleep", "5"]}}},
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "allowPrivilegeEscalation": False,
                                        "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True},
                    "volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": True, "subPath": "x"}],
                    "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                }],
                "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
                            {"name": "cfg", "configMap": {"name": "c", "items": [{"key": "a", "path": "a"}],
                                                          "defaultMode": 420}},
                            {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}],
                "nodeSelector": {"kubernetes.io/os": "linux"},
                "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
                "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone",
                                               "whenUnsatisfiable": "ScheduleAnyway"}],
                "serviceAccountName": "web", "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
                "terminationGracePeriodSeconds": 30, "securityContext": {"fsGroup": 2000},
                "imagePullSecrets": [{"name": "reg"}], "priorityClassName": "high", "hostname": "h",
            },
        },
    },
    "status": {"observedGeneration": 1, "replicas": 3, "readyReplicas": 3, "availableReplicas": 3,
               "updatedReplicas": 3, "conditions": [{"type": "Available", "status": "True",
                                                     "lastUpdateTime": "2025-01-01T00:00:00Z",
                                                     "lastTransitionTime": "2025-01-01T00:00:00Z",
                                                     "reason": "MinimumReplicasAvailable", "message": "ok"}]},
}

FULL_SERVICE = {
    "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
    "spec": {"type": "NodePort", "selector": {"app": "web"}, "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
             "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "sessionAffinity": "ClientIP",
             "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}}, "externalTrafficPolicy": "Cluster",
             "internalTrafficPolicy": "Cluster",
             "ports": [{"name": "http", "port": 80, "targetPort": "http", "nodePort": 30080, "protocol": "TCP",
                        "appProtocol": "http"}]},
    "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}},
}


def test_every_kind_has_a_patch_operation_with_gvk_and_field_validation():
    docs = openapi_v3_documents()
    for r in RESOURCES:
        gv = f"api/{r.version}" if not r.group else f"apis/{r.group}/{r.version}"
        doc = docs[gv]
        found = False
        for item in doc["paths"].values():
            op = item.get("patch")
            if op and op["x-kubernetes-group-version-kind"] == {"group": r.group, "version": r.version,
                                                                 "kind": r.kind}:
                names = [p["name"] for p in op["parameters"]]
                assert "fieldValidation" in names and all(p["in"] == "query" for p in op["parameters"])
                found = True
        assert found, r.kind


def test_documents_are_self_contained_and_carry_kind_schemas():
    docs = openapi_v3_documents()
    assert set(docs) == {"api/v1", "apis/apps/v1", "apis/coordination.k8s.io/v1", "apis/discovery.k8s.io/v1",
                         "apis/storage.k8s.io/v1", "apis/batch/v1", "apis/policy/v1", "apis/scheduling.k8s.io/v1",
                         "apis/autoscaling/v1", "apis/autoscaling/v2", "apis/rbac.authorization.k8s.io/v1",
                         "apis/apiextensions.k8s.io/v1", "apis/apiregistration.k8s.io/v1",
                         "apis/networking.k8s.io/v1",
                         "apis/authorization.k8s.io/v1", "apis/authentication.k8s.io/v1"}
    for gv, doc in docs.items():
        assert doc["openapi"].startswith("3.")
        schemas = doc["components"]["schemas"]
        text = json.dumps(doc)
        for ref in set(part.split('"')[0] for part in text.split('"$ref": "#/components/schemas/')[1:]):
            assert ref in schemas, (gv, ref)
    pod = docs["api/v1"]["components"]["schemas"]["io.k8s.api.core.v1.Pod"]
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Pod", "version": "v1"}]
    assert "apps" not in json.dumps(docs["api/v1"]["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"])
    deploy = docs["apis/apps/v1"]["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"]
    assert deploy["properties"]["spec"]["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"}]


def test_schema_details_match_upstream():
    s = component_schemas()
    container = s["io.k8s.api.core.v1.Container"]
    assert container["required"] == ["name"]
    assert container["description"].startswith("A single application container")
    assert container["properties"]["ports"]["x-kubernetes-patch-merge-key"] == "containerPort"
    assert container["properties"]["env"]["x-kubernetes-patch-strategy"] == "merge"
    spec = s["io.k8s.api.core.v1.PodSpec"]
    assert spec["properties"]["containers"]["x-kubernetes-patch-merge-key"] == "name"
    assert spec["properties"]["containers"]["items"]["allOf"][0]["$ref"].endswith("io.k8s.api.core.v1.Container")
    assert s["io.k8s.api.core.v1.ServicePort"]["properties"]["targetPort"]["allOf"][0]["$ref"].endswith(
        "intstr.IntOrString")
    assert s["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["x-kubernetes-int-or-string"] is True
    limits = s["io.k8s.api.core.v1.ResourceRequirements"]["properties"]["limits"]
    assert limits["additionalProperties"]["allOf"][0]["$ref"].endswith("resource.Quantity")
    meta = s["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]
    assert meta["creationTimestamp"]["allOf"][0]["$ref"].endswith("meta.v1.Time")
    assert meta["labels"]["additionalProperties"] == {"type": "string", "default": ""} or \
        meta["labels"]["additionalProperties"]["type"] == "string"
    assert meta["ownerReferences"]["x-kubernetes-patch-merge-key"] == "uid"
    assert s["io.k8s.api.coordination.v1.LeaseSpec"]["properties"]["renewTime"]["allOf"][0]["$ref"].endswith(
        "MicroTime")
    assert schema_for("autoscaling", "v1", "Scale") == "io.k8s.api.autoscaling.v1.Scale"
    assert schema_for("discovery.k8s.io", "v1", "EndpointSlice") == "io.k8s.api.discovery.v1.EndpointSlice"


def test_index_points_at_each_document_with_its_hash():
    index = openapi_v3_index()["paths"]
    for gv, entry in index.items():
        body, digest = openapi_v3_document_bytes(gv)
        assert entry["serverRelativeURL"] == f"/openapi/v3/{gv}?hash={digest}"
        assert json.loads(body)["paths"]
    assert openapi_v3_document_bytes("apis/nope/v1") is None


def test_documents_are_copies():
    openapi_v3_documents()["api/v1"]["paths"].clear()
    assert openapi_v3_documents()["api/v1"]["paths"]


def test_unknown_fields_catches_typos():
    pod = copy.deepcopy(GOOD["pods"])
    pod["spec"]["containers"][0]["imagee"] = "nginx"
    pod["spec"]["restartpolicy"] = "Always"
    pod["metadata"]["label"] = {}
    assert sorted(unknown_fields(resource_for("pods"), pod)) == [
        ".metadata.label", ".spec.containers[0].imagee", ".spec.restartpolicy"]


@pytest.mark.parametrize("plural, obj", [("deployments", FULL_DEPLOYMENT), ("services", FULL_SERVICE),
                                         *sorted(GOOD.items())])
def test_full_manifests_have_no_unknown_fields_or_type_errors(plural, obj):
    r = resource_for(plural)
    assert unknown_fields(r, obj) == []
    assert type_errors(r, obj) == []


def test_free_form_fields_are_not_walked():
    deploy = copy.deepcopy(FULL_DEPLOYMENT)
    deploy["metadata"]["managedFields"][0]["fieldsV1"]["f:anything"] = {"x": 1}
    assert unknown_fields(resource_for("deployments"), deploy) == []


@pytest.mark.parametrize("plural, change, field, message", [
    ("deployments", lambda o: o["spec"].__setitem__("replicas", "3"), "spec.replicas",
     "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"),
    ("pods", lambda o: o["spec"].__setitem__("containers", "web"), "spec.containers",
     "json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type []v1.Container"),
    ("pods", lambda o: o["spec"]["containers"][0].__setitem__("image", 5), "spec.containers[0].image",
     "json: cannot unmarshal number into Go struct field Container.spec.containers.image of type string"),
    ("pods", lambda o: o["metadata"]["labels"].__setitem__("n", 1), "metadata.labels.n",
     "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels.n of type string"),
    ("services", lambda o: o["spec"]["ports"][0].__setitem__("targetPort", True), "spec.ports[0].targetPort",
     "json: cannot unmarshal bool into Go struct field ServicePort.spec.ports.targetPort of type intstr.IntOrString"),
    ("pods", lambda o: o["spec"]["containers"][0].__setitem__("resources", {"limits": {"cpu": [1]}}),
     "spec.containers[0].resources.limits.cpu", "of type resource.Quantity"),
    ("pods", lambda o: o.__setitem__("spec", []), "spec", "of type v1.PodSpec"),
])
def test_type_errors(plural, change, field, message):
    obj = copy.deepcopy(GOOD[plural])
    change(obj)
    errors = type_errors(resource_for(plural), obj)
    assert [e["field"] for e in errors] == [field]
    assert errors[0]["reason"] == "FieldValueTypeInvalid"
    assert message in errors[0]["message"]


def test_ints_and_nulls():
    d = copy.deepcopy(GOOD["deployments"])
    d["spec"]["replicas"] = 3.0  # JSON numbers like 3.0 decode into int32
    d["spec"]["minReadySeconds"] = None
    assert type_errors(resource_for("deployments"), d) == []
    d["spec"]["replicas"] = 3.5
    assert [e["field"] for e in type_errors(resource_for("deployments"), d)] == ["spec.replicas"]


def test_unknown_kind_is_accepted():
    from kubetui.api.resources import Resource
    r = Resource("widgets", "Widget", group="example.com")
    assert unknown_fields(r, {"spec": {"x": 1}}) == [] and type_errors(r, {"spec": 1}) == []


def _mutations(obj, rng, n):
    """``n`` copies of ``obj``, each with one value somewhere replaced by a value of another JSON
    type, or one unknown key added to an object, or nothing changed."""
    def nodes(o, out):
        out.append(o)
        for v in (o.values() if isinstance(o, dict) else o if isinstance(o, list) else ()):
            nodes(v, out)
        return out
    replacements = ["s", 7, 2.5, 3.0, True, None, [], [1, "x"], {}, {"k": "v"}]
    for _ in range(n):
        o = copy.deepcopy(obj)
        targets = [t for t in nodes(o, []) if isinstance(t, (dict, list)) and t]
        target = rng.choice(targets)
        if isinstance(target, dict) and rng.random() < 0.3:
            target[rng.choice(["zz", "imagee", "spec"])] = rng.choice(replacements)
        elif isinstance(target, dict):
            target[rng.choice(list(target))] = rng.choice(replacements)
        elif rng.random() < 0.8:
            target[rng.randrange(len(target))] = rng.choice(replacements)
        yield o


@pytest.mark.parametrize("plural, obj", [("deployments", FULL_DEPLOYMENT), ("services", FULL_SERVICE),
                                         *sorted(GOOD.items())])
def test_decodes_cleanly_agrees_with_the_two_walks(plural, obj):
    """The one-walk fast path (``decodes_cleanly``) says True exactly when neither
    ``type_errors`` nor ``unknown_fields`` reports anything, over random damage."""
    import random

    from kubetui.api.openapi import decodes_cleanly
    r = resource_for(plural)
    rng = random.Random(plural)
    seen = set()
    for o in [obj, *_mutations(obj, rng, 150)]:
        slow = not type_errors(r, o) and not unknown_fields(r, o)
        assert decodes_cleanly(r, o) == slow, json.dumps(o)
        seen.add(slow)
    assert seen == {True, False} or plural in ("namespaces",)
