"""The client interface every component uses to talk to the cluster.

Upstream: client-go's dynamic client. Controllers, the scheduler, the TUI and
the lessons engine only ever see this interface; whether the verbs travel over
HTTPS (``HTTPClient``) or are calls into the API server in the same process
(``InProcessClient``) is invisible to them. Errors are always raised as the
``kubetui.api.errors`` hierarchy, rebuilt from the server's ``Status``.

Objects are plain ``dict``s with Kubernetes' own field names (camelCase).
``resource`` arguments are anything ``kubetui.api.resources.resource_for``
accepts: ``"pods"``, ``"deployments"``, ``"deploy"``, ``"Deployment"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, AsyncIterator, Protocol

# Patch content types, as on the wire.
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


@dataclass
class WatchEvent:
    """One watch event: ``ADDED``, ``MODIFIED``, ``DELETED``, ``BOOKMARK`` or ``ERROR``."""

    type: str
    object: dict[str, Any]


class Client(Protocol):
    """The verbs of the Kubernetes API (all coroutines)."""

    async def get(self, resource: str, name: str, namespace: str | None = None,
                  *, subresource: str | None = None) -> dict[str, Any]: ...

    async def list(self, resource: str, namespace: str | None = None, *,
                   label_selector: str | None = None, field_selector: str | None = None,
                   limit: int | None = None, continue_: str | None = None,
                   resource_version: str | None = None) -> dict[str, Any]:
        """A ``<Kind>List`` with ``metadata.resourceVersion``; ``namespace=None`` lists all.
        ``resource_version="0"``: any state the API server has (its cache, no etcd quorum needed);
        unset: the latest (a quorum read)."""
        ...

    async def create(self, resource: str, obj: dict[str, Any], namespace: str | None = None, *,
                     subresource: str | None = None, name: str | None = None,
                     dry_run: bool = False) -> dict[str, Any]:
        """POST. ``subresource`` (with ``name``) for e.g. ``pods/binding``."""
        ...

    async def update(self, resource: str, obj: dict[str, Any], namespace: str | None = None, *,
                     subresource: str | None = None) -> dict[str, Any]:
        """PUT; ``metadata.resourceVersion`` in ``obj`` makes it compare-and-swap (409 if stale)."""
        ...

    async def patch(self, resource: str, name: str, patch: Any, namespace: str | None = None, *,
                    patch_type: str = MERGE_PATCH, subresource: str | None = None,
                    field_manager: str | None = None, force: bool = False) -> dict[str, Any]: ...

    async def delete(self, resource: str, name: str, namespace: str | None = None, *,
                     propagation_policy: str | None = None, grace_period_seconds: int | None = None,
                     resource_version: str | None = None, uid: str | None = None) -> dict[str, Any]:
        """DELETE; returns the deleted (or now-terminating) object."""
        ...

    def watch(self, resource: str, namespace: str | None = None, *,
              resource_version: str | None = None, label_selector: str | None = None,
              field_selector: str | None = None, timeout_seconds: int | None = None,
              allow_bookmarks: bool = False) -> AsyncIterator[WatchEvent]:
        """Events after ``resource_version`` (``None``: ADDED for every current object first).

        A resourceVersion older than the server's history raises ``errors.Gone``:
        the caller relists, as client-go's reflector does.
        """
        ...

    async def close(self) -> None: ...
