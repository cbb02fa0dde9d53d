"""The two ways the TUI reaches a cluster: in this process, or over HTTPS with a kubeconfig.

``InProcessBackend`` wraps a ``kubetui.cluster.Cluster`` running on its own
thread and event loop (``ControlPlaneThread``): calls hop loops through
``ThreadHopClient``, start-up phases come from the cluster's progress
callback, and the teaching views (store keys, control plane counters,
scheduler decisions) read the running components on their own loop.
``KubeconfigBackend`` attaches to a cluster already running headless, as
kubectl does: the API over HTTPS, scheduler decisions from their API path.
"""

from __future__ import annotations

import asyncio
import logging
import queue as _queue
import sys
from pathlib import Path
from typing import Any, AsyncIterator, Callable

from kubetui.api import errors
from kubetui.client.base import Client
from kubetui.client.views import decisions_object, decisions_path
from kubetui.tui.backend import ClientBackend, StartupPhase, StoreKey, StoreSnapshot, ThreadHopClient

log = logging.getLogger(__name__)

# What `kubetui up` reports, in order, before the per-node phases.
CONTROL_PLANE_PHASES = ("provider", "store", "apiserver", "scheduler", "controllers")


class InProcessBackend(ClientBackend):
    """A cluster brought up in this process on a background thread (the default ``kubetui``)."""

    def __init__(self, cluster: Any, thread_factory: Callable[[Any], Any]) -> None:
        super().__init__(_NotReadyClient(), cluster_name=cluster.settings.name,  # type: ignore[arg-type]
                         kubeconfig_path=Path(cluster.state_dir) / "kubeconfig")
        self.cluster = cluster
        self._phases: _queue.SimpleQueue[tuple[str, str] | None] = _queue.SimpleQueue()
        cluster.progress = lambda phase, detail: self._phases.put((phase, detail))
        self.thread = thread_factory(cluster)
        self._started = False

    # -- lifecycle --------------------------------------------------------------------------

    #: GIL switch interval while a control plane shares the process. CPython's default (5 ms) lets a
    #: busy control plane thread hold the interpreter for long runs, and the screen stutters; a
    #: shorter interval hands the UI thread the GIL back sooner (measured by `kubetui bench tui`).
    SWITCH_INTERVAL = 0.0005

    def start(self) -> None:
        if not self._started:
            self._started = True
            sys.setswitchinterval(self.SWITCH_INTERVAL)
            self.thread.start()

    def stop(self) -> None:
        if self._started:
            self.thread.stop()

    @property
    def control_plane(self) -> Any:
        return self.cluster.control_plane

    def _attach(self) -> None:
        cp = self.control_plane
        if cp is None or cp.client is None:
            raise errors.ServiceUnavailable(f"the control plane did not start: {self.thread.error}")
        self.client = ThreadHopClient(cp.client, self.thread.loop)  # type: ignore[assignment]

    def startup_progress(self) -> AsyncIterator[StartupPhase]:
        self.start()
        return self._progress_phases()

    async def _progress_phases(self) -> AsyncIterator[StartupPhase]:
        total = len(CONTROL_PLANE_PHASES) + self.cluster.settings.nodes + 1
        step = 0
        loop = asyncio.get_running_loop()
        while True:
            try:
                item = self._phases.get_nowait()
            except _queue.Empty:
                if self.thread.ready.is_set():
                    break
                # The control plane thread reports through a thread-safe queue; poll it gently.
                await asyncio.sleep(0.05)
                continue
            if item is None:
                break
            phase, detail = item
            step += 1
            title, _, meaning = detail.partition(": ")
            yield StartupPhase(phase, title, meaning, min(step, total), total)
        await loop.run_in_executor(None, self.thread.ready.wait)
        if self.thread.error is not None:
            yield StartupPhase("failed", "the cluster did not come up", "", step, total,
                               error=str(self.thread.error))
            return
        self._attach()
        yield StartupPhase("ready", "cluster ready", "every node has registered and is Ready", total, total, done=True)

    # -- teaching views, read on the control plane's loop -----------------------------------

    async def _on_cp(self, fn: Callable[[], Any]) -> Any:
        async def call() -> Any:
            return fn()
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(call(), self.thread.loop))

    def control_plane_activity(self) -> dict[str, int]:
        cp = self.control_plane
        if cp is None:
            return {}
        out: dict[str, int] = {}
        try:
            if cp.store is not None:
                out["store"] = int(cp.store.revision)
            if cp.scheduler is not None:
                out["scheduler"] = int(cp.scheduler.stats().get("attempts", 0))
            if cp.controllers is not None:
                out["controllers"] = sum(int(d.get("reconciles", 0)) for d in cp.controllers.activity().values())
            # Requests over HTTPS (kubectl, kubelets) plus in-process calls (controllers, scheduler, TUI).
            served = getattr(cp.apiserver, "requests_served", None)
            if served is not None:
                out["apiserver"] = int(served) + int(getattr(cp.client, "requests", 0))
        except Exception as exc:  # a component mid-restart: show idle rather than fail the map
            log.debug("control plane activity: %s", exc)
        return out

    async def store_view(self, prefix: str = "/registry/") -> StoreSnapshot:
        cp = self.control_plane
        if cp is None or cp.store is None:
            return await super().store_view(prefix)

        def read() -> StoreSnapshot:
            kvs = cp.store.range(prefix)
            return StoreSnapshot(int(cp.store.revision), [
                StoreKey(kv.key, kv.create_revision, kv.mod_revision, kv.version) for kv in kvs])
        return await self._on_cp(read)

    async def explain(self, namespace: str, name: str) -> dict[str, Any] | None:
        cp = self.control_plane
        if cp is None or cp.scheduler is None:
            return None
        attempts = await self._on_cp(lambda: cp.scheduler.explanations(namespace, name))
        if not attempts:
            return None
        return decisions_object(namespace, name, attempts)


