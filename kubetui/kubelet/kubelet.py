"""The kubelet: the node agent that makes the pods bound to its node real (upstream: ``pkg/kubelet/kubelet.go``).

It registers its Node, keeps it alive with a Lease in ``kube-node-lease``
(the node lifecycle controller marks a node whose lease goes stale
NotReady), posts Node status, and watches the pods with
``spec.nodeName=<this node>``, giving each its own ``PodWorker``. It also
serves logs, exec and resource usage to the API server (``server.py``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
from dataclasses import dataclass, field
from pathlib import Path

from kubetui.kubelet import node as nodestatus
from kubetui.agent.apiclient import APIClient, APIError, MERGE_PATCH
from kubetui.agent.clock import RealClock
from kubetui.agent.reflector import Reflector, uid_key
from kubetui.kubelet.backoff import Backoff
from kubetui.kubelet.events import EventRecorder
from kubetui.kubelet.images import ImageManager, NodeImages, remote_puller
from kubetui.kubelet.network import NodeNetwork, set_sysctls
from kubetui.kubelet.podworker import PodWorker
from kubetui.kubelet.startuplatency import PodStartupLatencyTracker
from kubetui.kubelet.timefmt import rfc3339, rfc3339_micro
from kubetui.kubelet.volumes import ObjectCache, mounts_under, orphaned_volume_dirs, remove_tree, unmount
from kubetui.runtime.cri import RuntimeService

log = logging.getLogger(__name__)

LEASE_NS = "kube-node-lease"


@dataclass
class KubeletConfig:
    node_name: str
    root_dir: Path
    node_ip: str = "127.0.0.1"
    cpus: float | None = None
    memory_bytes: int | None = None
    max_pods: int = 110
    labels: dict[str, str] = field(default_factory=dict)
    # the kubelet's own server (logs, exec, stats); port 0 picks a free one
    address: str = "0.0.0.0"
    port: int | None = 10250
    # lab timings (kubetui.timings.LAB), overridable by --timings
    lease_renew: float = 1.0
    lease_duration: int = 4
    status_update: float = 2.0
    backoff_initial: float = 1.0
    backoff_max: float = 10.0
    # image pull backoff (upstream: 10 s doubling to 5 min; lab timings are shorter)
    image_backoff_initial: float = 1.0
    image_backoff_max: float = 10.0
    # image garbage collection (imageGCHigh/LowThresholdPercent 85/80, ImageGCPeriod 5 min)
    image_gc_period: float = 300.0
    termination_grace: float = 5.0
    sync_period: float = 1.0
    # --cluster-dns / --cluster-domain: what ClusterFirst pods get in /etc/resolv.conf
    cluster_dns: list[str] = field(default_factory=list)
    cluster_domain: str = "cluster.local"
    # the API server this kubelet talks to (pods without a routed network reach it there)
    api_server: str = ""
    # the node's own resolv.conf (dnsPolicy Default; its search domains follow the cluster's)
    resolv_conf_path: str = "/etc/resolv.conf"
    # how often mounted ConfigMaps/Secrets/downwardAPI files are rewritten if they changed; also the
    # TTL of the kubelet's ConfigMap/Secret cache (upstream: syncFrequency 1 min + the cache TTL)
    volume_sync_period: float = 2.0
    # where node-local PersistentVolumes live (Docker nodes: /var/lib/kubetui/volumes): directories
    # there with no PersistentVolume of that name, that no pod uses, are deleted every volume_gc_period
    local_volumes_dir: str = ""
    volume_gc_period: float = 5.0

    def apply_timings(self, t: dict) -> None:
        """Take the node-side values from a ``kubetui.timings.Timings.as_dict()``."""
        mapping = {"node_lease_renew_seconds": "lease_renew",
                   "node_lease_duration_seconds": "lease_duration",
                   "node_status_update_seconds": "status_update",
                   "crashloop_backoff_initial_seconds": "backoff_initial",
                   "crashloop_backoff_max_seconds": "backoff_max",
                   "image_pull_backoff_initial_seconds": "image_backoff_initial",
                   "image_pull_backoff_max_seconds": "image_backoff_max",
                   "termination_grace_seconds": "termination_grace"}
        for src, dst in mapping.items():
            if src in t:
                setattr(self, dst, type(getattr(self, dst))(t[src]))


class Kubelet:
    def __init__(self, config: KubeletConfig, api: APIClient, runtime: RuntimeService,
                 clock=None, server_token: str | None = None) -> None:
        self.config = config
        self.api = api
        self.runtime = runtime
        self.clock = clock or RealClock()
        self._allocatable: tuple[float, dict[str, float]] | None = None
        self.server_token = server_token
        self.pods_dir = Path(config.root_dir) / "pods"
        self.backoff = Backoff(config.backoff_initial, config.backoff_max, self.clock)
        self.events = EventRecorder(api, config.node_name, self.clock)
        # the image manager: the node's images (its store, the built-in ones) and pulls through the control plane
        self.images = ImageManager(
            NodeImages(runtime, fs_path=str(config.root_dir)),
            remote_puller(api, config.node_name), self.events, self.clock,
            config.image_backoff_initial, config.image_backoff_max)
        self.workers: dict[str, PodWorker] = {}
        self.startup = PodStartupLatencyTracker()   # each pod's start, step by step, logged once Ready
        self.pods: Reflector | None = None     # this node's pods, once the node has its podCIDR
        self.node_uid = ""
        self.port = config.port or 0
        self._conditions: list[dict] | None = None
        self._lease: dict | None = None
        self._tasks: list[asyncio.Task] = []
        self.server = None
        self.registered = asyncio.Event()
        self.machine_id = hashlib.sha256(f"kubetui-{config.node_name}".encode()).hexdigest()[:32]
        # podCIDR from Node.spec.podCIDR (when not given) and routes to the other nodes' pods
        self.network = NodeNetwork(api, config.node_name, manage_routes=runtime.routes_pods, clock=self.clock)
        self.network.on_pod_cidr = self._pod_cidr_assigned
        self._service_env: dict[str, str] | None = None
        self._service_env_lock = asyncio.Lock()
        # ConfigMaps and Secrets for env and volumes, re-read at most once per volume_sync_period
        self.objects = ObjectCache(api, self.clock, config.volume_sync_period)

    # -- lifecycle -----------------------------------------------------------
    async def start(self) -> None:
        self.pods_dir.mkdir(parents=True, exist_ok=True)
        if self.runtime.supports_tmpfs:
            for point in mounts_under(self.pods_dir):   # tmpfs volumes a killed kubelet left mounted
                await asyncio.to_thread(unmount, point)
        await self.runtime.start()
        if self.runtime.routes_pods:
            for missing in await asyncio.to_thread(set_sysctls):
                log.warning("could not set sysctl %s: Services may not reach endpoints on this node", missing)
        for note in self.runtime.limitations:
            log.warning("runtime %s: %s", self.runtime.name, note)
        if self.config.port is not None:
            from kubetui.kubelet.server import KubeletServer
            self.server = KubeletServer(self, self.config.address, self.config.port, self.server_token)
            self.port = await self.server.start()
        self._tasks = [asyncio.create_task(self._register_then_run(), name="kubelet")]

    async def stop(self, kill_pods: bool = True) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for w in list(self.workers.values()):
            if w.task:
                w.task.cancel()
        await asyncio.gather(*[w.task for w in self.workers.values() if w.task], return_exceptions=True)
        if kill_pods:
            for w in list(self.workers.values()):
                await w.cleanup()
        if self.server:
            await self.server.close()
        await self.events.flush()
        await self.api.close()          # its pooled keep-alive connections
        await self.runtime.close()

    async def _register_then_run(self) -> None:
        await self.register()
        self.registered.set()
        # Read the kubernetes Service now, as upstream's Service lister would have it, so the
        # first burst of pod starts does not wait on that request.
        self._tasks.append(asyncio.create_task(self.service_env(), name="service env"))
        loops = [self._lease_loop(), self._status_loop(), self._pods_loop()]
        if self.runtime.routes_pods or self.runtime.pod_cidr is None:
            loops.append(self.network.run())
        if self.runtime.routes_pods:
            loops.append(self.network.resync_loop())
        if self.config.local_volumes_dir:
            loops.append(self._volume_gc_loop())
        if getattr(self.images.service, "store", None) is not None:    # a runtime with an image store
            loops.append(self._image_gc_loop())
        await asyncio.gather(*loops)

    async def _pod_cidr_assigned(self, cidr: str) -> None:
        """The node IPAM controller gave this node its podCIDR: pods can get addresses now."""
        if self.runtime.pod_cidr is not None:
            return      # --pod-cidr was given: it wins, as upstream
        log.info("node %s: pods get addresses from %s", self.config.node_name, cidr)
        await self.runtime.set_pod_cidr(cidr)
        try:
            await self.post_status()
        except (APIError, OSError) as e:
            log.warning("node status update failed: %s", e)

    # -- what every pod gets from the node ---------------------------------------
    def sandbox_config(self, pod: dict):
        """The CRI sandbox config, with the resolv.conf upstream's ``GetPodDNS`` would write."""
        from kubetui.dns.resolvconf import pod_resolv_conf
        from kubetui.kubelet.podspec import sandbox_config
        cfg = sandbox_config(pod)
        if self.config.cluster_dns:
            try:
                node_text = Path(self.config.resolv_conf_path).read_text()
            except OSError:
                node_text = ""
            cfg.resolv_conf = pod_resolv_conf(pod, self.config.cluster_dns, self.config.cluster_domain, node_text)
        return cfg

    async def service_env(self) -> dict[str, str]:
        """``KUBERNETES_SERVICE_HOST``/``PORT`` and the docker-links style ``KUBERNETES_PORT*`` variables.

        Upstream (``kubelet_pods.go`` ``getServiceEnvVarMap``) points them at the
        ``default/kubernetes`` Service's ClusterIP, which kube-proxy forwards to the
        API server; in-cluster clients (the cluster DNS) find the API that way. A
        runtime whose pods have no routed network (the process runtime) gets the
        address the kubelet itself uses instead.
        """
        if self._service_env is not None:
            return self._service_env
        async with self._service_env_lock:      # a burst of pod starts asks once, not once per pod
            if self._service_env is not None:
                return self._service_env
            return await self._read_service_env()

    async def _read_service_env(self) -> dict[str, str]:
        host, port = "", ""
        if self.runtime.routes_pods:
            try:
                svc = await self.api.get("/api/v1/namespaces/default/services/kubernetes")
                spec = svc.get("spec") or {}
                ports = spec.get("ports") or []
                if spec.get("clusterIP") and ports:
                    host, port = spec["clusterIP"], str(ports[0]["port"])
            except (APIError, OSError) as e:
                log.warning("cannot read the kubernetes Service (%s): pods get no KUBERNETES_SERVICE_HOST yet", e)
                return {}
        if not host and self.config.api_server:
            from urllib.parse import urlsplit
            u = urlsplit(self.config.api_server)
            host, port = u.hostname or "", str(u.port or 443)
        if not host:
            return {}
        addr = f"tcp://{host}:{port}"
        self._service_env = {
            "KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port,
            "KUBERNETES_SERVICE_PORT_HTTPS": port, "KUBERNETES_PORT": addr,
            f"KUBERNETES_PORT_{port}_TCP": addr, f"KUBERNETES_PORT_{port}_TCP_PROTO": "tcp",
            f"KUBERNETES_PORT_{port}_TCP_PORT": port, f"KUBERNETES_PORT_{port}_TCP_ADDR": host}
        return self._service_env

    #: how long the node's capacity, read from its cgroup, is taken as known (cAdvisor's machine info
    #: is refreshed on a period too); every pod start asks twice, and each ask read six files
    ALLOCATABLE_TTL = 10.0

    def allocatable(self) -> dict[str, float]:
        """{"cpu": cores, "memory": bytes}: what an unset limit means to the downward API and tmpfs."""
        now = self.clock.monotonic()
        cached = self._allocatable
        if cached is None or now - cached[0] >= self.ALLOCATABLE_TTL:
            cap = nodestatus.capacity(self.config.cpus, self.config.memory_bytes, self.config.max_pods)
            from kubetui.kubelet.projection import parse_quantity
            cached = self._allocatable = (now, {"cpu": parse_quantity(cap["cpu"]),
                                                "memory": parse_quantity(cap["memory"])})
        return dict(cached[1])

    # -- node-local PersistentVolume data ---------------------------------------
    async def collect_orphaned_volumes(self) -> list[str]:
        """Delete node-local volume directories whose PersistentVolume is gone and that no pod uses.

        The control plane cannot reach a Docker node's disk, so this is where a
        deleted ``standard`` volume's data goes away (upstream, local-path-provisioner
        runs a helper pod on the node for that). Directories are listed *before*
        the PersistentVolumes, so one created meanwhile is never taken for an orphan.
        """
        root = Path(self.config.local_volumes_dir)
        candidates = orphaned_volume_dirs(root, set(), set())
        if not candidates:
            return []
        pvs = await self.api.get("/api/v1/persistentvolumes")
        names = {pv["metadata"]["name"] for pv in pvs.get("items") or []}
        in_use = {p for w in self.workers.values() for p in (w.volumes or {}).values()}
        removed = []
        for d in orphaned_volume_dirs(root, names, in_use):
            if d in candidates:
                await asyncio.to_thread(remove_tree, d)
                log.info("deleted %s: no PersistentVolume %s any more", d, d.name)
                removed.append(d.name)
        return removed

    async def _volume_gc_loop(self) -> None:
        while True:
            try:
                await self.collect_orphaned_volumes()
            except (APIError, OSError) as e:
                log.warning("node-local volume cleanup failed: %s", e)
            await self.clock.sleep(self.config.volume_gc_period)

    async def _image_gc_loop(self) -> None:
        """Image garbage collection every ImageGCPeriod (upstream ``StartGarbageCollection``)."""
        while True:
            await self.clock.sleep(self.config.image_gc_period)
            in_use = [c.get("image", "") for w in self.workers.values()
                      for c in (w.spec.get("initContainers") or []) + (w.spec.get("containers") or [])]
            try:
                for etype, reason, message in await asyncio.to_thread(self.images.collect_garbage, in_use):
                    self.events.node_event(etype, reason, message)
            except OSError as e:
                log.warning("image garbage collection failed: %s", e)

    # -- the Node ------------------------------------------------------------
    def node_object(self) -> dict:
        c = self.config
        annotations = {"node.alpha.kubernetes.io/ttl": "0",
                       "kubetui.io/runtime": self.runtime.name}
        if self.runtime.limitations:
            annotations["kubetui.io/isolation"] = "; ".join(self.runtime.limitations)
        return {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": c.node_name, "labels": nodestatus.node_labels(c.node_name, c.labels),
                             "annotations": annotations},
                "spec": {}}

    def node_status(self) -> dict:
        c = self.config
        cap = nodestatus.capacity(c.cpus, c.memory_bytes, c.max_pods)
        not_ready = None if self.runtime.pod_cidr else "no podCIDR assigned to this node yet (Node.spec.podCIDR)"
        self._conditions = nodestatus.conditions(self.clock.time(), self._conditions, not_ready)
        return {
            "capacity": cap, "allocatable": dict(cap), "conditions": self._conditions,
            "addresses": [{"type": "InternalIP", "address": c.node_ip},
                          {"type": "Hostname", "address": c.node_name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.port}},
            "nodeInfo": nodestatus.node_info(self.runtime.name, self.runtime.version, self.machine_id),
            "images": nodestatus.node_images(self.images.images()),
        }

    async def register(self) -> None:
        """Create the Node (or adopt the existing one), then post its status. Retries until it works."""
        name = self.config.node_name
        while True:
            try:
                try:
                    node = await self.api.create("/api/v1/nodes", self.node_object())
                    log.info("registered node %s", name)
                except APIError as e:
                    if not e.already_exists:
                        raise
                    obj = self.node_object()
                    node = await self.api.patch(f"/api/v1/nodes/{name}",
                                                {"metadata": {"labels": obj["metadata"]["labels"],
                                                              "annotations": obj["metadata"]["annotations"]}})
                    log.info("node %s already registered: adopted it", name)
                self.node_uid = node["metadata"].get("uid", "")
                self._conditions = (node.get("status") or {}).get("conditions")
                await self.post_status()
                return
            except (APIError, OSError) as e:
                log.warning("registering node %s failed (%s); retrying", name, e)
                await self.clock.sleep(1.0)

    async def post_status(self) -> None:
        path = f"/api/v1/nodes/{self.config.node_name}/status"
        node = await self.api.patch(path, {"status": self.node_status()}, MERGE_PATCH)
        # An extended resource someone advertised in capacity becomes allocatable (MachineInfo setter).
        extra = nodestatus.allocatable_patch((node or {}).get("status") or {}) if isinstance(node, dict) else None
        if extra:
            await self.api.patch(path, {"status": {"allocatable": extra}}, MERGE_PATCH)

    async def _status_loop(self) -> None:
        while True:
            await self.clock.sleep(self.config.status_update)
            try:
                await self.post_status()
            except (APIError, OSError) as e:
                log.warning("node status update failed: %s", e)

    # -- the Lease (heartbeat) -----------------------------------------------
    def _lease_body(self) -> dict:
        c = self.config
        body = self._lease or {
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": c.node_name, "namespace": LEASE_NS,
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": c.node_name,
                                              "uid": self.node_uid}] if self.node_uid else []},
            "spec": {}}
        body = dict(body)
        body["spec"] = dict(body.get("spec") or {}, holderIdentity=c.node_name,
                            leaseDurationSeconds=c.lease_duration,
                            renewTime=rfc3339_micro(self.clock.time()))
        return body

    async def renew_lease(self) -> None:
        path = f"/apis/coordination.k8s.io/v1/namespaces/{LEASE_NS}/leases"
        name = self.config.node_name
        if self._lease is None:
            try:
                self._lease = await self.api.get(f"{path}/{name}")
            except APIError as e:
                if not e.not_found:
                    raise
                self._lease = await self.api.create(path, self._lease_body())
                return
        try:
            self._lease = await self.api.update(f"{path}/{name}", self._lease_body())
        except APIError:
            self._lease = None      # conflict or gone: read it again next time
            raise

    async def _lease_loop(self) -> None:
        while True:
            try:
                await self.renew_lease()
            except (APIError, OSError) as e:
                log.warning("lease renewal failed: %s", e)
            await self.clock.sleep(self.config.lease_renew)

    # -- pods ------------------------------------------------------------------
    def pod_seen(self, pod: dict) -> None:
        uid = pod["metadata"].get("uid", "")
        w = self.workers.get(uid)
        if w is not None:
            w.update(pod)
            return
        self.startup.mark(uid, "seen")
        w = PodWorker(self, pod)
        self.workers[uid] = w
        w.start()
        w.task.add_done_callback(lambda _t, uid=uid: self._worker_done(uid))

    def _worker_done(self, uid: str) -> None:
        """A pod's worker ended: forget it and its ServiceAccount tokens (upstream DeleteServiceAccountToken)."""
        self.workers.pop(uid, None)
        self.objects.tokens.forget_pod(uid)
        self.startup.forget(uid)

    def pod_gone(self, pod: dict) -> None:
        w = self.workers.get(pod["metadata"].get("uid", ""))
        if w is not None:
            w.removed()

    async def _pods_loop(self) -> None:
        if self.runtime.pod_cidr is None:
            # No pod can get an address before the node has its podCIDR.
            await self.network.pod_cidr_known.wait()
        # The pods bound to this node (upstream: the kubelet's pod config source "api"). Keyed by
        # uid: a pod deleted and re-created under its name while the watch was down is another pod,
        # whose old worker must stop (the relist reports the old uid deleted).
        self.pods = Reflector(self.api, "/api/v1/pods",
                              params={"fieldSelector": f"spec.nodeName={self.config.node_name}"}, key=uid_key, on_add=self.pod_seen, on_update=lambda _old, pod: self.pod_seen(pod),
                              on_delete=self.pod_gone, clock=self.clock, name="pods")
        await self.pods.run()

    def find_pod(self, namespace: str, name: str) -> PodWorker | None:
        for w in self.workers.values():
            m = w.pod["metadata"]
            if m["name"] == name and m.get("namespace", "default") == namespace:
                return w
        return None


def default_node_ip() -> str:
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"
