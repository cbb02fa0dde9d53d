"""InterPodAffinity: place a pod near (affinity) or away from (anti-affinity) other pods.

Upstream: ``pkg/scheduler/framework/plugins/interpodaffinity`` (``filtering.go``,
``scoring.go``). A ``PodAffinityTerm`` picks pods (a ``labelSelector`` in some
namespaces) and a ``topologyKey``, a node label that cuts the cluster into
*domains*: ``kubernetes.io/hostname`` makes every node its own domain,
``topology.kubernetes.io/zone`` groups nodes by zone.

Filter, for ``requiredDuringSchedulingIgnoredDuringExecution``:

- **affinity**: the node's domain (for every term) must already hold a pod
  matching *all* the terms — except for the first pod of a group that matches
  its own terms, which may go anywhere that has the topology labels (else a
  Deployment with affinity to itself could never start);
  ``node(s) didn't match pod affinity rules``, unresolvable by preemption;
- **anti-affinity**: no matching pod in the node's domain;
  ``node(s) didn't match pod anti-affinity rules``;
- **existing pods' anti-affinity**: no pod already running may have a
  required anti-affinity term that selects the incoming pod in that domain;
  ``node(s) didn't satisfy existing pods anti-affinity rules``.

(Before Kubernetes 1.23 each of those came with a second reason,
``node(s) didn't match pod affinity/anti-affinity``; upstream dropped it, and
so does kubetui.)

Score adds term weights per domain (``preferred…`` terms of the incoming pod,
and of the pods already running, whose *required* affinity terms count with
``hardPodAffinityWeight`` 1), then maps the node totals linearly onto 0–100.
Counting is done once per pod in PreFilter / PreScore (all nodes), so Filter
and Score are dictionary lookups.
"""

from __future__ import annotations

from typing import Any, Protocol

from kubetui.scheduler.framework import (MAX_NODE_SCORE, NAMESPACE_CHANGE, NODE_ADD, NODE_UPDATE, POD_ADD,
                                         POD_DELETE, POD_UPDATE, AffinityTerm, CycleState, NodeInfo,
                                         PodInfo, Status, skip, unresolvable, unschedulable)

NAME = "InterPodAffinity"
ERR_REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
ERR_REASON_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
DEFAULT_HARD_POD_AFFINITY_WEIGHT = 1
_FILTER_KEY = "PreFilter" + NAME
_SCORE_KEY = "PreScore" + NAME

# (topologyKey, value) -> how many matching pods (or summed weights) the domain holds
TopologyCounts = dict[tuple[str, str], int]


class NamespaceLister(Protocol):
    """What the plugin reads from the scheduler's cache: namespace labels, and (optionally, to skip
    the many nodes without such pods) ``have_pods_with_affinity_list`` /
    ``have_pods_with_required_anti_affinity_list``."""

    def namespace_labels(self, name: str) -> dict[str, str] | None: ...


def pod_matches_all_terms(terms: list[AffinityTerm], pod: PodInfo, ns_labels: dict[str, str] | None) -> bool:
    """True if ``pod`` is selected by every term (and there is at least one)."""
    return bool(terms) and all(t.matches(pod.namespace, pod.labels, ns_labels) for t in terms)


def count_incoming_terms(pod: PodInfo, nodes: list[NodeInfo],
                         ns_labels: Any) -> tuple[TopologyCounts, TopologyCounts]:
    """Domains holding pods that match the incoming pod's required affinity / anti-affinity terms.

    Upstream ``getTPMapMatchingIncomingAffinityAntiAffinity``. For affinity a
    pod counts only if it matches *all* the terms; for anti-affinity each term
    counts on its own. ``ns_labels(name)`` gives a namespace's labels (for
    ``namespaceSelector``).

    Example: a pod with affinity ``app=db`` over ``zone``; node-1 (zone a)
    runs one ``app=db`` pod → ``({("zone", "a"): 1}, {})``.
    """
    affinity: TopologyCounts = {}
    anti: TopologyCounts = {}
    aff_terms, anti_terms = pod.required_affinity_terms, pod.required_anti_affinity_terms
    if not aff_terms and not anti_terms:
        return affinity, anti
    for ni in nodes:
        if not ni.pods:
            continue
        labels = ni.labels
        for other in ni.pods.values():
            nsl = ns_labels(other.namespace)
            if aff_terms and pod_matches_all_terms(aff_terms, other, nsl):
                for t in aff_terms:
                    if t.topology_key in labels:
                        k = (t.topology_key, labels[t.topology_key])
                        affinity[k] = affinity.get(k, 0) + 1
            for t in anti_terms:
                if t.topology_key in labels and t.matches(other.namespace, other.labels, nsl):
                    k = (t.topology_key, labels[t.topology_key])
                    anti[k] = anti.get(k, 0) + 1
    return affinity, anti


