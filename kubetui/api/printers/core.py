"""Printers for the core group besides pods: nodes, namespaces, services, endpoints, events, config, storage.

Upstream: ``printNode``, ``printNamespace``, ``printService``, ``printEndpoints``,
``printEvent``, ``printConfigMap``, ``printSecret``, ``printServiceAccount``,
``printPersistentVolume``, ``printPersistentVolumeClaim`` in
``pkg/printers/internalversion/printers.go``. Each ``*_row`` returns every
cell, wide ones included, in upstream's column order.
"""

from __future__ import annotations

from typing import Any

from kubetui.api.printers.common import AGE_COL, NAME_COL, NAME_DESC, age, col, format_labels, since

# -- nodes and namespaces ------------------------------------------------------

NODE_COLUMNS = [
    NAME_COL,
    col("Status", desc="The status of the node"),
    col("Roles", desc="The roles of the node"),
    AGE_COL,
    col("Version", desc="Kubelet Version reported by the node."),
    col("Internal-IP", priority=1, desc="List of addresses reachable to the node."),
    col("External-IP", priority=1, desc="List of addresses reachable to the node."),
    col("OS-Image", priority=1, desc="OS Image reported by the node from /etc/os-release "
                                     "(e.g. Debian GNU/Linux 7 (wheezy))."),
    col("Kernel-Version", priority=1, desc="Kernel Version reported by the node from 'uname -r'."),
    col("Container-Runtime", priority=1, desc="ContainerRuntime Version reported by the node "
                                              "through runtime remote API (e.g. containerd://1.4.2)."),
]


def node_status(node: dict) -> str:
    """STATUS: ``Ready``/``NotReady`` from the Ready condition (``Unknown`` without one), ``,SchedulingDisabled`` if cordoned.

    A Ready condition whose status is ``Unknown`` (the kubelet stopped
    posting) prints ``NotReady``: upstream only asks "is it True?".
    """
    ready = None
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            ready = c  # upstream keeps the last condition of each type
    statuses = ["Unknown"] if ready is None else ["Ready" if ready.get("status") == "True" else "NotReady"]
    if (node.get("spec") or {}).get("unschedulable"):
        statuses.append("SchedulingDisabled")
    return ",".join(statuses)


def node_roles(node: dict) -> str:
    """ROLES: ``node-role.kubernetes.io/<role>`` labels and ``kubernetes.io/role``, sorted; ``<none>``."""
    roles = set()
    for k, v in ((node.get("metadata") or {}).get("labels") or {}).items():
        if k.startswith("node-role.kubernetes.io/"):
            roles.add(k[len("node-role.kubernetes.io/"):])
        elif k == "kubernetes.io/role" and v:
            roles.add(v)
    roles.discard("")
    return ",".join(sorted(roles)) or "<none>"


