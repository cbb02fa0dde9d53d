"""Defaulting: the values kube-apiserver fills in before an object is stored.

Upstream: pkg/apis/core/v1/defaults.go, pkg/apis/apps/v1/defaults.go,
pkg/apis/discovery/v1/defaults.go, pkg/apis/storage/v1/defaults.go, plus a few
registry strategies (``PrepareForCreate``) that always set a field. This is
why ``kubectl get pod -o yaml`` shows ``dnsPolicy: ClusterFirst`` and
``restartPolicy: Always`` although nobody wrote them: the API server decided.

Defaulting only fills what is missing; it never overwrites a value the user
set. Every function works in place on plain JSON-shaped dicts.
"""

from __future__ import annotations

import base64
from typing import Any, Callable

from kubetui.api.customresource.crd import set_defaults as crd_defaults
from kubetui.api.autoscaling import default_hpa
from kubetui.api.canonical import canonicalize_quantities
from kubetui.api.quantity import parse_quantity
from kubetui.api.resources import Resource

Obj = dict[str, Any]

# File mode 0644: what Kubernetes gives files projected from ConfigMaps and Secrets.
DEFAULT_MODE = 0o644


def apply_defaults(resource: Resource, obj: Obj) -> None:
    """Default ``obj`` (an object of ``resource``'s kind) in place.

    Quantities are first put in canonical form, as upstream's decoding of a
    ``resource.Quantity`` does before any defaulting (``kubetui.api.canonical``).
    """
    canonicalize_quantities(resource.kind, obj)
    fn = _DEFAULTERS.get(resource.kind)
    if fn is not None and isinstance(obj, dict):
        fn(obj)


def _sub(obj: Obj, key: str) -> Obj:
    """``obj[key]`` as a dict, created empty if missing."""
    value = obj.get(key)
    if not isinstance(value, dict):
        value = {}
        obj[key] = value
    return value


def _items(obj: Obj, key: str) -> list[Obj]:
    """The dict items of list ``obj[key]`` (ignoring malformed entries)."""
    value = obj.get(key)
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


# --- core/v1 ---------------------------------------------------------------


def image_pull_policy(image: str) -> str:
    """``Always`` for ``:latest`` or an untagged image, else ``IfNotPresent``.

    A digest (``@sha256:…``) pins the image, so it counts as tagged.
    >>> image_pull_policy("nginx"), image_pull_policy("nginx:1.27")
    ('Always', 'IfNotPresent')
    """
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "Always"
    return "Always" if last.rsplit(":", 1)[1] == "latest" else "IfNotPresent"


def default_probe(probe: Obj) -> None:
    probe.setdefault("timeoutSeconds", 1)
    probe.setdefault("periodSeconds", 10)
    probe.setdefault("successThreshold", 1)
    probe.setdefault("failureThreshold", 3)
    http = probe.get("httpGet")
    if isinstance(http, dict):
        http.setdefault("path", "/")
        http.setdefault("scheme", "HTTP")


def _default_env(container: Obj) -> None:
    for env in _items(container, "env"):
        source = env.get("valueFrom")
        if isinstance(source, dict) and isinstance(source.get("fieldRef"), dict):
            source["fieldRef"].setdefault("apiVersion", "v1")


def default_container(container: Obj) -> None:
    """SetDefaults_Container plus the nested probe, port and env defaults."""
    image = container.get("image")
    if isinstance(image, str) and image and not container.get("imagePullPolicy"):
        container["imagePullPolicy"] = image_pull_policy(image)
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    # `resources: {}` is what a real API server returns for a container without any.
    if not isinstance(container.get("resources"), dict):
        container["resources"] = {}
    for port in _items(container, "ports"):
        port.setdefault("protocol", "TCP")
    for probe_name in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = container.get(probe_name)
        if isinstance(probe, dict):
            default_probe(probe)
    for hook in ("postStart", "preStop"):
        handler = (container.get("lifecycle") or {}).get(hook) if isinstance(container.get("lifecycle"), dict) else None
        if isinstance(handler, dict) and isinstance(handler.get("httpGet"), dict):
            handler["httpGet"].setdefault("path", "/")
            handler["httpGet"].setdefault("scheme", "HTTP")
    _default_env(container)


