"""The columns ``kubectl get`` prints, computed client-side from objects.

Upstream: kubernetes/pkg/printers/internalversion/printers.go (the server-side
Table printers kubectl shows) and k8s.io/apimachinery/pkg/util/duration (the
AGE column). Pure functions, so the resource browser shows what a learner
will see in kubectl and tests can check it against a table of cases.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Callable

Obj = dict[str, Any]


def parse_time(ts: str | None) -> float | None:
    """RFC 3339 (``2024-01-01T10:00:00Z``) to epoch seconds."""
    if not ts:
        return None
    try:
        return _dt.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def human_duration(seconds: float) -> str:
    """kubectl's AGE: ``duration.HumanDuration``.

    >>> [human_duration(s) for s in (5, 119, 150, 600, 3 * 3600 + 120, 30 * 3600, 3 * 86400)]
    ['5s', '119s', '2m30s', '10m', '3h2m', '30h', '3d']
    """
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    s = int(seconds)
    if s < 60 * 2:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rem = s % 60
        return f"{minutes}m{rem}s" if rem else f"{minutes}m"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rem = minutes % 60
        return f"{hours}h{rem}m" if rem else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rem = hours % 24
        return f"{hours // 24}d{rem}h" if rem else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = hours // 24
        rem = days % 365
        return f"{days // 365}y{rem}d" if rem else f"{days // 365}y"
    return f"{hours // (24 * 365)}y"


def age(obj: Obj, now: float, field: str = "creationTimestamp") -> str:
    t = parse_time(obj.get("metadata", {}).get(field))
    return "<unknown>" if t is None else human_duration(now - t)


# -- pods ---------------------------------------------------------------------

def pod_status_reason(pod: Obj) -> str:
    """The STATUS column of ``kubectl get pods`` (printers.go ``printPod``).

    The pod's phase, overridden by the most telling container state: a waiting
    reason (``ContainerCreating``, ``CrashLoopBackOff``, ``ImagePullBackOff``),
    a terminated reason (``OOMKilled``, ``Error``, ``Completed``), and
    ``Terminating`` once a deletion timestamp is set.
    """
    status = pod.get("status", {}) or {}
    reason = status.get("reason") or status.get("phase") or "Pending"
    init_statuses = status.get("initContainerStatuses") or []
    init_total = len(pod.get("spec", {}).get("initContainers") or init_statuses)
    initializing = False
    for i, cs in enumerate(init_statuses):
        state = cs.get("state", {}) or {}
        term = state.get("terminated")
        if term and term.get("exitCode", 0) == 0:
            continue
        initializing = True
        if term:
            reason = "Init:" + (term.get("reason") or f"ExitCode:{term.get('exitCode')}")
        elif (state.get("waiting") or {}).get("reason") not in (None, "", "PodInitializing"):
            reason = "Init:" + state["waiting"]["reason"]
        else:
            reason = f"Init:{i}/{init_total}"
        break
    if not initializing:
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            state = cs.get("state", {}) or {}
            waiting, term = state.get("waiting"), state.get("terminated")
            if waiting and waiting.get("reason"):
                reason = waiting["reason"]
            elif term and term.get("reason"):
                reason = term["reason"]
            elif term:
                reason = f"Signal:{term['signal']}" if term.get("signal") else f"ExitCode:{term.get('exitCode')}"
            elif state.get("running") and cs.get("ready"):
                has_running = True
        if reason == "Completed" and has_running:
            reason = "Running"
    if pod.get("metadata", {}).get("deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    return reason


#: Chip states on the cluster map, in the order a pod usually passes through them.
CHIP_STATES = ("Pending", "ContainerCreating", "Running", "Ready", "CrashLoopBackOff", "OOMKilled",
               "Terminating", "Failed", "Succeeded")


def pod_chip_state(pod: Obj) -> str:
    """One of ``CHIP_STATES``: the STATUS column folded into the colours the map uses.

    ``Running`` means the process runs but the pod is not Ready (a readiness
    probe has not passed yet); ``Ready`` means Services will send it traffic.
    """
    reason = pod_status_reason(pod)
    if reason == "Running":
        conds = {c.get("type"): c.get("status") for c in pod.get("status", {}).get("conditions") or []}
        return "Ready" if conds.get("Ready") == "True" else "Running"
    if reason in CHIP_STATES:
        return reason
    if reason in ("Completed",):
        return "Succeeded"
    if reason.startswith("Init:") or reason in ("PodInitializing",):
        return "ContainerCreating"
    if reason in ("Error", "ContainerStatusUnknown", "Unknown") or reason.startswith(("ExitCode:", "Signal:")):
        return "Failed"
    if reason.endswith("BackOff") or reason in ("ErrImagePull", "CreateContainerError", "RunContainerError"):
        return "CrashLoopBackOff"
    return "Pending"


def pod_ready(pod: Obj) -> str:
    """READY: ready containers / containers, e.g. ``1/2``."""
    total = len(pod.get("spec", {}).get("containers") or [])
    ready = sum(1 for cs in pod.get("status", {}).get("containerStatuses") or [] if cs.get("ready"))
    return f"{ready}/{total}"


def pod_restarts(pod: Obj) -> int:
    return sum(int(cs.get("restartCount") or 0) for cs in pod.get("status", {}).get("containerStatuses") or [])


# -- nodes ----------------------------------------------------------------------

def node_ready(node: Obj) -> str:
    """``Ready``, ``NotReady`` or ``Unknown``, plus ``SchedulingDisabled`` when cordoned."""
    cond = next((c for c in node.get("status", {}).get("conditions") or [] if c.get("type") == "Ready"), None)
    status = "Unknown" if cond is None or cond.get("status") == "Unknown" else (
        "Ready" if cond.get("status") == "True" else "NotReady")
    if node.get("spec", {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    return status


def node_roles(node: Obj) -> str:
    prefix = "node-role.kubernetes.io/"
    roles = sorted(k[len(prefix):] for k in node.get("metadata", {}).get("labels", {}) if k.startswith(prefix))
    return ",".join(r for r in roles if r) or "<none>"


# -- columns per resource ------------------------------------------------------------

def _labels(d: dict[str, str] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in (d or {}).items()) or "<none>"


def _service_ports(svc: Obj) -> str:
    parts = []
    for p in svc.get("spec", {}).get("ports") or []:
        s = str(p.get("port"))
        if p.get("nodePort"):
            s += f":{p['nodePort']}"
        parts.append(f"{s}/{p.get('protocol', 'TCP')}")
    return ",".join(parts) or "<none>"


def _external_ip(svc: Obj) -> str:
    spec = svc.get("spec", {})
    ips = list(spec.get("externalIPs") or [])
    ingress = (svc.get("status", {}).get("loadBalancer") or {}).get("ingress") or []
    ips += [i.get("ip") or i.get("hostname") for i in ingress]
    if ips:
        return ",".join(ips)
    return "<pending>" if spec.get("type") == "LoadBalancer" else "<none>"


def _endpoints(ep: Obj) -> str:
    """ENDPOINTS: up to three ``ip:port`` then ``+ N more...`` (as kubectl)."""
    addrs = []
    for subset in ep.get("subsets") or []:
        ports = subset.get("ports") or [{}]
        for a in subset.get("addresses") or []:
            for p in ports:
                addrs.append(f"{a.get('ip')}:{p['port']}" if p.get("port") else a.get("ip"))
    if not addrs:
        return "<none>"
    shown = ",".join(addrs[:3])
    return shown + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")


def _event_object(ev: Obj) -> str:
    io = ev.get("involvedObject", {}) or {}
    return f"{(io.get('kind') or '').lower()}/{io.get('name', '')}"


def event_last_seen(ev: Obj, now: float) -> str:
    for field in ("lastTimestamp", "eventTime", "firstTimestamp"):
        t = parse_time(ev.get(field))
        if t is not None:
            return human_duration(now - t)
    return age(ev, now)


Column = tuple[str, Callable[[Obj, float], Any]]

COLUMNS: dict[str, list[Column]] = {
    "pods": [
        ("NAME", lambda o, n: o["metadata"]["name"]),
        ("READY", lambda o, n: pod_ready(o)),
        ("STATUS", lambda o, n: pod_status_reason(o)),
        ("RESTARTS", lambda o, n: pod_restarts(o)),
        ("AGE", age),
        ("IP", lambda o, n: o.get("status", {}).get("podIP") or "<none>"),
        ("NODE", lambda o, n: o.get("spec", {}).get("nodeName") or "<none>"),
    ],
    "deployments": [
        ("NAME", lambda o, n: o["metadata"]["name"]),
        ("READY", lambda o, n: f"{o.get('status', {}).get('readyReplicas', 0)}/{o.get('spec', {}).get('replicas', 1)}"),
        ("UP-TO-DATE", lambda o, n: o.get("status", {}).get("updatedReplicas", 0)),
        ("AVAILABLE", lambda o, n: o.get("status", {}).get("availableReplicas", 0)),
        ("AGE", age),
    ],
    "replicasets": [
        ("NAME", lambda o, n: o["metadata"]["name"]),
        ("DESIRED", lambda o, n: o.get("spec", {}).get("replicas", 1)),
        ("CURRENT", lambda o, n: o.get("status", {}).get("replicas", 0)),
        ("READY", lambda o, n: o.get("status", {}).get("readyReplicas", 0)),
        ("AGE", age),
    ],
    "services": [
        ("NAME", lambda o, n: o["metadata"]["name"]),
        ("TYPE", lambda o, n: o.get("spec", {}).get("type", "ClusterIP")),
        ("CLUSTER-IP", lambda o, n: o.get("spec", {}).get("clusterIP") or "<none>"),
        ("EXTERNAL-IP", lambda o, n: _external_ip(o)),
        ("PORT(S)", lambda o, n: _service_ports(o)),
        ("AGE", age),
    ],
    "endpoints": [
        ("NAME", lambda o, n: o["metadata"]["name"]),
        ("ENDPOINTS", lambda o, n: _endpoints(o)),
        ("AGE", age),
    ],
    "nodes": [
        ("NAME", lambda o, n: o["metadata"]["name"]),
        ("STATUS", lambda o, n: node_ready(o)),
        ("ROLES", lambda o, n: node_roles(o)),
        ("AGE", age),
        ("VERSION", lambda o, n: o.get("status", {}).get("nodeInfo", {}).get("kubeletVersion", "")),
    ],
    "configmaps": [
        ("NAME", lambda o, n: o["metadata"]["name"]),
        ("DATA", lambda o, n: len(o.get("data") or {}) + len(o.get("binaryData") or {})),
        ("AGE", age),
    ],
    "secrets": [
        ("NAME", lambda o, n: o["metadata"]["name"]),
        ("TYPE", lambda o, n: o.get("type", "Opaque")),
        ("DATA", lambda o, n: len(o.get("data") or {})),
        ("AGE", age),
    ],
    "events": [
        ("LAST SEEN", event_last_seen),
        ("TYPE", lambda o, n: o.get("type", "")),
        ("REASON", lambda o, n: o.get("reason", "")),
        ("OBJECT", lambda o, n: _event_object(o)),
        ("MESSAGE", lambda o, n: o.get("message", "")),
    ],
    "namespaces": [
        ("NAME", lambda o, n: o["metadata"]["name"]),
        ("STATUS", lambda o, n: o.get("status", {}).get("phase", "Active")),
        ("AGE", age),
    ],
    "persistentvolumes": [
        ("NAME", lambda o, n: o["metadata"]["name"]),
        ("CAPACITY", lambda o, n: o.get("spec", {}).get("capacity", {}).get("storage", "")),
        ("ACCESS MODES", lambda o, n: ",".join(_ACCESS.get(m, m) for m in o.get("spec", {}).get("accessModes") or [])),
        ("RECLAIM POLICY", lambda o, n: o.get("spec", {}).get("persistentVolumeReclaimPolicy", "")),
        ("STATUS", lambda o, n: o.get("status", {}).get("phase", "")),
        ("CLAIM", lambda o, n: "/".join(filter(None, [(o.get("spec", {}).get("claimRef") or {}).get(k) for k in ("namespace", "name")]))),
        ("STORAGECLASS", lambda o, n: o.get("spec", {}).get("storageClassName", "")),
        ("AGE", age),
    ],
    "persistentvolumeclaims": [
        ("NAME", lambda o, n: o["metadata"]["name"]),
        ("STATUS", lambda o, n: o.get("status", {}).get("phase", "")),
        ("VOLUME", lambda o, n: o.get("spec", {}).get("volumeName", "")),
        ("CAPACITY", lambda o, n: (o.get("status", {}).get("capacity") or {}).get("storage", "")),
        ("ACCESS MODES", lambda o, n: ",".join(_ACCESS.get(m, m) for m in o.get("status", {}).get("accessModes") or [])),
        ("STORAGECLASS", lambda o, n: o.get("spec", {}).get("storageClassName", "")),
        ("AGE", age),
    ],
}

_ACCESS = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}

GENERIC_COLUMNS: list[Column] = [("NAME", lambda o, n: o["metadata"]["name"]), ("AGE", age)]


def columns_for(resource: str) -> list[Column]:
    return COLUMNS.get(resource, GENERIC_COLUMNS)


def row_for(resource: str, obj: Obj, now: float, *, with_namespace: bool = False) -> list[str]:
    """One table row, as strings, in ``columns_for(resource)`` order (NAMESPACE first with -A)."""
    cells = [str(fn(obj, now)) for _, fn in columns_for(resource)]
    if with_namespace:
        cells.insert(0, obj.get("metadata", {}).get("namespace", ""))
    return cells


def headers_for(resource: str, *, with_namespace: bool = False) -> list[str]:
    names = [name for name, _ in columns_for(resource)]
    return (["NAMESPACE"] + names) if with_namespace else names
