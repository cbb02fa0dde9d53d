"""The API machinery the registry calls on every write: decoding checks,
defaulting and validation (upstream: the codec's strict decoding, the
scheme's defaulting functions and each strategy's ``Validate``).

They live in ``kubetui.api`` (validation, defaults, openapi). They are looked
up once, by name, so the registry keeps working, with fewer checks, where one
of them is missing; the lookup logs which ones were found.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import logging
import re
from typing import Any, Callable, Iterator

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


def _find(name: str, *modules: str) -> Callable[..., Any] | None:
    for module in modules:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name and module.startswith(e.name):
                continue  # not written yet
            raise
        fn = getattr(mod, name, None)
        if callable(fn):
            return fn
    return None


class Hooks:
    """The defaulting/validation functions found in ``kubetui.api``."""

    def __init__(self) -> None:
        self.apply_defaults = _find("apply_defaults", "kubetui.api.defaults")
        self.qos_class = _find("qos_class", "kubetui.api.defaults")
        self.validate = _find("validate", "kubetui.api.validation")
        self.unknown_fields = _find("unknown_fields", "kubetui.api.openapi", "kubetui.api.validation")
        self.type_errors = _find("type_errors", "kubetui.api.openapi", "kubetui.api.validation")
        missing = [n for n in ("apply_defaults", "validate", "unknown_fields", "type_errors")
                   if getattr(self, n) is None]
        if missing:
            log.warning("registry runs without %s (not found in kubetui.api)", ", ".join(missing))


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