def count_existing_anti_affinity(pod: PodInfo, nodes: list[NodeInfo],
                                 ns_labels: dict[str, str] | None) -> TopologyCounts:
    """Domains where a running pod's required anti-affinity term selects the incoming pod.

    Upstream ``getTPMapMatchingExistingAntiAffinity``. Example: node-1 (zone a)
    runs a pod with anti-affinity ``app=web`` over ``zone``; an incoming
    ``app=web`` pod gets ``{("zone", "a"): 1}``: every node in zone a is out.
    """
    out: TopologyCounts = {}
    for ni in nodes:
        if not ni.num_with_required_anti_affinity:
            continue
        labels = ni.labels
        for other in ni.pods.values():
            for t in other.required_anti_affinity_terms:
                if t.topology_key in labels and t.matches(pod.namespace, pod.labels, ns_labels):
                    k = (t.topology_key, labels[t.topology_key])
                    out[k] = out.get(k, 0) + 1
    return out


def satisfies_pod_affinity(terms: list[AffinityTerm], counts: TopologyCounts, node_labels: dict[str, str],
                           matches_itself: bool) -> bool:
    """Upstream ``satisfyPodAffinity``: every term's domain on this node holds a matching pod.

    The node must carry every term's topology key. If no pod anywhere matches
    (``counts`` empty) and the pod matches its own terms, it is the first of
    its group and may go to any such node.

    >>> from kubetui.scheduler.framework import AffinityTerm
    >>> t = AffinityTerm("default", {}, {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "zone"})
    >>> satisfies_pod_affinity([t], {("zone", "a"): 1}, {"zone": "a"}, False)
    True
    >>> satisfies_pod_affinity([t], {("zone", "a"): 1}, {"zone": "b"}, False)
    False
    >>> satisfies_pod_affinity([t], {}, {"zone": "b"}, True)      # the first db pod, with affinity to db
    True
    >>> satisfies_pod_affinity([t], {}, {"rack": "1"}, True)      # but not where the label is missing
    False
    """
    pods_exist = True
    for t in terms:
        value = node_labels.get(t.topology_key)
        if value is None:
            return False
        if counts.get((t.topology_key, value), 0) <= 0:
            pods_exist = False
    if not pods_exist:
        return not counts and matches_itself
    return True


def satisfies_pod_anti_affinity(terms: list[AffinityTerm], counts: TopologyCounts,
                                node_labels: dict[str, str]) -> bool:
    """Upstream ``satisfyPodAntiAffinity``: no term's domain on this node holds a matching pod.

    A node without the topology key is not in any domain, so it passes.
    """
    for t in terms:
        value = node_labels.get(t.topology_key)
        if value is not None and counts.get((t.topology_key, value), 0) > 0:
            return False
    return True


def satisfies_existing_anti_affinity(counts: TopologyCounts, node_labels: dict[str, str]) -> bool:
    """Upstream ``satisfyExistingPodsAntiAffinity``: none of the node's label pairs is a forbidden domain."""
    if not counts:
        return True
    return not any(counts.get((k, v), 0) > 0 for k, v in node_labels.items())


class _FilterState:
    __slots__ = ("affinity", "anti", "existing_anti", "matches_itself")

    def __init__(self, affinity: TopologyCounts, anti: TopologyCounts, existing_anti: TopologyCounts,
                 matches_itself: bool) -> None:
        self.affinity = affinity
        self.anti = anti
        self.existing_anti = existing_anti
        self.matches_itself = matches_itself


