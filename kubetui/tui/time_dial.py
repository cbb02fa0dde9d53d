"""The app's time-dial keys: pause / resume, step, slower / faster, and the bar that shows the dial.

No Kubernetes counterpart (``kubetui.timedial``). Mixed into ``KubetuiApp``.
The dial lives in the control plane and is read over kubetui's own API group
(``controlplane.kubetui.dev/v1alpha1/timedial``), so every TUI, the web UI,
``kubetui time`` and the lessons turn the same dial; the app polls its state
once a second and after each key.
"""

from __future__ import annotations

import logging
from typing import Any

from textual import work
from textual.binding import Binding

from kubetui.tui.widgets.time_dial import TimeDialBar

log = logging.getLogger(__name__)

#: the speeds ``<`` and ``>`` move between
SPEEDS = (0.1, 0.25, 0.5, 1.0)
POLL_SECONDS = 1.0

BINDINGS = [
    Binding("z", "dial_pause", "Pause", show=False,
            tooltip="pause the control plane (controllers and scheduler take no work), or resume it"),
    Binding("full_stop", "dial_step", "Step", key_display=".", show=False,
            tooltip="paused: let exactly one reconcile or scheduling cycle run, and say what it did"),
    Binding("less_than_sign", "dial_speed(-1)", "Slower", key_display="<", show=False,
            tooltip="slow motion: 1x -> 0.5x -> 0.25x -> 0.1x"),
    Binding("greater_than_sign", "dial_speed(1)", "Faster", key_display=">", show=False,
            tooltip="back towards normal speed: 0.1x -> 0.25x -> 0.5x -> 1x"),
]


def next_speed(speed: float, direction: int) -> float:
    """The next speed on the dial: ``next_speed(1.0, -1) == 0.5``; it stops at the ends."""
    i = min(range(len(SPEEDS)), key=lambda k: abs(SPEEDS[k] - speed))
    return SPEEDS[max(0, min(len(SPEEDS) - 1, i + direction))]


class TimeDialActions:
    """What ``KubetuiApp`` does with the time dial (see the module docstring)."""

    #: the dial's last known ``status`` (``kubetui.client.views.time_dial_object``), None if unknown
    time_dial: dict[str, Any] | None = None

    _dial_timer: Any = None

    def start_time_dial(self) -> None:
        """Poll the dial's state (called once the app is mounted)."""
        self._dial_timer = self.set_interval(POLL_SECONDS, self.refresh_time_dial)  # type: ignore[attr-defined]
        self.refresh_time_dial()

    @work(group="time-dial", exclusive=True)
    async def refresh_time_dial(self) -> None:
        await self._turn_dial(None)

    async def _turn_dial(self, action: str | None, body: dict[str, Any] | None = None) -> dict[str, Any] | None:
        backend = self.backend  # type: ignore[attr-defined]
        dial = getattr(backend, "time_dial", None)
        if dial is None:
            return None
        try:
            doc = await dial(action, body)
        except Exception as exc:  # noqa: BLE001 - the UI's loop boundary: say it, keep running
            from kubetui.api import errors
            if action is None and isinstance(exc, (errors.Forbidden, errors.NotFound)) \
                    and self._dial_timer is not None:
                # a user RBAC keeps off the dial, or a control plane without one: stop asking every second
                self._dial_timer.stop()
            if action is not None:
                self.notify(f"time {action}: {getattr(exc, 'message', exc)}", severity="error")  # type: ignore[attr-defined]
            else:
                log.debug("time dial: %s", exc)
            return None
        if doc is None:
            if action is not None:
                self.notify("This cluster has no time dial (it needs a kubetui control plane)",  # type: ignore[attr-defined]
                            severity="warning")
            return None
        self._show_dial(doc.get("status") or {})
        return doc

    def _show_dial(self, status: dict[str, Any]) -> None:
        self.time_dial = status
        for bar in self.screen.query(TimeDialBar):  # type: ignore[attr-defined]
            bar.show_state(status)

    @work(group="time-dial-turn")
    async def action_dial_pause(self) -> None:
        paused = bool((self.time_dial or {}).get("paused"))
        doc = await self._turn_dial("resume" if paused else "pause")
        if doc is not None:
            self.notify("Control plane resumed" if paused else
                        "Control plane paused: press . to step one reconcile, z to resume", timeout=4)  # type: ignore[attr-defined]

    @work(group="time-dial-turn")
    async def action_dial_step(self) -> None:
        if not (self.time_dial or {}).get("paused"):
            self.notify("Pause the control plane first (z), then step (.)", severity="warning")  # type: ignore[attr-defined]
            return
        doc = await self._turn_dial("step", {"count": 1, "waitSeconds": 1.0})
        if doc is None:
            return
        self.notify(step_message(doc), timeout=8)  # type: ignore[attr-defined]

    @work(group="time-dial-turn")
    async def action_dial_speed(self, direction: int) -> None:
        speed = next_speed(float((self.time_dial or {}).get("speed") or 1.0), direction)
        doc = await self._turn_dial("speed", {"speed": speed})
        if doc is not None:
            self.notify(f"Control plane speed {speed:g}x", timeout=3)  # type: ignore[attr-defined]


def step_message(doc: dict[str, Any]) -> str:
    """What a step ran, as a notification: ``ran: deployment default/web`` and what it decided and wrote."""
    ran = doc.get("ran") or []
    if not ran:
        return "Nothing was waiting at the gate: the control plane has nothing to do"
    t = ran[0]
    lines = [f"ran: {t.get('component')} {t.get('key')}"]
    for rec in doc.get("reconciles") or ():
        if rec.get("controller") != t.get("component"):
            continue
        lines += [f"saw: {o}" for o in (rec.get("observed") or [])[:2]]
        lines += [f"decided: {d.get('text')}" for d in (rec.get("decided") or [])[:3]]
        writes = rec.get("writes") or []
        if writes:
            lines.append(f"{len(writes)} API write{'s' if len(writes) != 1 else ''}")
        break
    nxt = ((doc.get("status") or {}).get("waiting") or [])[:1]
    if nxt:
        lines.append(f"next: {nxt[0].get('component')} {nxt[0].get('key')}")
    return "\n".join(lines)
