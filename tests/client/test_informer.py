"""Informers list, then watch from the list's resourceVersion; relist on Gone; re-watch on end."""

from __future__ import annotations

import asyncio
from typing import Any

from kubetui.api import errors
from kubetui.client.base import WatchEvent
from kubetui.client.informer import NODE_INDEX, OWNER_INDEX, InformerFactory, SharedInformer
from kubetui.clock import FakeClock

END = object()


def pod(name: str, rv: int, node: str = "", owner: str = "") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "default", "resourceVersion": str(rv)}
    if owner:
        meta["ownerReferences"] = [{"uid": owner, "controller": True, "kind": "ReplicaSet", "name": "rs"}]
    return {"kind": "Pod", "apiVersion": "v1", "metadata": meta, "spec": {"nodeName": node}}


class ListWatchFake:
    """Just enough of the Client for a reflector: scripted lists and watch streams."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.rv = "10"
        self.watch_calls: list[str | None] = []
        self.list_calls = 0
        self.events: asyncio.Queue[Any] = asyncio.Queue()
        self.gone_next_watch = False

    async def list(self, resource, namespace=None, **kw):
        self.list_calls += 1
        return {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": self.rv},
                "items": [dict(i) for i in self.items]}

    def watch(self, resource, namespace=None, *, resource_version=None, **kw):
        self.watch_calls.append(resource_version)
        return self._stream()

    async def _stream(self):
        if self.gone_next_watch:
            self.gone_next_watch = False
            raise errors.Gone("too old resource version")
        while True:
            ev = await self.events.get()
            if ev is END:
                return
            yield ev


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_list_then_watch_from_the_lists_resource_version():
    fake = ListWatchFake()
    fake.items = [pod("a", 5, node="n1")]
    inf = SharedInformer(fake, "pods", clock=FakeClock())
    seen: list[tuple[str, str]] = []
    inf.add_handler(lambda o: seen.append(("add", o["metadata"]["name"])),
                    lambda old, new: seen.append(("update", new["metadata"]["name"])),
                    lambda o: seen.append(("delete", o["metadata"]["name"])))
    await inf.start()
    await asyncio.wait_for(inf.wait_for_sync(), 1)
    await settle()
    assert inf.has_synced and fake.watch_calls == ["10"]
    assert inf.get("default/a")["spec"]["nodeName"] == "n1"
    fake.events.put_nowait(WatchEvent("ADDED", pod("b", 11, node="n2", owner="u1")))
    fake.events.put_nowait(WatchEvent("MODIFIED", pod("a", 12, node="n2")))
    fake.events.put_nowait(WatchEvent("BOOKMARK", {"kind": "Pod", "metadata": {"resourceVersion": "13"}}))
    fake.events.put_nowait(WatchEvent("DELETED", pod("b", 14, node="n2", owner="u1")))
    await settle()
    assert seen == [("add", "a"), ("add", "b"), ("update", "a"), ("delete", "b")]
    assert [p["metadata"]["name"] for p in inf.by_index(NODE_INDEX, "n2")] == ["a"]
    assert inf.by_index(OWNER_INDEX, "u1") == []
    assert inf.last_resource_version == "14"
    # The server closes the watch: the informer re-watches from the last version seen.
    fake.events.put_nowait(END)
    await settle()
    assert fake.watch_calls == ["10", "14"] and fake.list_calls == 1
    await inf.stop()


async def test_gone_makes_it_relist_and_report_what_changed_meanwhile():
    fake = ListWatchFake()
    fake.items = [pod("a", 5), pod("b", 6)]
    inf = SharedInformer(fake, "pods", clock=FakeClock())
    seen: list[tuple[str, str]] = []
    inf.add_handler(lambda o: seen.append(("add", o["metadata"]["name"])),
                    lambda old, new: seen.append(("update", new["metadata"]["name"])),
                    lambda o: seen.append(("delete", o["metadata"]["name"])))
    await inf.start()
    await settle()
    # Meanwhile "a" changed, "b" was deleted, "c" created; then the watch history is gone.
    fake.items = [pod("a", 20), pod("c", 21)]
    fake.rv = "21"
    fake.gone_next_watch = True
    fake.events.put_nowait(END)
    await settle()
    assert fake.list_calls == 2
    assert sorted(seen[2:]) == [("add", "c"), ("delete", "b"), ("update", "a")]
    assert sorted(inf.store.keys()) == ["default/a", "default/c"]
    assert fake.watch_calls[-1] == "21"
    await inf.stop()


async def test_a_failing_handler_does_not_stop_the_informer_and_late_handlers_get_adds():
    fake = ListWatchFake()
    fake.items = [pod("a", 5)]
    inf = SharedInformer(fake, "pods", clock=FakeClock())
    inf.add_handler(on_add=lambda o: 1 / 0)
    await inf.start()
    await settle()
    late: list[str] = []
    inf.add_handler(on_add=lambda o: late.append(o["metadata"]["name"]))
    assert late == ["a"]
    fake.events.put_nowait(WatchEvent("ADDED", pod("b", 11)))
    await settle()
    assert late == ["a", "b"]
    await inf.stop()


async def test_resync_replays_cached_objects_as_updates_on_the_clock():
    fake = ListWatchFake()
    fake.items = [pod("a", 5)]
    clock = FakeClock()
    inf = SharedInformer(fake, "pods", clock=clock, resync_seconds=30)
    updates: list[str] = []
    inf.add_handler(on_update=lambda old, new: updates.append(new["metadata"]["name"]))
    await inf.start()
    await settle()
    await clock.advance(29)
    assert updates == []
    await clock.advance(1)
    assert updates == ["a"]
    await inf.stop()


async def test_factory_shares_one_informer_per_resource():
    fake = ListWatchFake()
    factory = InformerFactory(fake, clock=FakeClock())
    assert factory.informer("pods") is factory.informer("pods")
    assert factory.informer("pods") is not factory.informer("replicasets")
    await factory.start()
    await asyncio.wait_for(factory.wait_for_cache_sync(), 1)
    await factory.stop()
