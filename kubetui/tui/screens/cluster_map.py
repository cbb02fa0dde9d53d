"""The home screen: the control plane and every node with its pods, live.

Like ``kubectl get nodes`` and ``kubectl get pods -o wide`` drawn as a map:
each node panel holds the pods bound to it (``spec.nodeName``), pods not yet
scheduled wait in their own panel, and what changes flashes briefly.
"""

from __future__ import annotations

from typing import Any

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical, VerticalScroll
from textual.widgets import Static

from kubetui.tui.bridge import ObjectsChanged
from kubetui.tui.screens.base import MainScreen, ObjectActions
from kubetui.tui.widgets.control_plane import ControlPlanePanel
from kubetui.tui.chips import PullTracker, chip_legend, chip_state
from kubetui.tui.rollout import NEW_MARK, OLD_MARK, replica_set_marks
from kubetui.tui.widgets.node_panel import NodePanel

Obj = dict[str, Any]
UNSCHEDULED = "(unscheduled)"
PANEL_WIDTH = 38


class ClusterMapScreen(ObjectActions, MainScreen):
    """Control plane on top, nodes below; arrow keys or the mouse select a pod.

    | Key | Action |
    | :- | :- |
    | right / left | next / previous pod |
    | down / up | first pod of the next / previous node |
    """

    BINDINGS = [
        Binding("right", "select_step(1)", "Next pod", show=False, tooltip="select the next pod"),
        Binding("left", "select_step(-1)", "Prev pod", show=False, tooltip="select the previous pod"),
        Binding("down", "select_node(1)", "Next node", show=False, tooltip="the first pod of the next node"),
        Binding("up", "select_node(-1)", "Prev node", show=False, tooltip="the first pod of the previous node"),
        *ObjectActions.OBJECT_BINDINGS,
    ]

    def __init__(self) -> None:
        super().__init__(id="map-screen")
        self.panels: dict[str, NodePanel] = {}
        self.selected_key: str | None = None
        self._settled = False
        #: where each visible pod is drawn (node name or UNSCHEDULED)
        self.pod_node: dict[str, str] = {}
        #: each visible pod's chip (the legend lists the states present)
        self.pod_chip: dict[str, str] = {}
        #: which pods wait on an image pull, from the kubelet's events
        self.pulls = PullTracker()
        self._legend_states: frozenset[str] = frozenset()
        self._status_text = ""
        #: pods marked by ReplicaSet (old / new) because their Deployment is rolling out
        self._rs_marks: dict[str, tuple[str, str]] = {}

    def compose_content(self) -> ComposeResult:
        with Vertical(id="map"):
            yield ControlPlanePanel(id="control-plane")
            yield Static(chip_legend(), id="legend")
            with VerticalScroll(id="nodes-scroll"):
                yield Grid(id="nodes")
            yield Static("", id="map-status")

    def on_mount(self) -> None:
        self.title = f"kubetui · {self.app.backend.cluster_name}"
        self.sub_title = "cluster map"
        # events too: the kubelet's Pulling/Pulled say which pods wait on an image pull
        self.app.bridge.subscribe(self, "nodes", "pods", "replicasets", "events")
        self._pulls_seen(set(self.app.bridge.objects("events")))
        self._rebuild(set(self.app.bridge.objects("nodes")), set(self.app.bridge.objects("pods")), flash=False)
        signal = getattr(self.app, "lesson_signal", None)
        if signal is not None:
            signal.subscribe(self, lambda _session: (self.show_lesson_focus(),
                                                     self.call_after_refresh(self._fit_columns)))

    def on_unmount(self) -> None:
        self.app.bridge.unsubscribe(self)

    def on_resize(self, event: events.Resize) -> None:
        self._fit_columns(event.size.width)
        self.call_after_refresh(self._fit_columns)  # once the lesson panel (if shown) has its width

    def _fit_columns(self, width: int | None = None) -> None:
        """As many node columns as fit beside the lesson panel (a node panel needs ``PANEL_WIDTH``),
        but no more than there are panels: a few nodes on a wide screen get wide panels (and
        their pods' full names) instead of leaving the right of the screen empty."""
        width = width or self.query_one("#map").size.width
        if width:
            columns = max(1, min(width // PANEL_WIDTH, len(self.panels) or 1))
            grid = self.query_one("#nodes", Grid)
            if grid.styles.grid_size_columns != columns:
                grid.styles.grid_size_columns = columns

    @on(ObjectsChanged)
    def _changed(self, message: ObjectsChanged) -> None:
        changes = message.bridge.take_changes(self)
        if not self._settled:
            # The first batch is the initial list: nothing "changed" yet, so nothing flashes.
            self._settled = all(self.app.bridge.is_synced(r) for r in ("nodes", "pods"))
        pulls = self._pulls_seen(set(changes.get("events", {}))) if changes.get("events") else set()
        self._rebuild(set(changes.get("nodes", {})), set(changes.get("pods", {})) | pulls, flash=self._settled,
                      replicasets_changed=bool(changes.get("replicasets")))

    def _pulls_seen(self, event_keys: set[str]) -> set[str]:
        """Pods whose waiting-on-a-pull state changed with these events (only image events count)."""
        events = self.app.bridge.objects("events")
        pods = self.app.bridge.objects("pods")
        changed = set()
        for key in event_keys:
            ev = events.get(key)
            pod_key = self.pulls.seen(ev) if ev is not None else None
            if pod_key is not None and pod_key in pods:
                changed.add(pod_key)
        return changed

    def refresh_all(self) -> None:
        """Rebuild every panel from the cache (the namespace changed), without flashing."""
        for panel in self.panels.values():
            panel.remove()
        self.panels.clear()
        self.pod_node.clear()
        self.pod_chip.clear()
        self._rebuild(set(self.app.bridge.objects("nodes")), set(self.app.bridge.objects("pods")), flash=False)

    def _visible(self, pod: Obj | None) -> bool:
        ns = self.app.namespace
        return pod is not None and (ns is None or pod["metadata"].get("namespace") == ns)

    def _rebuild(self, changed_nodes: set[str], changed_pods: set[str], *, flash: bool = True,
                 replicasets_changed: bool = True) -> None:
        """Apply changes incrementally: move changed pods between panels, redraw only touched panels.

        Work is proportional to what changed, not to the cluster's size, so
        1,000 pods with a few changing cost a few chips' worth of drawing.
        """
        nodes = self.app.bridge.objects("nodes")
        touched: dict[str, set[str]] = {}
        new: list[NodePanel] = []

        def panel_for(name: str) -> NodePanel:
            panel = self.panels.get(name)
            if panel is None:
                panel = NodePanel(nodes.get(name), node_name=name, name=name)
                panel.pulling = self.pulls.pulling
                panel.pulling = self.pulls.pulling
                panel.set_class(name == UNSCHEDULED, "-unscheduled")
                self.panels[name] = panel
                new.append(panel)
            return panel

        for name in changed_nodes:
            if name in nodes:
                panel = panel_for(name)
                if panel not in new:
                    panel.set_node(nodes[name], flash=flash)
        pods = self.app.bridge.objects("pods")
        for key in changed_pods:
            pod = pods.get(key)
            target = (pod.get("spec", {}).get("nodeName") or UNSCHEDULED) if self._visible(pod) else None
            before = self.pod_node.get(key)
            if before is not None and before != target and before in self.panels:
                self.panels[before].pods.pop(key, None)
                touched.setdefault(before, set())
            if target is None:
                self.pod_node.pop(key, None)
                self.pod_chip.pop(key, None)
                continue
            self.pod_node[key] = target
            self.pod_chip[key] = chip_state(pod, key in self.pulls.pulling)  # type: ignore[arg-type]
            panel_for(target).pods[key] = pod  # type: ignore[assignment]
            touched.setdefault(target, set()).add(key)
        # Panels whose node is gone and that hold no pods go away; so does an empty "unscheduled".
        removed = False
        for name in [n for n, p in self.panels.items() if n not in nodes and not p.pods]:
            panel = self.panels.pop(name)
            removed = True
            touched.pop(name, None)
            if panel in new:
                new.remove(panel)
            else:
                panel.remove()
        for name, keys in touched.items():
            panel = self.panels[name]
            if panel not in new:
                panel.set_pods(panel.pods, keys if flash else set())
        if new or removed:
            self._fit_columns()
        if new:
            grid = self.query_one("#nodes", Grid)
            ordered = sorted(self.panels, key=lambda n: (n == UNSCHEDULED, n))
            for panel in sorted(new, key=lambda p: ordered.index(p.node_name)):
                i = ordered.index(panel.node_name)
                after = next((self.panels[n] for n in reversed(ordered[:i]) if self.panels[n] not in new
                              or self.panels[n].is_mounted), None)
                if after is not None and after.is_mounted:
                    grid.mount(panel, after=after)
                else:
                    grid.mount(panel)
                panel.set_node(panel.node)
        marks_changed = False
        if changed_pods or replicasets_changed:
            marks_changed = self._mark_rollouts()
        states = frozenset(self.pod_chip.values())
        if states != self._legend_states or marks_changed:
            self._legend_states = states
            legend = chip_legend(states)
            if self._rs_marks:
                hashes = {NEW_MARK: set(), OLD_MARK: set()}
                for mark, h in self._rs_marks.values():
                    hashes[mark].add(h[:5])
                legend.append(f" {NEW_MARK} new ReplicaSet ({', '.join(sorted(hashes[NEW_MARK]))})  "
                              f"{OLD_MARK} old ({', '.join(sorted(hashes[OLD_MARK]))}): a rollout is under way",
                              style="bold")
            self.query_one("#legend", Static).update(legend)
        if touched or changed_nodes:
            self._sync_selection()
            if new or touched:
                self.show_lesson_focus()
        ready = sum(1 for p in self.panels.values() if p.node is not None and p.ready_state.startswith("Ready"))
        status = " · ".join([f"{len(nodes)} nodes ({ready} Ready)", f"{len(self.pod_node)} pods",
                             f"namespace: {self.app.namespace or 'all'}",
                             *self.app.bridge.status_notes("nodes", "pods")])
        if status != self._status_text and not self.selected_key:
            self._status_text = status
            self.query_one("#map-status", Static).update(status)
        self.app.after_shown("pods", changed_pods)

    def _mark_rollouts(self) -> bool:
        """Mark the pods of Deployments whose pods come from more than one ReplicaSet; True if that changed."""
        pods = self.app.bridge.objects("pods")
        shown = {k: pods[k] for k in self.pod_node if k in pods}
        marks = replica_set_marks(shown, self.app.bridge.objects("replicasets"))
        if marks == self._rs_marks:
            return False
        self._rs_marks = marks
        for name, panel in self.panels.items():
            panel.set_rs_marks({k: marks[k] for k in panel.pods if k in marks})
        return True

    # -- the lesson step's focus -----------------------------------------------------

    def show_lesson_focus(self) -> None:
        """Highlight the pods and nodes the current lesson step is about (``step_focus``), or none."""
        session = getattr(self.app, "lesson", None)
        if session is None or not getattr(self.app, "lesson_visible", False):
            pods: set[str] = set()
            nodes: set[str] = set()
        else:
            from kubetui.tui.lesson import focus_targets
            targets = focus_targets(session.focus(), self.app.bridge.objects, session.run.env.namespace)
            pods, nodes = targets.pods, targets.nodes
        for name, panel in self.panels.items():
            panel.set_lesson_focus(pods, name in nodes)

    # -- selection ---------------------------------------------------------------

    def _ordered_keys(self) -> list[str]:
        keys = []
        for name in sorted(self.panels, key=lambda n: (n == UNSCHEDULED, n)):
            pods = self.panels[name].pods
            keys += sorted(pods, key=lambda k: pods[k]["metadata"]["name"])
        return keys

    def _sync_selection(self) -> None:
        for panel in self.panels.values():
            panel.selected_pod = self.selected_key if self.selected_key in panel.pods else None

    def select(self, key: str | None) -> None:
        self.selected_key = key
        self._sync_selection()
        pod = self.app.bridge.get("pods", key) if key else None
        if pod is not None:
            self._status_text = ""
            self.query_one("#map-status", Static).update(
                f"selected pod {key} on {pod.get('spec', {}).get('nodeName') or 'no node yet'}")

    def selected(self) -> tuple[str, Obj] | None:
        if self.selected_key and (pod := self.app.bridge.get("pods", self.selected_key)):
            return "pods", pod
        return None

    @on(NodePanel.PodClicked)
    def _pod_clicked(self, message: NodePanel.PodClicked) -> None:
        self.select(message.key)

    def action_select_step(self, step: int) -> None:
        keys = self._ordered_keys()
        if not keys:
            return
        i = keys.index(self.selected_key) + step if self.selected_key in keys else (0 if step > 0 else -1)
        self.select(keys[i % len(keys)])

    def action_select_node(self, step: int) -> None:
        names = [n for n in sorted(self.panels, key=lambda n: (n == UNSCHEDULED, n)) if self.panels[n].pods]
        if not names:
            return
        current = next((n for n in names if self.selected_key in self.panels[n].pods), None)
        i = (names.index(current) + step) if current else 0
        pods = self.panels[names[i % len(names)]].pods
        self.select(sorted(pods, key=lambda k: pods[k]["metadata"]["name"])[0])
