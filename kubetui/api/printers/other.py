"""Printers for the smaller groups: discovery (EndpointSlices), storage (StorageClasses), coordination (Leases).

Upstream: ``printEndpointSlice``, ``printStorageClass``, ``printLease`` in
``pkg/printers/internalversion/printers.go``.
"""

from __future__ import annotations

from typing import Any

from kubetui.api.printers.common import AGE_COL, NAME_COL, age, col

ENDPOINTSLICE_COLUMNS = [
    NAME_COL,
    col("AddressType", desc="addressType specifies the type of address carried by this EndpointSlice."),
    col("Ports", desc="ports specifies the list of network ports exposed by each endpoint in this slice."),
    col("Endpoints", desc="endpoints is a list of unique endpoints in this slice."),
    AGE_COL,
]


def _list_with_more(items: list[str], limit: int = 3) -> str:
    """``listWithMoreString``: the first three, then `` + N more...``; ``<unset>`` if empty."""
    ret = ",".join(items[:limit])
    if len(items) > limit:
        return f"{ret} + {len(items) - limit} more..."
    return ret or "<unset>"


def format_discovery_ports(ports: list[dict] | None) -> str:
    """``formatDiscoveryPorts``: each port's number, else its name, else ``*``."""
    return _list_with_more([str(p["port"]) if p.get("port") is not None else (p.get("name") or "*")
                            for p in ports or []])


def format_discovery_endpoints(endpoints: list[dict] | None) -> str:
    """``formatDiscoveryEndpoints``: every endpoint's addresses, three shown."""
    return _list_with_more([a for e in endpoints or [] for a in e.get("addresses") or []])


def endpointslice_row(es: dict, now: float) -> list[Any]:
    return [es["metadata"].get("name", ""), es.get("addressType", ""), format_discovery_ports(es.get("ports")),
            format_discovery_endpoints(es.get("endpoints")), age(es, now)]


STORAGECLASS_COLUMNS = [NAME_COL, col("Provisioner"), col("ReclaimPolicy"), col("VolumeBindingMode"),
                        col("AllowVolumeExpansion"), AGE_COL]

_DEFAULT_CLASS_ANNOTATIONS = ("storageclass.kubernetes.io/is-default-class",
                              "storageclass.beta.kubernetes.io/is-default-class")


def storageclass_row(sc: dict, now: float) -> list[Any]:
    meta = sc["metadata"]
    name = meta.get("name", "")
    ann = meta.get("annotations") or {}
    if any(ann.get(a) == "true" for a in _DEFAULT_CLASS_ANNOTATIONS):
        name += " (default)"
    return [name, sc.get("provisioner", ""), sc.get("reclaimPolicy") or "Delete",
            sc.get("volumeBindingMode") or "Immediate", bool(sc.get("allowVolumeExpansion")),
            age(sc, now)]


LEASE_COLUMNS = [NAME_COL, col("Holder", desc="HolderIdentity contains the identity of the holder "
                                              "of a current lease."), AGE_COL]


def lease_row(lease: dict, now: float) -> list[Any]:
    return [lease["metadata"].get("name", ""), (lease.get("spec") or {}).get("holderIdentity", ""), age(lease, now)]
