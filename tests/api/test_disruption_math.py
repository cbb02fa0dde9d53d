"""Table tests for PodDisruptionBudget arithmetic and the Eviction API's decision (upstream's cases)."""

import pytest

from kubetui.api.disruption import EVICTION_MESSAGE, compute_status, decide_eviction


def pod(name, ready=True, phase="Running", deleting=False):
    meta = {"name": name, "labels": {"app": "web"}}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, "status": {"phase": phase,
                                         "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


@pytest.mark.parametrize("spec,pods,expected,want", [
    # minAvailable int: expected = the pods themselves
    ({"minAvailable": 2}, [pod("a"), pod("b"), pod("c")], None, (3, 2, 3, 1)),
    ({"minAvailable": 2}, [pod("a"), pod("b"), pod("c", ready=False)], None, (3, 2, 2, 0)),
    # maxUnavailable from the controllers' scale (5 replicas, 4 pods exist, all ready)
    ({"maxUnavailable": 1}, [pod(n) for n in "abcd"], 5, (5, 4, 4, 0)),
    ({"maxUnavailable": "50%"}, [pod(n) for n in "abcd"], 4, (4, 2, 4, 2)),
    # percentages round up desiredHealthy: 34% of 3 is 1.02 -> 2
    ({"minAvailable": "34%"}, [pod(n) for n in "abc"], 3, (3, 2, 3, 1)),
    # being deleted or disrupted is not healthy
    ({"minAvailable": 1}, [pod("a", deleting=True), pod("b")], None, (2, 1, 1, 0)),
    # neither field: nothing expected, nothing allowed
    ({}, [pod("a")], None, (0, 0, 1, 0)),
])
def test_status(spec, pods, expected, want):
    s = compute_status(spec, pods, expected)
    assert (s.expected_pods, s.desired_healthy, s.current_healthy, s.disruptions_allowed) == want


def test_unmanaged_pods_cannot_use_max_unavailable():
    with pytest.raises(ValueError):
        compute_status({"maxUnavailable": 1}, [pod("a")], None)


def test_disrupted_pods_are_not_counted_healthy():
    s = compute_status({"minAvailable": 1}, [pod("a"), pod("b")], None, {"a": "2026-01-01T00:00:00Z"})
    assert (s.current_healthy, s.disruptions_allowed) == (1, 0)


def pdb(allowed=1, desired=2, current=3, generation=1, observed=1, policy=None):
    spec = {"selector": {"matchLabels": {"app": "web"}}}
    if policy:
        spec["unhealthyPodEvictionPolicy"] = policy
    return {"metadata": {"name": "web", "generation": generation}, "spec": spec,
            "status": {"disruptionsAllowed": allowed, "desiredHealthy": desired, "currentHealthy": current,
                       "observedGeneration": observed}}


@pytest.mark.parametrize("p,pdbs,want", [
    (pod("a"), [], (True, False, 0, "")),
    (pod("a"), [pdb()], (True, True, 0, "")),
    (pod("a"), [pdb(allowed=0, current=2)], (False, False, 429,
                                             "The disruption budget web needs 2 healthy pods and has 2 currently")),
    (pod("a"), [pdb(generation=2, observed=1)], (False, False, 429,
                                                 "The disruption budget web is still being processed by the server.")),
    (pod("a", phase="Pending"), [pdb(allowed=0)], (True, False, 0, "")),
    (pod("a", phase="Succeeded"), [pdb(allowed=0)], (True, False, 0, "")),
    # an unready running pod: IfHealthyBudget lets it go only if the app is not disrupted
    (pod("a", ready=False), [pdb(allowed=0, desired=2, current=2)], (True, False, 0, "")),
    (pod("a", ready=False), [pdb(allowed=0, desired=2, current=1)],
     (False, False, 429, "The disruption budget web needs 2 healthy pods and has 1 currently")),
    (pod("a", ready=False), [pdb(allowed=0, desired=2, current=1, policy="AlwaysAllow")], (True, False, 0, "")),
    (pod("a"), [pdb(), pdb()], (False, False, 500, "")),
])
def test_eviction_decision(p, pdbs, want):
    d = decide_eviction(p, pdbs)
    assert (d.delete, d.decrement, d.code, d.cause) == want
    if d.code == 429:
        assert d.message == EVICTION_MESSAGE
