"""Table tests for validation: a good manifest has no causes; each bad case names
the field and reason kube-apiserver would (pkg/apis/*/validation)."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from kubetui.api.defaults import apply_defaults
from kubetui.api.errors import invalid
from kubetui.api.resources import RESOURCES, resource_for
from kubetui.api.validation import validate

B64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731

GOOD: dict[str, dict[str, Any]] = {
    "pods": {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "example.com/tier": "front"},
                     "annotations": {"kubernetes.io/change-cause": "first"}},
        "spec": {
            "containers": [{
                "name": "web", "image": "nginx:1.27",
                "ports": [{"containerPort": 80, "name": "http"}],
                "env": [{"name": "MODE", "value": "prod"},
                        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}],
                "resources": {"requests": {"cpu": "250m", "memory": "64Mi"},
                              "limits": {"cpu": "500m", "memory": "128Mi"}},
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
                "readinessProbe": {"tcpSocket": {"port": 80}, "successThreshold": 2},
                "volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "cfg", "mountPath": "/etc/cfg"}],
            }],
            "initContainers": [{"name": "init", "image": "busybox", "command": ["true"]}],
            "volumes": [{"name": "data", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "web"}}],
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                             "tolerationSeconds": 300}],
            "nodeSelector": {"kubernetes.io/os": "linux"},
        },
    },
    "services": {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"app": "web"},
                 "ports": [{"name": "http", "port": 80, "targetPort": "http"},
                           {"name": "metrics", "port": 9090, "targetPort": 9090}]},
    },
    "deployments": {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}},
    },
    "replicasets": {
        "metadata": {"name": "web-abc", "namespace": "default"},
        "spec": {"replicas": 2, "selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx"}]}}},
    },
    "daemonsets": {
        "metadata": {"name": "agent", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}}, "updateStrategy": {"type": "OnDelete"},
                 "template": {"metadata": {"labels": {"app": "agent"}},
                              "spec": {"containers": [{"name": "agent", "image": "busybox"}]}}},
    },
    "statefulsets": {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"serviceName": "web", "replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "podManagementPolicy": "Parallel", "updateStrategy": {"type": "RollingUpdate"},
                 "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Retain"},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx",
                                                       "volumeMounts": [{"name": "www", "mountPath": "/data"}]}]}},
                 "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {
                     "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]},
    },
    "controllerrevisions": {"metadata": {"name": "web-5d9", "namespace": "default"},
                            "data": {"spec": {}}, "revision": 1},
    "configmaps": {"metadata": {"name": "web", "namespace": "default"},
                   "data": {"app.conf": "x=1", "KEY_NAME": "v"}, "binaryData": {"blob": B64("\x00\x01")}},
    "secrets": {"metadata": {"name": "tls", "namespace": "default"}, "type": "kubernetes.io/tls",
                "data": {"tls.crt": B64("cert"), "tls.key": B64("key")}},
    "namespaces": {"metadata": {"name": "team-a"}},
    "nodes": {"metadata": {"name": "node-1", "labels": {"kubernetes.io/hostname": "node-1"}},
              "spec": {"podCIDR": "10.244.1.0/24",
                       "taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]},
              "status": {"capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"},
                         "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}]}},
    "persistentvolumes": {"metadata": {"name": "pv-1"},
                          "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                                   "hostPath": {"path": "/data/pv-1"}, "storageClassName": "standard"}},
    "persistentvolumeclaims": {"metadata": {"name": "data", "namespace": "default"},
                               "spec": {"accessModes": ["ReadWriteOnce"],
                                        "resources": {"requests": {"storage": "1Gi"}}}},
    "endpoints": {"metadata": {"name": "web", "namespace": "default"},
                  "subsets": [{"addresses": [{"ip": "10.244.1.5"}], "ports": [{"port": 80, "name": "http"}]}]},
    "events": {"metadata": {"name": "web.1", "namespace": "default"}, "type": "Normal", "reason": "Scheduled",
               "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"}, "count": 1},
    "serviceaccounts": {"metadata": {"name": "default", "namespace": "default"}},
    "leases": {"metadata": {"name": "node-1", "namespace": "kube-node-lease"},
               "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40}},
    "endpointslices": {"metadata": {"name": "web-x1", "namespace": "default",
                                    "labels": {"kubernetes.io/service-name": "web"}},
                       "addressType": "IPv4",
                       "endpoints": [{"addresses": ["10.244.1.5"], "conditions": {"ready": True}}],
                       "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]},
    "storageclasses": {"metadata": {"name": "standard"}, "provisioner": "rancher.io/local-path"},
    "jobs": {"apiVersion": "batch/v1", "kind": "Job",
             "metadata": {"name": "pi", "namespace": "default", "uid": "u-1"},
             "spec": {"manualSelector": True, "selector": {"matchLabels": {"app": "pi"}}, "completions": 3,
                      "completionMode": "Indexed", "backoffLimitPerIndex": 1,
                      "podFailurePolicy": {"rules": [
                          {"action": "FailJob", "onExitCodes": {"containerName": "pi", "operator": "In",
                                                                "values": [1, 42]}},
                          {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]},
                      "template": {"metadata": {"labels": {"app": "pi"}},
                                   "spec": {"restartPolicy": "Never",
                                            "containers": [{"name": "pi", "image": "perl:5.34.0"}]}}}},
    "cronjobs": {"apiVersion": "batch/v1", "kind": "CronJob",
                 "metadata": {"name": "hello", "namespace": "default"},
                 "spec": {"schedule": "*/5 9-17 * jan-jun mon-fri", "timeZone": "Europe/Berlin",
                          "concurrencyPolicy": "Forbid",
                          "jobTemplate": {"spec": {"template": {"spec": {
                              "restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox"}]}}}}}},
    "horizontalpodautoscalers": {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                                 "metadata": {"name": "web", "namespace": "default"},
                                 "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                                             "name": "web"},
                                          "minReplicas": 1, "maxReplicas": 10, "metrics": [
                                              {"type": "Resource", "resource": {"name": "cpu", "target": {
                                                  "type": "Utilization", "averageUtilization": 50}}}]}},
}
# issue 13's policy kinds
_TEMPLATE = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
GOOD.update({
    "replicationcontrollers": {"metadata": {"name": "web", "namespace": "default"},
                               "spec": {"replicas": 2, "selector": {"app": "web"}, "template": _TEMPLATE}},
    "podtemplates": {"metadata": {"name": "web", "namespace": "default"}, "template": _TEMPLATE},
    "resourcequotas": {"metadata": {"name": "compute", "namespace": "default"},
                       "spec": {"hard": {"requests.cpu": "1", "limits.memory": "2Gi", "pods": "10",
                                         "count/deployments.apps": "2"}, "scopes": ["NotBestEffort"]}},
    "limitranges": {"metadata": {"name": "defaults", "namespace": "default"},
                    "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m"},
                                         "defaultRequest": {"cpu": "250m"}, "max": {"cpu": "1"},
                                         "min": {"cpu": "100m"}}]}},
    "poddisruptionbudgets": {"metadata": {"name": "web", "namespace": "default"},
                             "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}},
    "priorityclasses": {"metadata": {"name": "high"}, "value": 1000, "description": "high"},
    "roles": {"metadata": {"name": "pod-reader", "namespace": "default"},
              "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]},
    "clusterroles": {"metadata": {"name": "system:custom"},
                     "rules": [{"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]},
    "rolebindings": {"metadata": {"name": "alice-reads", "namespace": "default"},
                     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
                     "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"},
                                  {"kind": "ServiceAccount", "name": "default"}]},
    "clusterrolebindings": {"metadata": {"name": "ops"},
                            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                        "name": "view"},
                            "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "ops"}]},
    "customresourcedefinitions": {
        "metadata": {"name": "crontabs.stable.example.com"},
        "spec": {"group": "stable.example.com", "scope": "Namespaced",
                 "names": {"plural": "crontabs", "singular": "crontab", "kind": "CronTab", "listKind": "CronTabList"},
                 "conversion": {"strategy": "None"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                     "type": "object", "properties": {"spec": {"type": "object", "properties": {
                         "cronSpec": {"type": "string"}, "replicas": {"type": "integer"}}}}}}}]}},
    "apiservices": {"metadata": {"name": "v1beta1.custom.metrics.k8s.io"},
                    "spec": {"group": "custom.metrics.k8s.io", "version": "v1beta1", "groupPriorityMinimum": 100,
                             "versionPriority": 100, "service": {"name": "adapter", "namespace": "monitoring"}}},
    "ingresses": {"metadata": {"name": "shop", "namespace": "default"},
                  "spec": {"rules": [{"host": "shop.example", "http": {"paths": [
                      {"path": "/cart", "pathType": "Prefix",
                       "backend": {"service": {"name": "cart", "port": {"number": 80}}}}]}}]}},
    "ingressclasses": {"metadata": {"name": "kubetui"}, "spec": {"controller": "kubetui.dev/ingress-controller"}},
    "networkpolicies": {"metadata": {"name": "allow-frontend", "namespace": "default"},
                        "spec": {"podSelector": {"matchLabels": {"app": "db"}},
                                 "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}],
                                              "ports": [{"port": 5432}]}]}},
})


def test_every_served_kind_has_a_good_manifest():
    assert {r.plural for r in RESOURCES} == set(GOOD)


@pytest.mark.parametrize("plural", sorted(GOOD))
def test_good_manifest_is_valid(plural):
    r = resource_for(plural)
    obj = copy.deepcopy(GOOD[plural])
    assert validate(r, obj) == []
    apply_defaults(r, obj)
    assert validate(r, obj) == [], "defaulting must not make a valid object invalid"


def _set(obj: dict, path: str, value: Any) -> None:
    """Set ``spec.containers.0.image`` (dots, numeric list indexes); value DELETE removes."""
    parts = path.split(".")
    for p in parts[:-1]:
        obj = obj[int(p)] if isinstance(obj, list) else obj.setdefault(p, {})
    last = parts[-1]
    if isinstance(obj, list):
        obj[int(last)] = value
    elif value is DELETE:
        obj.pop(last, None)
    else:
        obj[last] = value


DELETE = object()

# (resource, change path, new value, expected field, expected reason, message fragment)
BAD = [
    # metadata
    ("pods", "metadata.name", "Web", "metadata.name", "FieldValueInvalid",
     "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
     "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
     "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"),
    ("pods", "metadata.name", DELETE, "metadata.name", "FieldValueRequired",
     "Required value: name or generateName is required"),
    ("pods", "metadata.name", "a" * 254, "metadata.name", "FieldValueInvalid", "must be no more than 253 characters"),
    ("pods", "metadata.namespace", DELETE, "metadata.namespace", "FieldValueRequired", "Required value"),
    ("namespaces", "metadata.name", "team.a", "metadata.name", "FieldValueInvalid",
     "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end "
     "with an alphanumeric character (e.g. 'my-name',  or '123-abc'"),
    ("services", "metadata.name", "1web", "metadata.name", "FieldValueInvalid", "a DNS-1035 label"),
    ("nodes", "metadata.namespace", "default", "metadata.namespace", "FieldValueForbidden",
     "Forbidden: not allowed on this type"),
    ("pods", "metadata.labels", {"app": "bad value!"}, "metadata.labels", "FieldValueInvalid",
     'Invalid value: "bad value!": a valid label must be an empty string'),
    ("pods", "metadata.labels", {"bad key!": "x"}, "metadata.labels", "FieldValueInvalid", "name part must consist"),
    ("pods", "metadata.labels", {"a/b/c": "x"}, "metadata.labels", "FieldValueInvalid", "a qualified name"),
    ("pods", "metadata.labels", {"app": "x" * 64}, "metadata.labels", "FieldValueInvalid",
     "must be no more than 63 characters"),
    ("pods", "metadata.annotations", {"big": "x" * (256 * 1024)}, "metadata.annotations", "FieldValueTooLong",
     "Too long: must have at most 262144 bytes"),
    ("pods", "metadata.generateName", "Web-", "metadata.generateName", "FieldValueInvalid", "RFC 1123 subdomain"),
    ("pods", "metadata.ownerReferences", [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs"}],
     "metadata.ownerReferences[0].uid", "FieldValueRequired", "Required value"),
    # containers
    ("pods", "spec.containers.0.image", DELETE, "spec.containers[0].image", "FieldValueRequired", "Required value"),
    ("pods", "spec.containers.0.name", "Web", "spec.containers[0].name", "FieldValueInvalid", "RFC 1123 label"),
    ("pods", "spec.containers", [], "spec.containers", "FieldValueRequired", "Required value"),
    ("pods", "spec.initContainers.0.name", "web", "spec.containers[0].name", "FieldValueDuplicate",
     'Duplicate value: "web"'),
    ("pods", "spec.containers.0.ports.0.containerPort", 70000, "spec.containers[0].ports[0].containerPort",
     "FieldValueInvalid", "Invalid value: 70000: must be between 1 and 65535, inclusive"),
    ("pods", "spec.containers.0.ports.0.name", "HTTP", "spec.containers[0].ports[0].name", "FieldValueInvalid",
     "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"),
    ("pods", "spec.containers.0.ports.0.name", "http-metrics-port", "spec.containers[0].ports[0].name",
     "FieldValueInvalid", "must be no more than 15 characters"),
    ("pods", "spec.containers.0.ports.0.protocol", "HTTP", "spec.containers[0].ports[0].protocol",
     "FieldValueNotSupported", 'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"'),
    ("pods", "spec.containers.0.env.0.name", "A=B", "spec.containers[0].env[0].name", "FieldValueInvalid",
     "printable ASCII characters other than '='"),
    ("pods", "spec.containers.0.env.0.name", "", "spec.containers[0].env[0].name", "FieldValueRequired", ""),
    ("pods", "spec.containers.0.resources.requests.cpu", "2", "spec.containers[0].resources.requests",
     "FieldValueInvalid", 'Invalid value: "2": must be less than or equal to cpu limit of 500m'),
    ("pods", "spec.containers.0.resources.limits.memory", "lots", "spec.containers[0].resources.limits[memory]",
     "FieldValueInvalid", "quantities must match the regular expression"),
    ("pods", "spec.containers.0.resources.requests.cpu", "-1", "spec.containers[0].resources.requests[cpu]",
     "FieldValueInvalid", "must be greater than or equal to 0"),
    ("pods", "spec.containers.0.resources.limits.gpu", "1", "spec.containers[0].resources.limits[gpu]",
     "FieldValueInvalid", "must be a standard resource type or fully qualified"),
    ("pods", "spec.containers.0.volumeMounts.0.name", "missing", "spec.containers[0].volumeMounts[0].name",
     "FieldValueNotFound", 'Not found: "missing"'),
    ("pods", "spec.containers.0.volumeMounts.1.mountPath", "/data", "spec.containers[0].volumeMounts[1].mountPath",
     "FieldValueInvalid", "must be unique"),
    ("pods", "spec.containers.0.livenessProbe", {"periodSeconds": 5}, "spec.containers[0].livenessProbe",
     "FieldValueRequired", "must specify a handler type"),
    ("pods", "spec.containers.0.livenessProbe", {"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}},
     "spec.containers[0].livenessProbe.tcpSocket", "FieldValueForbidden", "may not specify more than 1 handler type"),
    ("pods", "spec.containers.0.livenessProbe", {"exec": {"command": ["true"]}, "successThreshold": 3},
     "spec.containers[0].livenessProbe.successThreshold", "FieldValueInvalid", "must be 1"),
    ("pods", "spec.containers.0.livenessProbe.httpGet.port", 0, "spec.containers[0].livenessProbe.httpGet.port",
     "FieldValueInvalid", "must be between 1 and 65535"),
    ("pods", "spec.containers.0.readinessProbe.periodSeconds", -1, "spec.containers[0].readinessProbe.periodSeconds",
     "FieldValueInvalid", "must be greater than or equal to 0"),
    ("pods", "spec.containers.0.imagePullPolicy", "Sometimes", "spec.containers[0].imagePullPolicy",
     "FieldValueNotSupported", 'supported values: "Always", "IfNotPresent", "Never"'),
    # pod spec
    ("pods", "spec.restartPolicy", "Sometimes", "spec.restartPolicy", "FieldValueNotSupported",
     'Unsupported value: "Sometimes": supported values: "Always", "Never", "OnFailure"'),
    ("pods", "spec.dnsPolicy", "Google", "spec.dnsPolicy", "FieldValueNotSupported", "ClusterFirst"),
    ("pods", "spec.volumes.0", {"name": "data", "emptyDir": {}, "hostPath": {"path": "/x"}},
     "spec.volumes[0].hostPath", "FieldValueForbidden", "may not specify more than 1 volume type"),
    ("pods", "spec.volumes.0", {"name": "data"}, "spec.volumes[0]", "FieldValueRequired",
     "must specify a volume type"),
    ("pods", "spec.volumes.1.name", "data", "spec.volumes[1].name", "FieldValueDuplicate", 'Duplicate value: "data"'),
    ("pods", "spec.volumes.0.name", "Data_1", "spec.volumes[0].name", "FieldValueInvalid", "RFC 1123 label"),
    ("pods", "spec.terminationGracePeriodSeconds", -5, "spec.terminationGracePeriodSeconds", "FieldValueInvalid",
     "must be greater than or equal to 0"),
    ("pods", "spec.tolerations.0.effect", "NoRun", "spec.tolerations[0].effect", "FieldValueNotSupported",
     '"NoExecute", "NoSchedule", "PreferNoSchedule"'),
    ("pods", "spec.nodeSelector", {"disk": "ssd!"}, "spec.nodeSelector", "FieldValueInvalid", "a valid label"),
    # services
    ("services", "spec.type", "Internal", "spec.type", "FieldValueNotSupported",
     'supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"'),
    ("services", "spec.ports", [], "spec.ports", "FieldValueRequired", "Required value"),
    ("services", "spec.ports.1.name", DELETE, "spec.ports[1].name", "FieldValueRequired", "Required value"),
    ("services", "spec.ports.1.name", "http", "spec.ports[1].name", "FieldValueDuplicate", 'Duplicate value: "http"'),
    ("services", "spec.ports.0.port", 0, "spec.ports[0].port", "FieldValueInvalid", "must be between 1 and 65535"),
    ("services", "spec.ports.0.targetPort", "Http_Port", "spec.ports[0].targetPort", "FieldValueInvalid",
     "must contain only alpha-numeric characters"),
    ("services", "spec.ports.0.nodePort", 30080, "spec.ports[0].nodePort", "FieldValueForbidden",
     "may not be used when `type` is 'ClusterIP'"),
    ("services", "spec.clusterIP", "10.96.0.300", "spec.clusterIP", "FieldValueInvalid", "must be a valid IP address"),
    ("services", "spec.sessionAffinity", "Cookie", "spec.sessionAffinity", "FieldValueNotSupported",
     '"ClientIP", "None"'),
    ("services", "spec.selector", {"app": "we b"}, "spec.selector", "FieldValueInvalid", "a valid label"),
    # deployments and replicasets
    ("deployments", "spec.selector", DELETE, "spec.selector", "FieldValueRequired", "Required value"),
    ("deployments", "spec.selector", {}, "spec.selector", "FieldValueInvalid", "empty selector is invalid for deployment"),
    ("deployments", "spec.template.metadata.labels", {"app": "other"}, "spec.template.metadata.labels",
     "FieldValueInvalid", "`selector` does not match template `labels`"),
    ("deployments", "spec.replicas", -1, "spec.replicas", "FieldValueInvalid",
     "Invalid value: -1: must be greater than or equal to 0"),
    ("deployments", "spec.strategy.type", "BlueGreen", "spec.strategy.type", "FieldValueNotSupported",
     '"Recreate", "RollingUpdate"'),
    ("deployments", "spec.strategy.type", "Recreate", "spec.strategy.rollingUpdate", "FieldValueForbidden",
     "may not be specified when strategy `type` is 'Recreate'"),
    ("deployments", "spec.strategy.rollingUpdate", {"maxSurge": 0, "maxUnavailable": 0},
     "spec.strategy.rollingUpdate.maxUnavailable", "FieldValueInvalid", "may not be 0 when `maxSurge` is 0"),
    ("deployments", "spec.strategy.rollingUpdate.maxUnavailable", "150%", "spec.strategy.rollingUpdate.maxUnavailable",
     "FieldValueInvalid", "must not be greater than 100%"),
    ("deployments", "spec.strategy.rollingUpdate.maxSurge", "lots", "spec.strategy.rollingUpdate.maxSurge",
     "FieldValueInvalid", "a valid percent string must be a numeric string followed by an ending '%'"),
    ("deployments", "spec.template.spec.restartPolicy", "Never", "spec.template.spec.restartPolicy",
     "FieldValueNotSupported", 'Unsupported value: "Never": supported values: "Always"'),
    ("deployments", "spec.template.spec.containers.0.image", "", "spec.template.spec.containers[0].image",
     "FieldValueRequired", "Required value"),
    ("deployments", "spec.progressDeadlineSeconds", 0, "spec.progressDeadlineSeconds", "FieldValueInvalid",
     "must be greater than minReadySeconds"),
    ("deployments", "spec.selector.matchExpressions", [{"key": "app", "operator": "In"}],
     "spec.selector.matchExpressions[0].values", "FieldValueRequired", "must be specified when `operator` is 'In'"),
    ("deployments", "spec.selector.matchExpressions", [{"key": "app", "operator": "Like", "values": ["x"]}],
     "spec.selector.matchExpressions[0].operator", "FieldValueInvalid", "not a valid selector operator"),
    ("replicasets", "spec.template.metadata.labels.app", "api", "spec.template.metadata.labels",
     "FieldValueInvalid", "`selector` does not match template `labels`"),
    ("replicasets", "spec.replicas", -3, "spec.replicas", "FieldValueInvalid", "must be greater than or equal to 0"),
    # configmaps and secrets
    ("configmaps", "data", {"bad key": "x"}, "data[bad key]", "FieldValueInvalid",
     "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"),
    ("configmaps", "data", {"..x": "x"}, "data[..x]", "FieldValueInvalid", "must not start with '..'"),
    ("configmaps", "data", {"blob": "x"}, "data[blob]", "FieldValueInvalid", "duplicate of key present in binaryData"),
    ("configmaps", "data", {"big": "x" * (1024 * 1024 + 1)}, "", "FieldValueTooLong",
     "Too long: must have at most 1048576 bytes"),
    ("secrets", "data", {"tls.crt": B64("cert")}, "data[tls.key]", "FieldValueRequired", "Required value"),
    ("secrets", "data", {"tls.crt": B64("cert"), "tls.key": "not base64!"}, "data[tls.key]", "FieldValueInvalid", "illegal base64 data"),
    ("secrets", "data", {"big": B64("x" * (1024 * 1024 + 1)), "tls.crt": "", "tls.key": ""}, "data",
     "FieldValueTooLong", "must have at most 1048576 bytes"),
    # nodes, namespaces, storage
    ("nodes", "spec.taints.0.effect", "Never", "spec.taints[0].effect", "FieldValueNotSupported", "NoSchedule"),
    ("nodes", "spec.podCIDR", "10.244.1.0/33", "spec.podCIDR", "FieldValueInvalid", "must be a valid CIDR"),
    ("nodes", "status.capacity.cpu", "two", "status.capacity[cpu]", "FieldValueInvalid", "quantities must match"),
    ("persistentvolumes", "spec.capacity", DELETE, "spec.capacity", "FieldValueRequired", "Required value"),
    ("persistentvolumes", "spec.capacity", {"storage": "1Gi", "cpu": "1"}, "spec.capacity", "FieldValueNotSupported",
     'supported values: "storage"'),
    ("persistentvolumes", "spec.accessModes", ["ReadWriteSometimes"], "spec.accessModes", "FieldValueNotSupported",
     '"ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"'),
    ("persistentvolumes", "spec.hostPath", DELETE, "spec", "FieldValueRequired", "must specify a volume type"),
    ("persistentvolumes", "spec.persistentVolumeReclaimPolicy", "Keep", "spec.persistentVolumeReclaimPolicy",
     "FieldValueNotSupported", '"Delete", "Recycle", "Retain"'),
    ("persistentvolumes", "spec.storageClassName", "Fast_SSD", "spec.storageClassName", "FieldValueInvalid",
     "RFC 1123 subdomain"),
    ("persistentvolumeclaims", "spec.accessModes", [], "spec.accessModes", "FieldValueRequired", "Required value"),
    ("persistentvolumeclaims", "spec.resources.requests", {}, "spec.resources[storage]", "FieldValueRequired", ""),
    ("persistentvolumeclaims", "spec.resources.requests.storage", "0", "spec.resources.requests[storage]",
     "FieldValueInvalid", "must be greater than zero"),
    ("persistentvolumeclaims", "spec.volumeMode", "Raw", "spec.volumeMode", "FieldValueNotSupported",
     '"Block", "Filesystem"'),
    ("endpoints", "subsets.0.addresses.0.ip", "nope", "subsets[0].addresses[0].ip", "FieldValueInvalid",
     "must be a valid IP address"),
    ("events", "involvedObject.namespace", "other", "involvedObject.namespace", "FieldValueInvalid",
     "does not match event.namespace"),
    ("events", "type", "Fatal", "type", "FieldValueNotSupported", '"Normal", "Warning"'),
    ("leases", "spec.leaseDurationSeconds", 0, "spec.leaseDurationSeconds", "FieldValueInvalid",
     "must be greater than 0"),
    ("endpointslices", "addressType", "IPv5", "addressType", "FieldValueNotSupported", '"FQDN", "IPv4", "IPv6"'),
    ("endpointslices", "endpoints.0.addresses", [], "endpoints[0].addresses", "FieldValueRequired", ""),
    ("endpointslices", "endpoints.0.addresses.0", "fe80::1", "endpoints[0].addresses[0]", "FieldValueInvalid",
     "must be a valid IPv4 address"),
    ("storageclasses", "provisioner", DELETE, "provisioner", "FieldValueRequired", "Required value"),
    ("storageclasses", "volumeBindingMode", "Later", "volumeBindingMode", "FieldValueNotSupported",
     '"Immediate", "WaitForFirstConsumer"'),
]


@pytest.mark.parametrize("plural, path, value, field, reason, fragment", BAD,
                         ids=[f"{b[0]}:{b[3]}:{b[4]}" for b in BAD])
def test_bad_manifest(plural, path, value, field, reason, fragment):
    obj = copy.deepcopy(GOOD[plural])
    _set(obj, path, value)
    causes = validate(resource_for(plural), obj)
    matching = [c for c in causes if c["field"] == field and c["reason"] == reason]
    assert matching, f"expected {field} {reason}, got {json.dumps(causes, indent=1)[:2000]}"
    assert any(fragment in c["message"] for c in matching), matching


@pytest.mark.parametrize("secret_type, data, field", [
    ("kubernetes.io/basic-auth", {}, "data[username]"),
    ("kubernetes.io/ssh-auth", {}, "data[ssh-privatekey]"),
    ("kubernetes.io/dockerconfigjson", {}, "data[.dockerconfigjson]"),
    ("kubernetes.io/dockerconfigjson", {".dockerconfigjson": B64("{not json")}, "data[.dockerconfigjson]"),
    ("kubernetes.io/service-account-token", {}, "metadata.annotations[kubernetes.io/service-account.name]"),
])
def test_secret_types(secret_type, data, field):
    secret = {"metadata": {"name": "s", "namespace": "default"}, "type": secret_type, "data": data}
    causes = validate(resource_for("secrets"), secret)
    assert field in [c["field"] for c in causes], causes


@pytest.mark.parametrize("secret_type, data", [
    ("kubernetes.io/basic-auth", {"username": B64("admin")}),
    ("kubernetes.io/dockerconfigjson", {".dockerconfigjson": B64('{"auths": {}}')}),
    ("example.com/custom", {"anything": B64("goes")}),
    ("Opaque", {}),
])
def test_secret_types_accepted(secret_type, data):
    secret = {"metadata": {"name": "s", "namespace": "default"}, "type": secret_type, "data": data}
    assert validate(resource_for("secrets"), secret) == []


def test_external_name_service():
    svc = {"metadata": {"name": "db", "namespace": "default"}, "spec": {"type": "ExternalName"}}
    causes = validate(resource_for("services"), svc)
    assert [c["field"] for c in causes] == ["spec.externalName"]
    svc["spec"]["externalName"] = "db.example.com"
    assert validate(resource_for("services"), svc) == []


def test_nodeport_range():
    svc = copy.deepcopy(GOOD["services"])
    svc["spec"]["type"] = "NodePort"
    svc["spec"]["ports"][0]["nodePort"] = 80
    causes = validate(resource_for("services"), svc)
    assert causes == [{"reason": "FieldValueInvalid", "field": "spec.ports[0].nodePort",
                       "message": "Invalid value: 80: provided port is not in the valid range. "
                                  "The range of valid ports is 30000-32767"}]
    svc["spec"]["ports"][0]["nodePort"] = 30080
    assert validate(resource_for("services"), svc) == []


def test_causes_build_kubectl_style_message():
    obj = copy.deepcopy(GOOD["pods"])
    obj["metadata"]["name"] = "Web"
    err = invalid("Pod", "Web", validate(resource_for("pods"), obj))
    assert err.message.startswith('Pod "Web" is invalid: metadata.name: Invalid value: "Web": a lowercase RFC 1123')


def test_malformed_shapes_do_not_crash():
    r = resource_for("pods")
    for spec in ("x", None, {"containers": "x"}, {"containers": [1, None, "x"]}, {"volumes": {"a": 1}}):
        assert isinstance(validate(r, {"metadata": {"name": "p", "namespace": "d"}, "spec": spec}), list)
    assert validate(r, {"metadata": "nope"})[0]["field"] == "metadata"


def test_unknown_kind_has_no_kind_errors():
    from kubetui.api.resources import Resource
    r = Resource("widgets", "Widget", group="example.com")
    assert validate(r, {"metadata": {"name": "w", "namespace": "default"}, "spec": {"anything": 1}}) == []
