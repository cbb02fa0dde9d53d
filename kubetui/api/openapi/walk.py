"""Walk a JSON object alongside its OpenAPI schema: unknown fields, wrong types.

Upstream: kube-apiserver decodes JSON into Go structs. With
``fieldValidation=Strict`` a field the struct lacks fails the request
(sigs.k8s.io/json's strict decoder), and a value of the wrong JSON type
always does (encoding/json's ``UnmarshalTypeError``). Here the schema plays
the Go struct.
"""

from __future__ import annotations

from typing import Any, Iterator

from kubetui.api.openapi.paths import SCHEMA_PREFIX

Schemas = dict[str, dict[str, Any]]

_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"


def _resolve(schemas: Schemas, node: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Follow ``$ref`` / ``allOf:[{$ref}]``; returns the schema and its component name."""
    name = None
    while True:
        ref = node.get("$ref")
        if ref is None and len(node.get("allOf") or []) == 1:
            ref = node["allOf"][0].get("$ref")
        if not ref or not ref.startswith(SCHEMA_PREFIX):
            return node, name
        name = ref[len(SCHEMA_PREFIX):]
        node = schemas.get(name, {})


def _free_form(schema: dict[str, Any]) -> bool:
    return bool(schema.get("x-kubernetes-preserve-unknown-fields")) or (
        schema.get("type") == "object" and "properties" not in schema and "additionalProperties" not in schema)


def _children(schemas: Schemas, schema: dict[str, Any], value: Any, path: str
              ) -> Iterator[tuple[dict[str, Any], str | None, Any, str, str]]:
    """(child schema, component name, child value, child path, field name) for each child of value."""
    if isinstance(value, dict):
        props = schema.get("properties")
        if props is not None:
            for k, v in value.items():
                if k in props:
                    sub, name = _resolve(schemas, props[k])
                    yield sub, name, v, f"{path}.{k}", k
        elif isinstance(schema.get("additionalProperties"), dict):
            sub, name = _resolve(schemas, schema["additionalProperties"])
            for k, v in value.items():
                yield sub, name, v, f"{path}.{k}", k
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        sub, name = _resolve(schemas, schema["items"])
        for i, v in enumerate(value):
            yield sub, name, v, f"{path}[{i}]", ""


def find_unknown_fields(schemas: Schemas, root: str, obj: Any) -> list[str]:
    out: list[str] = []

    def walk(schema: dict[str, Any], value: Any, path: str) -> None:
        if _free_form(schema):
            return
        if isinstance(value, dict) and "properties" in schema:
            for k in value:
                if k not in schema["properties"]:
                    out.append(f"{path}.{k}")
        for sub, _name, v, p, _k in _children(schemas, schema, value, path):
            walk(sub, v, p)

    walk(schemas[root], obj, "")
    return out


def _json_type(value: Any) -> str:
    """The JSON type name the Go decoder reports (``string``, ``number``…)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _go_type(schemas: Schemas, schema: dict[str, Any], name: str | None) -> str:
    """How Go would name the field's type: ``int32``, ``[]v1.Container``, ``map[string]string``."""
    if name:
        short = name.rsplit(".", 1)[-1]
        if name == _INT_OR_STRING:
            return "intstr.IntOrString"
        if name == _QUANTITY:
            return "resource.Quantity"
        if name.endswith(("meta.v1.Time", "meta.v1.MicroTime")):
            return f"v1.{short}"
        if schema.get("type") == "object" and "properties" in schema:
            return f"v1.{short}"
    t = schema.get("type")
    if t == "integer":
        return schema.get("format") or "int64"
    if t == "number":
        return "float64"
    if t == "boolean":
        return "bool"
    if t == "string":
        return "[]uint8" if schema.get("format") == "byte" else "string"
    if t == "array":
        sub, sub_name = _resolve(schemas, schema.get("items") or {})
        return "[]" + _go_type(schemas, sub, sub_name)
    if t == "object" and isinstance(schema.get("additionalProperties"), dict):
        sub, sub_name = _resolve(schemas, schema["additionalProperties"])
        return "map[string]" + _go_type(schemas, sub, sub_name)
    return "interface {}"


def _type_ok(schema: dict[str, Any], name: str | None, value: Any) -> bool:
    if value is None:
        return True  # JSON null decodes to Go's zero value
    if name == _INT_OR_STRING or schema.get("x-kubernetes-int-or-string"):
        return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
    if name == _QUANTITY or "oneOf" in schema:
        return isinstance(value, (str, int, float)) and not isinstance(value, bool)
    if _free_form(schema) and schema.get("type") in (None, "object") and "properties" not in schema:
        return True
    t = schema.get("type")
    if t == "string":
        return isinstance(value, str)
    if t == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer())
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t == "boolean":
        return isinstance(value, bool)
    if t == "array":
        return isinstance(value, list)
    if t == "object":
        return isinstance(value, dict)
    return True


