"""The API server's authorization and impersonation filters.

Upstream: ``staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go``
(a URL and method become verb, API group, namespace, resource, subresource
and name, purely from the path, so an unknown resource is refused before it
is found missing), ``filters/impersonation.go`` (``Impersonate-User``,
``-Group``, ``-Uid``, ``-Extra-*``: each needs the ``impersonate`` verb on
users, groups, uids, userextras or the ServiceAccount) and
``filters/authorization.go`` (refuse with 403 before any handler runs, so a
forbidden write changes nothing).
"""

from __future__ import annotations

from typing import Any, Mapping

from kubetui.api.errors import BadRequest
from kubetui.apiserver import rbac
from kubetui.apiserver.auth import UserInfo
from kubetui.apiserver.nodeauthorizer import node_restriction

_CONNECT = {"exec", "attach", "portforward"}
_NAMESPACE_SUBRESOURCES = {"status", "finalize"}


def subject_of(info: UserInfo) -> rbac.Subject:
    """An authenticated user, with ``system:authenticated`` as upstream's authenticators add it
    (not to the anonymous user, who is in ``system:unauthenticated`` instead)."""
    groups = tuple(info.groups)
    if rbac.AUTHENTICATED not in groups and rbac.UNAUTHENTICATED not in groups:
        groups += (rbac.AUTHENTICATED,)
    return rbac.Subject(info.name, groups, info.uid, dict(info.extra))


def request_attributes(request: Any, user: rbac.Subject) -> rbac.Attributes:
    """``RequestInfoFactory.NewRequestInfo``: the authorizer's view of a request."""
    parts = [p for p in request.path.split("/") if p]
    method = request.method.upper()
    if parts and parts[0] == "api" and len(parts) >= 3:
        group, rest = "", parts[2:]
    elif parts and parts[0] == "apis" and len(parts) >= 4:
        group, rest = parts[1], parts[3:]
    else:
        return rbac.Attributes(user, method.lower(), path=request.path, resource_request=False)
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    q = request.query
    if method in ("GET", "HEAD"):
        if name:
            verb = "get"
        else:
            verb = "watch" if q.get("watch", "").lower() in ("true", "1") else "list"
            fs = q.get("fieldSelector") or ""
            if fs.startswith("metadata.name=") and "," not in fs:
                name = fs[len("metadata.name="):]  # a list or watch of one object is about that object
        if sub in _CONNECT:
            verb = "create"  # a WebSocket exec/attach/port-forward needs create, as its POST does
    elif method == "POST":
        verb = "create"
    elif method == "PUT":
        verb = "update"
    elif method == "PATCH":
        verb = "patch"
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        verb = method.lower()
    return rbac.Attributes(user, verb, namespace, group, resource, sub, name)


def authorize_request(authorizer: rbac.Authorizer, attrs: rbac.Attributes) -> None:
    if not authorizer.authorize(attrs):
        raise rbac.forbidden_error(attrs)
    node_restriction(authorizer.index.store, attrs)


def impersonate(authorizer: rbac.Authorizer, user: rbac.Subject, headers: Mapping[str, str]) -> rbac.Subject:
    """The user a request acts as: itself, or whom it may impersonate (403 if it may not)."""
    if not any(k[:12].lower() == "impersonate-" for k in headers.keys()):
        return user  # (nearly every request: one look at the header names)
    as_user = headers.get("Impersonate-User")
    getall = getattr(headers, "getall", None)
    as_groups = list(getall("Impersonate-Group", [])) if getall else (
        [headers["Impersonate-Group"]] if "Impersonate-Group" in headers else [])
    as_uid = headers.get("Impersonate-Uid")
    extra: dict[str, list[str]] = {}
    for k in headers.keys():
        if k.lower().startswith("impersonate-extra-"):
            key = k[len("impersonate-extra-"):].lower()
            extra.setdefault(key, []).extend(getall(k) if getall else [headers[k]])
    if as_user is None:
        if as_groups or as_uid or extra:
            raise BadRequest(f"requested impersonation of groups/uid/extra without impersonating a user")
        return user
    checks: list[rbac.Attributes] = []
    if as_user.startswith(rbac.SA_PREFIX) and len(as_user[len(rbac.SA_PREFIX):].split(":")) == 2:
        ns, sa = as_user[len(rbac.SA_PREFIX):].split(":")
        checks.append(rbac.Attributes(user, "impersonate", ns, "", "serviceaccounts", "", sa))
        if not as_groups:
            as_groups = ["system:serviceaccounts", f"system:serviceaccounts:{ns}"]
    else:
        checks.append(rbac.Attributes(user, "impersonate", "", "", "users", "", as_user))
    for g in as_groups:
        checks.append(rbac.Attributes(user, "impersonate", "", "", "groups", "", g))
    if as_uid:
        checks.append(rbac.Attributes(user, "impersonate", "", "authentication.k8s.io", "uids", "", as_uid))
    for key, values in extra.items():
        for v in values:
            checks.append(rbac.Attributes(user, "impersonate", "", "authentication.k8s.io", "userextras", key, v))
    for attrs in checks:
        authorize_request(authorizer, attrs)
    groups = tuple(as_groups)
    if as_user == "system:anonymous":
        groups += (rbac.UNAUTHENTICATED,) if rbac.UNAUTHENTICATED not in groups else ()
    elif rbac.AUTHENTICATED not in groups:
        groups += (rbac.AUTHENTICATED,)
    return rbac.Subject(as_user, groups, as_uid or "", extra)
