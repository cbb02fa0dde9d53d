"""OpenAPI v2 (Swagger 2.0): the one document kube-apiserver serves at ``/openapi/v2``.

Upstream: kube-apiserver publishes every group/version's schemas twice, as
per-group OpenAPI v3 documents (``/openapi/v3/...``, what ``kubectl explain`` and
server-side field validation use) and as one Swagger 2.0 document
(``/openapi/v2``), which kubectl downloads as protobuf
(``application/com.github.proto-openapi.spec.v2@v1.0+protobuf``, gnostic's
``openapi_v2.Document``) for **client-side validation**. kubectl validates on
the client whenever the server cannot do it for a kind: kubectl only trusts the
server with ``fieldValidation`` for kinds whose v3 document has a *patch*
operation, so ``kind: List`` manifests and the kinds that are only ever created
(TokenReview, SubjectAccessReview…) are checked against this document. Without
it ``kubectl create -f`` of those fails with "failed to download openapi".

Both documents are generated from the same Go types upstream, so this module
derives v2 from the v3 documents mechanically, as kube-openapi's converter
does: ``#/components/schemas/X`` becomes ``#/definitions/X``, a ``$ref``
wrapped in ``allOf`` (v3's way to give a reference siblings) becomes a plain
``$ref``, ``oneOf`` of primitives (Quantity) becomes ``type: string``, a
request body becomes a ``body`` parameter, and response ``content`` becomes a
response ``schema`` plus the operation's ``produces``.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from kubetui.api.protowire import encode_varint, field_bytes

V3_PREFIX = "#/components/schemas/"
V2_PREFIX = "#/definitions/"
# kubectl asks for ``...spec.v2@v1.0+protobuf``; kube-openapi answers with this spelling ('@' is not
# allowed in a media type, and Go's mime parser, which kubectl uses, refuses it)
PROTOBUF_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch")

# what a Swagger 2.0 Schema object may carry (JSON Schema draft 4 subset); v3-only keys are dropped
_SCHEMA_KEYS = ("format", "title", "description", "default", "multipleOf", "maximum", "exclusiveMaximum", "minimum",
                "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems",
                "maxProperties", "minProperties", "required", "enum", "type", "discriminator", "readOnly", "example")


# ---------------------------------------------------------------- v3 -> v2 (JSON)

def schema_v2(s: Any) -> Any:
    """One v3 schema as its v2 form."""
    if not isinstance(s, dict):
        return s
    ref = s.get("$ref")
    if ref is None:
        all_of = s.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], dict) and "$ref" in all_of[0]:
            ref = all_of[0]["$ref"]
    if isinstance(ref, str):
        out: dict[str, Any] = {"$ref": ref.replace(V3_PREFIX, V2_PREFIX)}
        if "description" in s:
            out["description"] = s["description"]
        return out
    out = {k: s[k] for k in _SCHEMA_KEYS if k in s}
    if s.get("default") == {} and "type" not in s:
        out.pop("default")
    one_of = s.get("oneOf") or s.get("anyOf")
    if "type" not in s and isinstance(one_of, list) and one_of and all(
            isinstance(o, dict) and o.get("type") in ("string", "number", "integer") for o in one_of):
        out["type"] = "string"  # upstream's v2 Quantity: a string that may be written as a number
    if "properties" in s:
        out["properties"] = {k: schema_v2(v) for k, v in s["properties"].items()}
    if "items" in s:
        out["items"] = schema_v2(s["items"])
    if "additionalProperties" in s:
        ap = s["additionalProperties"]
        out["additionalProperties"] = schema_v2(ap) if isinstance(ap, dict) else bool(ap)
    if "allOf" in s and "$ref" not in out:
        out["allOf"] = [schema_v2(x) for x in s["allOf"]]
    out.update({k: v for k, v in s.items() if k.startswith("x-")})
    return out


def _parameter_v2(p: dict[str, Any]) -> dict[str, Any]:
    out = {k: p[k] for k in ("name", "in", "description", "required") if k in p}
    schema = p.get("schema") or {}
    for k in ("type", "uniqueItems", "format"):
        if k in schema:
            out[k] = schema[k]
    return out


def _operation_v2(op: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: op[k] for k in ("tags", "summary", "description", "operationId", "deprecated")
                           if k in op}
    body = op.get("requestBody")
    if isinstance(body, dict) and body.get("content"):
        out["consumes"] = list(body["content"])
    produces: list[str] = []
    responses: dict[str, Any] = {}
    for code, resp in (op.get("responses") or {}).items():
        r: dict[str, Any] = {"description": resp.get("description", "")}
        content = resp.get("content") or {}
        for ctype, media in content.items():
            if ctype not in produces:
                produces.append(ctype)
            if "schema" in media and "schema" not in r:
                r["schema"] = schema_v2(media["schema"])
        responses[str(code)] = r
    if produces:
        out["produces"] = produces
    out["schemes"] = ["https"]
    params = [_parameter_v2(p) for p in op.get("parameters") or ()]
    if isinstance(body, dict) and body.get("content"):
        media = next(iter(body["content"].values()))
        params.append({"name": "body", "in": "body", "required": bool(body.get("required", True)),
                       "schema": schema_v2(media.get("schema", {}))})
    if params:
        out["parameters"] = params
    out["responses"] = responses
    out.update({k: v for k, v in op.items() if k.startswith("x-")})
    return out


def swagger_document(v3_documents: dict[str, dict[str, Any]], version: str) -> dict[str, Any]:
    """Every per-group-version v3 document merged into one Swagger 2.0 document."""
    paths: dict[str, Any] = {}
    definitions: dict[str, Any] = {}
    for _, doc in sorted(v3_documents.items()):
        for name, schema in (doc.get("components") or {}).get("schemas", {}).items():
            definitions.setdefault(name, schema_v2(schema))
        for path, item in (doc.get("paths") or {}).items():
            out: dict[str, Any] = {m: _operation_v2(item[m]) for m in METHODS if m in item}
            if item.get("parameters"):
                out["parameters"] = [_parameter_v2(p) for p in item["parameters"]]
            paths[path] = out
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": version},
        "paths": dict(sorted(paths.items())),
        "definitions": dict(sorted(definitions.items())),
        "securityDefinitions": {"BearerToken": {"type": "apiKey", "description": "Bearer Token authentication",
                                                "name": "authorization", "in": "header"}},
        "security": [{"BearerToken": []}],
    }


# ---------------------------------------------------------------- protobuf (gnostic openapi_v2)
# Field numbers from gnostic's OpenAPIv2.proto. Proto3: zero values are left out.

_varint, _len = encode_varint, field_bytes


def _str(field: int, s: Any) -> bytes:
    return _len(field, str(s).encode()) if s not in (None, "") else b""


def _strs(field: int, values: Any) -> bytes:
    return b"".join(_len(field, str(v).encode()) for v in values or ())


def _bool(field: int, v: Any) -> bytes:
    return _varint(field << 3) + b"\x01" if v else b""


def _int(field: int, v: Any) -> bytes:
    return _varint(field << 3) + _varint(int(v)) if v else b""


def _double(field: int, v: Any) -> bytes:
    return _varint(field << 3 | 1) + struct.pack("<d", float(v)) if v else b""


def _any(field: int, value: Any) -> bytes:
    # gnostic's Any keeps the value as YAML text; JSON is YAML, and what upstream's parser accepts
    return _len(field, _str(2, json.dumps(value)))


def _extensions(field: int, d: dict[str, Any]) -> bytes:
    return b"".join(_len(field, _str(1, k) + _any(2, v)) for k, v in d.items() if k.startswith("x-"))


def encode_schema(s: dict[str, Any]) -> bytes:
    out = [_str(1, s.get("$ref")), _str(2, s.get("format")), _str(3, s.get("title")), _str(4, s.get("description"))]
    if "default" in s:
        out.append(_any(5, s["default"]))
    out += [_double(6, s.get("multipleOf")), _double(7, s.get("maximum")), _bool(8, s.get("exclusiveMaximum")),
            _double(9, s.get("minimum")), _bool(10, s.get("exclusiveMinimum")), _int(11, s.get("maxLength")),
            _int(12, s.get("minLength")), _str(13, s.get("pattern")), _int(14, s.get("maxItems")),
            _int(15, s.get("minItems")), _bool(16, s.get("uniqueItems")), _int(17, s.get("maxProperties")),
            _int(18, s.get("minProperties")), _strs(19, s.get("required"))]
    out += [_any(20, v) for v in s.get("enum") or ()]
    if "additionalProperties" in s:
        ap = s["additionalProperties"]
        out.append(_len(21, _len(1, encode_schema(ap)) if isinstance(ap, dict) else _varint(2 << 3) + bytes([ap])))
    if "type" in s:
        types = s["type"] if isinstance(s["type"], list) else [s["type"]]
        out.append(_len(22, _strs(1, types)))
    if "items" in s:
        items = s["items"] if isinstance(s["items"], list) else [s["items"]]
        out.append(_len(23, b"".join(_len(1, encode_schema(i)) for i in items)))
    out += [_len(24, encode_schema(x)) for x in s.get("allOf") or ()]
    if "properties" in s:  # present even when empty: an object with properties is a kind, not a map
        out.append(_len(25, b"".join(_len(1, _str(1, k) + _len(2, encode_schema(v)))
                                     for k, v in s["properties"].items())))
    out += [_str(26, s.get("discriminator")), _bool(27, s.get("readOnly"))]
    if "example" in s:
        out.append(_any(30, s["example"]))
    out.append(_extensions(31, s))
    return b"".join(out)


# in -> (NonBodyParameter field, its sub-schema's field numbers: required, in, description, name, type, uniqueItems)
_NON_BODY = {"header": (1, 5, 19), "formData": (2, 6, 20), "query": (3, 6, 20), "path": (4, 5, 19)}


def _encode_parameter(p: dict[str, Any]) -> bytes:
    if p.get("in") == "body":
        body = (_str(1, p.get("description")) + _str(2, p.get("name")) + _str(3, "body")
                + _bool(4, p.get("required")) + (_len(5, encode_schema(p["schema"])) if "schema" in p else b""))
        param = _len(1, body)
    else:
        which, type_field, unique_field = _NON_BODY.get(p.get("in", "query"), _NON_BODY["query"])
        sub = (_bool(1, p.get("required")) + _str(2, p.get("in")) + _str(3, p.get("description"))
               + _str(4, p.get("name")) + _str(type_field, p.get("type")) + _bool(unique_field, p.get("uniqueItems")))
        param = _len(2, _len(which, sub))
    return _len(1, param)  # ParametersItem.parameter


def _encode_operation(op: dict[str, Any]) -> bytes:
    responses = b"".join(
        _len(1, _str(1, code) + _len(2, _len(1, _str(1, r.get("description"))
                                           + (_len(2, _len(1, encode_schema(r["schema"]))) if "schema" in r else b""))))
        for code, r in op.get("responses", {}).items())
    return b"".join([
        _strs(1, op.get("tags")), _str(2, op.get("summary")), _str(3, op.get("description")),
        _str(5, op.get("operationId")), _strs(6, op.get("produces")), _strs(7, op.get("consumes")),
        b"".join(_len(8, _encode_parameter(p)) for p in op.get("parameters") or ()),
        _len(9, responses), _strs(10, op.get("schemes")), _bool(11, op.get("deprecated")), _extensions(13, op)])


def encode_document(doc: dict[str, Any]) -> bytes:
    """A Swagger 2.0 document (as ``swagger_document`` builds it) as gnostic's ``openapi_v2.Document``."""
    paths = b""
    for path, item in doc.get("paths", {}).items():
        fields = b"".join(_len(2 + METHODS.index(m), _encode_operation(item[m])) for m in METHODS if m in item)
        fields += b"".join(_len(9, _encode_parameter(p)) for p in item.get("parameters") or ())
        paths += _len(2, _str(1, path) + _len(2, fields))
    definitions = b"".join(_len(1, _str(1, name) + _len(2, encode_schema(s)))
                           for name, s in doc.get("definitions", {}).items())
    info = doc.get("info", {})
    security_defs = b"".join(
        _len(1, _str(1, name) + _len(2, _len(2, _str(1, d.get("type")) + _str(2, d.get("name")) + _str(3, d.get("in"))
                                            + _str(4, d.get("description")))))
        for name, d in doc.get("securityDefinitions", {}).items())
    security = b"".join(_len(12, b"".join(_len(1, _str(1, name) + _len(2, _strs(1, scopes)))
                                          for name, scopes in req.items()))
                        for req in doc.get("security", ()))
    return b"".join([_str(1, doc.get("swagger", "2.0")),
                     _len(2, _str(1, info.get("title")) + _str(2, info.get("version"))),
                     _len(8, paths), _len(9, definitions), security, _len(13, security_defs)])
