"""RBAC validation: Roles, ClusterRoles, RoleBindings and ClusterRoleBindings.

Upstream: ``pkg/apis/rbac/validation/validation.go`` (``ValidatePolicyRule``,
``ValidateRoleBinding``, ``ValidateRoleBindingSubject``, and the update rule
that a binding's ``roleRef`` cannot change: delete and recreate the binding
instead). RBAC names are path segments (``ValidateRBACName``), so
``system:node`` is a valid name.
"""

from __future__ import annotations

from typing import Any

from kubetui.api.validation.field import (
    Cause, as_dict, dict_items, index, invalid, not_supported, required,
)

RBAC_GROUP = "rbac.authorization.k8s.io"


def is_valid_path_segment_name(name: str) -> list[str]:
    """``path.IsValidPathSegmentName``."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


def _rule(rule: dict[str, Any], namespaced: bool, path: str) -> list[Cause]:
    errs: list[Cause] = []
    if not rule.get("verbs"):
        errs.append(required(f"{path}.verbs", "verbs must contain at least one value"))
    if rule.get("nonResourceURLs"):
        if namespaced:
            errs.append(invalid(f"{path}.nonResourceURLs", rule["nonResourceURLs"],
                                "namespaced rules cannot apply to non-resource URLs"))
        if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
            errs.append(invalid(f"{path}.nonResourceURLs", rule["nonResourceURLs"],
                                "rules cannot apply to both regular resources and non-resource URLs"))
        return errs
    if not rule.get("apiGroups"):
        errs.append(required(f"{path}.apiGroups", "resource rules must supply at least one api group"))
    if not rule.get("resources"):
        errs.append(required(f"{path}.resources", "resource rules must supply at least one resource"))
    return errs


def _rules(obj: dict[str, Any], namespaced: bool) -> list[Cause]:
    errs: list[Cause] = []
    for i, rule in dict_items(obj.get("rules")):
        errs += _rule(rule, namespaced, index("rules", i))
    return errs


def validate_role(obj: dict[str, Any], old: dict[str, Any] | None, subresource: str | None) -> list[Cause]:
    return _rules(obj, True)


def validate_cluster_role(obj: dict[str, Any], old: dict[str, Any] | None,
                          subresource: str | None) -> list[Cause]:
    errs = _rules(obj, False)
    agg = obj.get("aggregationRule")
    if agg is not None and not as_dict(agg).get("clusterRoleSelectors"):
        errs.append(required("aggregationRule.clusterRoleSelectors", "at least one clusterRoleSelector required "
                                                                     "if aggregationRule is non-nil"))
    return errs


def _subject(s: dict[str, Any], namespaced: bool, path: str) -> list[Cause]:
    errs: list[Cause] = []
    name, kind, group = s.get("name") or "", s.get("kind"), s.get("apiGroup") or ""
    if not name:
        errs.append(required(f"{path}.name", ""))
    if kind == "ServiceAccount":
        if group:
            errs.append(not_supported(f"{path}.apiGroup", group, [""]))
        if not namespaced and not s.get("namespace"):
            errs.append(required(f"{path}.namespace", ""))
    elif kind in ("User", "Group"):
        if group != RBAC_GROUP:
            errs.append(not_supported(f"{path}.apiGroup", group, [RBAC_GROUP]))
    else:
        errs.append(not_supported(f"{path}.kind", kind or "", ["ServiceAccount", "User", "Group"]))
    return errs


def _binding(obj: dict[str, Any], old: dict[str, Any] | None, kinds: list[str], namespaced: bool) -> list[Cause]:
    errs: list[Cause] = []
    ref = as_dict(obj.get("roleRef"))
    if (ref.get("apiGroup") or "") != RBAC_GROUP:
        errs.append(not_supported("roleRef.apiGroup", ref.get("apiGroup") or "", [RBAC_GROUP]))
    if ref.get("kind") not in kinds:
        errs.append(not_supported("roleRef.kind", ref.get("kind") or "", kinds))
    if not ref.get("name"):
        errs.append(required("roleRef.name", ""))
    else:
        errs += [invalid("roleRef.name", ref["name"], m) for m in is_valid_path_segment_name(str(ref["name"]))]
    for i, s in dict_items(obj.get("subjects")):
        errs += _subject(s, namespaced, index("subjects", i))
    if old is not None and as_dict(old.get("roleRef")) != ref:
        errs.append(invalid("roleRef", _go_role_ref(ref), "cannot change roleRef"))
    return errs


def _go_role_ref(ref: dict[str, Any]) -> Any:
    from kubetui.api.validation.field import Raw
    return Raw(f"rbac.RoleRef{{APIGroup:\"{ref.get('apiGroup') or ''}\", Kind:\"{ref.get('kind') or ''}\", "
               f"Name:\"{ref.get('name') or ''}\"}}")


def validate_role_binding(obj: dict[str, Any], old: dict[str, Any] | None,
                          subresource: str | None) -> list[Cause]:
    return _binding(obj, old, ["Role", "ClusterRole"], True)


def validate_cluster_role_binding(obj: dict[str, Any], old: dict[str, Any] | None,
                                  subresource: str | None) -> list[Cause]:
    return _binding(obj, old, ["ClusterRole"], False)
