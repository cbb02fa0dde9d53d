"""Per-kind REST strategies: what each kind does on create, update and delete.

Upstream every resource has a ``strategy.go`` (and sometimes its own
``storage.go``) under ``pkg/registry/<group>/<kind>/``; the generic store
(``kubetui/apiserver/registry.py``, upstream's ``generic/registry/store.go``)
calls their hooks and knows nothing of any kind. ``base.Strategy`` lists the
hooks and the default behaviour; each module here overrides what its kinds do
differently.

Adding a kind: write its strategy in its group's module (or use the plain
``Strategy``), and add one line to ``build``. Kinds not listed get the plain
``Strategy``.
"""

from __future__ import annotations

import random
from typing import Callable

from kubetui.api.resources import Resource, resource_for
from kubetui.apiserver.quota import LimitRanger, PriorityClassAdmission, ResourceQuotaAdmission
from kubetui.apiserver.strategies.apps import DeploymentStrategy, ReplicaSetStrategy
from kubetui.apiserver.strategies.apps_sets import DaemonSetStrategy, StatefulSetStrategy
from kubetui.apiserver.strategies.autoscaling import HorizontalPodAutoscalerStrategy
from kubetui.apiserver.strategies.base import Strategy
from kubetui.apiserver.strategies.batch import CronJobStrategy, JobStrategy
from kubetui.apiserver.strategies.ingress import DefaultIngressClass, IngressClassStrategy, IngressStrategy
from kubetui.apiserver.strategies.namespaces import NamespaceStrategy
from kubetui.apiserver.strategies.networkpolicy import NetworkPolicyStrategy
from kubetui.apiserver.strategies.pods import PodStrategy
from kubetui.apiserver.strategies.policy import (
    PodDisruptionBudgetStrategy, PodTemplateStrategy, PriorityClassStrategy, ReplicationControllerStrategy,
    ResourceQuotaStrategy,
)
from kubetui.apiserver.strategies.rbac import BindingStrategy, RoleStrategy
from kubetui.apiserver.strategies.services import ServiceStrategy
from kubetui.apiserver.strategies.storage import DefaultStorageClass, VolumeStrategy


class CreateOnUpdateStrategy(Strategy):
    """Kinds a PUT may create (``AllowCreateOnUpdate``): what controllers write blindly."""

    allow_create_on_update = True


def build(*, service_cidr: str, node_port_range: tuple[int, int],
          rng: random.Random | None = None) -> dict[str, Strategy]:
    """Every served kind's strategy, by group-resource: the registration list."""
    # (imported here: the custom-resource strategies build on ``strategies.base`` themselves)
    from kubetui.apiserver import customresources
    from kubetui.apiserver.serviceaccount import ServiceAccountStrategy
    from kubetui.apiserver.customresources.strategy import APIServiceStrategy, CustomResourceDefinitionStrategy
    kinds: dict[str, Callable[[Resource], Strategy]] = {
        "pods": PodStrategy,
        "serviceaccounts": ServiceAccountStrategy,
        "services": lambda r: ServiceStrategy(r, service_cidr=service_cidr, node_port_range=node_port_range,
                                              rng=rng),
        "namespaces": NamespaceStrategy,
        "persistentvolumes": VolumeStrategy,
        "persistentvolumeclaims": VolumeStrategy,
        "endpoints": CreateOnUpdateStrategy,
        "events": CreateOnUpdateStrategy,
        "deployments.apps": DeploymentStrategy,
        "replicasets.apps": ReplicaSetStrategy,
        "jobs.batch": JobStrategy,
        "cronjobs.batch": CronJobStrategy,
        "horizontalpodautoscalers.autoscaling": HorizontalPodAutoscalerStrategy,
        "daemonsets.apps": DaemonSetStrategy,
        "statefulsets.apps": StatefulSetStrategy,
        "leases.coordination.k8s.io": CreateOnUpdateStrategy,
        "endpointslices.discovery.k8s.io": CreateOnUpdateStrategy,
        "replicationcontrollers": ReplicationControllerStrategy,
        "podtemplates": PodTemplateStrategy,
        "resourcequotas": ResourceQuotaStrategy,
        "poddisruptionbudgets.policy": PodDisruptionBudgetStrategy,
        "priorityclasses.scheduling.k8s.io": PriorityClassStrategy,
        "roles.rbac.authorization.k8s.io": RoleStrategy,
        "clusterroles.rbac.authorization.k8s.io": RoleStrategy,
        "rolebindings.rbac.authorization.k8s.io": BindingStrategy,
        "clusterrolebindings.rbac.authorization.k8s.io": BindingStrategy,
        "networkpolicies.networking.k8s.io": NetworkPolicyStrategy,
        "customresourcedefinitions.apiextensions.k8s.io": lambda r: CustomResourceDefinitionStrategy(
            r, on_change=customresources.sync),
        "apiservices.apiregistration.k8s.io": APIServiceStrategy,
        "ingresses.networking.k8s.io": IngressStrategy,
        "ingressclasses.networking.k8s.io": IngressClassStrategy,
    }
    return {gr: make(resource_for(gr)) for gr, make in kinds.items()}


#: Mutating admission plugins besides the pod ones (``kubetui.apiserver.admission``), in upstream's order.
def admission_plugins() -> list:
    return [DefaultStorageClass(), DefaultIngressClass(), PriorityClassAdmission(), LimitRanger()]


#: Validating admission plugins, in upstream's order (ResourceQuota is always last).
def validating_admission_plugins() -> list:
    return [LimitRanger(), ResourceQuotaAdmission()]


__all__ = ["Strategy", "CreateOnUpdateStrategy", "build", "admission_plugins", "validating_admission_plugins"]
