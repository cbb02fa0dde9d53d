"""Pick a lesson: every lesson in the library with the learner's progress, and the broken ones.

Like ``kubetui lessons`` (the CLI listing), as a modal: choosing one starts it
(or resumes it) in the lesson panel. A lesson file that does not parse is
listed with its one-line ``path:line: message`` and cannot be chosen.
"""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option


def progress_of(app: Any, lesson: Any) -> str:
    """``not started`` / ``step 2, 1/4 passed`` / ``complete`` for the app's learner ("" if unknown)."""
    from kubetui.lessons.progress import ProgressStore
    from kubetui.tui.lesson import lab_env

    try:
        env = lab_env(app.backend)
    except Exception:  # no state directory: progress unknown  # noqa: BLE001
        return ""
    rec = ProgressStore(env.state_dir, app.learner).replay(lesson.id)
    if rec.status != "in progress":
        return rec.status
    passed = sum(1 for s in lesson.steps if rec.step(s.id).passed)
    return f"step {rec.current + 1}, {passed}/{len(lesson.steps)} passed"


class LessonPickerScreen(ModalScreen[str | None]):
    """Dismisses with the chosen lesson's id (None when closed).

    | Key | Action |
    | :- | :- |
    | up / down, enter | choose a lesson (or click it) |
    | escape | close |
    """

    BINDINGS = [Binding("escape", "dismiss_none", "Close")]
    DEFAULT_CSS = """
    LessonPickerScreen { align: center middle; }
    #lesson-picker { width: 90%; max-width: 110; height: auto; max-height: 80%; border: round $accent;
                     background: $surface; padding: 0 1; }
    #lesson-picker-title { padding: 0 0 1 0; }
    #lesson-picker-list { height: auto; max-height: 30; border: none; }
    """

    def __init__(self, library: Any) -> None:
        super().__init__()
        self.library = library

    def compose(self) -> ComposeResult:
        options: list[Option] = []
        for lesson in self.library.ordered():
            number = lesson.dir.name.split("-", 1)[0]
            progress = progress_of(self.app, lesson)
            minutes = f", {lesson.minutes} min" if lesson.minutes else ""
            label = f"{number}  {escape(lesson.title)}  [dim]({len(lesson.steps)} steps{minutes})[/dim]"
            if progress:
                label += f"  [b]{escape(progress)}[/b]"
            options.append(Option(label, id=lesson.id))
        for path, err in sorted(self.library.errors.items()):
            options.append(Option(f"[red]✗ {escape(str(err))}[/red]", id=f"broken:{path}", disabled=True))
        with Vertical(id="lesson-picker"):
            yield Static("[b]Lessons[/b]  enter or click to start (or resume) one; escape closes",
                         id="lesson-picker-title")
            yield OptionList(*options, id="lesson-picker-list")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
