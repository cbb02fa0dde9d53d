"""The access and identity reviews: ``kubectl auth can-i`` and ``kubectl auth whoami``.

Upstream: ``pkg/registry/authorization/{selfsubjectaccessreview,
subjectaccessreview,localsubjectaccessreview,selfsubjectrulesreview}/rest.go``
and ``pkg/registry/authentication/{selfsubjectreview,tokenreview}/storage.go``.
Nothing is stored: a review is a question (``spec``) the server answers in
``status`` with the very authorizer that guards every request, so ``can-i``
tells the truth. ``SelfSubjectRulesReview`` lists the rules RBAC grants the
caller in a namespace (what ``kubectl auth can-i --list`` prints).
"""

from __future__ import annotations

from typing import Any

from kubetui.api.errors import BadRequest, Invalid
from kubetui.apiserver import rbac


def _attributes(user: rbac.Subject, spec: dict[str, Any]) -> rbac.Attributes:
    ra, nra = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if ra:
        return rbac.Attributes(user, ra.get("verb") or "", ra.get("namespace") or "", ra.get("group") or "",
                               ra.get("resource") or "", ra.get("subresource") or "", ra.get("name") or "")
    if nra:
        return rbac.Attributes(user, nra.get("verb") or "", path=nra.get("path") or "", resource_request=False)
    raise Invalid(f"{spec.get('_kind', 'SubjectAccessReview')}.authorization.k8s.io \"\" is invalid: "
                  "spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or "
                  "resourceAttributes must be specified")


def _decide(authorizer: rbac.Authorizer, attrs: rbac.Attributes) -> dict[str, Any]:
    return {"allowed": True} if authorizer.authorize(attrs) else {"allowed": False}


def access_review(kind: str, obj: dict[str, Any], caller: rbac.Subject, authorizer: rbac.Authorizer,
                  namespace: str | None) -> dict[str, Any]:
    """Fill ``status`` of a (Self|Local|)SubjectAccessReview or SelfSubjectRulesReview."""
    spec = obj.get("spec") or {}
    if kind == "SelfSubjectAccessReview":
        obj["status"] = _decide(authorizer, _attributes(caller, {**spec, "_kind": kind}))
    elif kind in ("SubjectAccessReview", "LocalSubjectAccessReview"):
        user = spec.get("user") or ""
        groups = tuple(spec.get("groups") or ())
        if not user and not groups:
            raise Invalid(f'{kind}.authorization.k8s.io "" is invalid: spec.user: Invalid value: "": at least '
                          f"one of user or group must be specified")
        if kind == "LocalSubjectAccessReview":
            ra_ns = (spec.get("resourceAttributes") or {}).get("namespace")
            if spec.get("resourceAttributes") and ra_ns and ra_ns != namespace:
                raise BadRequest(f"spec.resourceAttributes.namespace must match namespace: {namespace}")
            if spec.get("resourceAttributes"):
                spec = {**spec, "resourceAttributes": {**spec["resourceAttributes"], "namespace": namespace}}
        subject = rbac.Subject(user, groups, spec.get("uid") or "", spec.get("extra") or {})
        obj["status"] = _decide(authorizer, _attributes(subject, {**spec, "_kind": kind}))
    elif kind == "SelfSubjectRulesReview":
        ns = spec.get("namespace") or ""
        resource_rules: list[dict] = []
        non_resource_rules: list[dict] = []
        rules = authorizer.rules_for(caller, ns)
        for r in rules:
            if r.get("nonResourceURLs"):
                non_resource_rules.append({"verbs": list(r.get("verbs") or []),
                                           "nonResourceURLs": list(r["nonResourceURLs"])})
            else:
                rr = {"verbs": list(r.get("verbs") or []), "apiGroups": list(r.get("apiGroups") or []),
                      "resources": list(r.get("resources") or [])}
                if r.get("resourceNames"):
                    rr["resourceNames"] = list(r["resourceNames"])
                resource_rules.append(rr)
        obj["status"] = {"resourceRules": resource_rules, "nonResourceRules": non_resource_rules,
                         "incomplete": False}
    return obj


def user_info(user: rbac.Subject) -> dict[str, Any]:
    out: dict[str, Any] = {"username": user.name}
    if user.uid:
        out["uid"] = user.uid
    if user.groups:
        out["groups"] = list(user.groups)
    if user.extra:
        out["extra"] = {k: list(v) for k, v in user.extra.items()}
    return out


def identity_review(kind: str, obj: dict[str, Any], caller: rbac.Subject, authenticate: Any) -> dict[str, Any]:
    """SelfSubjectReview (who am I?) or TokenReview (whose token is this?)."""
    if kind == "SelfSubjectReview":
        obj["status"] = {"userInfo": user_info(caller)}
        return obj
    token = (obj.get("spec") or {}).get("token") or ""
    try:
        subject = authenticate(f"Bearer {token}") if token else None
    except Exception:  # noqa: BLE001 - any authentication failure is "not authenticated"
        subject = None
    obj["status"] = ({"authenticated": True, "user": user_info(subject)} if subject is not None
                     else {"authenticated": False, "user": {}})
    return obj
