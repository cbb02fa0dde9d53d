"""A list-watch cache of one resource, shared by every node agent (upstream: client-go's ``Reflector``
in ``tools/cache/reflector.go`` feeding an informer's store and its event handlers).

The kubelet (its pods, every Node for routes), kube-proxy and the cluster DNS
(Services and EndpointSlices) all keep a resource in memory the same way:

1. **list** it, replace the store with the result and remember the list's
   ``resourceVersion``;
2. **watch** from that ``resourceVersion``: each ``ADDED``/``MODIFIED``/
   ``DELETED`` event updates the store and calls the handlers; a ``BOOKMARK``
   only moves the remembered ``resourceVersion`` forward (the API server sends
   them so a quiet watch can resume without a relist);
3. when the watch simply **ends** (the server closed it), watch again from the
   last ``resourceVersion`` seen: nothing was missed, no relist;
4. **410 Gone** (the version is older than the server's watch history) means
   events were lost: list again at once;
5. any other **error** (API server down, connection reset, a watch that ends
   at once with nothing in it): wait, then list
   again, waiting longer after each failure in a row (upstream's
   ``BackoffManager``: 800 ms doubling, with jitter) and starting over once a
   watch has worked.

A relist replaces the store the way upstream's ``DeltaFIFO.Replace`` does:
objects in the new list are added or updated, objects missing from it are
deleted (their handlers see ``on_delete``, as for upstream's
``DeletedFinalStateUnknown``). ``on_change`` is called once per applied list
and once per event, for owners that only resync everything (kube-proxy's
rules, the DNS zone, the node's routes). Handlers may be coroutines; they are
awaited in order, so an owner sees events one at a time.

Standard library only: it runs inside the node and in the DNS pod.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any, Awaitable, Callable

from kubetui.agent.clock import RealClock

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Handler = Callable[..., "Awaitable[None] | None"]


def object_key(obj: Obj) -> str:
    """``namespace/name`` (just ``name`` for cluster-scoped objects): upstream's ``MetaNamespaceKeyFunc``."""
    m = obj.get("metadata") or {}
    return f"{m.get('namespace')}/{m.get('name')}" if m.get("namespace") else str(m.get("name"))


def uid_key(obj: Obj) -> str:
    """The object's uid: a pod deleted and re-created under its name is another object (the kubelet's view)."""
    return str((obj.get("metadata") or {}).get("uid") or object_key(obj))


class ShortWatch(Exception):
    """A watch the server ended at once, with nothing in it."""


class Backoff:
    """Exponential backoff with jitter, reset by a success (upstream ``wait.NewExponentialBackoffManager``)."""

    def __init__(self, initial: float = 0.8, cap: float = 5.0, factor: float = 2.0, jitter: float = 0.5,
                 rand: Callable[[], float] = random.random) -> None:
        self.initial, self.cap, self.factor, self.jitter, self.rand = initial, cap, factor, jitter, rand
        self._next = initial

    def delay(self) -> float:
        """The wait before the next attempt; each call doubles the one after (up to ``cap``)."""
        d = self._next
        self._next = min(self.cap, self._next * self.factor)
        return min(self.cap, d * (1 + self.jitter * self.rand()))

    def reset(self) -> None:
        self._next = self.initial


