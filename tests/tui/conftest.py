"""Fixtures: a fake-backed app with a fixed clock (fast, deterministic)."""

from __future__ import annotations

import pytest

from kubetui.clock import FakeClock
from kubetui.tui.app import KubetuiApp
from tests.tui.fakes import FIXED_NOW, FakeBackend


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def make_app(backend):
    def make(**kw) -> KubetuiApp:
        return KubetuiApp(kw.pop("backend", backend), clock=FakeClock(FIXED_NOW), **kw)
    return make
