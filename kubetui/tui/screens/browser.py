"""The resource browser: ``kubectl get <resource>`` for every kind, live.

Pods, Deployments, ReplicaSets, Services, Endpoints, Nodes, ConfigMaps,
Secrets, Events, PersistentVolumes and Claims, with kubectl's columns; type to
filter, pick a namespace, sort by a column (k9s keys: N, A, S). Custom
resources get a tab of their own once their CRD is Established, with the
CRD's printer columns: the CRDs are watched (an informer, as kubectl's
discovery cache is refreshed), not listed every few seconds, so an idle
browser asks the API server for nothing (hosted classes run thirty of them).
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Input, Static, Tab, Tabs

from kubetui.api.customresource.serve import serve
from kubetui.api.resources import resource_for
from kubetui.tui.bridge import ObjectsChanged
from kubetui.tui.screens.base import MainScreen, ObjectActions
from kubetui.tui.widgets.resource_table import ResourceTable

Obj = dict[str, Any]


class KindTabs(Tabs):
    """The kinds' tabs; subscribed to the CustomResourceDefinitions, whose changes add and remove tabs."""

    @on(ObjectsChanged)
    def _crds_changed(self, message: ObjectsChanged) -> None:
        message.stop()                      # the screen's own handler is for the rows' resource
        message.bridge.take_changes(self)
        screen = self.screen
        if isinstance(screen, BrowserScreen):
            screen.custom_resources_changed()

BROWSABLE = ("pods", "deployments", "replicasets", "daemonsets", "statefulsets", "controllerrevisions", "services", "endpoints", "nodes", "configmaps",
             "secrets", "events", "namespaces", "persistentvolumes", "persistentvolumeclaims", "jobs", "cronjobs",
             "horizontalpodautoscalers", "replicationcontrollers", "podtemplates", "resourcequotas", "limitranges",
             "poddisruptionbudgets", "priorityclasses", "roles", "rolebindings", "clusterroles",
             "clusterrolebindings", "ingresses", "ingressclasses", "networkpolicies")


#: Letters are the screen's keys (w, d, l, s...): typing goes to the filter only after ``/``, as in k9s.
FILTER_PLACEHOLDER = "/ to filter (then type to narrow; esc clears)"


