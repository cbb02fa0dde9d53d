"""Validation of Ingresses and IngressClasses (``networking.k8s.io/v1``).

Upstream: pkg/apis/networking/validation/validation.go (``ValidateIngressCreate``,
``ValidateIngressUpdate``, ``ValidateIngressStatusUpdate``, ``ValidateIngressClass``).
The messages and field paths are upstream's, e.g. a path without a type is
``spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified``
and a backend naming both a port name and number is
``spec.rules[0].http.paths[0].backend: Invalid value: "": cannot set both port name & port number``.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from kubetui.api.validation import names
from kubetui.api.validation.field import (
    Cause, Raw, as_dict, as_list, forbidden, immutable, index, invalid, is_int, not_supported, required, too_long,
)

INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")      # sorted, as sets.List() gives them
INVALID_PATH_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
INVALID_PATH_SUFFIXES = ("/..", "/.")
PARAMETER_SCOPES = ("Cluster", "Namespace")
MAX_CONTROLLER_LEN = 250

WILDCARD_FMT = r"\*\." + names.DNS1123_SUBDOMAIN_FMT
WILDCARD_MSG = ("a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which "
                "must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric "
                "character")
_WILDCARD = re.compile(f"^(?:{WILDCARD_FMT})$")
HTTP_PATH_FMT = r"[A-Za-z0-9/\-._~%!$&'()*+,;=:]+"
_HTTP_PATH = re.compile(f"^(?:{HTTP_PATH_FMT})$")


def is_wildcard_dns1123_subdomain(value: str) -> list[str]:
    """``IsWildcardDNS1123Subdomain``: ``*.example.com`` (one leading ``*.`` label, nothing else wild)."""
    errs = []
    if len(value) > names.DNS1123_SUBDOMAIN_MAX:
        errs.append(names.max_len_error(names.DNS1123_SUBDOMAIN_MAX))
    if not _WILDCARD.match(value):
        errs.append(names.regex_error(WILDCARD_MSG, WILDCARD_FMT, "*.example.com"))
    return errs


def is_path_segment_name(value: str) -> list[str]:
    """``content.IsPathSegmentName``: what may be one segment of a REST path."""
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in value]


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _str(v: Any) -> str:
    return v if isinstance(v, str) else ""


# ------------------------------------------------------------------------------ Ingress


def _backend(backend: Any, path: str) -> list[Cause]:
    """``validateIngressBackend``: a Service (name plus port name xor number) or a resource, not both."""
    b = as_dict(backend)
    resource, service = b.get("resource"), b.get("service")
    if resource is not None and service is not None:
        return [invalid(path, "", "cannot set both resource and service backends")]
    if resource is not None:
        return _typed_ref(as_dict(resource), f"{path}.resource")
    if service is None:
        return [invalid(path, "", "resource or service backend is required")]
    svc = as_dict(service)
    errs: list[Cause] = []
    name = _str(svc.get("name"))
    if not name:
        errs.append(required(f"{path}.service.name", ""))
    else:
        # ValidateServiceName: Service names are DNS-1035 labels
        errs += [invalid(f"{path}.service.name", name, m) for m in names.is_dns1035_label(name)]
    port = as_dict(svc.get("port"))
    port_name = _str(port.get("name"))
    number = port.get("number") if is_int(port.get("number")) else 0
    if port_name and number:
        errs.append(invalid(path, "", "cannot set both port name & port number"))
    elif port_name:
        errs += [invalid(f"{path}.service.port.name", port_name, m) for m in names.is_valid_port_name(port_name)]
    elif number:
        errs += [invalid(f"{path}.service.port.number", number, m) for m in names.is_valid_port_num(number)]
    else:
        errs.append(required(path, "port name or number is required"))
    return errs


def _typed_ref(ref: dict[str, Any], path: str) -> list[Cause]:
    """``validateIngressTypedLocalObjectReference``."""
    errs: list[Cause] = []
    if ref.get("apiGroup") is not None:
        errs += [invalid(f"{path}.apiGroup", ref["apiGroup"], m)
                 for m in names.is_dns1123_subdomain(_str(ref["apiGroup"]))]
    for f in ("kind", "name"):
        v = _str(ref.get(f))
        if not v:
            errs.append(required(f"{path}.{f}", ""))
        else:
            errs += [invalid(f"{path}.{f}", v, m) for m in is_path_segment_name(v)]
    return errs


def _http_path(p: dict[str, Any], path: str) -> list[Cause]:
    """``validateHTTPIngressPath``: a type, an absolute clean path, a backend."""
    errs: list[Cause] = []
    path_type = p.get("pathType")
    if path_type is None:
        return [required(f"{path}.pathType", "pathType must be specified")]
    value = _str(p.get("path"))
    if path_type in ("Exact", "Prefix"):
        if not value.startswith("/"):
            errs.append(invalid(f"{path}.path", value, "must be an absolute path"))
        if value:
            errs += [invalid(f"{path}.path", value, f"must not contain '{s}'")
                     for s in INVALID_PATH_SEQUENCES if s in value]
            errs += [invalid(f"{path}.path", value, f"cannot end with '{s}'")
                     for s in INVALID_PATH_SUFFIXES if value.endswith(s)]
    elif path_type == "ImplementationSpecific":
        if value and not value.startswith("/"):
            errs.append(invalid(f"{path}.path", value, "must be an absolute path"))
    else:
        errs.append(not_supported(f"{path}.pathType", path_type, PATH_TYPES))
    errs += _backend(p.get("backend"), f"{path}.backend")
    return errs


def _rule_value(rule: dict[str, Any], path: str) -> list[Cause]:
    http = rule.get("http")
    if http is None:
        return []
    paths = as_list(as_dict(http).get("paths"))
    errs: list[Cause] = []
    if not paths:
        errs.append(required(f"{path}.http.paths", ""))
    for i, p in enumerate(paths):
        errs += _http_path(as_dict(p), index(f"{path}.http.paths", i))
    return errs


def _rules(rules: list[Any], path: str, allow_invalid_wildcard_rule: bool) -> list[Cause]:
    """``validateIngressRules``: a host is a DNS name (``*.`` wildcard allowed), never an IP."""
    errs: list[Cause] = []
    for i, r in enumerate(rules):
        rule = as_dict(r)
        host = _str(rule.get("host"))
        rp = index(path, i)
        wildcard = False
        if host:
            if _is_ip(host):
                errs.append(invalid(f"{rp}.host", host, "must be a DNS name, not an IP address"))
            if "*" in host:
                errs += [invalid(f"{rp}.host", host, m) for m in is_wildcard_dns1123_subdomain(host)]
                wildcard = True
            else:
                errs += [invalid(f"{rp}.host", host, m) for m in names.is_dns1123_subdomain(host)]
        if not wildcard or not allow_invalid_wildcard_rule:
            errs += _rule_value(rule, rp)
    return errs


def _tls(tls: list[Any], path: str, allow_invalid_secret_name: bool) -> list[Cause]:
    errs: list[Cause] = []
    for t_i, t in enumerate(tls):
        entry = as_dict(t)
        for h_i, host in enumerate(as_list(entry.get("hosts"))):
            host = _str(host)
            hp = index(f"{index(path, t_i)}.hosts", h_i)
            check = is_wildcard_dns1123_subdomain if "*" in host else names.is_dns1123_subdomain
            errs += [invalid(hp, host, m) for m in check(host)]
        secret = _str(entry.get("secretName"))
        if secret and not allow_invalid_secret_name:
            errs += [invalid(f"{index(path, t_i)}.secretName", secret, m) for m in names.is_dns1123_subdomain(secret)]
    return errs


def validate_ingress_spec(spec: dict[str, Any], path: str = "spec", *, allow_invalid_secret_name: bool = False,
                          allow_invalid_wildcard_rule: bool = False) -> list[Cause]:
    """``ValidateIngressSpec``."""
    errs: list[Cause] = []
    rules = spec.get("rules")
    if not as_list(rules) and spec.get("defaultBackend") is None:
        shown = Raw("[]networking.IngressRule(nil)" if rules is None else "[]networking.IngressRule{}")
        errs.append(invalid(path, shown, "either `defaultBackend` or `rules` must be specified"))
    if spec.get("defaultBackend") is not None:
        errs += _backend(spec["defaultBackend"], f"{path}.defaultBackend")
    if as_list(rules):
        errs += _rules(rules, f"{path}.rules", allow_invalid_wildcard_rule)
    if as_list(spec.get("tls")):
        errs += _tls(spec["tls"], f"{path}.tls", allow_invalid_secret_name)
    cls = spec.get("ingressClassName")
    if cls is not None:
        errs += [invalid(f"{path}.ingressClassName", cls, m) for m in names.is_dns1123_subdomain(_str(cls))]
    return errs


def _load_balancer_status(status: dict[str, Any], old: dict[str, Any], path: str) -> list[Cause]:
    """``ValidateIngressLoadBalancerStatus``: IPs are IPs, hostnames DNS names (not IPs)."""
    existing = {_str(i.get("ip")) for i in (as_dict(x) for x in as_list(old.get("ingress"))) if i.get("ip")}
    errs: list[Cause] = []
    for i, raw in enumerate(as_list(status.get("ingress"))):
        ing = as_dict(raw)
        ip, hostname = _str(ing.get("ip")), _str(ing.get("hostname"))
        p = index(f"{path}.ingress", i)
        if ip and ip not in existing:
            errs += [invalid(f"{p}.ip", ip, m) for m in names.is_valid_ip(ip)]
        if hostname:
            errs += [invalid(f"{p}.hostname", hostname, m) for m in names.is_dns1123_subdomain(hostname)]
            if _is_ip(hostname):
                errs.append(invalid(f"{p}.hostname", hostname, "must be a DNS name, not an IP address"))
    return errs


def _wildcard_rule_was_invalid(old: dict[str, Any]) -> bool:
    return any("*" in _str(as_dict(r).get("host")) and _rule_value(as_dict(r), "")
               for r in as_list(as_dict(old.get("spec")).get("rules")))


def _secret_name_was_invalid(old: dict[str, Any]) -> bool:
    return any(_str(as_dict(t).get("secretName")) and names.is_dns1123_subdomain(_str(as_dict(t)["secretName"]))
               for t in as_list(as_dict(old.get("spec")).get("tls")))


def validate_ingress(obj: dict[str, Any], old: dict[str, Any] | None, subresource: str | None) -> list[Cause]:
    """Create, update (old data that was valid once stays allowed, as upstream) and status updates."""
    if subresource == "status":
        return _load_balancer_status(as_dict(as_dict(obj.get("status")).get("loadBalancer")),
                                     as_dict(as_dict(as_dict(old).get("status")).get("loadBalancer")),
                                     "status.loadBalancer")
    spec = as_dict(obj.get("spec"))
    errs = validate_ingress_spec(
        spec, allow_invalid_secret_name=old is not None and _secret_name_was_invalid(old),
        allow_invalid_wildcard_rule=old is not None and _wildcard_rule_was_invalid(old))
    if old is None:
        annotation = (as_dict(as_dict(obj.get("metadata")).get("annotations"))).get(INGRESS_CLASS_ANNOTATION)
        cls = spec.get("ingressClassName")
        if annotation is not None and cls is not None and annotation != cls:
            errs.append(invalid(f"annotations.{INGRESS_CLASS_ANNOTATION}", annotation,
                                "must match `ingressClassName` when both are specified"))
    return errs


# ------------------------------------------------------------------------- IngressClass


def is_domain_prefixed_path(path: str, value: str) -> list[Cause]:
    """``IsDomainPrefixedPath``: ``acme.io/foo`` (a DNS subdomain, ``/``, HTTP path characters)."""
    if not value:
        return [required(path, "")]
    host, sep, rest = value.partition("/")
    if not sep or not host or not rest:
        return [invalid(path, value, 'must be a domain-prefixed path (such as "acme.io/foo")')]
    errs = [invalid(path, host, m) for m in names.is_dns1123_subdomain(host)]
    if not _HTTP_PATH.match(rest):
        errs.append(invalid(path, rest, names.regex_error("Invalid path", HTTP_PATH_FMT)))
    return errs


def _parameters(params: Any, path: str) -> list[Cause]:
    """``validateIngressClassParametersReference``."""
    if params is None:
        return []
    p = as_dict(params)
    errs: list[Cause] = []
    if p.get("apiGroup") is not None:
        errs += [invalid(f"{path}.apiGroup", p["apiGroup"], m) for m in names.is_dns1123_subdomain(_str(p["apiGroup"]))]
    for f in ("kind", "name"):
        v = _str(p.get(f))
        if not v:
            errs.append(required(f"{path}.{f}", ""))
        else:
            errs += [invalid(f"{path}.{f}", v, m) for m in is_path_segment_name(v)]
    scope = p.get("scope")
    if scope is None:
        errs.append(required(f"{path}.scope", ""))
        return errs
    if scope not in PARAMETER_SCOPES:
        errs.append(not_supported(f"{path}.scope", scope, PARAMETER_SCOPES))
    elif scope == "Namespace":
        if p.get("namespace") is None:
            errs.append(required(f"{path}.namespace", "`parameters.scope` is set to 'Namespace'"))
        else:
            errs += [invalid(f"{path}.namespace", p["namespace"], m)
                     for m in names.is_dns1123_label(_str(p["namespace"]))]
    elif p.get("namespace") is not None:
        errs.append(forbidden(f"{path}.namespace", "`parameters.scope` is set to 'Cluster'"))
    return errs


def validate_ingress_class(obj: dict[str, Any], old: dict[str, Any] | None, subresource: str | None) -> list[Cause]:
    """``ValidateIngressClass`` (+ the controller is immutable on update)."""
    spec = as_dict(obj.get("spec"))
    errs: list[Cause] = []
    if old is not None:
        old_controller = as_dict(old.get("spec")).get("controller")
        if spec.get("controller") != old_controller:
            errs.append(immutable("spec.controller", spec.get("controller")))
    controller = _str(spec.get("controller"))
    if not controller:
        errs.append(required("spec.controller", ""))
    else:
        if len(controller) > MAX_CONTROLLER_LEN:
            errs.append(too_long("spec.controller", MAX_CONTROLLER_LEN))
        errs += is_domain_prefixed_path("spec.controller", controller)
    errs += _parameters(spec.get("parameters"), "spec.parameters")
    return errs
