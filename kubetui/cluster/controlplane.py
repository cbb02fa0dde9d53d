"""The control plane: kube-apiserver, etcd, kube-scheduler, kube-controller-manager, in one process.

kubeadm runs each of these as a static pod on a control-plane node; kubetui
runs them as asyncio tasks of one process (``kubetui up --headless``), all talking through the API
server's registry (in-process) while kubelets and kubectl use HTTPS.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from kubetui.api.resources import resource_for
from kubetui.apiserver.audit import AUDIT_FILE, AuditLog, load_policy
from kubetui.apiserver.auth import TokenAuthenticator
from kubetui.apiserver.serviceaccount import TokenIssuer, load_or_create_key
from kubetui.apiserver.certs import ensure_pki
from kubetui.apiserver.etcdcerts import ETCD_ENDPOINT_FILE, ETCD_LOG, ensure_etcd_certs, write_etcd_endpoint
from kubetui.apiserver.encryption import CONFIG_FILE, EncryptingStore, ensure_config
from kubetui.apiserver.inprocess import InProcessClient
from kubetui.apiserver.kubeletclient import KubeletConnector, KubeletMetrics
from kubetui.apiserver.metrics import InProcessMetricsClient
from kubetui.apiserver.registry import Registry
from kubetui.apiserver.server import APIServer
from kubetui.apiserver.strategies.services import kubernetes_service_ip
from kubetui.client.kubeconfig import write_kubeconfig
from kubetui.client.leaderelection import ElectionConfig, LeaderElector
from kubetui.client.reconciles import ReconcileLog, RecordingClient
from kubetui.client.record import EventRecorder
from kubetui.clock import Clock
from kubetui.cluster.settings import ClusterSettings, Progress
from kubetui.client.views import CONTROLPLANE_GROUP, DECISIONS_GROUP, NETWORKING_GROUP
from kubetui.cluster.imagepulls import PullThrough, serve_pulls, unsupported
from kubetui.cluster.views import serve_controlplane, serve_decisions, serve_traffic
from kubetui.controllers.ingress import IngressController, ensure_ingress_class
from kubetui.kubelet.images import PULLS_GROUP
from kubetui.controllers.manager import ControllerManager
from kubetui.dns.manifests import NAMESPACE as DNS_NAMESPACE
from kubetui.ingress.dataplane import IngressDataPlane, dial_direct
from kubetui.netutil import free_port, port_free
from kubetui.providers.base import NodeConfig
from kubetui.providers import simulated_stats
from kubetui.providers.lb import INGRESS_IP, LoadBalancerController
from kubetui.scheduler.scheduler import Scheduler
from kubetui.storage.classes import ensure_storage_classes
from kubetui.storage.provisioners import Provisioners
from kubetui.storage.volumes import volume_host_for
from kubetui.store import Store
from kubetui.store.etcd import EtcdStore
from kubetui.store.etcdserver import EtcdServer
from kubetui.timedial import TimeDial

log = logging.getLogger(__name__)


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
    #: the time dial: pause, step and slow down the scheduler and the controllers (kubetui time ...)
    dial: Any = None
    authenticator: Any = None
    pki: Any = None
    encryption: Any = None
    _encryption_task: Any = None
    load_balancer: Any = None
    #: the built-in ingress controller (docker and local providers): its data plane and control loop
    ingress_dataplane: Any = None
    ingress: Any = None
    kubelet_connector: Any = None
    #: where kube-proxies serve /traffic (host:port); None: every real node's InternalIP:10249
    proxy_metrics: list[str] | None = None
    #: every controller sync and scheduling cycle (served as controlplane.kubetui.dev reconciles)
    reconcile_log: Any = None
    #: leader election per component Lease (kube-system/kube-scheduler, kube-controller-manager)
    elections: dict[str, LeaderElector] = field(default_factory=dict)
    #: the etcd member this process runs (``--store etcd``), else None
    etcd: Any = None
    _etcd_supervisor: Any = None
    #: one of several control planes (``kubetui up --control-planes N``, cluster/ha.py): the etcd
    #: cluster's client URLs (comma-separated, kube-apiserver's ``--etcd-servers``); the members run apart
    etcd_servers: str = ""
    #: this control-plane node's name (the Leases' holder identity is ``<node>_<uuid>``, as upstream's)
    node_name: str = ""
    #: where the kubeconfig goes (default ``<state>/kubeconfig``; several control planes write their own)
    kubeconfig_file: Path | None = None
    #: more addresses the API server listens on, not named by its certificate (a control-plane container's
    #: own IP: the load balancer in front of it checks no name, its clients verify the LB's address)
    bind_hosts: tuple[str, ...] = ()
    #: kube-apiserver's ``--advertise-address`` when it is not ``extra_hosts[0]`` (a control-plane container's IP)
    advertise_address: str = ""
    #: one of several control-plane nodes: where this node's ingress data plane listens (address, HTTP and
    #: HTTPS port; 0: a free one). Its ingress controller then runs on every node, not only the elected
    #: controller manager's (each ingress-nginx replica programs its own proxy): the host's load balancer
    #: sends the cluster's ingress ports to any healthy node's (cluster/apilb.py ``Forward``)
    ingress_bind: tuple[str, int, int] | None = None
    #: the ingress controller's own manager (informers and worker) on such a node
    ingress_manager: Any = None

    @property
    def api_advertise_address(self) -> str:
        """The API server address nodes (and the ``kubernetes`` Service's endpoints) use."""
        if self.advertise_address:
            return self.advertise_address
        return self.extra_hosts[0] if self.extra_hosts else "127.0.0.1"

    @property
    def kubeconfig_path(self) -> Path:
        return self.kubeconfig_file or self.state_dir / "kubeconfig"

    async def start(self, progress: Progress = lambda p, d: None) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.store = await self._open_store(progress)
        # A local cluster's Services use kind's 10.96.0.0/16: its userspace kube-proxy serves them in the
        # cluster's own /16 of the loopback (kubetui.agent.loopback); other clusters keep kubeadm's /12.
        service_cidr = "10.96.0.0/16" if self.settings.provider == "local" else "10.96.0.0/12"
        self.registry = Registry(await self._registry_store(), clock=self.clock, service_cidr=service_cidr)
        # DefaultTolerationSeconds admission follows the cluster's timings (lab or kubernetes)
        self.registry.hooks.admission.timings = self.settings.timing_preset
        await self.registry.bootstrap()

        progress("apiserver", "starting the API server: the only component that talks to the store")
        # Like kubeadm, the serving certificate also names the `kubernetes` Service's
        # ClusterIP: pods reach the API there (KUBERNETES_SERVICE_HOST), through kube-proxy.
        sans = [*self.extra_hosts, kubernetes_service_ip(self.registry)]
        self.pki = ensure_pki(self.state_dir, self.settings.name, sans)
        self.authenticator = TokenAuthenticator.for_state_dir(self.state_dir)
        # ServiceAccount tokens are signed with the state dir's key, so they outlive a restart
        self.registry.token_issuer = TokenIssuer(load_or_create_key(self.state_dir))
        port = self.settings.api_port
        if not port_free(port):
            port = free_port()
            log.warning("port %s is taken; the API server listens on %s", self.settings.api_port, port)
        self.apiserver = APIServer(
            self.registry, host="127.0.0.1", extra_hosts=(*self.extra_hosts, *self.bind_hosts), port=port,
            ssl_context=self.pki.server_ssl_context(), authenticator=self.authenticator,
            **self._server_extras())
        await self.apiserver.start()
        write_kubeconfig(self.kubeconfig_path, self.settings.name, self.apiserver.url,
                         self.pki.ca_pem(), self.authenticator.admin_token())
        self.client = InProcessClient(self.registry)
        await ensure_storage_classes(self.client)

        self.reconcile_log = ReconcileLog(clock=self.clock)
        progress("scheduler", "starting the scheduler: it picks a node for every new pod")
        self.dial = TimeDial(self.clock)
        # slow motion spaces out the work items that wrote to the store (see kubetui.timedial)
        self.dial.revision = lambda: int(self.store.revision)
        self.scheduler = self._make_scheduler()
        await self._lead("kube-scheduler", "scheduler", self._make_scheduler)
        self.apiserver.extensions[DECISIONS_GROUP] = functools.partial(serve_decisions, self)
        if self.settings.provider in ("docker", "local"):
            self.ingress_dataplane = await self._start_ingress()
            await ensure_ingress_class(self.client)
            dp = self.ingress_dataplane
            if self.ingress_bind is not None:
                await self._start_node_ingress()
                progress("ingress", f"ingress data plane of {self.node_name}: {dp.host}:{dp.http_port} (HTTP), "
                                    f"{dp.host}:{dp.https_port} (HTTPS), behind the host's load balancer on "
                                    f"127.0.0.1:{self.settings.ingress_http_port}, :{self.settings.ingress_https_port}")
            else:
                progress("ingress", f"ingress controller (IngressClass kubetui): http://127.0.0.1:{dp.http_port}, "
                                    f"https://127.0.0.1:{dp.https_port}")
        progress("controllers", "starting the controller manager: it turns Deployments into pods")
        self.controllers = self._make_controllers()
        await self._lead("kube-controller-manager", "controllers", self._make_controllers)
        self.apiserver.extensions[NETWORKING_GROUP] = functools.partial(serve_traffic, self)
        self.apiserver.extensions[CONTROLPLANE_GROUP] = functools.partial(serve_controlplane, self)
        self.apiserver.extensions[PULLS_GROUP] = functools.partial(serve_pulls, self._image_puller())
        if self.settings.provider == "docker":
            # Docker's SDK is loaded only for Docker clusters (kubetui.providers.docker is the one module using it).
            from kubetui.providers.docker.addons import SERVICE_ACCOUNT, install_dns, service_account_user
            progress("dns", "creating the cluster DNS (kube-system/kube-dns): pods find Services by name")
            # A token for the kube-dns ServiceAccount (what the token controller would mint).
            token = self.authenticator.token_for(service_account_user(DNS_NAMESPACE, SERVICE_ACCOUNT),
                                                  ("system:serviceaccounts", f"system:serviceaccounts:{DNS_NAMESPACE}"))
            await install_dns(self.client, token, self.pki.ca_pem().decode())

    async def _open_store(self, progress: Progress) -> Any:
        """The store the API server talks to: the embedded TinyDB store, or (``--store etcd``) a real
        etcd member this process starts on a free loopback port, with TLS from the cluster CA."""
        if self.etcd_servers:
            progress("store", f"connecting to the etcd cluster ({self.etcd_servers})")
            tls = ensure_etcd_certs(ensure_pki(self.state_dir, self.settings.name, list(self.extra_hosts)))
            store = EtcdStore(self.etcd_servers, ssl_context=tls.client_context(), clock=self.clock)
            await store.open()
            return store
        if self.settings.store != "etcd":
            progress("store", "opening the store (kubetui's etcd): every object lives here")
            store = Store(self.state_dir / "store", clock=self.clock)
            await store.open()
            return store
        progress("store", "starting etcd (one member, TLS from the cluster CA): every object lives here")
        tls = ensure_etcd_certs(ensure_pki(self.state_dir, self.settings.name, list(self.extra_hosts)))
        self.etcd = EtcdServer(self.state_dir / "etcd", free_port(), free_port(), self.state_dir / ETCD_LOG,
                               name=self.settings.name, tls=tls, pid_path=self.state_dir / "etcd.pid")
        await asyncio.to_thread(self.etcd.start)
        write_etcd_endpoint(self.state_dir, self.etcd)
        store = EtcdStore(self.etcd.endpoint, ssl_context=tls.client_context(), clock=self.clock)
        try:
            await store.open()
        except BaseException:
            await asyncio.to_thread(self.etcd.stop)
            raise
        self._etcd_supervisor = asyncio.create_task(self._supervise_etcd(), name="kubetui-etcd-supervisor")
        return store

    async def _supervise_etcd(self) -> None:
        """Restart the member when it dies, as the kubelet restarts kubeadm's etcd static pod (with
        CrashLoopBackOff's doubling delay, capped at 10 s here). The store's mirror reconnects by itself
        and resumes its watch at the next revision; until then /readyz's etcd check fails."""
        delay = 1.0
        while True:
            await asyncio.sleep(1)
            proc = self.etcd.proc
            if proc is None or proc.poll() is None:
                delay = 1.0
                continue
            log.warning("etcd exited with %s; restarting it in %.0fs (log: %s)", proc.returncode, delay,
                        self.etcd.log_path)
            await asyncio.sleep(delay)
            try:
                await asyncio.to_thread(self.etcd.start)
                write_etcd_endpoint(self.state_dir, self.etcd)
            except (OSError, RuntimeError) as e:
                log.error("restarting etcd failed: %s", e)
                delay = min(delay * 2, 10.0)

    async def _registry_store(self):
        """With ``--encrypt-secrets`` (or an encryption config already in the state dir, without which
        stored Secrets could not be read) the registry reaches the store through the encryption transformer."""
        if not self.settings.encrypt_secrets and not (self.state_dir / CONFIG_FILE).exists():
            return self.store
        ensure_config(self.state_dir / CONFIG_FILE)
        self.encryption = EncryptingStore(self.store, self.state_dir / CONFIG_FILE)
        await self.encryption.rewrite_stale()  # Secrets stored before encryption was turned on
        self._encryption_task = asyncio.create_task(self.encryption.watch_config(self.clock))
        return self.encryption

    def _server_extras(self) -> dict[str, Any]:
        extras: dict[str, Any] = {}
        nodes = resource_for("nodes")

        def simulated(n: dict) -> bool:
            return n["metadata"].get("labels", {}).get("kubetui.dev/simulated") == "true"

        async def list_nodes() -> list[dict]:
            # Simulated nodes have no kubelet to ask for stats ...
            return [n for n in (await self.registry.list(nodes, None))["items"] if not simulated(n)]

        async def simulated_summaries() -> list[dict]:
            # ... their usage is what their pods' annotations say (providers/simulated_stats.py).
            names = [n["metadata"]["name"] for n in (await self.registry.list(nodes, None))["items"] if simulated(n)]
            if not names:
                return []
            pods = (await self.registry.list(resource_for("pods"), None))["items"]
            now = self.clock.time()
            return [simulated_stats.summary(name, pods, now) for name in names]

        connector = KubeletConnector.for_registry(self.registry, self.authenticator)
        self.kubelet_connector = connector
        extras["node_connector"] = connector
        self.metrics_source = KubeletMetrics(connector, list_nodes, simulated=simulated_summaries)
        extras["metrics_source"] = self.metrics_source
        extras["clock"] = self.clock
        extras["audit"] = AuditLog(self.state_dir / AUDIT_FILE, load_policy(self.settings.audit_policy_file))
        return extras

    def _image_puller(self):
        """Where nodes' image pulls go: the host's Docker engine for Docker nodes (cluster/imagepulls.py)."""
        if self.settings.provider != "docker":
            return unsupported(f"the {self.settings.provider} provider runs kubetui's built-in programs only, "
                               "not container images: start the cluster with `--provider docker`")
        source = None

        async def pull(node: str, image: str, auth: list, have: str = "") -> dict:
            nonlocal source
            if source is None:
                from kubetui.providers.docker import docker_client
                from kubetui.providers.docker.images import DockerEngine, DockerNodes, DockerPullSource
                try:
                    client = await asyncio.to_thread(docker_client)
                except Exception as e:  # noqa: BLE001 - no engine: say so in the pod's status
                    return await unsupported(f"no Docker engine answers on this machine ({e})")(node, image, auth)
                src = DockerPullSource(DockerEngine(client), DockerNodes(client, self.settings.name))
                source = PullThrough(src.pull, src.inspect, src.copy_to_node, src.transport.nodes)
            return await source.pull(node, image, auth, have)
        return pull

    def _make_scheduler(self) -> Scheduler:
        return Scheduler(self.client, profile=self.settings.scheduler_profile, clock=self.clock,
                         timings=self.settings.timing_preset, reconcile_log=self.reconcile_log, dial=self.dial)

    async def _lead(self, lease: str, attr: str, make: Callable[[], Any]) -> None:
        """Run a component only while it holds its Lease in kube-system, as kube-scheduler and
        kube-controller-manager do with --leader-elect. Alone, it leads at once (after a crash,
        once the dead holder's lease has run out). Losing the lease stops the component; it
        starts afresh when leading again, as a restarted process would."""
        t = self.settings.timing_preset
        config = ElectionConfig(t.leader_lease_duration_seconds, t.leader_renew_deadline_seconds,
                                t.leader_retry_period_seconds)

        async def started() -> None:
            await getattr(self, attr).start()

        async def stopped() -> None:
            old = getattr(self, attr)
            setattr(self, attr, make())
            await old.stop()

        identity = f"{self.node_name}_{uuid.uuid4()}" if self.node_name else None
        # the component the Events name as their source (kube-scheduler's is its scheduler name)
        source = {"kube-scheduler": "default-scheduler"}.get(lease, lease)
        recorder = EventRecorder(self.client, source, self.node_name or None, clock=self.clock)
        elector = LeaderElector(self.client, lease, identity=identity, config=config, on_started=started,
                                on_stopped=stopped, recorder=recorder)
        if not self.etcd_servers:
            await elector.acquire()  # alone: it leads at once (start-up waits for it)
        elector.start()  # one of several: a candidate, leading when the Lease is free
        self.elections[lease] = elector

    def _make_controllers(self) -> ControllerManager:
        cm = ControllerManager(self.client, clock=self.clock, timings=self.settings.timing_preset,
                               api_server_endpoint=(self.api_advertise_address, self.apiserver.port),
                               root_ca_pem=self.pki.ca_pem().decode(),
                               metrics_client=InProcessMetricsClient(self.registry, getattr(self, "metrics_source", None),
                                                                     self.clock),
                               reconcile_log=self.reconcile_log, dial=self.dial)
        host_lb = self.settings.provider == "docker" and self.settings.control_planes > 1
        if self.settings.provider in ("docker", "local") and not host_lb:
            # the cloud-controller-manager's service controller, played on this machine's loopback (with
            # control-plane containers it runs on the host instead, where its listeners are reachable: hadocker.py)
            self.load_balancer = LoadBalancerController(
                RecordingClient(self.client), cm.factory, clock=cm.timer_clock, dial=self.dial,
                timings=self.settings.timing_preset,
                recorder=EventRecorder(self.client, LoadBalancerController.component, clock=self.clock),
                backends="nodeports" if self.settings.provider == "docker" else "endpoints",
                host=self._load_balancer_ip())
            self.load_balancer.reconcile_log = self.reconcile_log
            cm.controllers[LoadBalancerController.name] = self.load_balancer
        if self.ingress_dataplane is not None and self.ingress_bind is None:
            self.ingress = IngressController(
                self.client, cm.factory, clock=cm.timer_clock, dial=self.dial, timings=self.settings.timing_preset,
                recorder=EventRecorder(self.client, IngressController.component, clock=self.clock),
                dataplane=self.ingress_dataplane)
            cm.controllers[IngressController.name] = self.ingress
        pv_controller = cm.controllers.get("persistentvolume-binder")
        if pv_controller is not None:
            pv_controller.provisioners = Provisioners(volume_host_for(self.settings.provider, self.state_dir))
        return cm

    def _load_balancer_ip(self) -> str:
        """Where LoadBalancer Services listen: a local cluster's own address in its loopback block (two local
        clusters' balancers on one machine never share one), else the host's 127.0.0.1."""
        if self.settings.provider == "local":
            from kubetui.providers.loopback import recorded
            block = recorded(self.state_dir)
            if block is not None and sys.platform.startswith("linux"):
                return block.load_balancer_ip
        return INGRESS_IP

    @property
    def ingress_ports(self) -> tuple[int, int] | None:
        """The ingress HTTP and HTTPS ports clients use (kept in cluster.json, printed by ``kubetui up``)."""
        if self.ingress_dataplane is None or self.ingress_bind is not None:
            return None
        return self.ingress_dataplane.http_port, self.ingress_dataplane.https_port

    async def _start_node_ingress(self) -> None:
        """Several control-plane nodes: this node's ingress controller, unelected, in a manager of its own.
        Every node's writes the same status (the host's load balancer: 127.0.0.1 and the cluster's ports)."""
        cm = ControllerManager(self.client, clock=self.clock, timings=self.settings.timing_preset, controllers=[],
                               reconcile_log=self.reconcile_log, dial=self.dial)
        self.ingress = IngressController(
            self.client, cm.factory, clock=cm.timer_clock, dial=self.dial, timings=self.settings.timing_preset,
            recorder=EventRecorder(self.client, IngressController.component, self.node_name or None, clock=self.clock),
            dataplane=self.ingress_dataplane,
            published=("127.0.0.1", self.settings.ingress_http_port, self.settings.ingress_https_port))
        self.ingress.reconcile_log = self.reconcile_log
        cm.controllers[IngressController.name] = self.ingress
        await cm.start()
        self.ingress_manager = cm

    async def _start_ingress(self) -> IngressDataPlane:
        """Bind the ingress controller's ports: the remembered ones, or free ones when those are taken."""
        dial = dial_direct if self.settings.provider == "local" else self._dial_through_kubelet
        if self.ingress_bind is not None:  # a control-plane node's own: where it was told to listen
            host, http, https = self.ingress_bind
            dataplane = IngressDataPlane(host=host, http_port=http, https_port=https, dial=dial)
            try:
                await dataplane.start()
            except OSError as e:  # its ports of last time are taken now: free ones (its record says which)
                log.warning("ingress data plane: %s; listening on free ports instead", e)
                dataplane = IngressDataPlane(host=host, dial=dial)
                await dataplane.start()
            return dataplane
        ports = []
        for port in (self.settings.ingress_http_port, self.settings.ingress_https_port):
            if port and not port_free(port):
                log.warning("port %s is taken; the ingress controller listens on a free port instead", port)
                port = 0
            ports.append(port)
        dataplane = IngressDataPlane(host="127.0.0.1", http_port=ports[0], https_port=ports[1], dial=dial)
        try:
            await dataplane.start()
        except OSError as e:                        # taken between the check and the bind: free ones
            log.warning("ingress controller: %s; listening on free ports instead", e)
            dataplane = IngressDataPlane(host="127.0.0.1", dial=dial)
            await dataplane.start()
        return dataplane

    async def _dial_through_kubelet(self, ep: Any):
        """Docker nodes' pod network is not routed from the host: reach the pod through its kubelet's
        ``/portForward`` stream (the path ``kubectl port-forward`` takes), one per connection."""
        ns, _, name = (ep.pod or "").partition("/")
        if not name or not ep.node_name:
            raise OSError(f"endpoint {ep} names no pod and node (its EndpointSlice has no targetRef)")
        pod = {"metadata": {"namespace": ns, "name": name}, "spec": {"nodeName": ep.node_name}}
        return await self.kubelet_connector.port_forward(pod, ep.port)

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
        # releases the Leases (a next control plane leads at once), both at once: each release is bounded by
        # the renew deadline, so a store that stopped answering (etcd gone) costs one deadline, not one each
        await asyncio.gather(*(elector.stop() for elector in self.elections.values()))
        if self.dial is not None:
            await self.dial.close()       # its pacer; workers held at its gate are cancelled with their components
        for part in (self.controllers, self.scheduler, self.ingress_manager):
            if part is not None:
                try:
                    await part.stop()
                except Exception:  # noqa: BLE001 - shutting down: log and go on
                    log.exception("stopping %s", part)
        if self.ingress_dataplane is not None:
            await self.ingress_dataplane.close()
        if self.apiserver is not None:
            await self.apiserver.stop()
        if self._encryption_task is not None:
            self._encryption_task.cancel()
        if self.store is not None:
            await self.store.close()
        if self._etcd_supervisor is not None:
            self._etcd_supervisor.cancel()
        if self.etcd is not None:
            await asyncio.to_thread(self.etcd.stop)
            (self.state_dir / ETCD_ENDPOINT_FILE).unlink(missing_ok=True)
