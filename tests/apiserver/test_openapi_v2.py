"""``/openapi/v2``: the Swagger 2.0 document kubectl validates against on the client.

kubectl leaves validation to the server only for kinds whose OpenAPI v3 has a
patch operation. A ``kind: List`` manifest, and kinds that are only created
(TokenReview, SubjectAccessReview), are validated client-side against
``/openapi/v2`` fetched as protobuf; before it was served, ``kubectl create -f``
of those failed with "failed to download openapi" unless ``--validate=false``.
"""

from __future__ import annotations

import json

import pytest
import pytest_asyncio

from kubetui.api.openapi import openapi_v3_documents
from kubetui.api.openapi import v2
from kubetui.apiserver.protobuf import iter_fields

from tests.apiserver.test_http_support import start_cluster


# ------------------------------------------------------------------ conversion

def test_schema_conversion_follows_kube_openapi():
    assert v2.schema_v2({"allOf": [{"$ref": "#/components/schemas/io.k8s.api.core.v1.PodSpec"}],
                         "default": {}, "description": "d"}) == {
        "$ref": "#/definitions/io.k8s.api.core.v1.PodSpec", "description": "d"}
    assert v2.schema_v2({"oneOf": [{"type": "string"}, {"type": "number"}], "description": "q"}) == {
        "type": "string", "description": "q"}
    assert v2.schema_v2({"type": "object", "additionalProperties": {"type": "string", "default": ""},
                         "nullable": True}) == {
        "type": "object", "additionalProperties": {"type": "string", "default": ""}}
    assert v2.schema_v2({"type": "array", "items": {"$ref": "#/components/schemas/X"},
                         "x-kubernetes-list-type": "atomic"}) == {
        "type": "array", "items": {"$ref": "#/definitions/X"}, "x-kubernetes-list-type": "atomic"}


def test_document_has_every_kind_and_request_bodies_become_body_parameters():
    doc = v2.swagger_document(openapi_v3_documents(), "v1.37.0")
    assert doc["swagger"] == "2.0"
    pod = doc["definitions"]["io.k8s.api.core.v1.Pod"]
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Pod", "version": "v1"}]
    assert pod["properties"]["spec"]["$ref"] == "#/definitions/io.k8s.api.core.v1.PodSpec"
    assert "io.k8s.api.authentication.v1.TokenReview" in doc["definitions"]
    text = json.dumps(doc)
    assert "#/components/" not in text  # every reference resolves inside the v2 document
    for ref in {r.split('"')[0] for r in text.split('"$ref": "#/definitions/')[1:]}:
        assert ref in doc["definitions"], ref
    post = doc["paths"]["/api/v1/namespaces/{namespace}/pods"]["post"]
    body = [p for p in post["parameters"] if p["in"] == "body"]
    assert body == [{"name": "body", "in": "body", "required": True,
                     "schema": {"$ref": "#/definitions/io.k8s.api.core.v1.Pod"}}]
    assert post["x-kubernetes-group-version-kind"] == {"group": "", "version": "v1", "kind": "Pod"}


def _fields(buf: bytes) -> list[tuple[int, int, object]]:
    """One message's top-level fields, read with the API server's own protobuf reader."""
    return list(iter_fields(buf))


def test_protobuf_is_gnostics_document():
    doc = v2.swagger_document(openapi_v3_documents(), "v1.37.0")
    top = _fields(v2.encode_document(doc))
    assert (1, 2, b"2.0") in top
    definitions = next(v for f, _, v in top if f == 9)
    named = {}
    for _, _, entry in _fields(definitions):  # NamedSchema{name=1, value=2}
        parts = dict((f, v) for f, _, v in _fields(entry))
        named[parts[1].decode()] = parts[2]
    assert set(named) == set(doc["definitions"])
    pod = _fields(named["io.k8s.api.core.v1.Pod"])
    types = [v for f, _, v in pod if f == 22]  # TypeItem
    assert [_fields(t) for t in types] == [[(1, 2, b"object")]]
    ext = [dict((f, v) for f, _, v in _fields(e)) for f, _, e in pod if f == 31]  # NamedAny
    gvk = next(e for e in ext if e[1] == b"x-kubernetes-group-version-kind")
    yaml_text = dict((f, v) for f, _, v in _fields(gvk[2]))[2]  # Any.yaml
    assert json.loads(yaml_text) == [{"group": "", "kind": "Pod", "version": "v1"}]


# ------------------------------------------------------------------ the real kubectl

pytestmark_kubectl = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory):
    c = await start_cluster(tmp_path_factory.mktemp("openapiv2"))
    yield c
    await c.stop()


LIST = """apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: from-a-list}
  data: {a: b}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: web}
  spec:
    selector: {matchLabels: {app: web}}
    strategy: {rollingUpdate: {maxSurge: 25%, maxUnavailable: 0}}
    template:
      metadata: {labels: {app: web}}
      spec:
        containers:
        - name: web
          image: kubetui/hello:1
          ports: [{containerPort: 8080, name: http}]
          resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {cpu: 0.5}}
          readinessProbe: {httpGet: {path: /, port: http}}
"""


@pytestmark_kubectl
async def test_kubectl_validates_lists_and_create_only_kinds_client_side(cluster):
    rc, out, err = await cluster.kubectl("apply", "-f", "-", stdin=LIST.encode())
    assert rc == 0, err
    assert "configmap/from-a-list created" in out and "deployment.apps/web created" in out
    rc, out, err = await cluster.kubectl("apply", "-f", "-", stdin=LIST.replace("data:", "dataa:").encode())
    assert rc != 0
    assert 'ValidationError(ConfigMap): unknown field "dataa" in io.k8s.api.core.v1.ConfigMap' in err, err
    review = b"apiVersion: authentication.k8s.io/v1\nkind: TokenReview\nspec: {token: not-a-token}\n"
    rc, out, err = await cluster.kubectl("create", "-f", "-", "-o", "jsonpath={.status.authenticated}",
                                         stdin=review)
    assert (rc, out.strip()) == (0, "false"), err
