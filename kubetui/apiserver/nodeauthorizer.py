"""The Node authorizer: a kubelet may read only what the pods bound to its node use.

Upstream: ``plugin/pkg/auth/authorizer/node/node_authorizer.go`` (and its
graph, ``graph_populator.go``). A request from ``system:node:<name>`` in
``system:nodes`` that *gets* a Secret, ConfigMap, PersistentVolumeClaim or
PersistentVolume is allowed only if a pod scheduled to that node references
it (volumes, projected sources, env, envFrom, imagePullSecrets; a PV through
its bound claim). For every other resource the node is held to the rules
of the ``system:node`` ClusterRole (``NodeRules()``), which upstream binds to
no one. Anything else is "no opinion": RBAC decides, as in kube-apiserver's
``--authorization-mode=Node,RBAC``. So one node's kubelet credential cannot
read the Secrets of pods running on another node.

kubetui finds a node's pods by scanning stored pods (a learning cluster
has few); upstream keeps an incremental graph.
"""

from __future__ import annotations

from typing import Any, Iterable

from kubetui.apiserver import rbac

NODES_GROUP = "system:nodes"
NODE_PREFIX = "system:node:"
GRAPH_RESOURCES = {"secrets": "Secret", "configmaps": "ConfigMap", "persistentvolumeclaims": "PVC",
                   "persistentvolumes": "PV"}


def node_name(user: rbac.Subject) -> str | None:
    """``NodeIdentifier``: the node a kubelet credential speaks for, or None."""
    if NODES_GROUP in user.groups and user.name.startswith(NODE_PREFIX) and len(user.name) > len(NODE_PREFIX):
        return user.name[len(NODE_PREFIX):]
    return None


def _containers(spec: dict) -> Iterable[dict]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(key) or ()


def pod_references(pod: dict) -> set[tuple[str, str]]:
    """(kind, name) of every Secret, ConfigMap and PVC a pod uses, in its namespace (pure)."""
    spec = pod.get("spec") or {}
    out: set[tuple[str, str]] = set()
    for s in spec.get("imagePullSecrets") or ():
        out.add(("Secret", s.get("name") or ""))
    for v in spec.get("volumes") or ():
        if (v.get("secret") or {}).get("secretName"):
            out.add(("Secret", v["secret"]["secretName"]))
        if (v.get("configMap") or {}).get("name"):
            out.add(("ConfigMap", v["configMap"]["name"]))
        if (v.get("persistentVolumeClaim") or {}).get("claimName"):
            out.add(("PVC", v["persistentVolumeClaim"]["claimName"]))
        for src in (v.get("projected") or {}).get("sources") or ():
            if (src.get("secret") or {}).get("name"):
                out.add(("Secret", src["secret"]["name"]))
            if (src.get("configMap") or {}).get("name"):
                out.add(("ConfigMap", src["configMap"]["name"]))
    for c in _containers(spec):
        for e in c.get("envFrom") or ():
            if (e.get("secretRef") or {}).get("name"):
                out.add(("Secret", e["secretRef"]["name"]))
            if (e.get("configMapRef") or {}).get("name"):
                out.add(("ConfigMap", e["configMapRef"]["name"]))
        for e in c.get("env") or ():
            ref = e.get("valueFrom") or {}
            if (ref.get("secretKeyRef") or {}).get("name"):
                out.add(("Secret", ref["secretKeyRef"]["name"]))
            if (ref.get("configMapKeyRef") or {}).get("name"):
                out.add(("ConfigMap", ref["configMapKeyRef"]["name"]))
    return out


class NodeAuthorizer:
    """Allow (True) or no opinion (None) for requests of kubelet credentials."""

    def __init__(self, store: Any, node_rules: list[dict]) -> None:
        self.store = store
        self.node_rules = node_rules

    def _pods_on(self, node: str) -> Iterable[dict]:
        from kubetui.api.resources import resource_for
        for kv in self.store.range(resource_for("pods").key(), copy=False):
            pod = kv.value
            if (pod.get("spec") or {}).get("nodeName") == node:
                yield pod

    def _related(self, node: str, attrs: rbac.Attributes) -> bool:
        kind = GRAPH_RESOURCES[attrs.resource]
        if kind == "PV":
            from kubetui.api.resources import resource_for
            pvc_res = resource_for("persistentvolumeclaims")
            for pod in self._pods_on(node):
                ns = pod["metadata"].get("namespace") or ""
                for k, claim in pod_references(pod):
                    if k == "PVC":
                        kv = self.store.get(pvc_res.key(claim, ns), copy=False)
                        if kv is not None and (kv.value.get("spec") or {}).get("volumeName") == attrs.name:
                            return True
            return False
        return any(pod["metadata"].get("namespace") == attrs.namespace and (kind, attrs.name) in pod_references(pod)
                   for pod in self._pods_on(node))

    def decide(self, attrs: rbac.Attributes) -> bool | None:
        node = node_name(attrs.user)
        if node is None:
            return None
        if attrs.resource_request and attrs.api_group == "" and attrs.resource in GRAPH_RESOURCES \
                and not attrs.subresource and attrs.verb == "get":
            return True if attrs.name and self._related(node, attrs) else None
        if attrs.resource_request and attrs.api_group == "" and attrs.resource in ("secrets", "configmaps"):
            return None  # no listing or watching every Secret of the cluster
        return True if any(rbac.rule_allows(attrs, r) for r in self.node_rules) else None


_WRITES = {"create", "update", "patch", "delete"}


def node_restriction(store: Any, attrs: rbac.Attributes) -> None:
    """NodeRestriction admission (``plugin/pkg/admission/noderestriction``), the name-based part:
    a kubelet may write only its own Node and Lease, and only the status (or deletion) of pods
    bound to it. Raises Forbidden worded as upstream's admission errors."""
    node = node_name(attrs.user)
    if node is None or not attrs.resource_request or attrs.verb not in _WRITES:
        return      # most requests: no node's write (imports below only for those that are)
    from kubetui.api.errors import Forbidden
    from kubetui.api.resources import resource_for

    def refuse(msg: str) -> None:
        raise Forbidden(f'{attrs.resource}{"." + attrs.api_group if attrs.api_group else ""} "{attrs.name}" is '
                        f"forbidden: {msg}", name=attrs.name or None, group=attrs.api_group or None,
                        kind=attrs.resource)

    if attrs.api_group == "" and attrs.resource == "nodes" and attrs.name and attrs.name != node:
        refuse(f'node "{node}" is not allowed to modify node "{attrs.name}"')
    if attrs.api_group == "coordination.k8s.io" and attrs.resource == "leases" and attrs.name \
            and (attrs.namespace != "kube-node-lease" or attrs.name != node):
        refuse(f'can only access node lease with the same name as the requesting node')
    if attrs.api_group == "" and attrs.resource == "pods" and attrs.name and attrs.verb != "create":
        kv = store.get(resource_for("pods").key(attrs.name, attrs.namespace), copy=False)
        if kv is not None and (kv.value.get("spec") or {}).get("nodeName") != node:
            if attrs.subresource == "status":
                refuse(f'node "{node}" can only update pod status for pods with spec.nodeName set to itself')
            refuse(f'node "{node}" can only delete pods with spec.nodeName set to itself')
