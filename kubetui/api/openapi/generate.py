"""Generate ``schemas.json.gz``: the OpenAPI component schemas kubetui serves.

Upstream publishes api/openapi-spec/v3/*.json, generated from the Go types.
We rebuild the same ``components.schemas`` (names like
``io.k8s.api.core.v1.Pod``, upstream descriptions, required fields,
int-or-string, quantities, times, patch merge keys) from the official
``kubernetes`` Python client, whose models are generated from that very spec.
Only the types reachable from the kinds kubetui serves are kept.

Run once, when the client is upgraded (needs the ``test`` extra)::

    python -m kubetui.api.openapi.generate

The runtime never imports ``kubernetes``; it only reads the JSON file.
"""

from __future__ import annotations

import gzip
import inspect
import json
import logging
import re
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

OUT = Path(__file__).with_name("schemas.json.gz")

META = "io.k8s.apimachinery.pkg.apis.meta.v1"
TIME = f"{META}.Time"
MICRO_TIME = f"{META}.MicroTime"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
RAW_EXTENSION = "io.k8s.apimachinery.pkg.runtime.RawExtension"
FIELDS_V1 = f"{META}.FieldsV1"

CONVENTIONS = "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md"
STANDARD_METADATA = f"Standard object's metadata. More info: {CONVENTIONS}#metadata"
STANDARD_LIST_METADATA = f"Standard list metadata. More info: {CONVENTIONS}#types-kinds"
SPEC_STATUS_LINK = f"More info: {CONVENTIONS}#spec-and-status"

# Root model classes per API package. Everything first reached from a root is
# placed in that root's package, so core types used by Deployments stay core.
ROOTS: list[tuple[str, list[str]]] = [
    (META, ["V1ObjectMeta", "V1ListMeta", "V1Status", "V1DeleteOptions", "V1LabelSelector", "V1WatchEvent",
            "V1Condition", "V1APIResourceList", "V1APIGroupList", "V1APIVersions"]),
    ("io.k8s.api.core.v1", [
        "V1Pod", "V1PodList", "V1Service", "V1ServiceList", "V1Endpoints", "V1EndpointsList", "V1ConfigMap",
        "V1ConfigMapList", "V1Secret", "V1SecretList", "CoreV1Event", "CoreV1EventList", "V1ServiceAccount",
        "V1ServiceAccountList", "V1PersistentVolume", "V1PersistentVolumeList", "V1PersistentVolumeClaim",
        "V1PersistentVolumeClaimList", "V1Namespace", "V1NamespaceList", "V1Node", "V1NodeList", "V1Binding",
        "V1TopologySelectorTerm", "V1PodTemplate", "V1PodTemplateList",
        "V1ReplicationController", "V1ReplicationControllerList", "V1ResourceQuota", "V1ResourceQuotaList",
        "V1LimitRange", "V1LimitRangeList",
    ]),
    ("io.k8s.api.apps.v1", ["V1Deployment", "V1DeploymentList", "V1ReplicaSet", "V1ReplicaSetList",
                            "V1DaemonSet", "V1DaemonSetList", "V1StatefulSet", "V1StatefulSetList",
                            "V1ControllerRevision", "V1ControllerRevisionList"]),
    ("io.k8s.api.autoscaling.v1", ["V1Scale", "V1HorizontalPodAutoscaler", "V1HorizontalPodAutoscalerList"]),
    ("io.k8s.api.autoscaling.v2", ["V2HorizontalPodAutoscaler", "V2HorizontalPodAutoscalerList"]),
    ("io.k8s.api.policy.v1", ["V1Eviction", "V1PodDisruptionBudget", "V1PodDisruptionBudgetList"]),
    ("io.k8s.api.scheduling.v1", ["V1PriorityClass", "V1PriorityClassList"]),
    ("io.k8s.api.coordination.v1", ["V1Lease", "V1LeaseList"]),
    ("io.k8s.api.discovery.v1", ["V1EndpointSlice", "V1EndpointSliceList"]),
    ("io.k8s.api.storage.v1", ["V1StorageClass", "V1StorageClassList"]),
    ("io.k8s.api.batch.v1", ["V1Job", "V1JobList", "V1CronJob", "V1CronJobList"]),
    ("io.k8s.api.authorization.v1", ["V1SelfSubjectAccessReview", "V1SelfSubjectRulesReview",
                                     "V1SubjectAccessReview", "V1LocalSubjectAccessReview"]),
    ("io.k8s.api.authentication.v1", ["V1SelfSubjectReview", "V1TokenReview", "AuthenticationV1TokenRequest"]),
    ("io.k8s.api.rbac.v1", ["V1Role", "V1RoleList", "V1ClusterRole", "V1ClusterRoleList", "V1RoleBinding",
                            "V1RoleBindingList", "V1ClusterRoleBinding", "V1ClusterRoleBindingList"]),
    ("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1",
     ["V1CustomResourceDefinition", "V1CustomResourceDefinitionList"]),
    ("io.k8s.kube-aggregator.pkg.apis.apiregistration.v1", ["V1APIService", "V1APIServiceList"]),
    ("io.k8s.api.networking.v1", ["V1Ingress", "V1IngressList", "V1IngressClass", "V1IngressClassList",
                                  "V1NetworkPolicy", "V1NetworkPolicyList"]),
]

