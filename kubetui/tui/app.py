"""The kubetui Textual app: a k9s-like client of a kubetui cluster that also shows *why*.

``KubetuiApp(backend)`` sees the cluster only through a ``ClusterBackend``
(``kubetui.tui.backend``): its ``client`` for every read and write, and a few
optional teaching views. ``run_tui(backend)`` runs it in the terminal;
``kubetui web`` serves the same app to a browser (``kubetui.tui.web``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from textual import events, work
from textual.app import App
from textual.system_commands import SystemCommandsProvider
from textual.binding import Binding
from textual.command import Hit, Hits, Provider
from textual.reactive import reactive
from textual.signal import Signal

from kubetui.api import errors
from kubetui.api.resources import resource_for
from kubetui.clock import Clock
from kubetui.statedir import last_ui_choice, remember_last_ui_choice, running_pid
from kubetui.tui.backend import ClusterBackend
from kubetui.tui.bridge import WatchBridge
from kubetui.tui.class_channel import ClassChannel
from kubetui.tui.kubectl import kubectl_argv
from kubetui.tui.lesson_actions import LessonActions
from kubetui.tui.screens.base import error_text
from kubetui.tui.screens.browser import BROWSABLE, BrowserScreen
from kubetui.tui.screens.cluster_map import ClusterMapScreen
from kubetui.tui.screens.control_plane import ControlPlaneScreen
from kubetui.tui.screens.events import EventsScreen
from kubetui.tui.screens.store import StoreScreen
from kubetui.tui.time_dial import BINDINGS as TIME_DIAL_BINDINGS
from kubetui.tui.time_dial import TimeDialActions

log = logging.getLogger(__name__)
Obj = dict[str, Any]


class ClusterCommands(Provider):
    """Command palette entries: the views, each resource, and "run kubectl …"."""

    async def search(self, query: str) -> Hits:
        app: KubetuiApp = self.app  # type: ignore[assignment]
        matcher = self.matcher(query)
        entries: list[tuple[str, Callable[[], Any], str]] = [
            ("Cluster map", lambda: app.switch_mode("map"), "control plane, nodes and their pods"),
            ("Events stream", lambda: app.switch_mode("events"), "what the cluster is telling you"),
            ("Store", lambda: app.switch_mode("store"), "etcd keys, revisions and the watch stream"),
            ("Control plane", lambda: app.switch_mode("controlplane"),
             "control-plane nodes, etcd members (raft leader, term, index), API servers, Lease holders"),
            ("Activity (reconcile log)", app.open_activity,
             "every controller sync and scheduling cycle: what it saw, decided and wrote"),
        ]
        for res in BROWSABLE:
            entries.append((f"Browse {res}", lambda r=res: app.show_resource(r), f"kubectl get {res}"))
        entries.append(("Lessons", app.open_lesson_picker, "pick a lesson to learn on this cluster"))
        if app.lesson is not None:
            entries.append(("Lesson: run this step's solution", app.solve_lesson_step,
                            "skip the step: runs its solution (recorded as solution used)"))
            entries.append(("Lesson: start this lesson over", lambda: app.start_lesson(app.lesson.lesson.id,
                                                                                      fresh=True),
                            "run its setup again from step 1"))
        for name, callback, help_text in entries:
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
        if query.strip():
            text = query.strip()
            yield Hit(0.1, f"kubectl {text.removeprefix('kubectl ')}", lambda: app.action_command(text),
                      help="run in the command bar")


class KubetuiApp(LessonActions, ClassChannel, TimeDialActions, App[None]):
    """The TUI.

    | Key | Action |
    | :- | :- |
    | 1 / 2 / 3 / 4 / 5 | cluster map / resources / events / store / control plane |
    | : | command bar (real kubectl) |
    | ctrl+p / P | command palette |
    | ? | help |
    | ctrl+t / T | dark / light theme |
    | ctrl+l / L, n / p, h, c | lessons (see ``MainScreen``) |
    | z / . / < > | time dial: pause or resume the control plane / step one reconcile / slower, faster |

    Browsers keep ctrl+l, ctrl+d, ctrl+t and ctrl+p for themselves, so each has
    a browser-safe twin (L, delete, T, P) that the footer shows in ``kubetui web``.
    | q | quit |
    """

    BINDINGS = [
        # One footer entry for the five views ("1-5 Views"), so the footer fits in 100 columns.
        Binding("1", "switch_mode('map')", "Views", key_display="1-5",
                tooltip="the cluster map: control plane, nodes and their pods"),
        Binding("2", "switch_mode('browse')", "Resources", show=False,
                tooltip="browse resources as kubectl get shows them"),
        Binding("3", "switch_mode('events')", "Events", show=False, tooltip="the cluster's events as they happen"),
        Binding("4", "switch_mode('store')", "Store", show=False,
                tooltip="the store: keys, revisions and the watch stream"),
        Binding("5", "switch_mode('controlplane')", "Control plane", show=False,
                tooltip="the control plane: its nodes, etcd members (leader, raft term), API servers, Lease holders"),
        # Shown in the footer by each main screen (first, so they never scroll off).
        Binding("colon", "command", "kubectl", key_display=":", show=False,
                tooltip="command bar: run kubectl (or kubetui) against this cluster"),
        Binding("question_mark", "help", "Help", key_display="?", show=False, tooltip="this list of keys"),
        Binding("ctrl+t", "toggle_theme", "Theme", show=False, tooltip="switch between the dark and light theme"),
        Binding("T", "toggle_theme", "Theme", show=False, tooltip="switch between the dark and light theme"),
        # The palette's own binding (Textual adds ctrl+p only when none is given) and its browser twin.
        Binding("ctrl+p", "command_palette", "palette", show=False, priority=True,
                tooltip="the command palette: views, resources, lesson actions"),
        Binding("P", "command_palette", "palette", show=False,
                tooltip="the command palette: views, resources, lesson actions"),
        Binding("q", "quit", "Quit", show=False, tooltip="quit kubetui"),
        *TIME_DIAL_BINDINGS,
    ]
    CSS_PATH = "app.tcss"
    MODES = {"map": ClusterMapScreen, "browse": BrowserScreen, "events": EventsScreen, "store": StoreScreen,
             "controlplane": ControlPlaneScreen}
    COMMANDS = {SystemCommandsProvider, ClusterCommands}
    TITLE = "kubetui"

    namespace: reactive[str | None] = reactive(None, init=False)
    """The namespace views show (``None``: all namespaces, like ``-A``)."""

    def __init__(self, backend: ClusterBackend, *, clock: Clock | None = None, start: str = "map",
                 light: bool = False, lesson: str | None = None, lessons_dir: Path | None = None,
                 learner: str | None = None, fresh: bool = False) -> None:
        super().__init__()
        self.backend = backend
        self.clock = clock or Clock()
        self.start = start
        # The client is read on each use: an in-process backend gets its client once the cluster is up.
        self.bridge = WatchBridge(self, lambda: backend.client)
        self.bridge.fallback_namespace = getattr(backend, "namespace", None) or "default"
        self.command_history: list[str] = []
        #: a resource the browser should show next (set by the command bar and palette)
        self.pending_resource: str | None = None
        self.command_output: list[str] = []
        #: called with (resource, keys, seconds from event to shown) after a frame shows changes (bench hook)
        self.on_shown: Callable[[str, set[str], list[float]], None] | None = None
        self.theme = "textual-light" if light else "textual-dark"
        #: set once the cluster answers (at once for an attached cluster, after start-up for an in-process one)
        self.cluster_ready = asyncio.Event()
        # -- lessons (see kubetui.tui.lesson_actions) --
        #: the lesson being learnt, if any, and whether its panel is shown
        self.lesson: Any = None
        self.lesson_visible = False
        #: published (with the session) whenever what the lesson panel shows changed
        self.lesson_signal: Signal[Any] = Signal(self, "lesson")
        self.lessons_dir = Path(lessons_dir) if lessons_dir else None
        self.learner = learner or os.environ.get("KUBETUI_LEARNER") or os.environ.get("USER") or "learner"
        self._lesson_ref = lesson
        self._lesson_fresh = fresh
        self._lesson_library: Any = None
        self._lesson_dirty = asyncio.Event()
        self._lesson_stop = asyncio.Event()

    def on_mount(self) -> None:
        if self.is_web:
            # The footer shows the palette under this key: the browser keeps ctrl+p (print).
            self.COMMAND_PALETTE_BINDING = "P"
        self.start_time_dial()
        self.start_class_follow()      # a class this machine joined: the teacher's notes (class_channel.py)
        self.show_class_notice()       # a hosted class's session: its drill's namespace and briefing
        if self._lesson_ref:
            self.start_lesson(self._lesson_ref, fresh=self._lesson_fresh)
        progress = self.backend.startup_progress()
        if progress is not None:
            from kubetui.tui.screens.startup import StartupScreen
            self.push_screen(StartupScreen(progress, then=self.start))
        else:
            self.cluster_ready.set()
            self.switch_mode(self.start)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        # In a browser the blinking cursor was an idle session's main cost: every half second the
        # focused input's lines redrawn (about 12 KB/s of output and 2% of a core per idle session
        # with the command bar open, times thirty learners in a hosted class). The browser shows a
        # steady cursor instead; a terminal keeps its blink.
        if self.is_web and getattr(event.widget, "cursor_blink", False):
            event.widget.cursor_blink = False  # type: ignore[attr-defined]

    async def on_unmount(self) -> None:
        self._lesson_stop.set()
        self.stop_class_follow()
        # Close the HTTPS session on this loop: left to the garbage collector, aiohttp
        # reports "Unclosed client session" as the terminal returns.
        aclose = getattr(self.backend, "aclose", None)
        if aclose is not None:
            try:
                await aclose()
            except Exception as exc:  # noqa: BLE001 - quitting: log, never fail the exit
                log.debug("closing the backend: %s", exc)

    async def action_quit(self) -> None:
        """Quit; the first time on a cluster whose control plane runs apart, ask what its last UI's quit does."""
        state_dir = getattr(self.backend, "state_dir", None)
        if state_dir is not None and running_pid(state_dir) is not None and last_ui_choice(state_dir) is None:
            from kubetui.tui.screens.quit import LastUIQuitScreen

            def answered(choice: str | None) -> None:
                if choice is None:
                    return          # escape: stay
                remember_last_ui_choice(state_dir, choice)
                self.exit()
            self.push_screen(LastUIQuitScreen(self.backend.cluster_name), answered)
            return
        self.exit()

    # -- what screens call ----------------------------------------------------------------

    def show_resource(self, resource: str) -> None:
        """Open the browser on ``resource`` (plural, short name or kind)."""
        self.pending_resource = resource_for(resource).plural
        if self.current_mode == "browse" and isinstance(self.screen, BrowserScreen) and self.screen.is_mounted:
            self.screen.take_pending_resource()
        else:
            self.switch_mode("browse")  # the browser takes it when it mounts or resumes

    def open_detail(self, resource: str, obj: Obj, *, tab: str = "describe") -> None:
        from kubetui.tui.screens.detail import DetailScreen
        self.push_screen(DetailScreen(resource, obj, tab=tab))

    def open_activity(self, object: str | None = None) -> None:
        """The activity view (the reconcile log), of everything or of ``object`` (``Deployment/ns/name``)."""
        from kubetui.tui.screens.activity import ActivityScreen
        self.push_screen(ActivityScreen(object))

    def cycle_namespace(self) -> None:
        names = sorted(o["metadata"]["name"] for o in self.bridge.objects("namespaces").values())
        order: list[str | None] = [None, *names]
        i = order.index(self.namespace) if self.namespace in order else 0
        self.namespace = order[(i + 1) % len(order)]

    def watch_namespace(self) -> None:
        self.bridge.ensure("namespaces")
        for screen in self.screen_stack:
            if hasattr(screen, "namespace_changed"):
                screen.namespace_changed()
            elif isinstance(screen, ClusterMapScreen):
                screen.refresh_all()
        self.notify(f"namespace: {self.namespace or 'all'}", timeout=2)

    @work(group="actions")
    async def delete_object(self, resource: str, obj: Obj) -> None:
        md = obj["metadata"]
        try:
            await self.backend.client.delete(resource, md["name"], md.get("namespace"))
            self.notify(f'{resource_for(resource).singular} "{md["name"]}" deleted')
        except errors.StatusError as exc:
            self.notify(error_text(exc), severity="error")

    @work(group="actions")
    async def scale_object(self, resource: str, obj: Obj, delta: int) -> None:
        """``kubectl scale --replicas=N``: a merge patch of ``spec.replicas`` (never below 0)."""
        md = obj["metadata"]
        replicas = max(0, int(obj.get("spec", {}).get("replicas", 1)) + delta)
        try:
            await self.backend.client.patch(resource, md["name"], {"spec": {"replicas": replicas}}, md.get("namespace"))
            self.notify(f'{resource_for(resource).singular}/{md["name"]} scaled to {replicas}')
        except errors.StatusError as exc:
            self.notify(error_text(exc), severity="error")

    def run_interactive_kubectl(self, args: list[str]) -> None:
        """Hand the terminal to kubectl (exec -it, edit with $EDITOR), then come back."""
        if self.backend.kubeconfig_path is None:
            self.notify("This needs kubectl and a kubeconfig; this backend has none", severity="warning")
            return
        argv = kubectl_argv(args, self.backend.kubeconfig_path, getattr(self.backend, "kubectl", None))
        try:
            with self.suspend():
                subprocess.run(argv, check=False)
        except Exception as exc:  # e.g. SuspendNotSupported in the browser
            self.notify(f"cannot hand over the terminal here: {exc}; run: {' '.join(argv)}", severity="warning")

    def after_shown(self, resource: str, keys: Iterable[str]) -> None:
        """Record, after the next refresh, how long changes took from watch event to screen."""
        if self.on_shown is None:
            return
        keys = set(keys)
        if not keys:
            return
        received = [self.bridge.received_at.get((resource, k)) for k in keys]

        def shown() -> None:
            now = time.perf_counter()
            if self.on_shown is not None:
                self.on_shown(resource, keys, [now - t for t in received if t is not None])
        self.call_after_refresh(shown)

    # -- actions --------------------------------------------------------------------------------

    def action_command(self, initial: str = "") -> None:
        from kubetui.tui.screens.command import CommandScreen
        self.push_screen(CommandScreen(initial))

    def action_help(self) -> None:
        from kubetui.tui.screens.help import HelpScreen, binding_rows
        self.push_screen(HelpScreen(binding_rows(self.screen, list(self.BINDINGS))))

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"


def run_tui(backend: ClusterBackend, **kwargs: Any) -> None:
    """Run the TUI in this terminal until the user quits."""
    KubetuiApp(backend, **kwargs).run()


def run_app(**kwargs: Any) -> int:
    """The CLI's entry (``kubetui.cmd.cluster.run_tui``): see ``kubetui.tui.backends.run_app``."""
    from kubetui.tui.backends import run_app as _run_app
    return _run_app(**kwargs)


__all__ = ["KubetuiApp", "run_tui", "run_app", "Path"]
