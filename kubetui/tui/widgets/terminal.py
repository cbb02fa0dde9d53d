"""A terminal inside the TUI: what ``kubectl exec -it`` gives you, drawn by Textual.

The bytes a program in a container writes to its pseudo-terminal are VT100/xterm
control sequences (move the cursor, erase the line, colours). ``pyte`` (a
maintained VT emulator in pure Python) keeps the resulting screen; this widget
draws that screen, turns key presses into the bytes a terminal sends (Enter is
``\\r``, Backspace ``\\x7f``, Ctrl-D ``\\x04``, arrows ``\\x1b[A``...), and reports its
size so the pod's terminal can follow (the exec resize channel). It knows
nothing about pods: bytes in (``feed``), ``Input`` and ``Resized`` messages out.
"""

from __future__ import annotations

from typing import Callable

import pyte
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

#: keys whose bytes do not follow from their character (xterm's defaults)
KEY_BYTES: dict[str, bytes] = {
    "enter": b"\r", "backspace": b"\x7f", "tab": b"\t", "shift+tab": b"\x1b[Z", "escape": b"\x1b",
    "space": b" ", "ctrl+space": b"\x00", "ctrl+@": b"\x00", "ctrl+backslash": b"\x1c",
    "ctrl+right_square_bracket": b"\x1d", "ctrl+circumflex_accent": b"\x1e", "ctrl+underscore": b"\x1f",
    "home": b"\x1b[H", "end": b"\x1b[F", "insert": b"\x1b[2~", "delete": b"\x1b[3~",
    "pageup": b"\x1b[5~", "pagedown": b"\x1b[6~",
    "f1": b"\x1bOP", "f2": b"\x1bOQ", "f3": b"\x1bOR", "f4": b"\x1bOS", "f5": b"\x1b[15~",
    "f6": b"\x1b[17~", "f7": b"\x1b[18~", "f8": b"\x1b[19~", "f9": b"\x1b[20~", "f10": b"\x1b[21~",
    "f11": b"\x1b[23~", "f12": b"\x1b[24~",
}
ARROWS = {"up": b"A", "down": b"B", "right": b"C", "left": b"D"}
#: DEC private mode 1, "application cursor keys" (pyte keeps private modes shifted left by 5)
DECCKM = 1 << 5

#: pyte's colour names (it calls yellow "brown") -> Rich's
_COLOURS = {"brown": "yellow", "brightbrown": "bright_yellow"}


def key_bytes(key: str, character: str | None, *, app_cursor: bool = False) -> bytes | None:
    """What a terminal sends for a key press (``None``: nothing).

    >>> key_bytes("ctrl+d", None), key_bytes("up", None), key_bytes("up", None, app_cursor=True)
    (b'\\x04', b'\\x1b[A', b'\\x1bOA')
    >>> key_bytes("ä", "ä"), key_bytes("enter", "\\r")
    (b'\\xc3\\xa4', b'\\r')
    """
    if key in ARROWS:
        return (b"\x1bO" if app_cursor else b"\x1b[") + ARROWS[key]
    if key in KEY_BYTES:
        return KEY_BYTES[key]
    if key.startswith("ctrl+") and len(key) == 6 and key[5].isalpha():
        return bytes([ord(key[5].lower()) - ord("a") + 1])          # ctrl+a = 0x01 ... ctrl+z = 0x1a
    if key.startswith("alt+") and character:
        return b"\x1b" + character.encode()
    if character and (character.isprintable() or character in "\r\t\x1b"):
        return character.encode()
    return None


def _colour(name: str) -> str | None:
    if name == "default":
        return None
    if len(name) == 6 and all(c in "0123456789abcdefABCDEF" for c in name):
        return "#" + name                     # 256-colour and truecolour cells come as hex
    name = _COLOURS.get(name, name)
    return "bright_" + name[6:] if name.startswith("bright") and not name.startswith("bright_") else name


