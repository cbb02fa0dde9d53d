"""Checkpoints: the whole state in one TinyDB file, replaced atomically.

This plays etcd's *snapshot* (``etcdserver/api/snap``): every so often the
state is written out whole, so startup replays only the log written since.
TinyDB keeps the data (tables ``state`` and ``meta``), but its stock
``JSONStorage`` rewrites the file in place, and a crash in the middle leaves
half a file. ``AtomicJSONStorage`` writes a temporary file, fsyncs it,
renames it over the old one and fsyncs the directory: after a crash the file
is either the old checkpoint or the new one, never a mix.

TinyDB's table API reads and rewrites the whole database on every call, so the
checkpoint sits behind ``CachingMiddleware`` and reaches the disk in exactly one
write.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Iterable

from tinydb import TinyDB
from tinydb.middlewares import CachingMiddleware
from tinydb.storages import Storage

from kubetui.store.errors import Corrupt, ReadOnly
from kubetui.store.kv import KeyValue
from kubetui.store.wal import fsync_dir

log = logging.getLogger(__name__)

FORMAT = 1
STATE_TABLE = "state"
META_TABLE = "meta"


class AtomicJSONStorage(Storage):
    """A TinyDB storage that never leaves a half-written file behind."""

    def __init__(self, path: str | Path, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only

    def read(self) -> dict[str, dict[str, Any]] | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            return json.loads(text) if text.strip() else None
        except ValueError as e:
            # Cannot happen through this storage (writes are atomic): the file
            # was damaged from outside.
            raise Corrupt(f"{self.path}: not a readable checkpoint: {e}") from e

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        if self.read_only:
            raise ReadOnly(f"{self.path} is opened read-only")
        tmp = self.path.with_name(self.path.name + ".tmp")
        body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        with open(tmp, "wb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        fsync_dir(self.path.parent)

    def close(self) -> None:
        pass


class Checkpoint:
    """The TinyDB file holding the state as of one revision."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        self._db = TinyDB(path, storage=CachingMiddleware(AtomicJSONStorage), read_only=read_only)

    def load(self) -> tuple[int, list[KeyValue]]:
        """The checkpoint's revision and every key-value in it (``(0, [])`` if none)."""
        meta = self._db.table(META_TABLE).all()
        if not meta:
            return 0, []
        m = meta[0]
        if m.get("format") != FORMAT:
            raise Corrupt(f"{self.path}: unknown checkpoint format {m.get('format')!r}")
        kvs = [
            KeyValue(d["key"], d["value"], d["create_revision"], d["mod_revision"], d["version"])
            for d in self._db.table(STATE_TABLE).all()
        ]
        return int(m["revision"]), kvs

    def save(self, revision: int, kvs: Iterable[KeyValue]) -> None:
        """Replace the checkpoint with ``kvs`` at ``revision``. Blocking; one disk write.

        The key-values must not change while this runs (the store never
        mutates a stored value, so a snapshot list of them is enough).
        """
        state = self._db.table(STATE_TABLE, cache_size=0)
        meta = self._db.table(META_TABLE, cache_size=0)
        state.truncate()
        state.insert_multiple(
            {"key": kv.key, "value": kv.value, "create_revision": kv.create_revision,
             "mod_revision": kv.mod_revision, "version": kv.version}
            for kv in kvs
        )
        meta.truncate()
        meta.insert({"format": FORMAT, "revision": revision})
        self._db.storage.flush()  # type: ignore[attr-defined]
        log.debug("checkpoint at revision %d written to %s", revision, self.path)

    def close(self) -> None:
        # Not ``TinyDB.close()``: CachingMiddleware would flush on close, and a
        # checkpoint must only ever be written by ``save``.
        self._db.storage.cache = None  # type: ignore[attr-defined]
