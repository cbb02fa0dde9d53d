"""Room at the side for a lesson: hidden until the lessons engine puts text in it."""

from __future__ import annotations

from textual.widgets import Markdown


class LessonPanel(Markdown):
    """The lesson side panel. ``show_lesson(markdown)`` fills and reveals it; ``show_lesson(None)`` hides it."""

    DEFAULT_CSS = """
    LessonPanel { width: 40; display: none; border-left: vkey $primary; padding: 0 1; }
    LessonPanel.-shown { display: block; }
    """

    def show_lesson(self, markdown: str | None) -> None:
        self.set_class(bool(markdown), "-shown")
        if markdown:
            self.update(markdown)
