"""ServiceAccount tokens (issue 14): TokenRequest, the JWT authenticator, the token volume.

Unit tests of the claims and their checks (expiry, audience, bound objects),
then the real kubectl against an HTTPS API server: ``kubectl create token``,
``kubectl --token`` authenticated as the ServiceAccount (``auth whoami``),
refusals (401) once the account or the bound pod is gone, TokenReview, and the
admission plugin's volume (or none with ``automountServiceAccountToken: false``).
"""

from __future__ import annotations

import base64
import json
import os
import stat

import pytest
import pytest_asyncio

from kubetui.api.errors import Unauthorized
from kubetui.apiserver import admission
from kubetui.apiserver.serviceaccount import (
    ISSUER, TokenIssuer, check_claims, load_or_create_key, token_claims,
)
from tests.apiserver.test_http_support import start_cluster

SA = {"metadata": {"name": "robot", "namespace": "team", "uid": "sa-uid"}}
POD = {"kind": "Pod", "metadata": {"name": "web", "namespace": "team", "uid": "pod-uid"},
       "spec": {"serviceAccountName": "robot", "nodeName": "n1"}}
NODE = {"metadata": {"name": "n1", "uid": "node-uid"}}


def _lookup(objs: dict):
    return lambda plural, ns, name: objs.get((plural, name))


def test_claims_are_upstreams():
    c = token_claims(namespace="team", sa=SA, audiences=[ISSUER], now=1000, expiration_seconds=3600,
                     bound=POD, node=NODE)
    assert c["iss"] == "https://kubernetes.default.svc.cluster.local"
    assert c["sub"] == "system:serviceaccount:team:robot"
    assert (c["aud"], c["iat"], c["nbf"], c["exp"]) == ([ISSUER], 1000, 1000, 4600)
    assert c["kubernetes.io"] == {"namespace": "team", "serviceaccount": {"name": "robot", "uid": "sa-uid"},
                                  "pod": {"name": "web", "uid": "pod-uid"},
                                  "node": {"name": "n1", "uid": "node-uid"}}


def test_sign_verify_and_tamper():
    issuer = TokenIssuer()
    tok = issuer.sign({"a": 1})
    header = json.loads(base64.urlsafe_b64decode(tok.split(".")[0] + "=="))
    assert header == {"alg": "RS256", "kid": issuer.kid}
    assert issuer.verify(tok) == {"a": 1}
    h, p, s = tok.split(".")
    forged = base64.urlsafe_b64encode(json.dumps({"a": 2}).encode()).rstrip(b"=").decode()
    assert issuer.verify(f"{h}.{forged}.{s}") is None
    assert TokenIssuer().verify(tok) is None  # another cluster's key
    assert issuer.verify("not-a-jwt") is None


@pytest.mark.parametrize("now, audiences, objs, ok", [
    (1500, (ISSUER,), {"sa": SA, "pod": POD}, True),
    (4600, (ISSUER,), {"sa": SA, "pod": POD}, False),                 # expired (exp is exclusive)
    (1500, ("https://vault",), {"sa": SA, "pod": POD}, False),        # wrong audience
    (1500, (ISSUER,), {"pod": POD}, False),                           # the ServiceAccount was deleted
    (1500, (ISSUER,), {"sa": {"metadata": {**SA["metadata"], "uid": "new"}}, "pod": POD}, False),  # recreated
    (1500, (ISSUER,), {"sa": SA}, False),                             # the bound pod was deleted
    (1500, (ISSUER,), {"sa": SA, "pod": {**POD, "metadata": {**POD["metadata"], "uid": "other"}}}, False),
])
def test_check_claims(now, audiences, objs, ok):
    c = token_claims(namespace="team", sa=SA, audiences=[ISSUER], now=1000, expiration_seconds=3600,
                     bound=POD, node=NODE)
    table = {("serviceaccounts", "robot"): objs.get("sa"), ("pods", "web"): objs.get("pod")}
    if ok:
        user = check_claims(c, now=now, audiences=audiences, lookup=_lookup(table))
        assert user.name == "system:serviceaccount:team:robot"
        assert user.groups == ("system:serviceaccounts", "system:serviceaccounts:team")
        assert user.extra["authentication.kubernetes.io/pod-name"] == ["web"]
    else:
        with pytest.raises(Unauthorized):
            check_claims(c, now=now, audiences=audiences, lookup=_lookup(table))