def default_volume(volume: Obj) -> None:
    """SetDefaults_Volume: a volume with no source is an ``emptyDir``."""
    sources = [k for k in volume if k != "name"]
    if not sources:
        volume["emptyDir"] = {}
    for key in ("configMap", "secret", "downwardAPI", "projected"):
        source = volume.get(key)
        if isinstance(source, dict):
            source.setdefault("defaultMode", DEFAULT_MODE)
    host_path = volume.get("hostPath")
    if isinstance(host_path, dict):
        host_path.setdefault("type", "")
    # SetDefaults_ObjectFieldSelector reaches downward API files, plain or projected;
    # SetDefaults_ServiceAccountTokenProjection gives a projected token an hour.
    downward = [volume.get("downwardAPI")]
    projected = volume.get("projected")
    for source in _items(projected, "sources") if isinstance(projected, dict) else []:
        downward.append(source.get("downwardAPI"))
        token = source.get("serviceAccountToken")
        if isinstance(token, dict):
            token.setdefault("expirationSeconds", 3600)
    for d in downward:
        for item in _items(d, "items") if isinstance(d, dict) else []:
            if isinstance(item.get("fieldRef"), dict):
                item["fieldRef"].setdefault("apiVersion", "v1")


def default_pod_spec(spec: Obj) -> None:
    """SetDefaults_PodSpec and everything it reaches; used for pods and templates."""
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("restartPolicy", "Always")
    if not isinstance(spec.get("securityContext"), dict):
        spec["securityContext"] = {}
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("schedulerName", "default-scheduler")
    host_network = spec.get("hostNetwork") is True
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in _items(spec, key):
            default_container(container)
            if host_network:
                # On the host network, the container port *is* the host port.
                for port in _items(container, "ports"):
                    if "containerPort" in port:
                        port.setdefault("hostPort", port["containerPort"])
    for volume in _items(spec, "volumes"):
        default_volume(volume)
    # v1 conversion: serviceAccount is the deprecated alias of serviceAccountName;
    # serviceAccountName wins, and the alias is always written back as its copy.
    if not spec.get("serviceAccountName") and spec.get("serviceAccount"):
        spec["serviceAccountName"] = spec["serviceAccount"]
    if spec.get("serviceAccountName"):
        spec["serviceAccount"] = spec["serviceAccountName"]


def _requests_from_limits(container: Obj) -> None:
    """SetDefaults_Pod: a limit without a request means request == limit."""
    resources = container.get("resources")
    if not isinstance(resources, dict):
        return
    limits = resources.get("limits")
    if not isinstance(limits, dict) or not limits:
        return
    requests = resources.get("requests")
    if not isinstance(requests, dict):
        requests = {}
    for name, value in limits.items():
        requests.setdefault(name, value)
    resources["requests"] = requests


def default_pod(pod: Obj) -> None:
    spec = _sub(pod, "spec")
    default_pod_spec(spec)
    spec.setdefault("enableServiceLinks", True)
    for key in ("initContainers", "containers"):
        for container in _items(spec, key):
            _requests_from_limits(container)
    status = _sub(pod, "status")
    status.setdefault("phase", "Pending")
    status.setdefault("qosClass", qos_class(spec))


def qos_class(spec: Obj) -> str:
    """Guaranteed, Burstable or BestEffort (pkg/apis/core/helper/qos).

    Guaranteed: every container sets cpu and memory limits equal to requests.
    BestEffort: no container sets any request or limit. Otherwise Burstable.
    """
    containers = _items(spec, "containers") + _items(spec, "initContainers")
    any_set = False
    guaranteed = bool(containers)
    for c in containers:
        res = c.get("resources") if isinstance(c.get("resources"), dict) else {}
        limits = res.get("limits") if isinstance(res.get("limits"), dict) else {}
        requests = res.get("requests") if isinstance(res.get("requests"), dict) else {}
        requests = {**limits, **requests}
        if limits or requests:
            any_set = True
        for name in ("cpu", "memory"):
            if name not in limits or name not in requests:
                guaranteed = False
                continue
            try:
                if parse_quantity(limits[name]) != parse_quantity(requests[name]):
                    guaranteed = False
            except ValueError:
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def default_pod_template(template: Obj) -> None:
    default_pod_spec(_sub(template, "spec"))


