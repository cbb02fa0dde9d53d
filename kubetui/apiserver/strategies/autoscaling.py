"""HorizontalPodAutoscalers: status belongs to the HPA controller.

Upstream: ``pkg/registry/autoscaling/horizontalpodautoscaler/strategy.go``
(``PrepareForCreate`` clears status; a spec update keeps the old status; the
``status`` subresource changes nothing else). HPAs do not track generation.
Requests through ``autoscaling/v1`` are converted before they get here
(``kubetui.apiserver.conversion``): this strategy only sees v2 objects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubetui.apiserver.strategies.base import Obj, Strategy

if TYPE_CHECKING:
    from kubetui.apiserver.registry import Registry


class HorizontalPodAutoscalerStrategy(Strategy):
    def prepare_for_create(self, registry: "Registry", obj: Obj) -> None:
        super().prepare_for_create(registry, obj)
        obj["status"] = {"desiredReplicas": 0}
