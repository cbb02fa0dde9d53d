"""The API resources kubetui serves: group, version, kind, scope and verbs.

Upstream this knowledge is spread over each type's ``register.go`` and the
API server's REST storage. Here it is one table, used by discovery, the REST
handlers, the store's key layout and every client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Resource:
    """One REST resource, e.g. ``pods`` in the core group ``v1``."""

    plural: str
    kind: str
    group: str = ""
    version: str = "v1"
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    # subresource name -> (responseKind "group/version/Kind" parts, verbs)
    subresources: dict[str, tuple[tuple[str, str, str], tuple[str, ...]]] = field(default_factory=dict)

    # The derived names are worked out once per Resource (it is frozen): every request
    # asks for some of them several times.
    @cached_property
    def api_version(self) -> str:
        """``v1`` for the core group, ``apps/v1`` otherwise."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @cached_property
    def group_resource(self) -> str:
        """``pods`` or ``deployments.apps``: how error messages name a resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def _key_prefix(self) -> str:
        prefix = self.__dict__.get("_prefix")
        if prefix is None:
            stored = STORAGE_PREFIX.get(self.group_resource)
            prefix = f"/registry/{stored or self.plural}/"
            # kept unless a custom resource's storage prefix may still be registered
            # (``set_custom_resources``); the core group has no custom resources
            if stored is not None or not self.group:
                self.__dict__["_prefix"] = prefix
        return prefix

    def key(self, name: str = "", namespace: str | None = None) -> str:
        """The store key, laid out as kube-apiserver lays out etcd.

        ``/registry/pods/default/web-1``, ``/registry/minions/node-1`` (nodes
        really are stored as "minions"), and a prefix when ``name`` is empty.
        """
        prefix = self._key_prefix
        if self.namespaced:
            if namespace is None:
                return prefix
            prefix += f"{namespace}/"
        return prefix + name


# Where upstream's etcd layout differs from the plural (kube-apiserver keeps
# these historical names, and a learner reading the store sees the real ones).
STORAGE_PREFIX = {
    "nodes": "minions",
    "services": "services/specs",
    "endpoints": "services/endpoints",
    "deployments.apps": "deployments",
    "replicasets.apps": "replicasets",
    "daemonsets.apps": "daemonsets",
    "statefulsets.apps": "statefulsets",
    "controllerrevisions.apps": "controllerrevisions",
    "leases.coordination.k8s.io": "leases",
    "endpointslices.discovery.k8s.io": "endpointslices",
    "persistentvolumes": "persistentvolumes",
    "persistentvolumeclaims": "persistentvolumeclaims",
    "storageclasses.storage.k8s.io": "storageclasses",
    "replicationcontrollers": "controllers",
    "poddisruptionbudgets.policy": "poddisruptionbudgets",
    "priorityclasses.scheduling.k8s.io": "priorityclasses",
    "roles.rbac.authorization.k8s.io": "roles",
    "rolebindings.rbac.authorization.k8s.io": "rolebindings",
    "clusterroles.rbac.authorization.k8s.io": "clusterroles",
    "clusterrolebindings.rbac.authorization.k8s.io": "clusterrolebindings",
    "customresourcedefinitions.apiextensions.k8s.io": "apiextensions.k8s.io/customresourcedefinitions",
    "apiservices.apiregistration.k8s.io": "apiregistration.k8s.io/apiservices",
    "ingresses.networking.k8s.io": "ingress",
    "networkpolicies.networking.k8s.io": "networkpolicies",
}

_STATUS = {"status": (("", "v1", ""), ("get", "patch", "update"))}
_PROXY_VERBS = ("create", "delete", "get", "patch", "update")  # a connect subresource: any HTTP verb

# autoscaling/v2 is the HorizontalPodAutoscaler's storage (and preferred) version.
HPA_V2 = Resource("horizontalpodautoscalers", "HorizontalPodAutoscaler", group="autoscaling", version="v2",
                  short_names=("hpa",), categories=("all",), subresources={**_STATUS})

RESOURCES: tuple[Resource, ...] = (
    Resource("namespaces", "Namespace", namespaced=False, short_names=("ns",),
             verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
             subresources={**_STATUS, "finalize": (("", "v1", "Namespace"), ("update",))}),
    Resource("nodes", "Node", namespaced=False, short_names=("no",), subresources={**_STATUS}),
    Resource("pods", "Pod", short_names=("po",), categories=("all",), subresources={
        **_STATUS,
        "binding": (("", "v1", "Binding"), ("create",)),
        "log": (("", "v1", "Pod"), ("get",)),
        "exec": (("", "v1", "PodExecOptions"), ("create", "get")),
        "attach": (("", "v1", "PodAttachOptions"), ("create", "get")),
        "portforward": (("", "v1", "PodPortForwardOptions"), ("create", "get")),
        "eviction": (("policy", "v1", "Eviction"), ("create",)),
        "ephemeralcontainers": (("", "v1", "Pod"), ("get", "patch", "update")),
        "proxy": (("", "v1", "PodProxyOptions"), _PROXY_VERBS),
    }),
    Resource("services", "Service", short_names=("svc",), categories=("all",), subresources={
        **_STATUS, "proxy": (("", "v1", "ServiceProxyOptions"), _PROXY_VERBS)}),
    Resource("endpoints", "Endpoints", short_names=("ep",)),
    Resource("configmaps", "ConfigMap", short_names=("cm",)),
    Resource("secrets", "Secret"),
    Resource("events", "Event", short_names=("ev",)),
    Resource("serviceaccounts", "ServiceAccount", short_names=("sa",), subresources={
        "token": (("authentication.k8s.io", "v1", "TokenRequest"), ("create",)),
    }),
    Resource("persistentvolumes", "PersistentVolume", namespaced=False, short_names=("pv",),
             subresources={**_STATUS}),
    Resource("persistentvolumeclaims", "PersistentVolumeClaim", short_names=("pvc",),
             subresources={**_STATUS}),
    Resource("deployments", "Deployment", group="apps", short_names=("deploy",), categories=("all",),
             subresources={**_STATUS, "scale": (("autoscaling", "v1", "Scale"), ("get", "patch", "update"))}),
    Resource("replicasets", "ReplicaSet", group="apps", short_names=("rs",), categories=("all",),
             subresources={**_STATUS, "scale": (("autoscaling", "v1", "Scale"), ("get", "patch", "update"))}),
    Resource("jobs", "Job", group="batch", categories=("all",), subresources={**_STATUS}),
    Resource("cronjobs", "CronJob", group="batch", short_names=("cj",), categories=("all",),
             subresources={**_STATUS}),
    Resource("daemonsets", "DaemonSet", group="apps", short_names=("ds",), categories=("all",),
             subresources={**_STATUS}),
    Resource("statefulsets", "StatefulSet", group="apps", short_names=("sts",), categories=("all",),
             subresources={**_STATUS, "scale": (("autoscaling", "v1", "Scale"), ("get", "patch", "update"))}),
    Resource("controllerrevisions", "ControllerRevision", group="apps"),
    HPA_V2,
    Resource("leases", "Lease", group="coordination.k8s.io"),
    Resource("endpointslices", "EndpointSlice", group="discovery.k8s.io"),
    Resource("storageclasses", "StorageClass", group="storage.k8s.io", namespaced=False, short_names=("sc",)),
    # issue 13 (policy): quotas, limit ranges, disruption budgets, priorities, RCs, pod templates
    Resource("replicationcontrollers", "ReplicationController", short_names=("rc",), categories=("all",),
             subresources={**_STATUS, "scale": (("autoscaling", "v1", "Scale"), ("get", "patch", "update"))}),
    Resource("podtemplates", "PodTemplate"),
    Resource("resourcequotas", "ResourceQuota", short_names=("quota",), subresources={**_STATUS}),
    Resource("limitranges", "LimitRange", short_names=("limits",)),
    Resource("poddisruptionbudgets", "PodDisruptionBudget", group="policy", short_names=("pdb",),
             subresources={**_STATUS}),
    Resource("priorityclasses", "PriorityClass", group="scheduling.k8s.io", namespaced=False, short_names=("pc",)),
    # issue 14 (RBAC): who may do what
    Resource("roles", "Role", group="rbac.authorization.k8s.io"),
    Resource("rolebindings", "RoleBinding", group="rbac.authorization.k8s.io"),
    Resource("clusterroles", "ClusterRole", group="rbac.authorization.k8s.io", namespaced=False),
    Resource("clusterrolebindings", "ClusterRoleBinding", group="rbac.authorization.k8s.io", namespaced=False),
    # issue 14: extending the API
    Resource("customresourcedefinitions", "CustomResourceDefinition", group="apiextensions.k8s.io",
             namespaced=False, short_names=("crd", "crds"), categories=("api-extensions",),
             subresources={**_STATUS}),
    Resource("apiservices", "APIService", group="apiregistration.k8s.io", namespaced=False,
             categories=("api-extensions",), subresources={**_STATUS}),
    # issue 14: Ingress (the way in from outside)
    Resource("ingresses", "Ingress", group="networking.k8s.io", short_names=("ing",), subresources={**_STATUS}),
    Resource("ingressclasses", "IngressClass", group="networking.k8s.io", namespaced=False),
    # issue 14: who may talk to whom
    Resource("networkpolicies", "NetworkPolicy", group="networking.k8s.io", short_names=("netpol",)),
)

# Other versions served over a stored kind: each request through one is converted
# to and from the storage version (upstream: the scheme's conversion functions,
# here ``kubetui.api.autoscaling``); the store, the registry and every
# controller only ever see the storage version.
CONVERTED: tuple[Resource, ...] = (
    Resource("horizontalpodautoscalers", "HorizontalPodAutoscaler", group="autoscaling", version="v1",
             short_names=("hpa",), categories=("all",), subresources={**_STATUS}),
)

#: The reviews the API server answers and never stores (``kubectl auth can-i``, ``auth whoami``):
#: served in discovery and OpenAPI, create-only.
REVIEWS: tuple[Resource, ...] = (
    Resource("selfsubjectaccessreviews", "SelfSubjectAccessReview", group="authorization.k8s.io",
             namespaced=False, verbs=("create",)),
    Resource("selfsubjectrulesreviews", "SelfSubjectRulesReview", group="authorization.k8s.io",
             namespaced=False, verbs=("create",)),
    Resource("subjectaccessreviews", "SubjectAccessReview", group="authorization.k8s.io",
             namespaced=False, verbs=("create",)),
    Resource("localsubjectaccessreviews", "LocalSubjectAccessReview", group="authorization.k8s.io",
             verbs=("create",)),
    Resource("selfsubjectreviews", "SelfSubjectReview", group="authentication.k8s.io",
             namespaced=False, verbs=("create",)),
    Resource("tokenreviews", "TokenReview", group="authentication.k8s.io",
             namespaced=False, verbs=("create",)),
)

_BY_NAME: dict[str, Resource] = {}
for _r in RESOURCES:
    for _n in (_r.plural, _r.group_resource, _r.singular, _r.kind, *_r.short_names):
        _BY_NAME.setdefault(_n, _r)
        _BY_NAME.setdefault(_n.lower(), _r)
_BY_GVK: dict[tuple[str, str], Resource] = {(_r.api_version, _r.kind): _r for _r in RESOURCES}
_STORAGE: dict[tuple[str, str], Resource] = {(_r.group, _r.plural): _r for _r in RESOURCES}
for _r in CONVERTED:
    _BY_GVK[(_r.api_version, _r.kind)] = _STORAGE[(_r.group, _r.plural)]


# -- custom resources ---------------------------------------------------------
# Served only while their CustomResourceDefinition is Established (upstream:
# apiextensions-apiserver's crdHandler); ``kubetui.apiserver.customresources``
# replaces this whole set whenever a CRD changes. Every served version is one
# Resource; the storage version's is the one objects are stored under.
_DYNAMIC: tuple[Resource, ...] = ()
_DYN_BY_NAME: dict[str, Resource] = {}
_DYN_BY_GVK: dict[tuple[str, str], Resource] = {}
_DYN_STORAGE: dict[tuple[str, str], Resource] = {}


def set_custom_resources(served: tuple[Resource, ...], storage: dict[tuple[str, str], Resource]) -> None:
    """Replace the served custom resources (each CRD's versions, preferred first) and their storage versions."""
    global _DYNAMIC
    by_name: dict[str, Resource] = {}
    for r in storage.values():
        for n in (r.plural, r.group_resource, r.singular, r.kind, *r.short_names):
            by_name.setdefault(n, r)
            by_name.setdefault(n.lower(), r)
    for st in storage.values():
        STORAGE_PREFIX.setdefault(st.group_resource, f"{st.group}/{st.plural}")
    _DYN_BY_NAME.clear()
    _DYN_BY_NAME.update(by_name)
    _DYN_BY_GVK.clear()
    _DYN_BY_GVK.update({(r.api_version, r.kind): storage[(r.group, r.plural)] for r in served})
    _DYN_STORAGE.clear()
    _DYN_STORAGE.update(storage)
    _DYNAMIC = tuple(served)


def custom_resources() -> tuple[Resource, ...]:
    """Every served version of every established custom resource."""
    return _DYNAMIC


def is_custom(resource: Resource) -> bool:
    return (resource.group, resource.plural) in _DYN_STORAGE


def storage_resource(resource: Resource) -> Resource:
    """The stored version of ``resource`` (itself unless it is a converted version)."""
    got = _STORAGE.get((resource.group, resource.plural))
    if got is None:
        got = _DYN_STORAGE.get((resource.group, resource.plural))
    return got or resource


def resource_for(name: str) -> Resource:
    """Look a resource up by plural, ``plural.group``, singular, kind or short name.

    >>> resource_for("deploy").kind
    'Deployment'
    """
    for table in (_BY_NAME, _DYN_BY_NAME):
        if name in table:
            return table[name]
        if name.lower() in table:
            return table[name.lower()]
    try:
        raise KeyError(name)
    except KeyError:
        raise KeyError(f'the server doesn\'t have a resource type "{name}"') from None


def resource_for_kind(api_version: str, kind: str) -> Resource | None:
    """The resource that stores objects of ``apiVersion``/``kind``, if served (a converted version: its storage)."""
    return _BY_GVK.get((api_version, kind)) or _DYN_BY_GVK.get((api_version, kind))


def groups() -> dict[str, list[str]]:
    """Served API groups -> versions (the core group is ``""``)."""
    out: dict[str, list[str]] = {}
    for r in RESOURCES:
        versions = out.setdefault(r.group, [])
        if r.version not in versions:
            versions.append(r.version)
    return out