class Reflector:
    """Keeps ``store`` equal to the API server's objects under ``path`` (with ``params``' selectors)."""

    def __init__(self, api: Any, path: str, *, params: dict[str, str] | None = None,
                 key: Callable[[Obj], str] = object_key, on_add: Handler | None = None,
                 on_update: Handler | None = None, on_delete: Handler | None = None,
                 on_change: Handler | None = None, clock: Any = None, backoff: Backoff | None = None,
                 name: str | None = None) -> None:
        self.api = api
        self.path = path
        self.params = {k: v for k, v in (params or {}).items() if v}
        self.key = key
        self.on_add, self.on_update, self.on_delete, self.on_change = on_add, on_update, on_delete, on_change
        self.clock = clock or RealClock()
        self.backoff = backoff or Backoff()
        self.name = name or path
        self.store: dict[str, Obj] = {}
        self.resource_version = ""      # the last one seen: a list's, an event's or a bookmark's
        self.synced = asyncio.Event()   # set once the first list is in the store (upstream HasSynced)
        self.lists = 0                  # how many times it listed (tests, logs)
        self._relist_latest = False     # the last version is too old (410 Gone): list the latest state
        self._task: asyncio.Task[None] | None = None

    # -- reading the cache -------------------------------------------------------------
    def list(self) -> list[Obj]:
        return list(self.store.values())

    def get(self, key: str) -> Obj | None:
        return self.store.get(key)

    # -- running -------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=f"reflector {self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None

    async def run(self) -> None:
        """List and watch forever (upstream ``Reflector.Run``: ``ListAndWatch`` under a backoff)."""
        while True:
            try:
                await self.list_and_watch()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - loop boundary: every failure means "list again"
                if getattr(e, "code", None) == 410:
                    self._relist_latest = True
                    log.debug("watch of %s: resourceVersion %s is too old (410 Gone); relisting",
                              self.name, self.resource_version)
                    continue
                delay = self.backoff.delay()
                log.warning("list/watch of %s failed: %s; relisting in %.1fs", self.name, e, delay)
                await self.clock.sleep(delay)

    def relist_resource_version(self) -> str:
        """client-go's ``relistResourceVersion``: the first list asks for ``"0"`` (any state the API server
        has, from its watch cache: no etcd quorum needed), a relist for at least the version already seen,
        after 410 Gone for the latest state (``""``: a quorum read)."""
        return "" if self._relist_latest else (self.resource_version or "0")

    async def list_and_watch(self) -> None:
        """One list, then watches from its resourceVersion until one fails (which raises)."""
        rv = self.relist_resource_version()
        params = {**self.params, **({"resourceVersion": rv} if rv else {})}
        lst = await self.api.get(self._url(self.path, params))
        self._relist_latest = False
        self.lists += 1
        await self.replace(lst.get("items") or [], (lst.get("metadata") or {}).get("resourceVersion", ""))
        while True:
            await self.watch_once()

    async def watch_once(self) -> None:
        """Watch from the last resourceVersion until the server ends the stream; raises on errors.

        A watch that ends within a second having delivered nothing is an error (upstream's
        "very short watch"): a server that closes every watch at once must not be hammered.
        """
        params = dict(self.params, resourceVersion=self.resource_version, allowWatchBookmarks="true")
        started, events = self.clock.monotonic(), 0
        async for typ, obj in self.api.watch(self.path, params):
            events += 1
            rv = (obj.get("metadata") or {}).get("resourceVersion")
            if typ == "BOOKMARK":
                if rv:
                    self.resource_version = rv
                continue
            if typ not in ("ADDED", "MODIFIED", "DELETED"):
                continue
            await self._apply(typ, obj)
            if rv:
                self.resource_version = rv
            self.backoff.reset()      # the API server answers: the next failure starts the backoff over
        if not events and self.clock.monotonic() - started < 1.0:
            raise ShortWatch(f"very short watch of {self.name}: it ended at once with no event")

    async def replace(self, items: list[Obj], resource_version: str) -> None:
        """Make the store hold exactly ``items`` (upstream ``Store.Replace``), calling the handlers."""
        old, new = self.store, {self.key(o): o for o in items}
        self.store = new
        self.resource_version = resource_version
        for k, obj in new.items():
            if k in old:
                await _call(self.on_update, old[k], obj)
            else:
                await _call(self.on_add, obj)
        for k, obj in old.items():
            if k not in new:
                await _call(self.on_delete, obj)
        self.synced.set()
        await _call(self.on_change)

    async def _apply(self, typ: str, obj: Obj) -> None:
        k = self.key(obj)
        if typ == "DELETED":
            gone = self.store.pop(k, None)
            await _call(self.on_delete, gone if gone is not None else obj)
        else:
            prev = self.store.get(k)
            self.store[k] = obj
            if prev is None:
                await _call(self.on_add, obj)
            else:
                await _call(self.on_update, prev, obj)
        await _call(self.on_change)

    @staticmethod
    def _url(path: str, params: dict[str, str]) -> str:
        from urllib.parse import urlencode
        return f"{path}?{urlencode(params)}" if params else path


async def _call(fn: Handler | None, *args: Any) -> None:
    if fn is None:
        return
    r = fn(*args)
    if asyncio.iscoroutine(r):
        await r
