"""Which backend an HTTP request goes to: the Ingress routing rules, as a pure function.

Upstream: the rules are the API's (``networking.k8s.io/v1`` IngressSpec,
documented at https://kubernetes.io/docs/concepts/services-networking/ingress/);
every ingress controller implements them (ingress-nginx turns them into
``server``/``location`` blocks). kubetui's controller keeps the decision here,
apart from any socket, so it can be table-tested against the documentation's
examples and shown in the TUI:

* **host**: a rule's ``host`` is precise (``shop.example``: the request's Host
  header, without port, must equal it) or a wildcard (``*.shop.example``
  matches exactly one more label: ``a.shop.example``, not ``shop.example``
  nor ``a.b.shop.example``); a rule without host matches every host. The most
  specific match wins: precise, then wildcard, then host-less rules;
* **path**: ``Exact`` matches the path exactly (case and trailing slash
  count); ``Prefix`` matches element by element on ``/`` (``/foo/bar``
  matches ``/foo/bar/baz`` but not ``/foo/barbaz``; a trailing slash is
  ignored); ``ImplementationSpecific`` is treated as ``Prefix`` here. When
  several paths match, the longest wins; on a tie ``Exact`` beats ``Prefix``.
  Rules of several Ingresses for one host are merged (the oldest Ingress wins
  an identical path, as ingress-nginx resolves conflicts);
* nothing matched: the ``defaultBackend`` (of the Ingress that owns the host
  if it has one, else the oldest Ingress that has one), else no route: 404.

TLS: the certificate for a TLS server name (SNI) is the first ``spec.tls``
entry (oldest Ingress first) whose ``hosts`` match it; an entry without
hosts covers its Ingress's rule hosts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from kubetui.proxy.model import Endpoint, categorize, endpoints_for, service_ports

Obj = dict[str, Any]

DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
CLASS_ANNOTATION = "kubernetes.io/ingress.class"
EXACT, PREFIX, IMPLEMENTATION_SPECIFIC = "Exact", "Prefix", "ImplementationSpecific"


@dataclass(frozen=True)
class Backend:
    """An Ingress backend: a Service port (by number or name) in the Ingress's namespace, or a resource."""

    namespace: str
    service: str = ""
    port: int | str = 0                 # the Service's port number, or its name
    resource: str = ""                  # "Kind/name" of a resource backend (kubetui cannot serve those)

    def __str__(self) -> str:
        return f"{self.service}:{self.port}" if self.service else self.resource


@dataclass(frozen=True)
class Route:
    """What a request matched: the Ingress, the rule's host and path (empty for a default backend), the backend."""

    ingress: str                        # "namespace/name"
    host: str
    path: str
    path_type: str
    backend: Backend
    default: bool = False               # the defaultBackend, no rule matched


def normalize_host(host: str) -> str:
    """A Host header or SNI name as rules compare it: no port, lower case, no trailing dot.

    >>> normalize_host("Shop.Example:8080")
    'shop.example'
    """
    host = host.strip()
    if host.startswith("["):                        # [::1]:8080
        host = host[1:host.find("]")] if "]" in host else host
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".").lower()


def host_matches(rule_host: str, host: str) -> bool:
    """Precise hosts compare equal; ``*.foo.com`` matches exactly one more label (``bar.foo.com``).

    >>> host_matches("*.foo.com", "bar.foo.com"), host_matches("*.foo.com", "baz.bar.foo.com")
    (True, False)
    """
    if not rule_host:
        return True
    if rule_host.startswith("*."):
        first, dot, rest = host.partition(".")
        return bool(first) and bool(dot) and rest == rule_host[2:]
    return rule_host == host


def _elements(path: str) -> list[str]:
    return [e for e in path.split("/") if e]


def path_matches(path_type: str, rule_path: str, request_path: str) -> bool:
    """``Exact``: equal strings. ``Prefix`` (and ImplementationSpecific): element-wise prefix on ``/``.

    >>> path_matches("Prefix", "/aaa/bbb", "/aaa/bbb/ccc"), path_matches("Prefix", "/aaa/bbb", "/aaa/bbbxyz")
    (True, False)
    """
    if path_type == EXACT:
        return rule_path == request_path
    rule = _elements(rule_path or "/")
    return _elements(request_path)[:len(rule)] == rule


def request_path(target: str) -> str:
    """The path of a request target: no query or fragment; absolute-form (``http://h/p``) reduced to ``/p``.

    >>> request_path("/cart?item=1"), request_path("http://shop.example/cart#top"), request_path("*")
    ('/cart', '/cart', '/')
    """
    if "://" in target:
        rest = target.split("://", 1)[1]
        target = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
    target = target.split("?", 1)[0].split("#", 1)[0]
    return target if target.startswith("/") else "/"


def _backend(namespace: str, b: Obj | None) -> Backend | None:
    if not isinstance(b, dict):
        return None
    svc = b.get("service")
    if isinstance(svc, dict):
        port = svc.get("port") or {}
        return Backend(namespace, svc.get("name", ""), port.get("number") or port.get("name") or 0)
    res = b.get("resource")
    if isinstance(res, dict):
        group = f".{res['apiGroup']}" if res.get("apiGroup") else ""
        return Backend(namespace, resource=f"{res.get('kind', '')}{group}/{res.get('name', '')}")
    return None


def _age_key(ing: Obj) -> tuple[str, str, str]:
    m = ing.get("metadata") or {}
    return (m.get("creationTimestamp") or "", m.get("namespace") or "", m.get("name") or "")


