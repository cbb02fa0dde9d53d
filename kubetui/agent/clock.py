"""Real time for the node agents (the stdlib-only twin of ``kubetui.clock.Clock``).

The node agents (kubelet, runtime, kube-proxy, DNS) run inside node containers
where only their own packages exist, so they share this tiny clock. Tests pass a
``kubetui.clock.FakeClock`` instead: anything with ``time()``,
``monotonic()`` and ``async sleep()`` will do.
"""

from __future__ import annotations

import asyncio
import time


class RealClock:
    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
