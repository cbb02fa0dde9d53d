"""The scheduling framework's vocabulary: Status, CycleState, PodInfo, NodeInfo, plugin interfaces.

Upstream: ``pkg/scheduler/framework/interface.go`` (extension points and
``Status``) and ``framework/types.go`` (``NodeInfo``, ``PodInfo``,
``Resource``). A plugin implements only the extension points it needs:

- **PreFilter** looks at the pod once per attempt (and may say *Skip*: "I have
  nothing to check for this pod", so its Filter is not run at all);
- **Filter** says whether one node can run the pod; an expected "no" is a
  ``Status`` with a reason such as ``Insufficient cpu``, never an exception;
- **PreScore** / **Score** rank the feasible nodes; **NormalizeScore** maps a
  plugin's raw scores onto 0–100 so a profile's weights can add them up.

Everything here is plain data, built once per pod or node, so the hot loop
(every node × every filter) reads attributes instead of parsing manifests.
"""

from __future__ import annotations

import enum
from typing import Any, Iterable, Protocol, runtime_checkable

from kubetui.api.errors import BadRequest
from kubetui.api.quantity import quantity_bytes, quantity_millis
from kubetui.api.selectors import IN, NOT_IN, LabelSelector, Requirement, label_selector_from_dict

MAX_NODE_SCORE = 100
MIN_NODE_SCORE = 0

# Requests the scheduler assumes for *scoring* when a container sets none
# (upstream ``schedutil.DefaultMilliCPURequest`` / ``DefaultMemoryRequest``),
# so that a node full of request-less pods does not look empty.
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024

# Cluster events a rejected pod may be waiting for (upstream ``framework.ClusterEvent``).
# Plugins list the ones that can make them change their mind; the queue moves a
# pod out of ``unschedulablePods`` only on such an event.
NODE_ADD = "Node/Add"
NODE_UPDATE = "Node/Update"
POD_ADD = "Pod/Add"                # a pod was assigned a node (a peer for pod affinity appeared)
POD_DELETE = "Pod/Delete"          # an assigned pod went away: room freed
POD_UPDATE = "Pod/Update"          # an assigned pod changed (e.g. finished)
PVC_CHANGE = "PersistentVolumeClaim/Change"
PV_CHANGE = "PersistentVolume/Change"
STORAGECLASS_CHANGE = "StorageClass/Change"
NAMESPACE_CHANGE = "Namespace/Change"   # labels a namespaceSelector reads


class Code(enum.IntEnum):
    """A Status code (upstream ``framework.Code``)."""

    Success = 0
    Error = 1
    # The node cannot run the pod now, but might later (or after preemption).
    Unschedulable = 2
    # The node cannot run the pod and preempting pods would not help.
    UnschedulableAndUnresolvable = 3
    # PreFilter/PreScore: this plugin has nothing to do for this pod.
    Skip = 5


class Status:
    """The outcome of one plugin at one extension point, with human reasons."""

    __slots__ = ("code", "reasons", "plugin", "detail")

    def __init__(self, code: Code, *reasons: str, plugin: str = "", detail: str = "") -> None:
        self.code = code
        # Reasons are counted across nodes for the FailedScheduling message, so
        # they are generic ("Insufficient cpu"); ``detail`` says more about this
        # node (which taint, how much is free) for explanations only.
        self.reasons = list(reasons)
        self.plugin = plugin
        self.detail = detail

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)

    def is_success(self) -> bool:
        return self.code == Code.Success

    def is_rejected(self) -> bool:
        return self.code in (Code.Unschedulable, Code.UnschedulableAndUnresolvable)

    def is_skip(self) -> bool:
        return self.code == Code.Skip

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"plugin": self.plugin, "code": self.code.name, "reasons": list(self.reasons)}
        if self.detail:
            out["detail"] = self.detail
        return out

    def __repr__(self) -> str:
        return f"Status({self.code.name}, {self.reasons!r}, plugin={self.plugin!r})"


def unschedulable(plugin: str, *reasons: str, detail: str = "") -> Status:
    return Status(Code.Unschedulable, *reasons, plugin=plugin, detail=detail)


