"""An in-memory control plane for scheduler tests: store + registry + in-process client on a FakeClock."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, Callable

from kubetui.clock import FakeClock
from kubetui.providers.base import ClusterConfig, NodeConfig
from kubetui.providers.simulated import SimulatedProvider
from kubetui.scheduler.scheduler import Scheduler


async def settle(cond: Callable[[], Any], what: str = "condition", limit: float = 10.0) -> None:
    """Let the event loop run until ``cond()`` holds (a sync point, bounded in time)."""
    deadline = time.monotonic() + limit
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.001)


class MiniCluster:
    def __init__(self, profile: str = "default") -> None:
        self.clock = FakeClock()
        self.profile = profile
        self.client: Any = None
        self.store: Any = None
        self.scheduler: Scheduler | None = None
        self.provider: SimulatedProvider | None = None

    async def start(self, *, heartbeats: bool = False, scheduler: bool = True) -> "MiniCluster":
        from kubetui.apiserver.registry import Registry
        from kubetui.apiserver.inprocess import InProcessClient
        from kubetui.store import Store

        self.store = Store(None, clock=self.clock)
        await self.store.open()
        registry = Registry(self.store, clock=self.clock)
        await registry.bootstrap()
        self.client = InProcessClient(registry)
        self.provider = SimulatedProvider(ClusterConfig("test", Path(".")), self.client, self.clock,
                                          heartbeats=heartbeats)
        if scheduler:
            self.scheduler = Scheduler(self.client, clock=self.clock, profile=self.profile, seed=1)
            await self.scheduler.start()
        return self

    async def add_node(self, name: str, cpus: float = 2, memory: str = "4Gi", max_pods: int = 110,
                       labels: dict | None = None) -> None:
        await self.provider.start_node(NodeConfig(name=name, api_url="", token="", ca_pem="", cpus=cpus,
                                                  memory=memory, max_pods=max_pods, labels=labels or {}))

    async def pods(self, ns: str = "default") -> dict[str, dict]:
        return {p["metadata"]["name"]: p for p in (await self.client.list("pods", ns))["items"]}

    async def events(self, ns: str = "default") -> list[dict]:
        return (await self.client.list("events", ns))["items"]

    async def stop(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.provider is not None:
            await self.provider.close()
        if self.store is not None:
            await self.store.close()
