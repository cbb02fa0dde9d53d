"""kill -9 of the etcd member in a write storm loses no acknowledged write (one member)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kubetui.netutil import free_port
from kubetui.store import StoreError

pytestmark = pytest.mark.etcd


async def test_kill_9_of_etcd_mid_storm_loses_no_acknowledged_write(tmp_path: Path) -> None:
    from kubetui.store.etcd import EtcdStore
    from kubetui.store.etcdserver import EtcdServer
    server = EtcdServer(tmp_path / "etcd", free_port(), free_port(), tmp_path / "etcd.log")
    await asyncio.to_thread(server.start)
    store = EtcdStore(server.endpoint, request_timeout=10)
    await store.open()
    acked: dict[str, tuple[int, int]] = {}  # key -> (n, revision) of its last acknowledged write
    killed = asyncio.Event()
    enough = asyncio.Event()

    async def writer(w: int) -> None:
        n = 0
        key = f"/registry/configmaps/storm/w{w}"
        try:
            kv = await store.create(key, {"metadata": {"name": f"w{w}"}, "data": {"n": "0"}})
            acked[key] = (0, kv.mod_revision)
            while True:
                n += 1
                kv = await store.update(key, {"metadata": {"name": f"w{w}"}, "data": {"n": str(n)}})
                acked[key] = (n, kv.mod_revision)
                if sum(a[0] for a in acked.values()) >= 1500:
                    enough.set()
        except StoreError:
            assert killed.is_set(), "a write failed before etcd was killed"

    try:
        tasks = [asyncio.create_task(writer(w)) for w in range(32)]
        await asyncio.wait_for(enough.wait(), 120)
        killed.set()
        await asyncio.to_thread(server.kill)  # SIGKILL, mid-storm
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
    finally:
        await store.close()
    last_rev = max(rev for _, rev in acked.values())

    await asyncio.to_thread(server.start)
    try:
        after = EtcdStore(server.endpoint)
        await after.open()
        try:
            assert after.revision >= last_rev
            for key, (n, rev) in acked.items():
                kv = after.get(key)
                assert kv is not None, f"acknowledged {key}@{rev} lost"
                # the next write of the key may have reached etcd unacknowledged, never fewer
                assert kv.mod_revision >= rev and int(kv.value["data"]["n"]) >= n, f"{key}: acknowledged n={n}@{rev}"
            kv = await after.update(next(iter(acked)), {"metadata": {}, "data": {"n": "again"}})
            assert kv.mod_revision == after.revision, "and the member takes writes again"
        finally:
            await after.close()
    finally:
        server.stop()