def unresolvable(plugin: str, *reasons: str, detail: str = "") -> Status:
    return Status(Code.UnschedulableAndUnresolvable, *reasons, plugin=plugin, detail=detail)


def skip(plugin: str) -> Status:
    return Status(Code.Skip, plugin=plugin)


class CycleState(dict):
    """Per-attempt scratch space plugins share (upstream ``framework.CycleState``).

    Keys are plugin-chosen strings. ``skip_filter`` / ``skip_score`` hold the
    names of plugins that returned Skip at PreFilter / PreScore. ``nodes`` is
    the cycle's snapshot of every node (upstream plugins read it through
    ``SnapshotSharedLister``): InterPodAffinity and PodTopologySpread count
    pods across the whole cluster, not only on the node being filtered.
    """

    def __init__(self, nodes: list["NodeInfo"] | None = None) -> None:
        super().__init__()
        self.skip_filter: set[str] = set()
        self.skip_score: set[str] = set()
        self.nodes: list[NodeInfo] = nodes or []


_NATIVE = frozenset(("cpu", "memory", "ephemeral-storage", "pods", "storage"))


def is_extended_resource_name(name: str) -> bool:
    """A resource a device plugin or an operator advertises, such as ``example.com/dongle``.

    Upstream ``v1helper.IsExtendedResourceName``: domain-qualified, not in the
    ``kubernetes.io/`` namespace (kept for native resources) and not a quota's
    ``requests.`` name.

    >>> [is_extended_resource_name(n) for n in ("example.com/dongle", "cpu", "kubernetes.io/x", "requests.a/b")]
    [True, False, False, False]
    """
    return "/" in name and "kubernetes.io/" not in name and not name.startswith("requests.")


def is_scalar_resource_name(name: str) -> bool:
    """Resources counted by name beyond cpu/memory/ephemeral-storage (upstream ``IsScalarResourceName``):
    extended resources, ``hugepages-<size>``, ``attachable-volumes-*`` and ``kubernetes.io/``-prefixed ones."""
    return (is_extended_resource_name(name) or name.startswith("hugepages-")
            or name.startswith("attachable-volumes-") or "kubernetes.io/" in name)


class Resource:
    """Amounts of the resources the scheduler counts (upstream ``framework.Resource``).

    ``scalar`` holds every other countable resource by name (upstream
    ``ScalarResources``): extended resources such as ``example.com/dongle: 3``
    (integers, never overcommitted) and hugepages (bytes).
    """

    __slots__ = ("milli_cpu", "memory", "ephemeral_storage", "allowed_pods", "scalar")

    def __init__(self, milli_cpu: int = 0, memory: int = 0, ephemeral_storage: int = 0,
                 allowed_pods: int = 0, scalar: dict[str, int] | None = None) -> None:
        self.milli_cpu = milli_cpu
        self.memory = memory
        self.ephemeral_storage = ephemeral_storage
        self.allowed_pods = allowed_pods
        self.scalar: dict[str, int] = scalar if scalar is not None else {}

    @classmethod
    def from_list(cls, rl: dict[str, Any] | None) -> "Resource":
        """From a ResourceList such as ``{"cpu": "2", "memory": "4Gi", "pods": "110", "example.com/dongle": "3"}``."""
        rl = rl or {}
        r = cls()
        if "cpu" in rl:
            r.milli_cpu = quantity_millis(rl["cpu"])
        if "memory" in rl:
            r.memory = quantity_bytes(rl["memory"])
        if "ephemeral-storage" in rl:
            r.ephemeral_storage = quantity_bytes(rl["ephemeral-storage"])
        if "pods" in rl:
            r.allowed_pods = quantity_bytes(rl["pods"])
        if len(rl) > ("cpu" in rl) + ("memory" in rl) + ("ephemeral-storage" in rl) + ("pods" in rl):
            for name, q in rl.items():
                if name not in _NATIVE and is_scalar_resource_name(name):
                    r.scalar[name] = quantity_bytes(q)
        return r

    def add(self, other: "Resource") -> None:
        self.milli_cpu += other.milli_cpu
        self.memory += other.memory
        self.ephemeral_storage += other.ephemeral_storage
        if other.scalar:
            for k, v in other.scalar.items():
                self.scalar[k] = self.scalar.get(k, 0) + v

    def sub(self, other: "Resource") -> None:
        self.milli_cpu -= other.milli_cpu
        self.memory -= other.memory
        self.ephemeral_storage -= other.ephemeral_storage
        if other.scalar:
            for k, v in other.scalar.items():
                self.scalar[k] = self.scalar.get(k, 0) - v

    def set_max(self, other: "Resource") -> None:
        self.milli_cpu = max(self.milli_cpu, other.milli_cpu)
        self.memory = max(self.memory, other.memory)
        self.ephemeral_storage = max(self.ephemeral_storage, other.ephemeral_storage)
        for k, v in other.scalar.items():
            self.scalar[k] = max(self.scalar.get(k, 0), v)

    def as_dict(self) -> dict[str, int]:
        return {"cpu": self.milli_cpu, "memory": self.memory,
                "ephemeral-storage": self.ephemeral_storage, "pods": self.allowed_pods, **self.scalar}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Resource) and self.as_dict() == other.as_dict()

    def __repr__(self) -> str:
        return f"Resource({self.as_dict()})"


