"""Ingresses and IngressClasses, and the DefaultIngressClass admission plugin.

Upstream: ``pkg/registry/networking/ingress/strategy.go`` (a create starts with
an empty status, which only the ingress controller writes through
``ingresses/status``; ``generation`` counts spec changes),
``pkg/registry/networking/ingressclass/strategy.go`` and
``plugin/pkg/admission/network/defaultingressclass``: an Ingress created
without ``spec.ingressClassName`` (and without the deprecated
``kubernetes.io/ingress.class`` annotation) gets the name of the IngressClass
annotated ``ingressclass.kubernetes.io/is-default-class: "true"`` (the newest,
when several are), so the cluster's default controller picks it up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from kubetui.api.resources import Resource, resource_for
from kubetui.apiserver.strategies.base import Obj, Strategy

if TYPE_CHECKING:
    from kubetui.apiserver.registry import Registry

DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"


class IngressStrategy(Strategy):
    """Status is the controller's; generation tracks the spec."""

    track_generation = True

    def prepare_for_create(self, registry: "Registry", obj: Obj) -> None:
        super().prepare_for_create(registry, obj)
        obj["status"] = {"loadBalancer": {}}


class IngressClassStrategy(Strategy):
    track_generation = True


def default_ingress_class(classes: Iterable[Obj]) -> Obj | None:
    """The default IngressClass: annotated ``is-default-class: "true"``; the newest wins, then by name.

    >>> default_ingress_class([{"metadata": {"name": "a"}}]) is None
    True
    """
    defaults = [c for c in classes
                if ((c.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION) == "true"]
    if not defaults:
        return None
    # newest first; on a tie the smaller name (upstream sorts by creation time, then name)
    newest = max(c["metadata"].get("creationTimestamp") or "" for c in defaults)
    return min((c for c in defaults if (c["metadata"].get("creationTimestamp") or "") == newest),
               key=lambda c: c["metadata"]["name"])


def admit_default_ingress_class(ingress: Obj, classes: Iterable[Obj]) -> None:
    """Fill ``spec.ingressClassName`` with the default class, unless the Ingress already chose one."""
    spec = ingress.get("spec")
    if not isinstance(spec, dict) or spec.get("ingressClassName") is not None:
        return
    if INGRESS_CLASS_ANNOTATION in ((ingress.get("metadata") or {}).get("annotations") or {}):
        return
    default = default_ingress_class(classes)
    if default is not None:
        spec["ingressClassName"] = default["metadata"]["name"]


class DefaultIngressClass:
    """The ``DefaultIngressClass`` mutating admission plugin (Ingresses, on create)."""

    def admit_create(self, registry: "Registry", resource: Resource, namespace: str | None, obj: Obj) -> None:
        if resource.kind != "Ingress" or resource.group != "networking.k8s.io":
            return
        classes = registry.store.range(resource_for("ingressclasses").key(), copy=False)
        admit_default_ingress_class(obj, (kv.value for kv in classes))

    def admit_update(self, resource: Resource, new: Obj, old: Obj) -> Any:
        return None
