"""The one place a JSON response body is made, byte for byte as kube-apiserver makes it.

Upstream: ``k8s.io/apimachinery/pkg/runtime/serializer/json`` (``doEncode``) and
``k8s.io/apiserver/pkg/endpoints/handlers/responsewriters`` (``SerializeObject``,
``WriteRawJSON``, ``isPrettyPrint``). Clients compare what the server sends
exactly (the official Python client's ``create_from_yaml`` reports a conflict
by the error body's text), so kubetui writes what Go writes:

- an API object (an object, a list, a Table, a ``Status``, a watch event) is
  Go's ``json.NewEncoder(w).Encode(obj)``: compact (``,`` and ``:`` with no
  spaces), followed by one newline;
- with ``?pretty=true``, or a human's client (a ``User-Agent`` starting with
  ``curl``, ``Wget`` or ``Mozilla/5.0``), it is ``json.MarshalIndent(obj, "",
  "  ")``: two-space indent and no trailing newline;
- a non-API document (``/version``, the root path list) is always indented
  (``WriteRawJSON``);
- strings are escaped the Go way: UTF-8 kept as it is, but ``<``, ``>``,
  ``&``, U+2028 and U+2029 written as ``\\u003c``, ``\\u003e``, ``\\u0026``,
  ``\\u2028``, ``\\u2029`` (``encoding/json`` escapes HTML by default);
- the OpenAPI v3 documents and their index are kube-openapi's
  ``json.Marshal``: compact, with no trailing newline (``encode_marshal``);
- a watch stream is one compact object per line, never indented (upstream's
  watch encoder is the streaming serializer, which ignores ``pretty``).

Field order is the order of the dict, except that an object's ``kind`` and
``apiVersion`` come first and its ``metadata`` follows ``ObjectMeta``'s field
order with label and annotation keys sorted (Go writes struct fields in
declaration order and map keys sorted), in objects, list items and watch
events alike. The objects kubetui builds itself (``Status`` in
``kubetui.api.errors``) follow the order of the Go structs' fields.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from aiohttp import web

JSON = "application/json"

# One encoder of each kind for the process: ``json.dumps`` with options builds a
# new JSONEncoder on every call, which is a measurable share of a small response.
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_INDENTED = json.JSONEncoder(indent=2, ensure_ascii=False)

# Characters Go's encoding/json escapes although JSON does not require it.
# They can only occur inside JSON strings, so replacing them in the encoded
# text never touches the structure.
_GO_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
               ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))

# Go's strconv.ParseBool, which upstream uses for ?pretty=
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_HUMAN_AGENTS = ("curl", "Wget", "Mozilla/5.0")


# metav1.ObjectMeta's fields in declaration order
_OBJECT_META = ("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
                "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
                "annotations", "ownerReferences", "finalizers", "managedFields")
_META_RANK = {k: i for i, k in enumerate(_OBJECT_META)}


def _ordered_meta(meta: dict) -> dict:
    out = {k: meta[k] for k in sorted(meta, key=lambda k: _META_RANK.get(k, len(_META_RANK)))}
    for m in ("labels", "annotations"):
        if isinstance(out.get(m), dict):
            out[m] = dict(sorted(out[m].items()))
    return out


def _ordered(obj: Any) -> Any:
    """``kind``, ``apiVersion``, ``metadata`` (ObjectMeta order) first, as Go's TypeMeta/ObjectMeta."""
    if not isinstance(obj, dict) or "kind" not in obj:
        return obj
    out: dict[str, Any] = {"kind": obj["kind"]}
    if "apiVersion" in obj:
        out["apiVersion"] = obj["apiVersion"]
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        out["metadata"] = _ordered_meta(meta) if "name" in meta or "labels" in meta else meta
    for k, v in obj.items():
        if k not in out:
            out[k] = v
    items = out.get("items")
    if isinstance(items, list) and out["kind"].endswith("List"):
        out["items"] = [_ordered(i) for i in items]
    return out