def _container_requests(c: dict[str, Any]) -> dict[str, Any]:
    return ((c.get("resources") or {}).get("requests")) or {}


def pod_requests(pod: dict[str, Any]) -> Resource:
    """What a pod asks of a node (upstream ``resourcehelper.PodRequests``).

    App containers run together, so their requests **add up**; init containers
    run one after another before them, so the pod needs only the **largest**
    of them. A sidecar (an init container with ``restartPolicy: Always``)
    keeps running, so it adds to everything that starts after it. Pod
    ``overhead`` (RuntimeClass) is added on top.

    Example: app containers asking 250m and 500m CPU, and an init container
    asking 1 CPU: ``max(250m + 500m, 1000m) = 1000m``.
    """
    spec = pod.get("spec") or {}
    total = Resource()
    for c in spec.get("containers") or ():
        total.add(Resource.from_list(_container_requests(c)))
    init_max = Resource()
    sidecars = Resource()
    for c in spec.get("initContainers") or ():
        req = Resource.from_list(_container_requests(c))
        if c.get("restartPolicy") == "Always":
            sidecars.add(req)
            init_max.set_max(_plus(sidecars, Resource()))
        else:
            init_max.set_max(_plus(req, sidecars))
    total.add(sidecars)
    total.set_max(init_max)
    if spec.get("overhead"):
        total.add(Resource.from_list(spec["overhead"]))
    return total


def _plus(a: Resource, b: Resource) -> Resource:
    r = Resource(a.milli_cpu, a.memory, a.ephemeral_storage, scalar=dict(a.scalar))
    r.add(b)
    return r


def pod_non_zero_requests(pod: dict[str, Any]) -> tuple[int, int]:
    """CPU (milli) and memory for *scoring*: a container without a request counts as 100m / 200Mi.

    Upstream ``schedutil.GetNonzeroRequests``; the same init-max / app-sum rule applies.
    """
    spec = pod.get("spec") or {}

    def nz(c: dict[str, Any]) -> tuple[int, int]:
        req = _container_requests(c)
        cpu = quantity_millis(req["cpu"]) if "cpu" in req else DEFAULT_MILLI_CPU_REQUEST
        mem = quantity_bytes(req["memory"]) if "memory" in req else DEFAULT_MEMORY_REQUEST
        return cpu, mem

    cpu = mem = 0
    for c in spec.get("containers") or ():
        a, b = nz(c)
        cpu += a
        mem += b
    for c in spec.get("initContainers") or ():
        if c.get("restartPolicy") == "Always":
            a, b = nz(c)
            cpu += a
            mem += b
    for c in spec.get("initContainers") or ():
        if c.get("restartPolicy") != "Always":
            a, b = nz(c)
            cpu, mem = max(cpu, a), max(mem, b)
    return cpu, mem