def test_key_file_is_0600_and_stable(tmp_path):
    k1 = load_or_create_key(tmp_path)
    assert stat.S_IMODE(os.stat(tmp_path / "pki" / "sa.key").st_mode) == 0o600
    k2 = load_or_create_key(tmp_path)
    assert TokenIssuer(k1).kid == TokenIssuer(k2).kid


def _pod(**spec):
    return {"metadata": {"name": "p"}, "spec": {"initContainers": [{"name": "i"}],
                                                "containers": [{"name": "a"}, {"name": "b", "volumeMounts": [
                                                    {"name": "own", "mountPath": admission.API_TOKEN_MOUNT_PATH}]}],
                                                **spec}}


def test_admission_volume_shape_as_upstream():
    pod = _pod()
    admission.service_account(pod, "default", lambda *a: {"metadata": {"name": "default"}})
    spec = pod["spec"]
    (vol,) = spec["volumes"]
    assert vol["name"].startswith("kube-api-access-") and len(vol["name"]) == 21
    assert all(ch in admission.RAND_ALPHABET for ch in vol["name"][-5:])
    assert vol["projected"] == {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}
    mount = {"name": vol["name"], "readOnly": True, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}
    assert spec["initContainers"][0]["volumeMounts"] == [mount]
    assert spec["containers"][0]["volumeMounts"] == [mount]
    assert len(spec["containers"][1]["volumeMounts"]) == 1  # its own mount at that path wins


@pytest.mark.parametrize("pod_flag, sa_flag, mounted", [
    (None, None, True), (False, None, False), (None, False, False), (True, False, True), (False, True, False),
])
def test_automount_pod_wins_over_account(pod_flag, sa_flag, mounted):
    pod = _pod() if pod_flag is None else _pod(automountServiceAccountToken=pod_flag)
    account = {"metadata": {"name": "default"}}
    if sa_flag is not None:
        account["automountServiceAccountToken"] = sa_flag
    admission.service_account(pod, "default", lambda *a: account)
    assert bool(pod["spec"].get("volumes")) is mounted


# ------------------------------------------------------------------ the real kubectl

pytestmark_http = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory):
    c = await start_cluster(tmp_path_factory.mktemp("satokens"), node_connector=None)
    yield c
    await c.stop()


async def ok(c, *args, stdin=None):
    rc, out, err = await c.kubectl(*args, stdin=stdin.encode() if stdin else None)
    assert rc == 0, f"kubectl {' '.join(args)}: {out}{err}"
    return out


def _claims(token: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=" * (-len(token.split(".")[1]) % 4)))


@pytest.mark.asyncio(loop_scope="module")
async def test_create_token_and_whoami(cluster):
    await ok(cluster, "create", "serviceaccount", "robot")
    token = (await ok(cluster, "create", "token", "robot", "--duration", "20m")).strip()
    c = _claims(token)
    assert c["sub"] == "system:serviceaccount:default:robot" and c["exp"] - c["iat"] == 1200
    assert c["aud"] == ["https://kubernetes.default.svc.cluster.local"]
    who = json.loads(await ok(cluster, "--token", token, "auth", "whoami", "-o", "json"))
    assert who["status"]["userInfo"]["username"] == "system:serviceaccount:default:robot"
    assert set(who["status"]["userInfo"]["groups"]) == {"system:serviceaccounts", "system:serviceaccounts:default",
                                                        "system:authenticated"}
    # authenticated, but RBAC grants a fresh ServiceAccount nothing
    rc, out, err = await cluster.kubectl("--token", token, "get", "pods")
    assert rc != 0 and 'User "system:serviceaccount:default:robot" cannot list resource "pods"' in err, err
    # TokenReview (what a webhook or Vault asks)
    review = json.loads(await ok(cluster, "create", "--validate=false", "-o", "json", "-f", "-", stdin=json.dumps({
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}})))
    assert review["status"]["authenticated"] is True
    assert review["status"]["user"]["username"] == "system:serviceaccount:default:robot"
    # deleting the account kills its tokens
    await ok(cluster, "delete", "serviceaccount", "robot")
    rc, out, err = await cluster.kubectl("--token", token, "auth", "whoami")
    assert rc != 0 and "Unauthorized" in err, err


