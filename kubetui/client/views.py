"""kubetui's own API groups, as a client sees them (their paths and object shapes).

Upstream Kubernetes keeps no record of why the scheduler chose a node, which
replica answered which request, or how busy each control-plane component is;
kubetui does, because that is what a learner wants to see. The control plane
serves them beside Kubernetes' APIs, like aggregated APIs
(``kubetui/cluster/views.py``), so ``kubetui explain``, every TUI, the web UI
and ``kubectl get --raw`` read them the same way:

- ``scheduling.kubetui.dev``: the scheduler's decisions for a pod;
- ``networking.kubetui.dev``: connections per endpoint, from every kube-proxy,
  the LoadBalancer listeners and the ingress controller; which NetworkPolicy
  rule allowed or dropped connections, from every node's policy agent;
- ``controlplane.kubetui.dev``: each component's activity counters (the map's
  control-plane boxes), the store's keys with their revisions (the store view),
  the reconcile log (``reconciles``: every controller sync and scheduling
  cycle, see ``kubetui.client.reconciles``) and the time dial (``timedial``:
  pause, step and slow down the control plane, see ``kubetui.timedial``), and the
  control plane as a whole (``controlplanestatus``: control-plane nodes, etcd
  members with raft leader, term and index, API servers behind the load
  balancer, leader-election Lease holders; ``kubetui.cluster.cpstatus``).

The fetchers below take any client with ``request(method, path)`` (``HTTPClient``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from kubetui.api import errors

DECISIONS_GROUP = "scheduling.kubetui.dev"
DECISIONS_VERSION = f"{DECISIONS_GROUP}/v1alpha1"
DECISIONS_KIND = "PodSchedulingDecisions"
#: an attempt's ``outcome``
SCHEDULED, UNSCHEDULABLE, ERROR, BINDING_FAILED = "Scheduled", "Unschedulable", "Error", "BindingFailed"

NETWORKING_GROUP = "networking.kubetui.dev"
NETWORKING_VERSION = f"{NETWORKING_GROUP}/v1alpha1"

CONTROLPLANE_GROUP = "controlplane.kubetui.dev"
CONTROLPLANE_VERSION = f"{CONTROLPLANE_GROUP}/v1alpha1"
ACTIVITY_PATH = f"/apis/{CONTROLPLANE_VERSION}/activity"
STORE_KEYS_PATH = f"/apis/{CONTROLPLANE_VERSION}/storekeys"
#: the control-plane view: nodes, etcd members, API servers, Lease holders (``control_plane_status_object``)
CONTROLPLANE_STATUS_PATH = f"/apis/{CONTROLPLANE_VERSION}/controlplanestatus"
CONTROLPLANE_STATUS_KIND = "ControlPlaneStatus"
#: the leader-election Leases in kube-system the view shows (kube-scheduler's and kube-controller-manager's)
LEADER_LEASES = ("kube-scheduler", "kube-controller-manager")
#: the time dial: GET its state; POST .../pause, .../resume, .../step, .../speed to turn it
TIMEDIAL_PATH = f"/apis/{CONTROLPLANE_VERSION}/timedial"
TIMEDIAL_KIND = "TimeDial"
TIMEDIAL_ACTIONS = ("pause", "resume", "step", "speed")
RECONCILES_KIND = "ReconcileRecordList"
#: the longest a reconciles long poll (``wait=``) is held open, in seconds
RECONCILES_MAX_WAIT = 60.0

#: the components ``activity`` counts, each a monotonic counter:
#: API server requests (HTTPS and in-process), store revision (writes), scheduling attempts, reconciles
COMPONENTS = ("apiserver", "store", "scheduler", "controllers")


def decisions_path(namespace: str, name: str) -> str:
    """The URL path the API server serves a pod's decisions at."""
    return f"/apis/{DECISIONS_VERSION}/namespaces/{namespace}/decisions/{name}"


def decisions_object(namespace: str, name: str, attempts: list[dict[str, Any]]) -> dict[str, Any]:
    """The API object the decisions path returns."""
    return {"apiVersion": DECISIONS_VERSION, "kind": DECISIONS_KIND,
            "metadata": {"name": name, "namespace": namespace}, "attempts": attempts}


def traffic_path(namespace: str | None = None, service: str | None = None) -> str:
    """Every Service's traffic, or one Service's (``namespace`` and ``service`` given)."""
    if service is None:
        return f"/apis/{NETWORKING_VERSION}/traffic"
    return f"/apis/{NETWORKING_VERSION}/namespaces/{namespace}/services/{service}/traffic"


POLICY_TRAFFIC_PATH = f"/apis/{NETWORKING_VERSION}/networkpolicytraffic"


