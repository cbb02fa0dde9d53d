"""The bridge: list+watch into a cache, coalesced pings to subscribers, relist on Gone."""

from __future__ import annotations

import asyncio

from textual.app import App, ComposeResult
from textual.widgets import Static

from kubetui.api import errors
from kubetui.client.base import WatchEvent
from kubetui.tui.bridge import ObjectsChanged, WatchBridge, object_key
from tests.tui.fakes import FakeClient, pod, populated_client


class Probe(Static):
    def __init__(self) -> None:
        super().__init__()
        self.pings = 0
        self.changes: list[dict] = []

    def on_objects_changed(self, message: ObjectsChanged) -> None:
        self.pings += 1
        self.changes.append(message.bridge.take_changes(self))


class BridgeApp(App[None]):
    def __init__(self, client) -> None:
        super().__init__()
        self.bridge = WatchBridge(self, client)

    def compose(self) -> ComposeResult:
        yield Probe()


async def test_list_then_watch_keeps_cache_current():
    client = populated_client()
    app = BridgeApp(client)
    async with app.run_test() as pilot:
        probe = app.query_one(Probe)
        app.bridge.subscribe(probe, "pods")
        await app.bridge.wait_synced("pods")
        assert "default/crasher" in app.bridge.objects("pods")
        client.put("pods", pod("new-one", state="ContainerCreating"))
        await app.bridge.wait_until(lambda: "default/new-one" in app.bridge.objects("pods"))
        await client.delete("pods", "crasher", "default")
        await app.bridge.wait_until(lambda: "default/crasher" not in app.bridge.objects("pods"))
        await pilot.pause()
        merged = {}
        for c in probe.changes:
            merged.update(c.get("pods", {}))
        assert merged["default/new-one"] == "ADDED"
        assert merged["default/crasher"] == "DELETED"


async def test_burst_of_changes_is_coalesced():
    client = FakeClient()
    app = BridgeApp(client)
    async with app.run_test() as pilot:
        probe = app.query_one(Probe)
        app.bridge.subscribe(probe, "pods")
        await app.bridge.wait_synced("pods")
        for i in range(500):
            client.put("pods", pod(f"p-{i}"))
        await app.bridge.wait_until(lambda: len(app.bridge.objects("pods")) == 500)
        await pilot.pause()
        keys = set()
        for c in probe.changes:
            keys |= set(c.get("pods", {}))
        assert len(keys) == 500
        # 500 events arrived in one burst: a handful of pings, not 500.
        assert probe.pings < 10


class GoneOnceClient(FakeClient):
    """Fails the first watch with an ERROR 410 event, as an API server does after compaction."""

    def __init__(self) -> None:
        super().__init__()
        self.lists = 0
        self.gone_sent = False

    async def list(self, resource, namespace=None, **kw):
        self.lists += 1
        return await super().list(resource, namespace, **kw)

    async def watch(self, resource, namespace=None, **kw):
        if not self.gone_sent:
            self.gone_sent = True
            yield WatchEvent("ERROR", errors.Gone("too old resource version: 1 (100)").status())
            return
        async for ev in super().watch(resource, namespace, **kw):
            yield ev


async def test_gone_relists_like_a_reflector():
    client = GoneOnceClient()
    client.put("pods", pod("a"))
    app = BridgeApp(client)
    async with app.run_test():
        await app.bridge.wait_synced("pods")
        await app.bridge.wait_until(lambda: client.lists >= 2)
        client.put("pods", pod("b"))
        await app.bridge.wait_until(lambda: "default/b" in app.bridge.objects("pods"))
        assert set(app.bridge.objects("pods")) == {"default/a", "default/b"}


def test_object_key():
    assert object_key({"metadata": {"name": "n1"}}) == "n1"
    assert object_key({"metadata": {"name": "p", "namespace": "default"}}) == "default/p"


async def test_a_forbidden_list_says_so_instead_of_erroring():
    """A user's TUI: RBAC refusing a list is shown as 'forbidden', the view still syncs (empty)."""
    client = populated_client()
    real_list = client.list

    async def list_(resource, namespace=None, **kw):
        if resource == "secrets":
            raise errors.Forbidden('secrets is forbidden: User "alice" cannot list resource "secrets" in API '
                                   'group "" at the cluster scope')
        return await real_list(resource, namespace, **kw)

    client.list = list_
    app = BridgeApp(client)
    async with app.run_test():
        await app.bridge.wait_synced("secrets", "pods")
        assert app.bridge.objects("secrets") == {}
        assert app.bridge.errors["secrets"].startswith("forbidden: you may not list secrets (secrets is forbidden: "
                                                       'User "alice" cannot list')
        assert "pods" not in app.bridge.errors


async def test_a_user_kept_in_one_namespace_sees_that_namespace():
    """RBAC refuses pods across all namespaces (a RoleBinding in ``team``): the bridge lists and
    watches the kubeconfig context's namespace instead, as kubectl without ``-A`` does, and says so;
    a cluster-scoped kind it may not list (nodes) stays forbidden."""
    client = populated_client()
    client.put("pods", pod("mine", ns="team"))
    real_list, real_watch = client.list, client.watch
    calls = []

    async def list_(resource, namespace=None, **kw):
        calls.append((resource, namespace))
        if namespace is None:
            raise errors.Forbidden(f'{resource} is forbidden: User "bob" cannot list resource "{resource}" in API '
                                   'group "" at the cluster scope')
        return await real_list(resource, namespace, **kw)

    def watch_(resource, namespace=None, **kw):
        assert namespace == "team"
        return real_watch(resource, namespace, **kw)

    client.list, client.watch = list_, watch_
    app = BridgeApp(client)
    app.bridge.fallback_namespace = "team"
    async with app.run_test():
        await app.bridge.wait_synced("pods", "nodes")
        await app.bridge.wait_until(lambda: "team/mine" in app.bridge.objects("pods"))
        assert set(app.bridge.objects("pods")) == {"team/mine"}
        assert ("pods", "team") in calls and ("nodes", "team") not in calls
        assert app.bridge.status_notes("nodes", "pods") == [
            "nodes: forbidden", "pods: namespace team only (you may not list pods in all namespaces)"]
        client.put("pods", pod("later", ns="team"))
        await app.bridge.wait_until(lambda: "team/later" in app.bridge.objects("pods"))
