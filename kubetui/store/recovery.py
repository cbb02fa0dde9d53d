"""Startup: rebuild the state from the last checkpoint plus the log.

This is what etcd does when it restarts (``etcdserver.NewServer`` loading the
snapshot, then replaying the WAL entries after it). Records at or below the
checkpoint's revision are already in it; they are read only to rebuild the
watch history, so a client can resume a watch across a restart of kubetui.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kubetui.store.checkpoint import Checkpoint
from kubetui.store.errors import Corrupt
from kubetui.store.kv import DELETE, PUT, KeyValue, StoreEvent
from kubetui.store.wal import list_segments, read_segment

CHECKPOINT_FILE = "state.json"


@dataclass
class Recovered:
    checkpoint: Checkpoint
    checkpoint_revision: int
    revision: int
    state: dict[str, KeyValue]
    # (wall-clock time of the write, event), oldest first, contiguous revisions
    events: list[tuple[float, StoreEvent]] = field(default_factory=list)
    # the segment to keep appending to: (first revision, records in it, valid length, torn?)
    last_segment: tuple[int, int, int, bool] | None = None
    torn_bytes: int = 0


def recover(directory: Path, *, read_only: bool) -> Recovered:
    """Load ``directory``'s checkpoint and replay its log segments.

    A torn final record of the last segment is skipped (and reported in
    ``torn_bytes``); any other damage raises ``Corrupt``.
    """
    checkpoint = Checkpoint(directory / CHECKPOINT_FILE, read_only=read_only)
    cp_rev, kvs = checkpoint.load()
    state = {kv.key: kv for kv in kvs}
    out = Recovered(checkpoint, cp_rev, cp_rev, state)
    # What each key held, as far as the replayed log tells (for prev_kv of
    # events older than the checkpoint; keys last written before the oldest
    # kept segment are unknown, so those events carry prev_kv=None).
    shadow: dict[str, KeyValue] = {}
    last_rev: int | None = None
    segments = list_segments(directory)
    for i, (first, path) in enumerate(segments):
        is_last = i == len(segments) - 1
        records, valid = read_segment(path, last=is_last)
        if records and records[0].rev != first:
            raise Corrupt(f"{path}: first record has revision {records[0].rev}, not {first}")
        for rec in records:
            if last_rev is not None and rec.rev != last_rev + 1:
                raise Corrupt(f"{path}: revision {rec.rev} follows {last_rev}")
            last_rev = rec.rev
            if rec.op not in (PUT, DELETE):
                raise Corrupt(f"{path}: revision {rec.rev} has unknown op {rec.op!r}")
            applies = rec.rev > cp_rev
            if applies:
                if rec.rev != out.revision + 1:
                    raise Corrupt(f"{path}: log resumes at {rec.rev} after checkpoint {out.revision}")
                prev = state.get(rec.key)
            else:
                prev = shadow.get(rec.key)
            kv = KeyValue(rec.key, None, rec.create, rec.rev, rec.ver, raw=rec.value)
            out.events.append((rec.ts, StoreEvent(rec.op, kv, prev, rec.rev)))
            if rec.op == PUT:
                shadow[rec.key] = kv
            else:
                shadow.pop(rec.key, None)
            if applies:
                if rec.op == PUT:
                    state[rec.key] = kv
                else:
                    state.pop(rec.key, None)
                out.revision = rec.rev
        if is_last:
            size = path.stat().st_size
            out.torn_bytes = size - valid
            out.last_segment = (first, len(records), valid, size != valid)
    return out
