"""kube-proxy's sync loop on a fake clock (upstream: the proxier's BoundedFrequencyRunner with
--iptables-min-sync-period and --iptables-sync-period): nothing before both caches have listed, a
burst of changes is one sync after min_sync_seconds, and a full sync comes every sync_seconds."""

from __future__ import annotations

import asyncio

from kubetui.clock import FakeClock
from kubetui.proxy.proxy import KubeProxy


class FakeAPI:
    """Lists answer from ``lists`` (a path is held back while it is missing); watches play ``events``."""

    def __init__(self) -> None:
        self.lists: dict[str, asyncio.Future] = {}
        self.events: dict[str, asyncio.Queue] = {}

    def queue(self, path: str) -> asyncio.Queue:
        return self.events.setdefault(path, asyncio.Queue())

    def listing(self, path: str) -> asyncio.Future:
        return self.lists.setdefault(path, asyncio.get_running_loop().create_future())

    async def get(self, url: str) -> dict:
        return await self.listing(url.split("?")[0])

    async def watch(self, path: str, params: dict):
        q = self.queue(path)
        while True:
            yield await q.get()


class Backend:
    mode = "fake"

    def __init__(self) -> None:
        self.syncs: list[tuple[list, list]] = []
        self.full = 0

    async def sync(self, services, slices) -> None:
        self.syncs.append((sorted(s["metadata"]["name"] for s in services), list(slices)))

    def force_full(self) -> None:
        self.full += 1

    async def close(self) -> None:
        pass


SVC = "/api/v1/services"
SLICES = "/apis/discovery.k8s.io/v1/endpointslices"


def svc(name: str, rv: str) -> dict:
    return {"metadata": {"name": name, "namespace": "default", "resourceVersion": rv}}


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_no_sync_before_both_lists_then_bursts_batch_and_full_resyncs_come_on_time():
    clock, api, backend = FakeClock(), FakeAPI(), Backend()
    proxy = KubeProxy(api, backend, node_name="n1", min_sync_seconds=0.5, sync_seconds=30, clock=clock)
    await proxy.start()
    try:
        api.listing(SVC).set_result({"metadata": {"resourceVersion": "1"}, "items": [svc("a", "1")]})
        await settle()
        await clock.advance(1, step=0.1)
        assert backend.syncs == []                        # EndpointSlices not listed yet
        api.listing(SLICES).set_result({"metadata": {"resourceVersion": "1"}, "items": []})
        await settle()
        await clock.advance(0.6, step=0.1)
        assert backend.syncs == [(["a"], [])]             # the first sync, after the lists
        for i, name in enumerate(("b", "c", "d")):        # a burst of three changes...
            api.queue(SVC).put_nowait(("ADDED", svc(name, str(2 + i))))
        await settle()
        await clock.advance(0.3, step=0.1)
        assert len(backend.syncs) == 1                    # ...waits out min_sync_seconds...
        await clock.advance(0.3, step=0.1)
        assert backend.syncs[1:] == [(["a", "b", "c", "d"], [])] and backend.full == 0    # ...then one sync
        burst_synced = proxy.last_sync
        await clock.advance(29, step=0.5)
        assert len(backend.syncs) == 2
        await clock.advance(1.5, step=0.5)                # quiet for sync_seconds: a full resync
        assert backend.full == 1 and len(backend.syncs) == 3 and 30 <= proxy.last_sync - burst_synced <= 30.5
    finally:
        await proxy.stop()
