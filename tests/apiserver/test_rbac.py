"""The RBAC authorizer, escalation checks, validation and bootstrap policy, without HTTP.

The fuzz test compares the indexed authorizer with a small reference
evaluation written straight from upstream's definitions (every binding,
every rule, no index), over random subjects, verbs, resources and bindings.
"""

from __future__ import annotations

import random

import pytest

from kubetui.api.errors import Forbidden, Invalid
from kubetui.api.resources import resource_for
from kubetui.apiserver import rbac
from kubetui.apiserver.bootstrappolicy import cluster_roles
from kubetui.apiserver.registry import Registry
from kubetui.apiserver.strategies.rbac import compact_string, missing_rights
from kubetui.controllers.clusterroleaggregation import aggregate_rules
from kubetui.store import Store

G = "rbac.authorization.k8s.io"
ROLE, CROLE = resource_for("roles"), resource_for("clusterroles")
RB, CRB = resource_for("rolebindings"), resource_for("clusterrolebindings")


@pytest.fixture
async def registry():
    store = Store(None)
    await store.open()
    reg = Registry(store)
    await reg.bootstrap()
    for ns in ("dev", "team"):
        await reg.create(resource_for("namespaces"), None, {"metadata": {"name": ns}})
    yield reg
    await store.close()


def user(name: str, *groups: str) -> rbac.Subject:
    return rbac.Subject(name, tuple(groups) + (rbac.AUTHENTICATED,))


def subj(kind: str, name: str, ns: str | None = None) -> dict:
    s = {"kind": kind, "name": name}
    if kind == "ServiceAccount":
        if ns:
            s["namespace"] = ns
    else:
        s["apiGroup"] = G
    return s


# -- the forbidden message, worded as upstream ------------------------------------------

@pytest.mark.parametrize("attrs,message", [
    (rbac.Attributes(user("alice"), "list", "default", "", "pods"),
     'pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "default"'),
    (rbac.Attributes(user("alice"), "get", "default", "", "pods", "log", "web"),
     'pods "web" is forbidden: User "alice" cannot get resource "pods/log" in API group "" in the namespace '
     '"default"'),
    (rbac.Attributes(user("alice"), "list", "", "", "nodes"),
     'nodes is forbidden: User "alice" cannot list resource "nodes" in API group "" at the cluster scope'),
    (rbac.Attributes(user("alice"), "create", "dev", "apps", "deployments"),
     'deployments.apps is forbidden: User "alice" cannot create resource "deployments" in API group "apps" in '
     'the namespace "dev"'),
    (rbac.Attributes(user("alice"), "get", path="/metrics", resource_request=False),
     'forbidden: User "alice" cannot get path "/metrics"'),
])
def test_forbidden_messages(attrs, message):
    err = rbac.forbidden_error(attrs)
    assert err.code == 403 and err.message == message
    assert err.status().get("details", {}).get("kind") == (attrs.resource or None)


# -- rule matching ----------------------------------------------------------------------

