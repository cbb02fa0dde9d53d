"""Quota and limit-range admission in the API server, with the quota controller keeping status.used."""

from __future__ import annotations

import pytest

from ctrl_helpers import container, settle
from kubetui.api import errors


def pod(name, cpu=None, limit=None, generate=False):
    res = {}
    if cpu:
        res["requests"] = {"cpu": cpu}
    if limit:
        res["limits"] = {"cpu": limit}
    meta = {"generateName": name} if generate else {"name": name}
    return {"metadata": meta, "spec": {"containers": [container(resources=res)]}}


async def used(api, name="compute"):
    return ((await api.get("resourcequotas", name, "default")).get("status") or {}).get("used")


async def test_quota_counts_charges_refuses_and_gives_room_back(api, clock, manager_for):
    cm = await manager_for("resourcequota")
    await api.create("resourcequotas", {"metadata": {"name": "compute"},
                                        "spec": {"hard": {"pods": "2", "requests.cpu": "1"}}}, "default")
    await settle(cm)
    q = await api.get("resourcequotas", "compute", "default")
    assert q["status"] == {"hard": {"pods": "2", "requests.cpu": "1"}, "used": {"pods": "0", "requests.cpu": "0"}}

    with pytest.raises(errors.Forbidden) as e:
        await api.create("pods", pod("nocpu"), "default")
    assert str(e.value) == 'pods "nocpu" is forbidden: failed quota: compute: must specify requests.cpu for: web'

    await api.create("pods", pod("a", cpu="400m"), "default")
    assert await used(api) == {"pods": "1", "requests.cpu": "400m"}, "admission charges at once"
    await api.create("pods", pod("b", cpu="400m"), "default")
    await settle(cm)
    assert await used(api) == {"pods": "2", "requests.cpu": "800m"}
    with pytest.raises(errors.Forbidden) as e:
        await api.create("pods", pod("web-", cpu="100m", generate=True), "default")
    assert str(e.value) == ('pods "web-" is forbidden: exceeded quota: compute, requested: pods=1, used: pods=2, '
                            'limited: pods=2')
    assert e.value.code == 403
    assert sorted(p["metadata"]["name"] for p in (await api.list("pods", "default"))["items"]) == ["a", "b"]

    await api.delete("pods", "a", "default", grace_period_seconds=0)
    await settle(cm)
    assert await used(api) == {"pods": "1", "requests.cpu": "400m"}, "the controller gives the room back"
    with pytest.raises(errors.Forbidden, match="exceeded quota: compute, requested: requests.cpu=700m, "
                                               "used: requests.cpu=400m, limited: requests.cpu=1"):
        await api.create("pods", pod("big", cpu="700m"), "default")


async def test_object_count_quota_and_dry_run_charges_nothing(api, clock, manager_for):
    cm = await manager_for("resourcequota")
    await api.create("resourcequotas", {"metadata": {"name": "objects"},
                                        "spec": {"hard": {"count/configmaps": "1", "configmaps": "1"}}}, "default")
    await settle(cm)
    await api.create("configmaps", {"metadata": {"name": "one"}}, "default", dry_run=True)
    assert await used(api, "objects") == {"count/configmaps": "0", "configmaps": "0"}
    await api.create("configmaps", {"metadata": {"name": "one"}}, "default")
    with pytest.raises(errors.Forbidden, match=r'configmaps "two" is forbidden: exceeded quota: objects, requested: '
                                               r'configmaps=1,count/configmaps=1, used: configmaps=1,'
                                               r'count/configmaps=1, limited: configmaps=1,count/configmaps=1'):
        await api.create("configmaps", {"metadata": {"name": "two"}}, "default")


async def test_limit_range_defaults_and_limits(api, clock, manager_for):
    await api.create("limitranges", {"metadata": {"name": "cpu"}, "spec": {"limits": [{
        "type": "Container", "default": {"cpu": "500m"}, "defaultRequest": {"cpu": "200m"},
        "max": {"cpu": "1"}}]}}, "default")
    made = await api.create("pods", pod("plain"), "default")
    assert made["spec"]["containers"][0]["resources"] == {"limits": {"cpu": "500m"}, "requests": {"cpu": "200m"}}
    assert made["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu request for container web; cpu limit for container web")
    with pytest.raises(errors.Forbidden) as e:
        await api.create("pods", pod("greedy", cpu="500m", limit="2"), "default")
    assert str(e.value) == 'pods "greedy" is forbidden: maximum cpu usage per Container is 1, but limit is 2'


async def test_priority_classes_resolve_and_one_global_default(api, clock):
    await api.create("priorityclasses", {"metadata": {"name": "high"}, "value": 1000,
                                         "preemptionPolicy": "Never"}, None)
    p = await api.create("pods", {**pod("vip"), "spec": {**pod("vip")["spec"], "priorityClassName": "high"}},
                         "default")
    assert (p["spec"]["priority"], p["spec"]["preemptionPolicy"]) == (1000, "Never")
    await api.create("priorityclasses", {"metadata": {"name": "base"}, "value": 10, "globalDefault": True}, None)
    p = await api.create("pods", pod("plain"), "default")
    assert (p["spec"]["priorityClassName"], p["spec"]["priority"]) == ("base", 10)
    with pytest.raises(errors.Forbidden, match='priorityclasses.scheduling.k8s.io "other" is forbidden: '
                                               'PriorityClass base is already marked as default. Only one default '
                                               'can exist'):
        await api.create("priorityclasses", {"metadata": {"name": "other"}, "value": 5, "globalDefault": True}, None)
    with pytest.raises(errors.Forbidden, match="no PriorityClass with name nope was found"):
        await api.create("pods", {**pod("x"), "spec": {**pod("x")["spec"], "priorityClassName": "nope"}}, "default")


async def test_admission_charges_do_not_trigger_a_recount(api, clock, manager_for):
    """Regression: recounting on every status change let a Deployment's burst slip past the quota (the
    controller's pod cache lagged the charge it undid). Only spec.hard changes and resyncs recount."""
    cm = await manager_for("resourcequota")
    ctrl = cm.controllers["resourcequota"]
    await settle(cm)
    old = {"metadata": {"name": "q", "namespace": "default", "resourceVersion": "5"},
           "spec": {"hard": {"pods": "2"}}, "status": {"hard": {"pods": "2"}, "used": {"pods": "0"}}}
    charged = {**old, "metadata": {**old["metadata"], "resourceVersion": "6"},
               "status": {"hard": {"pods": "2"}, "used": {"pods": "1"}}}
    ctrl._quota_updated(old, charged)
    assert len(ctrl.queue) == 0
    raised = {**charged, "spec": {"hard": {"pods": "3"}}}
    ctrl._quota_updated(charged, raised)
    assert len(ctrl.queue) == 1
    ctrl._quota_updated(raised, raised)    # a resync
    assert len(ctrl.queue) == 1            # (same key, already queued)
