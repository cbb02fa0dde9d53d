"""Declarative checks against a real in-process cluster: each kind passes and fails, with a diagnosis."""

from __future__ import annotations

import pytest

from kubetui.lessons.checks import compare, evaluate, first_failure
from kubetui.lessons.format import Check


@pytest.mark.parametrize("value,op,want,ok", [
    (3, "gte", 3, True), (2, "gte", 3, False), ("5", "equals", 5, True), ("True", "equals", True, True),
    ("False", "equals", True, False), ("500m", "lt", 1, True), ("2Gi", "gte", "1Gi", True),
    ("node-2", "matches", "^node-", True), (None, "matches", ".", False), (["a", "b"], "contains", "b", True),
    ("abc", "contains", "d", False), (None, "not_equals", None, False), ("x", "not_equals", None, True),
    ("abc", "gte", 1, False),
])
def test_compare(value, op, want, ok):
    assert compare(value, op, want) is ok


def c(check_kind: str, fail: str = "failed", **spec) -> Check:
    return Check(check_kind, spec, fail)


async def test_api_checks_pass_and_fail_with_observations(lab):
    client = lab.client
    await client.create("deployments", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "kubetui/hello:1"}]}}}}, "default")
    await client.create("services", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                                     "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}},
                        "default")
    ctx = lab.check_context()
    from kubetui.lessons.runner import wait_for_check
    ready = await wait_for_check(c("field", resource="deployments", name="web", path="{.status.readyReplicas}",
                                   equals=2), ctx, 20)
    assert ready.passed, ready.detail

    cases = [
        (c("exists", resource="deployments", name="web"), True, "deployments/web exists"),
        (c("exists", resource="deployments", name="nope"), False, "deployments/nope not found"),
        (c("exists", resource="deployments", name="nope", absent=True), True, "gone"),
        (c("field", resource="deployments", name="web", path=".spec.replicas", gte=3), False,
         ".spec.replicas is 2, want ≥ 3"),
        (c("field", resource="deployments", name="web", path=".spec.paused", equals=True), False, "is not set"),
        (c("count", resource="pods", selector="app=web", where=[{"path": ".status.phase", "equals": "Running"}],
           equals=2), True, "2 pods with app=web where .status.phase = Running"),
        (c("count", resource="pods", selector="app=nothing"), False, "0 pods with app=nothing (want ≥ 1)"),
        (c("count", resource="nodes", equals=3), True, "3 nodes"),
        (c("endpoints", service="web", ready_gte=2), True, "2 ready, 0 not ready"),
        (c("endpoints", service="web", ready=3), False, "want ready = 3"),
        (c("endpoints", service="missing"), False, "service/missing not found"),
        (c("event", reason="ScalingReplicaSet", kind="Deployment", name="web"), True, "1 seen"),
        (c("event", reason="Killing"), False, "no event Killing since this step started"),
        (c("shell", run="kubectl get deployment web"), True, "exit code 0"),
        (c("shell", run="kubectl get deployment nope"), False, "NotFound"),
        (c("shell", run="echo hello", output_matches="bye"), False, "does not match"),
    ]
    for check, ok, detail in cases:
        [r] = await evaluate([check], ctx)
        assert r.passed is ok, (check, r.detail)
        assert detail in r.detail, (check, r.detail)
        assert r.message == ("" if ok else "failed")


async def test_first_failing_check_gives_the_message(lab):
    checks = [c("count", "fine", resource="nodes", gte=1),
              c("exists", "no deployment web: create it", resource="deployments", name="web"),
              c("exists", "second", resource="services", name="web")]
    results = await evaluate(checks, lab.check_context())
    assert [r.passed for r in results] == [True, False, False]
    assert first_failure(results).message == "no deployment web: create it"


async def test_event_check_counts_only_events_after_the_step_began(lab):
    from kubetui.lessons.checks import current_rv
    await lab.client.create("pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1"},
                                     "spec": {"containers": [{"name": "c", "image": "kubetui/hello:1"}]}}, "default")
    ctx = lab.check_context()
    from kubetui.lessons.runner import wait_for_check
    check = c("event", reason="Scheduled", kind="Pod", name="p1")
    assert (await wait_for_check(check, ctx, 10)).passed
    later = lab.check_context(since_rv=await current_rv(lab.client))
    [r] = await evaluate([check], later)
    assert not r.passed                       # the event happened before the step
    await lab.client.create("pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1b"},
                                     "spec": {"containers": [{"name": "c", "image": "kubetui/hello:1"}]}}, "default")
    assert (await wait_for_check(check, later, 10)).passed     # name is a prefix: p1b counts
