"""Bringing a cluster up and down (kind's ``create cluster``; kubeadm's ``init`` and ``join``).

A kubetui cluster is a control plane in this process (store, API server,
scheduler, controller manager) plus worker nodes from a provider (Docker
containers, local processes, or simulated). Its settings, store, PKI and
kubeconfig live in its state directory, so ``kubetui up`` is idempotent: it
reuses what is there and only starts what is missing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from kubetui.clock import Clock
from kubetui.providers.base import ClusterConfig, NodeConfig, Provider
from kubetui.timings import PRESETS, Timings

log = logging.getLogger(__name__)

Progress = Callable[[str, str], None]

SETTINGS_FILE = "cluster.json"
PID_FILE = "controlplane.pid"
DEFAULT_API_PORT = 6443
DECISIONS_GROUP = "scheduling.kubetui.dev"
NETWORKING_GROUP = "networking.kubetui.dev"
KUBE_PROXY_METRICS_PORT = 10249


@dataclass
class ClusterSettings:
    """What ``kubetui up`` was asked for, kept in ``<state>/cluster.json``."""

    name: str = "default"
    provider: str = "local"
    nodes: int = 3
    api_port: int = DEFAULT_API_PORT
    scheduler_profile: str = "default"
    timings: str = "lab"
    node_cpus: float = 2.0
    node_memory: str = "2Gi"
    insecure_http: bool = False
    encrypt_secrets: bool = False

    @classmethod
    def load(cls, state_dir: Path) -> "ClusterSettings | None":
        p = state_dir / SETTINGS_FILE
        if not p.exists():
            return None
        data = json.loads(p.read_text())
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    def save(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        tmp = state_dir / (SETTINGS_FILE + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(tmp, state_dir / SETTINGS_FILE)

    @property
    def timing_preset(self) -> Timings:
        return PRESETS[self.timings]


def settings_from_args(args: Any, state_dir: Path) -> ClusterSettings:
    """Flags given now win; otherwise what the cluster was created with; otherwise defaults."""
    s = ClusterSettings.load(state_dir) or ClusterSettings(name=getattr(args, "name", None) or "default")
    if getattr(args, "provider", None):
        s.provider = args.provider
    elif ClusterSettings.load(state_dir) is None:
        s.provider = default_provider()
    for attr in ("nodes", "api_port"):
        v = getattr(args, attr, None)
        if v is not None:
            setattr(s, attr, v)
    for attr in ("scheduler_profile", "timings", "node_cpus", "node_memory"):
        v = getattr(args, attr, None)
        if v is not None:
            setattr(s, attr, v)
    s.insecure_http = bool(getattr(args, "insecure_http", False))
    if getattr(args, "encrypt_secrets", False):
        s.encrypt_secrets = True  # once on, it stays on (cluster.json)
    return s


def default_provider() -> str:
    """docker when an engine answers, else local (said once, by the caller)."""
    try:
        from kubetui.providers.docker import docker_available
    except ImportError:
        return "local"
    return "docker" if docker_available() else "local"


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_provider(settings: ClusterSettings, state_dir: Path, *, client=None, clock: Clock | None = None,
                  progress: Progress | None = None) -> Provider:
    config = ClusterConfig(name=settings.name, state_dir=state_dir, nodes=settings.nodes,
                           node_cpus=settings.node_cpus, node_memory=settings.node_memory,
                           timings=settings.timing_preset)
    if settings.provider == "docker":
        from kubetui.providers.docker import DockerProvider
        return DockerProvider(config, progress=progress)
    if settings.provider == "local":
        from kubetui.providers.local import LocalProvider
        return LocalProvider(config)
    if settings.provider == "simulated":
        from kubetui.providers.simulated import SimulatedProvider
        return SimulatedProvider(config, client, clock or Clock())
    raise ValueError(f"unknown provider {settings.provider!r}")


def node_names(n: int) -> list[str]:
    return [f"node-{i}" for i in range(1, n + 1)]


@dataclass
class ControlPlane:
    """kube-apiserver, etcd, kube-scheduler and kube-controller-manager, in this process."""

    settings: ClusterSettings
    state_dir: Path
    clock: Clock = field(default_factory=Clock)
    extra_hosts: tuple[str, ...] = ()
    store: Any = None
    registry: Any = None
    apiserver: Any = None
    client: Any = None
    scheduler: Any = None
    controllers: Any = None
    authenticator: Any = None
    pki: Any = None
    encryption: Any = None
    _encryption_task: Any = None
    load_balancer: Any = None
    #: where kube-proxies serve /traffic (host:port); None: every real node's InternalIP:10249
    proxy_metrics: list[str] | None = None

    @property
    def api_advertise_address(self) -> str:
        """The API server address nodes (and the ``kubernetes`` Service's endpoints) use."""
        return self.extra_hosts[0] if self.extra_hosts else "127.0.0.1"

    @property
    def kubeconfig_path(self) -> Path:
        return self.state_dir / "kubeconfig"

    async def start(self, progress: Progress = lambda p, d: None) -> None:
        from kubetui.apiserver.auth import TokenAuthenticator
        from kubetui.apiserver.certs import ensure_pki
        from kubetui.apiserver.registry import Registry
        from kubetui.apiserver.server import APIServer
        from kubetui.client.inprocess import InProcessClient
        from kubetui.client.kubeconfig import write_kubeconfig
        from kubetui.store import Store

        self.state_dir.mkdir(parents=True, exist_ok=True)
        progress("store", "opening the store (kubetui's etcd): every object lives here")
        self.store = Store(self.state_dir / "store", clock=self.clock)
        await self.store.open()
        self.registry = Registry(await self._registry_store(), clock=self.clock)
        await self.registry.bootstrap()

        progress("apiserver", "starting the API server: the only component that talks to the store")
        # Like kubeadm, the serving certificate also names the `kubernetes` Service's
        # ClusterIP: pods reach the API there (KUBERNETES_SERVICE_HOST), through kube-proxy.
        sans = [*self.extra_hosts, self.registry.services.ips.first_ip]
        self.pki = ensure_pki(self.state_dir, self.settings.name, sans)
        self.authenticator = TokenAuthenticator.for_state_dir(self.state_dir)
        port = self.settings.api_port
        if not port_free(port):
            port = free_port()
            log.warning("port %s is taken; the API server listens on %s", self.settings.api_port, port)
        self.apiserver = APIServer(
            self.registry, host="127.0.0.1", extra_hosts=self.extra_hosts, port=port,
            ssl_context=self.pki.server_ssl_context(), authenticator=self.authenticator,
            **self._server_extras())
        await self.apiserver.start()
        write_kubeconfig(self.kubeconfig_path, self.settings.name, self.apiserver.url,
                         self.pki.ca_pem(), self.authenticator.admin_token())
        self.client = InProcessClient(self.registry)
        from kubetui.storage.classes import ensure_storage_classes
        await ensure_storage_classes(self.client)

        progress("scheduler", "starting the scheduler: it picks a node for every new pod")
        self.scheduler = self._make_scheduler()
        if self.scheduler is not None:
            await self.scheduler.start()
            self.apiserver.extensions[DECISIONS_GROUP] = self._serve_decisions
        progress("controllers", "starting the controller manager: it turns Deployments into pods")
        self.controllers = self._make_controllers()
        if self.controllers is not None:
            await self.controllers.start()
        self.apiserver.extensions[NETWORKING_GROUP] = self._serve_traffic
        if self.settings.provider == "docker":
            from kubetui.providers.docker.addons import SERVICE_ACCOUNT, install_dns, service_account_user
            from kubetui.dns.manifests import NAMESPACE
            progress("dns", "creating the cluster DNS (kube-system/kube-dns): pods find Services by name")
            # A token for the kube-dns ServiceAccount (what the token controller would mint).
            token = self.authenticator._token_for(service_account_user(NAMESPACE, SERVICE_ACCOUNT),
                                                  ("system:serviceaccounts", f"system:serviceaccounts:{NAMESPACE}"))
            await install_dns(self.client, token, self.pki.ca_pem().decode())

    async def _registry_store(self):
        """With ``--encrypt-secrets`` (or an encryption config already in the state dir, without which
        stored Secrets could not be read) the registry reaches the store through the encryption transformer."""
        from kubetui.apiserver.encryption import CONFIG_FILE, EncryptingStore, ensure_config
        if not self.settings.encrypt_secrets and not (self.state_dir / CONFIG_FILE).exists():
            return self.store
        ensure_config(self.state_dir / CONFIG_FILE)
        self.encryption = EncryptingStore(self.store, self.state_dir / CONFIG_FILE)
        await self.encryption.rewrite_stale()  # Secrets stored before encryption was turned on
        self._encryption_task = asyncio.create_task(self.encryption.watch_config(self.clock))
        return self.encryption

    async def _serve_decisions(self, request, parts: list[str]):
        """GET /apis/scheduling.kubetui.dev/v1alpha1/namespaces/{ns}/decisions/{pod}.

        kube-scheduler keeps no record of why it chose a node; kubetui does, and
        serves it like an aggregated API so `kubetui explain` and the TUI can read it.
        """
        from aiohttp import web

        from kubetui.api.errors import MethodNotAllowed, NotFound
        from kubetui.scheduler.explain import handle_decisions

        if request.method != "GET":
            raise MethodNotAllowed(f"{request.method} is not supported on scheduling decisions")
        if len(parts) != 5 or parts[0] != "v1alpha1" or parts[1] != "namespaces" or parts[3] != "decisions":
            raise NotFound("the server could not find the requested resource")
        code, body = handle_decisions(self.scheduler, parts[2], parts[4])
        return web.json_response(body, status=code)

    async def _serve_traffic(self, request, parts: list[str]):
        """GET /apis/networking.kubetui.dev/v1alpha1/traffic and .../namespaces/{ns}/services/{name}/traffic.

        Which endpoint answered how many connections: every kube-proxy's
        ``/traffic`` (iptables rule counters, or the userspace proxy's own
        counts) added up, plus what the LoadBalancer listeners sent where.
        Upstream has no such API; it is served like an aggregated API for the TUI.
        """
        from aiohttp import web

        from kubetui.api.errors import MethodNotAllowed, NotFound

        if request.method != "GET":
            raise MethodNotAllowed(f"{request.method} is not supported on traffic")
        service = None
        if len(parts) == 6 and parts[:2] == ["v1alpha1", "namespaces"] and parts[3] == "services" \
                and parts[5] == "traffic":
            ns, name = parts[2], parts[4]
            await self.client.get("services", name, ns)       # NotFound for a Service that does not exist
            service = f"{ns}/{name}"
        elif parts != ["v1alpha1", "traffic"]:
            raise NotFound("the server could not find the requested resource")
        return web.json_response(await self.traffic(service))

    async def traffic(self, service: str | None = None) -> dict[str, Any]:
        from kubetui.proxy.counters import merge

        addresses = self.proxy_metrics
        if addresses is None:
            addresses = []
            for n in (await self.client.list("nodes")).get("items", []):
                if (n["metadata"].get("labels") or {}).get("kubetui.dev/simulated") == "true":
                    continue
                ips = [a["address"] for a in (n.get("status") or {}).get("addresses") or []
                       if a.get("type") == "InternalIP"]
                if ips:
                    addresses.append(f"{ips[0]}:{KUBE_PROXY_METRICS_PORT}")
        docs = await asyncio.gather(*(_fetch_traffic(a) for a in addresses))
        proxies = {a: ({"node": d.get("node"), "mode": d.get("mode")} if "error" not in d else d)
                   for a, d in zip(addresses, docs)}
        services = merge([d for d in docs if "error" not in d])
        lbs = self.load_balancer.traffic() if self.load_balancer is not None else {}

        def mine(key: str) -> bool:
            return service is None or key == service or key.startswith(service + ":")
        return {"kind": "ServiceTraffic", "apiVersion": f"{NETWORKING_GROUP}/v1alpha1",
                "proxies": proxies,
                "services": {k: v for k, v in services.items() if mine(k)},
                "loadBalancers": {k: v for k, v in lbs.items() if mine(k)}}

    def _server_extras(self) -> dict[str, Any]:
        extras: dict[str, Any] = {}
        from kubetui.api.resources import resource_for
        from kubetui.kubelet.connector import KubeletConnector, KubeletMetrics

        nodes = resource_for("nodes")

        async def list_nodes() -> list[dict]:
            # Simulated nodes have no kubelet to ask for stats.
            items = (await self.registry.list(nodes, None))["items"]
            return [n for n in items if n["metadata"].get("labels", {}).get("kubetui.dev/simulated") != "true"]

        connector = KubeletConnector.for_registry(self.registry, self.authenticator)
        extras["node_connector"] = connector
        extras["metrics_source"] = KubeletMetrics(connector, list_nodes)
        extras["clock"] = self.clock
        return extras

    def _make_scheduler(self):
        try:
            from kubetui.scheduler.scheduler import Scheduler
        except ImportError:
            log.warning("kube-scheduler is not available in this build")
            return None
        return Scheduler(self.client, profile=self.settings.scheduler_profile, clock=self.clock,
                         timings=self.settings.timing_preset)

    def _make_controllers(self):
        try:
            from kubetui.controllers.manager import ControllerManager
        except ImportError:
            log.warning("kube-controller-manager is not available in this build")
            return None
        cm = ControllerManager(self.client, clock=self.clock, timings=self.settings.timing_preset,
                               api_server_endpoint=(self.api_advertise_address, self.apiserver.port))
        if self.settings.provider in ("docker", "local"):
            # the cloud-controller-manager's service controller, played on this machine's loopback
            from kubetui.controllers.recorder import recorder_for
            from kubetui.providers.lb import LoadBalancerController
            self.load_balancer = LoadBalancerController(
                self.client, cm.factory, clock=self.clock, timings=self.settings.timing_preset,
                recorder=recorder_for(self.client, LoadBalancerController.component, self.clock),
                backends="nodeports" if self.settings.provider == "docker" else "endpoints")
            cm.controllers[LoadBalancerController.name] = self.load_balancer
        pv_controller = cm.controllers.get("persistentvolume-binder")
        if pv_controller is not None:
            from kubetui.storage.provisioners import Provisioners
            from kubetui.storage.volumes import volume_host_for
            pv_controller.provisioners = Provisioners(volume_host_for(self.settings.provider, self.state_dir))
        return cm

    def node_config(self, name: str, api_host: str) -> NodeConfig:
        return NodeConfig(
            name=name,
            api_url=f"https://{api_host}:{self.apiserver.port}",
            token=self.authenticator.node_token(name),
            ca_pem=self.pki.ca_pem().decode(),
            timings=self.settings.timing_preset,
            cpus=self.settings.node_cpus,
            memory=self.settings.node_memory,
        )

    async def stop(self) -> None:
        for part in (self.controllers, self.scheduler):
            if part is not None:
                try:
                    await part.stop()
                except Exception:  # noqa: BLE001 - shutting down: log and go on
                    log.exception("stopping %s", part)
        if self.apiserver is not None:
            await self.apiserver.stop()
        if self._encryption_task is not None:
            self._encryption_task.cancel()
        if self.store is not None:
            await self.store.close()


async def _fetch_traffic(address: str, timeout: float = 2.0) -> dict[str, Any]:
    """One kube-proxy's ``GET /traffic`` (plain HTTP on its metrics port), or ``{"error": ...}``."""
    host, _, port = address.rpartition(":")
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout)
        try:
            writer.write(f"GET /traffic HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n".encode())
            raw = await asyncio.wait_for(reader.read(), timeout)
        finally:
            writer.close()
        head, _, body = raw.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            return {"error": head.split(b"\r\n", 1)[0].decode(errors="replace")}
        return json.loads(body)
    except (OSError, asyncio.TimeoutError, ValueError) as e:
        return {"error": f"{e.__class__.__name__}: {e}"}


