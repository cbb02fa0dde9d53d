"""A custom resource's structural schema: validation, defaulting and pruning.

Upstream: ``staging/src/k8s.io/apiextensions-apiserver/pkg/apiserver/schema``
(``validation.go``: is a schema *structural*; ``defaulting/algorithm.go``;
``pruning/algorithm.go``) and ``pkg/apiserver/validation`` (a custom resource
validated against its version's ``openAPIV3Schema`` by kube-openapi, errors
turned into field errors by ``kubeOpenAPIResultToFieldErrors``).

A structural schema says, at every node, what type the value has and which
fields it knows; that is what lets the API server *prune* unknown fields (as
it drops unknown fields of built-in kinds) and *default* missing ones. Only
``x-kubernetes-preserve-unknown-fields: true`` keeps unknown fields.
"""

from __future__ import annotations

import copy
import json
import math
import re
from typing import Any

Schema = dict[str, Any]
Cause = dict[str, str]

TYPES = ("array", "boolean", "integer", "number", "object", "string")


def _err(field: str, message: str, reason: str = "FieldValueInvalid") -> Cause:
    return {"reason": reason, "message": message, "field": field}


def go_value(v: Any) -> str:
    """How Go's field errors print a value (``"abc"``, ``15``, ``true``, ``null``)."""
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return str(v)
    return "map[string]interface {}" if isinstance(v, dict) else "[]interface {}"


def type_name(v: Any) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


# -- is the schema structural? (schema/validation.go) -------------------------

def structural_errors(s: Any, path: str, *, root: bool = True, in_items: bool = False) -> list[Cause]:
    """Why ``s`` is not a structural schema (upstream ``ValidateStructural``), with upstream's field paths."""
    out: list[Cause] = []
    if not isinstance(s, dict):
        return [_err(path, f"Invalid value: {go_value(s)}: must be an object")]
    t = s.get("type")
    int_or_string = s.get("x-kubernetes-int-or-string") is True
    preserve = s.get("x-kubernetes-preserve-unknown-fields") is True
    if t is not None and t not in TYPES:
        out.append(_err(f"{path}.type", f"Unsupported value: {go_value(t)}: supported values: "
                        + ", ".join(f'"{x}"' for x in TYPES), "FieldValueNotSupported"))
    if root:
        if not t:
            out.append(_err(f"{path}.type", "Required value: must not be empty at the root", "FieldValueRequired"))
        elif t != "object":
            out.append(_err(f"{path}.type", f"Invalid value: {go_value(t)}: must be object at the root"))
        meta = (s.get("properties") or {}).get("metadata")
        if isinstance(meta, dict):
            extra = set(meta) - {"type"}
            names = set((meta.get("properties") or {}))
            if extra - {"properties"} or names - {"name", "generateName"}:
                out.append(_err(f"{path}.properties[metadata]", "Forbidden: must not specify anything other than "
                                "name and generateName, but metadata is implicitly specified",
                                "FieldValueForbidden"))
    elif not t and not int_or_string and not preserve:
        where = "for specified array items" if in_items else "for specified object fields"
        out.append(_err(f"{path}.type", f"Required value: must not be empty {where}", "FieldValueRequired"))
    if int_or_string and t:
        out.append(_err(f"{path}.type", "Invalid value: "
                        f"{go_value(t)}: must be empty if x-kubernetes-int-or-string is true"))
    if t == "array" and "items" not in s:
        out.append(_err(f"{path}.items", "Required value: must be specified", "FieldValueRequired"))
    if "properties" in s and "additionalProperties" in s and s["additionalProperties"] is not False:
        out.append(_err(f"{path}.additionalProperties", "Forbidden: additionalProperties and properties are "
                        "mutual exclusive", "FieldValueForbidden"))
    for name, sub in (s.get("properties") or {}).items():
        if root and name == "metadata":
            continue
        out += structural_errors(sub, f"{path}.properties[{name}]", root=False)
    if isinstance(s.get("items"), dict):
        out += structural_errors(s["items"], f"{path}.items", root=False, in_items=True)
    if isinstance(s.get("additionalProperties"), dict):
        out += structural_errors(s["additionalProperties"], f"{path}.additionalProperties", root=False)
    if "default" in s and root:
        out.append(_err(f"{path}.default", "Forbidden: must not be set at the root", "FieldValueForbidden"))
    return out


# -- pruning (pruning/algorithm.go) -----------------------------------------