def pod_host_ports(pod: dict[str, Any]) -> list[tuple[str, str, int]]:
    """``(hostIP, protocol, hostPort)`` for every container port that asks for a host port."""
    out = []
    spec = pod.get("spec") or {}
    for c in list(spec.get("initContainers") or ()) + list(spec.get("containers") or ()):
        for p in c.get("ports") or ():
            hp = p.get("hostPort")
            if hp:
                out.append((p.get("hostIP") or "0.0.0.0", p.get("protocol") or "TCP", int(hp)))
    return out


def pod_key(pod: dict[str, Any]) -> str:
    m = pod.get("metadata") or {}
    return f"{m.get('namespace') or 'default'}/{m.get('name')}"


def selector_or_nothing(sel: Any) -> LabelSelector:
    """A ``metav1.LabelSelector`` as a selector; one the API server should have refused matches nothing
    (an object stored before validation existed must not break the scheduler's informer handlers)."""
    try:
        return label_selector_from_dict(sel)
    except (BadRequest, AttributeError, TypeError):
        return LabelSelector.nothing()


class AffinityTerm:
    """A ``PodAffinityTerm`` made ready to match (upstream ``framework.AffinityTerm``).

    A term selects *pods*: those in ``namespaces`` (or in a namespace whose
    labels ``namespace_selector`` matches) whose labels ``selector`` matches.
    With neither ``namespaces`` nor ``namespaceSelector`` it means the owning
    pod's own namespace; ``namespaceSelector: {}`` means every namespace.
    ``matchLabelKeys`` / ``mismatchLabelKeys`` add ``key in (my value)`` /
    ``key notin (my value)`` for the owning pod's own labels.
    """

    __slots__ = ("namespaces", "selector", "namespace_selector", "topology_key", "weight")

    def __init__(self, owner_namespace: str, owner_labels: dict[str, str], term: dict[str, Any],
                 weight: int = 0) -> None:
        selector = selector_or_nothing(term.get("labelSelector"))
        extra = [Requirement(k, IN, (owner_labels[k],)) for k in term.get("matchLabelKeys") or ()
                 if k in owner_labels]
        extra += [Requirement(k, NOT_IN, (owner_labels[k],)) for k in term.get("mismatchLabelKeys") or ()
                  if k in owner_labels]
        if extra and not selector.match_nothing:
            selector = LabelSelector([*selector.requirements, *extra])
        self.selector = selector
        ns_sel = term.get("namespaceSelector")
        names = term.get("namespaces") or []
        self.namespaces = frozenset(names) if (names or ns_sel is not None) else frozenset((owner_namespace,))
        self.namespace_selector = selector_or_nothing(ns_sel)     # None -> matches nothing
        self.topology_key: str = term.get("topologyKey") or ""
        self.weight = weight

    def matches(self, namespace: str, labels: dict[str, str], ns_labels: dict[str, str] | None) -> bool:
        """Whether a pod (its namespace, labels, and its namespace's labels) is one this term selects."""
        if namespace in self.namespaces or self.namespace_selector.matches(ns_labels):
            return self.selector.matches(labels)
        return False

    def __repr__(self) -> str:
        return f"AffinityTerm({self.selector!s}, ns={sorted(self.namespaces)}, topologyKey={self.topology_key})"


def _terms(pi: "PodInfo", terms: Any, weighted: bool = False) -> list[AffinityTerm]:
    out = []
    for t in terms or ():
        if weighted:
            out.append(AffinityTerm(pi.namespace, pi.labels, t.get("podAffinityTerm") or {}, int(t.get("weight") or 0)))
        else:
            out.append(AffinityTerm(pi.namespace, pi.labels, t))
    return out