# Types every API package shares (the meta package is placed first anyway).
META_CLASSES = {
    "V1ObjectMeta", "V1ListMeta", "V1ManagedFieldsEntry", "V1OwnerReference", "V1LabelSelector",
    "V1LabelSelectorRequirement", "V1Status", "V1StatusDetails", "V1StatusCause", "V1DeleteOptions",
    "V1Preconditions", "V1Condition", "V1WatchEvent",
}

# group, version, kind of the top-level schemas (x-kubernetes-group-version-kind).
GVK: dict[str, list[tuple[str, str, str]]] = {
    f"{META}.Status": [("", "v1", "Status")],
    f"{META}.WatchEvent": [("", "v1", "WatchEvent"), ("apps", "v1", "WatchEvent"),
                           ("coordination.k8s.io", "v1", "WatchEvent"), ("discovery.k8s.io", "v1", "WatchEvent"),
                           ("storage.k8s.io", "v1", "WatchEvent"), ("batch", "v1", "WatchEvent"),
                           ("policy", "v1", "WatchEvent"), ("scheduling.k8s.io", "v1", "WatchEvent"),
                           ("autoscaling", "v1", "WatchEvent"), ("autoscaling", "v2", "WatchEvent"),
                           ("rbac.authorization.k8s.io", "v1", "WatchEvent"),
                           ("networking.k8s.io", "v1", "WatchEvent")],
    f"{META}.DeleteOptions": [("", "v1", "DeleteOptions"), ("apps", "v1", "DeleteOptions"),
                              ("coordination.k8s.io", "v1", "DeleteOptions"),
                              ("discovery.k8s.io", "v1", "DeleteOptions"), ("policy", "v1", "DeleteOptions"),
                              ("storage.k8s.io", "v1", "DeleteOptions"), ("batch", "v1", "DeleteOptions"),
                              ("scheduling.k8s.io", "v1", "DeleteOptions"),
                              ("autoscaling", "v1", "DeleteOptions"), ("autoscaling", "v2", "DeleteOptions"),
                              ("rbac.authorization.k8s.io", "v1", "DeleteOptions"),
                              ("networking.k8s.io", "v1", "DeleteOptions")],
}
GROUP_OF_PACKAGE = {
    "io.k8s.api.core.v1": ("", "v1"), "io.k8s.api.apps.v1": ("apps", "v1"),
    "io.k8s.api.autoscaling.v1": ("autoscaling", "v1"), "io.k8s.api.autoscaling.v2": ("autoscaling", "v2"),
    "io.k8s.api.policy.v1": ("policy", "v1"),
    "io.k8s.api.coordination.v1": ("coordination.k8s.io", "v1"),
    "io.k8s.api.discovery.v1": ("discovery.k8s.io", "v1"), "io.k8s.api.storage.v1": ("storage.k8s.io", "v1"),
    "io.k8s.api.batch.v1": ("batch", "v1"),
    "io.k8s.api.scheduling.v1": ("scheduling.k8s.io", "v1"),
    "io.k8s.api.rbac.v1": ("rbac.authorization.k8s.io", "v1"),
    "io.k8s.api.authorization.v1": ("authorization.k8s.io", "v1"),
    "io.k8s.api.authentication.v1": ("authentication.k8s.io", "v1"),
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1": ("apiextensions.k8s.io", "v1"),
    "io.k8s.kube-aggregator.pkg.apis.apiregistration.v1": ("apiregistration.k8s.io", "v1"),
    "io.k8s.api.networking.v1": ("networking.k8s.io", "v1"),
}

