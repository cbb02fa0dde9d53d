"""Table columns of a custom resource: its version's ``additionalPrinterColumns``.

Upstream: ``staging/src/k8s.io/apiextensions-apiserver/pkg/registry/customresource/tableconvertor``.
NAME first, then each column's JSONPath evaluated on the object; with no
columns declared, ``Age`` (``.metadata.creationTimestamp``). ``date`` cells
carry the timestamp itself: kubectl (and the TUI) print it as an age.
"""

from __future__ import annotations

import json
import re
from typing import Any

from kubetui.api.printers.common import parse_time, since

NAME_COLUMN = {"name": "Name", "type": "string", "format": "name", "priority": 0,
               "description": "Name must be unique within a namespace. Is required when creating resources, "
                              "although some resources may allow a client to request the generation of an "
                              "appropriate name automatically. Name is primarily intended for creation "
                              "idempotence and configuration definition. Cannot be updated. More info: "
                              "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"}
AGE_COLUMN = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp",
              "description": "CreationTimestamp is a timestamp representing the server time when this object "
                             "was created."}

_TOKEN = re.compile(r"\.([A-Za-z0-9_$-]+)|\[(\d+)\]|\['([^']+)'\]|\[\"([^\"]+)\"\]")


def eval_path(obj: Any, path: str) -> Any:
    """A simple JSONPath (``.spec.replicas``, ``.status.conditions[0].type``, ``.metadata.labels['app']``)."""
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    path = path.lstrip("$")
    cur = obj
    pos = 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if m is None:
            return None
        pos = m.end()
        if m.group(2) is not None:
            i = int(m.group(2))
            if not isinstance(cur, list) or i >= len(cur):
                return None
            cur = cur[i]
        else:
            key = m.group(1) or m.group(3) or m.group(4)
            if not isinstance(cur, dict) or key not in cur:
                return None
            cur = cur[key]
    return cur


def columns_of(version: dict) -> list[dict]:
    return list(version.get("additionalPrinterColumns") or []) or [AGE_COLUMN]


def column_definitions(version: dict) -> list[dict]:
    out = [dict(NAME_COLUMN)]
    for col in columns_of(version):
        out.append({"name": col["name"], "type": col.get("type", "string"), "format": col.get("format", ""),
                    "description": col.get("description", ""), "priority": int(col.get("priority") or 0)})
    return out


def cell(value: Any, ctype: str, now: float = 0.0) -> Any:
    if value is None:
        return None
    if ctype == "date" and isinstance(value, str):
        # the server prints a date as an age (upstream: ``translateTimestampSince``); an unparsable one as is
        return since(value, now) if parse_time(value) is not None else value
    if ctype == "integer" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    if ctype == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if ctype == "boolean" and isinstance(value, bool):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if ctype in ("string", "date") else value


def row(version: dict, obj: dict, now: float) -> list[Any]:
    cells: list[Any] = [(obj.get("metadata") or {}).get("name", "")]
    for col in columns_of(version):
        cells.append(cell(eval_path(obj, col.get("jsonPath", "")), col.get("type", "string"), now))
    return cells
