"""Pilot tests for the screens a new user meets in the first hour (issue 12's screen items).

Against the in-memory fake cluster (``tests.tui.fakes``); each waits on real
sync points, never on wall-clock sleeps.
"""

from __future__ import annotations

import re

from textual.widgets import DataTable

from kubetui.tui.screens.browser import BrowserScreen
from kubetui.tui.screens.cluster_map import ClusterMapScreen
from kubetui.tui.screens.help import HelpScreen
from tests.tui.test_app import settle, wait_screen

#: what an internal action name looks like: ``switch_mode('map')``, ``select_step(1)``, ``toggle_theme``
ACTION_NAME = re.compile(r"^\w+\(.*\)$|^[a-z]+(_[a-z]+)+$|^app\.|^screen\.")


async def test_help_shows_plain_descriptions_never_action_names(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        for mode, screen_type, resources in (("map", ClusterMapScreen, ("nodes", "pods")),
                                             ("browse", BrowserScreen, ("pods",))):
            app.switch_mode(mode)
            await wait_screen(pilot, screen_type)
            await settle(app, pilot, *resources)
            await pilot.press("question_mark")
            help_screen = await wait_screen(pilot, HelpScreen)
            table = help_screen.query_one(DataTable)
            cells = [str(c) for r in range(table.row_count) for c in table.get_row_at(r)]
            actions = {action for _, action, _ in help_screen.rows}
            assert "switch_mode('map')" in actions and table.row_count == len(help_screen.rows)
            shown_as_action = [c for c in cells if c in actions or ACTION_NAME.match(c)]
            assert shown_as_action == [], f"help shows internal action names: {shown_as_action}"
            assert "the cluster map: control plane, nodes and their pods" in cells
            await pilot.press("escape")