# (schema short name, field) -> patch strategy and merge key, from the
# `patchStrategy`/`patchMergeKey` struct tags in k8s.io/api's types.go.
PATCH: dict[tuple[str, str], tuple[str, str | None]] = {
    ("PodSpec", "volumes"): ("merge,retainKeys", "name"),
    ("PodSpec", "initContainers"): ("merge", "name"),
    ("PodSpec", "containers"): ("merge", "name"),
    ("PodSpec", "ephemeralContainers"): ("merge", "name"),
    ("PodSpec", "imagePullSecrets"): ("merge", "name"),
    ("PodSpec", "hostAliases"): ("merge", "ip"),
    ("PodSpec", "topologySpreadConstraints"): ("merge", "topologyKey"),
    ("PodSpec", "schedulingGates"): ("merge", "name"),
    ("PodSpec", "resourceClaims"): ("merge,retainKeys", "name"),
    ("Container", "ports"): ("merge", "containerPort"),
    ("Container", "env"): ("merge", "name"),
    ("Container", "volumeMounts"): ("merge", "mountPath"),
    ("Container", "volumeDevices"): ("merge", "devicePath"),
    ("EphemeralContainer", "ports"): ("merge", "containerPort"),
    ("EphemeralContainer", "env"): ("merge", "name"),
    ("EphemeralContainer", "volumeMounts"): ("merge", "mountPath"),
    ("EphemeralContainer", "volumeDevices"): ("merge", "devicePath"),
    ("ObjectMeta", "ownerReferences"): ("merge", "uid"),
    ("ObjectMeta", "finalizers"): ("merge", None),
    ("PodStatus", "conditions"): ("merge", "type"),
    ("PodStatus", "podIPs"): ("merge", "ip"),
    ("PodStatus", "hostIPs"): ("merge", "ip"),
    ("PodStatus", "resourceClaimStatuses"): ("merge,retainKeys", "name"),
    ("NodeStatus", "conditions"): ("merge", "type"),
    ("NodeStatus", "addresses"): ("merge", "type"),
    ("NodeSpec", "podCIDRs"): ("merge", None),
    ("ServiceSpec", "ports"): ("merge", "port"),
    ("ServiceStatus", "conditions"): ("merge", "type"),
    ("ServiceAccount", "secrets"): ("merge", "name"),
    ("NamespaceStatus", "conditions"): ("merge", "type"),
    ("PersistentVolumeClaimStatus", "conditions"): ("merge", "type"),
    ("DeploymentSpec", "strategy"): ("retainKeys", None),
    ("DeploymentStatus", "conditions"): ("merge", "type"),
    ("ReplicaSetStatus", "conditions"): ("merge", "type"),
    ("JobStatus", "conditions"): ("merge", "type"),
    ("HorizontalPodAutoscalerStatus", "conditions"): ("merge", "type"),
    ("DaemonSetStatus", "conditions"): ("merge", "type"),
    ("StatefulSetStatus", "conditions"): ("merge", "type"),
    ("ReplicationControllerStatus", "conditions"): ("merge", "type"),
    ("PodDisruptionBudgetStatus", "conditions"): ("merge", "type"),
}

# Fields the Python client types as plain strings or string maps that are
# really resource.Quantity upstream.
QUANTITY_MAPS = {"limits", "requests", "capacity", "allocatable", "hard", "used", "allocatedResources", "overhead",
                 "default", "defaultRequest", "max", "min", "maxLimitRequestRatio"}
QUANTITY_FIELDS = {("EmptyDirVolumeSource", "sizeLimit"), ("ResourceFieldSelector", "divisor"),
                   ("MetricTarget", "value"), ("MetricTarget", "averageValue"), ("MetricValueStatus", "value"),
                   ("MetricValueStatus", "averageValue"), ("HPAScalingRules", "tolerance"),
                   # autoscaling/v1's flattened metric shapes (in its round-trip annotations)
                   ("ResourceMetricSource", "targetAverageValue"), ("ResourceMetricStatus", "currentAverageValue")}
