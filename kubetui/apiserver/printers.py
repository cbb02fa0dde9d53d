"""Printers: the columns ``kubectl get`` shows for each kind, and how each cell is computed.

Upstream: ``pkg/printers/internalversion/printers.go`` (``podColumnDefinitions``,
``printPod``, ``printDeployment``...) and ``k8s.io/apimachinery/pkg/util/duration``
(``HumanDuration``). Each ``*_row`` returns every cell, wide ones included,
in upstream's order; ``tables.py`` assembles them into a ``Table``.
"""

from __future__ import annotations

from typing import Any

from kubetui.clock import parse_rfc3339

NAME_DESC = ("Name must be unique within a namespace. Is required when creating resources, although "
             "some resources may allow a client to request the generation of an appropriate name "
             "automatically. Name is primarily intended for creation idempotence and configuration "
             "definition. Cannot be updated. More info: "
             "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")
AGE_DESC = ("CreationTimestamp is a timestamp representing the server time when this object was "
            "created. It is not guaranteed to be set in happens-before order across separate operations. "
            "Clients may not set this value. It is represented in RFC3339 form and is in UTC.")


def human_duration(seconds: float) -> str:
    """``duration.HumanDuration`` from apimachinery: ``45s``, ``5m2s``, ``3h10m``, ``3d4h``, ``2y3d``.

    >>> human_duration(302), human_duration(3 * 86400 + 4 * 3600)
    ('5m2s', '3d4h')
    """
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        sec = s % 60
        return f"{minutes}m" if sec == 0 else f"{minutes}m{sec}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def since(ts: str | None, now: float) -> str:
    """``translateTimestampSince``: ``<unknown>`` for a missing timestamp."""
    if not ts:
        return "<unknown>"
    try:
        return human_duration(now - parse_rfc3339(ts))
    except ValueError:
        return "<unknown>"


def _col(name: str, type_: str = "string", *, priority: int = 0, fmt: str = "", desc: str = "") -> dict:
    return {"name": name, "type": type_, "format": fmt, "description": desc, "priority": priority}


NAME_COL = _col("Name", fmt="name", desc=NAME_DESC)
AGE_COL = _col("Age", desc=AGE_DESC)


def _none(value: Any) -> str:
    return str(value) if value not in (None, "", []) else "<none>"