class _Screen(pyte.Screen):
    """pyte's screen, whose answers to the program's queries (cursor position, device
    attributes) go back to the program, as a terminal's would."""

    def __init__(self, columns: int, lines: int, reply: Callable[[str], None]) -> None:
        super().__init__(columns, lines)
        self._reply = reply

    def write_process_input(self, data: str) -> None:
        self._reply(data)

    def resize(self, lines: int | None = None, columns: int | None = None) -> None:
        """Like xterm, keep the cursor's line when the window gets shorter: only the rows
        above it that no longer fit go off the top, blank rows go off the bottom (pyte
        alone drops from the top and leaves the cursor below what the shell drew)."""
        lines, columns = lines or self.lines, columns or self.columns
        if lines < self.lines:
            drop = max(0, self.cursor.y + 1 - lines)
            if drop:
                self.save_cursor()
                self.cursor_position(0, 0)
                self.delete_lines(drop)
                self.restore_cursor()
                self.cursor.y -= drop
            for y in [y for y in self.buffer if y >= lines]:
                del self.buffer[y]
            self.lines = lines
        super().resize(lines, columns)
        self.set_margins()
        self.ensure_vbounds()


class TerminalView(Widget, can_focus=True):
    """A VT100/xterm screen fed with a program's output; key presses come out as ``Input``."""

    DEFAULT_CSS = """
    TerminalView {
        width: 1fr;
        height: 1fr;
        background: $background;
    }
    """

    class Input(Message):
        """Bytes the user typed (or the terminal answered), for the program's stdin."""

        def __init__(self, data: bytes) -> None:
            super().__init__()
            self.data = data

    class Resized(Message):
        """The terminal now has ``width`` columns and ``height`` rows."""

        def __init__(self, width: int, height: int) -> None:
            super().__init__()
            self.width, self.height = width, height

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.screen_buffer = _Screen(80, 24, lambda text: self.post_message(self.Input(text.encode())))
        self._stream = pyte.ByteStream(self.screen_buffer)
        self._styles: dict[tuple, Style] = {}
        self._sized = False

    # -- the program's side -------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        """Output of the program: update the screen and redraw."""
        self._stream.feed(data)
        self.refresh()

    @property
    def size_in_cells(self) -> tuple[int, int]:
        return self.screen_buffer.columns, self.screen_buffer.lines

    def display_lines(self) -> list[str]:
        """The screen's text, one string per row (trailing blanks kept)."""
        return list(self.screen_buffer.display)

    # -- events ---------------------------------------------------------------------------
    def on_resize(self, event: events.Resize) -> None:
        width, height = max(1, event.size.width), max(1, event.size.height)
        if (width, height) != self.size_in_cells or not self._sized:
            self._sized = True                # the first layout is always reported: the initial size
            self.screen_buffer.resize(lines=height, columns=width)
            self.post_message(self.Resized(width, height))
        self.refresh()

    def on_key(self, event: events.Key) -> None:
        data = key_bytes(event.key, event.character,
                         app_cursor=DECCKM in self.screen_buffer.mode)
        if data is not None:
            event.stop()
            event.prevent_default()
            self.post_message(self.Input(data))

    def on_paste(self, event: events.Paste) -> None:
        event.stop()
        self.post_message(self.Input(event.text.replace("\r\n", "\r").replace("\n", "\r").encode()))

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # -- drawing --------------------------------------------------------------------------
    def _style(self, ch: pyte.screens.Char, cursor: bool) -> Style:
        key = (ch.fg, ch.bg, ch.bold, ch.italics, ch.underscore, ch.strikethrough, ch.reverse != cursor)
        style = self._styles.get(key)
        if style is None:
            style = Style(color=_colour(ch.fg), bgcolor=_colour(ch.bg), bold=ch.bold or None,
                          italic=ch.italics or None, underline=ch.underscore or None,
                          strike=ch.strikethrough or None, reverse=(ch.reverse != cursor) or None)
            self._styles[key] = style
        return style

    def render_line(self, y: int) -> Strip:
        scr = self.screen_buffer
        width = self.size.width
        if y >= scr.lines:
            return Strip.blank(width)
        row = scr.buffer[y]
        cursor_x = scr.cursor.x if (self.has_focus and not scr.cursor.hidden and scr.cursor.y == y) else -1
        segments: list[Segment] = []
        text, style = "", None
        for x in range(scr.columns):
            ch = row[x]
            if ch.data == "":                 # the right half of a wide character
                continue
            st = self._style(ch, x == cursor_x)
            if st is not style and text:
                segments.append(Segment(text, style))
                text = ""
            text += ch.data
            style = st
        if text:
            segments.append(Segment(text, style))
        base = self.rich_style
        return Strip(Segment.apply_style(segments, base), scr.columns).crop_extend(0, width, base)
