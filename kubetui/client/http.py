"""``HTTPClient``: the ``Client`` interface over HTTPS, like client-go's REST client.

Upstream: ``k8s.io/client-go/rest`` and ``dynamic``. It speaks to any
Kubernetes-compatible API server (kubetui's own, or a real one) with a
kubeconfig's CA and bearer token. Errors come back as the server's ``Status``
and are rebuilt into the same ``kubetui.api.errors`` exceptions the
in-process client raises, so callers cannot tell the two clients apart.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
from typing import TYPE_CHECKING, Any, AsyncIterator
from urllib.parse import quote

import aiohttp

from kubetui.api.errors import InternalError, StatusError
from kubetui.api.resources import Resource, resource_for
from kubetui.client.base import MERGE_PATCH, WatchEvent
from kubetui.client.kubeconfig import load_kubeconfig

if TYPE_CHECKING:
    from kubetui.client.portforward import PortForward
    from kubetui.client.remotecommand import ExecStream


def _status_error(status: int, body: bytes, reason: str) -> StatusError:
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and doc.get("kind") == "Status":
        doc.setdefault("code", status)
        return StatusError.from_status(doc)
    text = body.decode(errors="replace").strip()[:300]
    return StatusError.from_status({"code": status, "reason": "",
                                    "message": f"the server responded with {status} {reason}: {text}"})


class HTTPClient:
    """The Kubernetes API over HTTPS (or http for insecure test servers)."""

    def __init__(self, server: str, *, token: str | None = None, ssl_context: ssl.SSLContext | None = None,
                 timeout: float = 30.0, user_agent: str = "kubetui", pool_size: int = 100,
                 impersonate: list[tuple[str, str]] | None = None) -> None:
        self.impersonate = list(impersonate or ())
        self.server = server.rstrip("/")
        self.token = token
        self.ssl_context = ssl_context
        self.timeout = timeout
        self.user_agent = user_agent
        self.pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_kubeconfig(cls, path: str | os.PathLike[str], context: str | None = None,
                        **kwargs: Any) -> "HTTPClient":
        cfg = load_kubeconfig(path, context)
        kwargs.setdefault("impersonate", cfg.impersonation_headers())
        return cls(cfg.server, token=cfg.token, ssl_context=cfg.ssl_context(), **kwargs)

    # -- plumbing -----------------------------------------------------------------
    def _sess(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            headers = {"User-Agent": self.user_agent, "Accept": "application/json"}
            if self.token:
                headers["Authorization"] = f"Bearer {self.token}"
            if self.impersonate:
                # several Impersonate-Group headers: a multidict, as client-go's transport sends them
                from multidict import CIMultiDict
                headers = CIMultiDict(headers)
                for k, v in self.impersonate:
                    headers.add(k, v)
            connector = aiohttp.TCPConnector(ssl=self.ssl_context if self.ssl_context is not None else False,
                                             limit=self.pool_size)
            self._session = aiohttp.ClientSession(headers=headers, connector=connector)
        return self._session

    @staticmethod
    def path(res: Resource, namespace: str | None = None, name: str | None = None,
             subresource: str | None = None) -> str:
        base = f"/api/{res.version}" if not res.group else f"/apis/{res.group}/{res.version}"
        if res.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{res.plural}"
        if name:
            base += f"/{quote(name, safe='')}"
            if subresource:
                base += f"/{subresource}"
        return base

    async def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                      body: Any = None, content_type: str = "application/json") -> dict[str, Any]:
        """One request; a non-2xx answer raises the ``StatusError`` its ``Status`` names."""
        data = None
        headers = {}
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            headers["Content-Type"] = content_type
        clean = {k: v for k, v in (params or {}).items() if v is not None and v != ""}
        try:
            async with self._sess().request(method, self.server + path, params=clean, data=data,
                                            headers=headers,
                                            timeout=aiohttp.ClientTimeout(total=self.timeout)) as resp:
                raw = await resp.read()
                if resp.status >= 400:
                    raise _status_error(resp.status, raw, resp.reason or "")
        except aiohttp.ClientError as exc:
            raise InternalError(f"cannot reach the API server at {self.server}: {exc}") from exc
        except asyncio.TimeoutError:
            raise InternalError(f"the API server at {self.server} did not answer in {self.timeout}s") from None
        return json.loads(raw) if raw else {}

    # -- verbs ------------------------------------------------------------------------
    async def get(self, resource: str, name: str, namespace: str | None = None, *,
                  subresource: str | None = None) -> dict[str, Any]:
        return await self.request("GET", self.path(resource_for(resource), namespace, name, subresource))

    async def list(self, resource: str, namespace: str | None = None, *, label_selector: str | None = None,
                   field_selector: str | None = None, limit: int | None = None,
                   continue_: str | None = None, resource_version: str | None = None) -> dict[str, Any]:
        return await self.request("GET", self.path(resource_for(resource), namespace), params={
            "labelSelector": label_selector, "fieldSelector": field_selector,
            "limit": limit, "continue": continue_, "resourceVersion": resource_version})

    async def create(self, resource: str, obj: dict[str, Any], namespace: str | None = None, *,
                     subresource: str | None = None, name: str | None = None,
                     dry_run: bool = False) -> dict[str, Any]:
        res = resource_for(resource)
        if namespace is None and res.namespaced:
            namespace = (obj.get("metadata") or {}).get("namespace") or "default"
        return await self.request("POST", self.path(res, namespace, name, subresource), body=obj,
                                  params={"dryRun": "All" if dry_run else None})

    async def update(self, resource: str, obj: dict[str, Any], namespace: str | None = None, *,
                     subresource: str | None = None) -> dict[str, Any]:
        res = resource_for(resource)
        meta = obj.get("metadata") or {}
        if namespace is None and res.namespaced:
            namespace = meta.get("namespace") or "default"
        return await self.request("PUT", self.path(res, namespace, meta.get("name"), subresource), body=obj)

    async def patch(self, resource: str, name: str, patch: Any, namespace: str | None = None, *,
                    patch_type: str = MERGE_PATCH, subresource: str | None = None,
                    field_manager: str | None = None, force: bool = False) -> dict[str, Any]:
        return await self.request("PATCH", self.path(resource_for(resource), namespace, name, subresource),
                                  body=patch, content_type=patch_type,
                                  params={"fieldManager": field_manager, "force": "true" if force else None})

    async def delete(self, resource: str, name: str, namespace: str | None = None, *,
                     propagation_policy: str | None = None, grace_period_seconds: int | None = None,
                     resource_version: str | None = None, uid: str | None = None) -> dict[str, Any]:
        opts: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy:
            opts["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            opts["gracePeriodSeconds"] = grace_period_seconds
        pre = {k: v for k, v in (("resourceVersion", resource_version), ("uid", uid)) if v}
        if pre:
            opts["preconditions"] = pre
        return await self.request("DELETE", self.path(resource_for(resource), namespace, name), body=opts)

    async def watch(self, resource: str, namespace: str | None = None, *, resource_version: str | None = None,
                    label_selector: str | None = None, field_selector: str | None = None,
                    timeout_seconds: int | None = None,
                    allow_bookmarks: bool = False) -> AsyncIterator[WatchEvent]:
        """Events, one per line of the chunked response; an ``ERROR`` event raises its Status."""
        params = {"watch": "true", "resourceVersion": resource_version, "labelSelector": label_selector,
                  "fieldSelector": field_selector, "timeoutSeconds": timeout_seconds,
                  "allowWatchBookmarks": "true" if allow_bookmarks else None}
        clean = {k: str(v) for k, v in params.items() if v is not None}
        url = self.server + self.path(resource_for(resource), namespace)
        try:
            async with self._sess().get(url, params=clean,
                                        timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.timeout)
                                        ) as resp:
                if resp.status >= 400:
                    raise _status_error(resp.status, await resp.read(), resp.reason or "")
                buf = b""
                async for chunk in resp.content.iter_any():
                    buf += chunk
                    while b"\n" in buf:
                        line, buf = buf.split(b"\n", 1)
                        if not line.strip():
                            continue
                        ev = json.loads(line)
                        if ev.get("type") == "ERROR":
                            raise StatusError.from_status(ev.get("object") or {})
                        yield WatchEvent(ev["type"], ev["object"])
        except aiohttp.ClientPayloadError:
            return  # the server closed the stream mid-chunk (e.g. it stopped): the watch simply ends
        except aiohttp.ClientError as exc:
            raise InternalError(f"cannot reach the API server at {self.server}: {exc}") from exc

    async def exec(self, namespace: str, pod: str, command: list[str], *, container: str | None = None,
                   stdin: bool = True, tty: bool = True) -> "ExecStream":
        """``pods/exec`` over a WebSocket (``kubectl exec -it``): see ``client.remotecommand``."""
        from kubetui.client.remotecommand import open_exec
        return await open_exec(self._sess(), self.server, namespace, pod, command, container=container,
                               stdin=stdin, tty=tty)

    async def port_forward(self, namespace: str, pod: str, port: int, local_port: int = 0) -> "PortForward":
        """Listen on 127.0.0.1 (``local_port``, 0 = any) and relay to ``port`` in the pod:
        see ``client.portforward``. Close the returned object to stop."""
        from kubetui.client.portforward import PortForward
        pf = PortForward(self._sess(), self.server, namespace, pod, port)
        await pf.start(local_port)
        return pf

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
