"""Snapshot tests (pytest-textual-snapshot) of each main screen at 120x40, on the fixed fake cluster.

Regenerate after an intended change with ``pytest tests/tui/test_snapshots.py --snapshot-update``
and review the SVGs (tests/tui/__snapshots__/).
"""

from __future__ import annotations

import pytest

from kubetui.clock import FakeClock
from kubetui.tui.app import KubetuiApp
from tests.tui.fakes import FIXED_NOW, FakeBackend, ha_status

SIZE = (120, 40)


def app(start: str = "map", **kw) -> KubetuiApp:
    a = KubetuiApp(FakeBackend(**kw), clock=FakeClock(FIXED_NOW), start=start)
    a.animation_level = "none"
    return a


async def synced(pilot, *resources: str) -> None:
    await pilot.app.bridge.wait_synced(*resources)
    for _ in range(3):
        await pilot.pause()


def run_before(*resources: str, keys: tuple[str, ...] = ()):
    async def before(pilot) -> None:
        await synced(pilot, *resources)
        if keys:
            await pilot.press(*keys)
        for w in [w for w in pilot.app.workers if w.group in ("logs", "explain", "store")]:
            await w.wait()
        await synced(pilot, *resources)
    return before


@pytest.mark.parametrize("name,start,resources,keys", [
    ("cluster_map", "map", ("nodes", "pods"), ("right",)),
    ("browser_pods", "browse", ("pods",), ()),
    ("browser_deployments", "browse", ("pods", "deployments"), ("right_square_bracket",)),
    ("describe_pod", "map", ("nodes", "pods", "events"), ("right", "right", "right", "right", "d")),
    ("yaml_pod", "map", ("nodes", "pods"), ("right", "y")),
    ("events", "events", ("events",), ()),
    ("store", "store", ("pods", "nodes"), ()),
    ("scheduler_decision", "browse", ("pods",), ("slash", *"abcde", "enter", "w")),
    ("help", "map", ("nodes", "pods"), ("question_mark",)),
], ids=lambda v: v if isinstance(v, str) and v.isidentifier() else "")
def test_main_screens(snap_compare, name, start, resources, keys):
    assert snap_compare(app(start), terminal_size=SIZE, run_before=run_before(*resources, keys=keys))


def test_light_theme_map(snap_compare):
    a = app("map")
    a.theme = "textual-light"
    assert snap_compare(a, terminal_size=SIZE, run_before=run_before("nodes", "pods"))


def test_small_terminal_map(snap_compare):
    """80x24 stays readable: two node columns, the footer still there."""
    assert snap_compare(app("map"), terminal_size=(80, 24), run_before=run_before("nodes", "pods"))


@pytest.mark.parametrize("size", [(100, 30), (140, 45), (200, 60)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_map_uses_the_width_it_has(snap_compare, size):
    """Issue 12 item 19: the footer fits at 100 columns; at 200 the panels fill the width, names whole."""
    assert snap_compare(app("map"), terminal_size=size, run_before=run_before("nodes", "pods"))


def test_control_plane_screen(snap_compare):
    """``5``: three control-plane nodes just after the etcd leader's member was killed and one was re-elected."""
    a = app("controlplane")
    a.backend.cp_status = ha_status(leader="lab-control-plane2", term=3, down=("lab-control-plane",))

    async def before(pilot) -> None:
        for _ in range(100):
            if getattr(pilot.app.screen, "status", None) is not None:
                break
            await pilot.pause()
        await pilot.pause()
    assert snap_compare(a, terminal_size=SIZE, run_before=before)