def default_service(svc: Obj) -> None:
    spec = _sub(svc, "spec")
    spec.setdefault("type", "ClusterIP")
    svc_type = spec["type"]
    spec.setdefault("sessionAffinity", "None")
    if spec["sessionAffinity"] == "ClientIP":
        config = _sub(spec, "sessionAffinityConfig")
        client_ip = _sub(config, "clientIP")
        client_ip.setdefault("timeoutSeconds", 10800)  # three hours
    for port in _items(spec, "ports"):
        port.setdefault("protocol", "TCP")
        if port.get("targetPort") in (None, 0, "") and "port" in port:
            port["targetPort"] = port["port"]
    if svc_type in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if svc_type == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    if svc_type != "ExternalName":
        spec.setdefault("internalTrafficPolicy", "Cluster")
        # kubetui runs single-stack IPv4 clusters, so this is what the
        # registry's IP family logic would settle on.
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("ipFamilies", ["IPv4"])
    status = _sub(svc, "status")
    status.setdefault("loadBalancer", {})


def default_endpoints(ep: Obj) -> None:
    for subset in _items(ep, "subsets"):
        for port in _items(subset, "ports"):
            port.setdefault("protocol", "TCP")


def default_secret(secret: Obj) -> None:
    secret.setdefault("type", "Opaque")
    # stringData is write-only: upstream's conversion folds it into data
    # (base64-encoded, overriding data's keys) before anything is stored.
    string_data = secret.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = secret.get("data")
        if not isinstance(data, dict):
            data = secret["data"] = {}
        for k, v in string_data.items():
            if isinstance(v, str):
                data[k] = base64.b64encode(v.encode()).decode()


def default_namespace(ns: Obj) -> None:
    # SetDefaults_Namespace: every namespace carries its own name as a label,
    # so label selectors can pick namespaces by name.
    name = (ns.get("metadata") or {}).get("name") if isinstance(ns.get("metadata"), dict) else None
    if name:
        labels = _sub(_sub(ns, "metadata"), "labels")
        labels.setdefault("kubernetes.io/metadata.name", name)
    spec = _sub(ns, "spec")
    spec.setdefault("finalizers", ["kubernetes"])
    _sub(ns, "status").setdefault("phase", "Active")


def default_node(node: Obj) -> None:
    status = node.get("status")
    if isinstance(status, dict) and isinstance(status.get("capacity"), dict):
        # SetDefaults_NodeStatus: allocatable defaults to capacity.
        if not isinstance(status.get("allocatable"), dict):
            status["allocatable"] = dict(status["capacity"])


def default_persistent_volume(pv: Obj) -> None:
    spec = _sub(pv, "spec")
    spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
    spec.setdefault("volumeMode", "Filesystem")
    _sub(pv, "status").setdefault("phase", "Pending")


def default_persistent_volume_claim(pvc: Obj) -> None:
    spec = _sub(pvc, "spec")
    spec.setdefault("volumeMode", "Filesystem")
    _sub(pvc, "status").setdefault("phase", "Pending")


# --- apps/v1 ---------------------------------------------------------------


def default_deployment(deploy: Obj) -> None:
    spec = _sub(deploy, "spec")
    spec.setdefault("replicas", 1)
    strategy = _sub(spec, "strategy")
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _sub(strategy, "rollingUpdate")
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    default_pod_template(_sub(spec, "template"))


def default_replica_set(rs: Obj) -> None:
    spec = _sub(rs, "spec")
    spec.setdefault("replicas", 1)
    default_pod_template(_sub(spec, "template"))


# --- batch/v1 ----------------------------------------------------------------