def prune(obj: Any, s: Schema | None, *, root: bool = True) -> None:
    """Drop, in place, every field the schema does not specify (``x-kubernetes-preserve-unknown-fields`` keeps them).

    At the root and in an ``x-kubernetes-embedded-resource``, ``apiVersion``,
    ``kind`` and ``metadata`` are always kept.
    """
    if s is None:
        return
    if isinstance(obj, dict):
        props = s.get("properties")
        addl = s.get("additionalProperties")
        keep_meta = root or s.get("x-kubernetes-embedded-resource") is True
        preserve = s.get("x-kubernetes-preserve-unknown-fields") is True
        for key in list(obj):
            if keep_meta and key in ("apiVersion", "kind", "metadata"):
                continue
            if props is not None and key in props:
                prune(obj[key], props[key], root=False)
            elif isinstance(addl, dict):
                prune(obj[key], addl, root=False)
            elif addl is True or preserve:
                continue
            else:
                del obj[key]
    elif isinstance(obj, list) and isinstance(s.get("items"), dict):
        for item in obj:
            prune(item, s["items"], root=False)


# -- defaulting (defaulting/algorithm.go) -----------------------------------

def default(obj: Any, s: Schema | None) -> None:
    """Fill, in place, each missing (or non-nullable null) field that has a ``default``."""
    if s is None:
        return
    if isinstance(obj, dict):
        for key, sub in (s.get("properties") or {}).items():
            if not isinstance(sub, dict):
                continue
            if "default" in sub and (key not in obj or (obj[key] is None and not sub.get("nullable"))):
                obj[key] = copy.deepcopy(sub["default"])
            if key in obj:
                default(obj[key], sub)
        if isinstance(s.get("additionalProperties"), dict):
            for key in obj:
                if not (s.get("properties") and key in s["properties"]):
                    default(obj[key], s["additionalProperties"])
    elif isinstance(obj, list) and isinstance(s.get("items"), dict):
        for i, item in enumerate(obj):
            if item is None and "default" in s["items"] and not s["items"].get("nullable"):
                obj[i] = copy.deepcopy(s["items"]["default"])
            default(obj[i], s["items"])


# -- validation (kube-openapi's validator, as apiextensions reports it) ------

def _type_ok(v: Any, s: Schema) -> bool:
    if s.get("x-kubernetes-int-or-string"):
        return (isinstance(v, int) and not isinstance(v, bool)) or isinstance(v, str)
    t = s.get("type")
    if not t:
        return True
    if t == "integer":
        return (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer())
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return type_name(v) == t