@pytest.mark.asyncio(loop_scope="module")
async def test_wrong_audience_and_short_duration(cluster):
    await ok(cluster, "create", "serviceaccount", "aud")
    token = (await ok(cluster, "create", "token", "aud", "--audience", "https://vault.example")).strip()
    assert _claims(token)["aud"] == ["https://vault.example"]
    rc, out, err = await cluster.kubectl("--token", token, "auth", "whoami")
    assert rc != 0 and "Unauthorized" in err, err
    rc, out, err = await cluster.kubectl("create", "token", "aud", "--duration", "5m")
    assert rc != 0 and "may not specify a duration less than 10 minutes" in err, err
    rc, out, err = await cluster.kubectl("create", "token", "nobody")
    assert rc != 0 and 'serviceaccounts "nobody" not found' in err, err


@pytest.mark.asyncio(loop_scope="module")
async def test_pod_bound_token_dies_with_the_pod(cluster):
    await ok(cluster, "run", "bound", "--image=nginx:1.27")
    token = (await ok(cluster, "create", "token", "default", "--bound-object-kind", "Pod",
                      "--bound-object-name", "bound")).strip()
    uid = (await ok(cluster, "get", "pod", "bound", "-o", "jsonpath={.metadata.uid}")).strip()
    assert _claims(token)["kubernetes.io"]["pod"] == {"name": "bound", "uid": uid}
    await ok(cluster, "--token", token, "auth", "whoami")
    await ok(cluster, "delete", "pod", "bound", "--grace-period=0", "--force")
    rc, out, err = await cluster.kubectl("--token", token, "auth", "whoami")
    assert rc != 0 and "Unauthorized" in err, err


@pytest.mark.asyncio(loop_scope="module")
async def test_pod_volume_or_none(cluster):
    await ok(cluster, "run", "auto", "--image=nginx:1.27")
    spec = json.loads(await ok(cluster, "get", "pod", "auto", "-o", "json"))["spec"]
    assert spec["volumes"][0]["name"].startswith("kube-api-access-")
    await ok(cluster, "run", "noauto", "--image=nginx:1.27",
             "--overrides", '{"spec": {"automountServiceAccountToken": false}}')
    spec = json.loads(await ok(cluster, "get", "pod", "noauto", "-o", "json"))["spec"]
    assert "volumes" not in spec and "volumeMounts" not in spec["containers"][0]


@pytest.mark.asyncio(loop_scope="module")
async def test_official_client_in_cluster_config(cluster, tmp_path):
    """What ``load_incluster_config()`` reads in a pod (token, ca.crt, KUBERNETES_SERVICE_*) works against us."""
    import asyncio
    from urllib.parse import urlparse

    from kubernetes import client as k8s
    from kubernetes.config.incluster_config import InClusterConfigLoader

    await ok(cluster, "create", "serviceaccount", "incluster")
    await ok(cluster, "create", "rolebinding", "incluster-view", "--clusterrole=view",
             "--serviceaccount=default:incluster")
    (tmp_path / "token").write_text((await ok(cluster, "create", "token", "incluster")).strip())
    (tmp_path / "ca.crt").write_bytes((cluster.state_dir / "pki" / "ca.crt").read_bytes())
    url = urlparse(cluster.server.url)
    cfg = k8s.Configuration()
    InClusterConfigLoader(str(tmp_path / "token"), str(tmp_path / "ca.crt"),
                          environ={"KUBERNETES_SERVICE_HOST": url.hostname,
                                   "KUBERNETES_SERVICE_PORT": str(url.port)}).load_and_set(cfg)

    def calls():
        with k8s.ApiClient(cfg) as api:
            pods = k8s.CoreV1Api(api).list_namespaced_pod("default")
            with pytest.raises(k8s.ApiException) as e:
                k8s.CoreV1Api(api).list_namespaced_secret("default")  # view does not read Secrets
            return pods, e.value.status
    pods, secrets_status = await asyncio.to_thread(calls)
    assert isinstance(pods.items, list) and secrets_status == 403
