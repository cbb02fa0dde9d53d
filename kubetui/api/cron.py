"""Cron schedules as a CronJob reads them: parse, and find the next (or missed) times.

Upstream: the CronJob controller and its validation use ``github.com/robfig/cron/v3``
(``cron.ParseStandard``): five fields (minute hour day-of-month month
day-of-week), each a comma list of ``*``/``?``, ``a``, ``a-b`` with an optional
``/step`` (``a/step`` means ``a-max/step``), month and weekday names (``jan``,
``mon``), and the descriptors ``@yearly``/``@annually``, ``@monthly``,
``@weekly``, ``@daily``/``@midnight``, ``@hourly`` and ``@every <duration>``.
Errors are robfig's words, which kube-apiserver returns verbatim:
``end of range (61) above maximum (59): 61``.

Day matching follows Vixie cron: when both day-of-month and day-of-week are
restricted (neither starts with ``*``), a day matches if *either* does.
Times are wall-clock times in the schedule's zone (``zoneinfo``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

STAR_BIT = 1 << 63

_MONTHS = {n: i + 1 for i, n in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
_DAYS = {n: i for i, n in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}


@dataclass(frozen=True)
class _Bounds:
    min: int
    max: int
    names: dict[str, int] | None = None


MINUTES, HOURS = _Bounds(0, 59), _Bounds(0, 23)
DOM, MONTHS, DOW = _Bounds(1, 31), _Bounds(1, 12, _MONTHS), _Bounds(0, 6, _DAYS)

_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}


class CronError(ValueError):
    """A schedule robfig/cron refuses; ``str()`` is its message."""


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: one bit set per allowed value (``SpecSchedule``), or a constant delay."""

    minute: int = 0
    hour: int = 0
    dom: int = 0
    month: int = 0
    dow: int = 0
    every: float | None = None  # seconds, for ``@every``
    location: str | None = None  # a TZ=/CRON_TZ= prefix

    def next(self, after: dt.datetime) -> dt.datetime | None:
        """The first activation strictly after ``after`` (an aware datetime), or None within five years."""
        if self.every is not None:
            step = max(1.0, float(int(self.every)))
            base = after.replace(microsecond=0)
            return base + dt.timedelta(seconds=step)
        # Work in wall-clock minutes: truncate to the minute, then move forward.
        t = after.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        limit = t.year + 5
        while t.year <= limit:
            if not self.month >> t.month & 1:
                t = (t.replace(day=1, hour=0, minute=0) + dt.timedelta(days=32)).replace(day=1)
                continue
            if not self._day_matches(t):
                t = t.replace(hour=0, minute=0) + dt.timedelta(days=1)
                continue
            if not self.hour >> t.hour & 1:
                t = t.replace(minute=0) + dt.timedelta(hours=1)
                continue
            if not self.minute >> t.minute & 1:
                t = t + dt.timedelta(minutes=1)
                continue
            return t
        return None

    def _day_matches(self, t: dt.datetime) -> bool:
        dom_match = bool(self.dom >> t.day & 1)
        dow_match = bool(self.dow >> ((t.weekday() + 1) % 7) & 1)
        if self.dom & STAR_BIT or self.dow & STAR_BIT:
            return dom_match and dow_match
        return dom_match or dow_match


def _parse_int(expr: str) -> int:
    """``mustParseInt``: Go's strconv.Atoi and the non-negative check, worded as robfig words them."""
    if not re.fullmatch(r"[+-]?\d+", expr):
        raise CronError(f'failed to parse int from {expr}: strconv.Atoi: parsing "{expr}": invalid syntax')
    num = int(expr)
    if num < 0:
        raise CronError(f"negative number ({num}) not allowed: {expr}")
    return num


def _int_or_name(expr: str, bounds: _Bounds) -> int:
    if bounds.names and expr.lower() in bounds.names:
        return bounds.names[expr.lower()]
    return _parse_int(expr)


