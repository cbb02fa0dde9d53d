"""What the first-hour walk-through (docs/first-hour.md) still found, each pinned by a test.

Pilot tests of single screens, and the shipped lesson 1 parsed as the panel reads it.
"""

from __future__ import annotations

from textual.app import App

from kubetui.lessons import default_lessons_dir, load_lesson
from kubetui.tui.screens.quit import LastUIQuitScreen


def screen_text(app: App) -> str:
    """The characters on the terminal, one line per row, as a learner reads them."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def test_quit_question_is_on_screen_whole():
    """The question the quit dialog asks ("keep running or stop?") was clipped away: the label
    was drawn one row per source line, so only the first wrapped row of the question showed,
    cut mid-word, above two buttons that answered a question nobody could read."""
    for size in ((100, 30), (140, 45), (200, 60)):
        app = App()
        async with app.run_test(size=size) as pilot:
            app.push_screen(LastUIQuitScreen("walk"))
            await pilot.pause()
            flat = " ".join(screen_text(app).replace("│", " ").split())
            assert "should the cluster keep running or stop" in flat, flat
            assert "(control plane and nodes; its state is kept)?" in flat, flat
            assert "Asked once; the answer is kept in the cluster's ui.json." in flat, flat


def test_lesson1_scheduler_prediction_has_the_choices_its_author_wrote():
    """A YAML flow list split "The kubelet of each node, in a race" at its comma into two
    choices, so the panel offered a fifth answer, "5. in a race"."""
    lesson = load_lesson(default_lessons_dir() / "01-meet-the-cluster" / "lesson.md")
    step = next(s for s in lesson.steps if s.id == "create-pod")
    assert step.predict.choices == ["kubectl", "The API server", "The scheduler",
                                    "The kubelet of each node, in a race"]
    assert step.predict.choices[step.predict.answer] == "The scheduler"


async def test_browser_filter_says_slash_first(make_app):
    """The filter box read "type to narrow", but typing `web` on the pods list pressed `w` (the
    scheduler's decision for the highlighted pod): keys go to the filter only after `/`."""
    from textual.widgets import Input

    from kubetui.tui.screens.browser import BrowserScreen
    from tests.tui.test_app import settle, wait_screen

    app = make_app(start="browse")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot, "pods")
        screen = await wait_screen(pilot, BrowserScreen)
        box = screen.query_one("#filter", Input)
        assert box.placeholder.startswith("/ "), box.placeholder
        await pilot.press("slash", *"crash")
        assert box.value == "crash" and screen.table.shown_keys == ["default/crasher"]
