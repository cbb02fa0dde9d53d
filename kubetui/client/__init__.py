"""client-go for kubetui: the ``Client`` interface and its implementations.

``InProcessClient`` calls the API server's registry directly (controllers,
scheduler and TUI in the control-plane process); ``HTTPClient`` speaks HTTPS
to any kube-apiserver-compatible server. Import ``InProcessClient`` from here
lazily: it pulls in the API server, which node agents must not need.
"""

from __future__ import annotations

from typing import Any

from kubetui.client.base import (
    APPLY_PATCH, JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, Client, WatchEvent,
)

__all__ = [
    "APPLY_PATCH", "JSON_PATCH", "MERGE_PATCH", "STRATEGIC_MERGE_PATCH", "Client", "InProcessClient",
    "WatchEvent",
]


def __getattr__(name: str) -> Any:
    # Lazy, so ``import kubetui.client.base`` (the kubelet's HTTPS client) never
    # drags in the API server and the store.
    if name == "InProcessClient":
        from kubetui.client.inprocess import InProcessClient
        return InProcessClient
    raise AttributeError(name)
