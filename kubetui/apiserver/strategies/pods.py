"""Pods: status starts Pending, generation tracks the spec, deletion is graceful.

Upstream: ``pkg/registry/core/pod/strategy.go`` (``podStrategy``:
``PrepareForCreate``, ``CheckGracefulDelete``) and
``pkg/registry/core/pod/storage`` (the ``binding`` and ``eviction``
subresources).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubetui.apiserver.strategies.base import Obj, Strategy
from kubetui.apiserver.subresources import BindingREST, EvictionREST

if TYPE_CHECKING:
    from kubetui.apiserver.registry import Registry

#: ``terminationGracePeriodSeconds`` when the spec names none.
DEFAULT_GRACE_SECONDS = 30


class PodStrategy(Strategy):
    track_generation = True
    subresources = {"binding": BindingREST(), "eviction": EvictionREST()}

    def prepare_for_create(self, registry: "Registry", obj: Obj) -> None:
        """Status starts as Pending with the pod's QoS class; nothing else of the client's status survives."""
        super().prepare_for_create(registry, obj)
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        status: Obj = {"phase": "Pending"}
        if registry.hooks.qos_class is not None:
            status["qosClass"] = registry.hooks.qos_class(spec)
        obj["status"] = status

    def check_graceful_delete(self, obj: Obj, requested: int | None) -> int:
        """The kubelet gets ``terminationGracePeriodSeconds`` to stop the containers, then deletes
        the pod with grace 0. A pod that never reached a node, or already finished, has nothing
        to stop and goes at once."""
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
            return 0
        if requested is not None:
            return max(0, int(requested))
        grace = spec.get("terminationGracePeriodSeconds")
        return DEFAULT_GRACE_SECONDS if grace is None else max(0, int(grace))
