"""Validation of ``networking.k8s.io/v1`` NetworkPolicies.

Upstream: ``pkg/apis/networking/validation/validation.go``
(``ValidateNetworkPolicySpec``, ``ValidateNetworkPolicyPort``,
``ValidateNetworkPolicyPeer``, ``ValidateIPBlock``) and the CIDR parsing of
``k8s.io/apimachinery/pkg/api/validation/ip.go`` (``IsValidCIDRForLegacyField``,
``GetWarningsForCIDR``; the ``StrictIPCIDRValidation`` gate is off by default, so
``10.0.0.1/8`` is accepted with a warning, as a real cluster does). The messages and
field paths are upstream's, so a policy with ``except: [10.1.0.0/16]`` under
``cidr: 10.0.0.0/16`` is refused with
``spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "10.1.0.0/16": must be a strict subset of `cidr```.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from kubetui.api.validation import names
from kubetui.api.validation.field import (
    Cause, Raw, as_dict, as_list, child, dict_items, forbidden, index, invalid, not_supported, required,
)
from kubetui.api.validation.meta import validate_label_selector

PROTOCOLS = ("TCP", "UDP", "SCTP")
POLICY_TYPES = ("Ingress", "Egress")

_CIDR_EXAMPLE = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_cidr_sloppy(value: Any) -> tuple[Address, Network] | None:
    """``netutils.ParseCIDRSloppy``: Go's historical parser, which also takes IPv4 octets and
    prefix lengths with leading zeros (``010.0.0.0/08`` is 10.0.0.0/8) and host bits
    (``10.0.0.1/8``: address 10.0.0.1 in 10.0.0.0/8). None if it is no CIDR at all."""
    if not isinstance(value, str):
        return None
    addr, sep, prefix = value.partition("/")
    if not sep or not prefix.isdigit() or not prefix.isascii():
        return None
    if ":" not in addr:
        octets = addr.split(".")
        if len(octets) != 4 or not all(o.isdigit() and o.isascii() and len(o) <= 3 for o in octets):
            return None
        addr = ".".join(str(int(o)) for o in octets)
    try:
        ip = ipaddress.ip_address(addr)
        return ip, ipaddress.ip_network(f"{addr}/{int(prefix)}", strict=False)
    except ValueError:
        return None


def cidr_errors(path: str, value: Any) -> list[Cause]:
    """``IsValidCIDRForLegacyField`` with ``StrictIPCIDRValidation`` off (upstream's default):
    anything Go's sloppy parser takes is valid; the rest is ``cidr_warnings``' business."""
    return [] if parse_cidr_sloppy(value) is not None else [invalid(path, value, _CIDR_EXAMPLE)]


def _parse_sloppy(value: Any) -> Network | None:
    parsed = parse_cidr_sloppy(value)
    return parsed[1] if parsed else None


def validate_ip_block(block: dict[str, Any], path: str) -> list[Cause]:
    """``ValidateIPBlock``: a CIDR, and each ``except`` a strict subset of it."""
    cidr = block.get("cidr")
    if not cidr:
        return [required(child(path, "cidr"))]
    errs = cidr_errors(child(path, "cidr"), cidr)
    net = _parse_sloppy(cidr)
    if net is None:
        return errs
    for i, exc in enumerate(as_list(block.get("except"))):
        p = index(child(path, "except"), i)
        errs += cidr_errors(p, exc)
        sub = _parse_sloppy(exc)
        if sub is None:
            continue
        if sub.version != net.version or sub.network_address not in net or net.prefixlen >= sub.prefixlen:
            errs.append(invalid(p, exc, "must be a strict subset of `cidr`"))
    return errs


def validate_port(port: dict[str, Any], path: str) -> list[Cause]:
    """``ValidateNetworkPolicyPort``: protocol, a port number or name, an ``endPort`` only after a number."""
    errs: list[Cause] = []
    proto = port.get("protocol")
    if proto is not None and proto not in PROTOCOLS:
        errs.append(not_supported(child(path, "protocol"), proto, PROTOCOLS))
    value, end = port.get("port"), port.get("endPort")
    if value is None:
        if end is not None:
            errs.append(invalid(child(path, "endPort"), end, "may not be specified when `port` is not specified"))
    elif isinstance(value, int) and not isinstance(value, bool):
        for msg in names.is_valid_port_num(value):
            errs.append(invalid(child(path, "port"), value, msg))
        if end is not None and isinstance(end, int):
            if end < value:
                errs.append(invalid(child(path, "endPort"), end, "must be greater than or equal to `port`"))
            for msg in names.is_valid_port_num(end):
                errs.append(invalid(child(path, "endPort"), end, msg))
    else:
        if end is not None:
            errs.append(invalid(child(path, "endPort"), end, "may not be specified when `port` is non-numeric"))
        for msg in names.is_valid_port_name(str(value)):
            errs.append(invalid(child(path, "port"), value, msg))
    return errs


def validate_peer(peer: dict[str, Any], path: str) -> list[Cause]:
    """``ValidateNetworkPolicyPeer``: at least one of the selectors or an ipBlock; an ipBlock alone."""
    errs: list[Cause] = []
    count = 0
    for sel in ("podSelector", "namespaceSelector"):
        if peer.get(sel) is not None:
            count += 1
            errs += validate_label_selector(peer[sel], child(path, sel))
    if peer.get("ipBlock") is not None:
        count += 1
        errs += validate_ip_block(as_dict(peer["ipBlock"]), child(path, "ipBlock"))
    if count == 0:
        errs.append(required(path, "must specify a peer"))
    elif count > 1 and peer.get("ipBlock") is not None:
        errs.append(forbidden(path, "may not specify both ipBlock and another peer"))
    return errs


def validate_network_policy(obj: dict[str, Any], old: dict[str, Any] | None,
                            subresource: str | None) -> list[Cause]:
    """``ValidateNetworkPolicy`` / ``ValidateNetworkPolicyUpdate`` (the metadata is checked by the caller)."""
    spec = as_dict(obj.get("spec"))
    errs = validate_label_selector(spec.get("podSelector"), "spec.podSelector")
    for rules, peers in (("ingress", "from"), ("egress", "to")):
        for i, rule in dict_items(spec.get(rules)):
            rpath = index(f"spec.{rules}", i)
            for j, port in dict_items(rule.get("ports")):
                errs += validate_port(port, index(child(rpath, "ports"), j))
            for j, peer in dict_items(rule.get(peers)):
                errs += validate_peer(peer, index(child(rpath, peers), j))
    types = as_list(spec.get("policyTypes"))
    if len(types) > len(POLICY_TYPES):
        quoted = ", ".join(f'"{t}"' for t in types)
        errs.append(invalid("spec.policyTypes", Raw(f"[]networking.PolicyType{{{quoted}}}"),
                            "may not specify more than two policyTypes"))
        return errs
    for i, t in enumerate(types):
        if t not in POLICY_TYPES:
            errs.append(not_supported(index("spec.policyTypes", i), t, POLICY_TYPES))
    return errs


def cidr_warning(path: str, value: str) -> list[str]:
    """``GetWarningsForCIDR``: what kube-apiserver answers in ``Warning:`` headers for a CIDR
    it accepts but would refuse under strict validation."""
    parsed = parse_cidr_sloppy(value)
    if parsed is None:
        return []
    ip, net = parsed
    out = []
    if ip != net.network_address:
        out.append(f'{path}: CIDR value "{value}" is ambiguous in this context '
                   f'(should be "{net}" or "{ip}/{net.max_prefixlen}"?)')
    addr, _, prefix = value.partition("/")
    mapped = isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None
    if addr != str(ip) and ":" not in addr or (len(prefix) > 1 and prefix.startswith("0")) or mapped:
        out.append(f'{path}: non-standard CIDR value "{value}" will be considered invalid in a future '
                   f'Kubernetes release: use "{net}"')
    if not out and ip.version == 6 and f"{ip}/{net.prefixlen}" != value:
        out.append(f'{path}: IPv6 CIDR value "{value}" should be in RFC 5952 canonical format '
                   f'("{ip}/{net.prefixlen}")')
    return out


def cidr_warnings(spec: dict[str, Any]) -> list[str]:
    """Every CIDR warning of a policy's ipBlocks (upstream's ``networkPolicyWarnings``)."""
    out: list[str] = []
    for rules, peers in (("ingress", "from"), ("egress", "to")):
        for i, rule in dict_items(spec.get(rules)):
            for j, peer in dict_items(rule.get(peers)):
                block = as_dict(peer.get("ipBlock"))
                base = f"spec.{rules}[{i}].{peers}[{j}].ipBlock"
                if isinstance(block.get("cidr"), str):
                    out += cidr_warning(f"{base}.cidr", block["cidr"])
                for k, x in enumerate(as_list(block.get("except"))):
                    if isinstance(x, str):
                        out += cidr_warning(f"{base}.except[{k}]", x)
    return out
