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
