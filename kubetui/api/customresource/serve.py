"""From CustomResourceDefinitions to served resources and their printers.

Upstream the API server builds this per CRD (``crdInfo`` in
``customresource_handler.go``) and every client learns it from discovery;
kubetui's API server (``kubetui.apiserver.customresources``) and its clients
(the TUI, which has no discovery cache of its own) build the same table from
the CRDs, so ``resource_for("ct")`` and the CR's printer columns work in both.
"""

from __future__ import annotations

from typing import Any

from kubetui.api.customresource.crd import is_established, version_priority
from kubetui.api.customresource.printer import column_definitions, row
from kubetui.api.printers import PRINTERS, Printer
from kubetui.api.resources import RESOURCES, Resource, set_custom_resources

Obj = dict[str, Any]

_STATUS = ("get", "patch", "update")
_SCALE = ("get", "patch", "update")
_served_printers: set[str] = set()


def crd_resources(crd: Obj) -> tuple[list[Resource], Resource]:
    """The served versions (highest priority first) and the storage version of one CRD."""
    spec = crd["spec"]
    names = (crd.get("status") or {}).get("acceptedNames") or spec["names"]
    if not names.get("plural"):
        names = spec["names"]
    versions = sorted(spec["versions"], key=lambda v: version_priority(v["name"]))
    out, storage = [], None
    for v in versions:
        subs: dict[str, Any] = {}
        if "status" in (v.get("subresources") or {}):
            subs["status"] = (("", "v1", ""), _STATUS)
        if "scale" in (v.get("subresources") or {}):
            subs["scale"] = (("autoscaling", "v1", "Scale"), _SCALE)
        r = Resource(names["plural"], names["kind"], group=spec["group"], version=v["name"],
                     namespaced=spec.get("scope") == "Namespaced",
                     short_names=tuple(names.get("shortNames") or ()),
                     categories=tuple(names.get("categories") or ()), subresources=subs)
        if v.get("served"):
            out.append(r)
        if v.get("storage"):
            storage = r
    if storage is None:
        raise ValueError("no storage version")
    return out, storage


def serve(crds: list[Obj]) -> dict[str, tuple[Resource, Obj, Obj]]:
    """Make the Established ``crds`` the served custom resources (resource table and printers).

    Returns group-resource -> (storage Resource, storage version, CRD).
    """
    served: list[Resource] = []
    storage: dict[tuple[str, str], Resource] = {}
    out: dict[str, tuple[Resource, Obj, Obj]] = {}
    builtin = {(r.group, r.plural) for r in RESOURCES}
    for crd in crds:
        try:
            if not is_established(crd) or (crd["spec"]["group"], crd["spec"]["names"]["plural"]) in builtin:
                continue
            versions, stored = crd_resources(crd)
        except (KeyError, TypeError, ValueError):
            continue  # never served: validation keeps such CRDs out of the store
        served += versions
        storage[(stored.group, stored.plural)] = stored
        version = next(v for v in crd["spec"]["versions"] if v["name"] == stored.version)
        out[stored.group_resource] = (stored, version, crd)
        PRINTERS[stored.group_resource] = Printer(column_definitions(version),
                                                  lambda obj, now, _v=version: row(_v, obj, now))
    for gr in _served_printers - set(out):
        PRINTERS.pop(gr, None)
    _served_printers.clear()
    _served_printers.update(out)
    set_custom_resources(tuple(served), storage)
    return out