def default_job(job: Obj) -> None:
    """SetDefaults_Job (pkg/apis/batch/v1/defaults.go).

    A Job that sets neither completions nor parallelism runs one pod to
    completion once; a work queue Job (parallelism only) keeps completions
    unset. The selector and its labels are the strategy's (they need the uid).
    """
    spec = _sub(job, "spec")
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    if spec.get("parallelism") is None:
        spec["parallelism"] = 1
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = 2147483647 if spec.get("backoffLimitPerIndex") is not None else 6
    if spec.get("completionMode") is None:
        spec["completionMode"] = "NonIndexed"
    if spec.get("suspend") is None:
        spec["suspend"] = False
    policy = spec.get("podFailurePolicy")
    if isinstance(policy, dict):
        for rule in _items(policy, "rules"):
            for pattern in _items(rule, "onPodConditions"):
                if not pattern.get("status"):
                    pattern["status"] = "True"
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = "Failed" if isinstance(policy, dict) else "TerminatingOrFailed"
    if spec.get("manualSelector") is None:
        spec["manualSelector"] = False
    template = _sub(spec, "template")
    default_pod_template(template)
    copy_template_labels(job)


def copy_template_labels(job: Obj) -> None:
    """A Job without labels of its own takes its pod template's (SetDefaults_Job).

    Upstream applies defaults again whenever the object is decoded from
    storage, after the strategy added the generated selector labels, which is
    why a real Job carries ``batch.kubernetes.io/controller-uid`` too.
    """
    labels = ((_sub(job, "spec").get("template") or {}).get("metadata") or {}).get("labels")
    meta = _sub(job, "metadata")
    if isinstance(labels, dict) and labels and not meta.get("labels"):
        meta["labels"] = dict(labels)


def default_cron_job(cj: Obj) -> None:
    """SetDefaults_CronJob: Allow, not suspended, keep 3 successful and 1 failed Job."""
    spec = _sub(cj, "spec")
    if not spec.get("concurrencyPolicy"):
        spec["concurrencyPolicy"] = "Allow"
    if spec.get("suspend") is None:
        spec["suspend"] = False
    if spec.get("successfulJobsHistoryLimit") is None:
        spec["successfulJobsHistoryLimit"] = 3
    if spec.get("failedJobsHistoryLimit") is None:
        spec["failedJobsHistoryLimit"] = 1
    # Only the pod template inside is defaulted: SetDefaults_Job is a Job's, not a JobSpec's.
    default_pod_template(_sub(_sub(_sub(spec, "jobTemplate"), "spec"), "template"))
