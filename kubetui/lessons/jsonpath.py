"""The JSONPath subset lesson checks use (upstream: kubectl's ``-o jsonpath``, k8s.io/client-go/util/jsonpath).

A teacher writes the same path they would give ``kubectl get -o jsonpath``,
with or without the braces:

=========================================  ===============================================
``{.status.readyReplicas}``                a field
``.spec.template.spec.containers[0].image``  a list element
``.items[*].metadata.name``                every element
``.status.conditions[?(@.type=="Ready")].status``  a filter (``==`` or ``!=``)
``.metadata.labels.app\\.kubernetes\\.io/name``  a key containing dots (escape them)
``.metadata.labels['app.kubernetes.io/name']``   the same, quoted
=========================================  ===============================================

``find(obj, path)`` returns every match (an empty list when nothing matches).
"""

from __future__ import annotations

import re
from typing import Any

_FILTER = re.compile(r"""^\?\(@(?P<path>[^=!]*?)\s*(?P<op>==|!=)\s*(?P<value>.+?)\)$""")


class JSONPathError(ValueError):
    pass


def _tokens(path: str) -> list[tuple[str, str]]:
    """``(kind, value)`` tokens: ``key``, ``index``, ``all``, ``filter``."""
    p = path.strip()
    if p.startswith("{") and p.endswith("}"):
        p = p[1:-1].strip()
    if p.startswith("$"):
        p = p[1:]
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(p):
        c = p[i]
        if c == ".":
            i += 1
            key = []
            while i < len(p) and p[i] not in ".[":
                if p[i] == "\\" and i + 1 < len(p):
                    i += 1
                key.append(p[i])
                i += 1
            if key:
                out.append(("key", "".join(key)))
        elif c == "[":
            depth, j = 0, i
            while j < len(p):
                if p[j] == "[":
                    depth += 1
                elif p[j] == "]":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            if j >= len(p):
                raise JSONPathError(f"unclosed '[' in {path!r}")
            inner = p[i + 1: j].strip()
            i = j + 1
            if inner == "*":
                out.append(("all", ""))
            elif inner.lstrip("-").isdigit():
                out.append(("index", inner))
            elif inner[:1] in "'\"" and inner[-1:] == inner[:1]:
                out.append(("key", inner[1:-1]))
            elif inner.startswith("?(") and _FILTER.match(inner):
                out.append(("filter", inner))
            elif inner.startswith("?("):
                raise JSONPathError(f"unsupported filter [{inner}] in {path!r} (use ?(@.field==\"value\") or !=)")
            else:
                raise JSONPathError(f"unsupported [{inner}] in {path!r}")
        else:
            raise JSONPathError(f"unexpected {c!r} at {i} in {path!r} (paths start with '.')")
    return out


def _literal(text: str) -> Any:
    t = text.strip()
    if t[:1] in "'\"" and t[-1:] == t[:1]:
        return t[1:-1]
    if t in ("true", "false"):
        return t == "true"
    try:
        return int(t)
    except ValueError:
        try:
            return float(t)
        except ValueError:
            return t


def find(obj: Any, path: str) -> list[Any]:
    """Every value ``path`` selects in ``obj``.

    >>> find({"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
    ...      '{.status.conditions[?(@.type=="Ready")].status}')
    ['True']
    >>> find({"items": [{"n": 1}, {"n": 2}]}, ".items[*].n")
    [1, 2]
    """
    current = [obj]
    for kind, value in _tokens(path):
        nxt: list[Any] = []
        for v in current:
            if kind == "key":
                if isinstance(v, dict) and value in v:
                    nxt.append(v[value])
            elif kind == "index":
                if isinstance(v, list):
                    n = int(value)
                    if -len(v) <= n < len(v):
                        nxt.append(v[n])
            elif kind == "all":
                if isinstance(v, list):
                    nxt.extend(v)
                elif isinstance(v, dict):
                    nxt.extend(v.values())
            else:
                m = _FILTER.match(value)
                if not m:
                    raise JSONPathError(f"unsupported filter {value!r} (use ?(@.field==\"value\"))")
                want = _literal(m.group("value"))
                sub = m.group("path")
                for item in v if isinstance(v, list) else []:
                    got = find(item, sub) if sub else [item]
                    hit = any(g == want or str(g) == str(want) for g in got)
                    if hit == (m.group("op") == "=="):
                        nxt.append(item)
        current = nxt
    return current
