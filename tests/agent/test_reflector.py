"""The node agents' list-watch cache (kubetui/agent/reflector.py), against a scripted API.

Upstream: client-go's reflector_test.go (TestReflectorListAndWatch,
TestReflectorWatchListPageSize's relist on "too old resource version",
bookmarks moving the resourceVersion) and store replace semantics.
"""

from __future__ import annotations

import asyncio

from kubetui.agent.apiclient import APIError
from kubetui.agent.reflector import Backoff, Reflector, object_key, uid_key


def pod(name: str, rv: str, uid: str | None = None, ns: str = "default") -> dict:
    return {"metadata": {"name": name, "namespace": ns, "resourceVersion": rv, "uid": uid or f"uid-{name}"}}


class ScriptedAPI:
    """``get`` answers lists, ``watch`` plays scripted streams; both record what they were asked."""

    def __init__(self, lists: list, watches: list) -> None:
        self.lists, self.watches = list(lists), list(watches)
        self.gets: list[str] = []
        self.watch_params: list[dict] = []
        self.idle = asyncio.Event()           # set when the script has run out

    async def get(self, path: str) -> dict:
        self.gets.append(path)
        item = self.lists.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    async def watch(self, path: str, params: dict):
        self.watch_params.append(dict(params))
        if not self.watches:
            self.idle.set()
            await asyncio.Event().wait()      # a watch with nothing more to say
        for ev in self.watches.pop(0):
            if isinstance(ev, Exception):
                raise ev
            yield ev


class NoSleep:
    def __init__(self) -> None:
        self.slept: list[float] = []

    def time(self) -> float:
        return 0.0

    def monotonic(self) -> float:
        return sum(self.slept)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        await asyncio.sleep(0)


def listing(rv: str, *items: dict) -> dict:
    return {"metadata": {"resourceVersion": rv}, "items": list(items)}


async def run_until_idle(r: Reflector, api: ScriptedAPI) -> None:
    r.start()
    try:
        await asyncio.wait_for(api.idle.wait(), 5)
    finally:
        await r.stop()


def recorder():
    seen: list[tuple] = []
    return seen, dict(on_add=lambda o: seen.append(("add", o["metadata"]["name"])),
                      on_update=lambda old, new: seen.append(("update", new["metadata"]["name"])),
                      on_delete=lambda o: seen.append(("delete", o["metadata"]["name"])),
                      on_change=lambda: seen.append(("change",)))


async def test_lists_then_watches_from_the_lists_resource_version():
    api = ScriptedAPI([listing("10", pod("a", "9"))],
                      [[("ADDED", pod("b", "11")), ("MODIFIED", pod("a", "12")), ("DELETED", pod("b", "13"))]])
    seen, handlers = recorder()
    r = Reflector(api, "/api/v1/pods", params={"fieldSelector": "spec.nodeName=n1"}, clock=NoSleep(), **handlers)
    await run_until_idle(r, api)
    # client-go's first list asks for resourceVersion=0: any state the API server has (its watch cache)
    assert api.gets == ["/api/v1/pods?fieldSelector=spec.nodeName%3Dn1&resourceVersion=0"]
    assert api.watch_params[0] == {"fieldSelector": "spec.nodeName=n1", "resourceVersion": "10",
                                   "allowWatchBookmarks": "true"}
    assert seen == [("add", "a"), ("change",), ("add", "b"), ("change",), ("update", "a"), ("change",),
                    ("delete", "b"), ("change",)]
    assert r.synced.is_set() and list(r.store) == ["default/a"] and r.resource_version == "13"


async def test_a_watch_that_ends_resumes_from_the_last_version_without_relisting():
    bookmark = ("BOOKMARK", {"metadata": {"resourceVersion": "20"}})
    api = ScriptedAPI([listing("10")], [[("ADDED", pod("a", "11"))], [bookmark], [("ADDED", pod("b", "21"))]])
    r = Reflector(api, "/api/v1/pods", clock=NoSleep())
    await run_until_idle(r, api)
    assert len(api.gets) == 1 and r.lists == 1
    # each new watch starts where the previous one stopped; a bookmark moves the version on its own
    assert [p["resourceVersion"] for p in api.watch_params] == ["10", "11", "20", "21"]
    assert sorted(r.store) == ["default/a", "default/b"]


