"""The clusterrole-aggregation controller: an aggregated ClusterRole's rules are its members' rules.

Upstream: ``pkg/controller/clusterroleaggregation/clusterroleaggregation_controller.go``.
A ClusterRole with an ``aggregationRule`` (``admin``, ``edit``, ``view``)
owns no rules of its own: this controller sets them to the union of the
rules of every ClusterRole matching one of its ``clusterRoleSelectors``
(members in name order, duplicates dropped). Labelling your own ClusterRole
``rbac.authorization.k8s.io/aggregate-to-view: "true"`` therefore extends
``view`` (and, through the chain view -> edit -> admin, edit and admin).
Any ClusterRole change requeues every aggregated role.
"""

from __future__ import annotations

from typing import Any

from kubetui.api import errors
from kubetui.api.validation.meta import selector_matches
from kubetui.controllers.base import Controller

Obj = dict[str, Any]
RESOURCE = "clusterroles.rbac.authorization.k8s.io"


def aggregate_rules(role: Obj, all_roles: list[Obj]) -> list[dict]:
    """The rules ``role`` should have: members' rules, by member name, without duplicates (pure)."""
    selectors = (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
    name = role["metadata"]["name"]
    members = sorted((r for r in all_roles if r["metadata"]["name"] != name
                      and any(selector_matches(s, r["metadata"].get("labels") or {}) for s in selectors)),
                     key=lambda r: r["metadata"]["name"])
    out: list[dict] = []
    for m in members:
        for rule in m.get("rules") or []:
            if rule not in out:
                out.append(rule)
    return out


class ClusterRoleAggregationController(Controller):
    name = "clusterrole-aggregation"
    kind = "ClusterRole"
    component = "clusterrole-aggregation-controller"

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.roles = self.factory.informer(RESOURCE)
        self.roles.add_handler(self._changed, lambda old, new: self._changed(new), self._changed)

    def _changed(self, _: Obj) -> None:
        for role in self.roles.list():
            if role.get("aggregationRule"):
                self.enqueue(role)

    async def reconcile(self, key: Any) -> float | None:
        role = self.roles.get(key)
        if role is None or not role.get("aggregationRule"):
            return None
        want = aggregate_rules(role, self.roles.list())
        if want == (role.get("rules") or []):
            return None
        updated = {**role, "rules": want}
        try:
            await self.client.update(RESOURCE, updated)
        except errors.Conflict:
            return 0.1
        return None
