"""Decoding the protobuf request bodies kubectl sends.

Upstream: ``k8s.io/apimachinery/pkg/runtime/serializer/protobuf``. Built-in
types have a protobuf encoding (``generated.proto`` next to each API group's
types) and client-go prefers it: every ``kubectl create secret|configmap|
namespace|deployment|service|serviceaccount`` and ``kubectl auth can-i`` POSTs
``Content-Type: application/vnd.kubernetes.protobuf``. The body is the magic
``k8s\\x00`` followed by a ``runtime.Unknown`` message: field 1 TypeMeta
{1 apiVersion, 2 kind}, field 2 the raw bytes of the typed message.

kubetui answers in JSON (kubectl's Accept allows it) and only *decodes*
protobuf, for the kinds those commands send. Field numbers below come from
upstream ``core/v1``, ``apps/v1``, ``batch/v1``, ``autoscaling/v2``, ``authorization/v1``,
``networking/v1`` and ``meta/v1`` ``generated.proto``. Unknown fields are skipped and logged, never guessed.
"""

from __future__ import annotations

import base64
import datetime as _dt
import logging
import struct
from typing import Any

from kubetui.api.errors import BadRequest, UnsupportedMediaType
from kubetui.api.protowire import field_bytes, field_varint  # noqa: F401  (tests and clients build bodies with them)
from kubetui.apiserver.protobuf_pod import POD_SCHEMAS

log = logging.getLogger(__name__)

PROTOBUF = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"