class _NotReadyClient:
    """Stands in until the control plane is up; every verb says so, as an unready API server would."""

    def __getattr__(self, name: str) -> Any:
        async def unavailable(*args: Any, **kw: Any) -> Any:
            raise errors.ServiceUnavailable("the control plane is still starting")
        return unavailable


class KubeconfigBackend(ClientBackend):
    """A cluster already running elsewhere (``kubetui up --headless``), reached over HTTPS."""

    def __init__(self, kubeconfig: Path) -> None:
        from kubetui.client.http import HTTPClient
        from kubetui.client.kubeconfig import load_kubeconfig

        cfg = load_kubeconfig(kubeconfig)
        client: Client = HTTPClient.from_kubeconfig(kubeconfig)
        super().__init__(client, cluster_name=cfg.cluster.removeprefix("kubetui-") or "kubetui",
                         kubeconfig_path=Path(kubeconfig))

    async def explain(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return await self.client.request("GET", decisions_path(namespace, name))  # type: ignore[attr-defined]
        except errors.NotFound:
            return None


def run_app(*, kubeconfig: Path | None = None, cluster: Any = None,
            thread_factory: Callable[[Any], Any] | None = None, light: bool = False, **app_options: Any) -> int:
    """``kubetui``: the TUI on an attached cluster (``kubeconfig``) or one it brings up in-process.

    ``app_options`` go to ``KubetuiApp`` (e.g. ``lesson="03"``, ``lessons_dir``, ``learner``, ``fresh``
    for ``kubetui lessons start 03 --tui``).
    """
    from kubetui.tui.app import KubetuiApp

    if kubeconfig is not None:
        backend: ClientBackend = KubeconfigBackend(kubeconfig)
        KubetuiApp(backend, light=light, **app_options).run()
        return 0
    if cluster is None or thread_factory is None:
        raise ValueError("run_app needs a kubeconfig, or a cluster and a thread factory")
    inproc = InProcessBackend(cluster, thread_factory)
    try:
        KubetuiApp(inproc, light=light, **app_options).run()
    finally:
        inproc.stop()
    return 0
