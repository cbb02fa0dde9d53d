"""What the main screens share: layout (content + lesson panel), and actions on the selected object.

The keys are the ones a k9s user would guess; every one is a named action,
so it shows in the footer and the help screen and can be remapped.
"""

from __future__ import annotations

import base64
import logging
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Header

from kubetui.api import errors
from kubetui.api.resources import resource_for
from kubetui.tui.widgets.footer import FittingFooter
from kubetui.tui.widgets.lesson_panel import LessonPanel
from kubetui.tui.widgets.time_dial import TimeDialBar

if TYPE_CHECKING:
    from kubetui.tui.app import KubetuiApp

log = logging.getLogger(__name__)
Obj = dict[str, Any]

SCALABLE = ("deployments", "replicasets", "statefulsets")


class MainScreen(Screen[None]):
    """A main view: header, the view's own content, room for a lesson at the side, footer.

    The lesson keys come first in the footer, so a learner finds them on every view
    (n / p / h / c show only while a lesson's panel is open; a view's own key wins).

    | Key | Action |
    | :- | :- |
    | ctrl+l / L | lesson panel (or pick a lesson) |
    | n / p | next / previous lesson step |
    | h | lesson hint |
    | c | check the lesson step now |
    """

    BINDINGS = [
        # First, so they stay visible in the footer even at 80 columns: how to
        # learn every other key, and how to type a real kubectl command.
        Binding("question_mark", "app.help", "Help", key_display="?", tooltip="this list of keys"),
        Binding("colon", "app.command", "kubectl", key_display=":",
                tooltip="command bar: run kubectl (or kubetui) against this cluster"),
        Binding("ctrl+l", "app.toggle_lesson", "Lesson",
                tooltip="show or hide the lesson panel (or pick a lesson)"),
        Binding("L", "app.toggle_lesson", "Lesson", tooltip="show or hide the lesson panel (or pick a lesson)"),
        Binding("n", "app.lesson_step(1)", "Next step", tooltip="the lesson's next step"),
        Binding("p", "app.lesson_step(-1)", "Prev step", tooltip="the lesson's previous step"),
        Binding("h", "app.lesson_hint", "Hint", tooltip="show the step's next hint"),
        Binding("c", "app.lesson_check", "Check", tooltip="check the lesson step now"),
    ]

    app: "KubetuiApp"

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield TimeDialBar(id="time-dial")       # only while the control plane is paused or slowed
        with Horizontal(id="main-row"):
            yield from self.compose_content()
            yield LessonPanel(id="lesson")
        yield FittingFooter()

    def compose_content(self) -> ComposeResult:
        yield from ()