# A field: (json name, type, flags). Types: scalar names, "map:<type>" (a
# repeated entry message {1 key, 2 value}), or another message's name.
# Flags: "rep" repeated; "ptr" a pointer field in Go, so zero values are kept
# (``replicas: 0`` matters, a non-pointer ``stdin: false`` is just a default).
F = tuple
SCHEMAS: dict[str, dict[int, F]] = {
    # meta/v1
    "ObjectMeta": {1: ("name", "string", ""), 2: ("generateName", "string", ""),
                   3: ("namespace", "string", ""), 5: ("uid", "string", ""),
                   6: ("resourceVersion", "string", ""), 7: ("generation", "int64", ""),
                   8: ("creationTimestamp", "Time", ""), 9: ("deletionTimestamp", "Time", ""),
                   10: ("deletionGracePeriodSeconds", "int64", "ptr"),
                   11: ("labels", "map:string", ""), 12: ("annotations", "map:string", ""),
                   13: ("ownerReferences", "OwnerReference", "rep"), 14: ("finalizers", "string", "rep")},
    "OwnerReference": {1: ("kind", "string", ""), 3: ("name", "string", ""), 4: ("uid", "string", ""),
                       5: ("apiVersion", "string", ""), 6: ("controller", "bool", "ptr"),
                       7: ("blockOwnerDeletion", "bool", "ptr")},
    "LabelSelector": {1: ("matchLabels", "map:string", ""),
                      2: ("matchExpressions", "LabelSelectorRequirement", "rep")},
    "LabelSelectorRequirement": {1: ("key", "string", ""), 2: ("operator", "string", ""),
                                 3: ("values", "string", "rep")},
    # core/v1
    "Secret": {1: ("metadata", "ObjectMeta", ""), 2: ("data", "map:bytes", ""), 3: ("type", "string", ""),
               4: ("stringData", "map:string", ""), 5: ("immutable", "bool", "ptr")},
    "ConfigMap": {1: ("metadata", "ObjectMeta", ""), 2: ("data", "map:string", ""),
                  3: ("binaryData", "map:bytes", ""), 4: ("immutable", "bool", "ptr")},
    "Namespace": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "NamespaceSpec", ""),
                  3: ("status", "NamespaceStatus", "")},
    "NamespaceSpec": {1: ("finalizers", "string", "rep")},
    "NamespaceStatus": {1: ("phase", "string", "")},
    "ServiceAccount": {1: ("metadata", "ObjectMeta", ""), 2: ("secrets", "ObjectReference", "rep"),
                       3: ("imagePullSecrets", "LocalObjectReference", "rep"),
                       4: ("automountServiceAccountToken", "bool", "ptr")},
    "ObjectReference": {1: ("kind", "string", ""), 2: ("namespace", "string", ""), 3: ("name", "string", ""),
                        4: ("uid", "string", ""), 5: ("apiVersion", "string", ""),
                        6: ("resourceVersion", "string", ""), 7: ("fieldPath", "string", "")},
    "LocalObjectReference": {1: ("name", "string", "")},
    "Service": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "ServiceSpec", ""),
                3: ("status", "ServiceStatus", "")},
    "ServiceSpec": {1: ("ports", "ServicePort", "rep"), 2: ("selector", "map:string", ""),
                    3: ("clusterIP", "string", ""), 4: ("type", "string", ""),
                    5: ("externalIPs", "string", "rep"), 7: ("sessionAffinity", "string", ""),
                    8: ("loadBalancerIP", "string", ""), 9: ("loadBalancerSourceRanges", "string", "rep"),
                    10: ("externalName", "string", ""), 11: ("externalTrafficPolicy", "string", ""),
                    12: ("healthCheckNodePort", "int32", ""), 13: ("publishNotReadyAddresses", "bool", ""),
                    17: ("ipFamilyPolicy", "string", ""), 18: ("clusterIPs", "string", "rep"),
                    19: ("ipFamilies", "string", "rep"), 20: ("allocateLoadBalancerNodePorts", "bool", "ptr"),
                    21: ("loadBalancerClass", "string", ""), 22: ("internalTrafficPolicy", "string", "")},
    "ServicePort": {1: ("name", "string", ""), 2: ("protocol", "string", ""), 3: ("port", "int32", ""),
                    4: ("targetPort", "IntOrString", ""), 5: ("nodePort", "int32", ""),
                    6: ("appProtocol", "string", "")},
    "ServiceStatus": {1: ("loadBalancer", "LoadBalancerStatus", "")},
    "LoadBalancerStatus": {},
    # apps/v1
    "Deployment": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "DeploymentSpec", ""),
                   3: ("status", "DeploymentStatus", "")},
    "DeploymentSpec": {1: ("replicas", "int32", "ptr"), 2: ("selector", "LabelSelector", ""),
                       3: ("template", "PodTemplateSpec", ""), 4: ("strategy", "DeploymentStrategy", ""),
                       5: ("minReadySeconds", "int32", ""), 6: ("revisionHistoryLimit", "int32", "ptr"),
                       7: ("paused", "bool", ""), 9: ("progressDeadlineSeconds", "int32", "ptr")},
    "DeploymentStrategy": {1: ("type", "string", ""), 2: ("rollingUpdate", "RollingUpdateDeployment", "")},
    "RollingUpdateDeployment": {1: ("maxUnavailable", "IntOrString", ""), 2: ("maxSurge", "IntOrString", "")},
    "DeploymentStatus": {},
    # batch/v1 (kubectl create job|cronjob, and create job --from=cronjob/x)
    "Job": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "JobSpec", ""), 3: ("status", "JobStatus", "")},
    "JobSpec": {1: ("parallelism", "int32", "ptr"), 2: ("completions", "int32", "ptr"),
                3: ("activeDeadlineSeconds", "int64", "ptr"), 4: ("selector", "LabelSelector", ""),
                5: ("manualSelector", "bool", "ptr"), 6: ("template", "PodTemplateSpec", ""),
                7: ("backoffLimit", "int32", "ptr"), 8: ("ttlSecondsAfterFinished", "int32", "ptr"),
                9: ("completionMode", "string", "ptr"), 10: ("suspend", "bool", "ptr"),
                12: ("backoffLimitPerIndex", "int32", "ptr"), 13: ("maxFailedIndexes", "int32", "ptr"),
                14: ("podReplacementPolicy", "string", "ptr"), 15: ("managedBy", "string", "ptr")},
    "JobStatus": {},
    "CronJob": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "CronJobSpec", ""),
                3: ("status", "CronJobStatus", "")},
    "CronJobSpec": {1: ("schedule", "string", ""), 2: ("startingDeadlineSeconds", "int64", "ptr"),
                    3: ("concurrencyPolicy", "string", ""), 4: ("suspend", "bool", "ptr"),
                    5: ("jobTemplate", "JobTemplateSpec", ""), 6: ("successfulJobsHistoryLimit", "int32", "ptr"),
                    7: ("failedJobsHistoryLimit", "int32", "ptr"), 8: ("timeZone", "string", "ptr")},
    "JobTemplateSpec": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "JobSpec", "")},
    "CronJobStatus": {},
    # core/v1 ResourceQuota (kubectl create quota), policy/v1 (create pdb), scheduling/v1 (create priorityclass)
    "ResourceQuota": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "ResourceQuotaSpec", ""),
                      3: ("status", "ResourceQuotaStatus", "")},
    "ResourceQuotaSpec": {1: ("hard", "map:Quantity", ""), 2: ("scopes", "string", "rep"),
                          3: ("scopeSelector", "ScopeSelector", "")},
    "ResourceQuotaStatus": {1: ("hard", "map:Quantity", ""), 2: ("used", "map:Quantity", "")},
    "ScopeSelector": {1: ("matchExpressions", "ScopedResourceSelectorRequirement", "rep")},
    "ScopedResourceSelectorRequirement": {1: ("scopeName", "string", ""), 2: ("operator", "string", ""),
                                          3: ("values", "string", "rep")},
    "PodDisruptionBudget": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "PodDisruptionBudgetSpec", "")},
    "PodDisruptionBudgetSpec": {1: ("minAvailable", "IntOrString", ""), 2: ("selector", "LabelSelector", ""),
                                3: ("maxUnavailable", "IntOrString", ""),
                                4: ("unhealthyPodEvictionPolicy", "string", "ptr")},
    "PriorityClass": {1: ("metadata", "ObjectMeta", ""), 2: ("value", "int32", "ptr"),
                      3: ("globalDefault", "bool", ""), 4: ("description", "string", ""),
                      5: ("preemptionPolicy", "string", "ptr")},
    # autoscaling/v2 (kubectl autoscale creates a v2 HPA; v1 only when v2 is refused)
    "HorizontalPodAutoscaler": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "HorizontalPodAutoscalerSpec", ""),
                                3: ("status", "HorizontalPodAutoscalerStatus", "")},
    "HorizontalPodAutoscalerSpec": {1: ("scaleTargetRef", "CrossVersionObjectReference", ""),
                                    2: ("minReplicas", "int32", "ptr"), 3: ("maxReplicas", "int32", ""),
                                    4: ("metrics", "MetricSpec", "rep"),
                                    5: ("behavior", "HorizontalPodAutoscalerBehavior", "")},
    "HorizontalPodAutoscalerStatus": {},
    # autoscaling/v1: ``kubectl autoscale`` creates it when the v2 create failed (e.g. AlreadyExists)
    "HorizontalPodAutoscalerV1": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "HorizontalPodAutoscalerSpecV1", ""),
                                  3: ("status", "HorizontalPodAutoscalerStatus", "")},
    "HorizontalPodAutoscalerSpecV1": {1: ("scaleTargetRef", "CrossVersionObjectReference", ""),
                                      2: ("minReplicas", "int32", "ptr"), 3: ("maxReplicas", "int32", ""),
                                      4: ("targetCPUUtilizationPercentage", "int32", "ptr")},
    "CrossVersionObjectReference": {1: ("kind", "string", ""), 2: ("name", "string", ""),
                                    3: ("apiVersion", "string", "")},
    "MetricSpec": {1: ("type", "string", ""), 4: ("resource", "ResourceMetricSource", ""),
                   7: ("containerResource", "ContainerResourceMetricSource", "")},
    "ResourceMetricSource": {1: ("name", "string", ""), 2: ("target", "MetricTarget", "")},
    "ContainerResourceMetricSource": {1: ("name", "string", ""), 2: ("target", "MetricTarget", ""),
                                      3: ("container", "string", "")},
    "MetricTarget": {1: ("type", "string", ""), 2: ("value", "Quantity", ""), 3: ("averageValue", "Quantity", ""),
                     4: ("averageUtilization", "int32", "ptr")},
    "HorizontalPodAutoscalerBehavior": {1: ("scaleUp", "HPAScalingRules", ""), 2: ("scaleDown", "HPAScalingRules", "")},
    "HPAScalingRules": {1: ("selectPolicy", "string", ""), 2: ("policies", "HPAScalingPolicy", "rep"),
                        3: ("stabilizationWindowSeconds", "int32", "ptr")},
    "HPAScalingPolicy": {1: ("type", "string", ""), 2: ("value", "int32", ""), 3: ("periodSeconds", "int32", "")},
    # authorization/v1
    "SelfSubjectAccessReview": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "SelfSubjectAccessReviewSpec", "")},
    "SelfSubjectAccessReviewSpec": {1: ("resourceAttributes", "ResourceAttributes", ""),
                                    2: ("nonResourceAttributes", "NonResourceAttributes", "")},
    "ResourceAttributes": {1: ("namespace", "string", ""), 2: ("verb", "string", ""), 3: ("group", "string", ""),
                           4: ("version", "string", ""), 5: ("resource", "string", ""),
                           6: ("subresource", "string", ""), 7: ("name", "string", "")},
    "NonResourceAttributes": {1: ("path", "string", ""), 2: ("verb", "string", "")},
    "SelfSubjectRulesReview": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "SelfSubjectRulesReviewSpec", "")},
    "SelfSubjectRulesReviewSpec": {1: ("namespace", "string", "")},
    "SubjectAccessReview": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "SubjectAccessReviewSpec", "")},
    "SubjectAccessReviewSpec": {1: ("resourceAttributes", "ResourceAttributes", ""),
                                2: ("nonResourceAttributes", "NonResourceAttributes", ""),
                                3: ("user", "string", ""), 4: ("groups", "string", "rep"), 6: ("uid", "string", "")},
    # authentication/v1 (kubectl auth whoami)
    "SelfSubjectReview": {1: ("metadata", "ObjectMeta", "")},
    # authentication/v1 TokenRequest (kubectl create token)
    "TokenRequest": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "TokenRequestSpec", "")},
    "TokenRequestSpec": {1: ("audiences", "string", "rep"), 3: ("boundObjectRef", "BoundObjectReference", ""),
                         4: ("expirationSeconds", "int64", "ptr")},
    "BoundObjectReference": {1: ("kind", "string", ""), 2: ("apiVersion", "string", ""), 3: ("name", "string", ""),
                             4: ("uid", "string", "")},
    # rbac.authorization.k8s.io/v1 (kubectl create role|clusterrole|rolebinding|clusterrolebinding)
    "Role": {1: ("metadata", "ObjectMeta", ""), 2: ("rules", "PolicyRule", "rep")},
    "ClusterRole": {1: ("metadata", "ObjectMeta", ""), 2: ("rules", "PolicyRule", "rep"),
                    3: ("aggregationRule", "AggregationRule", "")},
    "AggregationRule": {1: ("clusterRoleSelectors", "LabelSelector", "rep")},
    "PolicyRule": {1: ("verbs", "string", "rep"), 2: ("apiGroups", "string", "rep"),
                   3: ("resources", "string", "rep"), 4: ("resourceNames", "string", "rep"),
                   5: ("nonResourceURLs", "string", "rep")},
    "RoleBinding": {1: ("metadata", "ObjectMeta", ""), 2: ("subjects", "RbacSubject", "rep"),
                    3: ("roleRef", "RoleRef", "")},
    "ClusterRoleBinding": {1: ("metadata", "ObjectMeta", ""), 2: ("subjects", "RbacSubject", "rep"),
                           3: ("roleRef", "RoleRef", "")},
    "RbacSubject": {1: ("kind", "string", ""), 2: ("apiGroup", "string", ""), 3: ("name", "string", ""),
                    4: ("namespace", "string", "")},
    "RoleRef": {1: ("apiGroup", "string", ""), 2: ("kind", "string", ""), 3: ("name", "string", "")},
    # networking/v1 (``kubectl create ingress``); IngressRuleValue is embedded, so inlined in JSON
    "Ingress": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "IngressSpec", ""), 3: ("status", "IngressStatus", "")},
    "IngressSpec": {1: ("defaultBackend", "IngressBackend", ""), 2: ("tls", "IngressTLS", "rep"),
                    3: ("rules", "IngressRule", "rep"), 4: ("ingressClassName", "string", "ptr")},
    "IngressStatus": {},
    "IngressBackend": {3: ("resource", "TypedLocalObjectReference", ""), 4: ("service", "IngressServiceBackend", "")},
    "TypedLocalObjectReference": {1: ("apiGroup", "string", "ptr"), 2: ("kind", "string", ""),
                                  3: ("name", "string", "")},
    "IngressServiceBackend": {1: ("name", "string", ""), 2: ("port", "ServiceBackendPort", "")},
    "ServiceBackendPort": {1: ("name", "string", ""), 2: ("number", "int32", "")},
    "IngressTLS": {1: ("hosts", "string", "rep"), 2: ("secretName", "string", "")},
    "IngressRule": {1: ("host", "string", ""), 2: ("ingressRuleValue", "IngressRuleValue", "inline")},
    "IngressRuleValue": {1: ("http", "HTTPIngressRuleValue", "")},
    "HTTPIngressRuleValue": {1: ("paths", "HTTPIngressPath", "rep")},
    "HTTPIngressPath": {1: ("path", "string", ""), 2: ("backend", "IngressBackend", ""),
                        3: ("pathType", "string", "ptr")},
}

