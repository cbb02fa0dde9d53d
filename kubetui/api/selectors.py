"""Label and field selectors: how lists and watches are filtered.

Upstream: k8s.io/apimachinery/pkg/labels (selector.go: the grammar
``app=web,tier in (a,b),!canary``), pkg/fields (``spec.nodeName=n1,status.phase!=Failed``)
and metav1.LabelSelectorAsSelector (the ``matchLabels``/``matchExpressions`` form
Deployments, ReplicaSets and Services carry). Field selectors are narrow on
purpose: each kind supports only a few fields, because the API server indexes
them (``field label not supported: foo`` for anything else).

Errors are ``BadRequest`` worded as kube-apiserver words them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from kubetui.api.errors import BadRequest

# Operators, as upstream's selection package spells them.
EQUALS = "="
DOUBLE_EQUALS = "=="
NOT_EQUALS = "!="
IN = "in"
NOT_IN = "notin"
EXISTS = "exists"
DOES_NOT_EXIST = "!"
GREATER_THAN = "gt"
LESS_THAN = "lt"

_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS1123_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

_NAME_MSG = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
             "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
             "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
              "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
              "'my_value',  or '12345', regex used for validation is "
              "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")


def label_key_errors(key: str) -> list[str]:
    """Why ``key`` is not a qualified label key (``[prefix/]name``), upstream's wording."""
    errs: list[str] = []
    prefix, _, name = key.rpartition("/")
    if "/" in key and not prefix:
        errs.append("prefix part must be non-empty")
    elif prefix:
        if len(prefix) > 253:
            errs.append("prefix part must be no more than 253 characters")
        elif not _DNS1123_SUBDOMAIN_RE.match(prefix):
            errs.append("prefix part a lowercase RFC 1123 subdomain must consist of lower case "
                        "alphanumeric characters, '-' or '.', and must start and end with an "
                        "alphanumeric character (e.g. 'example.com', regex used for validation is "
                        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    elif not _NAME_RE.match(name):
        errs.append(_NAME_MSG)
    return errs


def label_value_errors(value: str) -> list[str]:
    """Why ``value`` is not a valid label value (empty is valid)."""
    if len(value) > 63:
        return ["must be no more than 63 characters"]
    if not _VALUE_RE.match(value):
        return [_VALUE_MSG]
    return []


@dataclass(frozen=True)
class Requirement:
    """One term of a label selector: ``key op values``."""

    key: str
    op: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.op
        if op in (EQUALS, DOUBLE_EQUALS, IN):
            return self.key in labels and labels[self.key] in self.values
        if op in (NOT_EQUALS, NOT_IN):
            # A label that is absent is "not equal": upstream matches it.
            return self.key not in labels or labels[self.key] not in self.values
        if op == EXISTS:
            return self.key in labels
        if op == DOES_NOT_EXIST:
            return self.key not in labels
        if op in (GREATER_THAN, LESS_THAN):
            try:
                have = int(labels[self.key])
            except (KeyError, ValueError):
                return False
            want = int(self.values[0])
            return have > want if op == GREATER_THAN else have < want
        return False

    def __str__(self) -> str:
        if self.op == EXISTS:
            return self.key
        if self.op == DOES_NOT_EXIST:
            return "!" + self.key
        if self.op in (IN, NOT_IN):
            return f"{self.key} {self.op} ({','.join(sorted(self.values))})"
        if self.op == GREATER_THAN:
            return f"{self.key}>{self.values[0]}"
        if self.op == LESS_THAN:
            return f"{self.key}<{self.values[0]}"
        return f"{self.key}{self.op}{self.values[0]}"


def new_requirement(key: str, op: str, values: Iterable[str] = ()) -> Requirement:
    """Build and validate a requirement as ``labels.NewRequirement`` does."""
    vals = tuple(values)
    errs = [f'key: Invalid value: "{key}": {m}' for m in label_key_errors(key)]
    if op in (IN, NOT_IN) and not vals:
        errs.append("values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty")
    if op in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS) and len(vals) != 1:
        errs.append("values: Invalid value: exact-match compatibility requires one single value")
    if op in (EXISTS, DOES_NOT_EXIST) and vals:
        errs.append("values: Invalid value: values set must be empty for exists and does not exist")
    if op in (GREATER_THAN, LESS_THAN):
        if len(vals) != 1:
            errs.append("values: Invalid value: for 'Gt', 'Lt' operators, exactly one value is required")
        else:
            try:
                int(vals[0])
            except ValueError:
                errs.append(f"values[0]: Invalid value: \"{vals[0]}\": for 'Gt', 'Lt' operators, "
                            "the value must be an integer")
    if op not in (GREATER_THAN, LESS_THAN):
        for i, v in enumerate(vals):
            errs += [f'values[{i}][{key}]: Invalid value: "{v}": {m}' for m in label_value_errors(v)]
    if errs:
        raise BadRequest("unable to parse requirement: " + ", ".join(errs))
    return Requirement(key, op, vals)


