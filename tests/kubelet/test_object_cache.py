"""The kubelet's ConfigMap/Secret cache: one request per object per TTL, shared by concurrent pod starts."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from kubetui.agent.apiclient import APIError
from kubetui.clock import FakeClock
from kubetui.kubelet.volumes import ObjectCache, is_mount_point, mount_tmpfs, unmount


class GatedAPI:
    """Answers GETs only when the test opens the gate, so requests overlap as in a burst."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.gate = asyncio.Event()
        self.fail: APIError | None = None

    async def get(self, path: str) -> dict:
        self.calls.append(path)
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return {"metadata": {"name": path.rsplit("/", 1)[-1]}, "data": {"n": str(len(self.calls))}}


async def test_concurrent_gets_of_one_object_share_one_request():
    api, clock = GatedAPI(), FakeClock()
    cache = ObjectCache(api, clock, ttl=2.0)
    waiters = [asyncio.create_task(cache.get("ConfigMap", "default", "kube-root-ca.crt")) for _ in range(30)]
    other = asyncio.create_task(cache.get("ConfigMap", "default", "app"))
    await asyncio.sleep(0)
    api.gate.set()
    got = await asyncio.gather(*waiters)
    assert api.calls == ["/api/v1/namespaces/default/configmaps/kube-root-ca.crt",
                         "/api/v1/namespaces/default/configmaps/app"]
    assert all(g is got[0] for g in got) and got[0]["metadata"]["name"] == "kube-root-ca.crt"
    assert (await other)["metadata"]["name"] == "app"
    # fresh within the TTL: no request; stale after it: exactly one more
    await cache.get("ConfigMap", "default", "kube-root-ca.crt")
    assert len(api.calls) == 2
    await clock.advance(2.5)
    await asyncio.gather(*(cache.get("ConfigMap", "default", "kube-root-ca.crt") for _ in range(5)))
    assert len(api.calls) == 3


async def test_a_cancelled_waiter_does_not_cancel_the_others_request():
    api, clock = GatedAPI(), FakeClock()
    cache = ObjectCache(api, clock, ttl=2.0)
    first = asyncio.create_task(cache.get("Secret", "team", "db"))
    second = asyncio.create_task(cache.get("Secret", "team", "db"))
    await asyncio.sleep(0)
    first.cancel()          # its pod was deleted meanwhile
    await asyncio.sleep(0)
    api.gate.set()
    assert (await second)["metadata"]["name"] == "db"
    assert len(api.calls) == 1


async def test_an_error_reaches_every_waiter_and_the_next_get_asks_again():
    api, clock = GatedAPI(), FakeClock()
    cache = ObjectCache(api, clock, ttl=2.0)
    api.fail = APIError(403, "Forbidden", "no path found to object")
    waiters = [asyncio.create_task(cache.get("Secret", "team", "db")) for _ in range(3)]
    await asyncio.sleep(0)
    api.gate.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, APIError) and r.code == 403 for r in results) and len(api.calls) == 1
    api.fail = APIError(404, "NotFound", 'secrets "db" not found')
    assert await cache.get("Secret", "team", "db") is None      # a missing object is cached as None
    assert len(api.calls) == 2


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_tmpfs_mounted_with_its_size_and_unmounted(tmp_path: Path):
    d = tmp_path / "vol"
    d.mkdir()
    try:
        mount_tmpfs(d, 16 * 1024 * 1024)
    except Exception as e:  # noqa: BLE001 - a container without CAP_SYS_ADMIN
        pytest.skip(f"cannot mount here: {e}")
    try:
        line = next(ln for ln in Path("/proc/self/mounts").read_text().splitlines() if ln.split()[1] == str(d))
        fields = line.split()
        assert fields[2] == "tmpfs" and "size=16384k" in fields[3] and "mode=777" in fields[3]
    finally:
        unmount(d)
    assert not is_mount_point(d)
