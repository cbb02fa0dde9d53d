"""How the TUI reaches a cluster: as a client of its API server, like kubectl and k9s.

The control plane runs in its own process (``kubetui up --headless``, or
started in the background by ``kubetui``); any number of TUIs and web
sessions attach to it with its kubeconfig. Everything a learner sees comes
over the API: Kubernetes' own resources through ``HTTPClient``, and
kubetui's teaching views (the control-plane boxes' counters, the store's
keys, the scheduler's decisions, traffic per endpoint) from kubetui's own
API groups (``kubetui.client.views``). While the control-plane process is
still bringing nodes up, its start-up phases come from its state dir.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Hashable

from kubetui.client import views
from kubetui.client.http import HTTPClient
from kubetui.client.kubeconfig import load_kubeconfig
from kubetui.statedir import SETTINGS_FILE, endpoint, read_progress
from kubetui.tui.backend import ClientBackend, StartupPhase, StoreKey, StoreSnapshot

log = logging.getLogger(__name__)

# What the control-plane process reports, in order, before the per-node phases.
CONTROL_PLANE_PHASES = ("provider", "store", "apiserver", "scheduler", "controllers")


class KubeconfigBackend(ClientBackend):
    """A cluster whose control plane runs in another process, reached over HTTPS with its kubeconfig."""

    #: how often the control-plane counters and traffic are fetched while someone shows them
    POLL_SECONDS = 1.0
    #: polls after a view last asked before its data is no longer fetched (see ``_forget_stale``)
    STALE_POLLS = 3

    def __init__(self, kubeconfig: Path, *, state_dir: Path | None = None) -> None:
        cfg = load_kubeconfig(kubeconfig)
        super().__init__(HTTPClient.from_kubeconfig(kubeconfig),
                         cluster_name=cfg.cluster.removeprefix("kubetui-") or "kubetui",
                         kubeconfig_path=Path(kubeconfig))
        self.namespace = cfg.namespace or "default"
        if state_dir is not None:
            self.state_dir = Path(state_dir)
        self._counters: dict[str, int] = {}
        self._traffic_cache: dict[tuple[str, str], dict[str, int]] = {}
        self._probe_cache: dict[tuple[str, str], dict[str, str]] = {}
        self._policy_rules: list[dict[str, Any]] = []
        #: what the views asked for ("activity", "policies", or a Service's (namespace, name)) -> when
        self._asked: dict[Hashable, float] = {}
        #: seconds on a monotonic clock (tests step their own)
        self.now: Callable[[], float] = time.monotonic
        self._poller: asyncio.Task[None] | None = None

    # -- start-up, from the control-plane process's state dir --------------------------------

    def startup_progress(self) -> AsyncIterator[StartupPhase] | None:
        if self.state_dir is None:
            return None
        found = endpoint(self.state_dir)
        if not found or found.get("phase") == "ready":
            return None
        return self._process_phases()

    async def _process_phases(self) -> AsyncIterator[StartupPhase]:
        assert self.state_dir is not None
        try:
            nodes = int(json.loads((self.state_dir / SETTINGS_FILE).read_text()).get("nodes", 0))
        except (OSError, ValueError):
            nodes = 0
        total = len(CONTROL_PLANE_PHASES) + nodes + 1
        offset, step = 0, 0
        while True:
            phases, offset = read_progress(self.state_dir, offset)
            for p in phases:
                phase, detail = p.get("phase", ""), p.get("detail", "")
                if phase == "ready":
                    yield StartupPhase("ready", "cluster ready", "every node has registered and is Ready",
                                       total, total, done=True)
                    return
                if phase == "failed":
                    yield StartupPhase("failed", "the cluster did not come up", "", step, total, error=detail)
                    return
                step += 1
                title, _, meaning = detail.partition(": ")
                yield StartupPhase(phase, title, meaning, min(step, total), total)
            if endpoint(self.state_dir) is None:
                yield StartupPhase("failed", "the control plane stopped", "", step, total,
                                   error=f"see {self.state_dir / 'control-plane.log'}")
                return
            await asyncio.sleep(0.1)

    # -- kubetui's own API groups --------------------------------------------------------------

    def _ask(self, what: Hashable) -> None:
        """A view shows ``what`` now: keep polling it (the poller starts if it had stopped)."""
        self._asked[what] = self.now()
        if self._poller is None or self._poller.done():
            try:
                self._poller = asyncio.get_running_loop().create_task(self._poll())
            except RuntimeError:  # no loop (called outside the app): nothing to poll with
                pass

    def _forget_stale(self) -> set[Hashable]:
        """What was asked for within ``STALE_POLLS`` polls; forget the rest and what it cached.

        A view asks on each of its own ticks while it shows (the control-plane strip once a
        second, the traffic view as it redraws); one that stopped asking (another view
        shows, or it closed) is not polled for again, so an idle TUI on another view costs
        the control plane nothing. Its counters are dropped: a view that comes back sees
        none until a fresh poll (never counts that are old by minutes), then rates again.
        """
        horizon = self.now() - self.STALE_POLLS * self.POLL_SECONDS
        for what in [w for w, at in self._asked.items() if at < horizon]:
            del self._asked[what]
            if what == "activity":
                self._counters = {}
            elif what == "policies":
                self._policy_rules = []
            elif isinstance(what, tuple):
                self._traffic_cache.pop(what, None)
                self._probe_cache.pop(what, None)
        return set(self._asked)

    async def _poll(self) -> None:
        while wanted := self._forget_stale():
            if "activity" in wanted:
                try:
                    self._counters = await views.activity(self.client)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # loop boundary: a control plane restarting shows idle, then resumes
                    log.debug("control plane activity: %s", exc)
            for ns, name in [w for w in wanted if isinstance(w, tuple)]:
                try:
                    eps = await views.service_endpoints(self.client, ns, name)
                    self._traffic_cache[(ns, name)] = {ep: v["connections"] for ep, v in eps.items()}
                    self._probe_cache[(ns, name)] = {ep: v["probe"] for ep, v in eps.items() if v.get("probe")}
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - a deleted Service: no counts
                    log.debug("traffic of %s/%s: %s", ns, name, exc)
                    self._traffic_cache.pop((ns, name), None)
                    self._probe_cache.pop((ns, name), None)
            if "policies" in wanted:
                try:
                    self._policy_rules = list((await views.policy_traffic(self.client)).get("rules") or [])
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - an older control plane: no policy counters
                    log.debug("network policy traffic: %s", exc)
            await asyncio.sleep(self.POLL_SECONDS)

    def control_plane_activity(self) -> dict[str, int]:
        self._ask("activity")
        return dict(self._counters)

    def service_traffic(self, namespace: str, name: str) -> dict[str, int]:
        self._ask((namespace, name))
        return dict(self._traffic_cache.get((namespace, name), {}))

    def service_probes(self, namespace: str, name: str) -> dict[str, str]:
        self._ask((namespace, name))
        return dict(self._probe_cache.get((namespace, name), {}))

    def policy_traffic(self) -> list[dict[str, Any]]:
        self._ask("policies")
        return list(self._policy_rules)

    async def store_view(self, prefix: str = "/registry/") -> StoreSnapshot:
        revision, keys = await views.store_keys(self.client, prefix)
        return StoreSnapshot(revision, [StoreKey(k.key, k.create_revision, k.mod_revision, k.version)
                                        for k in keys])

    async def explain(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await views.decisions(self.client, namespace, name)

    async def aclose(self) -> None:
        """Stop polling and close the HTTPS session (on the app's loop, before it ends)."""
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
        await self.client.close()


def run_app(*, kubeconfig: Path, state_dir: Path | None = None, light: bool = False, **app_options: Any) -> int:
    """``kubetui``: the TUI on the cluster behind ``kubeconfig`` (its control plane runs elsewhere).

    ``app_options`` go to ``KubetuiApp`` (e.g. ``lesson="03"``, ``lessons_dir``, ``learner``, ``fresh``
    for ``kubetui lessons start 03 --tui``).
    """
    from kubetui.tui.app import KubetuiApp

    backend = KubeconfigBackend(kubeconfig, state_dir=state_dir)
    KubetuiApp(backend, light=light, **app_options).run()
    return 0
