"""A list+watch cache of one resource, for the node agents (upstream: client-go's Reflector + Store).

kube-proxy and the cluster DNS both keep every Service and EndpointSlice in
memory: list once, then watch from that ``resourceVersion``; when the watch
ends (server timeout) or is too old (410 Gone), list again. Each change calls
``on_change`` so the owner can schedule a resync. Standard library only; it
speaks through ``kubetui.kubelet.apiclient.APIClient`` (or anything with the
same ``get``/``watch``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

log = logging.getLogger(__name__)

Obj = dict[str, Any]


def object_key(obj: Obj) -> str:
    m = obj.get("metadata") or {}
    return f"{m.get('namespace')}/{m.get('name')}" if m.get("namespace") else str(m.get("name"))


class ObjectCache:
    def __init__(self, api: Any, path: str, on_change: Callable[[], None] = lambda: None,
                 label_selector: str | None = None, retry_seconds: float = 1.0) -> None:
        self.api = api
        self.path = path
        self.on_change = on_change
        self.label_selector = label_selector
        self.retry_seconds = retry_seconds
        self.items: dict[str, Obj] = {}
        self.synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def list(self) -> list[Obj]:
        return list(self.items.values())

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=f"cache {self.path}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None

    async def run(self) -> None:
        params: dict[str, str] = {}
        if self.label_selector:
            params["labelSelector"] = self.label_selector
        while True:
            try:
                q = "&".join(f"{k}={v}" for k, v in params.items())
                lst = await self.api.get(f"{self.path}?{q}" if q else self.path)
                self.items = {object_key(o): o for o in lst.get("items") or []}
                self.synced.set()
                self.on_change()
                rv = (lst.get("metadata") or {}).get("resourceVersion", "")
                async for typ, obj in self.api.watch(self.path, {**params, "resourceVersion": rv,
                                                                 "allowWatchBookmarks": "true"}):
                    if typ in ("ADDED", "MODIFIED"):
                        self.items[object_key(obj)] = obj
                    elif typ == "DELETED":
                        self.items.pop(object_key(obj), None)
                    else:
                        continue
                    self.on_change()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - loop boundary: log, wait, relist
                if getattr(e, "code", None) != 410:
                    log.warning("watch of %s failed: %s; relisting in %.0fs", self.path, e, self.retry_seconds)
                    await asyncio.sleep(self.retry_seconds)
