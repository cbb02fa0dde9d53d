"""Registry watch: initial state, resume from a resourceVersion, selector filtering, bookmarks."""

import asyncio

import pytest

from kubetui.api import errors
from kubetui.api.patch import MERGE_PATCH
from kubetui.apiserver.registry import Registry
from kubetui.store import Store
from tests.apiserver.conftest_registry import (  # noqa: F401 - fixtures
    CONFIGMAPS, DEPLOYS, NAMESPACES, PODS, clock, deployment, pod, registry, store,
)


async def next_event(w, timeout=1.0):
    return await asyncio.wait_for(w.__anext__(), timeout)


async def settle():
    """Let every ready task run (the watch's timer must reach clock.sleep before time moves)."""
    for _ in range(10):
        await asyncio.sleep(0)


def summary(ev):
    return ev.type, ev.object["metadata"].get("name"), ev.object["metadata"]["resourceVersion"]


async def test_watch_without_rv_sends_current_objects_then_live_events(registry):
    await registry.create(CONFIGMAPS, "default", {"metadata": {"name": "a"}})
    w = await registry.watch(CONFIGMAPS, "default")
    ev = await next_event(w)
    assert (ev.type, ev.object["metadata"]["name"]) == ("ADDED", "a")
    b = await registry.create(CONFIGMAPS, "default", {"metadata": {"name": "b"}})
    assert summary(await next_event(w)) == ("ADDED", "b", b["metadata"]["resourceVersion"])
    b2 = await registry.patch(CONFIGMAPS, "default", "b", {"data": {"x": "1"}}, MERGE_PATCH)
    assert summary(await next_event(w)) == ("MODIFIED", "b", b2["metadata"]["resourceVersion"])
    gone = await registry.delete(CONFIGMAPS, "default", "b")
    ev = await next_event(w)
    assert summary(ev) == ("DELETED", "b", gone["metadata"]["resourceVersion"])
    assert int(gone["metadata"]["resourceVersion"]) > int(b2["metadata"]["resourceVersion"])
    assert ev.object["data"] == {"x": "1"}  # the last state
    w.close()
    with pytest.raises(StopAsyncIteration):
        await next_event(w)


async def test_watch_from_list_resource_version_sends_only_later_events(registry):
    await registry.create(CONFIGMAPS, "default", {"metadata": {"name": "a"}})
    rv = (await registry.list(CONFIGMAPS, "default"))["metadata"]["resourceVersion"]
    await registry.create(CONFIGMAPS, "default", {"metadata": {"name": "b"}})
    w = registry.watch(CONFIGMAPS, "default", resource_version=rv)
    assert summary(await next_event(w))[:2] == ("ADDED", "b")
    w.close()


async def test_watch_in_other_namespaces_and_cluster_wide(registry):
    from kubetui.api.resources import resource_for
    await registry.create(resource_for("namespaces"), None, {"metadata": {"name": "other"}})
    w_default = await registry.watch(CONFIGMAPS, "default", resource_version=str(registry.store.revision))
    w_all = await registry.watch(CONFIGMAPS, None, resource_version=str(registry.store.revision))
    await registry.create(CONFIGMAPS, "other", {"metadata": {"name": "x"}})
    await registry.create(CONFIGMAPS, "default", {"metadata": {"name": "y"}})
    assert summary(await next_event(w_default))[1] == "y"
    assert [summary(await next_event(w_all))[1] for _ in range(2)] == ["x", "y"]
    w_default.close()
    w_all.close()