# --- scoring --------------------------------------------------------------------------------------

def _add_term(scores: dict[str, dict[str, int]], term: AffinityTerm, weight: int, target: PodInfo,
              target_ns_labels: dict[str, str] | None, node_labels: dict[str, str]) -> None:
    value = node_labels.get(term.topology_key)
    if value is not None and term.matches(target.namespace, target.labels, target_ns_labels):
        per_key = scores.setdefault(term.topology_key, {})
        per_key[value] = per_key.get(value, 0) + weight


def topology_scores(pod: PodInfo, nodes: list[NodeInfo], ns_labels: Any,
                    hard_weight: int = DEFAULT_HARD_POD_AFFINITY_WEIGHT) -> dict[str, dict[str, int]]:
    """Summed weights per domain: ``{topologyKey: {value: score}}`` (upstream ``PreScore``).

    For every running pod, on the node it runs on:

    - each *preferred* affinity term of the incoming pod that selects it: ``+weight``;
    - each preferred anti-affinity term of the incoming pod that selects it: ``-weight``;
    - each *required* affinity term of the running pod that selects the incoming pod: ``+hard_weight``;
    - each preferred affinity / anti-affinity term of the running pod that selects the incoming pod: ``±weight``.

    Example: the incoming pod prefers (weight 80) to be in the same zone as
    ``app=cache`` and (weight 20) away from ``app=web`` in the same zone; zone a
    runs one cache pod, zone b one web pod → ``{"zone": {"a": 80, "b": -20}}``.
    """
    scores: dict[str, dict[str, int]] = {}
    has_own = bool(pod.preferred_affinity_terms or pod.preferred_anti_affinity_terms)
    own_ns = ns_labels(pod.namespace)
    for ni in nodes:
        if not ni.pods or (not has_own and not ni.num_with_affinity):
            continue
        labels = ni.labels
        if not labels:
            continue
        for other in ni.pods.values():
            if has_own:
                other_ns = ns_labels(other.namespace)
                for t in pod.preferred_affinity_terms:
                    _add_term(scores, t, t.weight, other, other_ns, labels)
                for t in pod.preferred_anti_affinity_terms:
                    _add_term(scores, t, -t.weight, other, other_ns, labels)
            if not other.has_affinity:
                continue
            if hard_weight > 0:
                for t in other.required_affinity_terms:
                    _add_term(scores, t, hard_weight, pod, own_ns, labels)
            for t in other.preferred_affinity_terms:
                _add_term(scores, t, t.weight, pod, own_ns, labels)
            for t in other.preferred_anti_affinity_terms:
                _add_term(scores, t, -t.weight, pod, own_ns, labels)
    return {k: v for k, v in scores.items() if v}


def node_score(scores: dict[str, dict[str, int]], node_labels: dict[str, str]) -> int:
    """A node's raw score: the sum, over topology keys it carries, of its domain's score.

    >>> scores = {"zone": {"a": 80, "b": -20}, "kubernetes.io/hostname": {"node-1": 5}}
    >>> node_score(scores, {"zone": "a", "kubernetes.io/hostname": "node-1"})
    85
    >>> node_score(scores, {"zone": "c"})
    0
    """
    return sum(per_value.get(node_labels[key], 0) for key, per_value in scores.items() if key in node_labels)


def normalize_min_max(scores: list[int]) -> list[int]:
    """Map raw scores linearly onto 0–100, lowest → 0, highest → 100 (upstream ``NormalizeScore``).

    Raw scores may be negative (anti-affinity). Float maths truncated, as upstream.

    >>> normalize_min_max([80, -20, 0])
    [100, 0, 20]
    >>> normalize_min_max([5, 5])
    [0, 0]
    """
    if not scores:
        return []
    lo, hi = min(scores), max(scores)
    diff = hi - lo
    if diff <= 0:
        return [0 for _ in scores]
    return [int(MAX_NODE_SCORE * ((s - lo) / diff)) for s in scores]


