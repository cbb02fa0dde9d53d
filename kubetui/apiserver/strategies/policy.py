"""The policy kinds' strategies, and the admission plugins that enforce them.

Upstream: ``pkg/registry/core/replicationcontroller/strategy.go`` (like a
ReplicaSet: generation tracks the spec, status is the controller's, ``scale``
served), ``pkg/registry/core/podtemplate``, ``pkg/registry/core/resourcequota``
(status is the quota controller's: a create or a spec update never sets it),
``pkg/registry/policy/poddisruptionbudget`` (the disruption controller's
status, generation tracked so ``status.observedGeneration`` means something)
and ``pkg/registry/scheduling/priorityclass`` (the two system classes cannot
be deleted). The ``LimitRanger``, ``ResourceQuota`` and ``Priority``
(for PriorityClasses) admission plugins live in ``kubetui.apiserver.quota``
and ``kubetui.apiserver.admission``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubetui.api.errors import Forbidden
from kubetui.apiserver.strategies.apps import WorkloadStrategy
from kubetui.apiserver.strategies.base import Obj, Strategy

if TYPE_CHECKING:
    from kubetui.apiserver.registry import Registry

SYSTEM_PRIORITY_CLASSES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}


class ReplicationControllerStrategy(WorkloadStrategy):
    """An RC is stored and scaled as a ReplicaSet is."""


class PodTemplateStrategy(Strategy):
    """``generation`` is 1 on create and +1 whenever ``template`` changes (PodTemplates have no spec)."""

    def prepare_for_create(self, registry: "Registry", obj: Obj) -> None:
        obj["metadata"]["generation"] = 1

    def update_generation(self, new: Obj, old: Obj) -> None:
        gen = (old.get("metadata") or {}).get("generation") or 1
        new["metadata"]["generation"] = gen + 1 if new.get("template") != old.get("template") else gen


class StatusOwnedStrategy(Strategy):
    """Kinds whose status only their controller writes: a create starts with an empty one."""

    def prepare_for_create(self, registry: "Registry", obj: Obj) -> None:
        super().prepare_for_create(registry, obj)
        obj.pop("status", None)


class ResourceQuotaStrategy(StatusOwnedStrategy):
    pass


class PodDisruptionBudgetStrategy(StatusOwnedStrategy):
    track_generation = True

    def prepare_for_create(self, registry: "Registry", obj: Obj) -> None:
        super().prepare_for_create(registry, obj)
        obj["status"] = {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}


class PriorityClassStrategy(Strategy):
    """The system classes are the API server's own (``scheduling/bootstrap-system-priority-classes``)."""

    def check_delete(self, registry: "Registry", namespace: str | None, name: str) -> None:
        if name in SYSTEM_PRIORITY_CLASSES:
            raise Forbidden(f'priorityclasses.scheduling.k8s.io "{name}" is forbidden: this is a system '
                            f"priority class and cannot be deleted", name=name, group="scheduling.k8s.io",
                            kind="priorityclasses")