class PodInfo:
    """A pod with everything plugins need pre-computed (upstream ``framework.PodInfo``)."""

    __slots__ = ("pod", "key", "namespace", "name", "uid", "priority", "requests",
                 "non_zero_cpu", "non_zero_mem", "host_ports", "tolerations",
                 "node_name", "node_selector", "affinity", "pvc_names", "labels", "deleting",
                 "required_affinity_terms", "required_anti_affinity_terms",
                 "preferred_affinity_terms", "preferred_anti_affinity_terms", "spread_constraints")

    def __init__(self, pod: dict[str, Any]) -> None:
        self.update(pod)

    def update(self, pod: dict[str, Any]) -> None:
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        self.pod = pod
        self.namespace = meta.get("namespace") or "default"
        self.name = meta.get("name") or ""
        self.key = f"{self.namespace}/{self.name}"
        self.uid = meta.get("uid") or ""
        self.labels: dict[str, str] = meta.get("labels") or {}
        self.deleting = bool(meta.get("deletionTimestamp"))
        self.priority = int(spec.get("priority") or 0)
        self.requests = pod_requests(pod)
        self.non_zero_cpu, self.non_zero_mem = pod_non_zero_requests(pod)
        self.host_ports = pod_host_ports(pod)
        self.tolerations = spec.get("tolerations") or []
        self.node_name = spec.get("nodeName") or ""
        self.node_selector = spec.get("nodeSelector") or {}
        affinity = spec.get("affinity") or {}
        self.affinity = affinity.get("nodeAffinity") or {}
        self.pvc_names = [v["persistentVolumeClaim"]["claimName"] for v in spec.get("volumes") or ()
                          if (v.get("persistentVolumeClaim") or {}).get("claimName")]
        # Inter-pod (anti-)affinity, parsed once (upstream NewPodInfo does the same).
        pa = affinity.get("podAffinity") or {}
        paa = affinity.get("podAntiAffinity") or {}
        req = "requiredDuringSchedulingIgnoredDuringExecution"
        pref = "preferredDuringSchedulingIgnoredDuringExecution"
        self.required_affinity_terms = _terms(self, pa.get(req)) if pa else []
        self.required_anti_affinity_terms = _terms(self, paa.get(req)) if paa else []
        self.preferred_affinity_terms = _terms(self, pa.get(pref), weighted=True) if pa else []
        self.preferred_anti_affinity_terms = _terms(self, paa.get(pref), weighted=True) if paa else []
        self.spread_constraints: list[dict[str, Any]] = spec.get("topologySpreadConstraints") or []

    @property
    def has_affinity(self) -> bool:
        """Any inter-pod (anti-)affinity term at all (upstream ``NodeInfo.PodsWithAffinity``)."""
        return bool(self.required_affinity_terms or self.required_anti_affinity_terms
                    or self.preferred_affinity_terms or self.preferred_anti_affinity_terms)

    def __repr__(self) -> str:
        return f"PodInfo({self.key})"


