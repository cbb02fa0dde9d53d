"""Container log files in the CRI format (upstream: ``pkg/kubelet/kuberuntime/logs``).

The runtime writes each line a container prints as::

    2026-11-28T00:39:16.123456789Z stdout F hello

(timestamp, stream, ``F`` for a full line or ``P`` for a partial one, text),
one file per container attempt, as containerd does under
``/var/log/pods/<ns>_<pod>_<uid>/<container>/<attempt>.log``. That is what
lets ``kubectl logs --previous`` read the last attempt and ``--timestamps``
show when each line was written.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import os
from dataclasses import dataclass
from typing import AsyncIterator, Callable


def rfc3339_nano(ts: float) -> str:
    dt = _dt.datetime.fromtimestamp(ts, _dt.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond:06d}000Z"


def format_line(ts: float, stream: str, data: bytes) -> bytes:
    """One CRI log line; ``data`` may end with a newline (full) or not (partial)."""
    if data.endswith(b"\n"):
        return f"{rfc3339_nano(ts)} {stream} F ".encode() + data
    return f"{rfc3339_nano(ts)} {stream} P ".encode() + data + b"\n"


@dataclass
class LogLine:
    timestamp: str
    stream: str
    full: bool
    text: bytes

    def render(self, timestamps: bool) -> bytes:
        body = self.text + (b"\n" if self.full else b"")
        return (self.timestamp.encode() + b" " + body) if timestamps else body


def parse_line(raw: bytes) -> LogLine | None:
    """The inverse of ``format_line`` (``raw`` without its trailing newline)."""
    parts = raw.split(b" ", 3)
    if len(parts) < 3:
        return None
    text = parts[3] if len(parts) == 4 else b""
    return LogLine(parts[0].decode(), parts[1].decode(), parts[2] == b"F", text)


class LogWriter:
    """Appends a process's stdout/stderr to one CRI log file."""

    def __init__(self, path: str, now: Callable[[], float]) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.path = path
        self._now = now
        self._f = open(path, "ab", buffering=0)

    async def pump(self, reader: asyncio.StreamReader, stream: str) -> None:
        while True:
            try:
                chunk = await reader.readuntil(b"\n")
            except asyncio.IncompleteReadError as e:
                chunk = e.partial
                if not chunk:
                    return
            except asyncio.LimitOverrunError as e:
                chunk = await reader.readexactly(e.consumed)
            self._f.write(format_line(self._now(), stream, chunk))

    def write(self, stream: str, data: bytes) -> None:
        """Log ``data`` as it came (a terminal's output: a prompt or an echoed key is a
        partial ``P`` line at once, not held back until a newline, as containerd logs a tty)."""
        start = 0
        while start < len(data):
            end = data.find(b"\n", start)
            end = len(data) if end < 0 else end + 1
            self._f.write(format_line(self._now(), stream, data[start:end]))
            start = end

    def close(self) -> None:
        self._f.close()


def read_lines(path: str, upto: int | None = None) -> list[LogLine]:
    """Every line of a CRI log file (only its first ``upto`` bytes if given)."""
    try:
        with open(path, "rb") as f:
            raw = f.read() if upto is None else f.read(upto)
    except FileNotFoundError:
        return []
    out = []
    for line in raw.split(b"\n"):
        if line:
            parsed = parse_line(line)
            if parsed:
                out.append(parsed)
    return out


def tail(lines: list[LogLine], tail_lines: int | None) -> list[LogLine]:
    if tail_lines is None or tail_lines < 0:
        return lines
    return lines[len(lines) - tail_lines:] if tail_lines else []


async def follow(path: str, start_offset: int, still_running: Callable[[], bool],
                 poll: float = 0.1) -> AsyncIterator[LogLine]:
    """Lines appended to ``path`` after ``start_offset`` until the container stops.

    Polls the file like ``kubectl logs -f`` does through the kubelet (upstream
    uses inotify; a short poll is enough here and needs nothing else).
    """
    offset = start_offset
    pending = b""
    while True:
        running = still_running()
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                data = f.read()
        except FileNotFoundError:
            data = b""
        if data:
            offset += len(data)
            pending += data
            *complete, pending = pending.split(b"\n")
            for raw in complete:
                parsed = parse_line(raw)
                if parsed:
                    yield parsed
        elif not running:
            return
        else:
            await asyncio.sleep(poll)
