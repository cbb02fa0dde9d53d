"""The store's contract: revisions, compare-and-swap, errors, watch and history.

Every test runs against both backends (``conftest.py``): the embedded TinyDB
store in memory and a real etcd. etcd starts at revision 1 and the tests share
one member, so revisions are counted from the store's revision when the test
began (``r0``).
"""

from __future__ import annotations

import asyncio

import pytest

from kubetui.clock import FakeClock
from kubetui.store import (
    Compacted, KeyExists, KeyNotFound, RevisionMismatch, Store, StoreError, StoreEvent,
)

POD = "/registry/pods/default/web-1"


def pod(name: str = "web-1", **extra: object) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            **extra}


async def test_create_stamps_revision_into_resource_version(store: Store) -> None:
    r0 = store.revision
    value = pod()
    kv = await store.create(POD, value)
    assert (kv.create_revision, kv.mod_revision, kv.version) == (r0 + 1, r0 + 1, 1)
    assert kv.value["metadata"]["resourceVersion"] == str(r0 + 1)
    assert "resourceVersion" not in value["metadata"], "the caller's dict is never modified"
    assert store.revision == r0 + 1
    assert store.get(POD) == kv


async def test_update_bumps_revision_and_version_keeps_create_revision(store: Store) -> None:
    r0 = store.revision
    await store.create("/registry/pods/default/other", pod("other"))
    kv1 = await store.create(POD, pod())
    kv2 = await store.update(POD, pod(spec={"nodeName": "n1"}), expected_mod_revision=kv1.mod_revision)
    assert (kv2.create_revision, kv2.mod_revision, kv2.version) == (r0 + 2, r0 + 3, 2)
    assert kv2.value["metadata"]["resourceVersion"] == str(r0 + 3)
    assert kv2.value["spec"] == {"nodeName": "n1"}


async def test_create_of_existing_key_raises_key_exists_with_current_kv(store: Store) -> None:
    kv = await store.create(POD, pod())
    with pytest.raises(KeyExists) as e:
        await store.create(POD, pod())
    assert e.value.kv == kv
    assert store.revision == kv.mod_revision, "a refused write does not use a revision"


@pytest.mark.parametrize("op", ["update", "delete"])
async def test_stale_compare_and_swap_raises_revision_mismatch(store: Store, op: str) -> None:
    kv1 = await store.create(POD, pod())
    kv2 = await store.update(POD, pod(spec={"x": 1}))
    with pytest.raises(RevisionMismatch) as e:
        if op == "update":
            await store.update(POD, pod(spec={"x": 2}), expected_mod_revision=kv1.mod_revision)
        else:
            await store.delete(POD, expected_mod_revision=kv1.mod_revision)
    assert e.value.kv == kv2 and e.value.expected == kv1.mod_revision
    assert store.get(POD) == kv2


@pytest.mark.parametrize("op", ["update", "delete"])
async def test_missing_key_raises_key_not_found(store: Store, op: str) -> None:
    with pytest.raises(KeyNotFound):
        if op == "update":
            await store.update(POD, pod())
        else:
            await store.delete(POD)


async def test_concurrent_cas_exactly_one_wins(store: Store) -> None:
    kv = await store.create(POD, pod())
    results = await asyncio.gather(
        *(store.update(POD, pod(spec={"n": i}), expected_mod_revision=kv.mod_revision) for i in range(20)),
        return_exceptions=True)
    wins = [r for r in results if not isinstance(r, BaseException)]
    assert len(wins) == 1
    assert all(isinstance(r, RevisionMismatch) for r in results if r not in wins)
    assert store.revision == kv.mod_revision + 1
    assert store.get(POD) == wins[0]


async def test_concurrent_creates_of_one_key_exactly_one_wins(store: Store) -> None:
    results = await asyncio.gather(*(store.create(POD, pod()) for _ in range(10)), return_exceptions=True)
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert sum(isinstance(r, KeyExists) for r in results) == 9


async def test_delete_returns_last_value_stamped_with_deletion_revision(store: Store) -> None:
    r0 = store.revision
    await store.create(POD, pod())
    kv = await store.delete(POD)
    assert kv.mod_revision == r0 + 2 and kv.version == 0 and kv.create_revision == r0 + 1
    assert kv.value["metadata"]["resourceVersion"] == str(r0 + 2)
    assert store.get(POD) is None
    again = await store.create(POD, pod())
    assert (again.create_revision, again.version) == (r0 + 3, 1), "a re-created key starts over"


