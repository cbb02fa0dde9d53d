"""kubetui's own read-only APIs, served beside Kubernetes' (like aggregated APIs).

The server side of the groups ``kubetui/client/views.py`` describes: each
handler reads the running components and answers under ``/apis/<group>/v1alpha1``.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from kubetui.api.errors import BadRequest, Conflict, MethodNotAllowed, NotFound
from kubetui.apiserver import encoding
from kubetui.client.reconciles import object_filter
from kubetui.cluster.cpstatus import control_plane_status
from kubetui.client.views import (
    CONTROLPLANE_GROUP, DECISIONS_GROUP, NETWORKING_GROUP, NETWORKING_VERSION, RECONCILES_MAX_WAIT, StoreKeyInfo,
    activity_object, reconciles_object, store_keys_object, time_dial_object,
)
from kubetui.api.networkpolicy import unenforcing_nodes
from kubetui.proxy.counters import merge
from kubetui.scheduler.explain import handle_decisions

if TYPE_CHECKING:
    from kubetui.cluster.controlplane import ControlPlane

KUBE_PROXY_METRICS_PORT = 10249
NETPOL_METRICS_PORT = 9099          # kubetui.netpol's /policies (Calico's Felix serves health there)


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

    ``.../networkpolicytraffic``: which NetworkPolicy rule allowed, and how many
    connections each isolated pod dropped, from every node's policy agent.
    """
    if request.method != "GET":
        raise MethodNotAllowed(f"{request.method} is not supported on traffic")
    service = None
    if len(parts) == 6 and parts[:2] == ["v1alpha1", "namespaces"] and parts[3] == "services" \
            and parts[5] == "traffic":
        ns, name = parts[2], parts[4]
        await cp.client.get("services", name, ns)       # NotFound for a Service that does not exist
        service = f"{ns}/{name}"
    elif parts == ["v1alpha1", "networkpolicytraffic"]:
        return encoding.response(await policy_traffic(cp), pretty=encoding.wants_pretty(request))
    elif parts != ["v1alpha1", "traffic"]:
        raise NotFound("the server could not find the requested resource")
    return encoding.response(await traffic(cp, service), pretty=encoding.wants_pretty(request))

async def serve_controlplane(cp: "ControlPlane", request: Any, parts: list[str]) -> Any:
    """GET /apis/controlplane.kubetui.dev/v1alpha1/activity, .../storekeys?prefix=/registry/,
    .../[namespaces/NS/]reconciles and .../controlplanestatus (``kubetui.cluster.cpstatus``).

    What a TUI hosting the control plane used to read from its own memory,
    served to every client: each component's counter (the map's boxes),
    the store's keys with create/mod revision and version (the store view,
    like ``etcdctl get --prefix --keys-only -w json``), and the reconcile log.
    """
    if parts[:2] == ["v1alpha1", "timedial"]:
        body = await serve_timedial(cp, request, parts[2:])
        return encoding.response(body, pretty=encoding.wants_pretty(request))
    if request.method != "GET":
        raise MethodNotAllowed(f"{request.method} is not supported on {CONTROLPLANE_GROUP}")
    if parts == ["v1alpha1", "activity"]:
        body = activity_object(control_plane_activity(cp))
    elif parts == ["v1alpha1", "controlplanestatus"]:
        body = await control_plane_status(cp, _fetch_traffic)
    elif parts == ["v1alpha1", "storekeys"]:
        prefix = request.query.get("prefix", "/registry/")
        body = store_keys_object(int(cp.store.revision), [
            StoreKeyInfo(kv.key, kv.create_revision, kv.mod_revision, kv.version) for kv in cp.store.range(prefix)])
    elif parts == ["v1alpha1", "reconciles"]:
        body = await reconciles(cp.reconcile_log, request.query, None)
    elif len(parts) == 4 and parts[:2] == ["v1alpha1", "namespaces"] and parts[3] == "reconciles":
        body = await reconciles(cp.reconcile_log, request.query, parts[2])
    else:
        raise NotFound("the server could not find the requested resource")
    return encoding.response(body, pretty=encoding.wants_pretty(request))


#: the longest a step waits for work to reach the gate (``waitSeconds``)
STEP_MAX_WAIT = 10.0
#: the longest a step waits for the records of what it ran (a binding still being written)
STEP_FLUSH_SECONDS = 5.0


