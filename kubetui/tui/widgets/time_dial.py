"""The time dial's bar: one line under the header while the control plane is paused or slowed.

No Kubernetes counterpart (see ``kubetui.timedial``). Running at 1x it takes
no room at all; paused it says so, what comes next at the gate, and the keys.
"""

from __future__ import annotations

from typing import Any

from textual.widgets import Static


def dial_text(status: dict[str, Any]) -> str:
    """``⏸ PAUSED · next: deployment default/web · . step  z resume  < > speed`` (plain text)."""
    mode = status.get("mode") or "Running"
    speed = float(status.get("speed") or 1.0)
    waiting = status.get("waiting") or []
    nxt = f"next: {waiting[0].get('component')} {waiting[0].get('key')}" if waiting else "nothing waiting"
    if mode == "Paused":
        head = "⏸ PAUSED" + (" (timers on real time)" if status.get("realTimeTimers") else "")
        parts = [head, f"{len(waiting)} waiting, {nxt}" if waiting else nxt, ". step  z resume  < > speed"]
        if speed < 1:
            parts.insert(1, f"{speed:g}x")
    else:
        parts = [f"▶ SLOW MOTION {speed:g}x", f"{float(status.get('spacingSeconds') or 0):g} s after each change",
                 "z pause  < > speed"]
    return " · ".join(parts)


class TimeDialBar(Static):
    """Shows the dial's state (``KubetuiApp.time_dial``), hidden while the control plane runs at 1x."""

    DEFAULT_CSS = """
    TimeDialBar { height: 1; padding: 0 1; display: none; text-style: bold; }
    TimeDialBar.-paused { display: block; background: $warning; color: $text; }
    TimeDialBar.-slowed { display: block; background: $accent; color: $text; }
    """

    def on_mount(self) -> None:
        self.show_state(getattr(self.app, "time_dial", None))

    def show_state(self, status: dict[str, Any] | None) -> None:
        mode = (status or {}).get("mode") or "Running"
        self.set_class(mode == "Paused", "-paused")
        self.set_class(mode == "Slowed", "-slowed")
        if mode != "Running":
            self.update(dial_text(status or {}))
