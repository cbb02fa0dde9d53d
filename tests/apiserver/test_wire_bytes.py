"""Response bodies byte for byte as kube-apiserver writes them (issue 12, item 4).

Clients compare error text exactly (the official client's ``create_from_yaml``
reports a conflict by the body it got), so a Status must be upstream's bytes:
compact JSON, the Go structs' field order, Go's string escaping, one newline.
The expected bodies below are what a real kube-apiserver sends.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
import pytest_asyncio
from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

from kubetui.apiserver import encoding
from tests.apiserver.test_http_support import start_cluster
from tests.apiserver.test_pyclient import api_client

ASYNC = pytest.mark.asyncio(loop_scope="module")

CMS = "/api/v1/namespaces/default/configmaps"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory):
    c = await start_cluster(tmp_path_factory.mktemp("wire"), node_connector=None)
    yield c
    await c.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def http(cluster):
    from kubetui.client.kubeconfig import load_kubeconfig
    cfg = load_kubeconfig(cluster.kubeconfig)
    async with aiohttp.ClientSession(base_url=cluster.server.url,
                                     headers={"Authorization": f"Bearer {cluster.token}",
                                              "User-Agent": "kubectl/v1.37.0 (linux/amd64)"},
                                     connector=aiohttp.TCPConnector(ssl=cfg.ssl_context())) as s:
        yield s


@pytest.mark.parametrize("obj, want", [
    ({"a": 1, "b": [True, None, "x"]}, b'{"a":1,"b":[true,null,"x"]}\n'),
    # Go's encoding/json escapes HTML characters and the JavaScript line separators...
    ({"m": "<none> & 'q'"}, b'{"m":"\\u003cnone\\u003e \\u0026 \'q\'"}\n'),
    ({"m": "a\u2028b\u2029c"}, b'{"m":"a\\u2028b\\u2029c"}\n'),
    # ...but writes the rest of Unicode as UTF-8, and control characters as Go does
    ({"m": "caf\u00e9 \u2713"}, "{\"m\":\"caf\u00e9 \u2713\"}\n".encode()),
    ({"m": "t\tn\nq\"b\\\x01"}, b'{"m":"t\\tn\\nq\\"b\\\\\\u0001"}\n'),
])
def test_encode_is_gos_json_encoder(obj, want):
    assert encoding.encode(obj) == want


def test_pretty_and_raw_are_marshal_indent_without_newline():
    assert encoding.encode({"a": {"b": []}, "c": {}}, pretty=True) == b'{\n  "a": {\n    "b": []\n  },\n  "c": {}\n}'
    assert encoding.encode_raw({"major": "1"}) == b'{\n  "major": "1"\n}'
    assert encoding.encode_marshal({"paths": {}}) == b'{"paths":{}}'


@ASYNC
async def test_conflict_body_through_the_official_client(cluster):
    core = k8s.CoreV1Api(api_client(cluster))
    body = {"metadata": {"name": "dup"}, "data": {"k": "v"}}
    await asyncio.to_thread(core.create_namespaced_config_map, "default", body)
    with pytest.raises(ApiException) as exc:
        await asyncio.to_thread(core.create_namespaced_config_map, "default", body)
    assert exc.value.body == (
        '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        '"message":"configmaps \\"dup\\" already exists","reason":"AlreadyExists",'
        '"details":{"name":"dup","kind":"configmaps"},"code":409}\n')
    with pytest.raises(ApiException) as exc:
        await asyncio.to_thread(core.read_namespaced_config_map, "nope", "default")
    assert exc.value.body == (
        '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        '"message":"configmaps \\"nope\\" not found","reason":"NotFound",'
        '"details":{"name":"nope","kind":"configmaps"},"code":404}\n')


@ASYNC
async def test_invalid_body_orders_details_and_escapes_like_go(http):
    bad = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "bad", "labels": {"team": "a&b"}}}
    async with http.post(CMS, json=bad) as r:
        assert r.status == 422 and r.headers["Content-Type"] == "application/json"
        raw = await r.read()
    status = json.loads(raw)
    assert raw.endswith(b"}\n") and raw.count(b"\n") == 1
    assert list(status) == ["kind", "apiVersion", "metadata", "status", "message", "reason", "details", "code"]
    assert list(status["details"]) == ["name", "kind", "causes"]
    assert list(status["details"]["causes"][0]) == ["reason", "message", "field"]
    assert b'\\"a\\u0026b\\"' in raw and b"&" not in raw
    assert raw == encoding.encode(status)  # nothing but Go's encoding of that very object


@ASYNC
async def test_objects_lists_and_pretty(http):
    async with http.post(CMS, json={"metadata": {"name": "shape"}, "data": {"k": "<v>"}}) as r:
        raw = await r.read()
        assert r.status == 201 and r.headers["Content-Type"] == "application/json"
    assert raw.endswith(b"}\n") and b": " not in raw and b", " not in raw and b"\\u003cv\\u003e" in raw
    async with http.get(CMS) as r:
        listed = await r.read()
    assert listed.endswith(b"]}\n") and listed.count(b"\n") == 1
    # ?pretty=true, or curl's User-Agent: MarshalIndent, no trailing newline
    async with http.get(f"{CMS}/shape", params={"pretty": "true"}) as r:
        pretty = await r.read()
    assert pretty.startswith(b'{\n  "kind": "ConfigMap",\n') and pretty.endswith(b"\n}")
    async with http.get(f"{CMS}/nope", headers={"User-Agent": "curl/8.5.0"}) as r:
        assert r.status == 404
        assert (await r.read()).startswith(b'{\n  "kind": "Status",\n  "apiVersion": "v1",\n  "metadata": {},\n')
    async with http.get(f"{CMS}/shape", params={"pretty": "false"}, headers={"User-Agent": "curl/8.5.0"}) as r:
        assert (await r.read()).endswith(b"}\n")
    # /version is WriteRawJSON: always indented
    async with http.get("/version") as r:
        assert (await r.read()).startswith(b'{\n  "major": ')


@ASYNC
async def test_watch_frames_are_one_compact_line_even_when_pretty(http):
    async with http.get(CMS, params={"watch": "true", "fieldSelector": "metadata.name=w",
                                     "pretty": "true", "timeoutSeconds": "5"}) as r:
        assert r.status == 200
        async with http.post(CMS, json={"metadata": {"name": "w"}}) as c:
            assert c.status == 201
        line = await asyncio.wait_for(r.content.readline(), 10)
    assert line.startswith(b'{"type":"ADDED","object":{"kind":"ConfigMap"') and line.endswith(b"}}\n")
    assert b"\n" not in line[:-1] and b": " not in line


def test_encoded_objects_key_bodies_by_resource_version():
    """``EncodedObjects`` encodes a stored object once per (key, resourceVersion): the same
    version is the same bytes, a new version is encoded anew, dry runs (no version) always."""
    bodies = encoding.EncodedObjects(size=2)
    v1 = {"kind": "ConfigMap", "metadata": {"name": "a", "resourceVersion": "5"}, "data": {"k": "1"}}
    first = bodies.body("/registry/configmaps/default/a", v1)
    assert first == encoding.encode(v1)
    assert bodies.body("/registry/configmaps/default/a", v1) is first
    v2 = {"kind": "ConfigMap", "metadata": {"name": "a", "resourceVersion": "6"}, "data": {"k": "2"}}
    assert bodies.body("/registry/configmaps/default/a", v2) == encoding.encode(v2)
    dry = {"kind": "ConfigMap", "metadata": {"name": "b"}, "data": {"k": "3"}}
    assert bodies.body("/registry/configmaps/default/b", dry) == encoding.encode(dry)
    bodies.body("/registry/configmaps/default/c", {**v1, "metadata": {"name": "c", "resourceVersion": "7"}})
    assert len(bodies._bodies) == 2  # the least recently used went


@ASYNC
async def test_get_after_writes_answers_each_version(http):
    """A GET answers the object's current version, whatever was answered for the earlier ones
    (the create's and the first GET's bodies are reused only while the version stands)."""
    async with http.post(CMS, json={"metadata": {"name": "versions"}, "data": {"k": "1"}}) as r:
        created = await r.read()
    async with http.get(f"{CMS}/versions") as r:
        assert await r.read() == created
    for value in ("2", "3"):
        async with http.patch(f"{CMS}/versions", data=json.dumps({"data": {"k": value}}),
                              headers={"Content-Type": "application/merge-patch+json"}) as r:
            patched = await r.read()
            assert r.status == 200
        async with http.get(f"{CMS}/versions") as r:
            got = await r.read()
        assert got == patched and json.loads(got)["data"] == {"k": value}
    async with http.get(f"{CMS}/versions", params={"pretty": "true"}) as r:
        assert (await r.read()).endswith(b"\n}")


@ASYNC
async def test_create_answers_its_stored_json_as_go_writes_it(http):
    """A create answers with its stored JSON (stored in response order): still Go's field order,
    sorted label and annotation keys and Go's escapes, and the GET after it the same bytes."""
    body = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "caf\u00e9 <b> & \u2028"},
            "metadata": {"labels": {"z": "1", "a": "2"}, "annotations": {"y": "<x>", "b": "&"},
                         "name": "stored-order", "finalizers": ["example.com/f"]}}
    async with http.post(CMS, json=body) as r:
        created = await r.read()
        assert r.status == 201
    obj = json.loads(created)
    assert created == encoding.encode(obj)
    assert list(obj)[:3] == ["kind", "apiVersion", "metadata"]
    assert list(obj["metadata"]) == ["name", "namespace", "uid", "resourceVersion", "creationTimestamp",
                                     "labels", "annotations", "finalizers"]
    assert list(obj["metadata"]["labels"]) == ["a", "z"] and list(obj["metadata"]["annotations"]) == ["b", "y"]
    assert b"\\u003cb\\u003e \\u0026 \\u2028" in created and "caf\u00e9".encode() in created
    async with http.get(f"{CMS}/stored-order") as r:
        assert await r.read() == created
    async with http.post(CMS, params={"dryRun": "All"}, json={**body, "metadata": {"name": "dry"}}) as r:
        dry = await r.read()
        assert r.status == 201 and dry == encoding.encode(json.loads(dry))