def node_row(node: dict, now: float) -> list[Any]:
    st = node.get("status") or {}
    info = st.get("nodeInfo") or {}

    def addr(kind: str) -> str:
        for a in st.get("addresses") or []:
            if a.get("type") == kind:
                return a.get("address") or "<none>"
        return "<none>"

    return [node["metadata"].get("name", ""), node_status(node), node_roles(node), age(node, now),
            info.get("kubeletVersion", ""), addr("InternalIP"), addr("ExternalIP"),
            info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>"]


NAMESPACE_COLUMNS = [NAME_COL, col("Status", desc="The status of the namespace"), AGE_COL]


def namespace_row(ns: dict, now: float) -> list[Any]:
    return [ns["metadata"].get("name", ""), (ns.get("status") or {}).get("phase", ""), age(ns, now)]


# -- services and endpoints -----------------------------------------------------

SERVICE_COLUMNS = [
    NAME_COL,
    col("Type", desc="type determines how the Service is exposed."),
    col("Cluster-IP", desc="clusterIP is the IP address of the service and is usually assigned randomly."),
    col("External-IP", desc="externalIPs is a list of IP addresses for which nodes in the cluster will "
                            "also accept traffic for this service."),
    col("Port(s)", desc="The list of ports that are exposed by this service."),
    AGE_COL,
    col("Selector", priority=1, desc="Route service traffic to pods with label keys and values "
                                     "matching this selector."),
]

#: ``loadBalancerWidth``: without -o wide, a long list of load-balancer addresses is clipped.
LOAD_BALANCER_WIDTH = 16


def load_balancer_status(status: dict | None, wide: bool = True) -> str:
    """``loadBalancerStatusStringer``: the ingress IPs (or hostnames), sorted and de-duplicated."""
    result = set()
    for ing in (status or {}).get("ingress") or []:
        if ing.get("ip"):
            result.add(ing["ip"])
        elif ing.get("hostname"):
            result.add(ing["hostname"])
    r = ",".join(sorted(result))
    if not wide and len(r) > LOAD_BALANCER_WIDTH:
        r = r[:LOAD_BALANCER_WIDTH - 3] + "..."
    return r


def service_external_ip(svc: dict, wide: bool = True) -> str:
    """``getServiceExternalIP``. The API server always prints wide (its Tables carry every column)."""
    spec = svc.get("spec") or {}
    stype = spec.get("type") or "ClusterIP"
    ext = list(spec.get("externalIPs") or [])
    if stype in ("ClusterIP", "NodePort"):
        return ",".join(ext) if ext else "<none>"
    if stype == "LoadBalancer":
        lb = load_balancer_status((svc.get("status") or {}).get("loadBalancer"), wide)
        if ext:
            return ",".join(([*lb.split(",")] if lb else []) + ext)
        return lb or "<pending>"
    if stype == "ExternalName":
        return spec.get("externalName", "")
    return "<unknown>"


def service_ports(ports: list[dict] | None) -> str:
    """``makePortString``: ``80/TCP,443:30443/TCP``; ``<none>`` if no ports."""
    out = []
    for p in ports or []:
        proto = p.get("protocol", "TCP")
        out.append(f"{p.get('port')}:{p['nodePort']}/{proto}" if p.get("nodePort") else f"{p.get('port')}/{proto}")
    return ",".join(out) or "<none>"


def service_row(svc: dict, now: float, wide: bool = True) -> list[Any]:
    spec = svc.get("spec") or {}
    cips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return [svc["metadata"].get("name", ""), spec.get("type") or "ClusterIP", cips[0] if cips else "<none>",
            service_external_ip(svc, wide), service_ports(spec.get("ports")), age(svc, now),
            format_labels(spec.get("selector"))]


ENDPOINTS_COLUMNS = [NAME_COL, col("Endpoints", desc="Endpoints of this service"), AGE_COL]


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
    return [ep["metadata"].get("name", ""), format_endpoints(ep), age(ep, now)]


# -- events --------------------------------------------------------------------

EVENT_COLUMNS = [
    col("Last Seen", desc="Time when last event was observed"),
    col("Type", desc="Type of this event (Normal, Warning), new types could be added in the future"),
    col("Reason", desc="This should be a short, machine understandable string that gives the reason "
                       "for the transition into the object's current status."),
    col("Object", desc="The object that this event is about."),
    col("Subobject", priority=1, desc="Specific field of the object this event is about."),
    col("Source", priority=1, desc="The component reporting this event."),
    col("Message", desc="A human-readable description of the status of this operation."),
    col("First Seen", priority=1, desc="The time at which the event was first recorded."),
    col("Count", priority=1, desc="The number of times this event has occurred."),
    col("Name", priority=1, fmt="name", desc=NAME_DESC),
]


def event_source(ev: dict) -> str:
    """``formatEventSource``: component (or reportingComponent), then ``, host`` (or reportingInstance)."""
    src = ev.get("source") or {}
    component = src.get("component") or ev.get("reportingComponent") or ""
    instance = src.get("host") or ev.get("reportingInstance") or ""
    return f"{component}, {instance}" if instance else component


def event_last_seen(ev: dict, now: float) -> str:
    """LAST SEEN: the series' last observation, else lastTimestamp, else first seen."""
    if ev.get("series"):
        return since((ev["series"] or {}).get("lastObservedTime"), now)
    if ev.get("lastTimestamp"):
        return since(ev["lastTimestamp"], now)
    return event_first_seen(ev, now)


def event_first_seen(ev: dict, now: float) -> str:
    return since(ev.get("firstTimestamp") or ev.get("eventTime"), now)


def event_object(ev: dict) -> str:
    """OBJECT: ``pod/web`` (the involved object's kind, lower-cased)."""
    inv = ev.get("involvedObject") or {}
    kind = (inv.get("kind") or "").lower()
    return f"{kind}/{inv['name']}" if inv.get("name") else kind


def event_row(ev: dict, now: float) -> list[Any]:
    series = ev.get("series")
    count = int((series or {}).get("count") or 0) if series else int(ev.get("count") or 0) or 1
    inv = ev.get("involvedObject") or {}
    return [event_last_seen(ev, now), ev.get("type", ""), ev.get("reason", ""), event_object(ev),
            inv.get("fieldPath", ""), event_source(ev), (ev.get("message") or "").strip(),
            event_first_seen(ev, now), count, ev["metadata"].get("name", "")]


# -- config ----------------------------------------------------------------------

CONFIGMAP_COLUMNS = [NAME_COL, col("Data", "integer", desc="Data contains the configuration data."), AGE_COL]


def configmap_row(cm: dict, now: float) -> list[Any]:
    return [cm["metadata"].get("name", ""), len(cm.get("data") or {}) + len(cm.get("binaryData") or {}),
            age(cm, now)]


SECRET_COLUMNS = [NAME_COL, col("Type", desc="The type of the secret"),
                  col("Data", "integer", desc="The number of entries in the secret"), AGE_COL]


def secret_row(s: dict, now: float) -> list[Any]:
    return [s["metadata"].get("name", ""), s.get("type") or "Opaque", len(s.get("data") or {}), age(s, now)]


SERVICEACCOUNT_COLUMNS = [NAME_COL, col("Secrets", "integer", desc="Secrets is a list of the secrets "
                                        "in the same namespace that pods running using this "
                                        "ServiceAccount are allowed to use."), AGE_COL]


def serviceaccount_row(sa: dict, now: float) -> list[Any]:
    return [sa["metadata"].get("name", ""), len(sa.get("secrets") or []), age(sa, now)]


# -- storage ----------------------------------------------------------------------

_ACCESS = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}


