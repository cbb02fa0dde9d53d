"""The ``Client`` for components running in the API server's own process.

Upstream every component talks to kube-apiserver over HTTPS through
client-go. kubetui's scheduler, controllers and TUI run in the same asyncio
loop as the API server, so ``InProcessClient`` calls the registry directly:
the same verbs, the same validation, the same ``Status`` errors, minus the
JSON and TLS. Objects are copied at the boundary in both directions, so a
controller editing an object it got can never change what is stored.
"""

from __future__ import annotations

from typing import Any, AsyncIterator

from kubetui.api.errors import NotFound
from kubetui.api.patch import copy_json
from kubetui.api.resources import Resource, resource_for
from kubetui.apiserver.registry import Registry
from kubetui.apiserver.watch import RegistryWatch
from kubetui.client.base import MERGE_PATCH, WatchEvent


# Every object crosses this boundary as a private copy (see copy_json for the cost).
copy_obj = copy_json


def _resource(name: str | Resource) -> Resource:
    if isinstance(name, Resource):
        return name
    try:
        return resource_for(name)
    except KeyError:
        raise NotFound(f'the server doesn\'t have a resource type "{name}"') from None


def _namespace(r: Resource, namespace: str | None, obj: dict[str, Any] | None = None) -> str | None:
    if not r.namespaced:
        return None
    if namespace:
        return namespace
    meta = (obj or {}).get("metadata") or {}
    return meta.get("namespace") or "default"


class InProcessWatch:
    """A registry watch whose events carry private copies."""

    def __init__(self, inner: RegistryWatch) -> None:
        self._inner = inner

    def __aiter__(self) -> "InProcessWatch":
        return self

    async def __anext__(self) -> WatchEvent:
        ev = await self._inner.__anext__()
        return WatchEvent(ev.type, copy_obj(ev.object))

    async def start(self) -> "InProcessWatch":
        await self._inner.start()
        return self

    def close(self) -> None:
        self._inner.close()

    async def aclose(self) -> None:
        self._inner.close()


class InProcessClient:
    """``kubetui.client.base.Client`` over a ``Registry`` in the same process."""

    def __init__(self, registry: Registry, *, field_manager: str | None = None) -> None:
        #: calls served, like the API server's request count (the TUI's activity indicator)
        self.requests = 0
        self.registry = registry
        self.field_manager = field_manager

    async def get(self, resource: str, name: str, namespace: str | None = None, *,
                  subresource: str | None = None) -> dict[str, Any]:
        self.requests += 1
        r = _resource(resource)
        return copy_obj(await self.registry.get(r, _namespace(r, namespace), name, subresource=subresource))

    async def list(self, resource: str, namespace: str | None = None, *, label_selector: str | None = None,
                   field_selector: str | None = None, limit: int | None = None,
                   continue_: str | None = None, resource_version: str | None = None) -> dict[str, Any]:
        # in-process clients read the registry's current state: resource_version changes nothing here
        self.requests += 1
        r = _resource(resource)
        out = await self.registry.list(r, namespace if r.namespaced else None, label_selector=label_selector,
                                       field_selector=field_selector, limit=limit, continue_=continue_)
        return {**out, "metadata": dict(out["metadata"]), "items": [copy_obj(i) for i in out["items"]]}

    async def create(self, resource: str, obj: dict[str, Any], namespace: str | None = None, *,
                     subresource: str | None = None, name: str | None = None,
                     dry_run: bool = False) -> dict[str, Any]:
        self.requests += 1
        r = _resource(resource)
        return copy_obj(await self.registry.create(r, _namespace(r, namespace, obj), copy_obj(obj),
                                                   subresource=subresource, name=name, dry_run=dry_run,
                                                   field_manager=self.field_manager))

    async def update(self, resource: str, obj: dict[str, Any], namespace: str | None = None, *,
                     subresource: str | None = None) -> dict[str, Any]:
        self.requests += 1
        r = _resource(resource)
        name = (obj.get("metadata") or {}).get("name")
        return copy_obj(await self.registry.update(r, _namespace(r, namespace, obj), name, copy_obj(obj),
                                                   subresource=subresource, field_manager=self.field_manager))

    async def patch(self, resource: str, name: str, patch: Any, namespace: str | None = None, *,
                    patch_type: str = MERGE_PATCH, subresource: str | None = None,
                    field_manager: str | None = None, force: bool = False) -> dict[str, Any]:
        self.requests += 1
        r = _resource(resource)
        return copy_obj(await self.registry.patch(r, _namespace(r, namespace), name, copy_obj(patch), patch_type,
                                                  subresource=subresource,
                                                  field_manager=field_manager or self.field_manager, force=force))

    async def delete(self, resource: str, name: str, namespace: str | None = None, *,
                     propagation_policy: str | None = None, grace_period_seconds: int | None = None,
                     resource_version: str | None = None, uid: str | None = None) -> dict[str, Any]:
        self.requests += 1
        r = _resource(resource)
        pre = {k: v for k, v in (("resourceVersion", resource_version), ("uid", uid)) if v}
        return copy_obj(await self.registry.delete(r, _namespace(r, namespace), name,
                                                   propagation_policy=propagation_policy,
                                                   grace_period_seconds=grace_period_seconds,
                                                   preconditions=pre or None))

    async def delete_collection(self, resource: str, namespace: str | None = None, *,
                                label_selector: str | None = None, field_selector: str | None = None,
                                propagation_policy: str | None = None) -> dict[str, Any]:
        self.requests += 1
        r = _resource(resource)
        return copy_obj(await self.registry.delete_collection(
            r, namespace if r.namespaced else None, label_selector=label_selector,
            field_selector=field_selector, propagation_policy=propagation_policy))

    def watch(self, resource: str, namespace: str | None = None, *, resource_version: str | None = None,
              label_selector: str | None = None, field_selector: str | None = None,
              timeout_seconds: int | None = None, allow_bookmarks: bool = False,
              send_initial_events: bool = False) -> AsyncIterator[WatchEvent]:
        self.requests += 1
        r = _resource(resource)
        return InProcessWatch(self.registry.watch(
            r, namespace if r.namespaced else None, resource_version=resource_version,
            label_selector=label_selector, field_selector=field_selector, allow_bookmarks=allow_bookmarks,
            send_initial_events=send_initial_events, timeout_seconds=timeout_seconds))

    async def close(self) -> None:
        """Nothing to release: the registry belongs to the API server."""
