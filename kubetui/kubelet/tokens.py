"""The kubelet's token manager: bound ServiceAccount tokens for the pods' projected volumes.

Upstream: ``pkg/kubelet/token/token_manager.go``. For each pod volume source
``serviceAccountToken`` the kubelet posts a TokenRequest
(``/api/v1/namespaces/NS/serviceaccounts/SA/token``) bound to the pod (its
name and uid), with the source's audience and ``expirationSeconds``. It keeps
the answer and asks again once 80 % of the token's lifetime has passed (or
after 24 h), so the file the AtomicWriter rewrites always holds a live token:
the pod's client re-reads it (the official clients do). The token dies with
the pod, which is the point of binding it.
"""

from __future__ import annotations

import calendar
import logging
import time
from typing import Any

log = logging.getLogger(__name__)

Obj = dict[str, Any]
MAX_TTL = 24 * 3600
REFRESH_FRACTION = 0.8  # requiresRefresh: past 80 % of the lifetime


def _parse_time(ts: str) -> float:
    return float(calendar.timegm(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ")))


def needs_refresh(issued_at: float, expires_at: float, now: float) -> bool:
    """Upstream ``requiresRefresh`` (pure): past 80 % of the lifetime, or older than 24 h.

    >>> needs_refresh(0, 3600, 2879), needs_refresh(0, 3600, 2880)
    (False, True)
    """
    if now >= expires_at:
        return True
    return now - issued_at >= min(REFRESH_FRACTION * (expires_at - issued_at), MAX_TTL)


class TokenManager:
    """Bound tokens per (pod uid, service account, audience, lifetime), refreshed at 80 % of their life."""

    def __init__(self, api: Any, clock: Any) -> None:
        self.api, self.clock = api, clock
        self._cache: dict[tuple[str, str, str, str, int], tuple[float, float, str]] = {}

    async def get(self, pod: Obj, audience: str, expiration_seconds: int) -> Obj:
        """``{"token": ...}`` for ``pod``'s service account, from the cache or a new TokenRequest."""
        meta, spec = pod["metadata"], pod.get("spec") or {}
        ns, sa = meta.get("namespace", "default"), spec.get("serviceAccountName") or "default"
        key = (meta.get("uid", ""), ns, sa, audience, expiration_seconds)
        now = self.clock.time()
        hit = self._cache.get(key)
        if hit is not None and not needs_refresh(hit[0], hit[1], now):
            return {"token": hit[2]}
        body: Obj = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                     "spec": {"audiences": [audience] if audience else [],
                              "expirationSeconds": expiration_seconds,
                              "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": meta["name"],
                                                 "uid": meta.get("uid", "")}}}
        tr = await self.api.create(f"/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token", body)
        token = tr["status"]["token"]
        try:
            expires = _parse_time(tr["status"]["expirationTimestamp"])
        except (KeyError, ValueError):
            expires = now + expiration_seconds
        # the lifetime as the server granted it (it may shorten it); our clock may differ from its
        issued = expires - expiration_seconds if expires - expiration_seconds <= now else now
        self._cache[key] = (issued, expires, token)
        log.debug("token for %s/%s (pod %s) requested, expires %s", ns, sa, meta.get("name"),
                  tr["status"].get("expirationTimestamp"))
        return {"token": token}

    def forget_pod(self, uid: str) -> None:
        for k in [k for k in self._cache if k[0] == uid]:
            del self._cache[k]
