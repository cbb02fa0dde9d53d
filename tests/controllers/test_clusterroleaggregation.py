"""The clusterrole-aggregation controller keeps admin/edit/view the union of their labelled members."""

from __future__ import annotations

from ctrl_helpers import settle

from kubetui.controllers.clusterroleaggregation import aggregate_rules

CR = "clusterroles.rbac.authorization.k8s.io"
CRONTABS = {"apiGroups": ["stable.example.com"], "resources": ["crontabs"], "verbs": ["get", "list", "watch"]}


def test_aggregate_rules_is_the_sorted_deduplicated_union():
    target = {"metadata": {"name": "t"}, "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"a": "1"}}]}}
    r1 = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}
    members = [{"metadata": {"name": "b", "labels": {"a": "1"}}, "rules": [r1, CRONTABS]},
               {"metadata": {"name": "a", "labels": {"a": "1"}}, "rules": [CRONTABS]},
               {"metadata": {"name": "c", "labels": {"a": "2"}}, "rules": [{"verbs": ["*"]}]}]
    assert aggregate_rules(target, [target, *members]) == [CRONTABS, r1]


async def test_a_labelled_clusterrole_extends_view_edit_and_admin(api, manager_for):
    cm = await manager_for("clusterrole-aggregation")
    await api.create(CR, {"metadata": {"name": "crontab-reader",
                                       "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
                          "rules": [CRONTABS]})
    for _ in range(3):  # view, then edit (which aggregates view), then admin (which aggregates edit)
        await settle(cm)
    for name in ("view", "edit", "admin"):
        assert CRONTABS in (await api.get(CR, name))["rules"], name
    await api.delete(CR, "crontab-reader")
    for _ in range(3):
        await settle(cm)
    for name in ("view", "edit", "admin"):
        assert CRONTABS not in (await api.get(CR, name))["rules"], name
