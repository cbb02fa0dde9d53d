"""Services: a ClusterIP and node ports are allocated before validation, released after deletion.

Upstream: ``pkg/registry/core/service/strategy.go`` (``svcStrategy``) and
``pkg/registry/core/service/storage/storage.go``, whose ``beginCreate`` /
``beginUpdate`` allocate from the IP and port allocators and return a
``FinishFunc`` that commits or reverts, and whose ``afterDelete`` releases
them. The allocators (``kubetui.apiserver.ipam``) are this strategy's state,
rebuilt from the stored Services on first use.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from kubetui.api.resources import resource_for
from kubetui.apiserver.ipam import ServiceAllocations
from kubetui.apiserver.strategies.base import Finish, Obj, Strategy

if TYPE_CHECKING:
    from kubetui.apiserver.registry import Registry


class ServiceStrategy(Strategy):
    def __init__(self, resource, *, service_cidr: str, node_port_range: tuple[int, int],  # type: ignore[no-untyped-def]
                 rng: random.Random | None = None) -> None:
        super().__init__(resource)
        self.allocations = ServiceAllocations(service_cidr, node_port_range, rng)

    def _loaded(self, registry: "Registry") -> ServiceAllocations:
        if not self.allocations.loaded:
            prefix = resource_for("services").key("", None)
            self.allocations.load(kv.value for kv in registry.store.range(prefix, copy=False))
        return self.allocations

    def prepare_for_create(self, registry: "Registry", obj: Obj) -> None:
        super().prepare_for_create(registry, obj)
        obj["status"] = {"loadBalancer": {}}

    def begin_create(self, registry: "Registry", obj: Obj) -> Finish:
        """Allocate the ClusterIP (or take the one asked for) and node ports; 422 if taken or out of range."""
        allocations = self._loaded(registry)
        taken = allocations.allocate(obj)
        return lambda success: allocations.commit(taken) if success else allocations.undo(taken)

    def begin_update(self, registry: "Registry", new: Obj, old: Obj, subresource: str | None) -> Finish:
        """A PUT that omits the IP or node ports keeps the allocated ones (validation must see them);
        ports the update drops are released only once it is stored."""
        if subresource is not None:
            return super().begin_update(registry, new, old, subresource)
        allocations = self._loaded(registry)
        taken = allocations.allocate(new, old)
        return lambda success: allocations.commit(taken) if success else allocations.undo(taken)

    def after_delete(self, registry: "Registry", obj: Obj) -> None:
        self._loaded(registry).release(obj)


def kubernetes_service_ip(registry: "Registry") -> str:
    """The first address of the service range: the ``kubernetes`` Service's, and a SAN of the serving cert."""
    strategy = registry.strategy_for(resource_for("services"))
    assert isinstance(strategy, ServiceStrategy)
    return strategy.allocations.ips.first_ip
