"""Fixtures for controller tests: a fake clock, an API, and a controller manager on them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from ctrl_helpers import make_api  # noqa: E402
from kubetui.clock import FakeClock  # noqa: E402
from kubetui.controllers.manager import ControllerManager  # noqa: E402


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def api(clock):
    client = await make_api(clock)
    yield client
    await client.close()


@pytest.fixture
async def manager_for(api, clock):
    """``await manager_for("replicaset", ...)``: a started ControllerManager running those controllers."""
    started: list[ControllerManager] = []

    async def make(*names: str, **kw) -> ControllerManager:
        cm = ControllerManager(api, clock=clock, controllers=list(names), resync_seconds=None, **kw)
        await cm.start()
        started.append(cm)
        await cm.settle()
        return cm

    yield make
    for cm in started:
        await cm.stop()
