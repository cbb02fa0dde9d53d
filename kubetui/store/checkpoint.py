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
from kubetui.store.kv import KeyValue, encode_value
from kubetui.store.wal import fsync_dir

log = logging.getLogger(__name__)

FORMAT = 1
STATE_TABLE = "state"
META_TABLE = "meta"


class RawJSON(bytes):
    """A value already encoded as JSON: written into the file as is."""

    __slots__ = ()


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def _encode_doc(doc: dict[str, Any]) -> bytes:
    if not any(isinstance(v, RawJSON) for v in doc.values()):
        return _dumps(doc)
    return b"{" + b",".join(
        _dumps(k) + b":" + (v if isinstance(v, RawJSON) else _dumps(v)) for k, v in doc.items()
    ) + b"}"


class AtomicJSONStorage(Storage):
    """A TinyDB storage that never leaves a half-written file behind.

    It encodes one document at a time, so a checkpoint written from a thread
    never holds the GIL for long and the event loop keeps serving.
    """

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
        with open(tmp, "wb") as f:
            f.write(b"{")
            for ti, (name, table) in enumerate(data.items()):
                f.write((b"," if ti else b"") + _dumps(name) + b":{")
                for di, (doc_id, doc) in enumerate(table.items()):
                    f.write((b"," if di else b"") + _dumps(str(doc_id)) + b":" + _encode_doc(doc))
                f.write(b"}")
            f.write(b"}")
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
            KeyValue(d["key"], None, d["create_revision"], d["mod_revision"], d["version"],
                     raw=encode_value(d["value"]))
            for d in self._db.table(STATE_TABLE).all()
        ]
        self._drop_cache()
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
            {"key": kv.key, "value": RawJSON(kv.raw), "create_revision": kv.create_revision,
             "mod_revision": kv.mod_revision, "version": kv.version}
            for kv in kvs
        )
        meta.truncate()
        meta.insert({"format": FORMAT, "revision": revision})
        self._db.storage.flush()  # type: ignore[attr-defined]
        self._drop_cache()
        log.debug("checkpoint at revision %d written to %s", revision, self.path)

    def _drop_cache(self) -> None:
        # The store keeps the state itself; TinyDB's cache would only be a
        # second copy. An empty cache (not None) also spares the next ``save``
        # from reading the old file back.
        self._db.storage.cache = {}  # type: ignore[attr-defined]

    def close(self) -> None:
        # Not ``TinyDB.close()``: CachingMiddleware would flush on close, and a
        # checkpoint must only ever be written by ``save``.
        self._drop_cache()
