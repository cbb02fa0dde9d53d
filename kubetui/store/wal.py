"""The write-ahead log: etcd's ``wal`` package, in JSON lines.

etcd acknowledges a write only once its log entry is on disk (fsync'd); the
in-memory state and the snapshot are rebuilt from the log after a crash. Here
each record is one line::

    <crc32 of the JSON, 8 hex digits> <JSON>\\n

with JSON ``{"rev", "ts", "op", "key", "create", "ver", "value"}`` (the value last). The log is
split into *segments* named by the first revision they hold
(``wal-0000000000000001.log``): a checkpoint starts a new segment, and old
segments are deleted once the checkpoint covers them and the watch history no
longer needs them.

A crash (``kill -9``, power loss) can leave the last record of the last
segment half written; the checksum spots it, and it is dropped: it was never
acknowledged. A bad record anywhere else means the files were damaged, and
opening fails rather than silently losing acknowledged writes.
"""

from __future__ import annotations

import json
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

from kubetui.store.errors import Corrupt

SEGMENT_RE = re.compile(r"^wal-(\d{16})\.log$")


@dataclass(frozen=True, slots=True)
class Record:
    """One logged write."""

    rev: int
    ts: float  # wall-clock time of the write (seconds since the epoch)
    op: str  # "PUT" or "DELETE"
    key: str
    value: bytes  # the stored value's JSON; for DELETE, the deleted value's
    create: int  # create_revision
    ver: int  # version after the write (0 for DELETE)


_VALUE = b',"value":'
_HEAD = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)  # one for every record


def encode(rec: Record) -> bytes:
    """One log line for ``rec``.

    The value's JSON is spliced in last, as is, so it is never encoded twice
    (and ``decode`` can cut it out without parsing it).
    """
    head = _HEAD.encode({"rev": rec.rev, "ts": rec.ts, "op": rec.op, "key": rec.key,
                         "create": rec.create, "ver": rec.ver}).encode()
    body = head[:-1] + _VALUE + rec.value + b"}"
    return b"%08x %s\n" % (zlib.crc32(body), body)


def decode(line: bytes) -> Record | None:
    """The record on ``line`` (without its newline), or ``None`` if it is damaged."""
    if len(line) < 10 or line[8:9] != b" ":
        return None
    body = line[9:]
    try:
        if int(line[:8], 16) != zlib.crc32(body):
            return None
        # No JSON string can hold an unescaped quote, so the first `,"value":`
        # is the field itself, not part of the key.
        cut = body.index(_VALUE)
        d = json.loads(body[:cut] + b"}")
        value = body[cut + len(_VALUE):-1]
        if not value.startswith(b"{") or not body.endswith(b"}"):
            return None
        return Record(int(d["rev"]), float(d["ts"]), d["op"], d["key"], value,
                      int(d["create"]), int(d["ver"]))
    except (ValueError, KeyError, TypeError):
        return None


def segment_name(first_rev: int) -> str:
    return f"wal-{first_rev:016d}.log"


def list_segments(directory: Path) -> list[tuple[int, Path]]:
    """The log segments in ``directory``, oldest first, as ``(first revision, path)``."""
    out = []
    for p in directory.iterdir():
        m = SEGMENT_RE.match(p.name)
        if m:
            out.append((int(m.group(1)), p))
    return sorted(out)


def read_segment(path: Path, *, last: bool) -> tuple[list[Record], int]:
    """Every record in a segment, and the length of its valid prefix in bytes.

    In the ``last`` segment a damaged final record (no newline, bad checksum,
    bad JSON) is a torn write and is ignored. Anywhere else it is corruption.
    """
    data = path.read_bytes()
    records: list[Record] = []
    pos = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        end = len(data) if nl == -1 else nl
        rec = decode(data[pos:end]) if nl != -1 else None
        if rec is None:
            rest_is_blank = nl == -1 or not data[nl + 1:].strip(b"\0 \n")
            if last and rest_is_blank:
                break  # a torn final record: never acknowledged
            raise Corrupt(f"{path}: damaged record at byte {pos}")
        records.append(rec)
        pos = nl + 1
    return records, pos


def fsync_dir(directory: Path) -> None:
    """Make a file's creation, rename or removal in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SegmentWriter:
    """Appends batches of records to one segment; each append ends with fsync.

    Only the store's single writer task uses it (from a worker thread), so a
    batch of many writes costs one ``write`` and one ``fsync``: group commit.
    """

    def __init__(self, directory: Path, first_rev: int, *, truncate_at: int | None = None) -> None:
        self.directory = directory
        self.first_rev = first_rev
        self.path = directory / segment_name(first_rev)
        self.records = 0
        self._fd: int | None = None
        self._truncate_at = truncate_at

    def _open(self) -> int:
        existed = self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        if self._truncate_at is not None:
            # Cut a torn final record off before appending after it.
            os.ftruncate(fd, self._truncate_at)
            os.fsync(fd)
        if not existed:
            fsync_dir(self.directory)
        return fd

    def append(self, data: bytes, count: int) -> None:
        """Write ``data`` (``count`` records) and fsync. Blocking: call from a thread."""
        if self._fd is None:
            self._fd = self._open()
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        os.fdatasync(self._fd)
        self.records += count

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
