"""client-go for kubetui: the ``Client`` interface and its implementations.

``HTTPClient`` speaks HTTPS to any kube-apiserver-compatible server; the
API server's own loopback client over its registry is
``kubetui.apiserver.inprocess.InProcessClient`` (client-go knows no server).
"""

from __future__ import annotations

from kubetui.client.base import (
    APPLY_PATCH, JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, Client, WatchEvent,
)

__all__ = [
    "APPLY_PATCH", "JSON_PATCH", "MERGE_PATCH", "STRATEGIC_MERGE_PATCH", "Client", "WatchEvent",
]