def test_rule_matching_subresources_names_and_urls():
    a = lambda **kw: rbac.Attributes(user("u"), **kw)  # noqa: E731
    rule = {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get"], "resourceNames": ["web"]}
    assert rbac.rule_allows(a(verb="get", resource="pods", name="web"), rule)
    assert rbac.rule_allows(a(verb="get", resource="pods", subresource="log", name="web"), rule)
    assert not rbac.rule_allows(a(verb="get", resource="pods", subresource="exec", name="web"), rule)
    assert not rbac.rule_allows(a(verb="get", resource="pods", name="db"), rule)
    assert not rbac.rule_allows(a(verb="list", resource="pods"), rule)
    scale = {"apiGroups": ["*"], "resources": ["*/scale"], "verbs": ["*"]}
    assert rbac.rule_allows(a(verb="update", api_group="apps", resource="deployments", subresource="scale"), scale)
    assert not rbac.rule_allows(a(verb="update", api_group="apps", resource="deployments"), scale)
    urls = {"nonResourceURLs": ["/apis/*", "/healthz"], "verbs": ["get"]}
    assert rbac.rule_allows(a(verb="get", path="/apis/apps/v1", resource_request=False), urls)
    assert rbac.rule_allows(a(verb="get", path="/healthz", resource_request=False), urls)
    assert not rbac.rule_allows(a(verb="get", path="/healthz/etcd", resource_request=False), urls)
    assert not rbac.rule_allows(a(verb="get", path="/api", resource_request=False), urls)


# -- fuzz: the indexed authorizer against a reference evaluation -----------------------

NAMESPACES = ["default", "dev", "kube-system"]
USERS = ["alice", "bob", "system:serviceaccount:dev:builder", "system:serviceaccount:default:default"]
GROUPS = ["ops", "devs", "system:serviceaccounts", "system:serviceaccounts:dev"]
VERBS = ["get", "list", "watch", "create", "update", "delete", "escalate", "*"]
RESOURCES = [("", "pods"), ("", "pods/log"), ("", "secrets"), ("apps", "deployments"),
             ("apps", "deployments/scale"), ("*", "*"), ("", "*")]


def random_rule(rng: random.Random, namespaced: bool) -> dict:
    if not namespaced and rng.random() < 0.15:
        return {"nonResourceURLs": rng.sample(["/healthz", "/apis/*", "/version", "*"], 2),
                "verbs": rng.sample(["get", "post"], 1)}
    g, r = rng.choice(RESOURCES)
    rule = {"apiGroups": [g], "resources": [r, rng.choice(RESOURCES)[1]], "verbs": rng.sample(VERBS, 2)}
    if rng.random() < 0.2:
        rule["resourceNames"] = ["web"]
    return rule


def random_subjects(rng: random.Random) -> list[dict]:
    out = []
    for _ in range(rng.randint(1, 3)):
        k = rng.random()
        if k < 0.4:
            out.append(subj("User", rng.choice(USERS)))
        elif k < 0.7:
            out.append(subj("Group", rng.choice(GROUPS)))
        else:
            out.append(subj("ServiceAccount", rng.choice(["builder", "default"]), rng.choice(NAMESPACES + [None])))
    return out


def reference_allows(world: dict, attrs: rbac.Attributes) -> bool:
    """Straight from upstream's definitions: every binding, every subject, every rule."""
    u = attrs.user
    if rbac.SYSTEM_MASTERS in u.groups:
        return True

    def applies(s: dict, binding_ns: str) -> bool:
        if s["kind"] == "User":
            return s["name"] == u.name
        if s["kind"] == "Group":
            return s["name"] in u.groups
        return u.name == f"system:serviceaccount:{s.get('namespace') or binding_ns}:{s['name']}"

    def matches(rule: dict) -> bool:
        if not attrs.resource_request:
            return ("*" in rule["verbs"] or attrs.verb in rule["verbs"]) and any(
                x == "*" or x == attrs.path or (x.endswith("*") and attrs.path.startswith(x[:-1]))
                for x in rule.get("nonResourceURLs") or [])
        combined = attrs.resource + (f"/{attrs.subresource}" if attrs.subresource else "")
        return (("*" in rule["verbs"] or attrs.verb in rule["verbs"])
                and any(g in ("*", attrs.api_group) for g in rule.get("apiGroups") or [])
                and any(r in ("*", combined) or (attrs.subresource and r == "*/" + attrs.subresource)
                        for r in rule.get("resources") or [])
                and (not rule.get("resourceNames") or attrs.name in rule["resourceNames"]))

    for b in world["clusterrolebindings"]:
        if any(applies(s, "") for s in b["subjects"]):
            if any(matches(r) for r in world["clusterroles"].get(b["roleRef"]["name"], [])):
                return True
    if attrs.resource_request and attrs.namespace:
        for b in world["rolebindings"]:
            if b["metadata"]["namespace"] != attrs.namespace:
                continue
            if any(applies(s, b["metadata"]["namespace"]) for s in b["subjects"]):
                ref = b["roleRef"]
                rules = (world["clusterroles"].get(ref["name"], []) if ref["kind"] == "ClusterRole"
                         else world["roles"].get((attrs.namespace, ref["name"]), []))
                if any(matches(r) for r in rules):
                    return True
    return False


async def test_fuzz_authorizer_against_reference(registry):
    rng = random.Random(1414)
    world: dict = {"roles": {}, "clusterroles": {}, "rolebindings": [], "clusterrolebindings": []}
    for o in cluster_roles():  # the bootstrap roles are part of the world too
        world["clusterroles"][o["metadata"]["name"]] = \
            (await registry.get(CROLE, None, o["metadata"]["name"])).get("rules") or []
    for kv in registry.store.range(CRB.key(), copy=True):
        world["clusterrolebindings"].append(kv.value)
    for i in range(6):
        rules = [random_rule(rng, False) for _ in range(2)]
        await registry.create(CROLE, None, {"metadata": {"name": f"fuzz:{i}"}, "rules": rules})
        world["clusterroles"][f"fuzz:{i}"] = rules
    for ns in NAMESPACES:
        for i in range(3):
            rules = [random_rule(rng, True) for _ in range(2)]
            await registry.create(ROLE, ns, {"metadata": {"name": f"r{i}"}, "rules": rules})
            world["roles"][(ns, f"r{i}")] = rules
    for i in range(25):
        ns = rng.choice(NAMESPACES)
        kind = rng.choice(["Role", "ClusterRole"])
        ref = {"apiGroup": G, "kind": kind, "name": f"r{rng.randint(0, 3)}" if kind == "Role"
               else rng.choice([f"fuzz:{rng.randint(0, 6)}", "view", "edit"])}
        b = {"metadata": {"name": f"b{i}", "namespace": ns}, "roleRef": ref, "subjects": random_subjects(rng)}
        await registry.create(RB, ns, b)
        world["rolebindings"].append(b)
    for i in range(4):
        b = {"metadata": {"name": f"cb{i}"}, "subjects": random_subjects(rng),
             "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": f"fuzz:{rng.randint(0, 6)}"}}
        await registry.create(CRB, None, b)
        world["clusterrolebindings"].append(b)
    az = rbac.authorizer_for(registry)
    allowed = 0
    for _ in range(3000):
        name = rng.choice(USERS)
        groups = rng.sample(GROUPS, rng.randint(0, 2)) + (["system:masters"] if rng.random() < 0.03 else [])
        u = user(name, *groups)
        if rng.random() < 0.1:
            attrs = rbac.Attributes(u, rng.choice(["get", "post"]), path=rng.choice(["/healthz", "/apis/apps",
                                                                                    "/metrics", "/version"]),
                                    resource_request=False)
        else:
            g, res = rng.choice([("", "pods"), ("", "secrets"), ("apps", "deployments"), ("", "configmaps")])
            attrs = rbac.Attributes(u, rng.choice(VERBS[:-1]), rng.choice(NAMESPACES + [""]), g, res,
                                    rng.choice(["", "", "log", "scale"]), rng.choice(["", "web", "db"]))
        want = reference_allows(world, attrs)
        assert az.authorize(attrs) == want, attrs
        allowed += want
    assert 100 < allowed < 2900  # the fuzz explores both answers


