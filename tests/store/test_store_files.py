"""The store on disk: reopen, torn log records, atomic checkpoints, read-only opening, group commit."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from kubetui.clock import FakeClock
from kubetui.store import Compacted, Corrupt, ReadOnly, Store, StoreError, StoreFailed
from kubetui.store import wal
from kubetui.store.checkpoint import AtomicJSONStorage


def pod(name: str, **extra: object) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}, **extra}


def key(i: int) -> str:
    return f"/registry/pods/default/p{i}"


async def fill(s: Store, n: int, start: int = 0) -> None:
    await asyncio.gather(*(s.create(key(i), pod(f"p{i}")) for i in range(start, start + n)))


def segments(d: Path) -> list[Path]:
    return [p for _, p in wal.list_segments(d)]


async def test_reopen_restores_state_revision_and_watch_history(tmp_path: Path) -> None:
    async with Store(tmp_path, checkpoint_every=7) as s:
        await fill(s, 20)
        await s.update(key(3), pod("p3", spec={"x": 1}))
        await s.delete(key(4))
        before = s.range("/")
    async with Store(tmp_path) as s:
        assert s.revision == 22
        assert s.range("/") == before
        # A client can resume its watch across the restart.
        w = s.watch("/registry/pods/", 20)
        evs = [await w.__anext__(), await w.__anext__()]
        assert [(e.type, e.revision) for e in evs] == [("PUT", 21), ("DELETE", 22)]
        assert evs[0].prev_kv is not None and evs[0].prev_kv.mod_revision == 4
        assert evs[1].kv.value["metadata"]["resourceVersion"] == "22"
        kv = await s.create(key(99), pod("p99"))
        assert kv.mod_revision == 23
    async with Store(tmp_path) as s:
        assert s.revision == 23 and s.get(key(99)) is not None


async def test_torn_final_record_is_dropped_and_cut_off(tmp_path: Path) -> None:
    async with Store(tmp_path) as s:
        await fill(s, 5)
    # close() wrote a checkpoint; add a sixth write and tear a seventh, as a crash would.
    async with Store(tmp_path) as s:
        await s.create(key(5), pod("p5"))
        s._checkpoint_revision = s.revision  # keep close() from checkpointing: the log must be replayed
        s._failed = RuntimeError("pretend we crashed")
    last = segments(tmp_path)[-1]
    good = wal.encode(wal.Record(7, 0.0, "PUT", key(6), json.dumps(pod("p6")).encode(), 7, 1))
    with open(last, "ab") as f:
        f.write(good[: len(good) // 2])
    s = Store(tmp_path)
    await s.open()
    assert s.torn_bytes == len(good) // 2
    assert s.revision == 6 and s.get(key(5)) is not None and s.get(key(6)) is None
    kv = await s.create(key(7), pod("p7"))  # appended after the cut, not after the garbage
    assert kv.mod_revision == 7
    s._checkpoint_revision = s.revision
    s._failed = RuntimeError("crash again")
    await s.close()
    async with Store(tmp_path) as s2:
        assert s2.torn_bytes == 0 and s2.revision == 7 and s2.get(key(7)) is not None


@pytest.mark.parametrize("tail", [b"garbage without newline", b"0000beef {\"rev\":\n", b"\0" * 300])
async def test_any_damaged_last_record_counts_as_torn(tmp_path: Path, tail: bytes) -> None:
    async with Store(tmp_path) as s:
        await fill(s, 3)
    with open(segments(tmp_path)[-1], "ab") as f:
        f.write(tail)
    async with Store(tmp_path, read_only=True) as s:
        assert s.revision == 3 and s.torn_bytes == len(tail)


async def test_damage_before_the_last_record_is_corruption(tmp_path: Path) -> None:
    async with Store(tmp_path) as s:
        await fill(s, 3)
        s._checkpoint_revision = s.revision
        s._failed = RuntimeError("no final checkpoint")
    seg = segments(tmp_path)[-1]
    lines = seg.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"p', b'"q', 1)  # checksum no longer matches
    seg.write_bytes(b"".join(lines))
    with pytest.raises(Corrupt):
        await Store(tmp_path).open()


async def test_checkpoint_is_atomic_when_interrupted(tmp_path: Path, monkeypatch) -> None:
    async with Store(tmp_path) as s:
        await fill(s, 4)
    state = tmp_path / "state.json"
    good = state.read_bytes()

    def crash(*a: object) -> None:
        raise OSError("simulated crash before the rename")

    s = Store(tmp_path)
    await s.open()
    await fill(s, 4, start=4)
    monkeypatch.setattr(os, "replace", crash)
    await s.checkpoint()  # fails (logged); the write-ahead log still has everything
    assert state.read_bytes() == good, "the old checkpoint is untouched"
    assert (tmp_path / "state.json.tmp").exists(), "the half-done checkpoint is a separate file"
    s._failed = RuntimeError("crash")
    await s.close()
    monkeypatch.undo()
    async with Store(tmp_path) as s:
        assert s.revision == 8 and len(s.range("/")) == 8
    data = json.loads(state.read_text())
    assert data["meta"]["1"]["revision"] == 8 and len(data["state"]) == 8


async def test_checkpoint_file_is_a_tinydb_database(tmp_path: Path) -> None:
    from tinydb import TinyDB
    async with Store(tmp_path) as s:
        await fill(s, 3)
    db = TinyDB(tmp_path / "state.json", storage=AtomicJSONStorage, read_only=True)
    assert sorted(d["key"] for d in db.table("state").all()) == [key(0), key(1), key(2)]
    assert db.table("meta").all()[0]["revision"] == 3


async def test_old_segments_go_once_checkpointed_and_out_of_history(tmp_path: Path) -> None:
    clock = FakeClock()
    s = Store(tmp_path, history_events=5, history_seconds=10, clock=clock, checkpoint_every=10)
    await s.open()
    for i in range(35):
        await s.create(key(i), pod(f"p{i}"))
    before = segments(tmp_path)
    assert len(before) >= 3, "history (younger than 10 s) keeps every segment"
    await clock.advance(11)
    await s.checkpoint()
    assert s.oldest_revision == 31
    after = segments(tmp_path)
    assert len(after) < len(before)
    firsts = [int(p.name[4:20]) for p in after]
    assert firsts[0] <= 31, "the segment holding the oldest kept event stays"
    for first, nxt in zip(firsts, firsts[1:]):
        assert nxt - 1 >= 31, "a segment whose events all left the history is gone"
    await s.close()
    async with Store(tmp_path, history_events=5, history_seconds=10, clock=clock) as s2:
        assert s2.revision == 35 and len(s2.range("/")) == 35
        with pytest.raises(Compacted):
            s2.watch("/", 1)


async def test_read_only_open_never_writes(tmp_path: Path) -> None:
    async with Store(tmp_path) as s:
        await fill(s, 3)
        s._checkpoint_revision = s.revision
        s._failed = RuntimeError("leave the log unreplayed")
    with open(segments(tmp_path)[-1], "ab") as f:
        f.write(b"torn")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    async with Store(tmp_path, read_only=True) as s:
        assert s.revision == 3 and len(s.history(key(1))) == 1
        with pytest.raises(ReadOnly):
            await s.create(key(9), pod("p9"))
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


async def test_read_only_open_of_missing_store_fails(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        await Store(tmp_path / "nope", read_only=True).open()


async def test_second_writer_is_refused(tmp_path: Path) -> None:
    async with Store(tmp_path):
        with pytest.raises(StoreError, match="in use"):
            await Store(tmp_path).open()


async def test_group_commit_batches_concurrent_writes_into_few_fsyncs(tmp_path: Path, monkeypatch) -> None:
    calls: list[int] = []
    real = wal.SegmentWriter.append

    def counting(self, data: bytes, count: int) -> None:
        calls.append(count)
        real(self, data, count)

    monkeypatch.setattr(wal.SegmentWriter, "append", counting)
    async with Store(tmp_path) as s:
        await fill(s, 200)
    assert sum(calls) == 200
    assert len(calls) < 20, f"{len(calls)} fsyncs for 200 concurrent writes"


async def test_write_failure_stops_the_store_without_acknowledging(tmp_path: Path, monkeypatch) -> None:
    s = Store(tmp_path)
    await s.open()
    await s.create(key(0), pod("p0"))

    def broken(self, data: bytes, count: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(wal.SegmentWriter, "append", broken)
    with pytest.raises(StoreFailed):
        await s.create(key(1), pod("p1"))
    assert s.get(key(1)) is None and s.revision == 1
    with pytest.raises(StoreFailed):
        await s.create(key(2), pod("p2"))
    await s.close()
    monkeypatch.undo()
    async with Store(tmp_path) as s2:
        assert s2.revision == 1