def validate(obj: Any, s: Schema | None, path: str = "") -> list[Cause]:
    """Field errors of ``obj`` against ``s``, worded as kube-apiserver words them for a custom resource.

    >>> validate({"spec": {"replicas": 15}}, {"type": "object", "properties": {"spec": {"type": "object",
    ...     "properties": {"replicas": {"type": "integer", "maximum": 10}}}}})[0]["message"]
    'spec.replicas: Invalid value: 15: spec.replicas in body should be less than or equal to 10'
    """
    if s is None:
        return []
    out: list[Cause] = []
    at = path or "<root>"
    body = path or "body"
    if obj is None:
        if not s.get("nullable") and (s.get("type") or s.get("x-kubernetes-int-or-string")):
            want = "integer or string" if s.get("x-kubernetes-int-or-string") else s["type"]
            out.append(_err(at, f'Invalid value: "null": {body} in body must be of type {want}: "null"',
                            "FieldValueTypeInvalid"))
        return out
    if not _type_ok(obj, s):
        want = "integer or string" if s.get("x-kubernetes-int-or-string") else s["type"]
        got = type_name(obj)
        return [_err(at, f'Invalid value: "{got}": {body} in body must be of type {want}: "{got}"',
                     "FieldValueTypeInvalid")]
    if "enum" in s and obj not in s["enum"]:
        out.append(_err(at, f"Unsupported value: {go_value(obj)}: supported values: "
                        + ", ".join(go_value(e) for e in s["enum"]), "FieldValueNotSupported"))
    if isinstance(obj, (int, float)) and not isinstance(obj, bool):
        out += _numeric(obj, s, at, body)
    if isinstance(obj, str):
        if "maxLength" in s and len(obj) > s["maxLength"]:
            out.append(_err(at, f"Too long: may not be more than {s['maxLength']} bytes", "FieldValueTooLong"))
        if "minLength" in s and len(obj) < s["minLength"]:
            out.append(_err(at, f"Invalid value: {go_value(obj)}: {body} in body should be at least "
                            f"{s['minLength']} chars long"))
        if "pattern" in s and re.search(s["pattern"], obj) is None:
            out.append(_err(at, f"Invalid value: {go_value(obj)}: {body} in body should match '{s['pattern']}'"))
    if isinstance(obj, list):
        if "maxItems" in s and len(obj) > s["maxItems"]:
            out.append(_err(at, f"Too many: {len(obj)}: must have at most {s['maxItems']} items", "FieldValueTooMany"))
        if "minItems" in s and len(obj) < s["minItems"]:
            out.append(_err(at, f"Invalid value: {len(obj)}: {body} in body should have at least "
                            f"{s['minItems']} items"))
        if s.get("uniqueItems") and len({json.dumps(x, sort_keys=True) for x in obj}) != len(obj):
            out.append(_err(at, "Duplicate value: " + go_value(obj), "FieldValueDuplicate"))
        if isinstance(s.get("items"), dict):
            for i, item in enumerate(obj):
                out += validate(item, s["items"], f"{path}[{i}]")
    if isinstance(obj, dict):
        for req in s.get("required") or []:
            if req not in obj:
                out.append(_err(f"{path}.{req}" if path else req, "Required value", "FieldValueRequired"))
        if "maxProperties" in s and len(obj) > s["maxProperties"]:
            out.append(_err(at, f"Too many: {len(obj)}: must have at most {s['maxProperties']} items",
                            "FieldValueTooMany"))
        if "minProperties" in s and len(obj) < s["minProperties"]:
            out.append(_err(at, f"Invalid value: {len(obj)}: {body} in body should have at least "
                            f"{s['minProperties']} properties"))
        props = s.get("properties") or {}
        for key, v in obj.items():
            child = f"{path}.{key}" if path else key
            if path == "" and key == "metadata":
                continue  # ObjectMeta is validated as every kind's metadata is
            if key in props:
                out += validate(v, props[key], child)
            elif isinstance(s.get("additionalProperties"), dict):
                out += validate(v, s["additionalProperties"], child)
    for i, sub in enumerate(s.get("allOf") or []):
        out += validate(obj, dict(sub, type=sub.get("type")), path)
    if s.get("anyOf") and not any(not validate(obj, sub, path) for sub in s["anyOf"]):
        out.append(_err(at, f"Invalid value: {go_value(obj)}: {body} in body must be of type "
                        "anyOf: no schema matched"))
    if s.get("oneOf") and sum(1 for sub in s["oneOf"] if not validate(obj, sub, path)) != 1:
        out.append(_err(at, f"Invalid value: {go_value(obj)}: {body} in body must validate one and only one "
                        "schema (oneOf)"))
    if isinstance(s.get("not"), dict) and not validate(obj, s["not"], path):
        out.append(_err(at, f"Invalid value: {go_value(obj)}: {body} in body should not validate the schema"))
    return out


def _numeric(v: float, s: Schema, at: str, body: str) -> list[Cause]:
    out = []
    if "maximum" in s:
        if s.get("exclusiveMaximum") and v >= s["maximum"]:
            out.append(_err(at, f"Invalid value: {go_value(v)}: {body} in body should be less than {_num(s['maximum'])}"))
        elif v > s["maximum"]:
            out.append(_err(at, f"Invalid value: {go_value(v)}: {body} in body should be less than or equal to "
                            f"{_num(s['maximum'])}"))
    if "minimum" in s:
        if s.get("exclusiveMinimum") and v <= s["minimum"]:
            out.append(_err(at, f"Invalid value: {go_value(v)}: {body} in body should be greater than "
                            f"{_num(s['minimum'])}"))
        elif v < s["minimum"]:
            out.append(_err(at, f"Invalid value: {go_value(v)}: {body} in body should be greater than or equal to "
                            f"{_num(s['minimum'])}"))
    if s.get("multipleOf") and not math.isclose(v / s["multipleOf"], round(v / s["multipleOf"])):
        out.append(_err(at, f"Invalid value: {go_value(v)}: {body} in body should be a multiple of "
                        f"{_num(s['multipleOf'])}"))
    return out


def _num(x: float) -> str:
    return str(int(x)) if isinstance(x, float) and x.is_integer() else str(x)
