"""The audit log: policy evaluation as upstream's, events as kube-apiserver writes them, end to end with kubectl."""

from __future__ import annotations

import json

import pytest
import pytest_asyncio

from kubetui.apiserver.audit import (DEFAULT_POLICY, AuditLog, PolicyError, build_event, event_matches,
                                     event_row, level_for, load_policy, validate_policy)

from kubetui.apiserver import rbac

from tests.apiserver.test_http_support import start_cluster

POLICY = validate_policy({
    "apiVersion": "audit.k8s.io/v1", "kind": "Policy", "omitStages": ["RequestReceived"],
    "rules": [
        {"level": "None", "users": ["system:kube-proxy"], "verbs": ["watch"]},
        {"level": "Metadata", "resources": [{"group": "", "resources": ["pods/log", "pods/status"]}]},
        {"level": "RequestResponse", "resources": [{"group": "", "resources": ["pods"]}], "namespaces": ["prod"]},
        {"level": "Request", "userGroups": ["devs"], "resources": [{"group": "apps", "resources": ["deployments"],
                                                                     "resourceNames": ["web"]}]},
        {"level": "None", "nonResourceURLs": ["/healthz*", "/version"], "omitStages": ["ResponseStarted"]},
        {"level": "Metadata", "omitStages": ["Panic"]},
    ]})


def facts(verb="get", *, user="alice", groups=(), ns="", group="", resource="", sub="", name="", path=""):
    return rbac.Attributes(rbac.Subject(user, tuple(groups)), verb, ns, group, resource, sub, name, path,
                           resource_request=not path)


@pytest.mark.parametrize("f,level", [
    (facts("watch", user="system:kube-proxy", resource="services"), "None"),
    (facts("watch", user="alice", resource="services"), "Metadata"),
    (facts(resource="pods", sub="log", ns="prod", name="p"), "Metadata"),      # pods/log before pods
    (facts(resource="pods", ns="prod", name="p"), "RequestResponse"),
    (facts(resource="pods", ns="dev", name="p"), "Metadata"),                   # the namespace does not match
    (facts("update", groups=["devs"], group="apps", resource="deployments", ns="x", name="web"), "Request"),
    (facts("update", groups=["devs"], group="apps", resource="deployments", ns="x", name="api"), "Metadata"),
    (facts("update", groups=["ops"], group="apps", resource="deployments", ns="x", name="web"), "Metadata"),
    (facts(path="/healthz/etcd"), "None"),
    (facts(path="/version"), "None"),
    (facts(path="/version/x"), "Metadata"),                                     # no trailing * : exact
])
def test_first_matching_rule_gives_the_level(f, level):
    assert level_for(POLICY, f)[0] == level


def test_omitted_stages_are_the_policy_and_the_rule_together():
    assert level_for(POLICY, facts(path="/healthz"))[1] == {"RequestReceived", "ResponseStarted"}
    assert level_for(POLICY, facts(resource="secrets"))[1] == {"RequestReceived", "Panic"}
    assert level_for({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [
        {"level": "None", "users": ["bob"]}]}, facts())[0] == "None"  # no rule matched: None


@pytest.mark.parametrize("policy,words", [
    ({"kind": "Policy", "apiVersion": "v1", "rules": [{"level": "None"}]}, "apiVersion audit.k8s.io/v1"),
    ({"kind": "Policy", "apiVersion": "audit.k8s.io/v1", "rules": []}, "at least one rule"),
    ({"kind": "Policy", "apiVersion": "audit.k8s.io/v1", "rules": [{"level": "Everything"}]},
     "rules[0].level: Unsupported value: 'Everything'"),
    ({"kind": "Policy", "apiVersion": "audit.k8s.io/v1", "omitStages": ["Later"], "rules": [{"level": "None"}]},
     "omitStages: Unsupported value: 'Later'"),
    ({"kind": "Policy", "apiVersion": "audit.k8s.io/v1", "rules": [
        {"level": "None", "nonResourceURLs": ["/x"], "resources": [{"group": ""}]}]}, "both regular resources"),
])
def test_a_bad_policy_is_refused_with_the_field(policy, words):
    with pytest.raises(PolicyError) as e:
        validate_policy(policy)
    assert words in str(e.value)


def test_policy_file(tmp_path):
    p = tmp_path / "policy.yaml"
    p.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n")
    assert load_policy(p)["rules"] == [{"level": "Metadata"}]
    assert load_policy(None) is DEFAULT_POLICY
    with pytest.raises(PolicyError, match="no-such"):
        load_policy(tmp_path / "no-such.yaml")


def test_the_default_policy_drops_heartbeats_and_keeps_a_users_writes_with_their_body():
    assert level_for(DEFAULT_POLICY, facts("update", user="system:node:n1", groups=["system:nodes"],
                                           group="coordination.k8s.io", resource="leases", ns="kube-node-lease"))[0] \
        == "None"
    assert level_for(DEFAULT_POLICY, facts("watch", user="system:node:n1", groups=["system:nodes"],
                                           resource="pods"))[0] == "None"
    assert level_for(DEFAULT_POLICY, facts("create", resource="secrets", ns="d"))[0] == "Metadata"
    assert level_for(DEFAULT_POLICY, facts("delete", group="apps", resource="deployments", ns="d"))[0] == "Request"
    assert level_for(DEFAULT_POLICY, facts("list", resource="pods", ns="d"))[0] == "Metadata"


