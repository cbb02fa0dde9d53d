"""API discovery: how kubectl learns which resources exist.

Upstream: ``staging/src/k8s.io/apiserver/pkg/endpoints/discovery`` (legacy
``APIVersions``/``APIGroupList``/``APIResourceList``) and
``.../discovery/aggregated`` (``apidiscovery.k8s.io/v2``
``APIGroupDiscoveryList``, which lets kubectl learn everything from just
``GET /api`` and ``GET /apis``). Both are built from the one resource table in
``kubetui.api.resources`` plus the few virtual resources the server answers
itself (access reviews, metrics).
"""

from __future__ import annotations

from typing import Any

from kubetui.api.resources import CONVERTED, RESOURCES, REVIEWS, Resource, custom_resources

AGGREGATED_CONTENT_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

# Resources the server answers itself rather than storing (upstream: the
# authorization "virtual" resources and metrics-server's aggregated API).
VIRTUAL_RESOURCES: tuple[Resource, ...] = REVIEWS + (
    Resource("nodes", "NodeMetrics", group="metrics.k8s.io", version="v1beta1",
             namespaced=False, verbs=("get", "list")),
    Resource("pods", "PodMetrics", group="metrics.k8s.io", version="v1beta1", verbs=("get", "list")),
)

# Converted versions follow the stored ones, so a group's storage version is listed (and preferred) first.
ALL_SERVED: tuple[Resource, ...] = RESOURCES + CONVERTED + VIRTUAL_RESOURCES


def all_served() -> tuple[Resource, ...]:
    """The built-in resources, then the custom resources of Established CRDs (preferred version first)."""
    return ALL_SERVED + custom_resources()


class _Index:
    """What every request looks up, indexed once per set of served resources: the
    resources by (group, version, plural) and the groups' versions. (Scanning the
    ~100 served resources twice per request was ~3 % of a GET's server time.) The
    built-in ones never change; the custom ones do, as a new tuple, when a CRD is
    established or goes: the index is rebuilt when the tuple is another one."""

    def __init__(self) -> None:
        self.custom: tuple[Resource, ...] | None = None  # kept: compared by identity
        self.by_name: dict[tuple[str, str, str], Resource] = {}
        self.versions: dict[str, tuple[str, ...]] = {}

    def current(self) -> "_Index":
        custom = custom_resources()
        if custom is not self.custom:
            by_name: dict[tuple[str, str, str], Resource] = {}
            versions: dict[str, list[str]] = {}
            for r in ALL_SERVED + custom:
                by_name.setdefault((r.group, r.version, r.plural), r)  # the first one, as a scan finds
                vs = versions.setdefault(r.group, [])
                if r.version not in vs:
                    vs.append(r.version)
            self.by_name = by_name
            self.versions = {g: tuple(vs) for g, vs in versions.items()}
            self.custom = custom
        return self


_INDEX = _Index()


def served_group_versions() -> dict[str, tuple[str, ...]]:
    """``group_versions`` shared, for the request path: read-only."""
    return _INDEX.current().versions


def group_versions() -> dict[str, list[str]]:
    """Group -> versions, in the order groups are first seen (core ``""`` first)."""
    return {g: list(vs) for g, vs in served_group_versions().items()}


def resources_in(group: str, version: str) -> list[Resource]:
    return [r for r in all_served() if r.group == group and r.version == version]


def find_resource(group: str, version: str, plural: str) -> Resource | None:
    return _INDEX.current().by_name.get((group, version, plural))


def _sub_kind(r: Resource, gvk: tuple[str, str, str]) -> tuple[str, str, str]:
    """A subresource's response kind; ``("", "v1", "")`` means "the resource's own kind"."""
    g, v, k = gvk
    if not k:
        return r.group, r.version, r.kind
    return g, v, k


# -- legacy discovery --------------------------------------------------------

def api_versions(server_address: str) -> dict[str, Any]:
    """``GET /api``: the core group's versions."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def api_group(group: str) -> dict[str, Any]:
    versions = group_versions()[group]
    vlist = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": vlist, "preferredVersion": vlist[0]}


def api_group_list() -> dict[str, Any]:
    """``GET /apis``: every named group."""
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [api_group(g) for g in group_versions() if g],
    }


def api_group_doc(group: str) -> dict[str, Any]:
    """``GET /apis/<group>``."""
    return {"kind": "APIGroup", "apiVersion": "v1", **api_group(group)}


def api_resource_list(group: str, version: str) -> dict[str, Any]:
    """``GET /api/v1`` or ``/apis/<g>/<v>``: resources, with ``pods/status`` style subresources."""
    out: list[dict[str, Any]] = []
    for r in resources_in(group, version):
        entry: dict[str, Any] = {
            "name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
            "kind": r.kind, "verbs": list(r.verbs),
        }
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        out.append(entry)
        for sub, (gvk, verbs) in r.subresources.items():
            g, v, k = _sub_kind(r, gvk)
            sub_entry: dict[str, Any] = {"name": f"{r.plural}/{sub}", "singularName": "",
                                         "namespaced": r.namespaced, "kind": k, "verbs": list(verbs)}
            if (g, v) != (r.group, r.version):
                sub_entry["group"] = g
                sub_entry["version"] = v
            out.append(sub_entry)
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version, "resources": out}


# -- aggregated discovery (apidiscovery.k8s.io/v2) ---------------------------

def _discovery_resource(r: Resource) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": "Namespaced" if r.namespaced else "Cluster",
        "singularResource": r.singular,
        "verbs": list(r.verbs),
    }
    if r.short_names:
        entry["shortNames"] = list(r.short_names)
    if r.categories:
        entry["categories"] = list(r.categories)
    if r.subresources:
        subs = []
        for sub, (gvk, verbs) in r.subresources.items():
            g, v, k = _sub_kind(r, gvk)
            subs.append({"subresource": sub, "responseKind": {"group": g, "version": v, "kind": k},
                         "verbs": list(verbs)})
        entry["subresources"] = subs
    return entry


def _discovery_group(group: str) -> dict[str, Any]:
    versions = []
    for v in group_versions()[group]:
        versions.append({"version": v,
                         "resources": [_discovery_resource(r) for r in resources_in(group, v)],
                         "freshness": "Current"})
    metadata: dict[str, Any] = {"name": group} if group else {}
    return {"metadata": metadata, "versions": versions}


def aggregated(core: bool) -> dict[str, Any]:
    """``GET /api`` (``core=True``) or ``GET /apis`` as an ``APIGroupDiscoveryList``."""
    groups = [g for g in group_versions() if (g == "") == core]
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": [_discovery_group(g) for g in groups],
    }


def wants_aggregated(accept: str) -> bool:
    """Does ``Accept`` ask for aggregated discovery (v2) before anything else?"""
    for part in accept.split(","):
        params = {p.strip() for p in part.split(";")}
        if "g=apidiscovery.k8s.io" in params and "as=APIGroupDiscoveryList" in params:
            return "v=v2" in params
    return False