# A Pod and all it holds (also inside every workload's pod template): protobuf_pod.py.
SCHEMAS.update(POD_SCHEMAS)

# Top-level kinds we accept, by (apiVersion, kind).
DECODABLE = {
    ("v1", "Secret"), ("v1", "ConfigMap"), ("v1", "Namespace"), ("v1", "ServiceAccount"), ("v1", "Service"),
    ("apps/v1", "Deployment"),
    ("batch/v1", "Job"), ("batch/v1", "CronJob"),
    ("v1", "ResourceQuota"), ("policy/v1", "PodDisruptionBudget"), ("scheduling.k8s.io/v1", "PriorityClass"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"), ("autoscaling/v1", "HorizontalPodAutoscaler"), ("v1", "Pod"),
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"),
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"),
    ("authorization.k8s.io/v1", "SubjectAccessReview"),
    ("authentication.k8s.io/v1", "SelfSubjectReview"), ("authentication.k8s.io/v1", "TokenRequest"),
    ("rbac.authorization.k8s.io/v1", "Role"), ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"), ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("networking.k8s.io/v1", "Ingress"),
}

# The message a top-level (apiVersion, kind) decodes as, when it is not the kind's name.
ROOTS = {("autoscaling/v1", "HorizontalPodAutoscaler"): "HorizontalPodAutoscalerV1"}

# Kinds decoded strictly: a field this table lacks fails the request (415) rather
# than being skipped, since a Pod stored without one of its volumes, probes or
# security settings would run as something other than what was asked for.
STRICT = {"Pod"}


# -- wire format -----------------------------------------------------------------

def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
        if shift > 70:
            raise ValueError("varint too long")


def iter_fields(buf: bytes):
    """Yield ``(field number, wire type, value)``; value is int or bytes."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, i = _varint(buf, i)
        elif wt == 1:
            val, i = struct.unpack_from("<q", buf, i)[0], i + 8
        elif wt == 2:
            n, i = _varint(buf, i)
            if i + n > len(buf):
                raise ValueError("truncated length-delimited field")
            val, i = buf[i:i + n], i + n
        elif wt == 5:
            val, i = struct.unpack_from("<i", buf, i)[0], i + 4
        else:
            raise ValueError(f"unsupported wire type {wt}")
        yield num, wt, val


def _signed(v: int, bits: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _scalar(typ: str, val: Any, strict: bool = False) -> Any:
    if typ == "string":
        return val.decode("utf-8")
    if typ == "bytes":
        return base64.b64encode(val).decode()
    if typ in ("int32", "int64"):
        return _signed(val, 64)
    if typ == "bool":
        return bool(val)
    if typ == "Time":
        secs = 0
        for num, _, v in iter_fields(val):
            if num == 1:
                secs = _signed(v, 64)
        if secs == 0:
            return None
        return _dt.datetime.fromtimestamp(secs, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if typ == "Quantity":
        for num, _, v in iter_fields(val):
            if num == 1:
                return v.decode()
        return "0"
    if typ == "IntOrString":
        kind, ival, sval = 0, 0, ""
        for num, _, v in iter_fields(val):
            if num == 1:
                kind = v
            elif num == 2:
                ival = _signed(v, 64)
            elif num == 3:
                sval = v.decode()
        return sval if kind == 1 else ival
    return decode_message(typ, val, strict)


def _zero_field(wt: int, val: Any) -> bool:
    """Whether an undecoded field carries nothing: Go's generated marshalling writes every
    non-pointer field, so an empty string, a false, a 0 or an all-empty struct arrive too."""
    if wt != 2:
        return val == 0
    if not val:
        return True
    try:
        return all(_zero_field(w, v) for _, w, v in iter_fields(val))
    except (ValueError, struct.error):
        return False


def _is_zero(v: Any) -> bool:
    return v is None or v == "" or v is False or v == 0


def decode_message(name: str, buf: bytes, strict: bool = False) -> dict[str, Any]:
    """Decode one message by its schema into a JSON-shaped dict.

    ``strict``: a field the schema lacks raises ``UnsupportedMediaType`` instead of being skipped.
    """
    schema = SCHEMAS[name]
    out: dict[str, Any] = {}
    for num, _wt, val in iter_fields(buf):
        field = schema.get(num)
        if field is None:
            if strict and not _zero_field(_wt, val):
                raise UnsupportedMediaType(
                    f"kubetui cannot decode protobuf field {num} of {name}; send JSON or YAML instead "
                    f"(e.g. `kubectl create ... --dry-run=client -o yaml | kubectl apply -f -`)")
            log.debug("protobuf %s: skipping unknown field %d", name, num)
            continue
        jname, typ, flags = field
        if typ.startswith("map:"):
            k, v = "", None
            for enum, _, evalue in iter_fields(val):
                if enum == 1:
                    k = evalue.decode()
                elif enum == 2:
                    v = _scalar(typ[4:], evalue, strict)
            if v is None:
                v = "" if typ[4:] in ("string", "bytes") else v
            out.setdefault(jname, {})[k] = v
            continue
        value = _scalar(typ, val, strict)
        if "inline" in flags:           # an embedded Go struct: its fields sit in the parent's JSON
            out.update(value)
        elif "rep" in flags:
            out.setdefault(jname, []).append(value)
        elif "ptr" in flags or not _is_zero(value):
            out[jname] = value
    return out


def decode(body: bytes) -> dict[str, Any]:
    """A ``k8s\\x00`` protobuf body -> the JSON object it stands for.

    Raises ``UnsupportedMediaType`` for kinds kubetui cannot decode (so the
    user is told to use ``-o yaml | kubectl create -f -``), ``BadRequest`` for
    a corrupt body.
    """
    if not body.startswith(MAGIC):
        raise BadRequest("protobuf body lacks the k8s\\x00 envelope prefix")
    try:
        api_version = kind = ""
        raw = b""
        for num, _, val in iter_fields(body[len(MAGIC):]):
            if num == 1:
                for tnum, _, tval in iter_fields(val):
                    if tnum == 1:
                        api_version = tval.decode()
                    elif tnum == 2:
                        kind = tval.decode()
            elif num == 2:
                raw = val
        if (api_version, kind) not in DECODABLE:
            raise UnsupportedMediaType(
                f"kubetui cannot decode protobuf for {api_version}/{kind}; send JSON or YAML instead "
                f"(e.g. `kubectl create ... --dry-run=client -o yaml | kubectl apply -f -`)")
        obj = decode_message(ROOTS.get((api_version, kind), kind), raw, strict=kind in STRICT)
    except (ValueError, UnicodeDecodeError, struct.error) as exc:
        raise BadRequest(f"invalid protobuf body: {exc}") from None
    return {"apiVersion": api_version, "kind": kind, **obj}


# -- encoding (tests and clients that want to speak protobuf) -------------------------

def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = field_bytes(1, api_version.encode()) + field_bytes(2, kind.encode())
    return MAGIC + field_bytes(1, type_meta) + field_bytes(2, raw)
