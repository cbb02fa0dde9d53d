"""``kubectl describe``-style text for an object, built client-side.

Upstream: kubectl/pkg/describe/describe.go. The layout (``Name:`` padded
labels, ``Containers:`` nested two spaces, the ``Events:`` table) follows
kubectl so what a learner reads here matches their terminal. Unknown kinds
fall back to a generic describer (metadata, then spec and status).
"""

from __future__ import annotations

from typing import Any, Callable

from kubetui.tui.hpa import describe_hpa
from kubetui.tui.printers import event_last_seen, node_ready, pod_status_reason

from kubetui.tui.describe_policy import DESCRIBERS as POLICY_DESCRIBERS
from kubetui.tui.describe_policy import describe_rc
from kubetui.tui.describe_ingress import describe_ingress
from kubetui.tui.netpol import describe_network_policy

Obj = dict[str, Any]


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def kv(self, key: str, value: Any, indent: int = 0, width: int = 16) -> None:
        pad = " " * indent
        self.lines.append(f"{pad}{key + ':':<{max(width - indent, len(key) + 2)}}{'' if value is None else value}")

    def line(self, text: str, indent: int = 0) -> None:
        self.lines.append(" " * indent + text)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _map(d: dict[str, str] | None, w: _Writer, key: str, width: int = 16) -> None:
    items = list((d or {}).items())
    if not items:
        w.kv(key, "<none>", width=width)
        return
    w.kv(key, f"{items[0][0]}={items[0][1]}", width=width)
    for k, v in items[1:]:
        w.line(f"{'':<{width}}{k}={v}")


def _meta(obj: Obj, w: _Writer, width: int = 16) -> None:
    md = obj.get("metadata", {})
    w.kv("Name", md.get("name"), width=width)
    if md.get("namespace"):
        w.kv("Namespace", md.get("namespace"), width=width)
    _map(md.get("labels"), w, "Labels", width)
    _map(md.get("annotations"), w, "Annotations", width)


def _controlled_by(obj: Obj) -> str | None:
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return f"{ref.get('kind')}/{ref.get('name')}"
    return None


