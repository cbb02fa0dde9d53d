"""The control-plane view (``5``, the palette's "Control plane") and the notes under the map's control-plane
boxes, with Pilot against a fake backend answering ``controlplanestatus`` (issue 16's TUI bullet)."""

from __future__ import annotations

from textual.widgets import DataTable, Static

from kubetui.tui.screens.cluster_map import ClusterMapScreen
from kubetui.tui.screens.control_plane import (LEADER_MARK, ControlPlaneScreen, ago, describe_changes, size)
from kubetui.tui.screens.help import HelpScreen
from kubetui.tui.widgets.control_plane import ComponentIndicator, box_notes
from tests.tui.fakes import FIXED_NOW, ha_status, ts
from tests.tui.test_app import settle, wait_for, wait_screen


def _cells(screen, table_id: str) -> list[list[str]]:
    table = screen.query_one(f"#{table_id}", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def test_describe_changes_says_an_election_happened_and_the_quorum_went() -> None:
    before = ha_status(leader="lab-control-plane", term=2)
    after = ha_status(leader="lab-control-plane2", term=3, down=("lab-control-plane",),
                      scheduler="lab-control-plane3")
    lines = describe_changes(before, after, "lab")
    assert "etcd: control-plane2 leads in term 3 (was control-plane, term 2): an election" in lines
    assert any(line.startswith("etcd member control-plane down: dial tcp") for line in lines)
    assert "Lease kube-scheduler: control-plane3 took over from control-plane2 (transitions: 1)" in lines
    lost = describe_changes(after, ha_status(leader="", term=3, down=("lab-control-plane", "lab-control-plane3")),
                            "lab")
    assert "etcd: no leader (term 3), and no majority left to elect one" in lost
    assert any(line.startswith("etcd: quorum lost: 1 of 3 members up, 2 needed") for line in lost)
    electing = describe_changes(before, ha_status(leader="", term=2, down=("lab-control-plane",)), "lab")
    assert "etcd: no leader (term 2): the members are electing one" in electing
    assert not any("quorum lost" in line for line in electing), "two of three up: an election, not a lost quorum"
    elected = ha_status(leader="lab-control-plane2", term=3, down=("lab-control-plane",))
    assert describe_changes(ha_status(leader="", term=2, down=("lab-control-plane",)), elected, "lab")[0] == \
        "etcd: control-plane2 elected leader in term 3"
    assert describe_changes(None, before) == [] and describe_changes(before, before) == []


def test_small_formatters() -> None:
    assert size(20480) == "20 kB" and size(3_100_000) == "3.1 MB" and size(12) == "12 B"
    assert ago(ts(2), FIXED_NOW) == "2.0s ago" and ago("2023-11-14T22:13:18.500000Z", FIXED_NOW) == "1.5s ago" and ago("", FIXED_NOW) == "never"
    assert box_notes(None) == {} and box_notes({"topology": "single", "etcd": None, "leases": []}) == {}


async def test_the_view_shows_members_and_an_election_as_it_happens(make_app, backend) -> None:
    backend.cp_status = ha_status()
    app = make_app()
    async with app.run_test(size=(140, 50)) as pilot:
        await settle(app, pilot, "nodes", "pods")
        await pilot.press("5")
        screen = await wait_screen(pilot, ControlPlaneScreen)
        await wait_for(pilot, lambda: screen.status is not None)
        etcd = _cells(screen, "cp-etcd")
        assert [r[0] for r in etcd] == ["control-plane", "control-plane2", "control-plane3"]
        assert [r[2] for r in etcd] == [LEADER_MARK, "", ""] and {r[3] for r in etcd} == {"2"}
        assert etcd[0][6] == "3.1 MB" and etcd[0][7] == "healthy"
        nodes = _cells(screen, "cp-nodes")
        assert nodes[0][3] == f"control-plane {LEADER_MARK}" and nodes[1][4] == "kube-scheduler"
        leases = _cells(screen, "cp-leases")
        assert leases == [["kube-scheduler", "control-plane2", "1.0s ago", "1"],
                          ["kube-controller-manager", "control-plane3", "1.0s ago", "1"]]
        assert [r[4] for r in _cells(screen, "cp-api")] == ["40", "41", "42"]
        assert "control-plane2 control-plane3 control-plane" in str(screen.query_one("#cp-recent", Static).render())
        assert "etcd quorum 3/3" in str(screen.query_one("#cp-summary", Static).render())

        # the leader's member is killed: the others elect one in the next term
        backend.cp_status = ha_status(leader="lab-control-plane2", term=3, down=("lab-control-plane",))
        await pilot.press("r")
        await wait_for(pilot, lambda: screen.changes)
        etcd = _cells(screen, "cp-etcd")
        assert [r[2] for r in etcd] == ["", LEADER_MARK, ""] and etcd[1][3] == "3"
        assert "connection refused" in etcd[0][7]
        assert screen.changes[0] == "etcd: control-plane2 leads in term 3 (was control-plane, term 2): an election"

        # a second member: no quorum, and the summary says writes fail
        backend.cp_status = ha_status(leader="", term=3, down=("lab-control-plane", "lab-control-plane3"))
        await pilot.press("r")
        await wait_for(pilot, lambda: any("quorum lost" in c for c in screen.changes))
        assert "NO QUORUM" in str(screen.query_one("#cp-summary", Static).render())
        assert LEADER_MARK not in {r[2] for r in _cells(screen, "cp-etcd")}


async def test_the_map_boxes_name_the_leaders(make_app, backend) -> None:
    backend.cp_status = ha_status()
    app = make_app()
    async with app.run_test(size=(140, 50)) as pilot:
        await settle(app, pilot, "nodes", "pods")
        screen = await wait_screen(pilot, ClusterMapScreen)
        store = screen.query_one("#cp-store", ComponentIndicator)
        await wait_for(pilot, lambda: bool(store.border_subtitle))
        assert store.border_subtitle == "etcd: control-plane leads, term 2"
        assert screen.query_one("#cp-scheduler", ComponentIndicator).border_subtitle == "leader control-plane2"
        assert screen.query_one("#cp-controllers", ComponentIndicator).border_subtitle == "leader control-plane3"
        assert screen.query_one("#cp-apiserver", ComponentIndicator).border_subtitle == "3/3 ready"


async def test_without_the_view_the_screen_says_so_and_the_help_lists_its_key(make_app, backend) -> None:
    assert backend.cp_status is None        # e.g. a cluster whose client cannot reach kubetui's own groups
    app = make_app(start="controlplane")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await wait_screen(pilot, ControlPlaneScreen)
        summary = screen.query_one("#cp-summary", Static)
        await wait_for(pilot, lambda: "does not serve" in str(summary.render()))
        assert _cells(screen, "cp-etcd") == []
        await pilot.press("question_mark")
        help_screen = await wait_screen(pilot, HelpScreen)
        assert ("5", "the control plane: its nodes, etcd members (leader, raft term), API servers, Lease holders") \
            in [(k, what) for k, _a, what in help_screen.rows]


async def test_the_palette_opens_the_view(make_app, backend) -> None:
    from kubetui.tui.app import ClusterCommands

    backend.cp_status = ha_status()
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot, "nodes", "pods")
        provider = ClusterCommands(app.screen)
        hits = [h async for h in provider.search("Control plane")]
        hit = next(h for h in hits if "Control plane" in str(h.match_display) and "etcd members" in (h.help or ""))
        hit.command()
        screen = await wait_screen(pilot, ControlPlaneScreen)
        await wait_for(pilot, lambda: screen.status is not None)
