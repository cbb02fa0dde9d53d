"""The store: kubetui's etcd (upstream: etcd's ``mvcc`` key-value store, reached
by kube-apiserver through ``k8s.io/apiserver/pkg/storage/etcd3``).

Every object lives under an etcd-style key (``/registry/pods/default/web-1``).
One global revision counts every write; the write's revision becomes the
object's ``metadata.resourceVersion``. Updates and deletes can be
compare-and-swap on the revision a client last saw, which is how Kubernetes'
optimistic concurrency ("the object has been modified") works.

Durability follows etcd: a write is acknowledged only after its record is in
the write-ahead log and fsync'd. A single writer task takes every write
waiting at that moment, checks them in order, appends them with one write and
one fsync (*group commit*), then applies them in memory, feeds the watchers
and wakes every caller. Reads are served from memory.

On disk, a store directory holds (see ``wal.py`` and ``checkpoint.py``)::

    state.json                      TinyDB checkpoint: tables "state" and "meta"
    state.json.tmp                  a checkpoint being written (ignored on load)
    wal-<first revision>.log        write-ahead log segments, JSON lines
    lock                            held (flock) by the process writing the store

``Store(None)`` keeps everything in memory, for tests and simulations.
"""

from __future__ import annotations

import asyncio
import bisect
import fcntl
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubetui.clock import Clock
from kubetui.store.checkpoint import Checkpoint
from kubetui.store.errors import (
    Compacted, KeyExists, KeyNotFound, ReadOnly, RevisionMismatch, StoreError, StoreFailed,
)
from kubetui.store.kv import DELETE, PUT, KeyValue, StoreEvent, encode_value, stamped
from kubetui.store.recovery import recover
from kubetui.store.wal import Record, SegmentWriter, encode, fsync_dir, list_segments
from kubetui.store.watch import History, StoreWatch, WatchHub

log = logging.getLogger(__name__)

_CREATE, _UPDATE, _DELETE, _BARRIER = "create", "update", "delete", "barrier"


@dataclass(slots=True)
class _Op:
    kind: str
    key: str
    value: dict[str, Any] | None
    expected: int | None
    future: asyncio.Future[Any]


