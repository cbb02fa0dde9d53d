"""PodDisruptionBudget arithmetic, shared by the disruption controller, the Eviction API and the scheduler.

Upstream: ``pkg/controller/disruption/disruption.go`` (``getExpectedPodCount``,
``countHealthyPods``, ``updatePdbStatus``), ``pkg/apis/policy/helper``
(``UpdateDisruptionAllowedCondition``) and
``pkg/registry/core/pod/storage/eviction.go`` (``checkAndDecrement``, the
unhealthy-pod eviction policies). Pure functions, table-tested.

Worked example: ``minAvailable: 2`` over 3 ready pods of a Deployment:
expectedPods 3, desiredHealthy 2, currentHealthy 3, so disruptionsAllowed
is 3 - 2 = 1. Drain evicts one pod (allowed drops to 0); the next eviction
gets 429 ``Cannot evict pod as it would violate the pod's disruption
budget.`` until the replacement pod is Ready and the controller recounts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from kubetui.api.errors import StatusError
from kubetui.api.selectors import label_selector_from_dict

Obj = dict[str, Any]

DISRUPTION_ALLOWED = "DisruptionAllowed"
SUFFICIENT_PODS = "SufficientPods"
INSUFFICIENT_PODS = "InsufficientPods"
SYNC_FAILED = "SyncFailed"
EVICTION_MESSAGE = "Cannot evict pod as it would violate the pod's disruption budget."
# How long an evicted pod counts as "being disrupted" if it is not deleted (DeletionTimeout upstream: 2 min).
DISRUPTED_POD_TIMEOUT = 120.0


def _ready(pod: Obj) -> bool:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def is_healthy(pod: Obj) -> bool:
    """``countHealthyPods``: Ready and not being deleted."""
    return _ready(pod) and not (pod.get("metadata") or {}).get("deletionTimestamp")


def scaled_value(value: Any, total: int, round_up: bool) -> int:
    """``intstr.GetScaledValueFromIntOrPercent``: an int as is, ``"50%"`` of ``total`` rounded."""
    if isinstance(value, int):
        return value
    pct = int(str(value).rstrip("%"))
    exact = pct * total / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def desired_healthy(spec: Obj, pods: int, expected: int | None) -> tuple[int, int]:
    """(expectedPods, desiredHealthy) per ``getExpectedPodCount``.

    ``minAvailable: N`` needs only the pods themselves; ``maxUnavailable`` or
    a percentage needs ``expected``: the sum of the pods' controllers' scale
    (None when a pod has no controller to ask, which upstream refuses).
    """
    min_available, max_unavailable = spec.get("minAvailable"), spec.get("maxUnavailable")
    if max_unavailable is not None:
        if expected is None:
            raise ValueError("unmanaged pods")
        return expected, max(0, expected - scaled_value(max_unavailable, expected, True))
    if isinstance(min_available, int):
        return pods, min_available
    if min_available is None:
        return 0, 0  # neither set: nothing is expected, so no disruption is allowed
    if expected is None:
        raise ValueError("unmanaged pods")
    return expected, scaled_value(min_available, expected, True)


@dataclass
class BudgetStatus:
    expected_pods: int
    desired_healthy: int
    current_healthy: int
    disruptions_allowed: int


def compute_status(spec: Obj, pods: list[Obj], expected: int | None,
                   disrupted: dict[str, Any] | None = None) -> BudgetStatus:
    """``updatePdbStatus``: disruptionsAllowed = currentHealthy - desiredHealthy (never below 0, and 0 when
    no pod is expected). Pods the Eviction API already let go (``disruptedPods``) are not healthy."""
    disrupted = disrupted or {}
    expected_pods, desired = desired_healthy(spec, len(pods), expected)
    current = sum(1 for p in pods if is_healthy(p) and (p.get("metadata") or {}).get("name") not in disrupted)
    allowed = current - desired
    if expected_pods <= 0 or allowed <= 0:
        allowed = 0
    return BudgetStatus(expected_pods, desired, current, allowed)


def allowed_condition(status: Obj, now: str, observed_generation: int) -> list[Obj]:
    """``UpdateDisruptionAllowedCondition``: DisruptionAllowed True/SufficientPods or False/InsufficientPods,
    keeping lastTransitionTime while the status stays the same (``SetStatusCondition``)."""
    ok = (status.get("disruptionsAllowed") or 0) > 0
    cond = {"type": DISRUPTION_ALLOWED, "status": "True" if ok else "False",
            "reason": SUFFICIENT_PODS if ok else INSUFFICIENT_PODS, "message": "",
            "observedGeneration": observed_generation, "lastTransitionTime": now}
    return _set_condition(status.get("conditions") or [], cond)


def sync_failed_condition(status: Obj, now: str, observed_generation: int, message: str) -> list[Obj]:
    cond = {"type": DISRUPTION_ALLOWED, "status": "False", "reason": SYNC_FAILED, "message": message,
            "observedGeneration": observed_generation, "lastTransitionTime": now}
    return _set_condition(status.get("conditions") or [], cond)


def _set_condition(conditions: list[Obj], cond: Obj) -> list[Obj]:
    out = [dict(c) for c in conditions if c.get("type") != cond["type"]]
    old = next((c for c in conditions if c.get("type") == cond["type"]), None)
    if old is not None and old.get("status") == cond["status"]:
        cond = {**cond, "lastTransitionTime": old.get("lastTransitionTime") or cond["lastTransitionTime"]}
    return out + [cond]


# --------------------------------------------------------------------- eviction

@dataclass
class EvictionDecision:
    """What the Eviction API does: ``delete`` the pod (and ``decrement`` the budget first), or refuse."""

    delete: bool
    decrement: bool = False
    code: int = 0            # 429 (budget), 403, 500 when refused
    message: str = ""
    cause: str = ""          # the DisruptionBudget cause's message


def pod_can_ignore_budget(pod: Obj) -> bool:
    """``canIgnorePDB``: a finished or still-pending pod, or one already being deleted, disrupts nothing."""
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Succeeded", "Failed", "Pending") or bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def decide_eviction(pod: Obj, pdbs: list[Obj]) -> EvictionDecision:
    """``EvictionREST.Create``'s decision for one pod and the budgets that select it."""
    if pod_can_ignore_budget(pod) or not pdbs:
        return EvictionDecision(delete=True)
    if len(pdbs) > 1:
        return EvictionDecision(delete=False, code=500, message="This pod has more than one PodDisruptionBudget, "
                                                                "which the eviction subresource does not support.")
    pdb = pdbs[0]
    name = pdb["metadata"]["name"]
    st = pdb.get("status") or {}
    if (st.get("observedGeneration") or 0) < (pdb["metadata"].get("generation") or 0):
        return EvictionDecision(delete=False, code=429, message=EVICTION_MESSAGE,
                                cause=f"The disruption budget {name} is still being processed by the server.")
    desired, current = int(st.get("desiredHealthy") or 0), int(st.get("currentHealthy") or 0)
    budget_cause = f"The disruption budget {name} needs {desired} healthy pods and has {current} currently"
    if not _ready(pod):
        policy = (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy") or "IfHealthyBudget"
        if policy == "AlwaysAllow":
            return EvictionDecision(delete=True)
        if current >= desired and desired > 0:
            return EvictionDecision(delete=True)
        return EvictionDecision(delete=False, code=429, message=EVICTION_MESSAGE, cause=budget_cause)
    allowed = int(st.get("disruptionsAllowed") or 0)
    if allowed < 0:
        return EvictionDecision(delete=False, code=403, message="pdb disruptions allowed is negative")
    if allowed == 0:
        return EvictionDecision(delete=False, code=429, message=EVICTION_MESSAGE, cause=budget_cause)
    return EvictionDecision(delete=True, decrement=True)


def selects(pdb: Obj, labels: dict[str, str]) -> bool:
    """Does the budget's selector select these labels? (an empty selector selects every pod, a null one none)"""
    sel = (pdb.get("spec") or {}).get("selector")
    if sel is None:
        return False
    try:
        return label_selector_from_dict(sel).matches(labels)
    except StatusError:  # a malformed selector selects nothing
        return False
