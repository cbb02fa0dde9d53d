"""The control plane as a whole, for the TUI's control-plane view: nodes, etcd members, API servers, leaders.

Upstream there is no one place to see this; an operator of a kubeadm HA
cluster puts it together from four tools, and this is what each contributes:

- ``kubectl get nodes -l node-role.kubernetes.io/control-plane`` and the
  static pods on them: which control-plane nodes run;
- ``etcdctl member list`` and ``etcdctl endpoint status --cluster -w table``:
  the etcd members, which one leads, the raft term and index, the DB size;
- the load balancer's stats page (HAProxy's ``stats uri``): which API servers
  pass their ``/readyz`` check and how many connections each one took;
- ``kubectl get lease -n kube-system``: which kube-scheduler and
  kube-controller-manager instance holds its Lease, and when it last renewed it.

kubetui serves them together as ``GET /apis/controlplane.kubetui.dev/v1alpha1/
controlplanestatus`` (shape: ``kubetui.client.views.control_plane_status_object``),
answered by whichever API server the load balancer picked (``servedBy``).
Everything here is read from caches or asked with short timeouts, so the view
keeps answering while etcd has lost its quorum: that is when a learner looks.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from kubetui.api.resources import resource_for
from kubetui.client.views import LEADER_LEASES, control_plane_status_object
from kubetui.cluster.ha import APILB_FILE, DOCKER_NODES_FILE, MEMBERS_DIR, member_alive, read_members

if TYPE_CHECKING:
    from kubetui.cluster.controlplane import ControlPlane

log = logging.getLogger(__name__)

#: ``fetch(address, path) -> JSON`` (plain HTTP on loopback), or ``{"error": ...}``
Fetch = Callable[[str, str], Awaitable[dict[str, Any]]]


def lease_rows(leases: dict[str, dict[str, Any] | None]) -> list[dict[str, Any]]:
    """Each leader-election Lease's holder: identity ``<node>_<uuid>`` (upstream's ``hostname_uuid``).

    >>> lease_rows({"kube-scheduler": {"spec": {"holderIdentity": "lab-control-plane2_1f", "leaseTransitions": 1}}})[0]["holderNode"]
    'lab-control-plane2'
    """
    rows = []
    for name, lease in leases.items():
        spec = (lease or {}).get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        rows.append({"name": name, "namespace": "kube-system", "holderIdentity": holder,
                     "holderNode": holder.rpartition("_")[0] if "_" in holder else holder,
                     "acquireTime": spec.get("acquireTime") or "", "renewTime": spec.get("renewTime") or "",
                     "leaseDurationSeconds": spec.get("leaseDurationSeconds"),
                     "leaseTransitions": int(spec.get("leaseTransitions") or 0), "found": lease is not None})
    return rows


def backend_nodes(members: dict[str, dict[str, Any]], docker_nodes: dict[str, dict[str, Any]] | None = None
                  ) -> dict[str, str]:
    """``"127.0.0.1:port"`` (the load balancer's backend) -> control-plane node name. Control-plane containers'
    API servers are backends at the port each publishes on the host (``docker_nodes``: ``docker-nodes.json``).

    >>> backend_nodes({"a": {"port": 6443}}, {"a": {"apiPort": 41000}})
    {'127.0.0.1:41000': 'a'}
    """
    if docker_nodes:
        return {f"127.0.0.1:{rec['apiPort']}": node for node, rec in docker_nodes.items() if rec.get("apiPort")}
    return {f"127.0.0.1:{rec['port']}": node for node, rec in members.items() if rec.get("port")}


def _docker_nodes(state: Path) -> dict[str, dict[str, Any]]:
    try:
        return json.loads((state / MEMBERS_DIR / DOCKER_NODES_FILE).read_text())
    except (OSError, ValueError):
        return {}


def node_rows(members: dict[str, dict[str, Any]], alive: dict[str, bool], api: list[dict[str, Any]],
              etcd: dict[str, Any] | None, leases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per control-plane node: its process, its API server's health, its etcd member, what it leads."""
    api_by_node = {a["node"]: a for a in api}
    etcd_by_name = {m["name"]: m for m in (etcd or {}).get("members") or []}
    rows = []
    for node, rec in sorted(members.items()):
        phase = rec.get("phase") or ""
        up = alive.get(node, False)
        a = api_by_node.get(node)
        m = etcd_by_name.get(node)
        rows.append({"name": node, "pid": rec.get("pid"),
                     "process": "Running" if up and phase == "ready" else ("Starting" if up else "Down"),
                     "apiServer": a["address"] if a else "", "apiServerReady": a["healthy"] if a else None,
                     "etcdMember": node if m else "", "etcdHealthy": m["healthy"] if m else None,
                     "etcdLeader": bool(m and m["isLeader"]),
                     "leads": [r["name"] for r in leases if r["holderNode"] == node]})
    return rows


async def control_plane_status(cp: "ControlPlane", fetch: Fetch) -> dict[str, Any]:
    """The ``ControlPlaneStatus`` this API server answers with (see the module docstring)."""
    errors: list[str] = []
    state = Path(cp.state_dir)
    served_by = cp.node_name or "control-plane"
    store = cp.store
    etcd = None
    if hasattr(store, "cluster_status"):
        try:
            etcd = await store.cluster_status()
        except Exception as e:  # noqa: BLE001 - the view's boundary: say what could not be read
            errors.append(f"etcd: {e}")
    backend = "etcd" if hasattr(store, "cluster_status") else "tinydb"

    leases_res = resource_for("leases")
    found = {}
    for name in LEADER_LEASES:
        kv = cp.registry.store.get(leases_res.key(name, "kube-system"))  # the cache: no quorum needed
        found[name] = kv.value if kv is not None else None
    leases = lease_rows(found)

    members = read_members(state) if (state / MEMBERS_DIR).is_dir() else {}
    api: list[dict[str, Any]] = []
    recent: list[str] = []
    docker_nodes = _docker_nodes(state)
    if members:
        by_address = backend_nodes(members, docker_nodes)
        stats: dict[str, Any] = {}
        try:
            lb = json.loads((state / MEMBERS_DIR / APILB_FILE).read_text())
            stats = await fetch(lb["stats"], "/stats")
        except (OSError, ValueError, KeyError) as e:
            stats = {"error": f"no load balancer record: {e}"}
        if "error" in stats:
            errors.append(f"API load balancer: {stats['error']}")
        for b in stats.get("backends") or []:
            api.append({"node": by_address.get(b["address"], b["address"]), **b})
        recent = [by_address.get(a, a) for a in stats.get("recent") or []]
        if docker_nodes:
            # control-plane containers: this API server sees no other container's processes; a node whose
            # API server the load balancer finds ready runs (a killed or paused one does not)
            ready = {a["node"]: a["healthy"] for a in api}
            alive = {node: bool(ready.get(node)) for node in members}
        else:
            alive = {node: member_alive(rec, node) for node, rec in members.items()}
        nodes = node_rows(members, alive, api, etcd, leases)
    else:
        # one control plane in one process: its API server is the one answering this request
        served = int(getattr(cp.apiserver, "requests_served", 0))
        api = [{"node": served_by, "address": f"{cp.apiserver.host}:{cp.apiserver.port}", "healthy": True,
                "connections": 0, "served": served, "lastError": ""}]
        member = (etcd or {}).get("members") or []
        nodes = [{"name": served_by, "pid": None, "process": "Running", "apiServer": api[0]["address"],
                  "apiServerReady": True, "etcdMember": member[0]["name"] if member else "",
                  "etcdHealthy": member[0]["healthy"] if member else None,
                  "etcdLeader": bool(member and member[0]["isLeader"]),
                  "leads": [r["name"] for r in leases if r["holderIdentity"]]}]
    return control_plane_status_object(
        served_by=served_by, topology="stacked-etcd" if members else "single", nodes=nodes,
        store={"backend": backend, "revision": int(store.revision)}, etcd=etcd, api_servers=api,
        recent=recent, leases=leases, errors=errors)
