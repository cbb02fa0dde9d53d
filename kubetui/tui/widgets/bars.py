"""Text bars for capacity (requested vs allocatable) and traffic shares."""

from __future__ import annotations

from rich.text import Text

BLOCKS = " ▏▎▍▌▋▊▉█"


def bar(fraction: float, width: int, style: str, *, empty_style: str = "dim") -> Text:
    """A horizontal bar ``width`` cells wide filled to ``fraction`` (eighths of a cell).

    >>> bar(0.5, 4, "green").plain
    '██  '
    """
    fraction = max(0.0, min(1.0, fraction))
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    text = Text("█" * full, style=style)
    if part and full < width:
        text.append(BLOCKS[part], style=style)
    text.append(" " * (width - len(text)), style=empty_style)
    return text


def pressure_style(fraction: float) -> str:
    """Green under 70 %, yellow under 90 %, red above: how full a node is."""
    return "green" if fraction < 0.7 else ("yellow" if fraction < 0.9 else "red")
