"""Kubernetes timestamp formats (the stdlib-only twin of ``kubetui.clock.rfc3339``)."""

from __future__ import annotations

import datetime as _dt


def rfc3339(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_micro(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse(value: str) -> float:
    return _dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def duration(seconds: float) -> str:
    """Go's ``time.Duration`` style, as backoff messages print it: ``10s``, ``1m20s``, ``5m0s``."""
    s = int(round(seconds))
    if s < 60:
        return f"{seconds:g}s" if seconds < 10 and seconds != int(seconds) else f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s}s"
    h, m = divmod(m, 60)
    return f"{h}h{m}m{s}s"