class LabelSelector:
    """A set of requirements, all of which must match (comma means AND).

    An empty selector matches everything; ``LabelSelector.nothing()`` matches
    nothing (what a missing ``spec.selector`` means to a controller).
    """

    def __init__(self, requirements: Iterable[Requirement] = (), *, match_nothing: bool = False) -> None:
        self.requirements = tuple(sorted(requirements, key=lambda r: r.key))
        self.match_nothing = match_nothing

    @classmethod
    def nothing(cls) -> "LabelSelector":
        return cls(match_nothing=True)

    def empty(self) -> bool:
        return not self.requirements and not self.match_nothing

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.match_nothing:
            return False
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)

    to_string = __str__

    def __repr__(self) -> str:
        return f"LabelSelector({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, LabelSelector) and self.requirements == other.requirements
                and self.match_nothing == other.match_nothing)

    def __hash__(self) -> int:
        return hash((self.requirements, self.match_nothing))


# --- the string grammar (upstream labels.Parse) ---

_SPECIAL = "!=(),<>"


def _tokens(s: str) -> list[tuple[str, str]]:
    """Lex a selector string into (kind, text) tokens, like upstream's Lexer."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c.isspace():
            i += 1
            continue
        if c in _SPECIAL:
            two = s[i:i + 2]
            if two in ("!=", "=="):
                out.append(("op", two))
                i += 2
            else:
                out.append(("op" if c in "=!<>" else c, c))
                i += 1
            continue
        j = i
        while j < n and not s[j].isspace() and s[j] not in _SPECIAL:
            j += 1
        word = s[i:j]
        out.append(("kw" if word in (IN, NOT_IN) else "id", word))
        i = j
    return out


def parse_label_selector(s: str | None) -> LabelSelector:
    """Parse ``app=web,tier in (a,b),!canary`` (upstream ``labels.Parse``).

    >>> parse_label_selector("app=web,!canary").matches({"app": "web"})
    True
    """
    if s is None or not s.strip():
        return LabelSelector()
    toks = _tokens(s)
    pos = 0
    reqs: list[Requirement] = []

    def peek() -> tuple[str, str]:
        return toks[pos] if pos < len(toks) else ("end", "")

    def fail(found: str, expected: str) -> BadRequest:
        return BadRequest(f"unable to parse requirement: found '{found}', expected: {expected}")

    while True:
        kind, text = peek()
        negate = False
        if kind == "op" and text == "!":
            negate = True
            pos += 1
            kind, text = peek()
        if kind != "id":
            raise fail(text, "identifier")
        key = text
        pos += 1
        kind, text = peek()
        if negate:
            if kind not in (",", "end"):
                raise fail(text, "',' or 'end of string'")
            reqs.append(new_requirement(key, DOES_NOT_EXIST))
        elif kind in (",", "end"):
            reqs.append(new_requirement(key, EXISTS))
        elif kind == "op" and text in ("=", "==", "!=", ">", "<"):
            pos += 1
            vkind, value = peek()
            if vkind in (",", "end"):
                value = ""  # "app=" selects an empty value
            elif vkind != "id":
                raise fail(value, "identifier")
            else:
                pos += 1
            op = {"=": EQUALS, "==": DOUBLE_EQUALS, "!=": NOT_EQUALS, ">": GREATER_THAN, "<": LESS_THAN}[text]
            reqs.append(new_requirement(key, op, [value]))
        elif kind == "kw":
            pos += 1
            if peek()[0] != "(":
                raise fail(peek()[1], "'('")
            pos += 1
            values: list[str] = []
            if peek()[0] == ")":
                pos += 1  # "in ()": new_requirement refuses it, in upstream's words
            else:
                while True:
                    vkind, value = peek()
                    if vkind == "id":
                        values.append(value)
                        pos += 1
                        vkind, value = peek()
                    elif vkind in (",", ")"):
                        values.append("")  # "in (a,)" carries an empty value, as upstream
                    else:
                        raise fail(value, "',', ')' or identifier")
                    pos += 1
                    if vkind == ")":
                        break
                    if vkind != ",":
                        raise fail(value, "',' or ')'")
            reqs.append(new_requirement(key, text, values))
        else:
            raise fail(text, "'=', '!=', '==', 'in', notin'")
        kind, text = peek()
        if kind == "end":
            break
        if kind != ",":
            raise fail(text, "',' or 'end of string'")
        pos += 1
    return LabelSelector(reqs)


_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}


def label_selector_from_dict(sel: Mapping[str, Any] | None) -> LabelSelector:
    """The selector a ``metav1.LabelSelector`` (``matchLabels``/``matchExpressions``) means.

    ``None`` matches nothing and ``{}`` matches everything, as in
    ``metav1.LabelSelectorAsSelector``.
    """
    if sel is None:
        return LabelSelector.nothing()
    reqs: list[Requirement] = []
    for k, v in (sel.get("matchLabels") or {}).items():
        reqs.append(new_requirement(k, EQUALS, [v]))
    for expr in sel.get("matchExpressions") or []:
        op = _OPERATORS.get(expr.get("operator", ""))
        if op is None:
            raise BadRequest(f'"{expr.get("operator", "")}" is not a valid label selector operator')
        reqs.append(new_requirement(expr.get("key", ""), op, expr.get("values") or []))
    return LabelSelector(reqs)


def selector_to_string(sel: Mapping[str, Any] | None) -> str:
    """``{"matchLabels": {"app": "web"}}`` -> ``app=web`` (Scale's ``status.selector``)."""
    return str(label_selector_from_dict(sel or {}))


def selector_from_set(labels: Mapping[str, str]) -> LabelSelector:
    """``{"app": "web"}`` -> ``app=web`` (a Service's ``spec.selector``)."""
    return LabelSelector(Requirement(k, EQUALS, (v,)) for k, v in labels.items())


# --- field selectors ---

def _str(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _path(*keys: str) -> Callable[[Mapping[str, Any]], str]:
    def get(obj: Mapping[str, Any]) -> str:
        cur: Any = obj
        for k in keys:
            if not isinstance(cur, Mapping):
                return ""
            cur = cur.get(k)
        return _str(cur)
    return get


_META_FIELDS = {"metadata.name": _path("metadata", "name"), "metadata.namespace": _path("metadata", "namespace")}

# The fields each kind's API server storage indexes (upstream: each type's
# AddFieldLabelConversionFunc / GetAttrs). Everything else is refused.
FIELD_SELECTABLE: dict[str, dict[str, Callable[[Mapping[str, Any]], str]]] = {
    "Pod": {
        "spec.nodeName": _path("spec", "nodeName"),
        "spec.restartPolicy": _path("spec", "restartPolicy"),
        "spec.schedulerName": _path("spec", "schedulerName"),
        "spec.serviceAccountName": _path("spec", "serviceAccountName"),
        "spec.hostNetwork": lambda o: _str(bool((o.get("spec") or {}).get("hostNetwork"))),
        "status.phase": _path("status", "phase"),
        "status.podIP": _path("status", "podIP"),
        "status.nominatedNodeName": _path("status", "nominatedNodeName"),
    },
    "Node": {"spec.unschedulable": lambda o: _str(bool((o.get("spec") or {}).get("unschedulable")))},
    "Event": {
        **{f"involvedObject.{f}": _path("involvedObject", f)
           for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")},
        "reason": _path("reason"),
        "reportingComponent": _path("reportingComponent"),
        "source": _path("source", "component"),
        "type": _path("type"),
    },
    "Secret": {"type": _path("type")},
    "Namespace": {"status.phase": _path("status", "phase")},
    "ReplicaSet": {"status.replicas": _path("status", "replicas")},
    "Service": {"spec.clusterIP": _path("spec", "clusterIP"), "spec.type": _path("spec", "type")},
}


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    op: str  # "=", "==" or "!="
    value: str
    getter: Callable[[Mapping[str, Any]], str]

    def matches(self, obj: Mapping[str, Any]) -> bool:
        have = self.getter(obj)
        return have != self.value if self.op == NOT_EQUALS else have == self.value

    def __str__(self) -> str:
        v = self.value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")
        return f"{self.field}{self.op}{v}"


class FieldSelector:
    """``spec.nodeName=n1,status.phase!=Failed``: every term must hold."""

    def __init__(self, requirements: Iterable[FieldRequirement] = ()) -> None:
        self.requirements = tuple(requirements)

    def empty(self) -> bool:
        return not self.requirements

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all(r.matches(obj) for r in self.requirements)

    def value_for(self, field: str) -> str | None:
        """The value an ``=`` term pins ``field`` to (e.g. ``metadata.name`` for a one-object watch)."""
        for r in self.requirements:
            if r.field == field and r.op != NOT_EQUALS:
                return r.value
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)

    def __repr__(self) -> str:
        return f"FieldSelector({str(self)!r})"


def _split_unescaped(s: str, sep: str) -> list[str]:
    parts, cur, i = [], [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            cur.append(s[i:i + 2])
            i += 2
            continue
        if c == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def _unescape(v: str) -> str:
    out, i = [], 0
    while i < len(v):
        if v[i] == "\\":
            if i + 1 >= len(v) or v[i + 1] not in "\\,=":
                raise BadRequest(f"invalid field selector: invalid escape sequence in {v!r}")
            out.append(v[i + 1])
            i += 2
        else:
            out.append(v[i])
            i += 1
    return "".join(out)


def parse_field_selector(s: str | None, kind: str | None = None) -> FieldSelector:
    """Parse a field selector; with ``kind``, refuse fields that kind does not index.

    >>> parse_field_selector("spec.nodeName=n1", "Pod").matches({"spec": {"nodeName": "n1"}})
    True
    """
    if s is None or not s.strip():
        return FieldSelector()
    fields = dict(_META_FIELDS)
    if kind is not None:
        fields.update(FIELD_SELECTABLE.get(kind, {}))
    reqs = []
    for term in _split_unescaped(s, ","):
        if not term:
            continue
        for op in (NOT_EQUALS, DOUBLE_EQUALS, EQUALS):
            idx = _find_unescaped(term, op)
            if idx >= 0:
                field, value = term[:idx].strip(), _unescape(term[idx + len(op):])
                break
        else:
            raise BadRequest(f"invalid selector: '{s}'; can't understand '{term}'")
        getter = fields.get(field)
        if getter is None:
            if kind is not None:
                raise BadRequest(f"field label not supported: {field}")
            getter = _path(*field.split("."))
        reqs.append(FieldRequirement(field, op, value, getter))
    return FieldSelector(reqs)


def _find_unescaped(term: str, op: str) -> int:
    i = 0
    while i < len(term):
        if term[i] == "\\":
            i += 2
            continue
        if term.startswith(op, i):
            return i
        i += 1
    return -1