async def policy_traffic(client: Any) -> dict[str, Any]:
    """Every node's NetworkPolicy counters: ``{"rules": [{"node", "pod": "ns/name", "direction":
    "ingress"|"egress", "action": "allow"|"drop", "policy": "ns/name" (allow), "rule": i, "policies":
    [every policy isolating the pod], "packets": n}], "agents": {node: {"applied": {"ns/name":
    resourceVersion}}}, "unenforcedNodes": [...]}``. An allow rule's packets are the connections it
    let through (only a connection's first packet reaches it); a drop's, the packets refused."""
    return await client.request("GET", POLICY_TRAFFIC_PATH)


def activity_object(counters: dict[str, int]) -> dict[str, Any]:
    """``GET .../activity``: ``{"kind": "ControlPlaneActivity", "components": {"apiserver": 1234, ...}}``."""
    return {"apiVersion": CONTROLPLANE_VERSION, "kind": "ControlPlaneActivity", "metadata": {},
            "components": counters}


@dataclass(frozen=True)
class StoreKeyInfo:
    """One key of the store, as etcd's ``get --prefix --keys-only -w json`` describes it."""

    key: str
    create_revision: int
    mod_revision: int
    version: int


def store_keys_object(revision: int, keys: list[StoreKeyInfo]) -> dict[str, Any]:
    """``GET .../storekeys?prefix=/registry/``: the keys under a prefix, with the store's revision."""
    return {"apiVersion": CONTROLPLANE_VERSION, "kind": "StoreKeyList", "metadata": {}, "revision": revision,
            "items": [{"key": k.key, "createRevision": k.create_revision, "modRevision": k.mod_revision,
                       "version": k.version} for k in keys]}


def reconciles_path(namespace: str | None = None) -> str:
    """Every namespace's records, or one namespace's (RBAC can then grant it per namespace)."""
    if namespace:
        return f"/apis/{CONTROLPLANE_VERSION}/namespaces/{namespace}/reconciles"
    return f"/apis/{CONTROLPLANE_VERSION}/reconciles"


def reconciles_object(items: list[dict[str, Any]], oldest_seq: int, last_seq: int) -> dict[str, Any]:
    """``GET .../reconciles``: records oldest first; ``lastSeq`` is where the next ``since=`` starts, and
    ``oldestSeq`` the oldest record the ring still holds (older ones were dropped)."""
    return {"apiVersion": CONTROLPLANE_VERSION, "kind": RECONCILES_KIND,
            "metadata": {"resourceVersion": str(last_seq)}, "oldestSeq": oldest_seq, "lastSeq": last_seq,
            "items": items}


async def reconciles(client: Any, *, since: int = 0, object: str | None = None, namespace: str | None = None,
                     controller: str | None = None, tail: int | None = None, limit: int | None = None,
                     wait: float | None = None, silent: bool = True) -> dict[str, Any]:
    """The reconcile log's records with a sequence number above ``since`` (a ``ReconcileRecordList``).

    ``object`` is ``kind/name`` (``deploy/web``, in ``namespace``) or ``Kind/ns/name``: that
    object's records and those of what it owns; ``silent=False`` leaves out the syncs that said and
    wrote nothing (a garbage collector looking at every pod). ``wait`` makes it a long poll: the answer comes
    as soon as one record matches, or empty after ``wait`` seconds (keep it under the client's
    request timeout, 30 s for ``HTTPClient``).
    """
    params = {"since": since, "object": object, "controller": controller, "tail": tail, "limit": limit,
              "wait": wait, "silent": None if silent else "false"}
    return await client.request("GET", reconciles_path(namespace),
                                params={k: str(v) for k, v in params.items() if v is not None})


async def decisions(client: Any, namespace: str, name: str) -> dict[str, Any] | None:
    """A pod's scheduling decisions, or None when the scheduler has no record of it."""
    try:
        return await client.request("GET", decisions_path(namespace, name))
    except errors.NotFound:
        return None


async def activity(client: Any) -> dict[str, int]:
    """Each control-plane component's counter (see ``COMPONENTS``)."""
    doc = await client.request("GET", ACTIVITY_PATH)
    return {k: int(v) for k, v in (doc.get("components") or {}).items()}


async def store_keys(client: Any, prefix: str = "/registry/") -> tuple[int, list[StoreKeyInfo]]:
    """The store's revision and its keys under ``prefix`` (sorted)."""
    doc = await client.request("GET", f"{STORE_KEYS_PATH}?prefix={quote(prefix, safe='/')}")
    return int(doc.get("revision") or 0), [
        StoreKeyInfo(i["key"], int(i["createRevision"]), int(i["modRevision"]), int(i["version"]))
        for i in doc.get("items") or []]