class NodeInfo:
    """A node plus the sum of what the pods on it (bound *and assumed*) request.

    Upstream ``framework.NodeInfo``. ``requested`` counts real requests (for
    Filter: does the pod fit?), ``non_zero_cpu``/``non_zero_mem`` count the
    scoring defaults (for Score: how full does the node look?).
    """

    __slots__ = ("node", "name", "labels", "taints", "unschedulable", "allocatable",
                 "requested", "non_zero_cpu", "non_zero_mem", "pods", "used_ports", "generation",
                 "num_with_affinity", "num_with_required_anti_affinity", "image_states")

    def __init__(self, node: dict[str, Any] | None = None) -> None:
        self.pods: dict[str, PodInfo] = {}
        self.requested = Resource()
        self.non_zero_cpu = 0
        self.non_zero_mem = 0
        # (hostIP, protocol, port) -> how many pods use it
        self.used_ports: dict[tuple[str, str, int], int] = {}
        self.generation = 0
        # How many of its pods carry inter-pod (anti-)affinity: most nodes have none, so
        # InterPodAffinity skips them (upstream keeps the lists PodsWithAffinity / ...RequiredAntiAffinity).
        self.num_with_affinity = 0
        self.num_with_required_anti_affinity = 0
        self.node: dict[str, Any] = {}
        self.name = ""
        self.labels: dict[str, str] = {}
        self.taints: list[dict[str, Any]] = []
        self.unschedulable = False
        self.allocatable = Resource()
        # every name in status.images -> the image's size (upstream NodeInfo.ImageStates; ImageLocality)
        self.image_states: dict[str, int] = {}
        if node is not None:
            self.set_node(node)

    def set_node(self, node: dict[str, Any]) -> None:
        meta = node.get("metadata") or {}
        spec = node.get("spec") or {}
        status = node.get("status") or {}
        self.node = node
        self.name = meta.get("name") or ""
        self.labels = meta.get("labels") or {}
        self.taints = spec.get("taints") or []
        self.unschedulable = bool(spec.get("unschedulable"))
        self.allocatable = Resource.from_list(status.get("allocatable") or status.get("capacity"))
        self.image_states = {}
        for img in status.get("images") or ():
            for name in img.get("names") or ():
                self.image_states.setdefault(name, int(img.get("sizeBytes") or 0))
        self.generation += 1

    def add_pod(self, pi: PodInfo) -> None:
        if pi.key in self.pods:
            self.remove_pod(pi.key)
        self.pods[pi.key] = pi
        self.requested.add(pi.requests)
        self.non_zero_cpu += pi.non_zero_cpu
        self.non_zero_mem += pi.non_zero_mem
        for port in pi.host_ports:
            self.used_ports[port] = self.used_ports.get(port, 0) + 1
        if pi.has_affinity:
            self.num_with_affinity += 1
            if pi.required_anti_affinity_terms:
                self.num_with_required_anti_affinity += 1
        self.generation += 1

    def remove_pod(self, key: str) -> PodInfo | None:
        pi = self.pods.pop(key, None)
        if pi is None:
            return None
        self.requested.sub(pi.requests)
        self.non_zero_cpu -= pi.non_zero_cpu
        self.non_zero_mem -= pi.non_zero_mem
        for port in pi.host_ports:
            n = self.used_ports.get(port, 0) - 1
            if n > 0:
                self.used_ports[port] = n
            else:
                self.used_ports.pop(port, None)
        if pi.has_affinity:
            self.num_with_affinity -= 1
            if pi.required_anti_affinity_terms:
                self.num_with_required_anti_affinity -= 1
        self.generation += 1
        return pi

    def __repr__(self) -> str:
        return f"NodeInfo({self.name}, pods={len(self.pods)}, requested={self.requested})"


# --- Plugin interfaces (a plugin implements any subset) -----------------------------------

@runtime_checkable
class Plugin(Protocol):
    name: str


@runtime_checkable
class PreFilterPlugin(Protocol):
    name: str

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        """None = Success; Skip = no Filter needed; rejection = no node can run the pod."""


@runtime_checkable
class FilterPlugin(Protocol):
    name: str

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        """None = the node passes; a rejected Status = it does not (with a reason)."""


@runtime_checkable
class PreScorePlugin(Protocol):
    name: str

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None: ...


@runtime_checkable
class ScorePlugin(Protocol):
    name: str

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int: ...


@runtime_checkable
class NormalizeScorePlugin(Protocol):
    name: str

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> list[int]: ...


def default_normalize_score(scores: Iterable[int], reverse: bool = False,
                            max_priority: int = MAX_NODE_SCORE) -> list[int]:
    """Scale raw scores so the highest becomes ``max_priority`` (upstream ``helper.DefaultNormalizeScore``).

    With ``reverse`` a *low* raw score is good (e.g. fewer untolerated
    PreferNoSchedule taints). Integer division, as upstream.

    Example: raw ``[2, 4, 0]`` → ``[50, 100, 0]``; reversed → ``[50, 0, 100]``.
    If every raw score is 0: ``[0, 0, 0]``, or ``[100, 100, 100]`` reversed.
    """
    scores = list(scores)
    top = max(scores, default=0)
    if top == 0:
        return [max_priority if reverse else 0 for _ in scores]
    out = []
    for s in scores:
        v = max_priority * s // top
        out.append(max_priority - v if reverse else v)
    return out
