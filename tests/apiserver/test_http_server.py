"""kubetui's API server over raw HTTPS: auth, discovery, OpenAPI, bodies, errors, Tables, watch.

Every bad request must come back as a 4xx ``Status`` naming the problem, store
nothing, and leave the server serving.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
import pytest_asyncio

from kubetui.apiserver import protobuf
from kubetui.apiserver.discovery import AGGREGATED_CONTENT_TYPE
from tests.apiserver.test_http_support import start_cluster

pytestmark = pytest.mark.asyncio(loop_scope="module")

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
PODS = "/api/v1/namespaces/default/pods"


def pod(name: str, **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory):
    c = await start_cluster(tmp_path_factory.mktemp("http"), history_events=50,
                            history_seconds=0, node_connector=None)
    yield c
    await c.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def http(cluster):
    ctx = cluster.server.ssl_context  # not used by the client: it trusts the CA only
    from kubetui.client.kubeconfig import load_kubeconfig
    cfg = load_kubeconfig(cluster.kubeconfig)
    assert ctx is not None
    async with aiohttp.ClientSession(base_url=cluster.server.url,
                                     headers={"Authorization": f"Bearer {cluster.token}"},
                                     connector=aiohttp.TCPConnector(ssl=cfg.ssl_context())) as s:
        yield s


async def jreq(http, method, path, *, body=None, data=None, ctype="application/json", headers=None, params=None):
    hdrs = dict(headers or {})
    if body is not None:
        data = json.dumps(body)
    if data is not None and ctype:
        hdrs["Content-Type"] = ctype
    async with http.request(method, path, data=data, headers=hdrs, params=params) as r:
        text = await r.text()
        return r.status, (json.loads(text) if text and r.content_type.startswith("application/json") else text), r


async def test_auth_public_paths_and_version(cluster, http):
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as anon:
        # no credential at all: upstream's anonymous user, refused by RBAC (403), not 401
        async with anon.get(cluster.server.url + PODS) as r:
            assert r.status == 403
            st = await r.json()
            assert st["kind"] == "Status" and st["reason"] == "Forbidden" and st["code"] == 403
            assert st["message"] == ('pods is forbidden: User "system:anonymous" cannot list resource "pods" '
                                     'in API group "" in the namespace "default"'), st
        async with anon.get(cluster.server.url + "/api") as r:
            assert r.status == 403
            assert (await r.json())["message"] == 'forbidden: User "system:anonymous" cannot get path "/api"'
        async with anon.get(cluster.server.url + "/api", headers={"Authorization": "Bearer wrong"}) as r:
            assert r.status == 401
        for path in ("/healthz", "/livez", "/readyz"):
            async with anon.get(cluster.server.url + path) as r:
                assert (r.status, await r.text()) == (200, "ok")
        async with anon.get(cluster.server.url + "/version") as r:
            v = await r.json()
            assert v["gitVersion"].startswith("v1.") and v["major"] == "1" and "kubetui" in v


async def test_discovery_aggregated_and_legacy(http):
    accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
    status, body, r = await jreq(http, "GET", "/apis", headers={"Accept": accept})
    assert status == 200 and r.headers["Content-Type"] == AGGREGATED_CONTENT_TYPE
    assert body["kind"] == "APIGroupDiscoveryList"
    status, body, r = await jreq(http, "GET", "/api", headers={"Accept": "application/json"})
    assert body["kind"] == "APIVersions" and body["versions"] == ["v1"]
    status, body, _ = await jreq(http, "GET", "/apis/apps")
    assert body["kind"] == "APIGroup" and body["preferredVersion"]["groupVersion"] == "apps/v1"
    status, body, _ = await jreq(http, "GET", "/apis/apps/v1")
    assert any(res["name"] == "deployments/scale" for res in body["resources"])
    status, body, _ = await jreq(http, "GET", "/apis/nope.example.com/v1")
    assert status == 404 and body["reason"] == "NotFound"


async def test_openapi_v3_root_and_documents(http):
    status, root, _ = await jreq(http, "GET", "/openapi/v3")
    url = root["paths"]["api/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/api/v1?hash=")
    async with http.get(url) as r:
        doc = await r.json()
        assert r.status == 200 and "components" in doc and r.headers["Etag"]
    status, body, _ = await jreq(http, "GET", "/openapi/v2")  # Swagger 2.0 too (kubectl's client-side validation)
    assert status == 200 and body["swagger"] == "2.0" and "io.k8s.api.core.v1.Pod" in body["definitions"]
    status, body, _ = await jreq(http, "GET", "/openapi/v4")
    assert status == 404 and body["kind"] == "Status"


@pytest.mark.parametrize("data,ctype,code,words", [
    ('{"apiVersion": "v1", "kind": "Pod", ', "application/json", 400, "not valid JSON"),
    ("kind: Pod\nmetadata: {name: [", "application/yaml", 400, "not valid YAML"),
    ("[1, 2]", "application/json", 400, "must be an object"),
    ('{"kind": "Pod"}', "text/html", 415, "unknown format"),
    (json.dumps({**pod("typed"), "spec": {"containers": "nope"}}), "application/json", 400, "containers"),
    (json.dumps(pod("Bad_Name")), "application/json", 422, "metadata.name"),
    (json.dumps({**pod("svc"), "apiVersion": "apps/v1"}), "application/json", 400, "API version"),
])
async def test_bad_bodies_are_status_errors_and_store_nothing(cluster, http, data, ctype, code, words):
    before = cluster.store.revision
    status, body, _ = await jreq(http, "POST", PODS, data=data, ctype=ctype)
    assert status == code, body
    assert body["kind"] == "Status" and body["code"] == code and words in body["message"]
    assert cluster.store.revision == before
    status, _, _ = await jreq(http, "GET", "/healthz")
    assert status == 200


async def test_oversized_body_is_413(cluster, http):
    before = cluster.store.revision
    big = pod("big")
    big["metadata"]["annotations"] = {"x": "a" * (3 * 1024 * 1024 + 10)}
    status, body, _ = await jreq(http, "POST", PODS, body=big)
    assert status == 413 and body["reason"] == "RequestEntityTooLarge"
    assert cluster.store.revision == before


async def test_unknown_fields_strict_warn_ignore(cluster, http):
    bad = pod("extra")
    bad["spec"]["foo"] = 1
    status, body, _ = await jreq(http, "POST", PODS, body=bad, params={"fieldValidation": "Strict"})
    assert status == 400 and "strict decoding error" in body["message"] and 'spec.foo"' in body["message"]
    status, body, r = await jreq(http, "POST", PODS, body=bad, params={"fieldValidation": "Warn"})
    assert status == 201 and "spec.foo" in r.headers.get("Warning", "")
    assert "foo" not in body["spec"]
    status, body, _ = await jreq(http, "POST", PODS, body=bad, params={"fieldValidation": "Nope"})
    assert status == 400 and "fieldValidation" in body["message"]


async def test_dry_run_patch_types_and_delete_collection(cluster, http):
    before = cluster.store.revision
    status, body, _ = await jreq(http, "POST", PODS, body=pod("dry"), params={"dryRun": "All"})
    assert status == 201 and body["metadata"]["name"] == "dry"
    assert cluster.store.revision == before
    for name in ("p1", "p2", "p3"):
        status, _, _ = await jreq(http, "POST", PODS, body=pod(name, group="x" if name != "p3" else "y"))
        assert status == 201
    status, body, _ = await jreq(http, "PATCH", f"{PODS}/p1", data='{"metadata":{"labels":{"m":"1"}}}',
                                 ctype="application/merge-patch+json")
    assert status == 200 and body["metadata"]["labels"]["m"] == "1"
    status, body, _ = await jreq(http, "PATCH", f"{PODS}/p1",
                                 body=[{"op": "replace", "path": "/metadata/labels/m", "value": "2"}],
                                 ctype="application/json-patch+json")
    assert status == 200 and body["metadata"]["labels"]["m"] == "2"
    status, body, _ = await jreq(http, "PATCH", f"{PODS}/p1", data="{}", ctype="text/plain")
    assert status == 415 and body["reason"] == "UnsupportedMediaType"
    status, body, _ = await jreq(http, "PATCH", f"{PODS}/p1", data="kind: Pod", ctype="application/apply-patch+yaml")
    assert status == 400 and "fieldManager" in body["message"]
    status, body, _ = await jreq(http, "DELETE", PODS, params={"labelSelector": "group=x"})
    assert status == 200 and sorted(i["metadata"]["name"] for i in body["items"]) == ["p1", "p2"]
    status, body, _ = await jreq(http, "GET", PODS, params={"labelSelector": "group"})
    assert [i["metadata"]["name"] for i in body["items"]] == ["p3"]
    status, body, _ = await jreq(http, "DELETE", f"{PODS}/p3",
                                 body={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Sideways"})
    assert status == 400 and "propagationPolicy" in body["message"]


async def test_tables_for_list_and_get(cluster, http):
    await jreq(http, "POST", PODS, body=pod("tab"))
    status, body, _ = await jreq(http, "GET", PODS, headers={"Accept": TABLE})
    assert body["kind"] == "Table" and body["metadata"]["resourceVersion"]
    assert [c["name"] for c in body["columnDefinitions"]][:5] == ["Name", "Ready", "Status", "Restarts", "Age"]
    row = next(r for r in body["rows"] if r["cells"][0] == "tab")
    assert row["cells"][1:3] == ["0/1", "Pending"] and row["object"]["metadata"]["namespace"] == "default"
    status, body, _ = await jreq(http, "GET", f"{PODS}/tab", headers={"Accept": TABLE},
                                 params={"includeObject": "Object"})
    assert len(body["rows"]) == 1 and body["rows"][0]["object"]["kind"] == "Pod"


async def read_events(resp, n: int, timeout: float = 10) -> list[dict]:
    out = []
    while len(out) < n:
        line = await asyncio.wait_for(resp.content.readline(), timeout)
        if not line:
            break
        out.append(json.loads(line))
    return out


async def test_watch_stream_table_and_410(cluster, http):
    status, lst, _ = await jreq(http, "GET", PODS)
    rv = lst["metadata"]["resourceVersion"]
    async with http.get(PODS, params={"watch": "true", "resourceVersion": rv},
                        headers={"Accept": TABLE}) as r:
        assert r.status == 200
        await jreq(http, "POST", PODS, body=pod("w1"))
        await jreq(http, "POST", PODS, body=pod("w2"))
        e1, e2 = await read_events(r, 2)
        assert e1["type"] == "ADDED" and e1["object"]["kind"] == "Table"
        assert e1["object"]["rows"][0]["cells"][0] == "w1" and "columnDefinitions" in e1["object"]
        assert e2["object"]["rows"][0]["cells"][0] == "w2" and "columnDefinitions" not in e2["object"]
    # churn past the store's history window, then ask for the old revision
    for i in range(60):
        await jreq(http, "PATCH", f"{PODS}/w1", data=json.dumps({"metadata": {"labels": {"i": str(i)}}}),
                   ctype="application/merge-patch+json")
    async with http.get(PODS, params={"watch": "1", "resourceVersion": rv}) as r:
        assert r.status == 200
        (ev,) = await read_events(r, 1)
        assert ev["type"] == "ERROR" and ev["object"]["code"] == 410 and ev["object"]["kind"] == "Status"


async def test_watch_send_initial_events_and_timeout(cluster, http):
    await jreq(http, "POST", PODS, body=pod("init"))
    params = {"watch": "true", "sendInitialEvents": "true", "allowWatchBookmarks": "true",
              "resourceVersionMatch": "NotOlderThan", "fieldSelector": "metadata.name=init",
              "timeoutSeconds": "1"}
    async with http.get(PODS, params=params) as r:
        assert r.status == 200
        added, bookmark = await read_events(r, 2)
        assert added["type"] == "ADDED" and added["object"]["metadata"]["name"] == "init"
        assert bookmark["type"] == "BOOKMARK"
        assert bookmark["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"] == "true"
        # timeoutSeconds=1: the server ends the stream by itself
        rest = await asyncio.wait_for(r.content.read(), 10)
        assert all(json.loads(line)["type"] == "BOOKMARK" for line in rest.splitlines() if line.strip())


async def test_access_review_protobuf_and_exec_without_connector(cluster, http):
    attrs = protobuf.field_bytes(2, b"create") + protobuf.field_bytes(5, b"pods")
    raw = protobuf.field_bytes(2, protobuf.field_bytes(1, attrs))
    status, body, _ = await jreq(http, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                                 data=protobuf.envelope("authorization.k8s.io/v1", "SelfSubjectAccessReview", raw),
                                 ctype=protobuf.PROTOBUF)
    assert status == 201 and body["status"]["allowed"] is True
    assert body["spec"]["resourceAttributes"] == {"verb": "create", "resource": "pods"}
    await jreq(http, "POST", PODS, body={**pod("placed"), "spec": {**pod("x")["spec"], "nodeName": "node-9"}})
    status, body, _ = await jreq(http, "GET", f"{PODS}/placed/log")
    assert status == 503 and "node connector" in body["message"]
    status, body, _ = await jreq(http, "GET", "/apis/metrics.k8s.io/v1beta1/nodes")
    assert status == 200 and body["kind"] == "NodeMetricsList" and body["items"] == []


async def test_server_stop_ends_watch_cleanly(tmp_path):
    c = await start_cluster(tmp_path)
    from kubetui.client.kubeconfig import load_kubeconfig
    cfg = load_kubeconfig(c.kubeconfig)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {c.token}"},
                                     connector=aiohttp.TCPConnector(ssl=cfg.ssl_context())) as s:
        async with s.get(c.server.url + PODS, params={"watch": "true"}) as r:
            assert r.status == 200
            for _ in range(100):  # until the server has registered the stream
                if len(c.server.watches):
                    break
                await asyncio.sleep(0.01)
            stopping = asyncio.create_task(c.stop())
            # the chunked stream ends with its terminating chunk: no ClientPayloadError
            rest = await asyncio.wait_for(r.content.read(), 5)
            assert r.content.at_eof()
            assert all(json.loads(line)["type"] in ("ADDED", "BOOKMARK") for line in rest.splitlines())
            await asyncio.wait_for(stopping, 5)
    assert len(c.server.watches) == 0


async def test_extra_hosts_and_insecure_http(tmp_path):
    from kubetui.apiserver.auth import TokenAuthenticator
    from kubetui.apiserver.certs import ensure_pki
    from kubetui.apiserver.server import APIServer
    c = await start_cluster(tmp_path / "a")
    pki = ensure_pki(tmp_path / "b", extra_sans=["127.0.0.2"])
    auth = TokenAuthenticator(None)
    token = auth.admin_token()
    multi = APIServer(c.registry, port=0, extra_hosts=("127.0.0.2",), ssl_context=pki.server_ssl_context(),
                      authenticator=auth)
    plain = APIServer(c.registry, port=0, insecure_http=True)
    await multi.start()
    await plain.start()
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=pki.client_ssl_context())) as s:
            for host in ("127.0.0.1", "127.0.0.2"):  # the same port on both addresses, one certificate
                async with s.get(f"https://{host}:{multi.port}/api/v1/namespaces",
                                 headers={"Authorization": f"Bearer {token}"}) as r:
                    assert r.status == 200 and (await r.json())["kind"] == "NamespaceList"
        assert plain.url.startswith("http://")
        async with aiohttp.ClientSession() as s:  # no token needed over plain http
            async with s.get(plain.url + "/api/v1/namespaces/default") as r:
                assert r.status == 200
    finally:
        await multi.stop()
        await plain.stop()
        await c.stop()
    with pytest.raises(ValueError, match="ssl_context"):
        APIServer(c.registry)


async def _raw_request(cluster, head: str, body: bytes | None):
    """Send ``head`` over a TLS connection of our own, then the body once asked for; the replies' heads."""
    from urllib.parse import urlsplit

    from kubetui.client.kubeconfig import load_kubeconfig
    u = urlsplit(cluster.server.url)
    reader, writer = await asyncio.open_connection(u.hostname, u.port,
                                                   ssl=load_kubeconfig(cluster.kubeconfig).ssl_context())
    try:
        writer.write(head.encode())
        first = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        if body is None or not first.startswith(b"HTTP/1.1 100 "):
            return [first]
        writer.write(body)
        return [first, await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)]
    finally:
        writer.close()