def find_type_errors(schemas: Schemas, root: str, obj: Any) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    root_schema = schemas[root]

    def walk(schema: dict[str, Any], value: Any, path: str, struct: str) -> None:
        if _free_form(schema):
            return
        for sub, name, v, p, _field in _children(schemas, schema, value, path):
            if not _type_ok(sub, name, v):
                field_path = p.lstrip(".")
                go_field = f"{struct}.{_strip_indexes(field_path)}"
                message = (f"json: cannot unmarshal {_json_type(v)} into Go struct field {go_field} "
                           f"of type {_go_type(schemas, sub, name)}")
                out.append({"reason": "FieldValueTypeInvalid", "message": message, "field": field_path})
                continue
            # Go names the innermost struct that holds the field.
            walk(sub, v, p, name.rsplit(".", 1)[-1] if name else struct)

    walk(root_schema, obj, "", root.rsplit(".", 1)[-1])
    return out


def _strip_indexes(path: str) -> str:
    """Go's decoder names fields without list indexes: ``spec.containers.image``."""
    out, depth = [], 0
    for ch in path:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


# -- the fast path: one walk that only says whether there is anything to report -----------
#
# Almost every object decodes cleanly. Checking that walks the object once
# against a compiled form of the schema (references resolved and each field's
# type check chosen once per schema, no paths built); only when it finds
# something do the two walks above run to say what, in upstream's words.

_ANY, _STR, _INT, _NUM, _BOOL, _ARR, _OBJ, _INT_OR_STR, _QTY = range(9)
_TYPE_CODES = {"string": _STR, "integer": _INT, "number": _NUM, "boolean": _BOOL, "array": _ARR, "object": _OBJ}


class _Compiled:
    """A schema node: free-form or not, and (compiled child, type code) per property / map value / item."""

    __slots__ = ("schema", "free", "props", "additional", "items")

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self.free = _free_form(schema)
        self.props: dict[str, tuple[_Compiled, int]] | None = None
        self.additional: tuple[_Compiled, int] | None = None
        self.items: tuple[_Compiled, int] | None = None


_COMPILED: dict[int, _Compiled] = {}  # by id() of the schema node, which each entry keeps alive


def _type_code(schema: dict[str, Any], name: str | None) -> int:
    """Which check ``_type_ok(schema, name, value)`` makes, decided once."""
    if name == _INT_OR_STRING or schema.get("x-kubernetes-int-or-string"):
        return _INT_OR_STR
    if name == _QUANTITY or "oneOf" in schema:
        return _QTY
    if _free_form(schema) and schema.get("type") in (None, "object") and "properties" not in schema:
        return _ANY
    return _TYPE_CODES.get(schema.get("type"), _ANY)


def _compiled(schemas: Schemas, schema: dict[str, Any]) -> _Compiled:
    node = _COMPILED.get(id(schema))
    if node is not None and node.schema is schema:
        return node
    node = _COMPILED[id(schema)] = _Compiled(schema)  # registered first: schemas refer to themselves

    def entry(ref: dict[str, Any]) -> tuple[_Compiled, int]:
        sub, name = _resolve(schemas, ref)
        return _compiled(schemas, sub), _type_code(sub, name)

    props = schema.get("properties")
    if props is not None:
        node.props = {k: entry(v) for k, v in props.items()}
    elif isinstance(schema.get("additionalProperties"), dict):
        node.additional = entry(schema["additionalProperties"])
    if isinstance(schema.get("items"), dict):
        node.items = entry(schema["items"])
    return node


def _value_ok(code: int, value: Any) -> bool:
    """``_type_ok`` by type code."""
    if value is None or code == _ANY:
        return True
    if code == _STR:
        return isinstance(value, str)
    if code == _OBJ:
        return isinstance(value, dict)
    if code == _ARR:
        return isinstance(value, list)
    if code == _BOOL:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if code == _INT:
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if code == _NUM:
        return isinstance(value, (int, float))
    if code == _INT_OR_STR:
        return isinstance(value, (str, int))
    return isinstance(value, (str, int, float))  # _QTY


def _clean(node: _Compiled, value: Any) -> bool:
    if node.free:
        return True
    if isinstance(value, dict):
        props = node.props
        if props is not None:
            for k, v in value.items():
                child = props.get(k)
                if child is None:
                    return False  # an unknown field
                if v is not None and not (_value_ok(child[1], v) and _clean(child[0], v)):
                    return False
        elif node.additional is not None:
            sub, code = node.additional
            for v in value.values():
                if v is not None and not (_value_ok(code, v) and _clean(sub, v)):
                    return False
    elif isinstance(value, list) and node.items is not None:
        sub, code = node.items
        for v in value:
            if v is not None and not (_value_ok(code, v) and _clean(sub, v)):
                return False
    return True


def decodes_cleanly(schemas: Schemas, root: str, obj: Any) -> bool:
    """True when ``find_type_errors`` and ``find_unknown_fields`` would both find nothing."""
    return _clean(_compiled(schemas, schemas[root]), obj)
