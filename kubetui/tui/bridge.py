"""The bridge: list+watch loops whose events reach widgets as coalesced Textual messages.

Upstream: client-go's reflector and informer cache (tools/cache/reflector.go,
shared_informer.go). For each resource on screen the bridge lists, then
watches from the list's resourceVersion, keeps a local cache keyed
``namespace/name``, and relists when the server says the version is ``Gone``
(410), exactly as a reflector does.

Widgets subscribe to resources. Changes pile up per subscriber and one
``ObjectsChanged`` ping per frame tells it to ``take_changes()``; the ping is
``can_replace``-able, so a widget that falls behind gets one ping holding
every change, not a queue of thousands. That is how 1,000 pods changing at
once do not freeze the screen.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from textual.message import Message
from textual.widget import Widget

from kubetui.api import errors
from kubetui.api.resources import resource_for
from kubetui.client.base import Client

if TYPE_CHECKING:
    from textual.app import App

log = logging.getLogger(__name__)

Obj = dict[str, Any]
#: resource -> {key: "ADDED" | "MODIFIED" | "DELETED"}
Changes = dict[str, dict[str, str]]

FRAME_SECONDS = 1 / 60
FORBIDDEN_RETRY_SECONDS = 30.0  # permissions change rarely: retry a refused list slowly
RETRY_SECONDS = 1.0


def _namespaced(resource: str) -> bool:
    try:
        return resource_for(resource).namespaced
    except KeyError:
        return True  # a custom resource the TUI has no table for: let the server decide


def object_key(obj: Obj) -> str:
    """``namespace/name``, or ``name`` for cluster-scoped objects (client-go's MetaNamespaceKeyFunc)."""
    md = obj.get("metadata", {})
    ns = md.get("namespace")
    return f"{ns}/{md.get('name', '')}" if ns else md.get("name", "")


class ObjectsChanged(Message):
    """Some objects a widget subscribed to changed: call ``bridge.take_changes(widget)``."""

    def __init__(self, bridge: "WatchBridge") -> None:
        super().__init__()
        self.bridge = bridge

    def can_replace(self, message: Message) -> bool:
        # The changes live in the bridge, so a newer ping stands for an older one.
        return isinstance(message, ObjectsChanged)


@dataclass
class _Subscriber:
    widget: Widget
    resources: frozenset[str]
    pending: Changes = field(default_factory=dict)
    pinged: bool = False


class WatchBridge:
    """Informer-like caches for the resources on screen, feeding subscribed widgets."""

    def __init__(self, app: "App[Any]", client: Client | Callable[[], Client]) -> None:
        self.app = app
        self._client = client
        self._cache: dict[str, dict[str, Obj]] = {}
        self._synced: dict[str, asyncio.Event] = {}
        self._subscribers: dict[int, _Subscriber] = {}
        self._flush_handle: asyncio.Handle | None = None
        self._changed = asyncio.Condition()
        #: last error per resource (shown in the status line), cleared on success
        self.errors: dict[str, str] = {}
        #: the namespace to fall back to when RBAC refuses a list across all namespaces (the
        #: kubeconfig context's, as kubectl uses it); ``scopes`` says which resources fell back
        self.fallback_namespace: str | None = None
        self.scopes: dict[str, str] = {}
        #: perf_counter() when the newest event for (resource, key) arrived (for latency figures)
        self.received_at: dict[tuple[str, str], float] = {}
        self.events_seen = 0

    @property
    def client(self) -> Client:
        return self._client() if callable(self._client) else self._client

    # -- informers --------------------------------------------------------------

    def ensure(self, *resources: str) -> None:
        """Start list+watch for each resource not yet watched (idempotent)."""
        for resource in resources:
            if resource in self._synced:
                continue
            self._synced[resource] = asyncio.Event()
            self._cache[resource] = {}
            self.app.run_worker(self._informer(resource), name=f"informer:{resource}",
                                group="bridge", exit_on_error=False)

    def objects(self, resource: str) -> dict[str, Obj]:
        """The cached objects of a resource (``key -> object``); do not mutate."""
        return self._cache.get(resource, {})

    def get(self, resource: str, key: str) -> Obj | None:
        return self._cache.get(resource, {}).get(key)

    def is_synced(self, resource: str) -> bool:
        ev = self._synced.get(resource)
        return ev is not None and ev.is_set()

    async def wait_synced(self, *resources: str, timeout: float = 10.0) -> None:
        """Wait until each resource has been listed once (a real sync point for tests)."""
        self.ensure(*resources)
        await asyncio.wait_for(asyncio.gather(*(self._synced[r].wait() for r in resources)), timeout)

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``predicate()`` holds, re-checking after each batch of events."""
        async def _wait() -> None:
            async with self._changed:
                await self._changed.wait_for(predicate)
        await asyncio.wait_for(_wait(), timeout)

    async def _informer(self, resource: str) -> None:
        while True:
            scope = self.scopes.get(resource)
            try:
                rv = await self._relist(resource, scope)
                self.errors.pop(resource, None)
                while True:  # re-watch from the last version seen until the server says Gone
                    rv = await self._watch(resource, rv, scope)
            except asyncio.CancelledError:
                raise
            except errors.Gone:
                log.debug("watch %s: resourceVersion too old, relisting", resource)
            except errors.Forbidden as exc:
                if scope is None and self.fallback_namespace and _namespaced(resource):
                    # A user bound to one namespace (a RoleBinding) may not list across all of
                    # them; like kubectl without -A, show their namespace instead
                    self.scopes[resource] = self.fallback_namespace
                    self._ping(resource)
                    continue
                # RBAC said no: the user's view says so (kubectl's words), and asks again now and then
                self.errors[resource] = f"forbidden: you may not list {resource} ({exc.message})"
                self._synced[resource].set()
                self._ping(resource)
                await asyncio.sleep(FORBIDDEN_RETRY_SECONDS)
            except Exception as exc:  # loop boundary: keep the informer alive, show the error
                log.warning("informer %s failed: %s", resource, exc)
                self.errors[resource] = str(exc)
                self._synced[resource].set()  # an empty, failed view is still a view
                await asyncio.sleep(RETRY_SECONDS)

    async def _relist(self, resource: str, namespace: str | None = None) -> str:
        lst = await self.client.list(resource, namespace)
        fresh = {object_key(o): o for o in lst.get("items", [])}
        cache = self._cache[resource]
        now = time.perf_counter()
        for key in list(cache):
            if key not in fresh:
                del cache[key]
                self._record(resource, key, "DELETED", now)
        for key, obj in fresh.items():
            old = cache.get(key)
            if old is None or old.get("metadata", {}).get("resourceVersion") != obj.get("metadata", {}).get("resourceVersion"):
                cache[key] = obj
                self._record(resource, key, "ADDED" if old is None else "MODIFIED", now)
        self._synced[resource].set()
        self._schedule_flush()
        return str(lst.get("metadata", {}).get("resourceVersion") or "")

    async def _watch(self, resource: str, rv: str, namespace: str | None = None) -> str:
        cache = self._cache[resource]
        async for ev in self.client.watch(resource, namespace, resource_version=rv or None, allow_bookmarks=True):
            obj = ev.object or {}
            if ev.type == "ERROR":
                if int(obj.get("code") or 0) == 410:
                    raise errors.Gone(obj.get("message", "too old resource version"))
                raise errors.StatusError.from_status(obj)
            rv = str(obj.get("metadata", {}).get("resourceVersion") or rv)
            if ev.type == "BOOKMARK":
                continue
            key = object_key(obj)
            if ev.type == "DELETED":
                cache.pop(key, None)
            else:
                cache[key] = obj
            self._record(resource, key, ev.type, time.perf_counter())
            self._schedule_flush()
        return rv

    # -- subscribers ----------------------------------------------------------------

    def subscribe(self, widget: Widget, *resources: str) -> None:
        """Deliver ``ObjectsChanged`` to ``widget`` when any of ``resources`` changes."""
        self._subscribers[id(widget)] = _Subscriber(widget, frozenset(resources))
        self.ensure(*resources)

    def unsubscribe(self, widget: Widget) -> None:
        self._subscribers.pop(id(widget), None)

    def take_changes(self, widget: Widget) -> Changes:
        """Everything that changed for ``widget`` since it last asked."""
        sub = self._subscribers.get(id(widget))
        if sub is None:
            return {}
        changes, sub.pending, sub.pinged = sub.pending, {}, False
        return changes

    def _record(self, resource: str, key: str, kind: str, at: float) -> None:
        self.events_seen += 1
        self.received_at[(resource, key)] = at
        for sub in self._subscribers.values():
            if resource in sub.resources:
                per = sub.pending.setdefault(resource, {})
                # ADDED then MODIFIED is still ADDED for the widget; a DELETED wins.
                if not (kind == "MODIFIED" and per.get(key) == "ADDED"):
                    per[key] = kind

    def _ping(self, resource: str) -> None:
        """Tell subscribers of ``resource`` to look again (its error or scope changed, not its objects)."""
        for sub in self._subscribers.values():
            if resource in sub.resources:
                sub.pending.setdefault(resource, {})
        self._schedule_flush()

    def scope_note(self, resource: str) -> str:
        """``namespace team only (…)`` when RBAC kept ``resource`` to one namespace, else ""."""
        scope = self.scopes.get(resource)
        return f"namespace {scope} only (you may not list {resource} in all namespaces)" if scope else ""

    def status_notes(self, *resources: str) -> list[str]:
        """What a view of ``resources`` should say about what it cannot show (RBAC)."""
        notes = []
        for r in resources:
            if r in self.scopes:
                notes.append(f"{r}: {self.scope_note(r)}")
            elif self.errors.get(r, "").startswith("forbidden"):
                notes.append(f"{r}: forbidden")
        return notes

    def _schedule_flush(self) -> None:
        if self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_later(FRAME_SECONDS, self._flush)

    def _flush(self) -> None:
        """Once per frame: ping each subscriber with pending changes, wake waiters."""
        self._flush_handle = None
        for sub in list(self._subscribers.values()):
            if sub.pending and not sub.pinged and sub.widget.is_attached:
                sub.pinged = True
                sub.widget.post_message(ObjectsChanged(self))
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()