def default_daemon_set(ds: Obj) -> None:
    """SetDefaults_DaemonSet: RollingUpdate, one pod down at a time, no surge; 10 revisions kept."""
    spec = _sub(ds, "spec")
    strategy = _sub(spec, "updateStrategy")
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _sub(strategy, "rollingUpdate")
        rolling.setdefault("maxUnavailable", 1)
        rolling.setdefault("maxSurge", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    default_pod_template(_sub(spec, "template"))


def default_stateful_set(sts: Obj) -> None:
    """SetDefaults_StatefulSet: OrderedReady, RollingUpdate from partition 0, claims retained.

    (``rollingUpdate.maxUnavailable`` is defaulted only behind the alpha
    MaxUnavailableStatefulSet gate, off by default, so it is left unset.)
    """
    spec = _sub(sts, "spec")
    if not spec.get("podManagementPolicy"):
        spec["podManagementPolicy"] = "OrderedReady"
    strategy = _sub(spec, "updateStrategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
        strategy.setdefault("rollingUpdate", {})
    if strategy["type"] == "RollingUpdate" and isinstance(strategy.get("rollingUpdate"), dict):
        strategy["rollingUpdate"].setdefault("partition", 0)
    retention = _sub(spec, "persistentVolumeClaimRetentionPolicy")
    for f in ("whenDeleted", "whenScaled"):
        if not retention.get(f):
            retention[f] = "Retain"
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    default_pod_template(_sub(spec, "template"))
    for claim in _items(spec, "volumeClaimTemplates"):
        # Each template is a whole PersistentVolumeClaim (SetDefaults_PersistentVolumeClaim).
        claim.setdefault("apiVersion", "v1")
        claim.setdefault("kind", "PersistentVolumeClaim")
        default_persistent_volume_claim(claim)


# --- discovery, storage ------------------------------------------------------


def default_endpoint_slice(slice_: Obj) -> None:
    for port in _items(slice_, "ports"):
        port.setdefault("name", "")
        port.setdefault("protocol", "TCP")


def default_storage_class(sc: Obj) -> None:
    sc.setdefault("reclaimPolicy", "Delete")
    sc.setdefault("volumeBindingMode", "Immediate")


# --- policy kinds: RCs, pod templates, limit ranges, priority classes ------------


def default_replication_controller(rc: Obj) -> None:
    """``SetDefaults_ReplicationController``: the selector and labels default to the template's labels."""
    spec = _sub(rc, "spec")
    template = spec.get("template")
    if isinstance(template, dict):
        labels = (template.get("metadata") or {}).get("labels") or {}
        if labels:
            if not spec.get("selector"):
                spec["selector"] = dict(labels)
            meta = _sub(rc, "metadata")
            if not meta.get("labels"):
                meta["labels"] = dict(labels)
        default_pod_template(template)
    spec.setdefault("replicas", 1)


def default_pod_template_object(pt: Obj) -> None:
    if isinstance(pt.get("template"), dict):
        default_pod_template(pt["template"])


def default_limit_range(lr: Obj) -> None:
    """``SetDefaults_LimitRangeItem``: for Container items, default <- max, defaultRequest <- default, then min."""
    for item in _items(_sub(lr, "spec"), "limits"):
        if item.get("type") != "Container":
            continue
        default = dict(item.get("default") or {})
        request = dict(item.get("defaultRequest") or {})
        for k, v in (item.get("max") or {}).items():
            default.setdefault(k, v)
        for k, v in default.items():
            request.setdefault(k, v)
        for k, v in (item.get("min") or {}).items():
            request.setdefault(k, v)
        if default:
            item["default"] = default
        if request:
            item["defaultRequest"] = request


def default_priority_class(pc: Obj) -> None:
    pc.setdefault("preemptionPolicy", "PreemptLowerPriority")


def default_ingress_class(ic: Obj) -> None:
    """``SetDefaults_IngressClass`` (networking/v1): parameters without a scope are cluster-scoped."""
    params = _sub(ic, "spec").get("parameters")
    if isinstance(params, dict):
        params.setdefault("scope", "Cluster")


def default_network_policy(np: Obj) -> None:
    """``SetDefaults_NetworkPolicy`` and ``SetDefaults_NetworkPolicyPort`` (pkg/apis/networking/v1/defaults.go).

    Every policy is at least an Ingress policy; one with ``egress`` rules is
    also an Egress policy. So a policy meant to deny all egress must say
    ``policyTypes: [Egress]`` itself (it has no egress rules to infer it from).
    A port without a protocol is TCP. ``podSelector`` is a struct, not a
    pointer, in the Go type: it is always written, ``{}`` when empty.
    """
    spec = _sub(np, "spec")
    if not isinstance(spec.get("podSelector"), dict):
        spec["podSelector"] = {}
    for rules in ("ingress", "egress"):
        for rule in _items(spec, rules):
            for port in _items(rule, "ports"):
                port.setdefault("protocol", "TCP")
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress"] + (["Egress"] if spec.get("egress") else [])


_DEFAULTERS: dict[str, Callable[[Obj], None]] = {
    "CustomResourceDefinition": crd_defaults,
    "Pod": default_pod,
    "Service": default_service,
    "Endpoints": default_endpoints,
    "Secret": default_secret,
    "Namespace": default_namespace,
    "Node": default_node,
    "PersistentVolume": default_persistent_volume,
    "PersistentVolumeClaim": default_persistent_volume_claim,
    "Deployment": default_deployment,
    "ReplicaSet": default_replica_set,
    "Job": default_job,
    "CronJob": default_cron_job,
    "HorizontalPodAutoscaler": default_hpa,
    "DaemonSet": default_daemon_set,
    "StatefulSet": default_stateful_set,
    "EndpointSlice": default_endpoint_slice,
    "StorageClass": default_storage_class,
    "ReplicationController": default_replication_controller,
    "PodTemplate": default_pod_template_object,
    "LimitRange": default_limit_range,
    "PriorityClass": default_priority_class,
    "IngressClass": default_ingress_class,
    "NetworkPolicy": default_network_policy,
}