MICRO_TIME_FIELDS = {("Event", "eventTime"), ("LeaseSpec", "acquireTime"), ("LeaseSpec", "renewTime")}
INT_OR_STRING_FIELDS = {"port", "targetPort", "maxSurge", "maxUnavailable", "minAvailable"}


def _short(class_name: str) -> str:
    """``V1Pod`` -> ``Pod``; ``CoreV1EndpointPort`` -> ``EndpointPort``."""
    return re.sub(r"^(?:[A-Z][a-z]+)*V\d+(?:(?:alpha|beta)\d+)?(?=[A-Z])", "", class_name)


def _description(cls: type) -> str:
    doc = inspect.cleandoc(cls.__doc__ or "")
    return doc.split("Attributes:")[0].strip()


def _ref(name: str, description: str | None = None, default: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"allOf": [{"$ref": f"#/components/schemas/{name}"}]}
    if default is not None:
        out["default"] = default
    if description:
        out["description"] = description
    return out


class Generator:
    def __init__(self, models: Any) -> None:
        self.models = models
        self.names: dict[str, str] = {}  # class name -> schema name
        self.schemas: dict[str, dict[str, Any]] = {}

    def place(self) -> None:
        """Give every reachable model class its upstream schema name."""
        for package, roots in ROOTS:
            queue = list(roots)
            while queue:
                cname = queue.pop()
                if cname in self.names:
                    continue
                pkg = META if cname in META_CLASSES else package
                self.names[cname] = f"{pkg}.{_short(cname)}"
                cls = getattr(self.models, cname)
                for t in cls.openapi_types.values():
                    queue.extend(re.findall(r"\b((?:[A-Z][a-z]+)*V\d+[A-Za-z0-9]*)\b", t))

    def fallback_description(self, owner: str, json_name: str, t: str) -> str:
        """This client drops descriptions of fields typed by another model: use the
        upstream convention texts for metadata/spec/status, else the type's own."""
        article = owner[0].lower() + owner[1:]
        if json_name == "metadata":
            if owner.endswith("List"):
                return STANDARD_LIST_METADATA
            return STANDARD_METADATA
        if json_name == "spec":
            return f"Spec defines the behavior of the {article}. {SPEC_STATUS_LINK}"
        if json_name == "status":
            return (f"Most recently observed status of the {article}. This data may not be up to date. "
                    f"Populated by the system. Read-only. {SPEC_STATUS_LINK}")
        m = re.search(r"((?:[A-Z][a-z]+)*V\d+[A-Za-z0-9]*)", t)
        if m and m.group(1) in self.names:
            return _description(getattr(self.models, m.group(1)))
        return ""

    def field_schema(self, owner: str, json_name: str, t: str, description: str) -> dict[str, Any]:
        if t == "datetime":
            time = MICRO_TIME if (owner, json_name) in MICRO_TIME_FIELDS else TIME
            return _ref(time, description)
        if t == "object":
            if json_name in INT_OR_STRING_FIELDS:
                return _ref(INT_OR_STRING, description)
            if json_name == "fieldsV1":
                return _ref(FIELDS_V1, description)
            return _ref(RAW_EXTENSION, description)
        if (owner, json_name) in QUANTITY_FIELDS:
            return _ref(QUANTITY, description)
        out = self.type_schema(t, quantity_values=json_name in QUANTITY_MAPS)
        if description:
            out["description"] = description
        return out

    def type_schema(self, t: str, *, quantity_values: bool = False) -> dict[str, Any]:
        m = re.fullmatch(r"List\[(.+)\]", t)
        if m:
            return {"type": "array", "items": self.type_schema(m.group(1))}
        m = re.fullmatch(r"Dict\[str, (.+)\]", t)
        if m:
            inner = m.group(1)
            if quantity_values and inner == "str":
                return {"type": "object", "additionalProperties": _ref(QUANTITY)}
            return {"type": "object", "additionalProperties": self.type_schema(inner)}
        scalar = {"str": {"type": "string", "default": ""}, "int": {"type": "integer", "format": "int32"},
                  "bool": {"type": "boolean"}, "float": {"type": "number", "format": "double"},
                  "bytes": {"type": "string", "format": "byte"}, "datetime": _ref(TIME),
                  "object": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
        if t in scalar:
            out = dict(scalar[t])
            if t == "str":
                out.pop("default")
            return out
        return _ref(self.names[t], default={})

    def build(self) -> None:
        for cname, sname in sorted(self.names.items(), key=lambda kv: kv[1]):
            cls = getattr(self.models, cname)
            short = sname.rsplit(".", 1)[1]
            props: dict[str, Any] = {}
            required = []
            by_json = {(f.serialization_alias or n): f for n, f in cls.model_fields.items()}
            for attr, t in cls.openapi_types.items():
                json_name = cls.attribute_map[attr]
                info = cls.model_fields.get(attr) or by_json[json_name]
                description = (info.description or "").strip() or self.fallback_description(short, json_name, t)
                prop = self.field_schema(short, json_name, t, description)
                patch = PATCH.get((short, json_name))
                if patch:
                    prop["x-kubernetes-patch-strategy"] = patch[0]
                    if patch[1]:
                        prop["x-kubernetes-patch-merge-key"] = patch[1]
                props[json_name] = prop
                if info.is_required():
                    required.append(json_name)
            schema: dict[str, Any] = {"description": _description(cls), "type": "object", "properties": props}
            top_level = "kind" in props and "apiVersion" in props
            if top_level:
                # The Go types mark none of these required on top-level kinds.
                required = [r for r in required if r not in ("apiVersion", "kind", "metadata", "spec", "status")]
                gvk = GVK.get(sname)
                package = sname.rsplit(".", 1)[0]
                if gvk is None and package in GROUP_OF_PACKAGE:
                    gvk = [(*GROUP_OF_PACKAGE[package], short)]
                if gvk:
                    schema["x-kubernetes-group-version-kind"] = [
                        {"group": g, "kind": k, "version": v} for g, v, k in gvk]
            if required:
                schema["required"] = sorted(required)
            self.schemas[sname] = schema
        self.schemas.update(_special_schemas())


def _special_schemas() -> dict[str, dict[str, Any]]:
    """The apimachinery types with custom JSON forms (no Python model to read)."""
    return {
        TIME: {"description": "Time is a wrapper around time.Time which supports correct marshaling to YAML and "
                              "JSON.  Wrappers are provided for many of the factory methods that the time package "
                              "offers.", "type": "string", "format": "date-time"},
        MICRO_TIME: {"description": "MicroTime is version of Time with microsecond level precision.",
                     "type": "string", "format": "date-time"},
        QUANTITY: {"description": "Quantity is a fixed-point representation of a number. It provides convenient "
                                  "marshaling/unmarshaling in JSON and YAML, in addition to String() and "
                                  "AsInt64() accessors. The serialization format is: "
                                  "<quantity> ::= <signedNumber><suffix> (e.g. 250m, 128Mi, 1.5Gi, 1e3).",
                   "oneOf": [{"type": "string"}, {"type": "number"}]},
        INT_OR_STRING: {"description": "IntOrString is a type that can hold an int32 or a string.  When used in "
                                       "JSON or YAML marshalling and unmarshalling, it produces or consumes the "
                                       "inner type.  This allows you to have, for example, a JSON field that can "
                                       "accept a name or number.",
                        "type": "string", "format": "int-or-string", "x-kubernetes-int-or-string": True},
        RAW_EXTENSION: {"description": "RawExtension is used to hold extensions in external versions: any JSON "
                                       "object.", "type": "object", "x-kubernetes-preserve-unknown-fields": True},
        FIELDS_V1: {"description": "FieldsV1 stores a set of fields in a data structure like a Trie, in JSON "
                                   "format.", "type": "object", "x-kubernetes-preserve-unknown-fields": True},
        f"{META}.Patch": {"description": "Patch is provided to give a concrete name and type to the Kubernetes "
                                         "PATCH request body.", "type": "object"},
    }


def generate() -> dict[str, dict[str, Any]]:
    import kubernetes.client.models as models  # test extra only; never at runtime

    gen = Generator(models)
    gen.place()
    gen.build()
    return gen.schemas


def main() -> int:
    logging.basicConfig(level=logging.INFO)
    schemas = generate()
    data = json.dumps(schemas, sort_keys=True, separators=(",", ":")).encode()
    # mtime=0 keeps the file byte-identical across runs.
    OUT.write_bytes(gzip.compress(data, mtime=0))
    log.info("wrote %d schemas (%d KiB JSON, %d KiB gzipped) to %s", len(schemas), len(data) // 1024,
             OUT.stat().st_size // 1024, OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