class Store:
    """An etcd-like key-value store with revisions, watch and compare-and-swap.

    ``path`` is the store directory (created if missing), or ``None`` for a
    purely in-memory store. ``read_only=True`` loads and replays the files
    without ever writing them (for inspecting a store no cluster is running).
    """

    def __init__(self, path: str | Path | None, history_events: int = 10_000,
                 history_seconds: float = 300, clock: Clock | None = None, *,
                 read_only: bool = False, checkpoint_every: int = 10_000,
                 watch_queue_limit: int = 10_000) -> None:
        self.path = Path(path) if path is not None else None
        self.read_only = read_only
        self.checkpoint_every = checkpoint_every
        self.watch_queue_limit = watch_queue_limit
        self._clock = clock or Clock()
        self._history = History(history_events, history_seconds, self._clock.monotonic)
        self._hub = WatchHub()
        self._state: dict[str, KeyValue] = {}
        self._keys: list[str] = []  # sorted, for range()
        self._revision = 0
        self._checkpoint_revision = 0
        self._opened = False
        self._closing = False
        self._failed: BaseException | None = None
        self._pending: list[_Op] = []
        self._wakeup: asyncio.Event | None = None
        self._writer: asyncio.Task[None] | None = None
        self._checkpoint: Checkpoint | None = None
        self._checkpoint_task: asyncio.Task[None] | None = None
        self._since_checkpoint = 0
        self._segment: SegmentWriter | None = None
        self._rotate = False
        self._wal_executor: ThreadPoolExecutor | None = None
        self._lock_fd: int | None = None
        self.torn_bytes = 0  # bytes of a torn final log record dropped at open
        # Counters for benchmarks and the TUI: log appends (one fsync each),
        # records they carried (their ratio is the group-commit batch size), checkpoints.
        self.stats = {"wal_appends": 0, "wal_records": 0, "checkpoints": 0}

    # ---------------------------------------------------------------- lifecycle

    async def open(self) -> None:
        """Load the checkpoint, replay the log, and start the writer."""
        if self._opened:
            return
        if self.path is not None:
            if self.read_only:
                if not self.path.is_dir():
                    raise StoreError(f"no store at {self.path}")
            else:
                self.path.mkdir(parents=True, exist_ok=True)
                self._take_lock()
            rec = await asyncio.to_thread(recover, self.path, read_only=self.read_only)
            self._checkpoint = rec.checkpoint
            self._checkpoint_revision = rec.checkpoint_revision
            self._revision = rec.revision
            self._state = rec.state
            self._keys = sorted(rec.state)
            self.torn_bytes = rec.torn_bytes
            now_wall, now_mono = self._clock.time(), self._clock.monotonic()
            for ts, event in rec.events:
                self._history.append(event, at=now_mono - max(0.0, now_wall - ts))
            self._history.trim()
            self._since_checkpoint = self._revision - self._checkpoint_revision
            if rec.torn_bytes:
                log.warning("store %s: dropped a torn final log record (%d bytes, never acknowledged)",
                            self.path, rec.torn_bytes)
            if not self.read_only:
                self._wal_executor = ThreadPoolExecutor(1, thread_name_prefix="kubetui-wal")
                if rec.last_segment is not None:
                    first, count, valid, torn = rec.last_segment
                    if count == 0 and first != self._revision + 1:
                        raise StoreError(f"store {self.path}: empty log segment {first} does not "
                                         f"follow revision {self._revision}")
                    self._segment = SegmentWriter(self.path, first, truncate_at=valid if torn else None)
                    self._segment.records = count
        self._wakeup = asyncio.Event()
        self._opened = True
        if not self.read_only:
            self._writer = asyncio.create_task(self._run_writer(), name="kubetui-store-writer")
        log.info("store %s open at revision %d (%d keys)", self.path or "(memory)",
                 self._revision, len(self._state))

    async def close(self) -> None:
        """Finish every pending write, write a final checkpoint, end all watches."""
        if not self._opened or self._closing:
            return
        self._closing = True
        if self._writer is not None:
            assert self._wakeup is not None
            self._wakeup.set()
            await self._writer
        if self._checkpoint_task is not None:
            await self._checkpoint_task
        if (self.path is not None and not self.read_only and self._failed is None
                and self._checkpoint is not None and self._revision != self._checkpoint_revision):
            await self._write_checkpoint(self._revision, list(self._state.values()))
        if self._segment is not None:
            self._segment.close()
        if self._wal_executor is not None:
            self._wal_executor.shutdown()
        if self._checkpoint is not None:
            self._checkpoint.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        self._hub.close_all()
        self._opened = False

    async def __aenter__(self) -> "Store":
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _take_lock(self) -> None:
        assert self.path is not None
        fd = os.open(self.path / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreError(f"store {self.path} is in use by another process") from None
        self._lock_fd = fd

    # -------------------------------------------------------------------- reads

    def health(self) -> str | None:
        """None while the store serves reads and writes, else why not (kube-apiserver's etcd health check)."""
        if not self._opened or self._closing:
            return "the store is not open"
        if self._failed is not None:
            return f"writes stopped after a failure: {self._failed}"
        return None

    @property
    def revision(self) -> int:
        """The revision of the last acknowledged write (0 for an empty store)."""
        return self._revision

    @property
    def oldest_revision(self) -> int:
        """The oldest revision still in the event history (``revision + 1`` if none).

        ``watch(prefix, after_revision)`` works for any
        ``after_revision >= oldest_revision - 1``.
        """
        self._history.trim()
        return self._history.oldest_revision(self._revision)

    def get(self, key: str, *, copy: bool = True) -> KeyValue | None:
        """The key's current value. With ``copy=False`` the value is shared: do not mutate it."""
        kv = self._state.get(key)
        return kv.fresh() if (kv is not None and copy) else kv

    def range(self, prefix: str, *, copy: bool = True) -> list[KeyValue]:
        """Every key starting with ``prefix``, sorted by key."""
        keys = self._keys
        i = bisect.bisect_left(keys, prefix)
        out = []
        while i < len(keys) and keys[i].startswith(prefix):
            kv = self._state[keys[i]]
            out.append(kv.fresh() if copy else kv)
            i += 1
        return out

    def count(self, prefix: str) -> int:
        """How many keys start with ``prefix``."""
        i = bisect.bisect_left(self._keys, prefix)
        j = i
        while j < len(self._keys) and self._keys[j].startswith(prefix):
            j += 1
        return j - i

    def history(self, key: str) -> list[StoreEvent]:
        """The events of ``key`` still in the history window, oldest first."""
        self._history.trim()
        return self._history.of_key(key)

    def events(self) -> list[StoreEvent]:
        """Every event still in the history window, oldest first."""
        self._history.trim()
        return self._history.all()

    def watch(self, prefix: str, after_revision: int) -> StoreWatch:
        """Events for keys under ``prefix`` with revision > ``after_revision``.

        ``after_revision=store.revision`` means "only future events". Raises
        ``Compacted`` if events after ``after_revision`` have left the history.
        """
        oldest = self.oldest_revision
        if after_revision < oldest - 1:
            raise Compacted(after_revision, oldest)
        w = StoreWatch(self._hub, prefix, after_revision, self.watch_queue_limit)
        w._preload(self._history.since(after_revision))
        if self._closing or not self._opened:
            w.close()
        else:
            self._hub.add(w)
        return w

    @property
    def watcher_count(self) -> int:
        return len(self._hub)

    # ------------------------------------------------------------------- writes

    async def create(self, key: str, value: dict[str, Any]) -> KeyValue:
        """Store ``value`` under a new key. ``KeyExists`` if the key holds a value."""
        return (await self._submit(_CREATE, key, value, None)).fresh()

    async def update(self, key: str, value: dict[str, Any],
                     expected_mod_revision: int | None = None) -> KeyValue:
        """Replace the key's value; with ``expected_mod_revision``, only if it still matches.

        ``KeyNotFound`` if the key is empty, ``RevisionMismatch`` if the CAS fails.
        """
        return (await self._submit(_UPDATE, key, value, expected_mod_revision)).fresh()

    async def delete(self, key: str, expected_mod_revision: int | None = None) -> KeyValue:
        """Delete the key; returns its last value stamped with the deletion revision."""
        return (await self._submit(_DELETE, key, None, expected_mod_revision)).fresh()

    async def checkpoint(self) -> None:
        """Write a checkpoint now (after every write submitted so far is durable)."""
        await self._submit(_BARRIER, "", None, None)
        if self.path is None:
            return
        if self._checkpoint_task is not None:
            await self._checkpoint_task
        self._start_checkpoint()
        if self._checkpoint_task is not None:
            await self._checkpoint_task

    async def _submit(self, kind: str, key: str, value: dict[str, Any] | None,
                      expected: int | None) -> Any:
        if self.read_only:
            raise ReadOnly(f"store {self.path} is opened read-only")
        if self._failed is not None:
            raise StoreFailed(f"store {self.path} stopped after a write failure: {self._failed}")
        if not self._opened or self._closing:
            raise StoreError("store is not open")
        if kind in (_CREATE, _UPDATE):
            if not isinstance(value, dict):
                raise TypeError(f"store values are JSON objects (dict), not {type(value).__name__}")
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append(_Op(kind, key, value, expected, fut))
        assert self._wakeup is not None
        self._wakeup.set()
        return await fut

    # ------------------------------------------------------------- writer task

    async def _run_writer(self) -> None:
        assert self._wakeup is not None
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch, self._pending = self._pending, []
            await self._commit(batch)
            if (self._since_checkpoint >= self.checkpoint_every and self._checkpoint_task is None
                    and self.path is not None and self._failed is None and not self._closing):
                self._start_checkpoint()

    async def _commit(self, batch: list[_Op]) -> None:
        """Check, log (one write + one fsync), apply and acknowledge one batch."""
        now = self._clock.time()
        rev = self._revision
        overlay: dict[str, KeyValue | None] = {}
        lines: list[bytes] = []
        events: list[StoreEvent] = []
        outcomes: list[tuple[asyncio.Future[Any], Any]] = []
        for op in batch:
            if op.kind == _BARRIER:
                outcomes.append((op.future, None))
                continue
            cur = overlay[op.key] if op.key in overlay else self._state.get(op.key)
            try:
                event = self._check(op, cur, rev + 1)
                kv = event.kv
                line = encode(Record(rev + 1, now, event.type, kv.key, kv.raw,
                                     kv.create_revision, kv.version))
            except (StoreError, TypeError, ValueError) as e:
                outcomes.append((op.future, e))
                continue
            rev += 1
            overlay[op.key] = None if event.type == DELETE else kv
            lines.append(line)
            events.append(event)
            outcomes.append((op.future, kv))
        if lines and self._failed is None:
            try:
                await self._append(b"".join(lines), len(lines))
            except Exception as e:  # noqa: BLE001 - any failure here stops the store
                log.error("store %s: writing the log failed, refusing further writes: %s", self.path, e)
                self._failed = e
                err = StoreFailed(f"writing the store log failed: {e}")
                outcomes = [(f, err if isinstance(o, KeyValue) else o) for f, o in outcomes]
                events = []
            else:
                self._apply(events)
                self._revision = rev
                self._since_checkpoint += len(events)
        elif lines:
            err = StoreFailed(f"store stopped after a write failure: {self._failed}")
            outcomes = [(f, err if isinstance(o, KeyValue) else o) for f, o in outcomes]
            events = []
        for fut, outcome in outcomes:
            if fut.done():  # the caller gave up waiting; the write stands
                continue
            if isinstance(outcome, BaseException):
                fut.set_exception(outcome)
            else:
                fut.set_result(outcome)
        if events:
            self._hub.publish(events)

    @staticmethod
    def _check(op: _Op, cur: KeyValue | None, rev: int) -> StoreEvent:
        """The event ``op`` makes at ``rev``, or the store error that refuses it."""
        if op.kind == _CREATE:
            if cur is not None:
                raise KeyExists(op.key, cur)
        else:
            if cur is None:
                raise KeyNotFound(op.key)
            if op.expected is not None and op.expected != cur.mod_revision:
                raise RevisionMismatch(op.key, op.expected, cur)
        if op.kind == _DELETE:
            assert cur is not None
            raw = encode_value(stamped(json.loads(cur.raw), rev))
            kv = KeyValue(op.key, None, cur.create_revision, rev, 0, raw=raw)
            return StoreEvent(DELETE, kv, cur, rev)
        assert op.value is not None
        kv = KeyValue(op.key, None, rev if cur is None else cur.create_revision, rev,
                      1 if cur is None else cur.version + 1, raw=encode_value(stamped(op.value, rev)))
        return StoreEvent(PUT, kv, cur, rev)

    def _apply(self, events: list[StoreEvent]) -> None:
        mono = self._clock.monotonic()
        for ev in events:
            key = ev.kv.key
            if ev.type == DELETE:
                del self._state[key]
                i = bisect.bisect_left(self._keys, key)
                del self._keys[i]
            else:
                if key not in self._state:
                    bisect.insort(self._keys, key)
                self._state[key] = ev.kv
            self._history.append(ev, at=mono)
        self._history.trim()

    async def _append(self, data: bytes, count: int) -> None:
        if self.path is None:
            return
        if self._rotate or self._segment is None:
            self._rotate = False
            if self._segment is None or self._segment.records > 0:
                if self._segment is not None:
                    self._segment.close()
                self._segment = SegmentWriter(self.path, self._revision + 1)
        segment = self._segment
        await asyncio.get_running_loop().run_in_executor(self._wal_executor, segment.append, data, count)
        self.stats["wal_appends"] += 1
        self.stats["wal_records"] += count

    # -------------------------------------------------------------- checkpoints

    def _start_checkpoint(self) -> None:
        """Snapshot the state now and write it out in a thread, while writes go on."""
        if self._checkpoint is None or self._failed is not None:
            return
        self._rotate = True  # the next write starts a new segment, so old ones can go
        self._since_checkpoint = 0
        self._checkpoint_task = asyncio.create_task(
            self._write_checkpoint(self._revision, list(self._state.values())))

    async def _write_checkpoint(self, revision: int, snapshot: list[KeyValue]) -> None:
        assert self._checkpoint is not None and self.path is not None
        try:
            await asyncio.to_thread(self._checkpoint.save, revision, snapshot)
            self._checkpoint_revision = revision
            self.stats["checkpoints"] += 1
            current = self._segment.first_rev if self._segment is not None else self._revision + 1
            await asyncio.to_thread(_delete_old_segments, self.path, revision,
                                    self.oldest_revision, current)
        except Exception:  # noqa: BLE001 - the log still holds everything; try again later
            log.exception("store %s: checkpoint at revision %d failed", self.path, revision)
        finally:
            if self._checkpoint_task is asyncio.current_task():
                self._checkpoint_task = None


def _delete_old_segments(directory: Path, checkpoint_revision: int, oldest_kept: int,
                         current_first: int) -> None:
    """Remove log segments the checkpoint covers and the watch history no longer needs."""
    segments = list_segments(directory)
    removed = False
    for (first, path), (next_first, _) in zip(segments, segments[1:]):
        last = next_first - 1
        if first < current_first and last <= checkpoint_revision and last < oldest_kept:
            path.unlink()
            removed = True
    if removed:
        fsync_dir(directory)