def test_event_shape_and_row():
    ev = build_event(level="Request", stage="ResponseComplete", audit_id="id-1",
                     facts=facts("patch", group="apps", resource="deployments", sub="scale", ns="d", name="web"),
                     request_uri="/apis/apps/v1/namespaces/d/deployments/web/scale", api_version="apps/v1",
                     source_ip="127.0.0.1", user_agent="kubectl/v1.32", received=0.5, now=1.25, code=200,
                     request_object={"spec": {"replicas": 3}})
    assert ev["objectRef"] == {"resource": "deployments", "namespace": "d", "name": "web", "apiGroup": "apps",
                               "apiVersion": "apps/v1", "subresource": "scale"}
    assert ev["requestReceivedTimestamp"] == "1970-01-01T00:00:00.500000Z"
    assert ev["stageTimestamp"] == "1970-01-01T00:00:01.250000Z"
    assert ev["responseStatus"] == {"metadata": {}, "code": 200}
    assert ev["requestObject"] == {"spec": {"replicas": 3}}
    assert event_row(ev)[1:] == ["alice", "patch", "deployments.apps/scale", "d", "web", "200", "allow"]
    assert event_matches(ev, resource="deployments.apps/scale") and not event_matches(ev, user="bob")


# ------------------------------------------------------------------ end to end, with the real kubectl

@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory):
    d = tmp_path_factory.mktemp("audit")
    c = await start_cluster(d, audit=AuditLog(d / "audit.log"))
    yield c
    await c.stop()


def _events(c) -> list[dict]:
    c.server.audit.flush()
    return [json.loads(line) for line in (c.state_dir / "audit.log").read_text().splitlines()]


@pytest.mark.asyncio(loop_scope="module")
async def test_kubectl_writes_are_recorded_with_user_body_and_code(cluster):
    rc, _, err = await cluster.kubectl("create", "deployment", "web", "--image=kubetui/hello:1")
    assert rc == 0, err
    rc, _, err = await cluster.kubectl("scale", "deployment", "web", "--replicas=3")
    assert rc == 0, err
    rc, _, _ = await cluster.kubectl("create", "deployment", "web", "--image=kubetui/hello:1")
    assert rc != 0  # AlreadyExists: recorded with its code
    rc, _, err = await cluster.kubectl("create", "secret", "generic", "s1", "--from-literal=a=b")
    assert rc == 0, err
    rc, _, _ = await cluster.kubectl("get", "pods", "--as", "mallory")
    assert rc != 0  # the admin may impersonate mallory (system:masters), who may not list pods
    events = _events(cluster)
    creates = [e for e in events if e["verb"] == "create" and e.get("objectRef", {}).get("resource") == "deployments"]
    assert [e["responseStatus"]["code"] for e in creates] == [201, 409]
    assert creates[0]["user"]["username"] == "kubernetes-admin" and creates[0]["level"] == "Request"
    assert creates[0]["requestObject"]["kind"] == "Deployment"  # kubectl's protobuf/JSON body, decoded
    assert creates[0]["stage"] == "ResponseComplete" and creates[0]["userAgent"].startswith("kubectl/")
    assert creates[0]["objectRef"]["name"] == "web"  # named from the body, as upstream's LogRequestObject
    secret = next(e for e in events if e["verb"] == "create" and e["objectRef"]["resource"] == "secrets")
    assert secret["objectRef"]["name"] == "s1" and "requestObject" not in secret  # Metadata: named, no body
    assert creates[1]["responseStatus"]["reason"] == "AlreadyExists"
    scale = next(e for e in events if e["verb"] == "patch")
    assert scale["objectRef"]["subresource"] == "scale" and scale["requestObject"] == {"spec": {"replicas": 3}}
    refused = next(e for e in events if e.get("impersonatedUser", {}).get("username") == "mallory")
    assert refused["annotations"]["authorization.k8s.io/decision"] == "forbid"
    assert refused["responseStatus"]["code"] == 403 and refused["user"]["username"] == "kubernetes-admin"
    assert not any(e["stage"] == "RequestReceived" for e in events)  # the default policy omits it


def test_audit_tail_prints_the_table_and_filters(tmp_path, capsys):
    import argparse

    from kubetui.cmd.audit import run_tail
    log = AuditLog(tmp_path / "audit.log")
    for user, verb in (("alice", "create"), ("bob", "delete"), ("alice", "get")):
        log.write(build_event(level="Metadata", stage="ResponseComplete", audit_id=verb,
                              facts=facts(verb, user=user, resource="pods", ns="d", name="p"), request_uri="/x",
                              api_version="v1", source_ip="", user_agent="", received=0, now=0, code=200))
    log.close()
    args = argparse.Namespace(state_dir=str(tmp_path), name="default", follow=False, tail=20, user="alice", verb=None,
                              namespace=None, resource=None, output="table")
    assert run_tail(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["TIME", "USER", "VERB", "RESOURCE", "NAMESPACE", "NAME", "CODE", "DECISION"]
    assert [line.split()[1:3] for line in lines[1:]] == [["alice", "create"], ["alice", "get"]]
