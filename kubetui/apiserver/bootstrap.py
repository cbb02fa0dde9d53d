"""What a fresh kube-apiserver creates: the system namespaces and the ``kubernetes`` Service.

Upstream: ``pkg/controlplane/controller/systemnamespaces`` (``default``,
``kube-system``, ``kube-public``, ``kube-node-lease``) and
``pkg/controlplane/controller/kubernetesservice`` (the ``kubernetes``
Service in ``default``, ClusterIP = the first address of the service range,
port 443 to the API server's 6443), and the two system PriorityClasses
(``pkg/registry/scheduling/rest``'s post-start hook
``scheduling/bootstrap-system-priority-classes``). Idempotent: run at every start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubetui.api import errors
from kubetui.api.resources import resource_for
from kubetui.apiserver import customresources
from kubetui.apiserver.strategies.namespaces import ensure_default_service_account
from kubetui.apiserver.strategies.services import kubernetes_service_ip

if TYPE_CHECKING:
    from kubetui.apiserver.registry import Registry

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
# scheduling/v1 SystemPriorityClasses(): name -> (value, description)
SYSTEM_PRIORITY_CLASSES = {
    "system-node-critical": (2000001000, "Used for system critical pods that must not be moved from their "
                                         "current node."),
    "system-cluster-critical": (2000000000, "Used for system critical pods that must run in the cluster, but "
                                            "can be moved to another node if necessary."),
}


async def bootstrap(registry: "Registry") -> None:
    # Serve the custom resources of the CRDs already stored (apiextensions-apiserver's start-up),
    # and register the local APIServices (kube-aggregator's autoregister).
    customresources.sync(registry)
    ns = resource_for("namespaces")
    for name in SYSTEM_NAMESPACES:
        if registry.store.get(ns.key(name), copy=False) is None:
            try:
                await registry.create(ns, None, {"metadata": {"name": name}})
            except errors.AlreadyExists:
                pass
        else:
            await ensure_default_service_account(registry, name)
    svc = resource_for("services")
    if registry.store.get(svc.key("kubernetes", "default"), copy=False) is None:
        try:
            await registry.create(svc, "default", {
                "metadata": {"name": "kubernetes", "labels": {"component": "apiserver",
                                                              "provider": "kubernetes"}},
                "spec": {"type": "ClusterIP", "clusterIP": kubernetes_service_ip(registry),
                         "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
                         "sessionAffinity": "None"},
            })
        except errors.AlreadyExists:
            pass
    pc = resource_for("priorityclasses")
    for name, (value, description) in SYSTEM_PRIORITY_CLASSES.items():
        if registry.store.get(pc.key(name), copy=False) is None:
            try:
                await registry.create(pc, None, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                                 "metadata": {"name": name}, "value": value,
                                                 "description": description, "preemptionPolicy":
                                                 "PreemptLowerPriority"})
            except errors.AlreadyExists:
                pass
    # the rbac/bootstrap-roles post-start hook
    from kubetui.apiserver.bootstrappolicy import reconcile
    await reconcile(registry)
    await customresources.ensure_local_apiservices(registry)
