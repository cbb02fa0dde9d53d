"""The RBAC authorizer: may this user do this verb on this resource (or path)?

Upstream: ``plugin/pkg/auth/authorizer/rbac/rbac.go`` (``RBACAuthorizer``:
visit every rule that applies to the user in the request's namespace, allow
on the first that matches), ``pkg/apis/rbac/v1/evaluation_helpers.go``
(``VerbMatches``, ``ResourceMatches`` with ``*/subresource``,
``NonResourceURLMatches`` with a trailing ``*``), and the privileged-group
authorizer kube-apiserver puts first: ``system:masters`` may do anything,
whatever the bindings say.

Speed: a request's user is looked up in an index of bindings by subject
(user name, group, ServiceAccount) and by namespace, so the cost grows with
the bindings that name this user, not with every binding in the cluster.
The index is rebuilt lazily after any RBAC object changes (the RBAC
strategies call ``invalidate``), so a binding counts from the moment its
write returns, as with upstream's informer-fed authorizer a moment later.
"""

from __future__ import annotations

import contextvars
import weakref
from dataclasses import dataclass, field
from typing import Any, Iterable

from kubetui.api.errors import Forbidden
from kubetui.api.resources import resource_for

SYSTEM_MASTERS = "system:masters"
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
SA_PREFIX = "system:serviceaccount:"
RBAC_GROUP = "rbac.authorization.k8s.io"


@dataclass(frozen=True)
class Subject:
    """Who asks (upstream ``user.Info``): name, groups (``system:authenticated`` included), uid, extra."""

    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: dict[str, list[str]] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Attributes:
    """One request as the authorizer sees it (upstream ``authorizer.AttributesRecord``)."""

    user: Subject
    verb: str
    namespace: str = ""
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""
    resource_request: bool = True


#: The user of the request being served (set by the API server's authorization
#: filter). Unset for the control plane's own in-process calls, which act as
#: ``system:apiserver`` (upstream's loopback client is in ``system:masters``).
CURRENT_USER: contextvars.ContextVar[Subject | None] = contextvars.ContextVar("kubetui_user", default=None)


# -- evaluation helpers (pure) ----------------------------------------------------------

def verb_matches(rule: dict, verb: str) -> bool:
    verbs = rule.get("verbs") or ()
    return "*" in verbs or verb in verbs


def api_group_matches(rule: dict, group: str) -> bool:
    groups = rule.get("apiGroups") or ()
    return "*" in groups or group in groups


def resource_matches(rule: dict, combined: str, subresource: str) -> bool:
    """``*`` matches everything, ``pods/log`` exactly, ``*/scale`` any resource's scale."""
    for r in rule.get("resources") or ():
        if r == "*" or r == combined or (subresource and r == "*/" + subresource):
            return True
    return False


def resource_name_matches(rule: dict, name: str) -> bool:
    names = rule.get("resourceNames") or ()
    return not names or name in names


def non_resource_url_matches(rule: dict, path: str) -> bool:
    for u in rule.get("nonResourceURLs") or ():
        if u == "*" or u == path or (u.endswith("*") and path.startswith(u[:-1])):
            return True
    return False


def rule_allows(attrs: Attributes, rule: dict) -> bool:
    """``RuleAllows``: does one PolicyRule allow the request?"""
    if attrs.resource_request:
        combined = attrs.resource + ("/" + attrs.subresource if attrs.subresource else "")
        return (verb_matches(rule, attrs.verb) and api_group_matches(rule, attrs.api_group)
                and resource_matches(rule, combined, attrs.subresource)
                and resource_name_matches(rule, attrs.name))
    return verb_matches(rule, attrs.verb) and non_resource_url_matches(rule, attrs.path)


def subject_keys(user: Subject) -> list[tuple[str, ...]]:
    """The index keys a user is found under: its name, each group, its ServiceAccount."""
    keys: list[tuple[str, ...]] = [("User", user.name)]
    keys += [("Group", g) for g in user.groups]
    if user.name.startswith(SA_PREFIX):
        ns_name = user.name[len(SA_PREFIX):].split(":")
        if len(ns_name) == 2 and all(ns_name):
            keys.append(("ServiceAccount", ns_name[0], ns_name[1]))
    return keys


def binding_subject_keys(binding: dict) -> list[tuple[str, ...]]:
    """The index keys of a binding's subjects (a ServiceAccount without namespace is the binding's)."""
    ns = (binding.get("metadata") or {}).get("namespace") or ""
    out: list[tuple[str, ...]] = []
    for s in binding.get("subjects") or ():
        kind, name = s.get("kind"), s.get("name") or ""
        if kind in ("User", "Group"):
            out.append((kind, name))
        elif kind == "ServiceAccount":
            out.append(("ServiceAccount", s.get("namespace") or ns, name))
    return out


# -- the index ---------------------------------------------------------------------------

_PLURALS = ("roles", "rolebindings", "clusterroles", "clusterrolebindings")


