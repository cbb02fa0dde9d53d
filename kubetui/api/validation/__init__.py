"""Validation: what kube-apiserver checks before it stores an object.

Upstream: pkg/apis/*/validation and k8s.io/apimachinery's validation helpers.
``validate`` returns the list of causes for a 422 ``Invalid`` (empty when the
object is fine); ``kubetui.api.errors.invalid`` turns them into the error.
On update (``old`` given) it also enforces immutable fields.

    >>> from kubetui.api.resources import resource_for
    >>> validate(resource_for("pods"), {"metadata": {"name": "Web", "namespace": "default"},
    ...          "spec": {"containers": [{"name": "c", "image": "nginx"}]}})[0]["field"]
    'metadata.name'
"""

from __future__ import annotations

from typing import Any, Callable

from kubetui.api.resources import Resource
from kubetui.api.validation.apps import validate_deployment, validate_replica_set
from kubetui.api.validation.autoscaling import validate_hpa
from kubetui.api.validation.batch import validate_cron_job, validate_job
from kubetui.api.validation.apps_sets import validate_controller_revision, validate_daemon_set, validate_stateful_set
from kubetui.api.validation.core import (
    validate_config_map, validate_endpoints, validate_event, validate_namespace, validate_node,
    validate_persistent_volume, validate_persistent_volume_claim, validate_secret, validate_service,
    validate_service_account,
)
from kubetui.api.validation.field import Cause
from kubetui.api.validation.ingress import validate_ingress, validate_ingress_class
from kubetui.api.validation.networkpolicy import validate_network_policy
from kubetui.api.validation.meta import name_check_for, validate_object_meta, validate_object_meta_update
from kubetui.api.validation.other import validate_endpoint_slice, validate_lease, validate_storage_class
from kubetui.api.validation.pod import validate_pod
from kubetui.api.validation.rbac import (
    validate_cluster_role, validate_cluster_role_binding, validate_role, validate_role_binding,
)
from kubetui.api.validation.policy import (
    validate_limit_range, validate_pod_disruption_budget, validate_pod_template, validate_priority_class,
    validate_replication_controller, validate_resource_quota,
)

def validate_crd(obj: dict[str, Any], old: dict[str, Any] | None, subresource: str | None) -> list[Cause]:
    # (imported here: kubetui.api.customresource uses this package's name checks)
    from kubetui.api.customresource.crd import validate_crd as validate
    return validate(obj, old, subresource)


def validate_apiservice(obj: dict[str, Any], old: dict[str, Any] | None, subresource: str | None) -> list[Cause]:
    from kubetui.api.customresource.apiservice import validate_apiservice as validate
    return validate(obj, old, subresource)


KindValidator = Callable[[dict[str, Any], "dict[str, Any] | None", "str | None"], list[Cause]]

VALIDATORS: dict[str, KindValidator] = {
    "CustomResourceDefinition": validate_crd,
    "APIService": validate_apiservice,
    "Pod": validate_pod,
    "Service": validate_service,
    "ConfigMap": validate_config_map,
    "Secret": validate_secret,
    "Namespace": validate_namespace,
    "Node": validate_node,
    "ServiceAccount": validate_service_account,
    "PersistentVolume": validate_persistent_volume,
    "PersistentVolumeClaim": validate_persistent_volume_claim,
    "Endpoints": validate_endpoints,
    "Event": validate_event,
    "Deployment": validate_deployment,
    "ReplicaSet": validate_replica_set,
    "Job": validate_job,
    "CronJob": validate_cron_job,
    "HorizontalPodAutoscaler": validate_hpa,
    "DaemonSet": validate_daemon_set,
    "StatefulSet": validate_stateful_set,
    "ControllerRevision": validate_controller_revision,
    "Lease": validate_lease,
    "EndpointSlice": validate_endpoint_slice,
    "StorageClass": validate_storage_class,
    "ReplicationController": validate_replication_controller,
    "PodTemplate": validate_pod_template,
    "ResourceQuota": validate_resource_quota,
    "LimitRange": validate_limit_range,
    "PodDisruptionBudget": validate_pod_disruption_budget,
    "PriorityClass": validate_priority_class,
    "Role": validate_role,
    "ClusterRole": validate_cluster_role,
    "RoleBinding": validate_role_binding,
    "ClusterRoleBinding": validate_cluster_role_binding,
    "Ingress": validate_ingress,
    "IngressClass": validate_ingress_class,
    "NetworkPolicy": validate_network_policy,
}

# Subresources whose body is not the parent object (Binding, Eviction, Scale…):
# the registry validates what it builds from them, not the request itself.
_FOREIGN_BODIES = {"binding", "eviction", "log", "exec", "portforward", "proxy"}


def validate(resource: Resource, obj: dict[str, Any], old: dict[str, Any] | None = None, *,
             subresource: str | None = None) -> list[Cause]:
    """The causes kube-apiserver would give for ``obj`` (empty list: valid).

    ``old`` is the stored object on update; ``subresource`` is ``"status"``,
    ``"scale"``, ``"binding"``… when the write goes through one.
    """
    if subresource in _FOREIGN_BODIES:
        return []
    if not isinstance(obj, dict):
        return [{"reason": "FieldValueInvalid", "message": "Invalid value: the object must be a JSON object",
                 "field": ""}]
    causes: list[Cause] = []
    causes += validate_object_meta(obj.get("metadata"), namespaced=resource.namespaced,
                                   name_check=name_check_for(resource.kind))
    if old is not None:
        causes += validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
    kind_validator = VALIDATORS.get(resource.kind)
    if kind_validator is not None:
        causes += kind_validator(obj, old, subresource)
    return _dedupe(causes)


def _dedupe(causes: list[Cause]) -> list[Cause]:
    """Upstream's ErrorList.ToAggregate drops repeated messages."""
    seen: set[tuple[str, str, str]] = set()
    out = []
    for c in causes:
        k = (c.get("field", ""), c.get("message", ""), c.get("reason", ""))
        if k not in seen:
            seen.add(k)
            out.append(c)
    return out


__all__ = ["validate", "VALIDATORS"]
