"""Deployments and ReplicaSets: generation tracks the spec, status is the controller's, ``scale`` is served.

Upstream: ``pkg/registry/apps/deployment/strategy.go`` and
``pkg/registry/apps/replicaset/strategy.go`` (``PrepareForCreate`` clears
status and sets generation 1; ``PrepareForUpdate`` bumps it on a spec change)
and their ``storage.go`` (``ScaleREST``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubetui.apiserver.strategies.base import Obj, Strategy
from kubetui.apiserver.subresources import ScaleREST

if TYPE_CHECKING:
    from kubetui.apiserver.registry import Registry


class WorkloadStrategy(Strategy):
    """Deployments and ReplicaSets behave alike in the registry."""

    track_generation = True
    subresources = {"scale": ScaleREST()}

    def prepare_for_create(self, registry: "Registry", obj: Obj) -> None:
        super().prepare_for_create(registry, obj)
        obj["status"] = {}


class DeploymentStrategy(WorkloadStrategy):
    pass


class ReplicaSetStrategy(WorkloadStrategy):
    pass