class RBACIndex:
    """Roles by name, and bindings by subject key, rebuilt from the store when RBAC objects changed."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._dirty = True
        self.roles: dict[tuple[str, str], list[dict]] = {}           # (namespace, name) -> rules
        self.cluster_roles: dict[str, list[dict]] = {}                # name -> rules
        self.cluster_bindings: dict[tuple[str, ...], list[dict]] = {}  # subject -> roleRefs
        self.bindings: dict[tuple[str, tuple[str, ...]], list[dict]] = {}  # (ns, subject) -> roleRefs
        self.rebuilds = 0

    def invalidate(self) -> None:
        self._dirty = True

    def _objects(self, plural: str) -> Iterable[dict]:
        r = resource_for(f"{plural}.{RBAC_GROUP}")
        for kv in self.store.range(r.key(), copy=False):
            yield kv.value

    def refresh(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        self.rebuilds += 1
        roles: dict[tuple[str, str], list[dict]] = {}
        for o in self._objects("roles"):
            m = o["metadata"]
            roles[(m.get("namespace") or "", m["name"])] = list(o.get("rules") or [])
        cluster_roles = {o["metadata"]["name"]: list(o.get("rules") or []) for o in self._objects("clusterroles")}
        cbs: dict[tuple[str, ...], list[dict]] = {}
        for o in self._objects("clusterrolebindings"):
            for k in binding_subject_keys(o):
                cbs.setdefault(k, []).append(o.get("roleRef") or {})
        bs: dict[tuple[str, tuple[str, ...]], list[dict]] = {}
        for o in self._objects("rolebindings"):
            ns = o["metadata"].get("namespace") or ""
            for k in binding_subject_keys(o):
                bs.setdefault((ns, k), []).append(o.get("roleRef") or {})
        self.roles, self.cluster_roles, self.cluster_bindings, self.bindings = roles, cluster_roles, cbs, bs

    def role_rules(self, ref: dict, namespace: str) -> list[dict]:
        """``GetRoleReferenceRules``: the rules a roleRef names (none if the role does not exist)."""
        if ref.get("kind") == "ClusterRole":
            return self.cluster_roles.get(ref.get("name") or "", [])
        if ref.get("kind") == "Role":
            return self.roles.get((namespace, ref.get("name") or ""), [])
        return []

    def rules_for(self, user: Subject, namespace: str) -> Iterable[dict]:
        """``VisitRulesFor``: cluster-wide rules first, then the namespace's RoleBindings' rules."""
        self.refresh()
        keys = subject_keys(user)
        for k in keys:
            for ref in self.cluster_bindings.get(k, ()):
                yield from self.role_rules(ref, "")
        if namespace:
            for k in keys:
                for ref in self.bindings.get((namespace, k), ()):
                    yield from self.role_rules(ref, namespace)


class Authorizer:
    """``system:masters`` first (the privileged-group authorizer), then Node, then RBAC
    (``--authorization-mode=Node,RBAC``)."""

    def __init__(self, store: Any) -> None:
        from kubetui.apiserver.bootstrappolicy import CLUSTER_ROLES
        from kubetui.apiserver.nodeauthorizer import NodeAuthorizer
        self.index = RBACIndex(store)
        self.node = NodeAuthorizer(store, CLUSTER_ROLES["system:node"][1])

    def authorize(self, attrs: Attributes) -> bool:
        if SYSTEM_MASTERS in attrs.user.groups:
            return True
        if self.node.decide(attrs):
            return True
        ns = attrs.namespace if attrs.resource_request else ""
        return any(rule_allows(attrs, rule) for rule in self.index.rules_for(attrs.user, ns))

    def rules_for(self, user: Subject, namespace: str) -> list[dict]:
        return list(self.index.rules_for(user, namespace))


_AUTHORIZERS: "weakref.WeakKeyDictionary[Any, Authorizer]" = weakref.WeakKeyDictionary()


def authorizer_for(registry: Any) -> Authorizer:
    """The one authorizer of a registry (the API server and the RBAC strategies share it)."""
    a = _AUTHORIZERS.get(registry)
    if a is None:
        a = _AUTHORIZERS[registry] = Authorizer(registry.store)
    return a


# -- refusals, worded as upstream -------------------------------------------------------

def forbidden_message(attrs: Attributes) -> str:
    """``forbiddenMessage`` in ``endpoints/handlers/responsewriters/errors.go``."""
    user = attrs.user.name
    if not attrs.resource_request:
        return f'User "{user}" cannot {attrs.verb} path "{attrs.path}"'
    resource = attrs.resource + ("/" + attrs.subresource if attrs.subresource else "")
    where = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    return f'User "{user}" cannot {attrs.verb} resource "{resource}" in API group "{attrs.api_group}" {where}'


def forbidden_error(attrs: Attributes, reason: str = "") -> Forbidden:
    """``ForbiddenStatusError`` -> ``NewForbidden(groupResource, name, err)``."""
    msg = forbidden_message(attrs) + (": " + reason if reason else "")
    return forbidden_for(attrs.resource, attrs.api_group, attrs.name, msg)


def forbidden_for(resource: str, group: str, name: str, msg: str) -> Forbidden:
    gr = f"{resource}.{group}" if group and resource else resource
    if not gr:
        text = f"forbidden: {msg}"
    elif name:
        text = f'{gr} "{name}" is forbidden: {msg}'
    else:
        text = f"{gr} is forbidden: {msg}"
    return Forbidden(text, name=name or None, group=group or None, kind=resource or None)