def response_order(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with its fields in the order a response writes them, for the store.

    The registry stores a new object in this order, with ``resourceVersion`` in
    its ObjectMeta place (the store writes the revision there): the stored JSON
    is then the response body itself, less Go's escapes and the newline
    (``stored_body``), so a create answers without encoding its object again.
    """
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "resourceVersion" not in meta:
        obj = {**obj, "metadata": {**meta, "resourceVersion": ""}}
    return _ordered(obj)


_GO_ESCAPED_BYTES = tuple((ch.encode(), esc.encode()) for ch, esc in _GO_ESCAPES)


def stored_body(raw: bytes) -> bytes:
    """The compact body of an object stored in ``response_order``, from its stored JSON
    (which is ``encode`` of the object less the escapes and the newline)."""
    for ch, esc in _GO_ESCAPED_BYTES:
        if ch in raw:
            raw = raw.replace(ch, esc)
    return raw + b"\n"


def _go_escape(text: str) -> str:
    for ch, esc in _GO_ESCAPES:
        if ch in text:
            text = text.replace(ch, esc)
    return text


def encode(obj: Any, *, pretty: bool = False) -> bytes:
    """An API object as kube-apiserver's JSON serializer writes it.

    >>> encode({"kind": "Status", "message": "a <b> & c", "code": 409})
    b'{"kind":"Status","message":"a \\\\u003cb\\\\u003e \\\\u0026 c","code":409}\\n'
    >>> encode({"a": [1, {}]}, pretty=True)
    b'{\\n  "a": [\\n    1,\\n    {}\\n  ]\\n}'
    """
    obj = _ordered(obj)
    if isinstance(obj, dict) and isinstance(obj.get("object"), dict) and "type" in obj:
        obj = {"type": obj["type"], "object": _ordered(obj["object"])}  # a watch event
    if pretty:
        text = _INDENTED.encode(obj)
    else:
        text = _COMPACT.encode(obj) + "\n"
    return _go_escape(text).encode()


def encode_marshal(obj: Any) -> bytes:
    """Go's plain ``json.Marshal`` (kube-openapi's documents): compact, no trailing newline."""
    return _go_escape(_COMPACT.encode(obj)).encode()


class EncodedObjects:
    """The compact body of a stored object at one ``resourceVersion``, encoded once.

    A stored object never changes at a given resourceVersion (the store hands
    out a new revision for every write), so (store key, resourceVersion) names
    its bytes for good: a GET of an unchanged object, and the GET after its
    create, reuse the bytes instead of encoding the object again (upstream's
    watch cache keeps serialized objects for the same reason, ``CachingObject``).
    The most recently used ``size`` bodies are kept. Objects without a
    resourceVersion (dry runs) are always encoded.
    """

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self._bodies: OrderedDict[tuple[str, str], bytes] = OrderedDict()

    def stored_body(self, key: str, kv: Any) -> bytes:
        """The body of a store KeyValue (``mod_revision`` is its resourceVersion), decoding
        its value only when the bytes are not kept (``KeyValue.peek``: it keeps no copy)."""
        k = (key, str(kv.mod_revision))
        body = self._bodies.get(k)
        if body is not None:
            self._bodies.move_to_end(k)
            return body
        return self.body(key, kv.peek())

    def created_body(self, kv: Any) -> bytes:
        """The body of a KeyValue the registry stored in ``response_order`` (``create(stored=True)``)."""
        body = self._remember((kv.key, str(kv.mod_revision)), stored_body(kv.raw))
        return body

    def _remember(self, k: tuple[str, str], body: bytes) -> bytes:
        self._bodies[k] = body
        if len(self._bodies) > self.size:
            self._bodies.popitem(last=False)
        return body

    def body(self, key: str, obj: dict[str, Any]) -> bytes:
        meta = obj.get("metadata")
        rv = meta.get("resourceVersion") if isinstance(meta, dict) else None
        if not rv or not isinstance(rv, str):
            return encode(obj)
        k = (key, rv)
        body = self._bodies.get(k)
        if body is not None:
            self._bodies.move_to_end(k)
            return body
        return self._remember(k, encode(obj))


def encode_raw(obj: Any) -> bytes:
    """A non-API document (``/version``, ``/``): upstream's ``WriteRawJSON``, always indented."""
    return encode(obj, pretty=True)


def wants_pretty(request: web.Request) -> bool:
    """Upstream's ``isPrettyPrint``: ``?pretty=`` if given, else a browser or curl/wget."""
    pp = request.query.get("pretty")
    if pp:
        return pp in _TRUE
    agent = request.headers.get("User-Agent", "")
    return agent.startswith(_HUMAN_AGENTS)


def response(obj: Any, status: int = 200, *, pretty: bool = False, raw: bool = False,
             content_type: str = JSON) -> web.Response:
    """A JSON response; ``raw`` for non-API documents (always indented, as upstream)."""
    return body_response(encode_raw(obj) if raw else encode(obj, pretty=pretty), status, content_type)


def body_response(body: bytes, status: int = 200, content_type: str = JSON) -> web.Response:
    """A response with an encoded body."""
    resp = web.Response(status=status, body=body)
    resp.headers["Content-Type"] = content_type
    return resp
