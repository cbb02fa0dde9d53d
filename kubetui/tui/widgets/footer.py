"""The main screens' footer: the keys that fit, never a key cut in half.

No Kubernetes counterpart. Textual's ``Footer`` lays every shown binding out
in one row and lets the ones past the right edge fall off (at 100 columns
the views and the palette were cut). ``FittingFooter`` hides the least
important keys first until the rest fit; every key still works and ``?``
lists them all.

Textual's ``Footer`` recomposes (unmounts and mounts a widget per key, then
restyles them) whenever its screen says its bindings may have changed, and a
screen says so each time it is shown again: switching views with 1 and 2
rebuilt the same twenty keys every time, most of a view switch's CPU after
the repaint. ``FittingFooter`` recomposes only when the keys it would show
differ from the ones it shows (with thirty web sessions on two cores, every
key press's CPU counts).

In a browser (``kubetui web``) ctrl+l, ctrl+d, ctrl+t and ctrl+p belong to the
browser; the footer shows their browser-safe twins there instead (``BROWSER_TWINS``),
and in a terminal the ctrl keys.
"""

from __future__ import annotations

from typing import Any, Hashable

from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

#: actions whose footer entry goes first when space is short (most dispensable first). The
#: lesson keys also sit on the lesson panel's buttons; the palette has the command bar's twin.
DROP_ORDER = (
    "app.lesson_step(-1)", "app.lesson_step(1)", "app.lesson_hint", "app.lesson_check",
    "command_palette", "next_resource(-1)", "traffic", "shell", "next_resource(1)", "logs", "filter",
    "warnings", "reload", "explain", "delete", "next_namespace", "describe", "app.toggle_lesson",
    "switch_mode('map')",
)


#: keys a browser keeps for itself -> the key that does the same in kubetui
BROWSER_TWINS = {"ctrl+l": "L", "ctrl+d": "delete", "ctrl+t": "T", "ctrl+p": "P"}
BROWSER_TWIN_DISPLAY = {"delete": "del"}


class FittingFooter(Footer):
    """A compact footer that drops its least important keys rather than cut them off."""

    def __init__(self) -> None:
        super().__init__(compact=True)
        self._widths: dict[int, int] = {}
        #: the keys the footer was last composed from (``_shown_keys``), None before the first compose
        self._composed: Hashable | None = None

    @staticmethod
    def _shown_keys(screen: Screen[Any]) -> Hashable:
        """What ``Footer.compose`` draws from: each shown binding, whether it is enabled, its tooltip."""
        return tuple((b.key, b.action, b.description, b.key_display, b.group, enabled, tooltip)
                     for _node, b, enabled, tooltip in screen.active_bindings.values() if b.show)

    def bindings_changed(self, screen: Screen[Any]) -> None:
        # Same keys as drawn (a view shown again, focus moved within it): keep the widgets.
        if self._composed is not None and self.is_attached and screen is self.screen \
                and self._shown_keys(screen) == self._composed:
            return
        super().bindings_changed(screen)

    def compose(self):  # type: ignore[no-untyped-def]
        web = self.app.is_web
        if self._bindings_ready:
            self._composed = self._shown_keys(self.screen)
        for widget in super().compose():
            # Footer draws one key per action (the first binding's): in a browser, show the twin instead.
            if web and isinstance(widget, FooterKey) and widget.key in BROWSER_TWINS:
                widget.key = BROWSER_TWINS[widget.key]
                widget.key_display = BROWSER_TWIN_DISPLAY.get(widget.key, widget.key)
            yield widget
        self.call_after_refresh(self.fit)

    def on_resize(self) -> None:
        for key in self.query(FooterKey):
            key.display = True
        self.call_after_refresh(self.fit)

    def fit(self) -> None:
        """Hide keys in ``DROP_ORDER`` until the shown ones fit in the footer's width."""
        keys = list(self.query(FooterKey))
        if not keys or not self.size.width:
            return
        for key in keys:
            if key.display and key.outer_size.width:
                self._widths[id(key)] = key.outer_size.width
        widths = {id(k): self._widths.get(id(k), len(k.key_display) + 1 + len(k.description)) for k in keys}

        def used() -> int:
            shown = [k for k in keys if k.display]
            return sum(widths[id(k)] for k in shown) + max(0, len(shown) - 1)

        def rank(key: FooterKey) -> int:
            action = key.action if key.action in DROP_ORDER else key.action.removeprefix("app.")
            return DROP_ORDER.index(action) if action in DROP_ORDER else len(DROP_ORDER)

        for key in sorted(keys, key=rank):
            if used() <= self.size.width:
                break
            if rank(key) < len(DROP_ORDER):
                key.display = False
