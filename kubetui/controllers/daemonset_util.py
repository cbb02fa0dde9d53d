"""The DaemonSet controller's decisions: which nodes run a daemon pod, what to create and delete, the status.

Upstream: ``pkg/controller/daemon/daemon_controller.go`` (NodeShouldRunDaemonPod,
podsShouldBeOnNode, updateDaemonSetStatus), ``update.go`` (rollingUpdate,
findUpdatedPodsOnNode, updatedDesiredNodeCounts) and ``util/daemonset_util.go``
(AddOrUpdateDaemonPodTolerations, ReplaceDaemonSetPodNodeNameNodeAffinity).
Everything here is pure: given the DaemonSet, the nodes and the pods per
node, ``decide`` returns a ``DaemonSetActions`` value the controller carries
out. A learner (or the TUI) can print it.

The idea a learner meets: a DaemonSet does not pick nodes by counting. For
each node it asks "should a pod of mine run here?" (node selector, node
affinity, taints against the pod's tolerations, plus tolerations every
daemon pod gets automatically) and makes the answer true.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from kubetui.api.nodeaffinity import match_term
from kubetui.controllers.deployment_util import compute_hash, resolve_int_or_percent
from kubetui.controllers.history import REVISION_HASH_LABEL
from kubetui.controllers.taint_eviction import tolerates
from kubetui.controllers.util import is_deleting, is_pod_available, is_pod_ready, meta, new_controller_ref

Obj = dict[str, Any]

TEMPLATE_GENERATION_LABEL = "pod-template-generation"
TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"


# --- which nodes ----------------------------------------------------------------------


def daemon_tolerations(spec: Obj) -> list[Obj]:
    """``AddOrUpdateDaemonPodTolerations``: the template's tolerations plus the automatic ones.

    A daemon pod must keep running on a node that is not ready or unreachable
    (NoExecute), and must be placed on nodes under disk/memory/PID pressure
    or cordoned (NoSchedule): it is often the agent that makes the node
    healthy again. Host-network pods also tolerate ``network-unavailable``.
    """
    out = [dict(t) for t in spec.get("tolerations") or []]
    auto = [("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
            ("node.kubernetes.io/disk-pressure", "NoSchedule"), ("node.kubernetes.io/memory-pressure", "NoSchedule"),
            ("node.kubernetes.io/pid-pressure", "NoSchedule"), ("node.kubernetes.io/unschedulable", "NoSchedule")]
    if spec.get("hostNetwork"):
        auto.append(("node.kubernetes.io/network-unavailable", "NoSchedule"))
    for key, effect in auto:
        toleration = {"key": key, "operator": "Exists", "effect": effect}
        if toleration not in out:
            out.append(toleration)
    return out


def _fits_affinity(spec: Obj, node: Obj) -> bool:
    labels = meta(node).get("labels") or {}
    for k, v in (spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if required is None:
        return True
    return any(match_term(t, labels, meta(node)["name"]) for t in required.get("nodeSelectorTerms") or [])


def _untolerated(taints: list[Obj], tolerations: list[Obj], effects: tuple[str, ...]) -> bool:
    return any(t.get("effect") in effects and not any(tolerates(tol, t) for tol in tolerations) for t in taints)


def node_should_run(ds: Obj, node: Obj, tolerations: list[Obj] | None = None) -> tuple[bool, bool]:
    """``NodeShouldRunDaemonPod``: (should a daemon pod be placed here, may an existing one stay).

    >>> ds = {"spec": {"template": {"spec": {"nodeSelector": {"disk": "ssd"}}}}}
    >>> node_should_run(ds, {"metadata": {"name": "n1", "labels": {"disk": "ssd"}}})
    (True, True)
    >>> node_should_run(ds, {"metadata": {"name": "n2", "labels": {}}})
    (False, False)
    >>> tainted = {"metadata": {"name": "n3", "labels": {"disk": "ssd"}},
    ...            "spec": {"taints": [{"key": "gpu", "effect": "NoSchedule"}]}}
    >>> node_should_run(ds, tainted)   # not placed, but a pod already there may stay
    (False, True)
    """
    spec = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
    if spec.get("nodeName") and spec["nodeName"] != meta(node).get("name"):
        return False, False
    if not _fits_affinity(spec, node):
        return False, False
    taints = (node.get("spec") or {}).get("taints") or []
    if not taints:
        return True, True
    tolerations = daemon_tolerations(spec) if tolerations is None else tolerations
    if _untolerated(taints, tolerations, ("NoSchedule", "NoExecute")):
        return False, not _untolerated(taints, tolerations, ("NoExecute",))
    return True, True


def target_node(pod: Obj) -> str | None:
    """``GetTargetNodeName``: spec.nodeName, or the node a daemon pod's matchFields affinity names."""
    name = (pod.get("spec") or {}).get("nodeName")
    if name:
        return name
    required = ((((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    for term in required.get("nodeSelectorTerms") or []:
        for req in term.get("matchFields") or []:
            if req.get("key") == "metadata.name" and req.get("operator") == "In" and len(req.get("values") or []) == 1:
                return req["values"][0]
    return None


Eligibility = dict[str, tuple[bool, bool]]


def eligibility(ds: Obj, nodes: list[Obj]) -> Eligibility:
    """``node_should_run`` for every node, computed once per sync (node name -> (should run, may stay))."""
    spec = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
    tolerations = daemon_tolerations(spec)
    return {meta(n)["name"]: node_should_run(ds, n, tolerations) for n in nodes}


# --- the pod ---------------------------------------------------------------------------


def template_generation(ds: Obj) -> str | None:
    return (meta(ds).get("annotations") or {}).get(TEMPLATE_GENERATION_ANNOTATION)


def template_hash(ds: Obj) -> str:
    """The ``controller-revision-hash`` of the DaemonSet's current template (``ComputeHash``)."""
    return compute_hash((ds.get("spec") or {}).get("template"), (ds.get("status") or {}).get("collisionCount"))


def daemon_pod(ds: Obj, node_name: str, hash_: str) -> Obj:
    """The pod the DaemonSet creates for one node (``CreatePodTemplate`` + ``ReplaceDaemonSetPodNodeNameNodeAffinity``).

    The pod is not bound here: it names its node through required node
    affinity on ``metadata.name``, and the default scheduler places it, so
    resources, ports and preemption are checked as for any pod.
    """
    template = copy.deepcopy((ds.get("spec") or {}).get("template") or {})
    tmeta = template.get("metadata") or {}
    spec = template.get("spec") or {}
    labels = dict(tmeta.get("labels") or {})
    generation = template_generation(ds)
    if generation is not None:
        labels[TEMPLATE_GENERATION_LABEL] = generation
    labels[REVISION_HASH_LABEL] = hash_
    spec["tolerations"] = daemon_tolerations(spec)
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}
    affinity = spec.setdefault("affinity", {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    required = node_affinity.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
    required["nodeSelectorTerms"] = [term]
    metadata: Obj = {"generateName": f"{meta(ds)['name']}-", "namespace": meta(ds).get("namespace"),
                     "labels": labels, "ownerReferences": [new_controller_ref(ds, "apps/v1", "DaemonSet")]}
    if tmeta.get("annotations"):
        metadata["annotations"] = dict(tmeta["annotations"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def is_updated(pod: Obj, hash_: str, generation: str | None) -> bool:
    """``IsPodUpdated``: the pod carries the current hash (or, for old pods, the template generation)."""
    labels = meta(pod).get("labels") or {}
    if labels.get(REVISION_HASH_LABEL) == hash_:
        return True
    return generation is not None and REVISION_HASH_LABEL not in labels and \
        labels.get(TEMPLATE_GENERATION_LABEL) == generation


def _by_age(pods: list[Obj]) -> list[Obj]:
    """``podByCreationTimestampAndPhase``: oldest first, Running before others at the same age."""
    return sorted(pods, key=lambda p: (meta(p).get("creationTimestamp") or "",
                                       0 if (p.get("status") or {}).get("phase") == "Running" else 1,
                                       meta(p).get("name", "")))


# --- decide --------------------------------------------------------------------------------


@dataclass
class DaemonSetActions:
    """What one sync does: create a pod on these nodes, delete these pods (with why)."""

    create_on: list[str] = field(default_factory=list)
    delete: list[tuple[str, str]] = field(default_factory=list)   # (pod name, reason)
    failed_on: list[tuple[str, str]] = field(default_factory=list)  # (node, failed pod deleted there)
    backing_off: list[str] = field(default_factory=list)          # nodes whose failed pod waits for backoff

    def __bool__(self) -> bool:
        return bool(self.create_on or self.delete)


def _rolling(ds: Obj) -> Obj | None:
    strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return None
    return strategy.get("rollingUpdate") or {}


def surge_and_unavailable(ds: Obj, desired: int) -> tuple[int, int]:
    """``updatedDesiredNodeCounts``: maxSurge and maxUnavailable as numbers (percentages round up)."""
    rolling = _rolling(ds) or {}
    surge = resolve_int_or_percent(rolling.get("maxSurge", 0), desired, True)
    unavailable = resolve_int_or_percent(rolling.get("maxUnavailable", 1), desired, True)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def manage(ds: Obj, nodes: list[Obj], pods_by_node: dict[str, list[Obj]], hash_: str,
           eligible: Eligibility | None = None, in_backoff: set[str] | frozenset[str] = frozenset()
           ) -> DaemonSetActions:
    """``manage`` + ``podsShouldBeOnNode``: a pod where one should run, none where none may stay.

    A failed daemon pod is deleted (and so replaced), but not on a node in
    ``in_backoff``: a kubelet that keeps rejecting the pod would otherwise
    fight the controller in a hot loop (upstream's failedPodsBackoff).
    """
    eligible = eligible if eligible is not None else eligibility(ds, nodes)
    actions = DaemonSetActions()
    surge_allowed = bool(_rolling(ds)) and surge_and_unavailable(ds, 1)[0] > 0
    for node in nodes:
        name = meta(node)["name"]
        pods = pods_by_node.get(name, [])
        should_run, should_continue = eligible[name]
        if should_run and not pods:
            actions.create_on.append(name)
            continue
        if not should_continue:
            actions.delete += [(meta(p)["name"], "node no longer eligible") for p in pods if not is_deleting(p)]
            continue
        running = []
        for p in pods:
            if is_deleting(p):
                continue
            phase = (p.get("status") or {}).get("phase")
            if phase == "Failed":
                if name in in_backoff:
                    actions.backing_off.append(name)
                else:
                    actions.delete.append((meta(p)["name"], "pod failed"))
                    actions.failed_on.append((name, meta(p)["name"]))
            elif phase == "Succeeded":
                actions.delete.append((meta(p)["name"], "pod succeeded"))
            else:
                running.append(p)
        running = _by_age(running)
        if not surge_allowed:
            actions.delete += [(meta(p)["name"], "more than one daemon pod on the node") for p in running[1:]]
            continue
        if not running:
            if should_run:
                actions.create_on.append(name)
            continue
        oldest_new = oldest_old = None
        for p in running:
            if (meta(p).get("labels") or {}).get(REVISION_HASH_LABEL) == hash_:
                if oldest_new is None:
                    oldest_new = p
                    continue
            elif oldest_old is None:
                oldest_old = p
                continue
            actions.delete.append((meta(p)["name"], "more than one daemon pod on the node"))
        if oldest_new is not None and oldest_old is not None:
            if not is_pod_ready(oldest_old) or is_pod_ready(oldest_new):
                actions.delete.append((meta(oldest_old)["name"], "replaced by an updated pod"))
    return actions


def _updated_pods_on_node(pods: list[Obj], hash_: str, generation: str | None) -> tuple[Obj | None, Obj | None, bool]:
    """``findUpdatedPodsOnNode``: (new pod, old pod, ok); not ok when two of one kind are there."""
    new = old = None
    for p in pods:
        if is_deleting(p):
            continue
        if is_updated(p, hash_, generation):
            if new is not None:
                return None, None, False
            new = p
        else:
            if old is not None:
                return None, None, False
            old = p
    return new, old, True


def rolling_update(ds: Obj, nodes: list[Obj], pods_by_node: dict[str, list[Obj]], hash_: str,
                   now: float, eligible: Eligibility | None = None) -> DaemonSetActions:
    """``rollingUpdate``: replace old pods without more than maxUnavailable down (or maxSurge extra).

    Without surge, an old pod is deleted (and the manage step puts a new one
    there on the next sync) only while fewer than maxUnavailable nodes lack
    an available pod; an old pod that is unavailable anyway is replaced at
    once. With surge, a new pod starts beside the old one, and the old one
    goes when the new one is available.
    """
    actions = DaemonSetActions()
    if _rolling(ds) is None:
        return actions
    eligible = eligible if eligible is not None else eligibility(ds, nodes)
    generation = template_generation(ds)
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
    desired = sum(1 for run, _ in eligible.values() if run)
    surge, unavailable = surge_and_unavailable(ds, desired)
    if surge == 0:
        num_unavailable = 0
        replacements: list[str] = []
        candidates: list[str] = []
        for node_name in sorted(pods_by_node):
            new, old, ok = _updated_pods_on_node(pods_by_node[node_name], hash_, generation)
            if not ok or (new is None) == (old is None):
                num_unavailable += 1
            elif new is not None:
                if not is_pod_available(new, min_ready, now):
                    num_unavailable += 1
            elif not is_pod_available(old, min_ready, now):
                replacements.append(meta(old)["name"])
            elif num_unavailable < unavailable:
                candidates.append(meta(old)["name"])
        room = max(0, min(unavailable - num_unavailable, len(candidates)))
        actions.delete = [(n, "old pod not available: replaced") for n in replacements]
        actions.delete += [(n, "rolling update") for n in candidates[:room]]
        return actions
    num_surge = 0
    allowed: list[str] = []
    candidate_nodes: list[str] = []
    for node_name in sorted(pods_by_node):
        new, old, ok = _updated_pods_on_node(pods_by_node[node_name], hash_, generation)
        if not ok:
            num_surge += 1
            continue
        if old is None:
            continue
        should_run = eligible.get(node_name, (False, False))[0]
        if new is None:
            if not is_pod_available(old, min_ready, now):
                if not should_run:
                    actions.delete.append((meta(old)["name"], "old pod not available on an ineligible node"))
                else:
                    allowed.append(node_name)
            elif should_run and num_surge < surge:
                candidate_nodes.append(node_name)
        elif not is_pod_available(new, min_ready, now):
            num_surge += 1
        else:
            actions.delete.append((meta(old)["name"], "updated pod available"))
    room = max(0, min(surge - num_surge, len(candidate_nodes)))
    actions.create_on = allowed + candidate_nodes[:room]
    return actions


def decide(ds: Obj, nodes: list[Obj], pods_by_node: dict[str, list[Obj]], now: float,
           eligible: Eligibility | None = None, hash_: str | None = None,
           in_backoff: set[str] | frozenset[str] = frozenset()) -> DaemonSetActions:
    """One sync's actions: first make each node right (manage); only then roll the update forward."""
    hash_ = hash_ or template_hash(ds)
    eligible = eligible if eligible is not None else eligibility(ds, nodes)
    actions = manage(ds, nodes, pods_by_node, hash_, eligible, in_backoff)
    if actions or actions.backing_off or is_deleting(ds):
        return actions
    return rolling_update(ds, nodes, pods_by_node, hash_, now, eligible)


def daemon_set_status(ds: Obj, nodes: list[Obj], pods_by_node: dict[str, list[Obj]], now: float,
                      eligible: Eligibility | None = None, hash_: str | None = None) -> Obj:
    """``updateDaemonSetStatus``: counts over eligible nodes, judged by each node's oldest daemon pod."""
    eligible = eligible if eligible is not None else eligibility(ds, nodes)
    hash_ = hash_ or template_hash(ds)
    generation = template_generation(ds)
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
    desired = current = ready = available = updated = misscheduled = 0
    for node in nodes:
        should_run, _ = eligible[meta(node)["name"]]
        pods = pods_by_node.get(meta(node)["name"], [])
        if not should_run:
            misscheduled += 1 if pods else 0
            continue
        desired += 1
        if not pods:
            continue
        current += 1
        pod = pods[0] if len(pods) == 1 else _by_age(pods)[0]
        if is_pod_ready(pod):
            ready += 1
            if is_pod_available(pod, min_ready, now):
                available += 1
        if is_updated(pod, hash_, generation):
            updated += 1
    status = dict(ds.get("status") or {})
    status.update({"currentNumberScheduled": current, "numberMisscheduled": misscheduled,
                   "desiredNumberScheduled": desired, "numberReady": ready,
                   "observedGeneration": meta(ds).get("generation", 0), "updatedNumberScheduled": updated,
                   "numberAvailable": available})
    if desired - available:
        status["numberUnavailable"] = desired - available
    else:
        status.pop("numberUnavailable", None)
    return status