async def test_expect_100_continue_asks_for_the_body(cluster):
    """curl sends ``Expect: 100-continue`` before a large body and waits for the server's go-ahead."""
    body = json.dumps(pod("expecting")).encode()
    heads = await _raw_request(cluster, f"POST {PODS} HTTP/1.1\r\nHost: kubetui\r\n"
                                        f"Authorization: Bearer {cluster.token}\r\nContent-Type: application/json\r\n"
                                        f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n", body)
    assert [h.split(b"\r\n")[0] for h in heads] == [b"HTTP/1.1 100 Continue", b"HTTP/1.1 201 Created"]
    heads = await _raw_request(cluster, f"POST {PODS} HTTP/1.1\r\nHost: kubetui\r\n"
                                        f"Authorization: Bearer {cluster.token}\r\nContent-Type: application/json\r\n"
                                        f"Content-Length: {len(body)}\r\nExpect: something-else\r\n\r\n", body)
    assert heads[0].startswith(b"HTTP/1.1 417 ")


async def test_a_serving_process_collects_less_often_and_switches_threads_sooner(tmp_path):
    """``APIServer.start`` raises the cycle collector's youngest-generation threshold (fewer
    stops of the event loop) and shortens the thread switch interval (the store's log writer
    thread gets the GIL back sooner); the last server to stop in the process puts both back."""
    import gc
    import sys

    from kubetui.apiserver.server import GC_YOUNG_THRESHOLD, SWITCH_INTERVAL, APIServer
    before = gc.get_threshold(), sys.getswitchinterval()
    c = await start_cluster(tmp_path)
    try:
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *before[0][1:])
        assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL)
        second = APIServer(c.registry, port=0, insecure_http=True)
        await second.start()
        await second.stop()
        assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD  # the first server still runs
        assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL)
    finally:
        await c.stop()
    assert (gc.get_threshold(), sys.getswitchinterval()) == before
