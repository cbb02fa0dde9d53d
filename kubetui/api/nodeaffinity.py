"""Matching nodes against node selector terms (upstream: k8s.io/component-helpers/scheduling/corev1/nodeaffinity).

Shared by the scheduler's NodeAffinity and VolumeBinding plugins and the
PersistentVolume controller, as upstream shares component-helpers between
kube-scheduler and kube-controller-manager.
"""

from __future__ import annotations

from typing import Any


def match_requirement(req: dict[str, Any], labels: dict[str, str]) -> bool:
    """One ``NodeSelectorRequirement`` against a node's labels.

    Operators: ``In``, ``NotIn``, ``Exists``, ``DoesNotExist``, ``Gt``, ``Lt``
    (the last two compare integers).

    >>> labels = {"zone": "a", "cores": "8"}
    >>> match_requirement({"key": "zone", "operator": "In", "values": ["a", "b"]}, labels)
    True
    >>> match_requirement({"key": "cores", "operator": "Gt", "values": ["4"]}, labels)
    True
    >>> match_requirement({"key": "gpu", "operator": "NotIn", "values": ["x"]}, labels)
    True
    """
    key = req.get("key")
    op = req.get("operator")
    values = req.get("values") or []
    has = key in labels
    if op == "In":
        return has and labels[key] in values
    if op == "NotIn":
        return not has or labels[key] not in values
    if op == "Exists":
        return has
    if op == "DoesNotExist":
        return not has
    if op in ("Gt", "Lt"):
        if not has or len(values) != 1:
            return False
        try:
            have, want = int(labels[key]), int(values[0])
        except ValueError:
            return False
        return have > want if op == "Gt" else have < want
    return False


def match_term(term: dict[str, Any], labels: dict[str, str], node_name: str) -> bool:
    """A ``NodeSelectorTerm``: all its expressions and fields must match; an empty term matches nothing."""
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields:
        return False
    if not all(match_requirement(r, labels) for r in exprs):
        return False
    # The only field a term may select on is metadata.name.
    return all(match_requirement(r, {"metadata.name": node_name}) for r in fields)


def pv_reaches_node(pv: dict[str, Any], labels: dict[str, str], node_name: str) -> bool:
    """Whether a PersistentVolume's ``spec.nodeAffinity.required`` selects the node (no affinity: everywhere)."""
    required = ((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required")
    if not required:
        return True
    return any(match_term(t, labels, node_name) for t in required.get("nodeSelectorTerms") or [])
