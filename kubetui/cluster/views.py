"""kubetui's own read-only APIs, served beside Kubernetes' (like aggregated APIs).

The server side of the groups ``kubetui/client/views.py`` describes: each
handler reads the running components and answers under ``/apis/<group>/v1alpha1``.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from kubetui.api.errors import MethodNotAllowed, NotFound
from kubetui.apiserver import encoding
from kubetui.client.views import (
    CONTROLPLANE_GROUP, DECISIONS_GROUP, NETWORKING_GROUP, NETWORKING_VERSION, StoreKeyInfo, activity_object,
    store_keys_object,
)
from kubetui.proxy.counters import merge
from kubetui.scheduler.explain import handle_decisions

if TYPE_CHECKING:
    from kubetui.cluster.controlplane import ControlPlane

KUBE_PROXY_METRICS_PORT = 10249


async def serve_decisions(cp: "ControlPlane", request: Any, parts: list[str]) -> Any:
    """GET /apis/scheduling.kubetui.dev/v1alpha1/namespaces/{ns}/decisions/{pod}.

    kube-scheduler keeps no record of why it chose a node; kubetui does, and
    serves it like an aggregated API so `kubetui explain` and the TUI can read it.
    """
    if request.method != "GET":
        raise MethodNotAllowed(f"{request.method} is not supported on scheduling decisions")
    if len(parts) != 5 or parts[0] != "v1alpha1" or parts[1] != "namespaces" or parts[3] != "decisions":
        raise NotFound("the server could not find the requested resource")
    code, body = handle_decisions(cp.scheduler, parts[2], parts[4])
    return encoding.response(body, code, pretty=encoding.wants_pretty(request))

async def serve_traffic(cp: "ControlPlane", request: Any, parts: list[str]) -> Any:
    """GET /apis/networking.kubetui.dev/v1alpha1/traffic and .../namespaces/{ns}/services/{name}/traffic.

    Which endpoint answered how many connections: every kube-proxy's
    ``/traffic`` (iptables rule counters, or the userspace proxy's own
    counts) added up, plus what the LoadBalancer listeners and the ingress
    controller (``ingresses``: per Service backend ``ns/name:port``) sent where.
    Upstream has no such API; it is served like an aggregated API for the TUI.
    """
    if request.method != "GET":
        raise MethodNotAllowed(f"{request.method} is not supported on traffic")
    service = None
    if len(parts) == 6 and parts[:2] == ["v1alpha1", "namespaces"] and parts[3] == "services" \
            and parts[5] == "traffic":
        ns, name = parts[2], parts[4]
        await cp.client.get("services", name, ns)       # NotFound for a Service that does not exist
        service = f"{ns}/{name}"
    elif parts != ["v1alpha1", "traffic"]:
        raise NotFound("the server could not find the requested resource")
    return encoding.response(await traffic(cp, service), pretty=encoding.wants_pretty(request))

async def serve_controlplane(cp: "ControlPlane", request: Any, parts: list[str]) -> Any:
    """GET /apis/controlplane.kubetui.dev/v1alpha1/activity and .../storekeys?prefix=/registry/.

    What a TUI hosting the control plane used to read from its own memory,
    served to every client: each component's counter (the map's boxes) and
    the store's keys with create/mod revision and version (the store view,
    like ``etcdctl get --prefix --keys-only -w json``).
    """
    if request.method != "GET":
        raise MethodNotAllowed(f"{request.method} is not supported on {CONTROLPLANE_GROUP}")
    if parts == ["v1alpha1", "activity"]:
        body = activity_object(control_plane_activity(cp))
    elif parts == ["v1alpha1", "storekeys"]:
        prefix = request.query.get("prefix", "/registry/")
        body = store_keys_object(int(cp.store.revision), [
            StoreKeyInfo(kv.key, kv.create_revision, kv.mod_revision, kv.version) for kv in cp.store.range(prefix)])
    else:
        raise NotFound("the server could not find the requested resource")
    return encoding.response(body, pretty=encoding.wants_pretty(request))


def control_plane_activity(cp: "ControlPlane") -> dict[str, int]:
    """Monotonic counters: API requests (HTTPS and in-process), store revision, scheduling attempts, reconciles."""
    return {
        "apiserver": int(cp.apiserver.requests_served) + int(getattr(cp.client, "requests", 0)),
        "store": int(cp.store.revision),
        "scheduler": int(cp.scheduler.stats().get("attempts", 0)),
        "controllers": sum(int(d.get("reconciles", 0)) for d in cp.controllers.activity().values()),
    }


async def traffic(cp: "ControlPlane", service: str | None = None) -> dict[str, Any]:
    addresses = cp.proxy_metrics
    if addresses is None:
        addresses = []
        for n in (await cp.client.list("nodes")).get("items", []):
            if (n["metadata"].get("labels") or {}).get("kubetui.dev/simulated") == "true":
                continue
            ips = [a["address"] for a in (n.get("status") or {}).get("addresses") or []
                   if a.get("type") == "InternalIP"]
            if ips:
                addresses.append(f"{ips[0]}:{KUBE_PROXY_METRICS_PORT}")
    docs = await asyncio.gather(*(_fetch_traffic(a) for a in addresses))
    proxies = {a: ({"node": d.get("node"), "mode": d.get("mode")} if "error" not in d else d)
               for a, d in zip(addresses, docs)}
    services = merge([d for d in docs if "error" not in d])
    lbs = cp.load_balancer.traffic() if cp.load_balancer is not None else {}
    ingresses = cp.ingress_dataplane.traffic() if getattr(cp, "ingress_dataplane", None) is not None else {}

    def mine(key: str) -> bool:
        return service is None or key == service or key.startswith(service + ":")
    return {"kind": "ServiceTraffic", "apiVersion": NETWORKING_VERSION,
            "proxies": proxies,
            "services": {k: v for k, v in services.items() if mine(k)},
            "loadBalancers": {k: v for k, v in lbs.items() if mine(k)},
            "ingresses": {k: v for k, v in ingresses.items() if mine(k)}}


async def _fetch_traffic(address: str, timeout: float = 2.0) -> dict[str, Any]:
    """One kube-proxy's ``GET /traffic`` (plain HTTP on its metrics port), or ``{"error": ...}``."""
    host, _, port = address.rpartition(":")
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout)
        try:
            writer.write(f"GET /traffic HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n".encode())
            raw = await asyncio.wait_for(reader.read(), timeout)
        finally:
            writer.close()
        head, _, body = raw.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            return {"error": head.split(b"\r\n", 1)[0].decode(errors="replace")}
        return json.loads(body)
    except (OSError, asyncio.TimeoutError, ValueError) as e:
        return {"error": f"{e.__class__.__name__}: {e}"}
