"""Scheduler profiles: which plugins run, in which order, with which Score weights.

Upstream: a ``KubeSchedulerConfiguration`` (``pkg/scheduler/apis/config/v1/default_plugins.go``).
The default profile is Kubernetes' own list, minus the plugins kubetui does
not implement (VolumeRestrictions, NodeVolumeLimits,
VolumeZone, DefaultPreemption's eviction): Filters run in this order and a
node stops at its first failure; Score weights are upstream's
(TaintToleration 3, NodeAffinity 2, NodeResourcesFit 1, PodTopologySpread 2,
InterPodAffinity 2, NodeResourcesBalancedAllocation 1, ImageLocality 1).

``bin-packing`` is the configuration the Kubernetes docs give for "Resource
Bin Packing": the same profile with NodeResourcesFit's scoring strategy set to
``MostAllocated``::

    pluginConfig:
    - name: NodeResourcesFit
      args:
        scoringStrategy:
          type: MostAllocated
          resources: [{name: cpu, weight: 1}, {name: memory, weight: 1}]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubetui.scheduler.plugins.balanced_allocation import BalancedAllocation
from kubetui.scheduler.plugins.image_locality import ImageLocality
from kubetui.scheduler.plugins.inter_pod_affinity import InterPodAffinity
from kubetui.scheduler.plugins.node_affinity import NodeAffinity
from kubetui.scheduler.plugins.node_name import NodeName
from kubetui.scheduler.plugins.node_ports import NodePorts
from kubetui.scheduler.plugins.node_resources_fit import LEAST_ALLOCATED, MOST_ALLOCATED, NodeResourcesFit
from kubetui.scheduler.plugins.node_unschedulable import NodeUnschedulable
from kubetui.scheduler.plugins.pod_topology_spread import PodTopologySpread
from kubetui.scheduler.plugins.taint_toleration import TaintToleration
from kubetui.scheduler.plugins.volume_binding import VolumeBinding

DEFAULT = "default"
BIN_PACKING = "bin-packing"
PROFILES = (DEFAULT, BIN_PACKING)


@dataclass
class Profile:
    """A named list of plugins and their Score weights (a weight of 0 means "not a scorer")."""

    name: str
    plugins: list[Any]
    weights: dict[str, int] = field(default_factory=dict)
    # percentageOfNodesToScore: 0 = upstream's adaptive default (see runtime.num_feasible_nodes_to_find).
    percentage_of_nodes_to_score: int = 0

    def describe(self) -> dict[str, Any]:
        """The profile as JSON (for explanations and the TUI)."""
        out = []
        for p in self.plugins:
            points = [ep for ep, meth in (("PreFilter", "pre_filter"), ("Filter", "filter"),
                                          ("PreScore", "pre_score"), ("Score", "score"),
                                          ("NormalizeScore", "normalize_score")) if hasattr(p, meth)]
            entry: dict[str, Any] = {"name": p.name, "extensionPoints": points}
            if "Score" in points:
                entry["weight"] = self.weights.get(p.name, 1)
            if isinstance(p, NodeResourcesFit):
                entry["scoringStrategy"] = {"type": p.strategy,
                                            "resources": [{"name": k, "weight": v} for k, v in p.resources.items()]}
            out.append(entry)
        return {"name": self.name, "plugins": out, "percentageOfNodesToScore": self.percentage_of_nodes_to_score}


def build_profile(name: str = DEFAULT, lister: Any = None) -> Profile:
    """The ``default`` or ``bin-packing`` profile.

    ``lister`` (the scheduler's cache) gives VolumeBinding its PVCs/PVs
    (``VolumeLister``) and InterPodAffinity the namespaces' labels
    (``NamespaceLister``).
    """
    if name not in PROFILES:
        raise ValueError(f"unknown scheduler profile {name!r} (choose from {', '.join(PROFILES)})")
    strategy = MOST_ALLOCATED if name == BIN_PACKING else LEAST_ALLOCATED
    plugins = [
        NodeUnschedulable(),
        NodeName(),
        TaintToleration(),
        NodeAffinity(),
        NodePorts(),
        NodeResourcesFit(strategy),
        VolumeBinding(lister),
        PodTopologySpread(),
        InterPodAffinity(lister if hasattr(lister, "namespace_labels") else None),
        BalancedAllocation(),
        ImageLocality(),
    ]
    weights = {"TaintToleration": 3, "NodeAffinity": 2, "NodeResourcesFit": 1, "PodTopologySpread": 2,
               "InterPodAffinity": 2, "NodeResourcesBalancedAllocation": 1, "ImageLocality": 1}
    return Profile(name=name, plugins=plugins, weights=weights)