async def wait_nodes_ready(client, names: list[str], timeout: float) -> None:
    """Until every named Node reports condition Ready=True (or TimeoutError)."""
    async def ready_now() -> set[str]:
        lst = await client.list("nodes")
        ok = set()
        for n in lst.get("items", []):
            for c in n.get("status", {}).get("conditions", []):
                if c.get("type") == "Ready" and c.get("status") == "True":
                    ok.add(n["metadata"]["name"])
        return ok

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if set(names) <= await ready_now():
            return
        if loop.time() > deadline:
            missing = sorted(set(names) - await ready_now())
            raise TimeoutError(f"nodes not Ready after {timeout:.0f}s: {', '.join(missing)}")
        await asyncio.sleep(0.1)


class Cluster:
    """A control plane plus its nodes."""

    def __init__(self, settings: ClusterSettings, state_dir: Path, *, clock: Clock | None = None,
                 progress: Progress | None = None) -> None:
        self.settings = settings
        self.state_dir = state_dir
        self.clock = clock or Clock()
        self.progress: Progress = progress or (lambda p, d: None)
        self.control_plane: ControlPlane | None = None
        self.provider: Provider | None = None

    async def up(self, ready_timeout: float = 180.0) -> Path:
        s = self.settings
        s.save(self.state_dir)
        extra: list[str] = []
        if s.provider != "simulated":
            self.provider = make_provider(s, self.state_dir, progress=self.progress)
            self.progress("provider", self.provider.description)
            extra = await self.provider.prepare()
        self.control_plane = cp = ControlPlane(s, self.state_dir, clock=self.clock, extra_hosts=tuple(extra))
        await cp.start(self.progress)
        if s.api_port != cp.apiserver.port:
            s.api_port = cp.apiserver.port
            s.save(self.state_dir)
        if s.provider == "simulated":
            self.provider = make_provider(s, self.state_dir, client=cp.client, clock=self.clock)
            self.progress("provider", self.provider.description)
        names = node_names(s.nodes)
        api_host = self.provider.api_host_for_nodes()
        for name in names:
            self.progress(name, f"starting {name}: {self._node_meaning()}")
            await self.provider.start_node(cp.node_config(name, api_host))
        if s.provider == "local":
            self.progress("kube-proxy", "starting kube-proxy (userspace): ClusterIP 10.96.A.B answers "
                                        "at 127.96.A.B, NodePorts at 127.0.0.1")
            # kube-proxy's own identity (upstream: the system:kube-proxy user, group system:node-proxier)
            token = cp.authenticator._token_for("system:kube-proxy", ("system:node-proxier",))
            cp.proxy_metrics = [await self.provider.start_proxy(
                f"https://{api_host}:{cp.apiserver.port}", token, cp.pki.ca_pem().decode(), names[0])]
        self.progress("ready", f"waiting for {len(names)} node(s) to report Ready")
        await wait_nodes_ready(cp.client, names, ready_timeout)
        return cp.kubeconfig_path

    def _node_meaning(self) -> str:
        return {
            "docker": "a Docker container that will run a kubelet",
            "local": "a local process that runs a kubelet (no container isolation)",
            "simulated": "a simulated node (no containers: pods are only marked Running)",
        }[self.settings.provider]

    async def stop(self) -> None:
        """Stop the control plane; nodes that can outlive it (Docker) keep running."""
        if self.provider is not None:
            if self.settings.provider in ("local", "simulated"):
                for h in await self.provider.list_nodes():
                    await self.provider.stop_node(h.name)
                if hasattr(self.provider, "stop_proxy"):
                    await self.provider.stop_proxy()
            await self.provider.close()
        if self.control_plane is not None:
            await self.control_plane.stop()


