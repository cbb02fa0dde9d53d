"""The store: etcd-like keys, their revisions, and the watch stream going by.

Everything the cluster knows lives under keys like ``/registry/pods/default/web-1``.
Every write bumps one global revision, which becomes the object's
``metadata.resourceVersion``; watchers (the scheduler, controllers, kubelets,
this TUI) see each write as an event. The key list comes from a provider
callable (the backend's ``store_view``), the stream from the bridge.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Awaitable, Callable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, RichLog, Static

from kubetui.api.resources import resource_for
from kubetui.tui.backend import StoreSnapshot
from kubetui.tui.bridge import ObjectsChanged
from kubetui.tui.screens.base import MainScreen

STREAM_RESOURCES = ("pods", "nodes", "deployments", "replicasets", "services", "endpoints", "configmaps",
                    "secrets", "events", "namespaces")
_VERB = {"ADDED": "PUT   ", "MODIFIED": "PUT   ", "DELETED": "DELETE"}


class StoreScreen(MainScreen):
    """Keys on the left, the watch stream on the right.

    | Key | Action |
    | :- | :- |
    | r | reload the keys |
    """

    BINDINGS = [Binding("r", "reload", "Reload keys", tooltip="read the store's keys again")]

    def __init__(self, provider: Callable[[], Awaitable[StoreSnapshot]] | None = None) -> None:
        super().__init__(id="store-screen")
        self.provider = provider
        self.snapshot: StoreSnapshot | None = None
        self.stream: deque[str] = deque(maxlen=500)

    def compose_content(self) -> ComposeResult:
        with Vertical(id="store"):
            yield Static("", id="store-revision")
            with Horizontal(id="store-row"):
                table: DataTable[str] = DataTable(id="store-keys", cursor_type="row")
                table.add_columns("KEY", "CREATE", "MOD", "VER")
                yield table
                yield RichLog(id="store-stream", markup=False, wrap=False, max_lines=500)

    def on_mount(self) -> None:
        self.title = f"kubetui · {self.app.backend.cluster_name}"
        self.sub_title = "store"
        if self.provider is None:
            self.provider = self.app.backend.store_view
        self.app.bridge.subscribe(self, *STREAM_RESOURCES)
        self.action_reload()

    def on_unmount(self) -> None:
        self.app.bridge.unsubscribe(self)

    @on(ObjectsChanged)
    def _changed(self, message: ObjectsChanged) -> None:
        log = self.query_one("#store-stream", RichLog)
        for resource, keys in message.bridge.take_changes(self).items():
            res = resource_for(resource)
            for key, kind in keys.items():
                obj = message.bridge.get(resource, key)
                ns, _, name = key.rpartition("/")
                rv = (obj or {}).get("metadata", {}).get("resourceVersion", "")
                line = f"{_VERB.get(kind, kind)} {res.key(name, ns or None)}" + (f"  rev {rv}" if rv else "")
                self.stream.append(line)
                log.write(line)

    def action_reload(self) -> None:
        self.load_keys()

    @work(exclusive=True, group="store")
    async def load_keys(self) -> None:
        assert self.provider is not None
        snap = await self.provider()
        self.snapshot = snap
        table = self.query_one("#store-keys", DataTable)
        table.clear()
        for k in snap.keys:
            table.add_row(k.key, str(k.create_revision or "?"), str(k.mod_revision), str(k.version or "?"), key=k.key)
        self.query_one("#store-revision", Static).update(
            f"revision {snap.revision} · {len(snap.keys)} keys · every write bumps the revision;"
            " it becomes the object's resourceVersion")
