"""The cluster DNS's data: Services and EndpointSlices from the API, turned into a zone on demand.

Upstream: CoreDNS's ``kubernetes`` plugin keeps informers on Services and
EndpointSlices (``plugin/kubernetes/controller.go``) and answers from their
caches (here two ``kubetui.agent.reflector.Reflector``s). The zone is rebuilt
lazily: a change marks it stale, the next query rebuilds it (a few hundred objects take well under a millisecond).
"""

from __future__ import annotations

import itertools
from typing import Any, Callable

from kubetui.dns.records import Zone, build_zone
from kubetui.agent.reflector import Reflector


class ClusterData:
    def __init__(self, api: Any, domain: str = "cluster.local",
                 address_for: Callable[[str], str] = lambda ip: ip) -> None:
        self.domain = domain
        self.address_for = address_for
        self.services = Reflector(api, "/api/v1/services", on_change=self._changed)
        self.slices = Reflector(api, "/apis/discovery.k8s.io/v1/endpointslices", on_change=self._changed)
        self._zone: Zone | None = None
        self._serial = itertools.count(1)

    def _changed(self) -> None:
        self._zone = None

    def zone(self) -> Zone:
        if self._zone is None:
            self._zone = build_zone(self.services.list(), self.slices.list(), self.domain, self.address_for,
                                    serial=next(self._serial))
        return self._zone

    async def start(self) -> None:
        self.services.start()
        self.slices.start()
        await self.services.synced.wait()
        await self.slices.synced.wait()

    async def stop(self) -> None:
        await self.services.stop()
        await self.slices.stop()