async def test_label_selector_transitions_become_added_and_deleted(registry):
    await registry.create(PODS, "default", pod("p", {"app": "db"}))
    w = await registry.watch(PODS, "default", label_selector="app=web")
    await registry.patch(PODS, "default", "p", {"metadata": {"labels": {"app": "web"}}}, MERGE_PATCH)
    assert summary(await next_event(w))[:2] == ("ADDED", "p")          # started matching
    await registry.patch(PODS, "default", "p", {"metadata": {"annotations": {"a": "b"}}}, MERGE_PATCH)
    assert summary(await next_event(w))[:2] == ("MODIFIED", "p")
    after = await registry.patch(PODS, "default", "p", {"metadata": {"labels": {"app": "db"}}}, MERGE_PATCH)
    ev = await next_event(w)
    assert summary(ev) == ("DELETED", "p", after["metadata"]["resourceVersion"])  # stopped matching
    assert ev.object["metadata"]["labels"] == {"app": "web"}                     # last matching state
    await registry.create(PODS, "default", pod("q", {"app": "web"}))
    assert summary(await next_event(w))[:2] == ("ADDED", "q")
    w.close()


async def test_field_selector_watch(registry):
    await registry.create(DEPLOYS, "default", deployment("a"))
    await registry.create(DEPLOYS, "default", deployment("b"))
    w = await registry.watch(DEPLOYS, "default", field_selector="metadata.name=b")
    assert summary(await next_event(w))[:2] == ("ADDED", "b")
    await registry.patch(DEPLOYS, "default", "a", {"spec": {"replicas": 3}}, MERGE_PATCH)
    await registry.patch(DEPLOYS, "default", "b", {"spec": {"replicas": 3}}, MERGE_PATCH)
    assert summary(await next_event(w))[:2] == ("MODIFIED", "b")
    w.close()


async def test_send_initial_events_ends_with_the_initial_events_end_bookmark(registry):
    await registry.create(DEPLOYS, "default", deployment("web"))
    w = await registry.watch(DEPLOYS, "default", field_selector="metadata.name=web", allow_bookmarks=True,
                             send_initial_events=True, resource_version="")
    assert summary(await next_event(w))[:2] == ("ADDED", "web")
    bm = await next_event(w)
    assert bm.type == "BOOKMARK"
    assert bm.object == {"kind": "Deployment", "apiVersion": "apps/v1",
                         "metadata": {"resourceVersion": str(registry.store.revision),
                                      "annotations": {"k8s.io/initial-events-end": "true"}}}
    w.close()
    with pytest.raises(errors.Invalid, match="allowWatchBookmarks must be set to true"):
        registry.watch(DEPLOYS, "default", send_initial_events=True)


async def test_periodic_bookmarks_and_timeout_follow_the_clock(registry, clock):
    w = await registry.watch(CONFIGMAPS, "default", resource_version=str(registry.store.revision),
                             allow_bookmarks=True, timeout_seconds=12)
    task = asyncio.ensure_future(w.__anext__())
    await settle()
    assert not task.done()
    await clock.advance(5)
    bm = await asyncio.wait_for(task, 1)
    assert bm.type == "BOOKMARK" and bm.object["metadata"]["resourceVersion"] == str(registry.store.revision)
    await registry.create(CONFIGMAPS, "default", {"metadata": {"name": "c"}})
    assert (await next_event(w)).type == "ADDED"
    task = asyncio.ensure_future(w.__anext__())
    await settle()
    await clock.advance(5)
    assert (await asyncio.wait_for(task, 1)).type == "BOOKMARK"
    task = asyncio.ensure_future(w.__anext__())
    await settle()
    await clock.advance(3)  # 13 s > timeoutSeconds
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(task, 1)


async def test_too_old_resource_version_is_gone(clock):
    store = Store(None, clock=clock, history_events=2, history_seconds=0)
    await store.open()
    try:
        registry = Registry(store, clock=clock)
        for i in range(6):
            await registry.create(NAMESPACES, None, {"metadata": {"name": f"n{i}"}})
        await clock.advance(1)  # the history keeps events for history_seconds at least
        with pytest.raises(errors.Gone) as e:
            await registry.watch(NAMESPACES, None, resource_version="1")
        assert e.value.code == 410
        assert e.value.message.startswith("too old resource version: 1 (")
        with pytest.raises(errors.BadRequest):
            await registry.watch(NAMESPACES, None, resource_version="abc")
    finally:
        await store.close()
