"""Shared informers: a local, always-current cache of one resource, fed by list + watch.

Upstream: client-go ``tools/cache`` (``reflector.go``, ``shared_informer.go``,
``thread_safe_store.go``, ``index.go``) and ``informers/factory.go``.

A controller never polls the API server. Its informer *lists* every object
once, then *watches* from the list's resourceVersion, applying each event to a
local store and calling the registered handlers. If the watch ends, it
re-watches from the last resourceVersion it saw; if that version is too old
(``410 Gone``), it relists and tells the handlers what changed meanwhile.
Indexers (by namespace, by owner uid, by node name) let a controller find
"the pods of this ReplicaSet" without scanning everything. One informer per
resource is shared by all controllers through ``InformerFactory``.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import threading
from typing import Any, Callable, Iterable

from kubetui.api import errors
from kubetui.client.base import Client
from kubetui.clock import Clock

log = logging.getLogger(__name__)

Obj = dict[str, Any]
IndexFunc = Callable[[Obj], Iterable[str]]
AddHandler = Callable[[Obj], None]
UpdateHandler = Callable[[Obj, Obj], None]
DeleteHandler = Callable[[Obj], None]


def meta_namespace_key(obj: Obj) -> str:
    """client-go's ``MetaNamespaceKeyFunc``: ``namespace/name``, or ``name`` if cluster-scoped."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name', '')}" if ns else meta.get("name", "")


def split_key(key: str) -> tuple[str | None, str]:
    """``"default/web"`` -> ``("default", "web")``; ``"node-1"`` -> ``(None, "node-1")``."""
    if "/" in key:
        ns, name = key.split("/", 1)
        return ns, name
    return None, key


# --- common indexers ---

def index_by_namespace(obj: Obj) -> list[str]:
    ns = (obj.get("metadata") or {}).get("namespace")
    return [ns] if ns else []


def index_by_owner_uid(obj: Obj) -> list[str]:
    """Every owner's uid (``metadata.ownerReferences[].uid``)."""
    return [r["uid"] for r in (obj.get("metadata") or {}).get("ownerReferences") or [] if r.get("uid")]


def index_by_controller_uid(obj: Obj) -> list[str]:
    """The managing controller's uid (the ownerReference with ``controller: true``)."""
    return [r["uid"] for r in (obj.get("metadata") or {}).get("ownerReferences") or []
            if r.get("controller") and r.get("uid")]


def index_by_node_name(obj: Obj) -> list[str]:
    node = (obj.get("spec") or {}).get("nodeName")
    return [node] if node else []


NAMESPACE_INDEX = "namespace"
OWNER_INDEX = "owner"
CONTROLLER_INDEX = "controller"
NODE_INDEX = "nodeName"

DEFAULT_INDEXERS: dict[str, IndexFunc] = {
    NAMESPACE_INDEX: index_by_namespace,
    OWNER_INDEX: index_by_owner_uid,
    CONTROLLER_INDEX: index_by_controller_uid,
    NODE_INDEX: index_by_node_name,
}


class Indexer:
    """The informer's store: objects by key, plus secondary indexes (thread-safe)."""

    def __init__(self, indexers: dict[str, IndexFunc] | None = None) -> None:
        self._lock = threading.RLock()
        self._items: dict[str, Obj] = {}
        self._indexers: dict[str, IndexFunc] = dict(indexers or {})
        # index name -> value -> keys
        self._indices: dict[str, dict[str, set[str]]] = {n: {} for n in self._indexers}

    def add_indexers(self, indexers: dict[str, IndexFunc]) -> None:
        with self._lock:
            for name, fn in indexers.items():
                if name in self._indexers:
                    continue
                self._indexers[name] = fn
                self._indices[name] = {}
                for key, obj in self._items.items():
                    self._index_one(name, key, obj)

    def _index_one(self, name: str, key: str, obj: Obj) -> None:
        for value in self._indexers[name](obj):
            self._indices[name].setdefault(value, set()).add(key)

    def _unindex(self, key: str, obj: Obj) -> None:
        for name, fn in self._indexers.items():
            idx = self._indices[name]
            for value in fn(obj):
                keys = idx.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del idx[value]

    def put(self, key: str, obj: Obj) -> Obj | None:
        """Store ``obj``; returns the previous object."""
        with self._lock:
            old = self._items.get(key)
            if old is not None:
                self._unindex(key, old)
            self._items[key] = obj
            for name in self._indexers:
                self._index_one(name, key, obj)
            return old

    def remove(self, key: str) -> Obj | None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._unindex(key, old)
            return old

    def get(self, key: str) -> Obj | None:
        """The cached object (shared: never mutate it, deep-copy first)."""
        with self._lock:
            return self._items.get(key)

    def list(self) -> list[Obj]:
        with self._lock:
            return list(self._items.values())

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._items)

    def by_index(self, index: str, value: str) -> list[Obj]:
        """Objects whose indexer ``index`` yields ``value``, e.g. ``("namespace", "default")``."""
        with self._lock:
            keys = self._indices[index].get(value, ())
            return [self._items[k] for k in sorted(keys)]

    def __len__(self) -> int:
        return len(self._items)