def _describe_pod(pod: Obj, w: _Writer) -> None:
    spec, status, md = pod.get("spec", {}), pod.get("status", {}), pod.get("metadata", {})
    width = 18
    w.kv("Name", md.get("name"), width=width)
    w.kv("Namespace", md.get("namespace"), width=width)
    w.kv("Priority", spec.get("priority", 0), width=width)
    w.kv("Service Account", spec.get("serviceAccountName", "default"), width=width)
    node = spec.get("nodeName")
    w.kv("Node", f"{node}/{status.get('hostIP') or ''}" if node else "<none>", width=width)
    if status.get("startTime"):
        w.kv("Start Time", status["startTime"], width=width)
    _map(md.get("labels"), w, "Labels", width)
    _map(md.get("annotations"), w, "Annotations", width)
    if md.get("deletionTimestamp"):
        w.kv("Status", f"Terminating (lasts {md.get('deletionGracePeriodSeconds', 30)}s)", width=width)
        w.kv("Termination Grace Period", f"{spec.get('terminationGracePeriodSeconds', 30)}s", width=width)
    else:
        w.kv("Status", status.get("phase", "Pending"), width=width)
    if status.get("reason"):
        w.kv("Reason", status["reason"], width=width)
    w.kv("IP", status.get("podIP") or "", width=width)
    if _controlled_by(pod):
        w.kv("Controlled By", _controlled_by(pod), width=width)
    w.line("Containers:")
    statuses = {cs.get("name"): cs for cs in status.get("containerStatuses") or []}
    for c in spec.get("containers") or []:
        cs = statuses.get(c.get("name"), {})
        w.line(f"{c.get('name')}:", 2)
        # upstream's describeContainerBasicInfo: the IDs only once the kubelet reported the container
        if cs:
            w.kv("Container ID", cs.get("containerID", ""), 4, 20)
        w.kv("Image", c.get("image"), 4, 20)
        if cs:
            w.kv("Image ID", cs.get("imageID", ""), 4, 20)
        ports = c.get("ports") or []
        w.kv("Port", ", ".join(f"{p.get('containerPort')}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>", 4, 20)
        state = cs.get("state") or {}
        if "running" in state:
            w.kv("State", "Running", 4, 20)
            w.kv("Started", state["running"].get("startedAt", ""), 6, 20)
        elif "waiting" in state:
            w.kv("State", "Waiting", 4, 20)
            w.kv("Reason", state["waiting"].get("reason", ""), 6, 20)
        elif "terminated" in state:
            t = state["terminated"]
            w.kv("State", "Terminated", 4, 20)
            w.kv("Reason", t.get("reason", ""), 6, 20)
            w.kv("Exit Code", t.get("exitCode", ""), 6, 20)
        else:
            w.kv("State", "Waiting", 4, 20)
        last = (cs.get("lastState") or {}).get("terminated")
        if last:
            w.kv("Last State", "Terminated", 4, 20)
            w.kv("Reason", last.get("reason", ""), 6, 20)
            w.kv("Exit Code", last.get("exitCode", ""), 6, 20)
        w.kv("Ready", str(bool(cs.get("ready"))), 4, 20)
        w.kv("Restart Count", cs.get("restartCount", 0), 4, 20)
        res = c.get("resources") or {}
        for section in ("limits", "requests"):
            if res.get(section):
                w.line(f"{section.capitalize()}:", 4)
                for k, v in res[section].items():
                    w.kv(k, v, 6, 20)
        env = c.get("env") or []
        w.kv("Environment", "<none>" if not env else "", 4, 20)
        for e in env:
            w.line(f"{e.get('name')}:  {e.get('value', '<set from a reference>')}", 6)
    w.line("Conditions:")
    w.line(f"{'Type':<26}Status", 2)
    for cond in status.get("conditions") or []:
        w.line(f"{cond.get('type', ''):<26}{cond.get('status', '')}", 2)
    w.kv("QoS Class", status.get("qosClass", "BestEffort"), width=29)
    _map(spec.get("nodeSelector"), w, "Node-Selectors", 29)
    tols = spec.get("tolerations") or []
    w.kv("Tolerations", "<none>" if not tols else _toleration(tols[0]), width=29)
    for t in tols[1:]:
        w.line(f"{'':<29}{_toleration(t)}")


def _toleration(t: Obj) -> str:
    s = t.get("key", "")
    if t.get("operator") == "Equal" or t.get("value"):
        s += f"={t.get('value', '')}"
    if t.get("effect"):
        s += f":{t['effect']}"
    if t.get("tolerationSeconds") is not None:
        s += f" for {t['tolerationSeconds']}s"
    return s or "op=Exists"


def _describe_deployment(d: Obj, w: _Writer) -> None:
    spec, status = d.get("spec", {}), d.get("status", {})
    _meta(d, w, 24)
    w.kv("Selector", ",".join(f"{k}={v}" for k, v in (spec.get("selector", {}).get("matchLabels") or {}).items()), width=24)
    w.kv("Replicas", f"{spec.get('replicas', 1)} desired | {status.get('updatedReplicas', 0)} updated | "
         f"{status.get('replicas', 0)} total | {status.get('availableReplicas', 0)} available | "
         f"{status.get('unavailableReplicas', 0)} unavailable", width=24)
    strategy = spec.get("strategy", {})
    w.kv("StrategyType", strategy.get("type", "RollingUpdate"), width=24)
    w.kv("MinReadySeconds", spec.get("minReadySeconds", 0), width=24)
    ru = strategy.get("rollingUpdate")
    if ru:
        w.kv("RollingUpdateStrategy", f"{ru.get('maxUnavailable', '25%')} max unavailable, "
             f"{ru.get('maxSurge', '25%')} max surge", width=24)
    _template(spec.get("template", {}), w)
    _conditions(status, w)


def _describe_replicaset(rs: Obj, w: _Writer) -> None:
    spec, status = rs.get("spec", {}), rs.get("status", {})
    _meta(rs, w, 16)
    w.kv("Selector", ",".join(f"{k}={v}" for k, v in (spec.get("selector", {}).get("matchLabels") or {}).items()))
    if _controlled_by(rs):
        w.kv("Controlled By", _controlled_by(rs))
    w.kv("Replicas", f"{status.get('replicas', 0)} current / {spec.get('replicas', 1)} desired")
    w.kv("Pods Status", f"{status.get('readyReplicas', 0)} Running / 0 Waiting / 0 Succeeded / 0 Failed")
    _template(spec.get("template", {}), w)


def _template(tmpl: Obj, w: _Writer) -> None:
    w.line("Pod Template:")
    labels = ",".join(f"{k}={v}" for k, v in (tmpl.get("metadata", {}).get("labels") or {}).items())
    w.kv("Labels", labels or "<none>", 2, 16)
    w.line("Containers:", 2)
    for c in tmpl.get("spec", {}).get("containers") or []:
        w.line(f"{c.get('name')}:", 3)
        w.kv("Image", c.get("image"), 4, 16)


def _conditions(status: Obj, w: _Writer) -> None:
    conds = status.get("conditions") or []
    if conds:
        w.line("Conditions:")
        w.line(f"{'Type':<16}{'Status':<8}Reason", 2)
        w.line(f"{'----':<16}{'------':<8}------", 2)
        for c in conds:
            w.line(f"{c.get('type', ''):<16}{c.get('status', ''):<8}{c.get('reason', '')}", 2)


def _describe_service(svc: Obj, w: _Writer) -> None:
    spec = svc.get("spec", {})
    _meta(svc, w, 19)
    w.kv("Selector", ",".join(f"{k}={v}" for k, v in (spec.get("selector") or {}).items()) or "<none>", width=19)
    w.kv("Type", spec.get("type", "ClusterIP"), width=19)
    w.kv("IP", spec.get("clusterIP", ""), width=19)
    for p in spec.get("ports") or []:
        w.kv("Port", f"{p.get('name') or '<unset>'}  {p.get('port')}/{p.get('protocol', 'TCP')}", width=19)
        w.kv("TargetPort", f"{p.get('targetPort', p.get('port'))}/{p.get('protocol', 'TCP')}", width=19)
    w.kv("Session Affinity", spec.get("sessionAffinity", "None"), width=19)


def _describe_node(node: Obj, w: _Writer) -> None:
    spec, status = node.get("spec", {}), node.get("status", {})
    w.kv("Name", node["metadata"].get("name"), width=19)
    _map(node["metadata"].get("labels"), w, "Labels", 19)
    taints = spec.get("taints") or []
    w.kv("Taints", ", ".join(f"{t.get('key')}:{t.get('effect')}" for t in taints) or "<none>", width=19)
    w.kv("Unschedulable", str(bool(spec.get("unschedulable"))).lower(), width=19)
    w.kv("Ready", node_ready(node), width=19)
    w.line("Conditions:")
    w.line(f"{'Type':<16}{'Status':<8}{'Reason':<20}Message", 2)
    for c in status.get("conditions") or []:
        w.line(f"{c.get('type', ''):<16}{c.get('status', ''):<8}{c.get('reason', ''):<20}{c.get('message', '')}", 2)
    w.line("Addresses:")
    for a in status.get("addresses") or []:
        w.kv(a.get("type"), a.get("address"), 2, 14)
    for section in ("capacity", "allocatable"):
        w.line(f"{section.capitalize()}:")
        for k, v in (status.get(section) or {}).items():
            w.kv(k, v, 2, 20)
    info = status.get("nodeInfo") or {}
    w.line("System Info:")
    for label, key in (("Kubelet Version", "kubeletVersion"), ("Container Runtime Version", "containerRuntimeVersion"),
                       ("OS Image", "osImage"), ("Architecture", "architecture")):
        if key in info:
            w.kv(label, info[key], 2, 28)
    if spec.get("podCIDR"):
        w.kv("PodCIDR", spec["podCIDR"], width=19)


def _describe_generic(obj: Obj, w: _Writer) -> None:
    import yaml

    _meta(obj, w, 16)
    for section in ("data", "spec", "status", "subsets"):
        if obj.get(section):
            w.line(f"{section.capitalize()}:")
            w.line(yaml.safe_dump(obj[section], sort_keys=False, default_flow_style=False).rstrip()
                   .replace("\n", "\n  "), 2)


def _describe_secret(secret: Obj, w: _Writer) -> None:
    _meta(secret, w, 16)
    w.kv("Type", secret.get("type", "Opaque"))
    w.line("Data")
    w.line("====")
    import base64
    for k, v in (secret.get("data") or {}).items():
        try:
            n = len(base64.b64decode(v))
        except ValueError:
            n = len(v)
        w.line(f"{k}:  {n} bytes")  # as kubectl: sizes, never values


def completions_bar(job: Obj, width: int = 20) -> str:
    """``3/5 ████████████░░░░░░░░``: a Job's succeeded pods against its completions, as a bar.

    >>> completions_bar({"spec": {"completions": 4}, "status": {"succeeded": 1}}, 8)
    '1/4 ██░░░░░░'
    """
    done = int((job.get("status") or {}).get("succeeded") or 0)
    want = (job.get("spec") or {}).get("completions")
    total = int(want) if want else 1  # a work queue Job is done after its first success
    filled = min(width, round(width * done / total)) if total else width
    return f"{done}/{total} " + "█" * filled + "░" * (width - filled)


def _describe_job(job: Obj, w: _Writer) -> None:
    """``DescribeJob`` (kubectl/pkg/describe), plus a progress bar of the completions."""
    from kubetui.tui.printers import human_duration, parse_time
    spec, status = job.get("spec", {}), job.get("status", {})
    w.kv("Name", job.get("metadata", {}).get("name"), width=18)
    w.kv("Namespace", job.get("metadata", {}).get("namespace"), width=18)
    w.kv("Selector", ",".join(f"{k}={v}" for k, v in (spec.get("selector", {}).get("matchLabels") or {}).items())
         or "<none>", width=18)
    _map(job.get("metadata", {}).get("labels"), w, "Labels", 18)
    _map(job.get("metadata", {}).get("annotations"), w, "Annotations", 18)
    if _controlled_by(job):
        w.kv("Controlled By", _controlled_by(job), width=18)
    w.kv("Parallelism", spec.get("parallelism", 1), width=18)
    w.kv("Completions", spec.get("completions") if spec.get("completions") is not None else "<unset>", width=18)
    w.kv("Completion Mode", spec.get("completionMode", "NonIndexed"), width=18)
    w.kv("Suspend", str(bool(spec.get("suspend"))).lower(), width=18)
    w.kv("Backoff Limit", spec.get("backoffLimit", 6), width=18)
    if spec.get("ttlSecondsAfterFinished") is not None:
        w.kv("TTL Seconds After Finished", spec["ttlSecondsAfterFinished"], width=18)
    if status.get("startTime"):
        w.kv("Start Time", status["startTime"], width=18)
    if status.get("completionTime"):
        w.kv("Completed At", status["completionTime"], width=18)
        start, end = parse_time(status.get("startTime")), parse_time(status["completionTime"])
        if start is not None and end is not None:
            w.kv("Duration", human_duration(end - start), width=18)
    if spec.get("activeDeadlineSeconds") is not None:
        w.kv("Active Deadline Seconds", f"{spec['activeDeadlineSeconds']}s", width=18)
    w.kv("Pods Statuses", f"{status.get('active', 0)} Active ({status.get('ready', 0)} Ready) / "
         f"{status.get('succeeded', 0)} Succeeded / {status.get('failed', 0)} Failed", width=18)
    w.kv("Progress", completions_bar(job), width=18)
    if spec.get("completionMode") == "Indexed":
        w.kv("Completed Indexes", status.get("completedIndexes") or "<none>", width=18)
    _template(spec.get("template", {}), w)
    _conditions(status, w)


def _describe_cronjob(cj: Obj, w: _Writer) -> None:
    """``DescribeCronJob``: the schedule, its policies, and the Jobs it has running."""
    spec, status = cj.get("spec", {}), cj.get("status", {})
    _meta(cj, w, 31)
    w.kv("Schedule", spec.get("schedule"), width=31)
    w.kv("Concurrency Policy", spec.get("concurrencyPolicy", "Allow"), width=31)
    w.kv("Suspend", "True" if spec.get("suspend") else "False", width=31)
    w.kv("Successful Job History Limit", spec.get("successfulJobsHistoryLimit", 3), width=31)
    w.kv("Failed Job History Limit", spec.get("failedJobsHistoryLimit", 1), width=31)
    w.kv("Starting Deadline Seconds", f"{spec['startingDeadlineSeconds']}s"
         if spec.get("startingDeadlineSeconds") is not None else "<unset>", width=31)
    _template(((spec.get("jobTemplate") or {}).get("spec") or {}).get("template", {}), w)
    w.kv("Last Schedule Time", status.get("lastScheduleTime") or "<unset>", width=31)
    w.kv("Active Jobs", ", ".join(a.get("name", "") for a in status.get("active") or []) or "<none>", width=31)


def _selector_text(spec: Obj) -> str:
    return ",".join(f"{k}={v}" for k, v in ((spec.get("selector") or {}).get("matchLabels") or {}).items())


def _describe_daemonset(ds: Obj, w: _Writer) -> None:
    """``DaemonSetDescriber``: how many nodes should run the pod, run it, run it up to date."""
    spec, status = ds.get("spec", {}), ds.get("status", {})
    _meta(ds, w, 15)
    w.kv("Selector", _selector_text(spec), width=15)
    node_selector = (spec.get("template", {}).get("spec") or {}).get("nodeSelector") or {}
    w.kv("Node-Selector", ",".join(f"{k}={v}" for k, v in node_selector.items()) or "<none>", width=15)
    w.kv("Desired Number of Nodes Scheduled", status.get("desiredNumberScheduled", 0), width=0)
    w.kv("Current Number of Nodes Scheduled", status.get("currentNumberScheduled", 0), width=0)
    w.kv("Number of Nodes Scheduled with Up-to-date Pods", status.get("updatedNumberScheduled", 0), width=0)
    w.kv("Number of Nodes Scheduled with Available Pods", status.get("numberAvailable", 0), width=0)
    w.kv("Number of Nodes Misscheduled", status.get("numberMisscheduled", 0), width=0)
    w.kv("Pods Status", f"{status.get('numberReady', 0)} Running / "
         f"{max(0, status.get('currentNumberScheduled', 0) - status.get('numberReady', 0))} Waiting / "
         "0 Succeeded / 0 Failed", width=15)
    _template(spec.get("template", {}), w)


def _describe_statefulset(sts: Obj, w: _Writer) -> None:
    """``StatefulSetDescriber``: replicas, update strategy (partition), the claim templates."""
    spec, status = sts.get("spec", {}), sts.get("status", {})
    _meta(sts, w, 20)
    w.kv("Selector", _selector_text(spec), width=20)
    w.kv("Replicas", f"{spec.get('replicas', 1)} desired | {status.get('replicas', 0)} total", width=20)
    strategy = spec.get("updateStrategy") or {}
    w.kv("Update Strategy", strategy.get("type", "RollingUpdate"), width=20)
    rolling = strategy.get("rollingUpdate") or {}
    if rolling.get("partition") is not None:
        w.kv("Partition", rolling["partition"], 2, 20)
    w.kv("Pods Status", f"{status.get('readyReplicas', 0)} Running / "
         f"{max(0, status.get('replicas', 0) - status.get('readyReplicas', 0))} Waiting / 0 Succeeded / 0 Failed",
         width=20)
    _template(spec.get("template", {}), w)
    claims = spec.get("volumeClaimTemplates") or []
    if not claims:
        w.line("Volume Claims:  <none>")
    else:
        w.line("Volume Claims:")
    for c in claims:
        cspec = c.get("spec") or {}
        w.kv("Name", (c.get("metadata") or {}).get("name"), 2, 17)
        w.kv("StorageClass", cspec.get("storageClassName") or "", 2, 17)
        w.kv("Capacity", ((cspec.get("resources") or {}).get("requests") or {}).get("storage", ""), 2, 17)
        w.kv("Access Modes", "[" + " ".join(cspec.get("accessModes") or []) + "]", 2, 17)


DESCRIBERS: dict[str, Callable[[Obj, _Writer], None]] = {
    "Pod": _describe_pod, "Deployment": _describe_deployment, "ReplicaSet": _describe_replicaset,
    "Service": _describe_service, "Node": _describe_node, "Secret": _describe_secret,
    "Job": _describe_job, "CronJob": _describe_cronjob, "HorizontalPodAutoscaler": describe_hpa,
    "DaemonSet": _describe_daemonset, "StatefulSet": _describe_statefulset,
    **POLICY_DESCRIBERS,
    "ReplicationController": lambda rc, w: describe_rc(rc, w, _describe_replicaset),
    "NetworkPolicy": describe_network_policy,
}


def describe(obj: Obj, events: list[Obj] | None = None, now: float = 0.0, *,
             related: dict[str, list[Obj]] | None = None) -> str:
    """The describe text for ``obj``, ending with its ``Events:`` table.

    ``related``: other objects a describer reads, by resource (an Ingress: its
    ``services`` and ``endpointslices``, as kubectl's describer fetches them)."""
    w = _Writer()
    if obj.get("kind") == "Ingress":
        describe_ingress(obj, w, (related or {}).get("services"), (related or {}).get("endpointslices"))
    else:
        DESCRIBERS.get(obj.get("kind", ""), _describe_generic)(obj, w)
    w.lines.append(events_table(events or [], now))
    return w.text()


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} B"