@dataclass(frozen=True)
class _Path:
    host: str
    path: str
    path_type: str
    backend: Backend
    ingress: str
    order: int                          # the Ingress's age rank: older first


@dataclass
class RoutingTable:
    """Every routing rule of the Ingresses one controller serves, ready to answer ``route(host, path)``."""

    paths: list[_Path] = field(default_factory=list)
    defaults: list[tuple[str, Backend]] = field(default_factory=list)      # (ingress, backend), oldest first
    tls: list[tuple[tuple[str, ...], str, str]] = field(default_factory=list)   # (hosts, namespace, secret)

    @classmethod
    def build(cls, ingresses: Iterable[Obj]) -> "RoutingTable":
        table = cls()
        for order, ing in enumerate(sorted(ingresses, key=_age_key)):
            m = ing.get("metadata") or {}
            ns = m.get("namespace") or "default"
            key = f"{ns}/{m.get('name', '')}"
            spec = ing.get("spec") or {}
            default = _backend(ns, spec.get("defaultBackend"))
            if default is not None:
                table.defaults.append((key, default))
            rule_hosts = []
            for rule in spec.get("rules") or []:
                host = (rule or {}).get("host") or ""
                rule_hosts.append(host)
                for p in ((rule or {}).get("http") or {}).get("paths") or []:
                    backend = _backend(ns, (p or {}).get("backend"))
                    if backend is None:
                        continue
                    path_type = p.get("pathType") or IMPLEMENTATION_SPECIFIC
                    table.paths.append(_Path(host, p.get("path") or "/", path_type, backend, key, order))
            for t in spec.get("tls") or []:
                if (t or {}).get("secretName"):
                    hosts = tuple(t.get("hosts") or [h for h in rule_hosts if h])
                    table.tls.append((hosts, ns, t["secretName"]))
        return table

    def route(self, host: str, path: str) -> Route | None:
        """The route for a request to ``host`` (a Host header) and ``path`` (its path), or None: 404."""
        host = normalize_host(host)
        candidates = [p for p in self.paths if host_matches(p.host, host)]
        owner = None
        if candidates:
            # the most specific host wins: precise, then wildcard, then rules without a host
            rank = min(_host_rank(p.host) for p in candidates)
            candidates = [p for p in candidates if _host_rank(p.host) == rank]
            owner = candidates[0].ingress if rank < 2 else None
            matched = [p for p in candidates if path_matches(p.path_type, p.path, path)]
            if matched:
                best = min(matched, key=lambda p: (-len(p.path), p.path_type != EXACT, p.order))
                return Route(best.ingress, best.host, best.path, best.path_type, best.backend)
        if not self.defaults:
            return None
        ingress, backend = sorted(self.defaults, key=lambda d: d[0] != owner)[0]
        return Route(ingress, "", "", "", backend, default=True)

    def certificate(self, server_name: str) -> tuple[str, str] | None:
        """``(namespace, secretName)`` of the TLS certificate for an SNI name, or None (the fallback certificate)."""
        name = normalize_host(server_name)
        for hosts, ns, secret in self.tls:
            if any(host_matches(h, name) for h in hosts if h):
                return ns, secret
        return None

    def backends(self) -> list[Backend]:
        """Every Service backend the table can send to (for the controller's endpoint bookkeeping)."""
        seen = {p.backend for p in self.paths} | {b for _, b in self.defaults}
        return sorted((b for b in seen if b.service), key=lambda b: (b.namespace, b.service, str(b.port)))


def _host_rank(rule_host: str) -> int:
    return 2 if not rule_host else 1 if rule_host.startswith("*.") else 0


def class_names(classes: Iterable[Obj], controller: str) -> tuple[set[str], bool]:
    """The names of the IngressClasses naming ``controller``, and whether one of them is the default class."""
    names, default = set(), False
    for c in classes:
        if (c.get("spec") or {}).get("controller") != controller:
            continue
        m = c.get("metadata") or {}
        names.add(m.get("name", ""))
        default = default or (m.get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION) == "true"
    return names, default


def served_by(ing: Obj, names: set[str], is_default: bool) -> bool:
    """Whether a controller owning the classes ``names`` serves ``ing``: its ``ingressClassName`` (or the
    deprecated ``kubernetes.io/ingress.class`` annotation) names one; an Ingress naming no class at all is
    served by the default class's controller."""
    cls = (ing.get("spec") or {}).get("ingressClassName")
    if cls is None:
        cls = ((ing.get("metadata") or {}).get("annotations") or {}).get(CLASS_ANNOTATION)
    if cls is None:
        return is_default
    return cls in names


def backend_endpoints(backend: Backend, services: dict[tuple[str, str], Obj],
                      slices: Iterable[Obj]) -> list[Endpoint] | None:
    """The ready endpoints behind a Service backend, kube-proxy's way (None: no such Service or port).

    The backend's port is the Service's port number or name; the endpoints are the
    EndpointSlices' ready ones for that port (so the pod's target port)."""
    svc = services.get((backend.namespace, backend.service))
    if svc is None:
        return None
    for sp in service_ports(svc):
        if sp.port == backend.port or (isinstance(backend.port, str) and sp.port_name == backend.port):
            mine = [s for s in slices if ((s.get("metadata") or {}).get("namespace") == backend.namespace and
                    ((s.get("metadata") or {}).get("labels") or {}).get("kubernetes.io/service-name")
                    == backend.service)]
            return categorize(endpoints_for(sp, mine), sp, "").cluster
    return None