class SharedInformer:
    """List + watch one resource into an ``Indexer`` and fan events out to handlers."""

    def __init__(self, client: Client, resource: str, namespace: str | None = None, *,
                 label_selector: str | None = None, field_selector: str | None = None,
                 resync_seconds: float | None = None, clock: Clock | None = None,
                 indexers: dict[str, IndexFunc] | None = None,
                 retry_seconds: float = 1.0) -> None:
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.resync_seconds = resync_seconds
        self.clock = clock or Clock()
        self.retry_seconds = retry_seconds
        self.store = Indexer({**DEFAULT_INDEXERS, **(indexers or {})})
        self._handlers: list[tuple[AddHandler | None, UpdateHandler | None, DeleteHandler | None]] = []
        self._synced = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.last_resource_version: str | None = None
        #: the last list's version is too old (410 Gone): the next list asks for the latest state
        self._relist_latest = False
        # Counters for the TUI and tests: how the reflector has been doing.
        self.lists = 0
        self.watches = 0
        self.events = 0

    # --- handlers ---

    def add_handler(self, on_add: AddHandler | None = None, on_update: UpdateHandler | None = None,
                    on_delete: DeleteHandler | None = None) -> None:
        """Register callbacks. A handler added after sync gets ADD for every cached object."""
        self._handlers.append((on_add, on_update, on_delete))
        if self.has_synced and on_add is not None:
            for obj in self.store.list():
                self._call(on_add, obj)

    def add_indexers(self, indexers: dict[str, IndexFunc]) -> None:
        self.store.add_indexers(indexers)

    def _call(self, fn: Callable[..., None], *args: Obj) -> None:
        try:
            fn(*args)
        except Exception:  # a handler bug must not stop the informer
            log.exception("informer %s: handler failed for %s", self.resource,
                          meta_namespace_key(args[-1]))

    def _dispatch_add(self, obj: Obj) -> None:
        for on_add, _, _ in self._handlers:
            if on_add:
                self._call(on_add, obj)

    def _dispatch_update(self, old: Obj, new: Obj) -> None:
        for _, on_update, _ in self._handlers:
            if on_update:
                self._call(on_update, old, new)

    def _dispatch_delete(self, obj: Obj) -> None:
        for _, _, on_delete in self._handlers:
            if on_delete:
                self._call(on_delete, obj)

    # --- lifecycle ---

    @property
    def has_synced(self) -> bool:
        """True once the first list has been applied to the store."""
        return self._synced.is_set()

    async def wait_for_sync(self) -> None:
        await self._synced.wait()

    async def start(self) -> None:
        """Start the reflector (and the resync loop) in the background."""
        if self._tasks:
            return
        self._tasks.append(asyncio.create_task(self._run(), name=f"informer-{self.resource}"))
        if self.resync_seconds:
            self._tasks.append(asyncio.create_task(self._resync_loop(), name=f"resync-{self.resource}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks.clear()

    # --- the reflector ---

    async def _run(self) -> None:
        need_list = True
        while True:
            try:
                if need_list:
                    await self._list()
                    need_list = False
                await self._watch()
                # The server ended the watch (timeout): watch again from the last version.
            except errors.Gone:
                log.info("informer %s: resourceVersion %s is too old, relisting",
                         self.resource, self.last_resource_version)
                need_list = True
                self._relist_latest = True
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("informer %s: list/watch failed (%s), retrying in %.1fs",
                            self.resource, e, self.retry_seconds)
                need_list = True
                await self.clock.sleep(self.retry_seconds)

    def relist_resource_version(self) -> str:
        """client-go's ``relistResourceVersion``: the first list asks for ``"0"`` (any state the API server
        has: its watch cache answers, even while etcd has no quorum), a relist for at least the version
        already seen, and after 410 Gone for the latest state (``""``, a quorum read)."""
        if self._relist_latest:
            return ""
        return self.last_resource_version or "0"

    async def _list(self) -> None:
        result = await self.client.list(self.resource, self.namespace,
                                         label_selector=self.label_selector,
                                         field_selector=self.field_selector,
                                         resource_version=self.relist_resource_version())
        self._relist_latest = False
        self.lists += 1
        items = result.get("items") or []
        kind = (result.get("kind") or "").removesuffix("List")
        api_version = result.get("apiVersion")
        fresh: dict[str, Obj] = {}
        for item in items:
            # Items in a list may omit kind/apiVersion; handlers like them filled in.
            if kind and "kind" not in item:
                item = {"kind": kind, "apiVersion": api_version, **item}
            fresh[meta_namespace_key(item)] = item
        self._replace(fresh)
        self.last_resource_version = (result.get("metadata") or {}).get("resourceVersion")
        self._synced.set()

    def _replace(self, fresh: dict[str, Obj]) -> None:
        """Apply a full list: adds, updates and deletes for what changed (``Replace`` upstream)."""
        for key in self.store.keys():
            if key not in fresh:
                old = self.store.remove(key)
                if old is not None:
                    self._dispatch_delete(old)
        for key, obj in fresh.items():
            old = self.store.put(key, obj)
            if old is None:
                self._dispatch_add(obj)
            elif _rv(old) != _rv(obj):
                self._dispatch_update(old, obj)

    async def _watch(self) -> None:
        self.watches += 1
        stream = self.client.watch(self.resource, self.namespace,
                                   resource_version=self.last_resource_version,
                                   label_selector=self.label_selector,
                                   field_selector=self.field_selector,
                                   allow_bookmarks=True)
        try:
            async for event in stream:
                self._apply(event.type, event.object)
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                try:
                    await aclose()
                except Exception:
                    pass

    def _apply(self, type_: str, obj: Obj) -> None:
        if type_ == "ERROR":
            raise errors.StatusError.from_status(obj)
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        if rv:
            self.last_resource_version = rv
        if type_ == "BOOKMARK":
            return
        self.events += 1
        key = meta_namespace_key(obj)
        if type_ == "DELETED":
            old = self.store.remove(key)
            self._dispatch_delete(old if obj.get("metadata") is None else obj)
            return
        old = self.store.put(key, obj)
        if old is None:
            self._dispatch_add(obj)
        else:
            self._dispatch_update(old, obj)

    async def _resync_loop(self) -> None:
        """Periodically replay every cached object as an update (level-triggered healing)."""
        assert self.resync_seconds
        while True:
            await self.clock.sleep(self.resync_seconds)
            if self.has_synced:
                for obj in self.store.list():
                    self._dispatch_update(obj, obj)

    # --- reading the cache ---

    def get(self, key: str) -> Obj | None:
        return self.store.get(key)

    def get_copy(self, key: str) -> Obj | None:
        obj = self.store.get(key)
        return copy.deepcopy(obj) if obj is not None else None

    def list(self, namespace: str | None = None) -> list[Obj]:
        if namespace is None:
            return self.store.list()
        return self.store.by_index(NAMESPACE_INDEX, namespace)

    def by_index(self, index: str, value: str) -> list[Obj]:
        return self.store.by_index(index, value)


def _rv(obj: Obj) -> str | None:
    return (obj.get("metadata") or {}).get("resourceVersion")


class InformerFactory:
    """One shared informer per (resource, namespace) for every controller (``SharedInformerFactory``)."""

    def __init__(self, client: Client, *, clock: Clock | None = None,
                 resync_seconds: float | None = None) -> None:
        self.client = client
        self.clock = clock or Clock()
        self.resync_seconds = resync_seconds
        self._informers: dict[tuple[str, str | None], SharedInformer] = {}

    def informer(self, resource: str, namespace: str | None = None) -> SharedInformer:
        key = (resource, namespace)
        inf = self._informers.get(key)
        if inf is None:
            inf = SharedInformer(self.client, resource, namespace, clock=self.clock,
                                 resync_seconds=self.resync_seconds)
            self._informers[key] = inf
        return inf

    @property
    def informers(self) -> dict[tuple[str, str | None], SharedInformer]:
        return dict(self._informers)

    async def start(self) -> None:
        for inf in self._informers.values():
            await inf.start()

    async def wait_for_cache_sync(self) -> None:
        await asyncio.gather(*(inf.wait_for_sync() for inf in self._informers.values()))

    async def stop(self) -> None:
        for inf in self._informers.values():
            await inf.stop()