async def test_410_gone_relists_at_once_and_the_relist_deletes_what_vanished():
    gone = APIError(410, "Expired", "too old resource version: 10 (55)")
    api = ScriptedAPI([listing("10", pod("a", "5"), pod("b", "6")), listing("60", pod("b", "58"), pod("c", "59"))],
                      [[gone]])
    clock = NoSleep()
    seen, handlers = recorder()
    r = Reflector(api, "/api/v1/pods", clock=clock, **handlers)
    await run_until_idle(r, api)
    assert len(api.gets) == 2 and clock.slept == []         # no backoff for 410: relist now
    assert api.gets == ["/api/v1/pods?resourceVersion=0", "/api/v1/pods"], "after 410 Gone: the latest state"
    assert seen[3:] == [("update", "b"), ("add", "c"), ("delete", "a"), ("change",)]
    assert sorted(r.store) == ["default/b", "default/c"] and api.watch_params[-1]["resourceVersion"] == "60"


async def test_errors_back_off_longer_each_time_then_start_over_after_a_working_watch():
    down = APIError(503, "ServiceUnavailable", "connection closed by the API server")
    api = ScriptedAPI([down, ConnectionRefusedError("refused"), listing("10"), down, listing("30")],
                      [[("ADDED", pod("a", "11")), down]])
    clock = NoSleep()
    r = Reflector(api, "/api/v1/pods", clock=clock, backoff=Backoff(initial=1.0, cap=3.0, jitter=0.0))
    await run_until_idle(r, api)
    # 1 s, 2 s after two failures in a row; the watch delivered an event (reset), so the next
    # failures start at 1 s again
    assert clock.slept == [1.0, 2.0, 1.0, 2.0]
    assert r.store == {} and r.resource_version == "30"


async def test_a_watch_that_ends_at_once_with_nothing_backs_off_and_relists():
    # upstream's "very short watch": a server closing every watch at once is not hammered
    api = ScriptedAPI([listing("10"), listing("10")], [[]])
    clock = NoSleep()
    r = Reflector(api, "/api/v1/pods", clock=clock, backoff=Backoff(initial=1.0, jitter=0.0))
    await run_until_idle(r, api)
    assert clock.slept == [1.0] and r.lists == 2


async def test_backoff_is_capped_and_jittered():
    b = Backoff(initial=1.0, cap=4.0, jitter=0.5, rand=lambda: 1.0)
    assert [b.delay() for _ in range(5)] == [1.5, 3.0, 4.0, 4.0, 4.0]
    b.reset()
    assert b.delay() == 1.5


async def test_keyed_by_uid_a_recreated_pod_is_a_delete_and_an_add():
    api = ScriptedAPI([listing("10", pod("web", "9", uid="u1")), listing("20", pod("web", "19", uid="u2"))],
                      [[APIError(410, "Expired", "too old")]])
    seen, handlers = recorder()
    r = Reflector(api, "/api/v1/pods", key=uid_key, clock=NoSleep(), **handlers)
    await run_until_idle(r, api)
    assert [s for s in seen if s[0] != "change"] == [("add", "web"), ("add", "web"), ("delete", "web")]
    assert list(r.store) == ["u2"]


async def test_async_handlers_are_awaited_in_order():
    order: list[str] = []

    async def slow_add(o):
        await asyncio.sleep(0.01)
        order.append(o["metadata"]["name"])
    api = ScriptedAPI([listing("1")], [[("ADDED", pod("a", "2")), ("ADDED", pod("b", "3"))]])
    r = Reflector(api, "/api/v1/pods", on_add=slow_add, clock=NoSleep())
    await run_until_idle(r, api)
    assert order == ["a", "b"]


def test_object_keys():
    assert object_key(pod("a", "1")) == "default/a"
    assert object_key({"metadata": {"name": "node-1"}}) == "node-1"
    assert uid_key(pod("a", "1", uid="abc")) == "abc"
