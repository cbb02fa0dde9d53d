"""``kubectl describe ingress``, plus the routes kubetui's ingress controller follows.

Upstream: ``kubectl/pkg/describe/describe.go`` (``IngressDescriber``:
Address, Ingress Class, Default backend, TLS, the Rules table of Host, Path
and Backends, each backend ``service:port (endpoint IPs)`` read from the
Service's EndpointSlices). Below it, what kubetui adds for a learner: every
route as the controller resolves it, host/path -> service:port -> the ready
pods behind it, and a curl line that reaches it from this machine.
"""

from __future__ import annotations

from typing import Any

from kubetui.api.printers.core import load_balancer_status
from kubetui.ingress.routing import Backend, backend_endpoints

Obj = dict[str, Any]
MAX_ENDPOINTS = 3


def _service_backend(b: Obj | None) -> str:
    svc = (b or {}).get("service") or {}
    port = svc.get("port") or {}
    return f"{svc.get('name', '')}:{port.get('number') or port.get('name') or ''}"


def describe_backend(ns: str, b: Obj | None, services: dict, slices: list[Obj]) -> str:
    """``describeBackendV1``: ``web:80 (10.244.1.5:8080,10.244.2.7:8080)``, or the resource it names."""
    b = b or {}
    if b.get("service"):
        name = b["service"].get("name", "")
        if (ns, name) not in services:
            return f'{_service_backend(b)} (<error: services "{name}" not found>)'
        port = b["service"].get("port") or {}
        eps = backend_endpoints(Backend(ns, name, port.get("number") or port.get("name") or 0), services, slices)
        if not eps:
            return f"{_service_backend(b)} (<none>)"
        shown = ",".join(str(e) for e in eps[:MAX_ENDPOINTS])
        more = f" + {len(eps) - MAX_ENDPOINTS} more..." if len(eps) > MAX_ENDPOINTS else ""
        return f"{_service_backend(b)} ({shown}{more})"
    if b.get("resource"):
        r = b["resource"]
        return f"APIGroup: {r.get('apiGroup') or '<none>'}, Kind: {r.get('kind', '')}, Name: {r.get('name', '')}"
    return ""


def _table(rows: list[list[str]], indent: str) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [(indent + "  ".join(c.ljust(widths[i]) for i, c in enumerate(r))).rstrip() for r in rows]


def describe_ingress(ing: Obj, w: Any, services: list[Obj] | None = None, slices: list[Obj] | None = None) -> None:
    md, spec = ing.get("metadata") or {}, ing.get("spec") or {}
    ns = md.get("namespace") or "default"
    by_name = {((s.get("metadata") or {}).get("namespace"), (s.get("metadata") or {}).get("name")): s
               for s in services or []}
    slices = list(slices or [])
    width = 18
    w.kv("Name", md.get("name"), width=width)
    labels = md.get("labels") or {}
    w.kv("Labels", ",".join(f"{k}={v}" for k, v in labels.items()) or "<none>", width=width)
    w.kv("Namespace", ns, width=width)
    w.kv("Address", load_balancer_status((ing.get("status") or {}).get("loadBalancer")), width=width)
    cls = spec.get("ingressClassName")
    w.kv("Ingress Class", cls if cls is not None else "<none>", width=width)
    default = (describe_backend(ns, spec["defaultBackend"], by_name, slices)
               if spec.get("defaultBackend") else "<default>")
    w.kv("Default backend", default, width=width)
    if spec.get("tls"):
        w.line("TLS:")
        for t in spec["tls"]:
            hosts = ",".join(t.get("hosts") or [])
            w.line(f"{t['secretName']} terminates {hosts}" if t.get("secretName") else f"SNI routes {hosts}", 2)
    w.line("Rules:")
    rows = [["Host", "Path", "Backends"], ["----", "----", "--------"]]
    count = 0
    for rule in spec.get("rules") or []:
        if not (rule or {}).get("http"):
            continue
        count += 1
        rows.append([rule.get("host") or "*", "", ""])
        for p in rule["http"].get("paths") or []:
            rows.append(["", p.get("path", ""), describe_backend(ns, p.get("backend"), by_name, slices)])
    if count == 0:
        rows.append(["*", "*", default])
    w.lines.extend(_table(rows, "  "))
    annotations = md.get("annotations") or {}
    w.kv("Annotations", ",".join(f"{k}: {v}" for k, v in annotations.items()) or "<none>", width=width)
    _routes(ing, w, by_name, slices)


def _routes(ing: Obj, w: Any, services: dict, slices: list[Obj]) -> None:
    """host/path -> service:port -> the pods that answer, and how to reach it from here."""
    spec = ing.get("spec") or {}
    ns = (ing.get("metadata") or {}).get("namespace") or "default"
    addresses = ((ing.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    ports = [p.get("port") for a in addresses for p in a.get("ports") or []]
    http = f"http://127.0.0.1:{ports[0]}" if ports else ""
    w.line("Routes (what the ingress controller does with a request):" if http else
           "Routes (no ingress controller has published an address for this Ingress yet):")
    example = ""
    for rule in spec.get("rules") or []:
        host = (rule or {}).get("host") or "*"
        for p in ((rule or {}).get("http") or {}).get("paths") or []:
            b = p.get("backend") or {}
            target = describe_route_target(ns, b, services, slices)
            w.line(f"{host}{p.get('path', '')} ({p.get('pathType', '')}) -> {target}", 2)
            if not example and http and host != "*" and not host.startswith("*."):
                example = f"curl -H 'Host: {host}' {http}{p.get('path') or '/'}"
    if spec.get("defaultBackend"):
        w.line(f"anything else -> {describe_route_target(ns, spec['defaultBackend'], services, slices)}", 2)
    else:
        w.line("anything else -> 404 (default backend - 404)", 2)
    if example:
        w.line(f"try: {example}", 2)


def describe_route_target(ns: str, b: Obj, services: dict, slices: list[Obj]) -> str:
    """``cart:80 -> 10.244.1.5:8080 (cart-7d9f-abcde), ...``: the Service port and the ready pods behind it."""
    if not b.get("service"):
        return describe_backend(ns, b, services, slices) + " (not served by kubetui's controller)"
    name = b["service"].get("name", "")
    port = b["service"].get("port") or {}
    eps = backend_endpoints(Backend(ns, name, port.get("number") or port.get("name") or 0), services, slices)
    if eps is None:
        return f"{_service_backend(b)} -> no such Service port (503)"
    if not eps:
        return f"{_service_backend(b)} -> no ready endpoints (503)"
    pods = ", ".join(f"{e} ({e.pod.split('/')[-1]})" if e.pod else str(e) for e in eps)
    return f"{_service_backend(b)} -> {pods}"
