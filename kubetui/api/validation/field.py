"""Field errors, worded exactly as kube-apiserver words them.

Upstream: k8s.io/apimachinery/pkg/util/validation/field/errors.go. Each
function returns one entry of a 422 ``Status``'s ``details.causes``:
``{"reason": "FieldValueInvalid", "message": "Invalid value: \\"Web\\": …",
"field": "metadata.name"}``. kubectl prints them as ``field: message``.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from kubetui.api.errors import field_error

Cause = dict[str, str]

REQUIRED = "FieldValueRequired"
INVALID = "FieldValueInvalid"
NOT_SUPPORTED = "FieldValueNotSupported"
DUPLICATE = "FieldValueDuplicate"
FORBIDDEN = "FieldValueForbidden"
TOO_LONG = "FieldValueTooLong"
TOO_MANY = "FieldValueTooMany"
NOT_FOUND = "FieldValueNotFound"
TYPE_INVALID = "FieldValueTypeInvalid"


class Raw(str):
    """A bad value already printed the way Go prints it (``map[string]string{…}``): not quoted again."""


def render(value: Any) -> str:
    """A bad value as Go's ``%q``/``%v`` would print it: strings quoted, numbers bare."""
    if isinstance(value, Raw):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _with_detail(s: str, detail: str) -> str:
    return f"{s}: {detail}" if detail else s


def required(path: str, detail: str = "") -> Cause:
    return field_error(path, _with_detail("Required value", detail), REQUIRED)


def invalid(path: str, value: Any, detail: str = "") -> Cause:
    return field_error(path, _with_detail(f"Invalid value: {render(value)}", detail), INVALID)


def not_supported(path: str, value: Any, valid: Iterable[str]) -> Cause:
    quoted = ", ".join(json.dumps(v) for v in valid)
    detail = f"supported values: {quoted}" if quoted else ""
    return field_error(path, _with_detail(f"Unsupported value: {render(value)}", detail), NOT_SUPPORTED)


def duplicate(path: str, value: Any) -> Cause:
    return field_error(path, f"Duplicate value: {render(value)}", DUPLICATE)


def forbidden(path: str, detail: str) -> Cause:
    return field_error(path, _with_detail("Forbidden", detail), FORBIDDEN)


def too_long(path: str, max_bytes: int) -> Cause:
    return field_error(path, f"Too long: must have at most {max_bytes} bytes", TOO_LONG)


def too_many(path: str, actual: int, max_items: int) -> Cause:
    return field_error(path, f"Too many: {actual}: must have at most {max_items} items", TOO_MANY)


def not_found(path: str, value: Any) -> Cause:
    return field_error(path, f"Not found: {render(value)}", NOT_FOUND)


def type_invalid(path: str, value: Any, detail: str) -> Cause:
    return field_error(path, _with_detail(f"Invalid value: {render(value)}", detail), TYPE_INVALID)


def immutable(path: str, value: Any) -> Cause:
    """``field is immutable``: the wording of ValidateImmutableField."""
    return invalid(path, value, "field is immutable")


def key(path: str, k: str) -> str:
    """``data[tls.crt]``: how upstream's ``Path.Key`` prints a map key."""
    return f"{path}[{k}]"


def index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else ``{}`` (type errors are reported elsewhere)."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def dict_items(value: Any) -> list[tuple[int, dict[str, Any]]]:
    """``(index, item)`` for the object items of a JSON list."""
    return [(i, v) for i, v in enumerate(as_list(value)) if isinstance(v, dict)]


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def non_negative(path: str, value: Any) -> list[Cause]:
    """ValidateNonnegativeField."""
    if is_int(value) and value < 0:
        return [invalid(path, value, "must be greater than or equal to 0")]
    return []
