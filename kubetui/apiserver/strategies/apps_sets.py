"""DaemonSets, StatefulSets and ControllerRevisions in the registry.

Upstream: ``pkg/registry/apps/daemonset/strategy.go`` (``PrepareForCreate``
clears status, sets generation 1 and templateGeneration 1, which apps/v1
carries as the ``deprecated.daemonset.template.generation`` annotation;
``PrepareForUpdate`` bumps both when the pod template changes),
``pkg/registry/apps/statefulset/strategy.go`` and ``storage.go`` (``ScaleREST``:
``kubectl scale sts``), and ``pkg/registry/apps/controllerrevision`` (a plain
kind: its ``data`` is immutable, checked by validation).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubetui.apiserver.strategies.base import Obj, Strategy
from kubetui.apiserver.subresources import ScaleREST

if TYPE_CHECKING:
    from kubetui.apiserver.registry import Registry

TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"


class DaemonSetStrategy(Strategy):
    track_generation = True

    def prepare_for_create(self, registry: "Registry", obj: Obj) -> None:
        super().prepare_for_create(registry, obj)
        obj["status"] = {}
        annotations = obj["metadata"].setdefault("annotations", {})
        try:
            generation = int(annotations.get(TEMPLATE_GENERATION, "0"))
        except ValueError:
            generation = 0
        annotations[TEMPLATE_GENERATION] = str(max(generation, 1))

    def prepare_for_update(self, registry: "Registry", new: Obj, old: Obj) -> None:
        super().prepare_for_update(registry, new, old)
        old_annotations = old.get("metadata", {}).get("annotations") or {}
        try:
            generation = int(old_annotations.get(TEMPLATE_GENERATION, "1"))
        except ValueError:
            generation = 1
        if (new.get("spec") or {}).get("template") != (old.get("spec") or {}).get("template"):
            generation += 1
        new["metadata"].setdefault("annotations", {})[TEMPLATE_GENERATION] = str(generation)


class StatefulSetStrategy(Strategy):
    track_generation = True
    subresources = {"scale": ScaleREST()}

    def prepare_for_create(self, registry: "Registry", obj: Obj) -> None:
        super().prepare_for_create(registry, obj)
        obj["status"] = {}
