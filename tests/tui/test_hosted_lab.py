"""A hosted learner's TUI opens a ``scope: cluster`` lesson by moving to their private cluster.

The class server's side is ``tests/classroom/test_private_clusters.py``; here the
TUI's: in a session on the class's cluster (``KUBETUI_CLASS_LAB=shared``)
opening such a lesson asks the class to move the learner and reloads the page,
and runs nothing of the lesson on the shared cluster.
"""

from __future__ import annotations

from kubetui.tui import hosted_lab
from kubetui.tui.screens.cluster_map import ClusterMapScreen
from tests.tui.test_app import wait_for, wait_screen


async def test_a_cluster_lesson_in_a_shared_session_moves_the_learner_and_runs_nothing_here(make_app, monkeypatch):
    asked, opened = [], []
    monkeypatch.setenv("KUBETUI_CLASS_LAB", "shared")
    monkeypatch.setattr(hosted_lab, "move", lambda lesson: asked.append(lesson) or
                        {"lab": "private", "url": "https://class.example:8443/tui/"})
    app = make_app()
    monkeypatch.setattr(app, "open_url", lambda url, new_tab=True: opened.append((url, new_tab)))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_screen(pilot, ClusterMapScreen)
        app.start_lesson("rbac-for-a-team")                   # scope: cluster
        await wait_for(pilot, lambda: bool(opened))
        assert asked == ["rbac-for-a-team"]
        assert opened == [("https://class.example:8443/tui/", False)]   # this tab reloads onto the new lab
        assert app.lesson is None                             # no setup ran on the class's cluster