class ObjectActions:
    """Actions on the selected object; a screen mixing this in implements ``selected()``.

    | Key | Action |
    | :- | :- |
    | d | describe (as kubectl describe) |
    | y | YAML |
    | l | follow the pod's logs |
    | s | shell into the pod (kubectl exec) |
    | e | edit in $EDITOR (kubectl edit) |
    | ctrl+d / delete | delete (asks first) |
    | + / - | scale a Deployment or ReplicaSet |
    | w | why here? the scheduler's decision for a pod |
    | t | traffic across a Service's endpoints |
    | F | port-forward: 127.0.0.1:<port> to the selected pod or Service |
    | a | activity: the reconcile log of the selected object and what it owns (nothing selected: all) |
    """

    OBJECT_BINDINGS = [
        Binding("d", "describe", "Describe", tooltip="describe the selected object (as kubectl describe)"),
        # y, e, + and - live in help (?) only: the footer must fit in 100 columns.
        Binding("y", "yaml", "YAML", show=False, tooltip="the selected object's YAML"),
        Binding("l", "logs", "Logs", tooltip="follow the selected pod's logs"),
        Binding("s", "shell", "Shell", tooltip="a shell in the selected pod (kubectl exec -it)"),
        Binding("e", "edit", "Edit", show=False, tooltip="edit the selected object in $EDITOR (kubectl edit)"),
        Binding("ctrl+d", "delete", "Delete", tooltip="delete the selected object (asks first)"),
        Binding("delete", "delete", "Delete", key_display="del", tooltip="delete the selected object (asks first)"),
        Binding("plus,+", "scale(1)", "Scale +", key_display="+", show=False,
                tooltip="one more replica (Deployment or ReplicaSet)"),
        Binding("minus,-", "scale(-1)", "Scale -", key_display="-", show=False,
                tooltip="one replica fewer (Deployment or ReplicaSet)"),
        Binding("w", "explain", "Scheduler", tooltip="why is this pod on its node? the scheduler's decision"),
        Binding("t", "traffic", "Traffic", tooltip="how a Service's requests spread over its endpoints"),
        Binding("F", "port_forward", "Port-forward", show=False,
                tooltip="forward a local port to the selected pod or Service (kubectl port-forward)"),
        Binding("a", "activity", "Activity", show=False,
                tooltip="the reconcile log: what the controllers and the scheduler decided about the "
                        "selected object and what it owns (a Deployment: its ReplicaSets and pods)"),
    ]

    app: "KubetuiApp"

    def selected(self) -> tuple[str, Obj] | None:
        """(plural resource, object) under the cursor, if any."""
        raise NotImplementedError

    def _need(self, *resources: str) -> tuple[str, Obj] | None:
        sel = self.selected()
        if sel is None:
            self.app.notify("Nothing selected", severity="warning")
            return None
        if resources and sel[0] not in resources:
            self.app.notify(f"This works on {', '.join(resources)}, not {sel[0]}", severity="warning")
            return None
        return sel

    def action_describe(self) -> None:
        if sel := self._need():
            self.app.open_detail(*sel, tab="describe")

    def action_yaml(self) -> None:
        if sel := self._need():
            self.app.open_detail(*sel, tab="yaml")

    def action_logs(self) -> None:
        if sel := self._need("pods"):
            from kubetui.tui.screens.logs import LogsScreen
            self.app.push_screen(LogsScreen(sel[1]))

    def action_explain(self) -> None:
        if sel := self._need("pods"):
            from kubetui.tui.screens.scheduler import SchedulerDecisionScreen
            self.app.push_screen(SchedulerDecisionScreen(sel[1]))

    def action_activity(self) -> None:
        """The activity view, filtered by the selected object (a Deployment: with its ReplicaSets and pods)."""
        from kubetui.tui.screens.activity import ActivityScreen
        sel = self.selected()
        obj = None
        if sel is not None:
            res, o = sel
            md = o.get("metadata") or {}
            kind = resource_for(res).kind
            obj = f"{kind}/{md['namespace']}/{md['name']}" if md.get("namespace") else f"{kind}/{md['name']}"
        self.app.push_screen(ActivityScreen(obj))

    def action_traffic(self) -> None:
        if sel := self._need("services"):
            from kubetui.tui.screens.traffic import TrafficScreen
            self.app.push_screen(TrafficScreen(sel[1]))

    def action_shell(self) -> None:
        if sel := self._need("pods"):
            from kubetui.tui.screens.shell import ShellScreen, can_exec
            if not can_exec(self.app.backend):  # type: ignore[attr-defined]
                self.app.notify("A shell needs the cluster's API over HTTPS (a kubeconfig); "
                                "this backend has none", severity="warning")
                return
            self.app.push_screen(ShellScreen(sel[1]))

    def action_port_forward(self) -> None:
        """As k9s's shift-f: forward a free local port to the pod's (or Service's pod's) port."""
        if not (sel := self._need("pods", "services")):
            return
        client = self.app.backend.client  # type: ignore[attr-defined]
        if getattr(client, "port_forward", None) is None:
            self.app.notify("Port-forward needs the cluster's API over HTTPS; this backend has none",
                            severity="warning")
            return

        async def start() -> None:
            from kubetui.client.portforward import target_for
            try:
                pod, port = await target_for(client, *sel)
                pf = await client.port_forward(pod["metadata"].get("namespace", "default"),
                                               pod["metadata"]["name"], port)
            except Exception as exc:  # noqa: BLE001 (shown to the user)
                self.app.notify(error_text(exc), severity="error")
                return
            if not hasattr(self.app, "port_forwards"):
                self.app.port_forwards = []      # type: ignore[attr-defined]
            self.app.port_forwards.append(pf)    # type: ignore[attr-defined]
            what = f"{resource_for(sel[0]).singular}/{sel[1]['metadata']['name']}"
            self.app.notify(f"Forwarding from 127.0.0.1:{pf.local_port} -> {port} ({what}, pod "
                            f"{pod['metadata']['name']}) until kubetui quits", timeout=30)
        self.app.run_worker(start(), exclusive=False)

    def action_edit(self) -> None:
        if sel := self._need():
            res, obj = sel
            args = ["edit", res, obj["metadata"]["name"]]
            if obj["metadata"].get("namespace"):
                args += ["-n", obj["metadata"]["namespace"]]
            self.app.run_interactive_kubectl(args)

    def action_delete(self) -> None:
        if sel := self._need():
            from kubetui.tui.screens.confirm import ConfirmScreen
            res, obj = sel
            md = obj["metadata"]
            what = f"{resource_for(res).singular} {md['name']}" + (f" in {md['namespace']}" if md.get("namespace") else "")

            def done(yes: bool | None) -> None:
                if yes:
                    self.app.delete_object(res, obj)
            self.app.push_screen(ConfirmScreen(f"Delete {what}?"), done)

    def action_scale(self, delta: int) -> None:
        if sel := self._need(*SCALABLE):
            self.app.scale_object(sel[0], sel[1], delta)


def mask_secret(obj: Obj, reveal: bool) -> Obj:
    """A Secret with ``data`` masked (or base64-decoded into ``stringData``-like view when revealed)."""
    if obj.get("kind") != "Secret":
        return obj
    out = dict(obj)
    data = obj.get("data") or {}
    if reveal:
        decoded = {}
        for k, v in data.items():
            try:
                decoded[k] = base64.b64decode(v).decode("utf-8", "replace")
            except (ValueError, TypeError):
                decoded[k] = v
        out["data"] = decoded
    else:
        out["data"] = {k: "••••••" for k in data}
    return out


def error_text(exc: BaseException) -> str:
    if isinstance(exc, errors.StatusError):
        return f"Error from server ({exc.reason}): {exc.message}"
    return f"{type(exc).__name__}: {exc}"
