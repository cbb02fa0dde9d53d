"""Inter-pod (anti-)affinity and topology spread constraints are validated with upstream's field paths and
messages (issue 12 item 9: the scheduler now reads them, so malformed ones are refused with a 422)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubetui.api.defaults import apply_defaults
from kubetui.api.resources import resource_for
from kubetui.api.validation import validate

PODS = resource_for("pods")
SEL = {"matchLabels": {"app": "web"}}


def pod_with(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}


def causes(obj: dict[str, Any]) -> list[tuple[str, str]]:
    obj = copy.deepcopy(obj)
    apply_defaults(PODS, obj)
    return [(c["field"], c["message"]) for c in validate(PODS, obj)]


def test_the_documentations_examples_are_valid():
    spread = [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule", "labelSelector": SEL,
               "minDomains": 2, "nodeAffinityPolicy": "Honor", "nodeTaintsPolicy": "Ignore",
               "matchLabelKeys": ["pod-template-hash"]},
              {"maxSkew": 2, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
               "labelSelector": SEL}]
    affinity = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchExpressions": [{"key": "security", "operator": "In", "values": ["S1"]}]},
                     "topologyKey": "topology.kubernetes.io/zone"}]},
                "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 100, "podAffinityTerm": {"labelSelector": SEL, "namespaceSelector": {},
                                                        "topologyKey": "topology.kubernetes.io/zone"}}]}}
    assert causes(pod_with(topologySpreadConstraints=spread, affinity=affinity)) == []


@pytest.mark.parametrize("constraint,want", [
    ({"maxSkew": 0}, [("spec.topologySpreadConstraints[0].maxSkew", "Invalid value: 0: must be greater than zero")]),
    ({"topologyKey": ""}, [("spec.topologySpreadConstraints[0].topologyKey", "Required value: can not be empty")]),
    ({"whenUnsatisfiable": "Never"},
     [("spec.topologySpreadConstraints[0].whenUnsatisfiable",
       'Unsupported value: "Never": supported values: "DoNotSchedule", "ScheduleAnyway"')]),
    ({"minDomains": 0}, [("spec.topologySpreadConstraints[0].minDomains",
                          "Invalid value: 0: must be greater than zero")]),
    ({"minDomains": 2, "whenUnsatisfiable": "ScheduleAnyway"},
     [("spec.topologySpreadConstraints[0].minDomains",
       "Invalid value: 2: can only use minDomains if whenUnsatisfiable=DoNotSchedule, not ScheduleAnyway")]),
    ({"nodeTaintsPolicy": "Maybe"}, [("spec.topologySpreadConstraints[0].nodeTaintsPolicy",
                                      'Unsupported value: "Maybe": supported values: "Honor", "Ignore"')]),
    ({"labelSelector": {"matchExpressions": [{"key": "app", "operator": "Like", "values": ["x"]}]}},
     [("spec.topologySpreadConstraints[0].labelSelector.matchExpressions[0].operator",
       'Invalid value: "Like": not a valid selector operator')]),
])
def test_topology_spread_constraint_errors(constraint, want):
    c = {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule", "labelSelector": SEL,
         **constraint}
    assert causes(pod_with(topologySpreadConstraints=[c])) == want


def test_repeated_topology_key_and_action_is_a_duplicate():
    c = {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule", "labelSelector": SEL}
    assert causes(pod_with(topologySpreadConstraints=[c, dict(c, maxSkew=2)])) == [
        ("spec.topologySpreadConstraints[0].{topologyKey, whenUnsatisfiable}",
         'Duplicate value: "{zone, DoNotSchedule}"')]


@pytest.mark.parametrize("affinity,want", [
    ({"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": SEL}]}},
     [("spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey",
       "Required value: can not be empty")]),
    ({"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 0, "podAffinityTerm": {"labelSelector": SEL, "topologyKey": "zone"}}]}},
     [("spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight",
       "Invalid value: 0: must be in the range 1-100")]),
    ({"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchExpressions": [{"key": "app", "operator": "In"}]}, "topologyKey": "zone"}]}},
     [("spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector"
       ".matchExpressions[0].values", "Required value: must be specified when `operator` is 'In' or 'NotIn'")]),
])
def test_pod_affinity_errors(affinity, want):
    assert causes(pod_with(affinity=affinity)) == want
