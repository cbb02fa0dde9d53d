"""Validation of Leases, EndpointSlices and StorageClasses.

Upstream: pkg/apis/coordination/validation, pkg/apis/discovery/validation,
pkg/apis/storage/validation. Leases are how kubelets heartbeat and how
controllers elect a leader; EndpointSlices list a Service's ready addresses;
a StorageClass names the provisioner that makes PersistentVolumes.
"""

from __future__ import annotations

from typing import Any

from kubetui.api.validation import names
from kubetui.api.validation.field import (
    Cause, as_dict, as_list, child, dict_items, forbidden, immutable, index, invalid, is_int, non_negative,
    required, too_many,
)
from kubetui.api.validation.meta import validate_values

ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")
PROTOCOLS = ("SCTP", "TCP", "UDP")
MAX_ENDPOINTS = 1000
MAX_PORTS = 100


def validate_lease(obj: dict[str, Any], old: dict[str, Any] | None, subresource: str | None) -> list[Cause]:
    spec = as_dict(obj.get("spec"))
    errs: list[Cause] = []
    duration = spec.get("leaseDurationSeconds")
    if is_int(duration) and duration <= 0:
        errs.append(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    errs += non_negative("spec.leaseTransitions", spec.get("leaseTransitions"))
    strategy = spec.get("strategy")
    if strategy:
        errs += validate_values("spec.strategy", strategy, ("OldestEmulationVersion",))
    return errs


def _address_errors(address: str, address_type: str) -> list[str]:
    if address_type == "IPv4":
        return [] if names.is_valid_ip(address) == [] and ":" not in address else ["must be a valid IPv4 address"]
    if address_type == "IPv6":
        return [] if names.is_valid_ip(address) == [] and ":" in address else ["must be a valid IPv6 address"]
    return names.is_dns1123_subdomain(address)


def validate_endpoint_slice(obj: dict[str, Any], old: dict[str, Any] | None,
                            subresource: str | None) -> list[Cause]:
    errs: list[Cause] = []
    address_type = obj.get("addressType")
    errs += validate_values("addressType", address_type, ADDRESS_TYPES, required_=True)
    endpoints = as_list(obj.get("endpoints"))
    if len(endpoints) > MAX_ENDPOINTS:
        errs.append(too_many("endpoints", len(endpoints), MAX_ENDPOINTS))
    for i, ep in dict_items(endpoints):
        p = index("endpoints", i)
        addresses = as_list(ep.get("addresses"))
        if not addresses:
            errs.append(required(child(p, "addresses"), ""))
        elif len(addresses) > 100:
            errs.append(too_many(child(p, "addresses"), len(addresses), 100))
        for j, addr in enumerate(addresses):
            if address_type in ADDRESS_TYPES:
                errs += [invalid(index(child(p, "addresses"), j), addr, m)
                         for m in _address_errors(str(addr), address_type)]
        hostname = ep.get("hostname")
        if hostname:
            errs += [invalid(child(p, "hostname"), hostname, m) for m in names.is_dns1123_label(str(hostname))]
        node_name = ep.get("nodeName")
        if node_name:
            errs += [invalid(child(p, "nodeName"), node_name, m) for m in names.is_dns1123_subdomain(str(node_name))]
    ports = as_list(obj.get("ports"))
    if len(ports) > MAX_PORTS:
        errs.append(too_many("ports", len(ports), MAX_PORTS))
    seen: set[Any] = set()
    for i, port in dict_items(ports):
        p = index("ports", i)
        name = port.get("name")
        if name:
            errs += [invalid(child(p, "name"), name, m) for m in names.is_dns1123_label(str(name))]
        if name in seen:
            errs.append(invalid(child(p, "name"), name or "", "duplicate port name"))
        seen.add(name)
        errs += validate_values(child(p, "protocol"), port.get("protocol"), PROTOCOLS)
        number = port.get("port")
        if is_int(number):
            errs += [invalid(child(p, "port"), number, m) for m in names.is_valid_port_num(number)]
    if old is not None and old.get("addressType") and old.get("addressType") != address_type:
        errs.append(immutable("addressType", address_type))
    return errs


def validate_storage_class(obj: dict[str, Any], old: dict[str, Any] | None, subresource: str | None) -> list[Cause]:
    errs: list[Cause] = []
    provisioner = obj.get("provisioner")
    if not provisioner:
        errs.append(required("provisioner", ""))
    else:
        errs += [invalid("provisioner", provisioner, m) for m in names.is_qualified_name(str(provisioner).lower())]
    errs += validate_values("reclaimPolicy", obj.get("reclaimPolicy"), ("Delete", "Retain"))
    errs += validate_values("volumeBindingMode", obj.get("volumeBindingMode"), ("Immediate", "WaitForFirstConsumer"))
    params = obj.get("parameters")
    if params is not None and not isinstance(params, dict):
        errs.append(invalid("parameters", params, "must be a map of strings"))
    if old is not None:
        for f in ("parameters", "provisioner", "reclaimPolicy"):
            if obj.get(f) != old.get(f):
                errs.append(forbidden(f, f"updates to {f} are forbidden."))
        if obj.get("volumeBindingMode") != old.get("volumeBindingMode"):
            errs.append(immutable("volumeBindingMode", obj.get("volumeBindingMode")))
    return errs