# -- escalation ---------------------------------------------------------------------------

def test_missing_rights_and_compact_string():
    held = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]
    want = [{"apiGroups": [""], "resources": ["pods", "secrets"], "verbs": ["get"]}]
    missing = missing_rights(held, want)
    assert [compact_string(r) for r in missing] == ['{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}']
    assert missing_rights([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}], want) == []


async def test_escalation_is_refused_unless_held_or_bind_or_escalate(registry):
    alice = user("alice")
    await registry.create(ROLE, "dev", {"metadata": {"name": "role-admin"}, "rules": [
        # not "*": that would include the escalate and bind verbs
        {"apiGroups": [G], "resources": ["roles", "rolebindings"], "verbs": ["get", "list", "create", "update"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]})
    await registry.create(RB, "dev", {"metadata": {"name": "alice"}, "subjects": [subj("User", "alice")],
                                      "roleRef": {"apiGroup": G, "kind": "Role", "name": "role-admin"}})
    token = rbac.CURRENT_USER.set(alice)
    try:
        # a role within what alice holds: fine
        await registry.create(ROLE, "dev", {"metadata": {"name": "reader"}, "rules": [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]})
        with pytest.raises(Forbidden) as e:
            await registry.create(ROLE, "dev", {"metadata": {"name": "snoop"}, "rules": [
                {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]})
        assert e.value.message == (
            'roles.rbac.authorization.k8s.io "snoop" is forbidden: user "alice" (groups=["system:authenticated"]) '
            'is attempting to grant RBAC permissions not currently held:\n'
            '{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}')
        # binding edit (which can read secrets) is an escalation too
        with pytest.raises(Forbidden, match="attempting to grant RBAC permissions not currently held"):
            await registry.create(RB, "dev", {"metadata": {"name": "self-edit"}, "subjects": [subj("User", "bob")],
                                              "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": "edit"}})
    finally:
        rbac.CURRENT_USER.reset(token)
    assert registry.store.get(ROLE.key("snoop", "dev")) is None
    assert registry.store.get(RB.key("self-edit", "dev")) is None
    # with the bind verb on ClusterRole edit, binding it is allowed
    await registry.create(ROLE, "dev", {"metadata": {"name": "binder"}, "rules": [
        {"apiGroups": [G], "resources": ["clusterroles"], "verbs": ["bind"], "resourceNames": ["edit"]}]})
    await registry.create(RB, "dev", {"metadata": {"name": "alice-binder"}, "subjects": [subj("User", "alice")],
                                      "roleRef": {"apiGroup": G, "kind": "Role", "name": "binder"}})
    token = rbac.CURRENT_USER.set(alice)
    try:
        await registry.create(RB, "dev", {"metadata": {"name": "bob-edit"}, "subjects": [subj("User", "bob")],
                                          "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": "edit"}})
    finally:
        rbac.CURRENT_USER.reset(token)
    assert rbac.authorizer_for(registry).authorize(
        rbac.Attributes(user("bob"), "get", "dev", "", "secrets"))


# -- validation ----------------------------------------------------------------------------

async def test_role_ref_is_immutable_and_rules_validated(registry):
    await registry.create(RB, "dev", {"metadata": {"name": "x"}, "subjects": [subj("User", "a")],
                                      "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": "view"}})
    live = await registry.get(RB, "dev", "x")
    live["roleRef"]["name"] = "edit"
    with pytest.raises(Invalid) as e:
        await registry.update(RB, "dev", "x", live)
    # (kubetui names the kind without its group here, for every kind; upstream says RoleBinding.rbac...)
    assert e.value.message == ('RoleBinding "x" is invalid: roleRef: Invalid value: '
                               'rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", '
                               'Name:"edit"}: cannot change roleRef')
    with pytest.raises(Invalid) as e:
        await registry.create(ROLE, "dev", {"metadata": {"name": "bad"}, "rules": [
            {"apiGroups": [""], "resources": ["pods"]}, {"nonResourceURLs": ["/x"], "verbs": ["get"]}]})
    assert "rules[0].verbs: Required value: verbs must contain at least one value" in e.value.message
    assert "rules[1].nonResourceURLs: Invalid value: [\"/x\"]: namespaced rules cannot apply to non-resource URLs" \
        in e.value.message
    with pytest.raises(Invalid, match=r'roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"'):
        await registry.create(CRB, None, {"metadata": {"name": "y"},
                                          "roleRef": {"apiGroup": G, "kind": "Role", "name": "r"}})


