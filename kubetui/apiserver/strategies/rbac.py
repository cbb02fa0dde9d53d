"""The RBAC kinds' strategies: escalation prevention, and keeping the authorizer current.

Upstream: ``pkg/registry/rbac/{role,clusterrole,rolebinding,clusterrolebinding}/
policybased/storage.go`` wrap the plain storage with
``pkg/registry/rbac/validation/rule.go``'s ``ConfirmNoEscalation``: you may
only write a Role whose every rule you already hold (unless you may
``escalate`` roles), and only bind a role whose every rule you hold (unless
you may ``bind`` that role). ``system:masters`` and the control plane's own
calls are exempt (``EscalationAllowed``). Every write also tells the
authorizer's index to rebuild (``kubetui.apiserver.rbac``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from kubetui.apiserver import rbac
from kubetui.apiserver.strategies.base import Finish, Obj, Strategy, no_finish

if TYPE_CHECKING:
    from kubetui.apiserver.registry import Registry


# -- rule coverage (pkg/registry/rbac/validation/policy_comparator.go) -------------------

def _has_all(have: Iterable[str], want: Iterable[str]) -> bool:
    h = set(have)
    return all(w in h for w in want)


def _resources_cover(owner: list[str], wanted: list[str]) -> bool:
    if "*" in owner or _has_all(owner, wanted):
        return True
    for r in wanted:
        if r in owner:
            continue
        if "/" in r and "*/" + r.split("/", 1)[1] in owner:
            continue
        return False
    return True


def _urls_cover(owner: list[str], wanted: list[str]) -> bool:
    return all(any(o == u or (o.endswith("*") and u.startswith(o[:-1])) for o in owner) for u in wanted)


def rule_covers(owner: dict, sub: dict) -> bool:
    """``ruleCovers``: does ``owner`` allow everything ``sub`` does?"""
    ov, og = owner.get("verbs") or [], owner.get("apiGroups") or []
    orn, srn = owner.get("resourceNames") or [], sub.get("resourceNames") or []
    return (("*" in ov or _has_all(ov, sub.get("verbs") or []))
            and ("*" in og or _has_all(og, sub.get("apiGroups") or []))
            and _resources_cover(owner.get("resources") or [], sub.get("resources") or [])
            and _urls_cover(owner.get("nonResourceURLs") or [], sub.get("nonResourceURLs") or [])
            and (not orn if not srn else (not orn or _has_all(orn, srn))))


def breakdown_rule(rule: dict) -> list[dict]:
    """``BreakdownRule``: one rule per (group, resource, verb[, name]) or (url, verb)."""
    out: list[dict] = []
    for g in rule.get("apiGroups") or []:
        for r in rule.get("resources") or []:
            for v in rule.get("verbs") or []:
                names = rule.get("resourceNames") or []
                if names:
                    out += [{"apiGroups": [g], "resources": [r], "verbs": [v], "resourceNames": [n]} for n in names]
                else:
                    out.append({"apiGroups": [g], "resources": [r], "verbs": [v]})
    for u in rule.get("nonResourceURLs") or []:
        for v in rule.get("verbs") or []:
            out.append({"nonResourceURLs": [u], "verbs": [v]})
    return out


def _go_q(values: list[str]) -> str:
    return "[" + " ".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "]"


def compact_string(rule: dict) -> str:
    """``CompactString``: ``{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}``."""
    parts = [f"{label}:{_go_q(rule[key])}" for key, label in
             (("apiGroups", "APIGroups"), ("resources", "Resources"), ("nonResourceURLs", "NonResourceURLs"),
              ("resourceNames", "ResourceNames"), ("verbs", "Verbs")) if rule.get(key)]
    return "{" + ", ".join(parts) + "}"


def missing_rights(owner_rules: list[dict], wanted: list[dict]) -> list[dict]:
    """``Covers``: the broken-down rules of ``wanted`` that no owner rule covers."""
    return [sub for rule in wanted for sub in breakdown_rule(rule)
            if not any(rule_covers(o, sub) for o in owner_rules)]


def confirm_no_escalation(registry: "Registry", user: rbac.Subject, namespace: str, rules: list[dict],
                          resource: str, name: str) -> None:
    """``ConfirmNoEscalation``: raise Forbidden if ``rules`` grant what ``user`` does not hold."""
    held = rbac.authorizer_for(registry).rules_for(user, namespace)
    missing = missing_rights(held, rules)
    if missing:
        groups = "[" + " ".join(f'"{g}"' for g in user.groups) + "]"
        msg = (f'user "{user.name}" (groups={groups}) is attempting to grant RBAC permissions not currently held:\n'
               + "\n".join(sorted(compact_string(r) for r in missing)))
        raise rbac.forbidden_for(resource, rbac.RBAC_GROUP, name, msg)


def escalation_allowed(user: rbac.Subject | None) -> bool:
    """``EscalationAllowed``: the control plane itself (no request user) and ``system:masters``."""
    return user is None or rbac.SYSTEM_MASTERS in user.groups


class _RBACStrategy(Strategy):
    """Every RBAC write makes the authorizer rebuild its index."""

    def _changed(self, registry: "Registry") -> None:
        rbac.authorizer_for(registry).index.invalidate()

    def check(self, registry: "Registry", obj: Obj) -> None:
        """The escalation check of one kind (nothing by default)."""

    def begin_create(self, registry: "Registry", obj: Obj) -> Finish:
        self.check(registry, obj)
        return self._finish(registry)

    def begin_update(self, registry: "Registry", new: Obj, old: Obj, subresource: str | None) -> Finish:
        if new.get("rules") != old.get("rules") or new.get("roleRef") != old.get("roleRef") \
                or new.get("subjects") != old.get("subjects"):
            self.check(registry, new)
        return self._finish(registry)

    def _finish(self, registry: "Registry") -> Finish:
        def finish(success: bool) -> None:
            if success:
                self._changed(registry)
        return finish

    def after_delete(self, registry: "Registry", obj: Obj) -> None:
        self._changed(registry)


class RoleStrategy(_RBACStrategy):
    """Role and ClusterRole: you may not write rules you do not hold, unless you may ``escalate``."""

    def check(self, registry: "Registry", obj: Obj) -> None:
        user = rbac.CURRENT_USER.get()
        if escalation_allowed(user):
            return
        assert user is not None
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace") or "" if self.resource.namespaced else ""
        name = meta.get("name") or ""
        az = rbac.authorizer_for(registry)
        if az.authorize(rbac.Attributes(user, "escalate", ns, rbac.RBAC_GROUP, self.resource.plural, "", name)):
            return
        confirm_no_escalation(registry, user, ns, list(obj.get("rules") or []), self.resource.plural, name)


class BindingStrategy(_RBACStrategy):
    """RoleBinding and ClusterRoleBinding: you may bind what you hold, or what you may ``bind``."""

    def check(self, registry: "Registry", obj: Obj) -> None:
        user = rbac.CURRENT_USER.get()
        if escalation_allowed(user):
            return
        assert user is not None
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace") or "" if self.resource.namespaced else ""
        ref = obj.get("roleRef") or {}
        plural = "clusterroles" if ref.get("kind") == "ClusterRole" else "roles"
        az = rbac.authorizer_for(registry)
        # BindingAuthorized: "bind" on the referenced role, in the binding's namespace
        if az.authorize(rbac.Attributes(user, "bind", ns, rbac.RBAC_GROUP, plural, "", ref.get("name") or "")):
            return
        az.index.refresh()
        rules = az.index.role_rules(ref, ns)
        confirm_no_escalation(registry, user, ns, list(rules), self.resource.plural, meta.get("name") or "")


__all__ = ["RoleStrategy", "BindingStrategy", "rule_covers", "breakdown_rule", "compact_string",
           "missing_rights", "confirm_no_escalation", "no_finish"]