def pod_images(pod: Obj, node: Obj | None) -> str:
    """Each container's image, its digest and its size on the pod's node (kubetui's own section).

    The size comes from the node's ``status.images`` (what its kubelet reports),
    matched by the image's name or by the ID the container runs.

    >>> pod = {"spec": {"nodeName": "n1", "containers": [{"name": "web", "image": "nginx:1.22"}]},
    ...        "status": {"containerStatuses": [{"name": "web", "imageID": "sha256:abcdef0123456789"}]}}
    >>> print(pod_images(pod, {"status": {"images": [{"names": ["nginx:1.22"], "sizeBytes": 87300000}]}}), end="")
    Images (on node n1, from its status.images):
      web  nginx:1.22  sha256:abcdef012345  87.3 MB
    """
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    ids = {cs.get("name"): cs.get("imageID") or "" for cs in (status.get("initContainerStatuses") or [])
           + (status.get("containerStatuses") or [])}
    sizes: dict[str, int] = {}
    for img in ((node or {}).get("status") or {}).get("images") or ():
        for n in img.get("names") or ():
            sizes[n] = int(img.get("sizeBytes") or 0)
    rows = []
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        image, image_id = c.get("image", ""), ids.get(c.get("name"), "")
        digest = image_id.rsplit("@", 1)[-1] if image_id else ""
        size = sizes.get(image) or sizes.get(image_id) or sizes.get(image + ":latest")
        rows.append((c.get("name", ""), image, digest[:19] if digest else "<not pulled yet>",
                     _size(size) if size else "size unknown"))
    if not rows:
        return ""
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    out = [f"Images (on node {spec.get('nodeName') or '<none>'}, from its status.images):"]
    out += ["  " + "  ".join(f"{v:<{widths[i]}}" if i < 3 else v for i, v in enumerate(r)) for r in rows]
    return "\n".join(out) + "\n"


