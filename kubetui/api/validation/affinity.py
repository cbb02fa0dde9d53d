"""Validation of what a pod asks of its neighbours: inter-pod (anti-)affinity and topology spread.

Upstream: ``pkg/apis/core/validation/validation.go`` (``validatePodAffinity``,
``validatePodAntiAffinity``, ``validatePodAffinityTerm``,
``validateWeightedPodAffinityTerms``, ``validateTopologySpreadConstraints``),
with upstream's field paths and messages. The scheduler's InterPodAffinity and
PodTopologySpread plugins read these fields; a malformed selector or a
``maxSkew`` of 0 is refused here (422) instead of reaching them.
"""

from __future__ import annotations

from typing import Any

from kubetui.api.validation import names
from kubetui.api.validation.field import (Cause, as_dict, as_list, child, dict_items, duplicate, index, invalid,
                                          is_int, required)
from kubetui.api.validation.meta import validate_label_selector, validate_values

REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"
WHEN_UNSATISFIABLE = ("DoNotSchedule", "ScheduleAnyway")
NODE_INCLUSION_POLICIES = ("Honor", "Ignore")
NOT_POSITIVE = "must be greater than zero"


def _label_keys(keys: Any, path: str) -> list[Cause]:
    errs = []
    for i, k in enumerate(as_list(keys)):
        errs += [invalid(index(path, i), k, m) for m in names.is_qualified_name(str(k))]
    return errs


def validate_pod_affinity_term(term: Any, path: str) -> list[Cause]:
    """One ``PodAffinityTerm``: selectors, namespaces, a non-empty label-name ``topologyKey``."""
    term = as_dict(term)
    errs = validate_label_selector(term.get("labelSelector"), child(path, "labelSelector"))
    errs += validate_label_selector(term.get("namespaceSelector"), child(path, "namespaceSelector"))
    for ns in as_list(term.get("namespaces")):
        errs += [invalid(child(path, "namespace"), ns, m) for m in names.is_dns1123_label(str(ns))]
    errs += _label_keys(term.get("matchLabelKeys"), child(path, "matchLabelKeys"))
    errs += _label_keys(term.get("mismatchLabelKeys"), child(path, "mismatchLabelKeys"))
    key = term.get("topologyKey")
    if not key:
        errs.append(required(child(path, "topologyKey"), "can not be empty"))
    else:
        errs += [invalid(child(path, "topologyKey"), key, m) for m in names.is_qualified_name(str(key))]
    return errs


def _validate_pod_affinity_kind(spec: Any, path: str) -> list[Cause]:
    spec = as_dict(spec)
    errs: list[Cause] = []
    for i, term in enumerate(as_list(spec.get(REQUIRED))):
        errs += validate_pod_affinity_term(term, index(child(path, REQUIRED), i))
    for i, weighted in dict_items(spec.get(PREFERRED)):
        p = index(child(path, PREFERRED), i)
        weight = weighted.get("weight")
        if not is_int(weight) or not 1 <= weight <= 100:
            errs.append(invalid(child(p, "weight"), weight, "must be in the range 1-100"))
        errs += validate_pod_affinity_term(weighted.get("podAffinityTerm"), child(p, "podAffinityTerm"))
    return errs


def validate_pod_affinities(affinity: Any, path: str) -> list[Cause]:
    """``spec.affinity.podAffinity`` and ``podAntiAffinity`` (``path`` is ``spec.affinity``)."""
    affinity = as_dict(affinity)
    errs: list[Cause] = []
    for kind in ("podAffinity", "podAntiAffinity"):
        if affinity.get(kind) is not None:
            errs += _validate_pod_affinity_kind(affinity[kind], child(path, kind))
    return errs


def validate_topology_spread_constraints(constraints: Any, path: str) -> list[Cause]:
    """``spec.topologySpreadConstraints``, as upstream's ``validateTopologySpreadConstraints``."""
    errs: list[Cause] = []
    items = dict_items(constraints)
    for i, c in items:
        p = index(path, i)
        skew = c.get("maxSkew")
        if not is_int(skew) or skew <= 0:
            errs.append(invalid(child(p, "maxSkew"), skew, NOT_POSITIVE))
        if not c.get("topologyKey"):
            errs.append(required(child(p, "topologyKey"), "can not be empty"))
        when = c.get("whenUnsatisfiable")
        errs += validate_values(child(p, "whenUnsatisfiable"), when, WHEN_UNSATISFIABLE, required_=True)
        for j, later in items:
            if j > i and later.get("topologyKey") == c.get("topologyKey") and later.get("whenUnsatisfiable") == when:
                errs.append(duplicate(child(p, "{topologyKey, whenUnsatisfiable}"),
                                      f"{{{c.get('topologyKey')}, {when}}}"))
                break
        min_domains = c.get("minDomains")
        if min_domains is not None:
            if not is_int(min_domains) or min_domains <= 0:
                errs.append(invalid(child(p, "minDomains"), min_domains, NOT_POSITIVE))
            if when != "DoNotSchedule":
                errs.append(invalid(child(p, "minDomains"), min_domains,
                                    f"can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {when}"))
        for f in ("nodeAffinityPolicy", "nodeTaintsPolicy"):
            errs += validate_values(child(p, f), c.get(f), NODE_INCLUSION_POLICIES)
        errs += _label_keys(c.get("matchLabelKeys"), child(p, "matchLabelKeys"))
        errs += validate_label_selector(c.get("labelSelector"), child(p, "labelSelector"))
    return errs