class BrowserScreen(ObjectActions, MainScreen):
    """Tabs of resources over a live table.

    | Key | Action |
    | :- | :- |
    | / | filter as you type (esc clears) |
    | [ / ] | previous / next resource |
    | n | next namespace (all → each namespace) |
    | N / A / S | sort by name / age / status (again: reverse) |
    """

    BINDINGS = [
        Binding("slash", "filter", "Filter", key_display="/", tooltip="filter the rows as you type"),
        Binding("escape", "clear_filter", "Clear filter", show=False, tooltip="clear the filter"),
        Binding("right_square_bracket", "next_resource(1)", "Next kind", key_display="]",
                tooltip="the next kind of resource"),
        Binding("left_square_bracket", "next_resource(-1)", "Prev kind", key_display="[",
                tooltip="the previous kind of resource"),
        Binding("n", "next_namespace", "Namespace", tooltip="the next namespace (all, then each one)"),
        Binding("N", "sort('NAME')", "Sort name", show=False, tooltip="sort by name (again: reverse)"),
        Binding("A", "sort('AGE')", "Sort age", show=False, tooltip="sort by age (again: reverse)"),
        Binding("S", "sort('STATUS')", "Sort status", show=False, tooltip="sort by status (again: reverse)"),
        *ObjectActions.OBJECT_BINDINGS,
    ]

    #: how often the rows on screen are recomputed, so AGE ticks (kubectl's finest unit is a second)
    AGE_TICK_SECONDS = 1.0

    def __init__(self) -> None:
        super().__init__(id="browser-screen")
        self.resource = "pods"
        #: the kinds with a tab: the built-in ones, then the custom resources the cluster serves
        self.browsable: list[str] = list(BROWSABLE)

    def compose_content(self) -> ComposeResult:
        self.resource = self.app.pending_resource or self.resource
        self.app.pending_resource = None
        with Vertical(id="browser"):
            yield KindTabs(*[Tab(r, id=f"tab-{r}") for r in BROWSABLE], id="kinds",
                       active=f"tab-{self.resource}" if self.resource in BROWSABLE else None)
            yield Input(placeholder=FILTER_PLACEHOLDER, id="filter")
            yield ResourceTable(id="table")
            yield Static("", id="browser-status")

    def on_mount(self) -> None:
        self.title = f"kubetui · {self.app.backend.cluster_name}"
        self.show_resource(self.resource)
        self.set_interval(self.AGE_TICK_SECONDS, self.tick_ages)
        # a user who may not list CRDs (a learner bound to one namespace) gets the bridge's slow
        # retry of a refused list, and the built-in tabs
        self.app.bridge.subscribe(self.query_one("#kinds", KindTabs), "customresourcedefinitions")
        self.custom_resources_changed()

    def custom_resources_changed(self) -> None:
        """Custom resources come and go with their CRDs: learn their names and printer columns
        (as kubectl's discovery does), and give each served kind a tab."""
        crds = list(self.app.bridge.objects("customresourcedefinitions").values())
        served = serve(crds)
        plurals = sorted(stored.plural for stored, _v, _c in served.values() if stored.plural not in BROWSABLE)
        tabs = self.query_one("#kinds", Tabs)
        for plural in [p for p in self.browsable[len(BROWSABLE):] if p not in plurals]:
            tabs.remove_tab(f"tab-{plural}")
        for plural in plurals:
            if plural not in self.browsable:
                tabs.add_tab(Tab(plural, id=f"tab-{plural}"))
        self.browsable = list(BROWSABLE) + plurals
        if self.resource not in self.browsable:
            self.show_resource("pods")

    def tick_ages(self) -> None:
        """AGE moves on with the clock: recompute the rows on screen (only while this screen shows)."""
        if self.app.screen is self:
            self.table.tick(self._objects(), self.app.clock.time())

    def on_screen_resume(self) -> None:
        if self.is_mounted:
            self.take_pending_resource()

    def take_pending_resource(self) -> None:
        if self.app.pending_resource:
            resource, self.app.pending_resource = self.app.pending_resource, None
            self.show_resource(resource)

    def on_unmount(self) -> None:
        self.app.bridge.unsubscribe(self)
        for tabs in self.query(KindTabs):
            self.app.bridge.unsubscribe(tabs)

    @property
    def table(self) -> ResourceTable:
        return self.query_one("#table", ResourceTable)

    def show_resource(self, resource: str) -> None:
        resource = resource_for(resource).plural
        if resource != self.resource and self.table.filter_text:
            self.query_one("#filter", Input).value = ""  # a new kind starts unfiltered, as in k9s
            self.table.filter_text = ""
        self.resource = resource
        self.sub_title = resource
        namespaced = resource_for(resource).namespaced
        self.table.configure(resource, with_namespace=namespaced and self.app.namespace is None)
        self.app.bridge.subscribe(self, resource)
        tabs = self.query_one("#kinds", Tabs)
        if tabs.active != f"tab-{resource}" and resource in self.browsable:
            tabs.active = f"tab-{resource}"
        self.refresh_rows()
        self.table.focus()

    def _objects(self) -> dict[str, Obj]:
        objs = self.app.bridge.objects(self.resource)
        ns = self.app.namespace
        if ns is None or not resource_for(self.resource).namespaced:
            return objs
        return {k: o for k, o in objs.items() if o["metadata"].get("namespace") == ns}

    def refresh_rows(self) -> None:
        self.table.rebuild(self._objects(), self.app.clock.time())
        self._status()

    def _status(self) -> None:
        err = self.app.bridge.errors.get(self.resource)
        self.query_one("#browser-status", Static).update(
            f"{len(self.table.shown_keys)}/{len(self._objects())} {self.resource}"
            f" · namespace: {self.app.namespace or 'all'} · sort: {self.table.sort_column}"
            f"{' (desc)' if self.table.sort_reverse else ''}" + (f" · {err}" if err and err.startswith("forbidden")
                                                                 else f" · error: {err}" if err else "")
            + (f" · {note}" if (note := self.app.bridge.scope_note(self.resource)) else ""))

    @on(ObjectsChanged)
    def _changed(self, message: ObjectsChanged) -> None:
        changes = message.bridge.take_changes(self).get(self.resource, {})
        if not changes:
            return
        modified = {k for k, t in changes.items() if t == "MODIFIED"}
        if len(modified) < len(changes) or not self.table.update_in_place(self._objects(), modified, self.app.clock.time()):
            self.refresh_rows()
        self.app.after_shown(self.resource, set(changes))

    @on(Tabs.TabActivated, "#kinds")
    def _tab(self, event: Tabs.TabActivated) -> None:
        resource = str(event.tab.id).removeprefix("tab-")
        if resource != self.resource:
            self.show_resource(resource)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.table.filter_text = event.value
        self.refresh_rows()

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.table.focus()

    @on(DataTable.HeaderSelected)
    def _header(self, event: DataTable.HeaderSelected) -> None:
        self.action_sort(str(event.label))

    def selected(self) -> tuple[str, Obj] | None:
        key = self.table.selected_key
        obj = self.app.bridge.get(self.resource, key) if key else None
        return (self.resource, obj) if obj else None

    def action_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_clear_filter(self) -> None:
        self.query_one("#filter", Input).value = ""
        self.table.focus()

    def action_next_resource(self, step: int) -> None:
        i = self.browsable.index(self.resource) if self.resource in self.browsable else 0
        self.show_resource(self.browsable[(i + step) % len(self.browsable)])

    def action_next_namespace(self) -> None:
        self.app.cycle_namespace()

    def action_sort(self, column: str) -> None:
        if self.table.sort_column == column:
            self.table.sort_reverse = not self.table.sort_reverse
        else:
            self.table.sort_column, self.table.sort_reverse = column, False
        self.refresh_rows()

    def namespace_changed(self) -> None:
        self.show_resource(self.resource)
