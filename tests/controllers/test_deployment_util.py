"""Table tests for the Deployment controller's arithmetic and template equality."""

from __future__ import annotations

import pytest

from kubetui.controllers import deployment_util as du


def d(replicas=10, surge="25%", unavailable="25%", strategy="RollingUpdate"):
    spec = {"replicas": replicas, "strategy": {"type": strategy}}
    if strategy == "RollingUpdate":
        spec["strategy"]["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": unavailable}
    return {"metadata": {"name": "web"}, "spec": spec}


def rs(replicas, available=None):
    return {"metadata": {}, "spec": {"replicas": replicas},
            "status": {"availableReplicas": replicas if available is None else available}}


@pytest.mark.parametrize("surge,unavail,desired,expected", [
    ("25%", "25%", 10, (3, 2)),      # surge rounds up, unavailable down
    ("25%", "25%", 1, (1, 0)),
    (0, 0, 3, (0, 1)),               # both zero would deadlock: unavailable becomes 1
    (1, "50%", 5, (1, 2)),
    ("100%", 0, 4, (4, 0)),
])
def test_fenceposts(surge, unavail, desired, expected):
    assert du.resolve_fenceposts(surge, unavail, desired) == expected


@pytest.mark.parametrize("deploy,old,new,expected", [
    (d(10), 10, 0, 3),                 # may surge to 13 total
    (d(10), 10, 3, 3),                 # already at 13: wait
    (d(10), 7, 3, 6),                  # old scaled down to 7: new may reach 6
    (d(3, surge=1, unavailable=0), 3, 0, 1),
    (d(3, strategy="Recreate"), 3, 0, 3),
])
def test_new_rs_new_replicas(deploy, old, new, expected):
    new_rs = rs(new)
    assert du.new_rs_new_replicas(deploy, [rs(old), new_rs], new_rs) == expected


@pytest.mark.parametrize("deploy,old,new,new_available,expected", [
    (d(10), 10, 3, 0, 13 - 8 - 3),     # new pods not yet available count against the budget
    (d(10), 10, 3, 3, 13 - 8 - 0),
    (d(3, surge=1, unavailable=0), 3, 1, 0, 4 - 3 - 1),
])
def test_max_scaled_down(deploy, old, new, new_available, expected):
    new_rs = rs(new, new_available)
    assert du.max_scaled_down(deploy, [rs(old), new_rs], new_rs) == expected


TEMPLATE = {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}


@pytest.mark.parametrize("other,equal", [
    # What `kubectl rollout undo` sends back: the RS template with hash removed and noise added.
    ({"metadata": {"labels": {"app": "web"}, "creationTimestamp": None},
      "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "resources": {}}]}}, True),
    ({"metadata": {"labels": {"app": "web", "pod-template-hash": "abc"}},
      "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent",
                               "terminationMessagePath": "/dev/termination-log"}],
               "restartPolicy": "Always", "dnsPolicy": "ClusterFirst"}}, True),
    ({"metadata": {"labels": {"app": "web"}},
      "spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}}, False),
    ({"metadata": {"labels": {"app": "web", "tier": "fe"}},
      "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}, False),
])
def test_templates_compare_semantically(other, equal):
    assert du.equal_ignore_hash(TEMPLATE, other) is equal


def test_hash_is_stable_safe_and_changes_with_template_or_collisions():
    h = du.compute_hash(TEMPLATE)
    assert h == du.compute_hash(TEMPLATE) and set(h) <= set(du.SAFE_ALPHABET)
    assert du.compute_hash(TEMPLATE, 1) != h
    other = {**TEMPLATE, "spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}}
    assert du.compute_hash(other) != h


def test_hash_value_is_pinned_so_restarts_and_upgrades_keep_replica_set_names():
    # Pinned: a change here renames every ReplicaSet of every existing cluster.
    assert du.compute_hash(TEMPLATE) == "7fd845f59b"


def test_new_rs_annotations_copy_change_cause_and_keep_history_on_rollback():
    deploy = {"metadata": {"annotations": {"kubernetes.io/change-cause": "set image",
                                           "kubectl.kubernetes.io/last-applied-configuration": "{}",
                                           du.REVISION: "2"}},
              "spec": {"replicas": 3, "strategy": {"type": "RollingUpdate",
                                                   "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}}}
    new = {"metadata": {}}
    assert du.set_new_rs_annotations(deploy, new, 3, exists=False)
    ann = new["metadata"]["annotations"]
    assert ann == {"kubernetes.io/change-cause": "set image", du.REVISION: "3",
                   du.DESIRED_REPLICAS: "3", du.MAX_REPLICAS: "4"}
    old = {"metadata": {"annotations": {du.REVISION: "1"}}}
    du.set_new_rs_annotations(deploy, old, 4, exists=True)
    assert old["metadata"]["annotations"][du.REVISION] == "4"
    assert old["metadata"]["annotations"][du.REVISION_HISTORY] == "1"
    assert not du.set_new_rs_annotations(deploy, old, 4, exists=True), "idempotent"


@pytest.mark.parametrize("replicas,to_add,added,rs_replicas,max_ann,expected", [
    (12, 2, 0, 5, "10", 1),       # scaling 10->12 mid-rollout: this RS held half, gets 1
    (12, 2, 1, 5, "10", 1),
    (6, -4, 0, 5, "10", -2),      # 10->6: it loses 2 of the 4
    (12, 2, 0, 0, "10", 0),       # an RS at 0 gets nothing
])
def test_proportional_scaling_share(replicas, to_add, added, rs_replicas, max_ann, expected):
    deploy = d(replicas, surge=0, unavailable=1)
    r = {"metadata": {"annotations": {du.MAX_REPLICAS: max_ann}}, "spec": {"replicas": rs_replicas}}
    assert du.get_proportion(r, deploy, to_add, added, 10) == expected
