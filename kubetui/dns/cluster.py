"""The cluster DNS's data: Services and EndpointSlices from the API, turned into a zone on demand.

Upstream: CoreDNS's ``kubernetes`` plugin keeps informers on Services and
EndpointSlices (``plugin/kubernetes/controller.go``) and answers from their
caches (here two ``kubetui.agent.blocking.BlockingReflector``s, each on its own
thread). The zone is rebuilt lazily: a change makes it stale, the next query
rebuilds it (a few hundred objects take well under a millisecond).
"""

from __future__ import annotations

from kubetui.agent.blocking import BlockingReflector
from kubetui.dns.records import Zone, build_zone


class ClusterData:
    def __init__(self, api, domain: str = "cluster.local", address_for=lambda ip: ip) -> None:
        self.domain = domain
        self.address_for = address_for
        self.services = BlockingReflector(api, "/api/v1/services", on_change=self._changed, name="services")
        self.slices = BlockingReflector(api, "/apis/discovery.k8s.io/v1/endpointslices", on_change=self._changed,
                                        name="endpointslices")
        self._generation = 0        # bumped by every change (from the reflectors' threads)
        self._zone: Zone | None = None
        self._zone_generation = -1
        self._serial = 0

    def _changed(self) -> None:
        self._generation += 1

    def zone(self) -> Zone:
        """The zone of the objects seen so far (called from the server's thread).

        The generation is read before the lists, so a change that lands while
        the zone is being built makes the next query build it again."""
        generation = self._generation
        if self._zone is None or self._zone_generation != generation:
            self._serial += 1
            self._zone = build_zone(self.services.list(), self.slices.list(), self.domain, self.address_for,
                                    serial=self._serial)
            self._zone_generation = generation
        return self._zone

    def start(self, timeout: float | None = None) -> bool:
        """Start both reflectors and wait until both have listed; False if ``timeout`` passed first."""
        self.services.start()
        self.slices.start()
        return self.services.synced.wait(timeout) and self.slices.synced.wait(timeout)

    def stop(self) -> None:
        self.services.stop()
        self.slices.stop()
