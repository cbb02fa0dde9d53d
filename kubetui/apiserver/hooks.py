"""The API machinery the registry calls on every write: decoding checks,
defaulting and validation (upstream: the codec's strict decoding, the
scheme's defaulting functions and each strategy's ``Validate``).

They live in ``kubetui.api`` (validation, defaults, openapi); every one is
required (a registry without validation would store anything).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
from typing import Any, Iterator

from kubetui.api import defaults, openapi, validation
from kubetui.apiserver import customresources
from kubetui.apiserver.admission import Admission

log = logging.getLogger(__name__)

# Warnings for the current request (``Warning: 299 - "..."`` response headers
# upstream). The HTTP server opens ``collect_warnings()`` around a call and
# sends what it collected.
_WARNINGS: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("kubetui_warnings", default=None)


def warn(message: str) -> None:
    """Attach a warning to the current request, if someone is collecting them."""
    sink = _WARNINGS.get()
    if sink is not None and message not in sink:
        sink.append(message)


@contextlib.contextmanager
def collect_warnings() -> Iterator[list[str]]:
    """``with collect_warnings() as warnings: await registry.create(...)``."""
    sink: list[str] = []
    token = _WARNINGS.set(sink)
    try:
        yield sink
    finally:
        _WARNINGS.reset(token)


class Hooks:
    """The defaulting/validation functions of ``kubetui.api`` the registry calls."""

    def __init__(self) -> None:
        self.admission = Admission()  # mutating admission plugins (ServiceAccount, Priority, ...)
        self.qos_class = defaults.qos_class
        self.validate = validation.validate

    # A custom resource is decoded by its CRD's structural schema (prune, default),
    # a built-in kind by its Go type's (here: the OpenAPI schemas and ``kubetui.api.defaults``).
    @staticmethod
    def apply_defaults(resource: Any, obj: Any) -> None:
        if customresources.custom(resource):
            customresources.apply_defaults(resource, obj)
        else:
            defaults.apply_defaults(resource, obj)

    @staticmethod
    def unknown_fields(resource: Any, obj: Any) -> list[str]:
        if customresources.custom(resource):
            return customresources.unknown_fields(resource, obj)
        return openapi.unknown_fields(resource, obj)

    @staticmethod
    def decodes_cleanly(resource: Any, obj: Any) -> bool:
        """True when neither ``type_errors`` nor ``unknown_fields`` would report anything
        (a built-in kind's common case, checked in one walk); False means: ask them."""
        return not customresources.custom(resource) and openapi.decodes_cleanly(resource, obj)

    @staticmethod
    def type_errors(resource: Any, obj: Any) -> list:
        if customresources.custom(resource):
            return []  # the schema's type errors are 422s from validation, as upstream
        return openapi.type_errors(resource, obj)


_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def prune(obj: Any, path: str) -> None:
    """Drop the field at ``path`` (``spec.containers[0].imagee``), as Go's decoder drops unknown fields."""
    tokens: list[str | int] = [m.group(1) if m.group(1) is not None else int(m.group(2))
                               for m in _PATH_TOKEN.finditer(path.lstrip("."))]
    cur = obj
    for t in tokens[:-1]:
        if isinstance(t, int):
            if not isinstance(cur, list) or t >= len(cur):
                return
        elif not isinstance(cur, dict) or t not in cur:
            return
        cur = cur[t]
    if tokens and isinstance(cur, dict) and isinstance(tokens[-1], str):
        cur.pop(tokens[-1], None)