async def test_range_is_sorted_and_prefix_bounded(store: Store) -> None:
    for key in ["/registry/pods/b/x", "/registry/pods/a/y", "/registry/pods/a/x",
                "/registry/podsx/a", "/registry/minions/n1"]:
        await store.create(key, pod())
    assert [kv.key for kv in store.range("/registry/pods/")] == [
        "/registry/pods/a/x", "/registry/pods/a/y", "/registry/pods/b/x"]
    assert [kv.key for kv in store.range("/registry/pods/a/")] == ["/registry/pods/a/x", "/registry/pods/a/y"]
    assert len(store.range("/")) == 5 and store.count("/registry/pods") == 4
    await store.delete("/registry/pods/a/y")
    assert [kv.key for kv in store.range("/registry/pods/a/")] == ["/registry/pods/a/x"]


async def test_reads_hand_out_copies(store: Store) -> None:
    kv = await store.create(POD, pod(spec={"containers": [{"name": "c"}]}))
    kv.value["spec"]["containers"][0]["name"] = "changed"
    store.get(POD).value["spec"]["containers"].append({})
    store.range("/")[0].value["metadata"]["name"] = "changed"
    assert store.get(POD).value == pod(spec={"containers": [{"name": "c"}]}) | {
        "metadata": {"name": "web-1", "namespace": "default", "resourceVersion": str(kv.mod_revision)}}


@pytest.mark.parametrize("bad", [[1, 2], "text", None])
async def test_non_object_value_is_refused(store: Store, bad: object) -> None:
    r0 = store.revision
    with pytest.raises(TypeError):
        await store.create(POD, bad)  # type: ignore[arg-type]
    assert store.revision == r0


async def test_value_that_is_not_json_is_refused_without_using_a_revision(store: Store) -> None:
    r0 = store.revision
    with pytest.raises(ValueError):
        await store.create(POD, pod(spec={"x": float("nan")}))
    with pytest.raises(TypeError):
        await store.create(POD, pod(spec={"x": object()}))
    kv = await store.create(POD, pod())
    assert kv.mod_revision == r0 + 1


async def test_writes_after_close_are_refused(make_store) -> None:
    s = await make_store()
    await s.close()
    with pytest.raises(StoreError):
        await s.create(POD, pod())


# ------------------------------------------------------------------ watch


async def collect(w, n: int) -> list[StoreEvent]:
    out = []
    async for ev in w:
        out.append(ev)
        if len(out) == n:
            break
    return out


async def test_watch_from_current_revision_sees_only_future_events_in_order(store: Store) -> None:
    r0 = store.revision
    await store.create("/registry/pods/default/old", pod("old"))
    w = store.watch("/registry/pods/", store.revision)
    await store.create(POD, pod())
    await store.create("/registry/minions/n1", pod("n1"))  # other prefix: not seen
    await store.update(POD, pod(spec={"x": 1}))
    await store.delete(POD)
    events = await collect(w, 3)
    assert [(e.type, e.revision - r0) for e in events] == [("PUT", 2), ("PUT", 4), ("DELETE", 5)]
    assert events[1].prev_kv == events[0].kv
    assert events[2].prev_kv == events[1].kv and events[2].kv.mod_revision == r0 + 5
    w.close()


async def test_watch_resumes_from_any_revision_in_history(store: Store) -> None:
    r0 = store.revision
    for i in range(10):
        await store.create(f"/registry/pods/default/p{i}", pod(f"p{i}"))
    w = store.watch("/registry/pods/", r0 + 4)
    events = await collect(w, 6)
    assert [e.revision - r0 for e in events] == [5, 6, 7, 8, 9, 10]
    await store.create("/registry/pods/default/p10", pod("p10"))
    assert [e.revision - r0 for e in await collect(w, 1)] == [11]
    w.close()


