"""The RBAC roles and bindings every cluster starts with, reconciled at each start.

Upstream: ``plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go``
(``ClusterRoles``, ``ClusterRoleBindings``), ``controller_policy.go`` and
the ``rbac/bootstrap-roles`` post-start hook of kube-apiserver
(``pkg/registry/rbac/rest/storage_rbac.go``), which creates missing roles
and bindings and adds back rules or subjects someone removed (unless the
object is annotated ``rbac.authorization.kubernetes.io/autoupdate: "false"``).

``admin``, ``edit`` and ``view`` are *aggregated*: their rules are the union
of the ClusterRoles labelled ``rbac.authorization.k8s.io/aggregate-to-…``
(the ``system:aggregate-to-*`` roles here, and any a user adds), kept up to
date by the clusterrole-aggregation controller.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from kubetui.api import errors
from kubetui.api.resources import resource_for

if TYPE_CHECKING:
    from kubetui.apiserver.registry import Registry

log = logging.getLogger(__name__)

GROUP = "rbac.authorization.k8s.io"
AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
BOOTSTRAP_LABEL = {"kubernetes.io/bootstrapping": "rbac-defaults"}

READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]
READ_WRITE = READ + WRITE


def rule(verbs: list[str], groups: list[str] | None = None, resources: list[str] | None = None, *,
         names: list[str] | None = None, urls: list[str] | None = None) -> dict[str, Any]:
    """A PolicyRule (``rbacv1helpers.NewRule(...).Groups(...).Resources(...)``)."""
    r: dict[str, Any] = {"verbs": list(verbs)}
    if urls:
        r["nonResourceURLs"] = list(urls)
        return r
    r["apiGroups"] = list(groups or [""])
    r["resources"] = list(resources or [])
    if names:
        r["resourceNames"] = list(names)
    return r


def _events() -> list[dict]:
    return [rule(["create", "patch", "update"], ["", "events.k8s.io"], ["events"])]


def _aggregated(name: str, into: str) -> dict:
    return {"aggregationRule": {"clusterRoleSelectors": [
        {"matchLabels": {f"rbac.authorization.k8s.io/aggregate-to-{into}": "true"}}]}}


# name -> (extra labels, rules, aggregationRule or None)
CLUSTER_ROLES: dict[str, tuple[dict[str, str], list[dict], dict | None]] = {
    "cluster-admin": ({}, [rule(["*"], ["*"], ["*"]), rule(["*"], urls=["*"])], None),
    "system:discovery": ({}, [rule(["get"], urls=["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez",
                                                  "/openapi", "/openapi/*", "/readyz", "/version", "/version/"])],
                         None),
    "system:public-info-viewer": ({}, [rule(["get"], urls=["/healthz", "/livez", "/readyz", "/version",
                                                            "/version/"])], None),
    "system:basic-user": ({}, [
        rule(["create"], ["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
        rule(["create"], ["authentication.k8s.io"], ["selfsubjectreviews"]),
    ], None),
    "admin": ({"rbac.authorization.k8s.io/aggregate-to-admin": "false"}, [], "admin"),
    "edit": ({"rbac.authorization.k8s.io/aggregate-to-admin": "true"}, [], "edit"),
    "view": ({"rbac.authorization.k8s.io/aggregate-to-edit": "true"}, [], "view"),
    "system:aggregate-to-admin": ({"rbac.authorization.k8s.io/aggregate-to-admin": "true"}, [
        rule(["create"], ["authorization.k8s.io"], ["localsubjectaccessreviews"]),
        rule(READ_WRITE, [GROUP], ["roles", "rolebindings"]),
    ], None),
    "system:aggregate-to-edit": ({"rbac.authorization.k8s.io/aggregate-to-edit": "true"}, [
        rule(READ, [""], ["pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "secrets",
                          "services/proxy"]),
        rule(["impersonate"], [""], ["serviceaccounts"]),
        rule(WRITE, [""], ["pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward"]),
        rule(["create"], [""], ["pods/eviction"]),
        rule(WRITE, [""], ["replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services",
                           "services/proxy", "persistentvolumeclaims", "configmaps", "secrets", "events"]),
        rule(["create"], [""], ["serviceaccounts/token"]),
        rule(WRITE, ["apps"], ["statefulsets", "statefulsets/scale", "daemonsets", "deployments",
                               "deployments/scale", "deployments/rollback", "replicasets", "replicasets/scale"]),
        rule(WRITE, ["autoscaling"], ["horizontalpodautoscalers"]),
        rule(WRITE, ["batch"], ["jobs", "cronjobs"]),
        rule(WRITE, ["policy"], ["poddisruptionbudgets"]),
        rule(WRITE, ["networking.k8s.io"], ["networkpolicies", "ingresses"]),
        rule(READ_WRITE, ["coordination.k8s.io"], ["leases"]),
    ], None),
    "system:aggregate-to-view": ({"rbac.authorization.k8s.io/aggregate-to-view": "true"}, [
        rule(READ, [""], ["pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
                          "services", "services/status", "endpoints", "persistentvolumeclaims",
                          "persistentvolumeclaims/status", "configmaps"]),
        rule(READ, [""], ["limitranges", "resourcequotas", "bindings", "events", "pods/status",
                          "resourcequotas/status", "namespaces/status", "replicationcontrollers/status",
                          "pods/log"]),
        rule(READ, [""], ["namespaces"]),
        rule(READ, ["discovery.k8s.io"], ["endpointslices"]),
        rule(READ, ["apps"], ["controllerrevisions", "statefulsets", "statefulsets/scale", "statefulsets/status",
                              "daemonsets", "daemonsets/status", "deployments", "deployments/scale",
                              "deployments/status", "replicasets", "replicasets/scale", "replicasets/status"]),
        rule(READ, ["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
        rule(READ, ["batch"], ["jobs", "cronjobs", "cronjobs/status", "jobs/status"]),
        rule(READ, ["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
        rule(READ, ["networking.k8s.io"], ["networkpolicies", "ingresses", "ingresses/status"]),
    ], None),
    # A kubelet's rules. Bound to no one: the Node authorizer (nodeauthorizer.py)
    # holds kubelets to them, and lets each read only its own pods' Secrets,
    # ConfigMaps and volumes.
    "system:node": ({}, [
        rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
        rule(["create"], ["authorization.k8s.io"], ["subjectaccessreviews", "localsubjectaccessreviews"]),
        rule(READ, [""], ["services"]),
        rule(["create", "get", "list", "watch", "patch", "update", "delete"], [""], ["nodes"]),
        rule(["patch", "update"], [""], ["nodes/status"]),
        rule(["create", "patch", "update"], ["", "events.k8s.io"], ["events"]),
        rule(READ, [""], ["pods"]),
        rule(["create", "delete"], [""], ["pods"]),
        rule(["update", "patch"], [""], ["pods/status"]),
        rule(["create"], [""], ["pods/eviction"]),
        rule(["get"], [""], ["secrets", "configmaps"]),
        # upstream: get only; kubetui's kubelet lists PersistentVolumes to find local volumes
        rule(READ, [""], ["persistentvolumeclaims", "persistentvolumes"]),
        rule(["update", "patch"], [""], ["persistentvolumeclaims/status"]),
        rule(["get"], [""], ["endpoints"]),
        rule(READ, ["discovery.k8s.io"], ["endpointslices"]),
        rule(["create", "get", "list", "watch", "update", "patch", "delete"], ["coordination.k8s.io"], ["leases"]),
        rule(["create"], [""], ["serviceaccounts/token"]),
        rule(["get", "list", "watch"], ["storage.k8s.io"], ["storageclasses"]),
        # kubetui: a node pulls images through the control plane (kubelet/images.py); not upstream
        rule(["create"], ["images.kubetui.dev"], ["nodes/pulls"]),
    ], None),
    "system:node-proxier": ({}, [
        rule(["list", "watch"], [""], ["services", "endpoints"]),
        rule(["get", "list", "watch"], [""], ["nodes"]),
        *_events(),
        rule(["list", "watch"], ["discovery.k8s.io"], ["endpointslices"]),
    ], None),
    "system:kube-scheduler": ({}, [
        *_events(),
        rule(["create"], ["coordination.k8s.io"], ["leases"]),
        rule(["get", "update"], ["coordination.k8s.io"], ["leases"], names=["kube-scheduler"]),
        rule(["create"], [""], ["endpoints"]),
        rule(["get", "update"], [""], ["endpoints"], names=["kube-scheduler"]),
        rule(READ, [""], ["nodes"]),
        rule(["get", "list", "watch", "delete"], [""], ["pods"]),
        rule(["create"], [""], ["bindings", "pods/binding"]),
        rule(["patch", "update"], [""], ["pods/status"]),
        rule(READ, [""], ["replicationcontrollers", "services"]),
        rule(READ, ["apps", "extensions"], ["replicasets"]),
        rule(READ, ["apps"], ["statefulsets"]),
        rule(READ, ["policy"], ["poddisruptionbudgets"]),
        rule(READ, [""], ["persistentvolumeclaims", "persistentvolumes"]),
        rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
        rule(["create"], ["authorization.k8s.io"], ["subjectaccessreviews"]),
        rule(READ, ["storage.k8s.io"], ["csinodes", "csidrivers", "csistoragecapacities", "storageclasses"]),
        rule(READ, [""], ["namespaces"]),
        rule(READ, ["scheduling.k8s.io"], ["priorityclasses"]),
    ], None),
    "system:kube-controller-manager": ({}, [
        *_events(),
        rule(["create"], ["coordination.k8s.io"], ["leases"]),
        rule(["get", "update"], ["coordination.k8s.io"], ["leases"], names=["kube-controller-manager"]),
        rule(["create"], [""], ["secrets", "serviceaccounts"]),
        rule(["delete"], [""], ["secrets"]),
        rule(["get"], [""], ["configmaps", "namespaces", "secrets", "serviceaccounts"]),
        rule(["update"], [""], ["secrets", "serviceaccounts"]),
        rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
        rule(["create"], ["authorization.k8s.io"], ["subjectaccessreviews"]),
        rule(["list", "watch"], ["*"], ["*"]),
        rule(["create"], [""], ["serviceaccounts/token"]),
    ], None),
    # The NetworkPolicy agent's role (like calico-node's or kube-router's ClusterRole): every
    # policy, pod and namespace, since a policy on one node selects peers anywhere.
    "system:kubetui:netpol-agent": ({}, [
        rule(["list", "watch"], ["networking.k8s.io"], ["networkpolicies"]),
        rule(["list", "watch"], [""], ["pods", "namespaces"]),
    ], None),
    # kubetui's own: every signed-in user may read the control plane's activity counters (requests
    # served, store revision, pods bound, reconciles: numbers, no object names), so the map's
    # control-plane boxes work for a user RBAC keeps in one namespace too
    "kubetui:activity-viewer": ({}, [rule(["get", "list"], ["controlplane.kubetui.dev"], ["activity"])], None),
    # kube-dns's role (kubeadm's system:coredns addon role, here a bootstrap one)
    "system:kube-dns": ({}, [rule(["list", "watch"], [""], ["endpoints", "services", "pods", "namespaces"]),
                             rule(["list", "watch"], ["discovery.k8s.io"], ["endpointslices"])], None),
}

# name -> (role, subjects): groups "G:name", users "U:name"
CLUSTER_ROLE_BINDINGS: dict[str, tuple[str, list[str]]] = {
    "cluster-admin": ("cluster-admin", ["G:system:masters"]),
    "system:discovery": ("system:discovery", ["G:system:authenticated"]),
    "system:basic-user": ("system:basic-user", ["G:system:authenticated"]),
    "system:public-info-viewer": ("system:public-info-viewer", ["G:system:authenticated",
                                                                "G:system:unauthenticated"]),
    "kubetui:activity-viewer": ("kubetui:activity-viewer", ["G:system:authenticated"]),
    "system:node-proxier": ("system:node-proxier", ["U:system:kube-proxy"]),
    "system:kube-scheduler": ("system:kube-scheduler", ["U:system:kube-scheduler"]),
    "system:kube-controller-manager": ("system:kube-controller-manager", ["U:system:kube-controller-manager"]),
    "system:kube-dns": ("system:kube-dns", ["SA:kube-system:kube-dns"]),
    # kubetui.netpol runs in each node's agents process with the node's credential (as kube-proxy does)
    "system:kubetui:netpol-agent": ("system:kubetui:netpol-agent", ["G:system:nodes"]),
}


def _subject(spec: str) -> dict[str, str]:
    kind, _, name = spec.partition(":")
    if kind == "SA":
        ns, _, sa = name.partition(":")
        return {"kind": "ServiceAccount", "name": sa, "namespace": ns}
    return {"kind": {"G": "Group", "U": "User"}[kind], "apiGroup": GROUP, "name": name}


def _meta(name: str, labels: dict[str, str] | None = None) -> dict:
    return {"name": name, "labels": {**BOOTSTRAP_LABEL, **(labels or {})}, "annotations": {AUTOUPDATE: "true"}}


def cluster_roles() -> list[dict]:
    out = []
    for name, (labels, rules, agg) in CLUSTER_ROLES.items():
        obj: dict[str, Any] = {"apiVersion": f"{GROUP}/v1", "kind": "ClusterRole",
                               "metadata": _meta(name, {k: v for k, v in labels.items() if v == "true"}),
                               "rules": rules}
        if agg:
            obj.update(_aggregated(name, agg))
        out.append(obj)
    return out


def cluster_role_bindings() -> list[dict]:
    return [{"apiVersion": f"{GROUP}/v1", "kind": "ClusterRoleBinding", "metadata": _meta(name),
             "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": role},
             "subjects": [_subject(s) for s in subjects]}
            for name, (role, subjects) in CLUSTER_ROLE_BINDINGS.items()]


#: bootstrap bindings earlier kubetui versions made and this one must not keep
#: (system:node to every node: the Node authorizer replaces it)
OBSOLETE_BINDINGS = ("system:node",)


async def reconcile(registry: "Registry") -> None:
    """Create missing bootstrap roles and bindings; add back rules/subjects removed from auto-updated ones."""
    from kubetui.controllers.clusterroleaggregation import aggregate_rules
    crb = resource_for(f"clusterrolebindings.{GROUP}")
    for name in OBSOLETE_BINDINGS:
        kv = registry.store.get(crb.key(name), copy=False)
        if kv is not None and (kv.value["metadata"].get("labels") or {}) == BOOTSTRAP_LABEL:
            log.info("RBAC bootstrap: removing the obsolete binding %s", name)
            await registry.delete(crb, None, name)
    roles = cluster_roles()
    # aggregated roles get their rules now, so they work before the controller's first pass
    # (view -> edit -> admin: repeat until nothing changes, as the controller converges)
    for _ in range(len(roles)):
        changed = False
        for role in roles:
            if role.get("aggregationRule"):
                rules = aggregate_rules(role, roles)
                changed |= rules != role["rules"]
                role["rules"] = rules
        if not changed:
            break
    for plural, objs, field in (("clusterroles", roles, "rules"),
                                ("clusterrolebindings", cluster_role_bindings(), "subjects")):
        res = resource_for(f"{plural}.{GROUP}")
        for obj in objs:
            name = obj["metadata"]["name"]
            kv = registry.store.get(res.key(name), copy=True)
            if kv is None:
                try:
                    await registry.create(res, None, obj)
                except errors.AlreadyExists:
                    pass
                continue
            live = kv.value
            if (live["metadata"].get("annotations") or {}).get(AUTOUPDATE) == "false":
                continue
            have = list(live.get(field) or [])
            missing = [x for x in obj.get(field) or [] if x not in have]
            if missing and not live.get("aggregationRule"):
                live[field] = have + missing
                log.info("RBAC bootstrap: adding %d %s back to %s %s", len(missing), field, res.kind, name)
                try:
                    await registry.update(res, None, name, live)
                except errors.StatusError as exc:  # a concurrent writer: next start reconciles again
                    log.warning("RBAC bootstrap could not reconcile %s: %s", name, exc.message)