def access_modes(modes: list[str] | None) -> str:
    """``storageutil.GetAccessModesAsString``: ``RWO,ROX``."""
    return ",".join(_ACCESS.get(m, m) for m in modes or [])


PV_COLUMNS = [
    NAME_COL, col("Capacity"), col("Access Modes"), col("Reclaim Policy"), col("Status"),
    col("Claim"), col("StorageClass"), col("VolumeAttributesClass"), col("Reason"), AGE_COL,
    col("VolumeMode", priority=1),
]


def pv_row(pv: dict, now: float) -> list[Any]:
    spec, st = pv.get("spec") or {}, pv.get("status") or {}
    ref = spec.get("claimRef") or {}
    claim = f"{ref.get('namespace', '')}/{ref.get('name', '')}" if ref else ""
    # a PV being deleted (held by its pv-protection finalizer) shows Terminating
    phase = "Terminating" if pv["metadata"].get("deletionTimestamp") else st.get("phase", "")
    return [pv["metadata"].get("name", ""), (spec.get("capacity") or {}).get("storage", ""),
            access_modes(spec.get("accessModes")), spec.get("persistentVolumeReclaimPolicy", ""),
            phase, claim, spec.get("storageClassName", ""),
            spec.get("volumeAttributesClassName") or "<unset>", st.get("reason", ""),
            age(pv, now), spec.get("volumeMode") or "<unset>"]


PVC_COLUMNS = [
    NAME_COL, col("Status"), col("Volume"), col("Capacity"), col("Access Modes"), col("StorageClass"),
    col("VolumeAttributesClass"), AGE_COL, col("VolumeMode", priority=1),
]


def pvc_row(pvc: dict, now: float) -> list[Any]:
    spec, st = pvc.get("spec") or {}, pvc.get("status") or {}
    bound = bool(spec.get("volumeName"))  # capacity and modes show once a volume is named
    phase = "Terminating" if pvc["metadata"].get("deletionTimestamp") else st.get("phase", "")
    return [pvc["metadata"].get("name", ""), phase, spec.get("volumeName", ""),
            (st.get("capacity") or {}).get("storage", "") if bound else "",
            access_modes(st.get("accessModes")) if bound else "", spec.get("storageClassName") or "",
            spec.get("volumeAttributesClassName") or "<unset>", age(pvc, now),
            spec.get("volumeMode") or "<unset>"]
