"""What the TUI needs from a cluster: a small backend interface (like harlequin's adapter).

In Kubernetes terms the TUI is a client, like kubectl or k9s: everything it
shows comes through the ``Client`` interface (client-go's dynamic client),
plus a few optional read-only views kubetui adds for teaching (start-up
phases, control plane activity counters, the store's keys, scheduler
explanations). The control plane runs in its own process; the TUI reaches
it over HTTPS (``kubetui.tui.backends.KubeconfigBackend``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, Protocol, runtime_checkable

from kubetui.client.base import Client

if TYPE_CHECKING:
    from kubetui.client.remotecommand import ExecStream

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StartupPhase:
    """One step of bringing a cluster up, with what it means for a learner.

    e.g. ``StartupPhase("node-2", "starting node-2", "a Docker container that will run a kubelet", 3, 5)``
    """

    key: str
    title: str
    meaning: str = ""
    step: int = 0
    total: int = 0
    done: bool = False
    error: str | None = None


@dataclass(frozen=True)
class StoreKey:
    """One key of the etcd-like store as the Store screen shows it."""

    key: str
    create_revision: int
    mod_revision: int
    version: int = 1


@dataclass(frozen=True)
class StoreSnapshot:
    """The store seen from the TUI: its revision and keys (sorted)."""

    revision: int
    keys: list[StoreKey] = field(default_factory=list)


#: ``control_plane_activity()`` returns monotonically increasing counters per component:
#: ``{"apiserver": requests, "store": writes, "scheduler": bindings, "controllers": reconciles}``.
CONTROL_PLANE_COMPONENTS = ("apiserver", "store", "scheduler", "controllers")


@runtime_checkable
class ClusterBackend(Protocol):
    """Everything the TUI knows about a cluster. Only ``client`` is required to do anything useful."""

    client: Client
    cluster_name: str
    kubeconfig_path: Path | None

    def startup_progress(self) -> AsyncIterator[StartupPhase] | None:
        """Phases while the cluster comes up; ``None`` when it is already up."""
        ...

    def control_plane_activity(self) -> dict[str, int]:
        """Counters per component in ``CONTROL_PLANE_COMPONENTS`` (missing ones show idle)."""
        ...

    async def store_view(self, prefix: str = "/registry/") -> StoreSnapshot:
        """Keys and revisions of the store under ``prefix``."""
        ...

    async def explain(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The scheduler's explanation record for a pod (``kubetui.scheduler.explain``), if any."""
        ...

    def pod_logs(self, namespace: str, name: str, container: str | None = None,
                 *, follow: bool = True, tail: int | None = 200) -> AsyncIterator[str]:
        """Lines of a container's log."""
        ...

    def service_traffic(self, namespace: str, name: str) -> dict[str, int]:
        """Requests served per endpoint (``"ip:port"`` -> count) for a Service; empty if unknown."""
        ...

    def service_probes(self, namespace: str, name: str) -> dict[str, str]:
        """Whether each endpoint accepts connections (``"ip:port"`` -> ``open``, ``refused``, ...), as its
        node's kube-proxy last found; empty if unknown."""
        ...

    async def reconciles(self, *, since: int = 0, object: str | None = None, controller: str | None = None,
                         tail: int | None = None, wait: float | None = None, silent: bool = True) -> dict[str, Any]:
        """The reconcile log's records after ``since`` (a ``ReconcileRecordList``, ``kubetui.client.views``)."""
        ...

    async def time_dial(self, action: str | None = None, body: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """The control plane's time dial (a ``TimeDial``, ``kubetui.client.views``), turned first by ``action``
        (pause, resume, step, speed); None when the cluster has none."""
        ...

    async def control_plane_status(self) -> dict[str, Any] | None:
        """The control plane as a whole: its nodes, etcd members, API servers, Lease holders (a
        ``ControlPlaneStatus``, ``kubetui.client.views``); None when the cluster does not serve it."""
        ...


class ClientBackend:
    """A backend that only has a ``Client`` (and maybe a kubeconfig): works with any kubetui cluster.

    Optional views degrade honestly: the store view is rebuilt from a list of
    every resource (each object's key and resourceVersion), control plane
    counters are empty, logs come from ``kubectl logs`` when a kubeconfig is
    known. ``KubeconfigBackend`` (a kubetui control plane) reads the views from kubetui's API groups.
    """

    def __init__(self, client: Client, *, cluster_name: str = "kubetui",
                 kubeconfig_path: Path | None = None,
                 progress: Callable[[], AsyncIterator[StartupPhase]] | None = None,
                 explainer: Callable[[str, str], Awaitable[dict[str, Any] | None]] | None = None,
                 activity: Callable[[], dict[str, int]] | None = None,
                 traffic: Callable[[str, str], dict[str, int]] | None = None,
                 kubectl: str | None = None) -> None:
        self.client = client
        self.cluster_name = cluster_name
        self.kubeconfig_path = kubeconfig_path
        self._progress = progress
        self._explainer = explainer
        self._activity = activity
        self._traffic = traffic
        self.kubectl = kubectl
        #: the kubeconfig context's namespace: what a user RBAC keeps out of other namespaces sees
        self.namespace = "default"
        #: where the cluster keeps its state (lesson progress lives there): beside its kubeconfig
        self.state_dir: Path | None = kubeconfig_path.parent if kubeconfig_path else None

    def startup_progress(self) -> AsyncIterator[StartupPhase] | None:
        return self._progress() if self._progress else None

    def control_plane_activity(self) -> dict[str, int]:
        return self._activity() if self._activity else {}

    async def store_view(self, prefix: str = "/registry/") -> StoreSnapshot:
        from kubetui.api.resources import RESOURCES

        keys: list[StoreKey] = []
        revision = 0
        for res in RESOURCES:
            if "list" not in res.verbs:
                continue
            try:
                lst = await self.client.list(res.plural)
            except Exception as exc:  # a resource the server does not serve yet
                log.debug("store view: list %s failed: %s", res.plural, exc)
                continue
            revision = max(revision, int(lst.get("metadata", {}).get("resourceVersion") or 0))
            for obj in lst.get("items", []):
                md = obj.get("metadata", {})
                key = res.key(md.get("name", ""), md.get("namespace") if res.namespaced else None)
                if key.startswith(prefix):
                    rv = int(md.get("resourceVersion") or 0)
                    # Without the store we only know the last write's revision.
                    keys.append(StoreKey(key, create_revision=0, mod_revision=rv, version=0))
        keys.sort(key=lambda k: k.key)
        return StoreSnapshot(revision, keys)

    async def explain(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._explainer(namespace, name) if self._explainer else None

    async def pod_logs(self, namespace: str, name: str, container: str | None = None,
                       *, follow: bool = True, tail: int | None = 200) -> AsyncIterator[str]:
        if self.kubeconfig_path is None:
            yield "(logs need a kubeconfig: this backend has none)"
            return
        from kubetui.tui.kubectl import kubectl_argv

        args = ["logs", name, "-n", namespace]
        if container:
            args += ["-c", container]
        if follow:
            args.append("-f")
        if tail is not None:
            args.append(f"--tail={tail}")
        proc = await asyncio.create_subprocess_exec(
            *kubectl_argv(args, self.kubeconfig_path, self.kubectl),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        try:
            assert proc.stdout is not None
            async for raw in proc.stdout:
                yield raw.decode("utf-8", "replace").rstrip("\n")
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    def service_traffic(self, namespace: str, name: str) -> dict[str, int]:
        return self._traffic(namespace, name) if self._traffic else {}

    def service_probes(self, namespace: str, name: str) -> dict[str, str]:
        return {}

    def policy_traffic(self) -> list[dict[str, Any]]:
        """NetworkPolicy counters (``kubetui.client.views.policy_traffic``'s rules); none without kubetui's API."""
        return []

    async def reconciles(self, *, since: int = 0, object: str | None = None, controller: str | None = None,
                         tail: int | None = None, wait: float | None = None, silent: bool = True) -> dict[str, Any]:
        """From kubetui's controlplane group when the client speaks HTTP; else an empty list that says so."""
        if getattr(self.client, "request", None) is None:
            return {"kind": "ReconcileRecordList", "items": [], "lastSeq": since, "oldestSeq": since + 1,
                    "unavailable": "this backend's client cannot reach kubetui's controlplane API group"}
        from kubetui.client import views
        return await views.reconciles(self.client, since=since, object=object, controller=controller, tail=tail,
                                      wait=wait, silent=silent)

    async def time_dial(self, action: str | None = None, body: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """From kubetui's controlplane group when the client speaks HTTP; else None (no dial to turn)."""
        if getattr(self.client, "request", None) is None:
            return None
        from kubetui.client import views
        if action is None:
            return await views.time_dial(self.client)
        return await views.turn_time_dial(self.client, action, body)

    async def control_plane_status(self) -> dict[str, Any] | None:
        """From kubetui's controlplane group when the client speaks HTTP; else None (the view says so)."""
        if getattr(self.client, "request", None) is None:
            return None
        from kubetui.client import views
        return await views.control_plane_status(self.client)

    async def pod_exec(self, namespace: str, name: str, command: list[str], *,
                       container: str | None = None, tty: bool = True) -> "ExecStream":
        """``pods/exec`` over the API's WebSocket (``kubectl exec -it``), through a client:
        this backend's own if it speaks HTTP, else one made from the kubeconfig (an
        in-process cluster serves HTTPS too) and closed with the stream."""
        own = getattr(self.client, "exec", None)
        if own is not None:
            return await own(namespace, name, command, container=container, tty=tty)
        if self.kubeconfig_path is None:
            from kubetui.api.errors import ServiceUnavailable
            raise ServiceUnavailable("a shell needs the cluster's API over HTTPS, and this backend has no kubeconfig")
        from kubetui.client.http import HTTPClient
        client = HTTPClient.from_kubeconfig(self.kubeconfig_path)
        try:
            stream = await client.exec(namespace, name, command, container=container, tty=tty)
        except BaseException:
            await client.close()
            raise
        stream.on_close.append(client.close)
        return stream

    async def aclose(self) -> None:
        """Close the client (its HTTPS session) on the app's loop, before the loop ends."""
        close = getattr(self.client, "close", None)
        if close is not None:
            await close()
