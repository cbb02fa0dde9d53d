"""RBAC with the real kubectl and the official Python client, over HTTPS (issue 14).

A team member ``alice`` gets a credential from ``kubetui user add`` and a
custom Role that lets her deploy but not read Secrets; ``kubectl auth can-i``,
``auth whoami``, impersonation, refusals worded as upstream, a forbidden write
that changes nothing, and revocation (401) are checked end to end.
"""

from __future__ import annotations

import asyncio
import sys

import pytest
import pytest_asyncio
import yaml

from kubetui.api.resources import resource_for

from tests.apiserver.test_http_support import HTTPCluster, start_cluster

pytestmark = pytest.mark.asyncio(loop_scope="module")

DEPLOYER = """apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: deployer, namespace: team}
rules:
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [""]
  resources: [pods, pods/log]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice-deployer, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: deployer}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}
"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory):
    c = await start_cluster(tmp_path_factory.mktemp("rbac"))
    await c.registry.create(resource_for("namespaces"), None, {"metadata": {"name": "team"}})
    yield c
    await c.stop()


async def kubectl(c: HTTPCluster, *args: str, kubeconfig=None, stdin: bytes | None = None) -> tuple[int, str, str]:
    if kubeconfig is not None:
        args = (f"--kubeconfig={kubeconfig}", *args)
    return await c.kubectl(*args, stdin=stdin)


async def ok(c: HTTPCluster, *args: str, **kw) -> str:
    rc, out, err = await kubectl(c, *args, **kw)
    assert rc == 0, f"kubectl {' '.join(args)} -> {rc}\nstdout: {out}\nstderr: {err}"
    return out


async def user_add(c: HTTPCluster, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kubetui", "user", *args, "--state-dir", str(c.state_dir),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return out.decode()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def alice(cluster):
    out = await user_add(cluster, "add", "alice", "--group", "devs")
    assert "user alice added" in out
    path = cluster.state_dir / "users" / "alice.kubeconfig"
    assert path.stat().st_mode & 0o777 == 0o600
    await ok(cluster, "apply", "-f", "-", stdin=DEPLOYER.encode())
    return path


async def test_whoami_for_admin_and_user(cluster, alice):
    out = await ok(cluster, "auth", "whoami")
    assert out.split() == ["ATTRIBUTE", "VALUE", "Username", "kubernetes-admin", "Groups",
                           "[system:masters", "system:authenticated]"]
    out = await ok(cluster, "auth", "whoami", "-o", "yaml", kubeconfig=alice)
    assert yaml.safe_load(out)["status"]["userInfo"] == {"username": "alice",
                                                         "groups": ["devs", "system:authenticated"]}


async def test_forbidden_list_is_worded_as_upstream(cluster, alice):
    rc, _, err = await kubectl(cluster, "get", "pods", "-n", "default", kubeconfig=alice)
    assert rc == 1
    assert err.strip() == ('Error from server (Forbidden): pods is forbidden: User "alice" cannot list resource '
                           '"pods" in API group "" in the namespace "default"')
    rc, _, err = await kubectl(cluster, "get", "nodes", kubeconfig=alice)
    assert 'nodes is forbidden: User "alice" cannot list resource "nodes" in API group "" at the cluster scope' \
        in err


async def test_forbidden_create_changes_nothing(cluster, alice):
    rev = cluster.store.revision
    rc, _, err = await kubectl(cluster, "create", "configmap", "sneaky", "-n", "team", "--from-literal=a=b",
                               kubeconfig=alice)
    assert rc == 1 and 'configmaps is forbidden: User "alice" cannot create resource "configmaps"' in err
    assert cluster.store.revision == rev
    assert cluster.store.get(resource_for("configmaps").key("sneaky", "team")) is None


async def test_user_can_deploy_but_not_read_secrets(cluster, alice):
    await ok(cluster, "create", "secret", "generic", "db-password", "-n", "team", "--from-literal=p=hunter2")
    out = await ok(cluster, "create", "deployment", "web", "--image=nginx", "-n", "team", kubeconfig=alice)
    assert "deployment.apps/web created" in out
    assert "web" in await ok(cluster, "get", "deploy", "-n", "team", kubeconfig=alice)
    rc, _, err = await kubectl(cluster, "get", "secret", "db-password", "-n", "team", kubeconfig=alice)
    assert rc == 1 and ('secrets "db-password" is forbidden: User "alice" cannot get resource "secrets" in API '
                        'group "" in the namespace "team"') in err
    assert (await ok(cluster, "auth", "can-i", "create", "deployments", "-n", "team", kubeconfig=alice)).strip() \
        == "yes"
    rc, out, _ = await kubectl(cluster, "auth", "can-i", "get", "secrets", "-n", "team", kubeconfig=alice)
    assert rc == 1 and out.strip() == "no"
    # the admin asks on alice's behalf (impersonation by system:masters)
    rc, out, _ = await kubectl(cluster, "auth", "can-i", "get", "pods", "--subresource=log", "-n", "team",
                               "--as", "alice")
    assert rc == 0 and out.strip() == "yes"


async def test_can_i_list_as_alice_matches_hand_computed_rules(cluster, alice):
    out = await ok(cluster, "auth", "can-i", "--list", "--as", "alice", "-n", "team")
    rows = [line.split() for line in out.splitlines()]
    # hand-computed: Role deployer + system:basic-user (self reviews) + kubetui:activity-viewer +
    # system:discovery and
    # system:public-info-viewer (their URLs overlap, so /healthz, /livez, /readyz, /version show twice,
    # as on a real cluster)
    resource_rows = [
        ["selfsubjectreviews.authentication.k8s.io", "[]", "[]", "[create]"],
        ["selfsubjectaccessreviews.authorization.k8s.io", "[]", "[]", "[create]"],
        ["selfsubjectrulesreviews.authorization.k8s.io", "[]", "[]", "[create]"],
        ["deployments.apps", "[]", "[]", "[get", "list", "watch", "create", "update", "patch", "delete]"],
        ["pods/log", "[]", "[]", "[get", "list", "watch]"],
        ["pods", "[]", "[]", "[get", "list", "watch]"],
        # kubetui's own bootstrap role: every signed-in user reads the control-plane counters
        ["activity.controlplane.kubetui.dev", "[]", "[]", "[get", "list]"],
    ]
    urls = ["/api/*", "/api", "/apis/*", "/apis", "/healthz", "/healthz", "/livez", "/livez", "/openapi/*",
            "/openapi", "/readyz", "/readyz", "/version/", "/version/", "/version", "/version"]
    assert rows == [["Resources", "Non-Resource", "URLs", "Resource", "Names", "Verbs"], *resource_rows,
                    *[[f"[{u}]", "[]", "[get]"] for u in urls]]


async def test_impersonation_needs_the_impersonate_verb(cluster, alice):
    rc, _, err = await kubectl(cluster, "get", "pods", "-n", "team", "--as", "bob", kubeconfig=alice)
    assert rc == 1
    assert ('users "bob" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the '
            'cluster scope') in err
    out = await ok(cluster, "auth", "whoami", "--as", "carol", "--as-group", "qa", "-o", "yaml")
    assert yaml.safe_load(out)["status"]["userInfo"] == {"username": "carol",
                                                         "groups": ["qa", "system:authenticated"]}


async def test_rbac_tables(cluster, alice):
    out = await ok(cluster, "get", "rolebinding", "alice-deployer", "-n", "team", "-o", "wide")
    assert out.split()[:6] == ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    assert out.splitlines()[1].split()[:2] == ["alice-deployer", "Role/deployer"]
    out = await ok(cluster, "get", "clusterrole", "view")
    assert out.split()[:3] == ["NAME", "CREATED", "AT"]
    out = await ok(cluster, "get", "clusterrolebinding", "cluster-admin")
    assert out.splitlines()[1].split()[:2] == ["cluster-admin", "ClusterRole/cluster-admin"]


async def test_python_client_with_a_user_kubeconfig(cluster, alice):
    from kubernetes import client, config
    from kubernetes.client.rest import ApiException

    def run() -> tuple[list[str], int]:
        api = config.new_client_from_config(str(alice))
        names = [d.metadata.name for d in client.AppsV1Api(api).list_namespaced_deployment("team").items]
        try:
            client.CoreV1Api(api).read_namespaced_secret("db-password", "team")
            status = 200
        except ApiException as e:
            status = e.status
        api.close()
        return names, status

    names, status = await asyncio.to_thread(run)
    assert "web" in names and status == 403


@pytest.mark.parametrize("credential", ["cert", "token"])
async def test_revoked_credential_is_401(cluster, credential):
    name = f"mallory-{credential}"
    await user_add(cluster, "add", name, "--namespace", "team", "--role", "view", "--credential", credential)
    path = cluster.state_dir / "users" / f"{name}.kubeconfig"
    user = yaml.safe_load(path.read_text())["users"][0]["user"]
    assert set(user) == ({"client-certificate-data", "client-key-data"} if credential == "cert" else {"token"})
    assert "web" in await ok(cluster, "get", "deploy", "-n", "team", kubeconfig=path)
    assert "web" in await ok(cluster, "get", "deploy", kubeconfig=path)  # the context's namespace is team
    assert name in await ok(cluster, "auth", "whoami", kubeconfig=path)
    out = await user_add(cluster, "list")
    assert any(line.split()[1:4] == [name, credential, "valid"] for line in out.splitlines())
    await user_add(cluster, "revoke", name)
    rc, _, err = await kubectl(cluster, "get", "deploy", "-n", "team", kubeconfig=path)
    assert rc == 1 and "error: You must be logged in to the server (Unauthorized)" in err
    assert any(line.split()[1:4] == [name, credential, "revoked"] for line in (await user_add(cluster, "list"))
               .splitlines()) or credential == "token"


async def test_kubetui_client_with_a_certificate_kubeconfig(cluster, alice):
    from kubetui.api.errors import Forbidden
    from kubetui.client.http import HTTPClient
    c = HTTPClient.from_kubeconfig(alice)
    try:
        assert "web" in [d["metadata"]["name"] for d in (await c.list("deployments", "team"))["items"]]
        with pytest.raises(Forbidden):
            await c.get("secrets", "db-password", "team")
    finally:
        await c.close()


async def test_bad_credentials_are_401_everywhere(cluster, alice):
    import aiohttp

    from kubetui.apiserver.auth import CERT_PREFIX
    records = cluster.server.authenticator._tokens
    cert_key = next(k for k in records if k.startswith(CERT_PREFIX))
    ssl_ctx = cluster.server.ssl_context and __import__("ssl").create_default_context(
        cadata=(cluster.state_dir / "pki" / "ca.crt").read_text())
    async with aiohttp.ClientSession() as s:
        for header in ("Bearer not-a-token", f"Bearer {cert_key}", "Basic YWxpY2U6cHc="):
            for path in ("/healthz", "/api/v1/namespaces/team/pods"):
                async with s.get(cluster.server.url + path, headers={"Authorization": header}, ssl=ssl_ctx) as r:
                    assert r.status == 401, (header, path)
        async with s.get(cluster.server.url + "/healthz", ssl=ssl_ctx) as r:  # anonymous may read health
            assert r.status == 200


async def test_a_kubelet_credential_cannot_read_another_nodes_pods_secret(cluster):
    import ssl

    import aiohttp
    pods = resource_for("pods")
    await cluster.registry.create(resource_for("secrets"), "team", {"metadata": {"name": "a-only"}, "data": {}})
    await cluster.registry.create(pods, "team", {"metadata": {"name": "on-node-a"}, "spec": {
        "nodeName": "node-a", "volumes": [{"name": "s", "secret": {"secretName": "a-only"}}],
        "containers": [{"name": "c", "image": "nginx"}]}})
    ctx = ssl.create_default_context(cadata=(cluster.state_dir / "pki" / "ca.crt").read_text())
    url = cluster.server.url + "/api/v1/namespaces/team/secrets/a-only"
    async with aiohttp.ClientSession() as s:
        for node, status in (("node-a", 200), ("node-b", 403)):
            token = cluster.server.authenticator.node_token(node)
            async with s.get(url, headers={"Authorization": f"Bearer {token}"}, ssl=ctx) as r:
                assert r.status == status, node
                if status == 403:
                    assert (await r.json())["message"] == (
                        'secrets "a-only" is forbidden: User "system:node:node-b" cannot get resource "secrets" in '
                        'API group "" in the namespace "team"')


async def test_token_review_and_subject_access_review(cluster, alice):
    # (--validate=false: kubectl's client-side validation does not find these kinds' schemas yet)
    token = cluster.server.authenticator.node_token("node-z")
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
    out = yaml.safe_load(await ok(cluster, "create", "--validate=false", "-f", "-", "-o", "yaml", stdin=yaml.safe_dump(review).encode()))
    assert out["status"] == {"authenticated": True, "user": {
        "username": "system:node:node-z", "groups": ["system:nodes", "system:authenticated"]}}
    review["spec"]["token"] = "nope"
    out = yaml.safe_load(await ok(cluster, "create", "--validate=false", "-f", "-", "-o", "yaml", stdin=yaml.safe_dump(review).encode()))
    assert out["status"]["authenticated"] is False
    sar = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {
        "user": "alice", "groups": ["devs"],
        "resourceAttributes": {"namespace": "team", "verb": "create", "group": "apps", "resource": "deployments"}}}
    out = yaml.safe_load(await ok(cluster, "create", "--validate=false", "-f", "-", "-o", "yaml", stdin=yaml.safe_dump(sar).encode()))
    assert out["status"]["allowed"] is True
    sar["spec"]["resourceAttributes"]["resource"] = "secrets"
    sar["spec"]["resourceAttributes"]["group"] = ""
    out = yaml.safe_load(await ok(cluster, "create", "--validate=false", "-f", "-", "-o", "yaml", stdin=yaml.safe_dump(sar).encode()))
    assert out["status"]["allowed"] is False
    # alice may not ask about others (SubjectAccessReview is cluster-admin's)
    rc, _, err = await kubectl(cluster, "create", "--validate=false", "-f", "-", stdin=yaml.safe_dump(sar).encode(), kubeconfig=alice)
    assert rc == 1 and 'cannot create resource "subjectaccessreviews" in API group "authorization.k8s.io"' in err
