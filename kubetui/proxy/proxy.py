"""The kube-proxy process: watch Services and EndpointSlices, resync the node's rules on every change.

Upstream: ``cmd/kube-proxy/app/server.go`` (informers on Services and
EndpointSlices, the metrics server on :10249) and the proxier's
``BoundedFrequencyRunner`` (``--iptables-min-sync-period``): changes are
batched for ``min_sync_seconds`` and then applied in one sync, and a full
sync also runs every ``sync_seconds`` so rules someone flushed come back.
Nothing is synced before both caches have listed once, so a restarting
kube-proxy never programs a half-known cluster.

Two backends behind one ``sync(services, slices)``:

* ``IptablesBackend``: rules from ``kubetui.proxy.rules`` restored with
  ``iptables-restore --noflush --counters`` (Docker nodes);
* ``UserspaceProxy`` (``kubetui.proxy.userspace``): sockets on the loopback
  (local provider).

Standard library only: this runs inside the node.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Iterable

from kubetui.agent.clock import RealClock
from kubetui.agent.reflector import Reflector
from kubetui.proxy.counters import iptables_traffic, probe_local, traffic_document
from kubetui.proxy.iptables import IPTables, parse_counters
from kubetui.proxy.rules import EndpointChain, ProxyConfig, build_rules, restore_chains

log = logging.getLogger("kubetui.proxy")

# Upstream kube-proxy's informers skip EndpointSlices of headless Services and Services that
# ask for another proxy; kubetui keeps the first filter (the second never applies).
ENDPOINTSLICE_SELECTOR = "!service.kubernetes.io/headless"


class IptablesBackend:
    mode = "iptables"

    def __init__(self, ipt: IPTables, config: ProxyConfig) -> None:
        self.ipt = ipt
        self.config = config
        self.endpoints: dict[str, EndpointChain] = {}
        self.syncs = 0
        self._full = True

    async def sync(self, services: Iterable[dict], slices: Iterable[dict]) -> None:
        await asyncio.to_thread(self._sync, list(services), list(slices))

    def _sync(self, services: list[dict], slices: list[dict]) -> None:
        if self._full:
            # The jumps from the built-in chains cannot be part of a --noflush restore.
            self.ipt.ensure_jumps()
        saved = self.ipt.save("nat", counters=True)
        rs = build_rules(services, slices, self.config, existing_nat_chains=restore_chains(saved).get("nat", ()),
                         counters=parse_counters(saved))
        try:
            self.ipt.restore(rs.text)
        except Exception:
            self._full = True
            raise
        self._full = False
        self.endpoints = rs.endpoints
        self.syncs += 1

    def force_full(self) -> None:
        self._full = True

    def traffic(self) -> dict[str, dict[str, Any]]:
        return iptables_traffic(self.ipt.save("nat", counters=True), self.endpoints)

    async def close(self) -> None:
        """Rules stay in place when kube-proxy stops (as upstream): traffic keeps flowing meanwhile."""


class KubeProxy:
    def __init__(self, api: Any, backend: Any, *, node_name: str, min_sync_seconds: float = 0.1,
                 sync_seconds: float = 30.0, clock: Any = None) -> None:
        self.api = api
        self.clock = clock or RealClock()
        self.backend = backend
        self.node_name = node_name
        self.min_sync_seconds = min_sync_seconds
        self.sync_seconds = sync_seconds
        self._dirty = asyncio.Event()
        self.services = Reflector(api, "/api/v1/services", on_change=self._changed, clock=self.clock)
        self.slices = Reflector(api, "/apis/discovery.k8s.io/v1/endpointslices", on_change=self._changed,
                                params={"labelSelector": ENDPOINTSLICE_SELECTOR}, clock=self.clock)
        self.last_sync: float | None = None
        self.last_error: str | None = None
        self.synced = asyncio.Event()     # set after every successful sync (tests wait on it)
        self._tasks: list[asyncio.Task[None]] = []
        self._http: asyncio.base_events.Server | None = None

    def _changed(self) -> None:
        self._dirty.set()

    async def start(self) -> None:
        self.services.start()
        self.slices.start()
        self._tasks.append(asyncio.create_task(self._sync_loop(), name="kube-proxy sync"))

    async def _sync_loop(self) -> None:
        await self.services.synced.wait()
        await self.slices.synced.wait()
        while True:
            if await self._changed_within(self.sync_seconds):
                # batch a burst of changes into one sync (upstream minSyncPeriod)
                await self.clock.sleep(self.min_sync_seconds)
            else:
                getattr(self.backend, "force_full", lambda: None)()
            self._dirty.clear()
            await self.sync_once()

    async def _changed_within(self, seconds: float) -> bool:
        """Wait for a change, at most ``seconds`` on the clock; True if one came."""
        changed = asyncio.ensure_future(self._dirty.wait())
        timer = asyncio.ensure_future(self.clock.sleep(seconds))
        try:
            await asyncio.wait({changed, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            changed.cancel()
            timer.cancel()
        return self._dirty.is_set()

    async def sync_once(self) -> None:
        start = self.clock.monotonic()
        try:
            await self.backend.sync(self.services.list(), self.slices.list())
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - loop boundary: keep the old rules, retry soon
            self.last_error = str(e)
            log.error("sync failed: %s; retrying", e)
            self._dirty.set()
            await self.clock.sleep(1.0)
            return
        self.last_error = None
        self.last_sync = self.clock.time()
        self.synced.set()
        log.debug("synced %d services, %d slices in %.1f ms", len(self.services.store), len(self.slices.store),
                  (self.clock.monotonic() - start) * 1000)

    def traffic(self) -> dict[str, Any]:
        services = self.backend.traffic()
        probe_local(services, self.node_name)  # does each local endpoint accept connections at all?
        return traffic_document(self.node_name, self.backend.mode, services)

    # --- the metrics port: GET /healthz, GET /traffic ---

    async def serve(self, host: str, port: int) -> int:
        self._http = await asyncio.start_server(self._serve_one, host, port, reuse_address=True)
        return self._http.sockets[0].getsockname()[1]

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            parts = line.decode("latin-1").split()
            path = parts[1].split("?")[0] if len(parts) > 1 else "/"
            if path == "/healthz":
                ok = self.last_sync is not None and self.last_error is None
                code, body = (200, {"lastUpdated": self.last_sync}) if ok else (503, {"error": self.last_error})
            elif path == "/traffic":
                code, body = 200, await asyncio.to_thread(self.traffic)
            else:
                code, body = 404, {"error": f"no such path {path}; try /traffic or /healthz"}
            data = json.dumps(body).encode()
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[code]
            writer.write(f"HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data)
            await writer.drain()
        except (asyncio.TimeoutError, ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks.clear()
        await self.services.stop()
        await self.slices.stop()
        if self._http is not None:
            self._http.close()
            await self._http.wait_closed()
        await self.backend.close()
