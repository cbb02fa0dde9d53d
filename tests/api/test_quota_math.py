"""Table tests for quota usage and LimitRange arithmetic (upstream's evaluator and limitranger cases)."""

import pytest

from kubetui.api import limitrange, resourcequota as rq


def pod(*containers, phase="Running", **spec):
    return {"metadata": {"name": "p"}, "spec": {"containers": list(containers), **spec}, "status": {"phase": phase}}


def c(name="app", requests=None, limits=None):
    res = {}
    if requests:
        res["requests"] = requests
    if limits:
        res["limits"] = limits
    return {"name": name, "image": "nginx", "resources": res}


@pytest.mark.parametrize("p,want", [
    (pod(c(requests={"cpu": "250m", "memory": "64Mi"}, limits={"cpu": "500m", "memory": "128Mi"}),
         c("side", requests={"cpu": "250m"})),
     {"count/pods": "1", "pods": "1", "cpu": "500m", "requests.cpu": "500m", "memory": "64Mi",
      "requests.memory": "64Mi", "limits.cpu": "500m", "limits.memory": "128Mi"}),
    # init containers: the pod needs the largest of (sum of containers, each init container)
    (pod(c(requests={"cpu": "100m"}), initContainers=[c("init", requests={"cpu": "1"})]),
     {"count/pods": "1", "pods": "1", "cpu": "1", "requests.cpu": "1"}),
    # a finished pod only counts as an object in storage
    (pod(c(requests={"cpu": "1"}), phase="Succeeded"), {"count/pods": "1"}),
])
def test_pod_usage(p, want):
    assert rq.pod_usage(p) == want


def quota(name="compute", hard=None, used=None, scopes=None, selector=None):
    spec = {"hard": hard or {}}
    if scopes:
        spec["scopes"] = scopes
    if selector:
        spec["scopeSelector"] = {"matchExpressions": selector}
    return {"metadata": {"name": name}, "spec": spec,
            "status": {"hard": dict(hard or {}), "used": used if used is not None else {k: "0" for k in hard or {}}}}


def test_exceeded_names_only_the_exceeded_resources_with_upstream_wording():
    q = quota(hard={"pods": "2", "requests.cpu": "1"}, used={"pods": "2", "requests.cpu": "500m"})
    with pytest.raises(rq.QuotaRefusal) as e:
        rq.check_request([q], "pods", pod(c(requests={"cpu": "200m"})))
    assert str(e.value) == "exceeded quota: compute, requested: pods=1, used: pods=2, limited: pods=2"


def test_charge_adds_in_the_quotas_units():
    q = quota(hard={"pods": "5", "requests.memory": "1Gi", "requests.cpu": "2"},
              used={"pods": "1", "requests.memory": "512Mi", "requests.cpu": "500m"})
    out = rq.check_request([q], "pods", pod(c(requests={"cpu": "500m", "memory": "256Mi"})))
    assert out == {"compute": {"pods": "2", "requests.memory": "768Mi", "requests.cpu": "1"}}


def test_must_specify_limits_when_the_quota_limits_them():
    q = quota(hard={"limits.cpu": "2", "requests.cpu": "1", "limits.memory": "1Gi"})
    with pytest.raises(rq.QuotaRefusal) as e:
        rq.check_request([q], "pods", pod(c(requests={"cpu": "100m"}), c("side")))
    assert str(e.value) == ("failed quota: compute: must specify limits.cpu for: app,side; "
                            "limits.memory for: app,side; requests.cpu for: side")


def test_status_unknown_until_the_controller_counted():
    q = quota(hard={"pods": "2"})
    q["status"] = {}
    with pytest.raises(rq.QuotaRefusal, match="status unknown for quota: compute, resources: pods"):
        rq.check_request([q], "pods", pod(c()))


@pytest.mark.parametrize("scopes,selector,p,matches", [
    (["BestEffort"], None, pod(c()), True),
    (["BestEffort"], None, pod(c(requests={"cpu": "1"})), False),
    (["NotBestEffort"], None, pod(c(requests={"cpu": "1"})), True),
    (["Terminating"], None, pod(c(), activeDeadlineSeconds=30), True),
    (["NotTerminating"], None, pod(c(), activeDeadlineSeconds=30), False),
    (None, [{"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}],
     pod(c(), priorityClassName="high"), True),
    (None, [{"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}], pod(c()), False),
    (["PriorityClass"], None, pod(c(), priorityClassName="low"), True),
])
def test_scopes(scopes, selector, p, matches):
    assert rq.quota_matches(quota(hard={"pods": "3"}, scopes=scopes, selector=selector), "pods", p) is matches


def test_object_counts_and_scoped_quotas_skip_other_kinds():
    svc = {"metadata": {"name": "s"}, "spec": {"type": "NodePort", "ports": [{"port": 80}, {"port": 443}]}}
    assert rq.object_usage("services", svc) == {"count/services": "1", "services": "1", "services.nodeports": "2"}
    assert rq.quota_matches(quota(hard={"count/deployments.apps": "1"}), "deployments.apps", {"spec": {}})
    assert not rq.quota_matches(quota(hard={"count/deployments.apps": "1"}, scopes=["BestEffort"]),
                                "deployments.apps", {"spec": {}})
    used = rq.namespace_usage(quota(hard={"pods": "10", "requests.cpu": "4", "count/pods": "10"}),
                              {"pods": [pod(c(requests={"cpu": "1"})), pod(c(requests={"cpu": "1"}), phase="Failed")]})
    assert used == {"pods": "1", "requests.cpu": "1", "count/pods": "2"}


LR = {"spec": {"limits": [{"type": "Container", "default": {"cpu": "500m", "memory": "256Mi"},
                           "defaultRequest": {"cpu": "250m", "memory": "128Mi"}, "max": {"cpu": "1"},
                           "min": {"cpu": "100m"}, "maxLimitRequestRatio": {"cpu": "4"}}]}}


def test_limit_range_defaults_only_what_is_missing_and_annotates():
    p = pod(c(requests={"cpu": "300m"}))
    limitrange.apply_defaults(p, [LR])
    res = p["spec"]["containers"][0]["resources"]
    assert res == {"requests": {"cpu": "300m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}}
    assert p["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: memory request for container app; cpu, memory limit for container app")
    assert limitrange.validate_pod(p, LR) == []


@pytest.mark.parametrize("res,want", [
    (c(requests={"cpu": "50m"}, limits={"cpu": "500m"}), ["minimum cpu usage per Container is 100m, but request is 50m",
                                                          "cpu max limit to request ratio per Container is 4, but "
                                                          "provided ratio is 10.000000"]),
    (c(requests={"cpu": "500m"}, limits={"cpu": "2"}), ["maximum cpu usage per Container is 1, but limit is 2"]),
    (c(requests={"cpu": "500m"}), ["maximum cpu usage per Container is 1.  No limit is specified",
                                   "cpu max limit to request ratio per Container is 4, but no limit is specified or "
                                   "limit is 0"]),
])
def test_limit_range_constraints(res, want):
    assert limitrange.validate_pod(pod(res), LR) == want


def test_aggregate_formats_like_utilerrors():
    assert limitrange.aggregate(["a"]) == "a"
    assert limitrange.aggregate(["a", "b", "a"]) == "[a, b]"