async def service_endpoints(client: Any, namespace: str, name: str) -> dict[str, dict[str, Any]]:
    """Per endpoint (``"ip:port"``) across a Service's ports: ``connections``, ``pod``, ``node`` and,
    once its node's kube-proxy knocked, ``probe`` (``open``, ``refused``, ``timeout``, ``unreachable``)."""
    doc = await client.request("GET", traffic_path(namespace, name))
    out: dict[str, dict[str, Any]] = {}
    # kube-proxies' counts, then the ingress controller's (it picks Service endpoints itself)
    for eps in [*(doc.get("services") or {}).values(), *(doc.get("ingresses") or {}).values()]:
        for ep, v in eps.items():
            o = out.setdefault(ep, {"connections": 0, "pod": v.get("pod", ""), "node": v.get("node", "")})
            o["connections"] += int(v.get("connections") or 0)
            if v.get("probe"):
                o["probe"] = v["probe"]
    return out


async def service_traffic(client: Any, namespace: str, name: str) -> dict[str, int]:
    """Connections per endpoint (``"ip:port"`` -> count) across a Service's ports."""
    return {ep: v["connections"] for ep, v in (await service_endpoints(client, namespace, name)).items()}


def time_dial_object(state: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """``GET .../timedial`` (and every POST's answer): ``status`` is ``kubetui.timedial.TimeDial.state()``:
    ``mode`` (Running, Slowed, Paused), ``speed``, ``realTimeTimers``, ``clockLagSeconds``, ``waiting``
    (component and key, next first), ``running``, ``recent``. A step's answer adds ``ran`` (what it let
    through) and ``reconciles`` (their reconcile log records)."""
    return {"apiVersion": CONTROLPLANE_VERSION, "kind": TIMEDIAL_KIND, "metadata": {}, "status": state, **extra}


async def time_dial(client: Any) -> dict[str, Any]:
    """The control plane's time dial (``time_dial_object``)."""
    return await client.request("GET", TIMEDIAL_PATH)


async def turn_time_dial(client: Any, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """``pause`` (``{"realTimeTimers": true}``), ``resume``, ``step`` (``{"count": N}``) or ``speed``
    (``{"speed": "0.25x"}``); the answer is the dial after the turn (``time_dial_object``)."""
    if action not in TIMEDIAL_ACTIONS:
        raise ValueError(f"unknown time dial action {action!r}: one of {', '.join(TIMEDIAL_ACTIONS)}")
    return await client.request("POST", f"{TIMEDIAL_PATH}/{action}", body=body or {})


def control_plane_status_object(*, served_by: str, topology: str, nodes: list[dict[str, Any]],
                                store: dict[str, Any], etcd: dict[str, Any] | None,
                                api_servers: list[dict[str, Any]], recent: list[str],
                                leases: list[dict[str, Any]], errors: list[str]) -> dict[str, Any]:
    """``GET .../controlplanestatus``:

    - ``servedBy``: the control-plane node whose API server answered this request;
    - ``topology``: ``stacked-etcd`` (kubeadm's HA layout: each control-plane node runs an etcd member)
      or ``single`` (one control plane in one process);
    - ``nodes``: per control-plane node ``name``, ``process`` (Running, Starting, Down), ``apiServer``
      (address), ``apiServerReady`` (its /readyz as the load balancer last saw it), ``etcdMember``,
      ``etcdHealthy``, ``etcdLeader``, ``leads`` (the Leases it holds);
    - ``store``: ``backend`` (etcd or tinydb) and ``revision``;
    - ``etcd``: ``kubetui.store.etcdstatus.summarize``'s answer (members with ``isLeader``, ``raftTerm``,
      ``raftIndex``, ``dbSize``, ``healthy``, ``errors``; ``leader``, ``quorum``, ``reachableMembers``,
      ``hasQuorum``), or None;
    - ``apiServers``: per API server ``node``, ``address``, ``healthy``, ``connections`` (open), ``served``
      (connections taken since the start); ``recentRequests``: the node each of the load balancer's latest
      connections went to, newest last;
    - ``leases``: ``name``, ``holderIdentity``, ``holderNode``, ``renewTime``, ``acquireTime``,
      ``leaseDurationSeconds``, ``leaseTransitions``;
    - ``errors``: what could not be read (an etcd that does not answer, a load balancer gone).
    """
    return {"apiVersion": CONTROLPLANE_VERSION, "kind": CONTROLPLANE_STATUS_KIND, "metadata": {},
            "servedBy": served_by, "topology": topology, "nodes": nodes, "store": store, "etcd": etcd,
            "apiServers": api_servers, "recentRequests": recent, "leases": leases, "errors": errors}


async def control_plane_status(client: Any) -> dict[str, Any]:
    """The control plane as a whole (``control_plane_status_object``)."""
    return await client.request("GET", CONTROLPLANE_STATUS_PATH)