# -- bootstrap policy and aggregation -----------------------------------------------------

async def test_bootstrap_roles_aggregate_view_into_edit_into_admin(registry):
    admin, edit, view = [await registry.get(CROLE, None, n) for n in ("admin", "edit", "view")]
    for small, big in ((view, edit), (edit, admin)):
        assert all(r in big["rules"] for r in small["rules"])
    az = rbac.authorizer_for(registry)
    # system:masters may do anything; system:authenticated gets discovery and self reviews
    assert az.authorize(rbac.Attributes(user("root", "system:masters"), "delete", "x", "", "nodes"))
    assert az.authorize(rbac.Attributes(user("nobody"), "get", path="/apis/apps/v1", resource_request=False))
    assert az.authorize(rbac.Attributes(user("nobody"), "create", "", "authorization.k8s.io",
                                        "selfsubjectaccessreviews"))
    assert not az.authorize(rbac.Attributes(user("nobody"), "list", "default", "", "pods"))
    # kubetui's own: any signed-in user reads the control plane's counters, the anonymous user does not
    assert az.authorize(rbac.Attributes(user("nobody"), "get", "", "controlplane.kubetui.dev", "activity"))
    anonymous = rbac.Subject("system:anonymous", (rbac.UNAUTHENTICATED,))
    assert not az.authorize(rbac.Attributes(anonymous, "get", "", "controlplane.kubetui.dev", "activity"))
    assert az.authorize(rbac.Attributes(anonymous, "get", path="/healthz", resource_request=False))
    assert not az.authorize(rbac.Attributes(anonymous, "get", path="/api", resource_request=False))
    # a user ClusterRole labelled aggregate-to-view extends view (the controller's pure rule)
    extra = {"metadata": {"name": "crontabs-view", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
             "rules": [{"apiGroups": ["stable.example.com"], "resources": ["crontabs"], "verbs": ["get"]}]}
    assert extra["rules"][0] in aggregate_rules(view, [view, edit, admin, extra, *cluster_roles()])
    assert extra["rules"][0] not in aggregate_rules(admin, [view, edit, admin, extra])  # edit not re-aggregated yet


async def test_bench_authz_cost_runs_and_authorizes_some_requests():
    import argparse

    from kubetui.bench.api import authz_cost
    r = await authz_cost(argparse.Namespace(rolebindings=60, authz_requests=300))
    assert r["authz_requests"] == 300 and 0 < r["authz_allowed"] < 300
    assert r["authz_p99_ms"] >= r["authz_p50_ms"] > 0


# -- the Node authorizer ------------------------------------------------------------------

async def test_a_kubelet_reads_only_its_own_pods_secrets(registry):
    pods, secrets, cms = resource_for("pods"), resource_for("secrets"), resource_for("configmaps")
    for name in ("a-secret", "b-secret", "pull"):
        await registry.create(secrets, "dev", {"metadata": {"name": name}, "data": {}})
    await registry.create(cms, "dev", {"metadata": {"name": "a-config"}, "data": {}})

    def pod(name: str, node: str, secret: str) -> dict:
        return {"metadata": {"name": name}, "spec": {
            "nodeName": node, "imagePullSecrets": [{"name": "pull"}] if node == "node-a" else [],
            "volumes": [{"name": "s", "secret": {"secretName": secret}}],
            "containers": [{"name": "c", "image": "nginx",
                            "envFrom": [{"configMapRef": {"name": "a-config"}}] if node == "node-a" else []}]}}
    await registry.create(pods, "dev", pod("on-a", "node-a", "a-secret"))
    await registry.create(pods, "dev", pod("on-b", "node-b", "b-secret"))
    az = rbac.authorizer_for(registry)
    kubelet_a = rbac.Subject("system:node:node-a", ("system:nodes", rbac.AUTHENTICATED))

    def may(verb: str, resource: str, name: str = "", ns: str = "dev") -> bool:
        return az.authorize(rbac.Attributes(kubelet_a, verb, ns, "", resource, "", name))
    assert may("get", "secrets", "a-secret") and may("get", "secrets", "pull")
    assert may("get", "configmaps", "a-config")
    assert not may("get", "secrets", "b-secret"), "another node's pod's Secret"
    assert not may("get", "secrets", "a-secret", ns="default")
    assert not may("list", "secrets") and not may("watch", "configmaps")
    assert may("list", "pods") and may("get", "services", "x")  # the system:node rules
    assert not may("delete", "deployments")
    # the same user name without the group is not a kubelet
    assert not az.authorize(rbac.Attributes(rbac.Subject("system:node:node-a", (rbac.AUTHENTICATED,)), "get",
                                            "dev", "", "secrets", "", "a-secret"))


async def test_node_restriction_a_kubelet_writes_only_its_own_objects(registry):
    from kubetui.apiserver.nodeauthorizer import node_restriction
    pods = resource_for("pods")
    await registry.create(pods, "dev", {"metadata": {"name": "on-b"}, "spec": {
        "nodeName": "node-b", "containers": [{"name": "c", "image": "nginx"}]}})
    await registry.create(pods, "dev", {"metadata": {"name": "on-a"}, "spec": {
        "nodeName": "node-a", "containers": [{"name": "c", "image": "nginx"}]}})
    a = rbac.Subject("system:node:node-a", ("system:nodes", rbac.AUTHENTICATED))

    def check(verb, resource, name, ns="", sub="", group=""):
        node_restriction(registry.store, rbac.Attributes(a, verb, ns, group, resource, sub, name))
    check("patch", "nodes", "node-a", sub="status")
    check("update", "pods", "on-a", "dev", "status")
    check("update", "leases", "node-a", "kube-node-lease", group="coordination.k8s.io")
    with pytest.raises(Forbidden, match='nodes "node-b" is forbidden: node "node-a" is not allowed to modify '
                                        'node "node-b"'):
        check("patch", "nodes", "node-b", sub="status")
    with pytest.raises(Forbidden, match="can only update pod status for pods with spec.nodeName set to itself"):
        check("patch", "pods", "on-b", "dev", "status")
    with pytest.raises(Forbidden, match="can only delete pods with spec.nodeName set to itself"):
        check("delete", "pods", "on-b", "dev")
    with pytest.raises(Forbidden, match="can only access node lease with the same name"):
        check("update", "leases", "node-b", "kube-node-lease", group="coordination.k8s.io")


async def test_the_escalate_verb_allows_writing_rules_not_held(registry):
    await registry.create(ROLE, "dev", {"metadata": {"name": "role-writer"}, "rules": [
        {"apiGroups": [G], "resources": ["roles"], "verbs": ["create", "escalate"]}]})
    await registry.create(RB, "dev", {"metadata": {"name": "carol"}, "subjects": [subj("User", "carol")],
                                      "roleRef": {"apiGroup": G, "kind": "Role", "name": "role-writer"}})
    token = rbac.CURRENT_USER.set(user("carol"))
    try:
        await registry.create(ROLE, "dev", {"metadata": {"name": "secrets-reader"}, "rules": [
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]})
        # escalate does not let her bind it: binding needs the rules or the bind verb
        with pytest.raises(Forbidden, match="not currently held"):
            await registry.create(RB, "dev", {"metadata": {"name": "x"}, "subjects": [subj("User", "carol")],
                                              "roleRef": {"apiGroup": G, "kind": "Role", "name": "secrets-reader"}})
    finally:
        rbac.CURRENT_USER.reset(token)