async def serve_timedial(cp: "ControlPlane", request: Any, rest: list[str]) -> dict[str, Any]:
    """``GET .../timedial`` and ``POST .../timedial/{pause,resume,step,speed}`` (``kubetui.timedial``).

    Authorized like any request (``create`` on ``timedial`` in this group to turn it, ``list`` to read
    it); a bad speed or count is 400, a step while the control plane runs is 409.
    """
    from kubetui.timedial import DialError

    dial = cp.dial
    if not rest:
        if request.method != "GET":
            raise MethodNotAllowed(f"{request.method} is not supported on the time dial: POST to "
                                   f"timedial/pause, timedial/resume, timedial/step or timedial/speed")
        return time_dial_object(dial.state())
    if len(rest) != 1 or rest[0] not in ("pause", "resume", "step", "speed"):
        raise NotFound("the server could not find the requested resource")
    if request.method != "POST":
        raise MethodNotAllowed(f"{request.method} is not supported on timedial/{rest[0]}: use POST")
    body = await _json_body(request)
    action = rest[0]
    extra: dict[str, Any] = {}
    try:
        if action == "pause":
            dial.pause(real_time_timers=bool(body.get("realTimeTimers")))
        elif action == "resume":
            dial.resume()
        elif action == "speed":
            if "speed" not in body:
                raise BadRequest('the body needs "speed", e.g. {"speed": "0.25x"}')
            dial.set_speed(body["speed"])
        else:
            count = body.get("count", 1)
            if not isinstance(count, int) or isinstance(count, bool) or count < 1:
                raise BadRequest(f'invalid value for count: {count!r}: must be a positive integer')
            wait = body.get("waitSeconds", 2.0)
            if not isinstance(wait, (int, float)) or isinstance(wait, bool) or not 0 <= wait < float("inf"):
                raise BadRequest(f'invalid value for waitSeconds: {wait!r}: must be a number of seconds')
            if not dial.paused:
                raise Conflict("the control plane is not paused: pause it first (kubetui time pause)")
            log = getattr(cp, "reconcile_log", None)
            before = log.last_seq if log is not None else 0
            ran = await dial.step(count, wait=min(float(wait), STEP_MAX_WAIT))
            extra["ran"] = [t.as_dict() for t in ran]
            if log is not None:
                # a scheduling cycle's record is published once the binding it started has ended
                await log.flush(STEP_FLUSH_SECONDS)
            # Paused, nothing runs but what the step let through: the records since are theirs.
            extra["reconciles"] = [r.to_dict() for r in log.since(before)] if log is not None else []
    except DialError as e:
        raise BadRequest(str(e)) from None
    return time_dial_object(dial.state(), **extra)


async def _json_body(request: Any) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as e:
        raise BadRequest(f"the request body is not JSON: {e}") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


def _int(query: Any, name: str, default: int | None = None) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return default
    try:
        n = int(value)
    except ValueError:
        raise BadRequest(f'invalid value for {name}: "{value}": must be an integer') from None
    if n < 0:
        raise BadRequest(f"invalid value for {name}: {n}: must be 0 or more")
    return n


async def reconciles(log: Any, query: Any, namespace: str | None) -> dict[str, Any]:
    """The reconcile log's records after ``?since=SEQ`` (oldest first), filtered by ``object=`` (``deploy/web``:
    its records and its ReplicaSets' and pods'), ``controller=`` and the path's namespace; ``tail=N`` keeps
    the last N, ``limit=N`` the first N; ``silent=false`` leaves out syncs that said and wrote nothing;
    ``wait=SECONDS`` holds the answer until one record matches."""
    since = _int(query, "since", 0)
    tail, limit = _int(query, "tail"), _int(query, "limit")
    try:
        wait = float(query.get("wait") or 0)
    except ValueError:
        raise BadRequest(f'invalid value for wait: "{query.get("wait")}": must be a number of seconds') from None
    obj = query.get("object") or None
    if obj is not None:
        try:
            obj = object_filter(obj, namespace)
        except ValueError as e:
            raise BadRequest(str(e)) from None
    silent = (query.get("silent") or "true").lower()
    if silent not in ("true", "false", "1", "0"):
        raise BadRequest(f'invalid value for silent: "{query.get("silent")}": must be true or false')
    filters = {"object": obj, "namespace": namespace, "controller": query.get("controller") or None,
               "tail": tail, "limit": limit, "silent": silent in ("true", "1")}
    if wait > 0:
        records = await log.wait(since, min(wait, RECONCILES_MAX_WAIT), **filters)
    else:
        records = log.since(since, **filters)
    return reconciles_object([r.to_dict() for r in records], log.oldest_seq, log.last_seq)


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


async def policy_traffic(cp: "ControlPlane") -> dict[str, Any]:
    """Every node's NetworkPolicy agent's ``GET /policies`` (``kubetui.netpol``), merged: each counted
    rule (a policy rule that allowed connections to or from a pod, or a pod's drop) with its node;
    nodes that cannot enforce policies (local, simulated) are listed as such."""
    nodes = (await cp.client.list("nodes")).get("items", [])
    unenforced = unenforcing_nodes(nodes)
    addresses: dict[str, str] = {}
    for n in nodes:
        name = n["metadata"]["name"]
        if name in unenforced:
            continue
        ips = [a["address"] for a in (n.get("status") or {}).get("addresses") or [] if a.get("type") == "InternalIP"]
        if ips:
            addresses[name] = f"{ips[0]}:{NETPOL_METRICS_PORT}"
    docs = await asyncio.gather(*(_fetch_traffic(a, "/policies") for a in addresses.values()))
    agents: dict[str, Any] = {}
    rules: list[dict[str, Any]] = []
    for name, doc in zip(addresses, docs):
        if "error" in doc and "rules" not in doc:
            agents[name] = {"error": doc["error"]}
            continue
        agents[name] = {"applied": doc.get("applied") or {}, "syncs": doc.get("syncs"), "error": doc.get("error")}
        rules += [{**r, "node": name} for r in doc.get("rules") or []]
    return {"kind": "NetworkPolicyTraffic", "apiVersion": NETWORKING_VERSION, "agents": agents,
            "unenforcedNodes": unenforced, "rules": rules}


async def _fetch_traffic(address: str, path: str = "/traffic", timeout: float = 2.0) -> dict[str, Any]:
    """One node agent's ``GET /traffic`` (kube-proxy) or ``/policies`` (the policy agent), plain HTTP
    on its metrics port, or ``{"error": ...}``."""
    host, _, port = address.rpartition(":")
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout)
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n".encode())
            raw = await asyncio.wait_for(reader.read(), timeout)
        finally:
            writer.close()
        head, _, body = raw.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            return {"error": head.split(b"\r\n", 1)[0].decode(errors="replace")}
        return json.loads(body)
    except (OSError, asyncio.TimeoutError, ValueError) as e:
        return {"error": f"{e.__class__.__name__}: {e}"}
