"""The lesson panel beside each main view: the step, its prediction, live checks and hints.

Predict → observe → explain, on screen: the step's text (Markdown, code
lines wrapped to the panel), the prediction to answer *before* acting (enter
or a click on a choice), the step's checks re-evaluated as the cluster
changes (✓/✗ and the first failing check's message, which is the teacher's
diagnosis) and hints on demand, both in a section of their own below the
text so they stay in sight however long the step is, and buttons for what
the keys do. Every main screen has one; all of them draw the
same ``LessonSession`` (``kubetui.tui.lesson``), redrawn when the app
publishes ``lesson_signal``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Markdown, OptionList, Static

if TYPE_CHECKING:
    from kubetui.tui.lesson import LessonSession


def checks_text(session: "LessonSession") -> str:
    """The ✓/✗ list for the current step, with the first failing check's message and what was seen.

    Rich markup; shown under "Checks" in the panel.
    """
    out = session.outcome
    if out is None:
        return "[dim]checking…[/dim]"
    lines = []
    first = next((r for r in out.results if not r.passed), None)
    for r in out.results:
        mark = "[green]✓[/green]" if r.passed else "[red]✗[/red]"
        lines.append(f"{mark} {escape(r.label)}")
        if r is first:
            lines.append(f"  [b]{escape(r.message)}[/b]")
            if r.detail:
                lines.append(f"  [dim]seen: {escape(r.detail)}[/dim]")
    return "\n".join(lines) or "[dim]this step has no checks[/dim]"


class LessonPanel(Vertical):
    """The lesson side panel; hidden until a lesson runs (``ctrl+l`` toggles it).

    | Key | Action |
    | :- | :- |
    | up / down, enter | pick a prediction choice (or click it) |
    | n / p | next / previous step |
    | h | hint |
    | c | check now (counts as an attempt) |
    """

    BINDINGS = [
        # Enter anywhere in the panel answers the prediction with the highlighted choice: a click
        # in the text moves the focus off the choices, and Enter must not then do nothing.
        Binding("enter", "submit_prediction", "Answer", show=False,
                tooltip="answer the prediction with the highlighted choice"),
    ]

    DEFAULT_CSS = """
    LessonPanel { width: 36%; min-width: 40; max-width: 64; display: none; border-left: vkey $primary; }
    LessonPanel.-shown { display: block; }
    LessonPanel #lesson-title { padding: 0 1; background: $boost; text-style: bold; }
    LessonPanel #lesson-reload-error { padding: 0 1; color: $error; background: $error 15%; display: none; }
    LessonPanel #lesson-reload-error.-shown { display: block; }
    LessonPanel #lesson-notice { padding: 0 1; color: $text-warning; background: $warning 15%; display: none; }
    LessonPanel #lesson-notice.-shown { display: block; }
    LessonPanel #lesson-class { padding: 0 1; color: $text-accent; background: $accent 15%; display: none; }
    LessonPanel #lesson-class.-shown { display: block; }
    LessonPanel #lesson-scroll { height: 1fr; padding: 0 1; }
    LessonPanel MarkdownFence { overflow: hidden hidden; margin: 0 0 1 0; }
    LessonPanel MarkdownFence > Label { width: 1fr; padding: 0 1; }
    LessonPanel #lesson-progress { height: auto; max-height: 45%; padding: 0 1; border-top: hkey $primary 50%; }
    LessonPanel #lesson-head, LessonPanel #lesson-body { margin: 0; padding: 0; }
    LessonPanel #lesson-question { color: $accent; }
    LessonPanel #lesson-choices { height: auto; max-height: 8; border: none; padding: 0; }
    LessonPanel #lesson-choices.-answered { display: none; }
    LessonPanel .lesson-section { margin-top: 1; }
    LessonPanel #lesson-status.-passed { color: $success; text-style: bold; }
    LessonPanel #lesson-status.-failing { color: $error; }
    LessonPanel #lesson-buttons { height: auto; padding: 0 1; }
    LessonPanel #lesson-buttons Button { min-width: 8; margin-right: 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._drawn: tuple[Any, ...] = ()
        self._body_key: tuple[Any, ...] = ()
        self._choices_key: tuple[Any, ...] = ()
        self._hints_text = ""

    def compose(self) -> ComposeResult:
        yield Static("", id="lesson-title")
        yield Static("", id="lesson-reload-error")
        yield Static("", id="lesson-notice")
        # the class this learner joined: "paused" and the teacher's latest message (tui/class_channel.py)
        yield Static("", id="lesson-class")
        with VerticalScroll(id="lesson-scroll"):
            # The lesson's order: (intro,) the step's heading, the prediction, *then* what to do,
            # so the learner predicts before reading the command that answers it.
            yield Markdown("", id="lesson-head")
            yield Static("", id="lesson-question")
            yield OptionList(id="lesson-choices")
            yield Static("", id="lesson-verdict")
            yield Markdown("", id="lesson-body")
        # Checks and hints sit below the text, never below its fold.
        with VerticalScroll(id="lesson-progress"):
            yield Static("", id="lesson-status")
            yield Static("", id="lesson-checks")
            yield Static("", id="lesson-hints", classes="lesson-section")
        with Horizontal(id="lesson-buttons"):
            yield Button("c Check", id="lesson-check", compact=True)
            yield Button("h Hint", id="lesson-hint", compact=True)
            yield Button("p ◀ Prev", id="lesson-prev", compact=True)
            yield Button("n Next ▶", id="lesson-next", compact=True)

    def on_mount(self) -> None:
        signal = getattr(self.app, "lesson_signal", None)
        if signal is not None:
            signal.subscribe(self, lambda _session: self.draw())
        self.draw()

    # -- drawing ----------------------------------------------------------------------------

    @property
    def text(self) -> str:
        """Everything the panel says, as plain text (for tests and screen readers)."""
        parts = [str(self.query_one("#lesson-title", Static).visual),
                 str(self.query_one("#lesson-reload-error", Static).visual),
                 str(self.query_one("#lesson-notice", Static).visual),
                 str(self.query_one("#lesson-class", Static).visual),
                 self._body_key[2] if len(self._body_key) > 2 else ""]
        for wid in ("#lesson-question", "#lesson-verdict", "#lesson-status", "#lesson-checks", "#lesson-hints"):
            parts.append(str(self.query_one(wid, Static).visual))
        choices = self.query_one("#lesson-choices", OptionList)
        if choices.display:
            parts += [str(choices.get_option_at_index(i).prompt) for i in range(choices.option_count)]
        return "\n".join(p for p in parts if p)

    def draw(self) -> None:
        session: LessonSession | None = getattr(self.app, "lesson", None)
        visible = session is not None and bool(getattr(self.app, "lesson_visible", False))
        self.set_class(visible, "-shown")
        if session is None:
            return
        key = (id(session), session.version)
        if key == self._drawn:
            return
        self._drawn = key
        run, step = session.run, session.step
        n = len(session.lesson.steps)
        done = " ✓" if run.step_passed() else ""
        self.query_one("#lesson-title", Static).update(
            escape(f"{session.lesson.title} · step {run.index + 1}/{n}{done}"))
        err = self.query_one("#lesson-reload-error", Static)
        err.update(escape(session.reload_error))
        err.set_class(bool(session.reload_error), "-shown")
        notice = self.query_one("#lesson-notice", Static)
        notice.update(escape(session.notice))
        notice.set_class(bool(session.notice), "-shown")
        banner = str(getattr(self.app, "class_banner", "") or "")
        cls = self.query_one("#lesson-class", Static)
        cls.update(escape(banner))
        cls.set_class(bool(banner), "-shown")

        head, body = self._markdown(session)
        body_key = (id(session.lesson), step.id, head + "\n" + body)
        if body_key != self._body_key:
            self._body_key = body_key
            self.query_one("#lesson-head", Markdown).update(head)
            self.query_one("#lesson-body", Markdown).update(body)
            self.query_one("#lesson-scroll", VerticalScroll).scroll_home(animate=False)
        self._draw_prediction(session)
        self._draw_status(session)

    @staticmethod
    def _markdown(session: "LessonSession") -> tuple[str, str]:
        """(the lesson's intro on step 1 and the step's heading, the step's text)."""
        step = session.step
        head = f"## {step.title}"
        if session.run.index == 0 and session.lesson.intro:
            head = session.lesson.intro.strip() + "\n\n" + head
        return head, step.body.strip()

    def _draw_prediction(self, session: "LessonSession") -> None:
        p = session.step.predict
        question = self.query_one("#lesson-question", Static)
        choices = self.query_one("#lesson-choices", OptionList)
        verdict = self.query_one("#lesson-verdict", Static)
        if p is None:
            question.update("")
            choices.display = False
            verdict.update("")
            return
        picked, correct = session.prediction()
        question.update(f"[b]Predict first:[/b] {escape(p.question)}")
        key = (id(session.lesson), session.step.id, tuple(p.choices))
        if key != self._choices_key:
            self._choices_key = key
            choices.clear_options()
            choices.add_options([f"{i + 1}. {c}" for i, c in enumerate(p.choices)])
            choices.highlighted = 0
        answered = correct is not None
        choices.display = not answered
        if not answered:
            verdict.update("[dim]Pick one (enter or click) before you do the step.[/dim]")
            return
        yours = f" (you picked {picked + 1})" if picked is not None else ""
        if correct:
            text = f"[green]✓ Right{yours}.[/green] {escape(p.explain)}"
        elif session.run.step_passed():
            text = (f"[red]✗ Not quite{yours}[/red]: the answer was {p.answer + 1}. {escape(p.choices[p.answer])}\n"
                    f"{escape(p.explain)}")
        else:
            text = f"[red]✗ Not quite{yours}[/red]. Do the step and watch what happens; the why comes after."
        verdict.update(text)

    def _draw_status(self, session: "LessonSession") -> None:
        status = self.query_one("#lesson-status", Static)
        run = session.run
        last = run.index + 1 >= len(session.lesson.steps)
        if session.busy:
            status.update(f"[dim]{escape(session.busy)}[/dim]")
        elif session.error:
            status.update(f"[red]{escape(session.error)}[/red]")
        elif run.complete and last and run.step_passed():
            status.update("✓ Lesson complete. Well done!")
        elif run.step_passed():
            status.update("✓ Step passed. Press n for the next step." if not last else "✓ Step passed.")
        elif session.outcome is not None and session.outcome.held:
            status.update(f"⏸ The checks pass, but the step waits: {escape(session.outcome.held)}")
        elif session.outcome is not None and not session.outcome.passed:
            status.update("Not there yet:")
        else:
            status.update("Checks (live):")
        passed = run.step_passed() and not session.busy and not session.error
        status.set_class(passed, "-passed")
        status.set_class(bool(session.error) or (session.outcome is not None and not session.outcome.passed
                                                 and not passed), "-failing")
        self.query_one("#lesson-checks", Static).update(checks_text(session))
        hints = session.hints_shown()
        lines = [f"[b]Hint {i}/{len(session.step.hints)}:[/b] {escape(h)}" for i, h in enumerate(hints, 1)]
        if session.hint_note:
            lines.append(f"[dim]{escape(session.hint_note)}[/dim]")
        if not lines and session.step.hints:
            lines.append("[dim]Stuck? h shows a hint once it unlocks.[/dim]")
        text = "\n".join(lines)
        self.query_one("#lesson-hints", Static).update(text)
        if text != self._hints_text:
            self._hints_text = text
            if hints or session.hint_note:  # a hint (or why not yet) was asked for: bring it into view
                progress = self.query_one("#lesson-progress", VerticalScroll)
                self.call_after_refresh(progress.scroll_end, animate=False)

    # -- input ------------------------------------------------------------------------------

    def focus_choices(self) -> bool:
        """Put the keyboard on the prediction's choices if one is waiting; True if it did."""
        choices = self.query_one("#lesson-choices", OptionList)
        if self.has_class("-shown") and choices.display and choices.option_count:
            choices.focus()
            return True
        return False

    def action_submit_prediction(self) -> None:
        choices = self.query_one("#lesson-choices", OptionList)
        answer = getattr(self.app, "answer_prediction", None)
        if answer is not None and choices.display and choices.option_count:
            answer(choices.highlighted if choices.highlighted is not None else 0)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        answer = getattr(self.app, "answer_prediction", None)
        if answer is not None:
            answer(event.option_index)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        action = {"lesson-check": "lesson_check", "lesson-hint": "lesson_hint",
                  "lesson-prev": "lesson_step(-1)", "lesson-next": "lesson_step(1)"}.get(event.button.id or "")
        if action:
            self.app.run_action(action)