def _range(expr: str, bounds: _Bounds) -> int:
    """``getRange``: one ``a``, ``a-b``, ``*`` or ``?``, with an optional ``/step``."""
    range_and_step = expr.split("/")
    low_high = range_and_step[0].split("-")
    single = len(low_high) == 1
    extra = 0
    if low_high[0] in ("*", "?"):
        start, end, extra = bounds.min, bounds.max, STAR_BIT
    else:
        start = _int_or_name(low_high[0], bounds)
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            end = _int_or_name(low_high[1], bounds)
        else:
            raise CronError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _parse_int(range_and_step[1])
        if single:
            end = bounds.max
        if step > 1:
            extra = 0
    else:
        raise CronError(f"too many slashes: {expr}")
    if start < bounds.min:
        raise CronError(f"beginning of range ({start}) below minimum ({bounds.min}): {expr}")
    if end > bounds.max:
        raise CronError(f"end of range ({end}) above maximum ({bounds.max}): {expr}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronError(f"step of range should be a positive number: {expr}")
    bits = 0
    for v in range(start, end + 1, step):
        bits |= 1 << v
    return bits | extra


def _field(text: str, bounds: _Bounds) -> int:
    bits = 0
    for part in text.split(","):
        bits |= _range(part, bounds)
    return bits


_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _go_duration(text: str) -> float:
    """Go's ``time.ParseDuration`` for the ``@every`` descriptor (``1h30m``, ``90s``)."""
    if text in ("0",):
        return 0.0
    pos, total = 0, 0.0
    while pos < len(text):
        m = _DURATION.match(text, pos)
        if not m:
            raise CronError(f'failed to parse duration @every {text}: time: invalid duration "{text}"')
        total += float(m.group(1)) * _UNIT[m.group(2)]
        pos = m.end()
    if not text:
        raise CronError(f'failed to parse duration @every {text}: time: invalid duration ""')
    return total


def parse(spec: str) -> Schedule:
    """``cron.ParseStandard``: a Schedule, or ``CronError`` with robfig's message."""
    if len(spec) == 0:
        raise CronError("empty spec string")
    location = None
    if spec.startswith("TZ=") or spec.startswith("CRON_TZ="):
        head, _, spec = spec.partition(" ")
        location = head.split("=", 1)[1]
        try:
            ZoneInfo(location)
        except (ZoneInfoNotFoundError, ValueError):
            raise CronError(f"provided bad location {location}: unknown time zone {location}") from None
        spec = spec.strip()
    if spec.startswith("@"):
        if spec.startswith("@every "):
            return Schedule(every=_go_duration(spec[len("@every "):].strip()), location=location)
        if spec not in _DESCRIPTORS:
            raise CronError(f"unrecognized descriptor: {spec}")
        spec = _DESCRIPTORS[spec]
    fields = spec.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    return Schedule(minute=_field(fields[0], MINUTES), hour=_field(fields[1], HOURS), dom=_field(fields[2], DOM),
                    month=_field(fields[3], MONTHS), dow=_field(fields[4], DOW), location=location)


def load_zone(name: str | None) -> dt.tzinfo:
    """The zone a schedule runs in: ``timeZone`` by IANA name, else the controller's (UTC here)."""
    if not name:
        return dt.timezone.utc
    return ZoneInfo(name)


def next_after(schedule: Schedule, after: float, zone: dt.tzinfo) -> float | None:
    """Epoch seconds of the first activation after ``after`` (epoch seconds), in ``zone``'s wall clock."""
    local = dt.datetime.fromtimestamp(after, zone)
    if schedule.every is None:
        # Walk in naive wall time, then attach the zone (a skipped DST hour resolves forward).
        naive = schedule.next(local.replace(tzinfo=None))
        if naive is None:
            return None
        return naive.replace(tzinfo=zone).timestamp()
    nxt = schedule.next(local)
    return nxt.timestamp() if nxt else None


__all__ = ["CronError", "Schedule", "parse", "next_after", "load_zone"]