class InterPodAffinity:
    name = NAME
    # A peer pod appearing or leaving, or a node's labels changing, can change the verdict.
    events = (NODE_ADD, NODE_UPDATE, POD_ADD, POD_UPDATE, POD_DELETE, NAMESPACE_CHANGE)

    def __init__(self, namespaces: NamespaceLister | None = None,
                 hard_pod_affinity_weight: int = DEFAULT_HARD_POD_AFFINITY_WEIGHT) -> None:
        self.namespaces = namespaces
        self.hard_pod_affinity_weight = hard_pod_affinity_weight

    def _ns_labels(self, name: str) -> dict[str, str] | None:
        return self.namespaces.namespace_labels(name) if self.namespaces is not None else None

    def _with_required_anti_affinity(self, nodes: list[NodeInfo]) -> list[NodeInfo]:
        lister = getattr(self.namespaces, "have_pods_with_required_anti_affinity_list", None)
        return lister() if lister is not None else [ni for ni in nodes if ni.num_with_required_anti_affinity]

    def _with_affinity(self, nodes: list[NodeInfo]) -> list[NodeInfo]:
        lister = getattr(self.namespaces, "have_pods_with_affinity_list", None)
        return lister() if lister is not None else [ni for ni in nodes if ni.num_with_affinity]

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        anti_nodes = self._with_required_anti_affinity(state.nodes)
        if not pod.required_affinity_terms and not pod.required_anti_affinity_terms and not anti_nodes:
            return skip(NAME)
        own_ns = self._ns_labels(pod.namespace)
        affinity, anti = count_incoming_terms(pod, state.nodes, self._ns_labels)
        existing = count_existing_anti_affinity(pod, anti_nodes, own_ns)
        state[_FILTER_KEY] = _FilterState(affinity, anti, existing,
                                          pod_matches_all_terms(pod.required_affinity_terms, pod, own_ns))
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: _FilterState = state[_FILTER_KEY]
        labels = node.labels
        if pod.required_affinity_terms and not satisfies_pod_affinity(pod.required_affinity_terms, s.affinity,
                                                                      labels, s.matches_itself):
            missing = [t.topology_key for t in pod.required_affinity_terms if t.topology_key not in labels]
            detail = (f"node has no label {missing[0]}" if missing else
                      "no pod matching " + "; ".join(f"{str(t.selector) or '<everything>'} in "
                                                     f"{t.topology_key}={labels[t.topology_key]}"
                                                     for t in pod.required_affinity_terms))
            return unresolvable(NAME, ERR_REASON_AFFINITY, detail=detail)
        if not satisfies_pod_anti_affinity(pod.required_anti_affinity_terms, s.anti, labels):
            hit = next(t for t in pod.required_anti_affinity_terms if t.topology_key in labels
                       and s.anti.get((t.topology_key, labels[t.topology_key]), 0) > 0)
            return unschedulable(NAME, ERR_REASON_ANTI_AFFINITY,
                                 detail=f"a pod matching {str(hit.selector) or '<everything>'} runs in "
                                        f"{hit.topology_key}={labels[hit.topology_key]}")
        if not satisfies_existing_anti_affinity(s.existing_anti, labels):
            k, v = next((k, v) for k, v in labels.items() if s.existing_anti.get((k, v), 0) > 0)
            return unschedulable(NAME, ERR_REASON_EXISTING_ANTI_AFFINITY,
                                 detail=f"a pod in {k}={v} has anti-affinity against this pod")
        return None

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        # Unless the pod has preferred terms of its own, only nodes running pods with affinity matter.
        everyone = state.nodes or nodes
        if not pod.preferred_affinity_terms and not pod.preferred_anti_affinity_terms:
            everyone = self._with_affinity(everyone)
            if not everyone:
                return skip(NAME)
        scores = topology_scores(pod, everyone, self._ns_labels, self.hard_pod_affinity_weight)
        if not scores:
            return skip(NAME)
        state[_SCORE_KEY] = scores
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return node_score(state[_SCORE_KEY], node.labels)

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> list[int]:
        return normalize_min_max(scores)