def events_table(events: list[Obj], now: float) -> str:
    """``Events:`` as kubectl prints it (Type, Reason, Age, From, Message)."""
    if not events:
        return "Events:            <none>"
    rows = [("Type", "Reason", "Age", "From", "Message"), ("----", "------", "----", "----", "-------")]
    for ev in sorted(events, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or ""):
        src = (ev.get("source") or {}).get("component") or ev.get("reportingComponent") or ""
        rows.append((ev.get("type", ""), ev.get("reason", ""), event_last_seen(ev, now), src, ev.get("message", "")))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    out = ["Events:"]
    for r in rows:
        out.append("  " + "  ".join(f"{r[i]:<{widths[i]}}" for i in range(4)) + "  " + r[4])
    return "\n".join(out)


def events_for(obj: Obj, events: list[Obj]) -> list[Obj]:
    """Events whose involvedObject is ``obj`` (by uid, or by kind+name+namespace)."""
    md = obj.get("metadata", {})
    out = []
    for ev in events:
        io = ev.get("involvedObject") or {}
        if md.get("uid") and io.get("uid") == md.get("uid"):
            out.append(ev)
        elif (io.get("kind") == obj.get("kind") and io.get("name") == md.get("name")
              and (io.get("namespace") or None) == (md.get("namespace") or None)):
            out.append(ev)
    return out


def owner_chain(obj: Obj, lookup: Callable[[str, str, str | None], Obj | None]) -> list[Obj]:
    """``obj`` and its controllers up the chain: Pod → ReplicaSet → Deployment (returned top first).

    ``lookup(kind, name, namespace)`` finds an owner in the client's cache.
    """
    chain, seen = [obj], set()
    cur = obj
    while True:
        ref = next((r for r in cur.get("metadata", {}).get("ownerReferences") or [] if r.get("controller")), None)
        if ref is None or (ref.get("kind"), ref.get("name")) in seen:
            break
        seen.add((ref.get("kind"), ref.get("name")))
        owner = lookup(ref["kind"], ref["name"], cur.get("metadata", {}).get("namespace"))
        if owner is None:
            chain.append({"kind": ref["kind"], "metadata": {"name": ref["name"], "namespace":
                          cur.get("metadata", {}).get("namespace")}, "_missing": True})
            break
        chain.append(owner)
        cur = owner
    return list(reversed(chain))


__all__ = ["describe", "events_table", "events_for", "owner_chain", "pod_status_reason"]