async def test_watch_close_ends_iteration(store: Store) -> None:
    r0 = store.revision
    w = store.watch("/", store.revision)
    task = asyncio.create_task(collect(w, 100))
    await store.create(POD, pod())
    await asyncio.sleep(0)
    w.close()
    assert [e.revision - r0 for e in await task] == [1]
    assert store.watcher_count == 0


async def test_store_close_ends_every_watch(make_store) -> None:
    s = await make_store()
    r0 = s.revision
    watches = [s.watch("/registry/", r0) for _ in range(3)]
    await s.create(POD, pod())
    await s.close()
    for w in watches:
        assert [e.revision - r0 for e in await collect(w, 10)] == [1]


async def test_many_watchers_each_get_every_matching_event(store: Store) -> None:
    r0 = store.revision
    pods = [store.watch("/registry/pods/", r0) for _ in range(50)]
    nodes = [store.watch("/registry/minions/", r0) for _ in range(50)]
    await asyncio.gather(*(store.create(f"/registry/pods/default/p{i}", pod()) for i in range(20)),
                         store.create("/registry/minions/n1", pod("n1")))
    for w in pods:
        got = await collect(w, 20)
        assert [e.revision for e in got] == sorted(e.revision for e in got)
    for w in nodes:
        assert [e.kv.key for e in await collect(w, 1)] == ["/registry/minions/n1"]


async def test_slow_watcher_is_closed_with_compacted_and_never_blocks_writers(make_store) -> None:
    s = await make_store(watch_queue_limit=5)
    r0 = s.revision
    slow = s.watch("/", r0)
    fast = s.watch("/", r0)
    for i in range(8):
        await s.create(f"/registry/pods/default/p{i}", pod())
        await collect(fast, 1)
    assert s.revision == r0 + 8
    with pytest.raises(Compacted) as e:
        await collect(slow, 8)
    assert e.value.overflow
    assert s.watcher_count == 1
    await s.close()


async def test_watch_older_than_history_raises_compacted(make_store) -> None:
    clock = FakeClock()
    s = await make_store(history_events=3, history_seconds=60, clock=clock)
    r0 = s.revision
    for i in range(10):
        await s.create(f"/registry/pods/default/p{i}", pod())
    assert s.oldest_revision == r0 + 1, "nothing is older than 60 s yet"
    await clock.advance(61)
    assert s.oldest_revision == r0 + 8, "three events kept once they are old"
    with pytest.raises(Compacted):
        s.watch("/", r0 + 6)
    w = s.watch("/", r0 + 7)
    assert [e.revision - r0 for e in await collect(w, 3)] == [8, 9, 10]
    await s.close()


async def test_history_window_keeps_min_events_and_min_seconds(make_store) -> None:
    clock = FakeClock()
    s = await make_store(history_events=5, history_seconds=300, clock=clock)
    r0 = s.revision
    for i in range(4):  # revisions 1..4 at t=0
        await s.create(f"/k/{i}", {"metadata": {}})
    await clock.advance(200)
    for i in range(4, 12):  # revisions 5..12 at t=200
        await s.create(f"/k/{i}", {"metadata": {}})
    assert s.oldest_revision == r0 + 1, "younger than 300 s: kept although more than 5 newer"
    await clock.advance(101)  # t=301: 1..4 are old, 5..12 are not
    await s.create("/k/12", {"metadata": {}})
    assert s.oldest_revision == r0 + 5
    await clock.advance(300)  # all old now: keep the newest 5
    await s.create("/k/13", {"metadata": {}})
    assert s.oldest_revision == r0 + 10 and len(s.events()) == 5
    await s.close()


async def test_history_of_a_key(store: Store) -> None:
    r0 = store.revision
    await store.create(POD, pod())
    await store.create("/registry/pods/default/web-10", pod("web-10"))
    await store.update(POD, pod(spec={"x": 1}))
    await store.delete(POD)
    h = store.history(POD)
    assert [(e.type, e.revision - r0) for e in h] == [("PUT", 1), ("PUT", 3), ("DELETE", 4)]


async def test_watch_from_future_revision_waits_for_it(store: Store) -> None:
    r0 = store.revision
    w = store.watch("/", r0 + 2)
    for i in range(3):
        await store.create(f"/k/{i}", {"metadata": {}})
    assert [e.revision - r0 for e in await collect(w, 1)] == [3]