def format_labels(labels: dict[str, str] | None) -> str:
    """``labels.FormatLabels``: sorted ``k=v`` joined by commas, ``<none>`` if empty."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def format_label_selector(sel: dict | None) -> str:
    """``metav1.FormatLabelSelector``: ``app=web,tier in (a,b)``; ``<none>`` if empty."""
    if not sel:
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for expr in sel.get("matchExpressions") or []:
        op, key, vals = expr.get("operator"), expr.get("key"), expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(vals)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(vals)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts) if parts else "<none>"


# -- pods ----------------------------------------------------------------------

POD_COLUMNS = [
    NAME_COL,
    _col("Ready", desc="The aggregate readiness state of this pod for accepting traffic."),
    _col("Status", desc="The aggregate status of the containers in this pod."),
    _col("Restarts", desc="The number of times the containers in this pod have been restarted "
                          "and when the last container in this pod has restarted."),
    AGE_COL,
    _col("IP", priority=1, desc="IP address allocated to the pod. Routable at least within the cluster."),
    _col("Node", priority=1, desc="NodeName is a request to schedule this pod onto a specific node."),
    _col("Nominated Node", priority=1, desc="nominatedNodeName is set when this pod preempts other pods "
                                            "on the node."),
    _col("Readiness Gates", priority=1, desc="If specified, all readiness gates will be evaluated for "
                                             "pod readiness."),
]


def _is_restartable_init(c: dict | None) -> bool:
    return bool(c) and c.get("restartPolicy") == "Always"


def pod_status_reason(pod: dict) -> tuple[str, int, int, int, float | None]:
    """printPod's core: (STATUS, ready, total, restarts, last restart time).

    STATUS is what ``kubectl get pods`` shows: the phase, overridden by the
    reason a container is waiting (``ContainerCreating``, ``CrashLoopBackOff``,
    ``ImagePullBackOff``) or terminated (``OOMKilled``, ``Completed``,
    ``Error``), ``Init:0/1`` while init containers run, ``Terminating`` once
    deletion started.
    """
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    meta = pod.get("metadata") or {}
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    init_specs = {c.get("name"): c for c in spec.get("initContainers") or []}
    total = len(spec.get("containers") or []) + sum(1 for c in init_specs.values() if _is_restartable_init(c))
    ready = restarts = sidecar_restarts = 0
    last_restart: float | None = None
    last_sidecar_restart: float | None = None

    def finished_at(cs: dict) -> float | None:
        term = ((cs.get("lastState") or {}).get("terminated") or {})
        return parse_rfc3339(term["finishedAt"]) if term.get("finishedAt") else None

    initializing = False
    n_init = len(spec.get("initContainers") or [])
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        restarts += int(cs.get("restartCount") or 0)
        fin = finished_at(cs)
        if fin is not None and (last_restart is None or fin > last_restart):
            last_restart = fin
        sidecar = _is_restartable_init(init_specs.get(cs.get("name")))
        if sidecar:
            sidecar_restarts += int(cs.get("restartCount") or 0)
            if fin is not None and (last_sidecar_restart is None or fin > last_sidecar_restart):
                last_sidecar_restart = fin
        state = cs.get("state") or {}
        term, wait = state.get("terminated"), state.get("waiting")
        if term is not None and int(term.get("exitCode") or 0) == 0:
            continue
        if sidecar and cs.get("started"):
            if cs.get("ready"):
                ready += 1
            continue
        if term is not None:
            if not term.get("reason"):
                reason = (f"Init:Signal:{term['signal']}" if term.get("signal")
                          else f"Init:ExitCode:{int(term.get('exitCode') or 0)}")
            else:
                reason = "Init:" + term["reason"]
        elif wait is not None and wait.get("reason") and wait.get("reason") != "PodInitializing":
            reason = "Init:" + wait["reason"]
        else:
            reason = f"Init:{i}/{n_init}"
        initializing = True
        break

    initialized = any(c.get("type") == "Initialized" and c.get("status") == "True"
                      for c in status.get("conditions") or [])
    if not initializing or initialized:
        restarts, last_restart = sidecar_restarts, last_sidecar_restart
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += int(cs.get("restartCount") or 0)
            fin = finished_at(cs)
            if fin is not None and (last_restart is None or fin > last_restart):
                last_restart = fin
            state = cs.get("state") or {}
            wait, term = state.get("waiting"), state.get("terminated")
            if wait is not None and wait.get("reason"):
                reason = wait["reason"]
            elif term is not None and term.get("reason"):
                reason = term["reason"]
            elif term is not None:
                reason = (f"Signal:{term['signal']}" if term.get("signal")
                          else f"ExitCode:{int(term.get('exitCode') or 0)}")
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            pod_ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                            for c in status.get("conditions") or [])
            reason = "Running" if pod_ready else "NotReady"

    if meta.get("deletionTimestamp") and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif meta.get("deletionTimestamp") and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    return reason, ready, total, restarts, last_restart


def pod_row(pod: dict, now: float) -> list[Any]:
    reason, ready, total, restarts, last = pod_status_reason(pod)
    restarts_s = str(restarts)
    if restarts and last is not None:
        restarts_s = f"{restarts} ({human_duration(now - last)} ago)"
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    ips = status.get("podIPs") or []
    ip = ips[0].get("ip") if ips else status.get("podIP")
    gates = spec.get("readinessGates") or []
    gates_s = "<none>"
    if gates:
        conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        ok = sum(1 for g in gates if conds.get(g.get("conditionType")) == "True")
        gates_s = f"{ok}/{len(gates)}"
    return [pod["metadata"]["name"], f"{ready}/{total}", reason, restarts_s,
            since(pod["metadata"].get("creationTimestamp"), now),
            _none(ip), _none(spec.get("nodeName")), _none(status.get("nominatedNodeName")), gates_s]


# -- workloads ----------------------------------------------------------------

def _containers_images(template: dict) -> tuple[str, str]:
    cs = ((template or {}).get("spec") or {}).get("containers") or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


WORKLOAD_WIDE = [
    _col("Containers", priority=1, desc="Names of each container in the template."),
    _col("Images", priority=1, desc="Images referenced by each container in the template."),
    _col("Selector", priority=1, desc="Label selector for pods."),
]

DEPLOYMENT_COLUMNS = [
    NAME_COL,
    _col("Ready", desc="Number of the pod with ready state"),
    _col("Up-to-date", "integer", desc="Total number of non-terminated pods targeted by this deployment "
                                       "that have the desired template spec."),
    _col("Available", "integer", desc="Total number of available pods (ready for at least minReadySeconds) "
                                      "targeted by this deployment."),
    AGE_COL, *WORKLOAD_WIDE,
]


def deployment_row(d: dict, now: float) -> list[Any]:
    spec, st = d.get("spec") or {}, d.get("status") or {}
    containers, images = _containers_images(spec.get("template"))
    replicas = spec.get("replicas", 1)
    return [d["metadata"]["name"], f"{int(st.get('readyReplicas') or 0)}/{replicas}",
            int(st.get("updatedReplicas") or 0), int(st.get("availableReplicas") or 0),
            since(d["metadata"].get("creationTimestamp"), now), containers, images,
            format_label_selector(spec.get("selector"))]


REPLICASET_COLUMNS = [
    NAME_COL,
    _col("Desired", "integer", desc="Replicas is the number of desired replicas."),
    _col("Current", "integer", desc="Replicas is the most recently observed number of replicas."),
    _col("Ready", "integer", desc="The number of ready replicas for this replica set."),
    AGE_COL, *WORKLOAD_WIDE,
]


def replicaset_row(rs: dict, now: float) -> list[Any]:
    spec, st = rs.get("spec") or {}, rs.get("status") or {}
    containers, images = _containers_images(spec.get("template"))
    return [rs["metadata"]["name"], int(spec.get("replicas", 1)), int(st.get("replicas") or 0),
            int(st.get("readyReplicas") or 0), since(rs["metadata"].get("creationTimestamp"), now),
            containers, images, format_label_selector(spec.get("selector"))]


# -- services and endpoints -----------------------------------------------------

SERVICE_COLUMNS = [
    NAME_COL,
    _col("Type", desc="type determines how the Service is exposed."),
    _col("Cluster-IP", desc="clusterIP is the IP address of the service and is usually assigned randomly."),
    _col("External-IP", desc="externalIPs is a list of IP addresses for which nodes in the cluster will "
                             "also accept traffic for this service."),
    _col("Port(s)", desc="The list of ports that are exposed by this service."),
    AGE_COL,
    _col("Selector", priority=1, desc="Route service traffic to pods with label keys and values "
                                      "matching this selector."),
]


def _service_external_ip(svc: dict) -> str:
    spec = svc.get("spec") or {}
    stype = spec.get("type") or "ClusterIP"
    ext = list(spec.get("externalIPs") or [])
    if stype in ("ClusterIP", "NodePort"):
        return ",".join(ext) if ext else "<none>"
    if stype == "LoadBalancer":
        ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        ips = [i.get("ip") or i.get("hostname") for i in ingress if i.get("ip") or i.get("hostname")]
        ips += ext
        return ",".join(ips) if ips else "<pending>"
    if stype == "ExternalName":
        return spec.get("externalName") or "<none>"
    return "<unknown>"


def _service_ports(ports: list[dict]) -> str:
    out = []
    for p in ports:
        s = f"{p.get('port')}/{p.get('protocol', 'TCP')}"
        if p.get("nodePort"):
            s = f"{p.get('port')}:{p['nodePort']}/{p.get('protocol', 'TCP')}"
        out.append(s)
    return ",".join(out) if out else "<none>"


def service_row(svc: dict, now: float) -> list[Any]:
    spec = svc.get("spec") or {}
    cips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return [svc["metadata"]["name"], spec.get("type") or "ClusterIP", cips[0] if cips else "<none>",
            _service_external_ip(svc), _service_ports(spec.get("ports") or []),
            since(svc["metadata"].get("creationTimestamp"), now), format_labels(spec.get("selector"))]


ENDPOINTS_COLUMNS = [NAME_COL, _col("Endpoints", desc="Endpoints of this service"), AGE_COL]


def format_endpoints(ep: dict) -> str:
    """``formatEndpoints``: up to three ``ip:port``, then `` + N more...``."""
    subsets = ep.get("subsets") or []
    if not subsets:
        return "<none>"
    shown: list[str] = []
    more, count, limit = False, 0, 3
    for ss in subsets:
        addrs = ss.get("addresses") or []
        ports = ss.get("ports") or []
        if not ports:
            count += len(addrs)
            for a in addrs:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(a.get("ip", ""))
            continue
        for port in ports:
            count += len(addrs)
            for a in addrs:
                if len(shown) == limit:
                    more = True
                    break
                ip = a.get("ip", "")
                host = f"[{ip}]" if ":" in ip else ip
                shown.append(f"{host}:{port.get('port')}")
    ret = ",".join(shown)
    if more:
        return f"{ret} + {count - limit} more..."
    return ret or "<none>"


def endpoints_row(ep: dict, now: float) -> list[Any]:
    return [ep["metadata"]["name"], format_endpoints(ep), since(ep["metadata"].get("creationTimestamp"), now)]


ENDPOINTSLICE_COLUMNS = [
    NAME_COL,
    _col("AddressType", desc="addressType specifies the type of address carried by this EndpointSlice."),
    _col("Ports", desc="ports specifies the list of network ports exposed by each endpoint in this slice."),
    _col("Endpoints", desc="endpoints is a list of unique endpoints in this slice."),
    AGE_COL,
]


def endpointslice_row(es: dict, now: float) -> list[Any]:
    ports = es.get("ports")
    if ports is None:
        ports_s = "<unset>"
    else:
        ps = [str(p["port"]) for p in ports if p.get("port") is not None]
        ports_s = ",".join(ps) if ps else ("<unset>" if not ports else "")
    addrs = [a for e in es.get("endpoints") or [] for a in e.get("addresses") or []]
    eps = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
    return [es["metadata"]["name"], es.get("addressType", ""), ports_s, eps or "<unset>",
            since(es["metadata"].get("creationTimestamp"), now)]


# -- nodes and namespaces ------------------------------------------------------

NODE_COLUMNS = [
    NAME_COL,
    _col("Status", desc="The status of the node"),
    _col("Roles", desc="The roles of the node"),
    AGE_COL,
    _col("Version", desc="Kubelet Version reported by the node."),
    _col("Internal-IP", priority=1, desc="List of addresses reachable to the node."),
    _col("External-IP", priority=1, desc="List of addresses reachable to the node."),
    _col("OS-Image", priority=1, desc="OS Image reported by the node from /etc/os-release "
                                      "(e.g. Debian GNU/Linux 7 (wheezy))."),
    _col("Kernel-Version", priority=1, desc="Kernel Version reported by the node from 'uname -r'."),
    _col("Container-Runtime", priority=1, desc="ContainerRuntime Version reported by the node "
                                               "through runtime remote API (e.g. containerd://1.4.2)."),
]


def node_row(node: dict, now: float) -> list[Any]:
    spec, st = node.get("spec") or {}, node.get("status") or {}
    statuses = []
    for c in st.get("conditions") or []:
        if c.get("type") == "Ready":
            statuses.append("Ready" if c.get("status") == "True" else "NotReady")
    if not statuses:
        statuses.append("Unknown")
    if spec.get("unschedulable"):
        statuses.append("SchedulingDisabled")
    roles = set()
    for k, v in ((node.get("metadata") or {}).get("labels") or {}).items():
        if k.startswith("node-role.kubernetes.io/"):
            roles.add(k[len("node-role.kubernetes.io/"):])
        elif k == "kubernetes.io/role" and v:
            roles.add(v)
    info = st.get("nodeInfo") or {}

    def addr(kind: str) -> str:
        for a in st.get("addresses") or []:
            if a.get("type") == kind:
                return a.get("address", "<none>")
        return "<none>"

    return [node["metadata"]["name"], ",".join(statuses), ",".join(sorted(roles)) or "<none>",
            since(node["metadata"].get("creationTimestamp"), now), info.get("kubeletVersion", ""),
            addr("InternalIP"), addr("ExternalIP"), info.get("osImage") or "<unknown>",
            info.get("kernelVersion") or "<unknown>", info.get("containerRuntimeVersion") or "<unknown>"]


NAMESPACE_COLUMNS = [NAME_COL, _col("Status", desc="The status of the namespace"), AGE_COL]


def namespace_row(ns: dict, now: float) -> list[Any]:
    return [ns["metadata"]["name"], (ns.get("status") or {}).get("phase", ""),
            since(ns["metadata"].get("creationTimestamp"), now)]


# -- config and storage --------------------------------------------------------

CONFIGMAP_COLUMNS = [NAME_COL, _col("Data", "integer", desc="Data contains the configuration data."), AGE_COL]


def configmap_row(cm: dict, now: float) -> list[Any]:
    return [cm["metadata"]["name"], len(cm.get("data") or {}) + len(cm.get("binaryData") or {}),
            since(cm["metadata"].get("creationTimestamp"), now)]


SECRET_COLUMNS = [NAME_COL, _col("Type", desc="The type of the secret"),
                  _col("Data", "integer", desc="The number of entries in the secret"), AGE_COL]


def secret_row(s: dict, now: float) -> list[Any]:
    return [s["metadata"]["name"], s.get("type") or "Opaque", len(s.get("data") or {}),
            since(s["metadata"].get("creationTimestamp"), now)]


SERVICEACCOUNT_COLUMNS = [NAME_COL, _col("Secrets", "integer", desc="Secrets is a list of the secrets "
                                         "in the same namespace that pods running using this "
                                         "ServiceAccount are allowed to use."), AGE_COL]


def serviceaccount_row(sa: dict, now: float) -> list[Any]:
    return [sa["metadata"]["name"], len(sa.get("secrets") or []),
            since(sa["metadata"].get("creationTimestamp"), now)]


_ACCESS = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}


def _access_modes(modes: list[str] | None) -> str:
    return ",".join(_ACCESS.get(m, m) for m in modes or [])


PV_COLUMNS = [
    NAME_COL, _col("Capacity"), _col("Access Modes"), _col("Reclaim Policy"), _col("Status"),
    _col("Claim"), _col("StorageClass"), _col("VolumeAttributesClass"), _col("Reason"), AGE_COL,
    _col("VolumeMode", priority=1),
]


def pv_row(pv: dict, now: float) -> list[Any]:
    spec, st = pv.get("spec") or {}, pv.get("status") or {}
    ref = spec.get("claimRef") or {}
    claim = f"{ref.get('namespace')}/{ref.get('name')}" if ref else ""
    return [pv["metadata"]["name"], (spec.get("capacity") or {}).get("storage", ""),
            _access_modes(spec.get("accessModes")), spec.get("persistentVolumeReclaimPolicy", ""),
            st.get("phase", ""), claim, spec.get("storageClassName", ""),
            spec.get("volumeAttributesClassName") or "<unset>", st.get("reason", ""),
            since(pv["metadata"].get("creationTimestamp"), now), spec.get("volumeMode") or "<unset>"]


PVC_COLUMNS = [
    NAME_COL, _col("Status"), _col("Volume"), _col("Capacity"), _col("Access Modes"), _col("StorageClass"),
    _col("VolumeAttributesClass"), AGE_COL, _col("VolumeMode", priority=1),
]


def pvc_row(pvc: dict, now: float) -> list[Any]:
    spec, st = pvc.get("spec") or {}, pvc.get("status") or {}
    bound = st.get("phase") == "Bound"
    return [pvc["metadata"]["name"], st.get("phase", ""), spec.get("volumeName", ""),
            (st.get("capacity") or {}).get("storage", "") if bound else "",
            _access_modes(st.get("accessModes")) if bound else "", spec.get("storageClassName") or "",
            spec.get("volumeAttributesClassName") or "<unset>",
            since(pvc["metadata"].get("creationTimestamp"), now), spec.get("volumeMode") or "<unset>"]


STORAGECLASS_COLUMNS = [NAME_COL, _col("Provisioner"), _col("ReclaimPolicy"), _col("VolumeBindingMode"),
                        _col("AllowVolumeExpansion"), AGE_COL]


def storageclass_row(sc: dict, now: float) -> list[Any]:
    meta = sc["metadata"]
    name = meta["name"]
    ann = meta.get("annotations") or {}
    if ann.get("storageclass.kubernetes.io/is-default-class") == "true" or \
            ann.get("storageclass.beta.kubernetes.io/is-default-class") == "true":
        name += " (default)"
    return [name, sc.get("provisioner", ""), sc.get("reclaimPolicy") or "Delete",
            sc.get("volumeBindingMode") or "Immediate", str(bool(sc.get("allowVolumeExpansion"))).lower(),
            since(meta.get("creationTimestamp"), now)]


LEASE_COLUMNS = [NAME_COL, _col("Holder", desc="HolderIdentity contains the identity of the holder "
                                               "of a current lease."), AGE_COL]


def lease_row(lease: dict, now: float) -> list[Any]:
    return [lease["metadata"]["name"], (lease.get("spec") or {}).get("holderIdentity", ""),
            since(lease["metadata"].get("creationTimestamp"), now)]


# -- events --------------------------------------------------------------------

EVENT_COLUMNS = [
    _col("Last Seen", desc="Time when last event was observed"),
    _col("Type", desc="Type of this event (Normal, Warning), new types could be added in the future"),
    _col("Reason", desc="This should be a short, machine understandable string that gives the reason "
                        "for the transition into the object's current status."),
    _col("Object", desc="The object that this event is about."),
    _col("Subobject", priority=1, desc="Specific field of the object this event is about."),
    _col("Source", priority=1, desc="The component reporting this event."),
    _col("Message", desc="A human-readable description of the status of this operation."),
    _col("First Seen", priority=1, desc="The time at which the event was first recorded."),
    _col("Count", priority=1, desc="The number of times this event has occurred."),
    _col("Name", priority=1, fmt="name", desc=NAME_DESC),
]


def event_row(ev: dict, now: float) -> list[Any]:
    first = since(ev.get("firstTimestamp"), now) if ev.get("firstTimestamp") else since(ev.get("eventTime"), now)
    last = since(ev.get("lastTimestamp"), now) if ev.get("lastTimestamp") else first
    count = int(ev.get("count") or 0)
    series = ev.get("series")
    if series:
        last = since(series.get("lastObservedTime"), now)
        count = int(series.get("count") or 0)
    elif count == 0:
        count = 1
    inv = ev.get("involvedObject") or {}
    kind = (inv.get("kind") or "").lower()
    target = f"{kind}/{inv['name']}" if inv.get("name") else kind
    src = ev.get("source") or {}
    if src.get("component"):
        source = src["component"] + (f", {src['host']}" if src.get("host") else "")
    else:
        source = ev.get("reportingComponent") or ""
        if ev.get("reportingInstance"):
            source += f", {ev['reportingInstance']}"
    return [last, ev.get("type", ""), ev.get("reason", ""), target, inv.get("fieldPath", ""), source,
            (ev.get("message") or "").strip(), first, count, ev["metadata"]["name"]]


# -- kinds without a printer ------------------------------------------------------------------

DEFAULT_COLUMNS = [NAME_COL, _col("Created At", "date", desc=AGE_DESC)]


def default_row(obj: dict, now: float) -> list[Any]:
    return [obj["metadata"]["name"], obj["metadata"].get("creationTimestamp", "")]