# -- CLI entry points ---------------------------------------------------------


def running_pid(state_dir: Path) -> int | None:
    """The pid of a live control plane serving this state dir, if any."""
    p = state_dir / PID_FILE
    try:
        pid = int(p.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def run_up(args: Any, state_dir: Path) -> int:
    from kubetui.cli import CLIError

    if not getattr(args, "headless", False):
        return run_tui(args, state_dir)
    pid = running_pid(state_dir)
    if pid is not None:
        raise CLIError(f"cluster {state_dir.name!r} is already running (pid {pid}); "
                       f"use `kubetui kubectl …` or `kubetui --kubeconfig {state_dir / 'kubeconfig'}`")
    settings = settings_from_args(args, state_dir)
    return asyncio.run(_headless(settings, state_dir))


async def _headless(settings: ClusterSettings, state_dir: Path) -> int:
    from rich.console import Console

    from kubetui.cli import CLIError

    console = Console(stderr=True)
    if settings.provider == "local":
        console.print("[yellow]kubetui: no Docker engine in use: nodes are local processes and pods run "
                      "without container isolation (use --provider docker for real containers)[/]")

    def progress(phase: str, detail: str) -> None:
        console.print(f"[cyan]{phase:>12}[/] {detail}")

    cluster = Cluster(settings, state_dir, progress=progress)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    pid_file = state_dir / PID_FILE
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        pid_file.write_text(f"{os.getpid()}\n")
        kubeconfig = await cluster.up()
        print(f"ready {kubeconfig}", flush=True)
        await stop.wait()
    except Exception as e:  # noqa: BLE001 - the CLI turns it into one line
        log.debug("up failed", exc_info=True)
        raise CLIError(str(e) or e.__class__.__name__) from None
    finally:
        await cluster.stop()
        pid_file.unlink(missing_ok=True)
    return 0


def run_down(args: Any, state_dir: Path) -> int:
    import shutil
    import time

    pid = running_pid(state_dir)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if running_pid(state_dir) is None:
                break
            time.sleep(0.1)
    settings = ClusterSettings.load(state_dir)
    if settings is not None and settings.provider in ("docker", "local"):
        provider = make_provider(settings, state_dir)
        asyncio.run(provider.delete(purge=args.purge))
    elif settings is None:
        # No record of the cluster: still clean up Docker leftovers labelled with its name.
        try:
            from kubetui.providers.docker import DockerProvider, docker_available
            if docker_available():
                name = getattr(args, "name", None) or state_dir.name
                asyncio.run(DockerProvider(ClusterConfig(name=name, state_dir=state_dir)).delete())
        except ImportError:
            pass
    if args.purge and state_dir.exists():
        shutil.rmtree(state_dir)
    print(f"cluster {state_dir.name!r} is down" + (" and its state deleted" if args.purge else ""))
    return 0


class ControlPlaneThread:
    """Runs a ``Cluster`` on its own event loop in a background thread.

    The TUI keeps its own loop responsive while the control plane works; the
    TUI reaches the cluster through a client that hops between the loops.
    """

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="control-plane", daemon=True)
        self._stopped: asyncio.Event | None = None

    def _run(self) -> None:
        # asyncio.Runner cancels whatever is still pending when _main returns
        # (watch timers, informer loops), as asyncio.run does.
        with asyncio.Runner(loop_factory=lambda: self.loop) as runner:
            runner.run(self._main())

    async def _main(self) -> None:
        self._stopped = asyncio.Event()
        try:
            await self.cluster.up()
        except BaseException as e:  # noqa: BLE001 - reported to the TUI
            self.error = e
            log.exception("cluster failed to come up")
        finally:
            self.ready.set()
        await self._stopped.wait()
        await self.cluster.stop()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        if self._stopped is not None:
            self.loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(timeout)


def run_tui(args: Any, state_dir: Path) -> int:
    """``kubetui``: attach to a running cluster, or bring one up in this process, and open the TUI."""
    from kubetui.cli import CLIError

    try:
        from kubetui.tui.app import run_app
    except ImportError as e:
        raise CLIError(f"the TUI is not available in this build ({e}); "
                       "use `kubetui up --headless` and `kubetui kubectl`") from None
    kubeconfig = getattr(args, "kubeconfig", None)
    if kubeconfig is None and running_pid(state_dir) is not None:
        kubeconfig = str(state_dir / "kubeconfig")
    if kubeconfig:
        return run_app(kubeconfig=Path(kubeconfig))
    settings = settings_from_args(args, state_dir)
    return run_app(cluster=Cluster(settings, state_dir), thread_factory=ControlPlaneThread)
