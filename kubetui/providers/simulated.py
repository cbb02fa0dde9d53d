"""Simulated nodes: Node objects with no machine behind them (like KWOK).

Upstream counterpart: KWOK (``kubernetes-sigs/kwok``), which fakes kubelets so
a laptop can host a "cluster" of thousands of nodes. Each simulated node is a
light in-process agent talking to the API through a ``Client``:

- it registers its ``Node`` (capacity/allocatable, ``Ready``, nodeInfo with
  ``containerRuntimeVersion: simulated://…``, addresses, podCIDR);
- it renews its ``Lease`` in ``kube-node-lease`` and refreshes its Ready
  condition on the clock, as a kubelet heartbeats;
- it marks pods bound to it ``Running`` and ``Ready`` (no container runs:
  containerIDs read ``simulated://…``), and finishes deleting terminating pods,
  as a kubelet does once their containers have stopped;
- pods that are meant to finish (``restartPolicy`` ``Never``/``OnFailure``:
  Job pods) end after the ``sleep N`` of their command with the code of its
  ``exit K`` (``simulated_run``), as KWOK's pod-complete stage.

One pod watch serves every simulated node (as KWOK's single controller does),
so 500 nodes do not mean 500 watches.

Faults from anywhere: a simulated node has no process or container that
``kubetui fault`` in another process could freeze or kill, so the provider
watches its Node objects for the annotation ``kubetui.dev/fault`` (one more
watch, for all nodes) and plays the node's part:

=========  ==================================================================
value      what the simulated node does
=========  ==================================================================
``paused`` silent: no Lease renewals, no Ready heartbeats, pods bound to it
           are neither started nor finished (a frozen machine, a stopped
           kubelet, a cut cable all look like this from the control plane)
``killed`` the same, and the machine is dead: ``list_nodes`` says
           ``stopped``, and when it comes back its pods' containers have
           restarted (``restartCount`` + 1, ``lastState`` terminated with
           reason ``Unknown``, as after a real reboot)
(absent)   back: re-post Ready at once (re-register after ``killed``) as a
           restarted kubelet does, renew the Lease, catch up on the pods
           bound, created or deleted meanwhile
=========  ==================================================================

So ``kubectl annotate node node-2 kubetui.dev/fault=paused`` makes node-2 go
``NotReady`` after the node monitor grace period and its pods be evicted, and
``kubectl annotate node node-2 kubetui.dev/fault-`` brings it back.
``pause_node`` / ``unpause_node`` do the same from inside this process.
The annotation acts when it changes, so those calls and the annotation do not
undo each other; a node that already carries it when the provider starts
comes up in that state.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
from typing import Any

from kubetui import KUBERNETES_VERSION
from kubetui.api import errors
from kubetui.api.quantity import format_quantity, parse_quantity
from kubetui.client.base import MERGE_PATCH, Client
from kubetui.clock import Clock, rfc3339, rfc3339_micro
from kubetui.kubelet.node import allocatable_patch
from kubetui.providers.base import ClusterConfig, NodeConfig, NodeHandle, Provider
from kubetui.providers.simulated_run import ephemeral_statuses, finished_status, restarted_status, run_plan

log = logging.getLogger(__name__)

KUBELET_VERSION = KUBERNETES_VERSION  # the same version the API server reports
RUNTIME_VERSION = "simulated://0.1"
LEASE_NAMESPACE = "kube-node-lease"
SIMULATED_LABEL = "kubetui.dev/simulated"
#: ``paused`` / ``killed`` / absent: how ``kubetui fault`` reaches simulated nodes from any process
FAULT_ANNOTATION = "kubetui.dev/fault"
NODE_FAULTS = ("paused", "killed")
# Fake addresses: no packet is ever sent to them.
NODE_IP_BASE = ipaddress.ip_address("10.250.0.10")


def node_object(cfg: NodeConfig, index: int, now: str, ephemeral_storage: str = "100Gi") -> dict[str, Any]:
    """The Node a simulated kubelet registers (``kubelet`` fills the same fields upstream)."""
    cpu = format_quantity(parse_quantity(str(cfg.cpus)))
    resources = {"cpu": cpu, "memory": cfg.memory, "pods": str(cfg.max_pods),
                 "ephemeral-storage": ephemeral_storage}
    ip = str(NODE_IP_BASE + index)
    spec: dict[str, Any] = {}
    if cfg.pod_cidr:
        spec["podCIDR"] = cfg.pod_cidr
        spec["podCIDRs"] = [cfg.pod_cidr]
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": cfg.name, "labels": {
            "kubernetes.io/hostname": cfg.name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64",
            SIMULATED_LABEL: "true", **cfg.labels}},
        "spec": spec,
        "status": {
            "capacity": dict(resources),
            "allocatable": dict(resources),
            "conditions": node_conditions(now, now),
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": cfg.name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": hashlib.md5(cfg.name.encode()).hexdigest(),
                "systemUUID": hashlib.md5(("uuid" + cfg.name).encode()).hexdigest(),
                "bootID": hashlib.md5(("boot" + cfg.name).encode()).hexdigest(),
                "kernelVersion": "simulated", "osImage": "kubetui simulated node",
                "containerRuntimeVersion": RUNTIME_VERSION, "kubeletVersion": KUBELET_VERSION,
                "kubeProxyVersion": KUBELET_VERSION, "operatingSystem": "linux", "architecture": "amd64",
            },
        },
    }


def node_conditions(heartbeat: str, transition: str) -> list[dict[str, Any]]:
    """A healthy node's conditions, worded as the kubelet words them."""
    def cond(type_: str, status: str, reason: str, message: str) -> dict[str, Any]:
        return {"type": type_, "status": status, "reason": reason, "message": message,
                "lastHeartbeatTime": heartbeat, "lastTransitionTime": transition}
    return [
        cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ]


def lease_object(node: str, uid: str | None, duration: int, now_micro: str) -> dict[str, Any]:
    """The node's heartbeat Lease (``coordination.k8s.io/v1``), owned by its Node."""
    meta: dict[str, Any] = {"name": node, "namespace": LEASE_NAMESPACE}
    if uid:
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": node, "uid": uid}]
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
            "spec": {"holderIdentity": node, "leaseDurationSeconds": duration, "renewTime": now_micro}}


def running_status(pod: dict[str, Any], host_ip: str, pod_ip: str, now: str) -> dict[str, Any]:
    """``status`` for a pod the simulated kubelet "started": Running, every container ready."""
    spec = pod.get("spec") or {}
    uid = (pod.get("metadata") or {}).get("uid") or ""

    def cid(name: str) -> str:
        return "simulated://" + hashlib.sha256(f"{uid}/{name}".encode()).hexdigest()[:32]

    def cond(type_: str) -> dict[str, Any]:
        return {"type": type_, "status": "True", "lastProbeTime": None, "lastTransitionTime": now}

    status: dict[str, Any] = {
        "phase": "Running",
        "conditions": [cond("PodReadyToStartContainers"), cond("Initialized"), cond("Ready"),
                       cond("ContainersReady"), cond("PodScheduled")],
        "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip, "podIPs": [{"ip": pod_ip}],
        "startTime": now,
        "containerStatuses": [{
            "name": c["name"], "image": c.get("image", ""), "imageID": "", "containerID": cid(c["name"]),
            "ready": True, "started": True, "restartCount": 0,
            "state": {"running": {"startedAt": now}}} for c in spec.get("containers") or ()],
    }
    if spec.get("initContainers"):
        status["initContainerStatuses"] = [{
            "name": c["name"], "image": c.get("image", ""), "imageID": "", "containerID": cid(c["name"]),
            "ready": True, "restartCount": 0,
            "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now,
                                     "finishedAt": now, "containerID": cid(c["name"])}}}
            for c in spec["initContainers"]]
    return status


class _PodIPs:
    """Pod IPs from one node's podCIDR, reused after a pod goes away."""

    def __init__(self, cidr: str) -> None:
        net = ipaddress.ip_network(cidr, strict=False)
        self._free = [str(ip) for ip in list(net.hosts())[1:]]   # .1 is the bridge
        self._free.reverse()
        self.by_pod: dict[str, str] = {}

    def take(self, key: str) -> str:
        if key not in self.by_pod:
            self.by_pod[key] = self._free.pop() if self._free else "0.0.0.0"
        return self.by_pod[key]

    def give_back(self, key: str) -> None:
        ip = self.by_pod.pop(key, None)
        if ip and ip != "0.0.0.0":
            self._free.append(ip)


class SimulatedNode:
    """One simulated kubelet."""

    def __init__(self, cfg: NodeConfig, index: int, ip: str, pod_cidr: str) -> None:
        self.cfg = cfg
        self.index = index
        self.ip = ip
        self.pod_cidr = pod_cidr
        self.ips = _PodIPs(pod_cidr)
        self.fault: str | None = None          # None, "paused" or "killed" (see the module docstring)
        self.seen_annotation: str | None = None  # the last kubetui.dev/fault value acted on
        self.running = False
        self.uid: str | None = None
        self.heartbeat: asyncio.Task[None] | None = None

    @property
    def silent(self) -> bool:
        """No heartbeats and no pod handling (paused or killed)."""
        return self.fault is not None

    @property
    def paused(self) -> bool:
        return self.fault == "paused"


class SimulatedProvider(Provider):
    """Nodes that are in-process agents (``--provider simulated``)."""

    name = "simulated"
    description = ("nodes are simulated in-process (no containers): pods are only marked Running, as KWOK does; "
                   "Job pods finish after the sleep N / exit K of their command")

    def __init__(self, cluster: ClusterConfig, client: Client, clock: Clock | None = None, *,
                 heartbeats: bool = True, run_pods: bool = True) -> None:
        super().__init__(cluster)
        self.client = client
        self.clock = clock or Clock()
        self.timings = cluster.timings
        # Benchmarks of the scheduler alone turn these off.
        self.heartbeats = heartbeats
        self.run_pods = run_pods
        self.nodes: dict[str, SimulatedNode] = {}
        self._pod_task: asyncio.Task[None] | None = None
        self._node_task: asyncio.Task[None] | None = None
        self._pod_tasks: set[asyncio.Task[Any]] = set()
        self._started_pods: set[str] = set()
        self.pods_started = 0
        self.pods_finished = 0

    # --- Provider interface ------------------------------------------------------------------

    async def start_node(self, node: NodeConfig) -> NodeHandle:
        sim = self.nodes.get(node.name)
        if sim is None:
            index = len(self.nodes)
            cidr = node.pod_cidr or f"10.244.{(index + 1) % 256}.0/24"
            sim = SimulatedNode(node, index, str(NODE_IP_BASE + index), cidr)
            self.nodes[node.name] = sim
        if not sim.running:
            sim.cfg.pod_cidr = sim.pod_cidr
            sim.fault = sim.seen_annotation = None
            await self._register(sim)
            sim.running = True
            if self.heartbeats:
                if not sim.silent:
                    await self._renew_lease(sim)
                sim.heartbeat = asyncio.create_task(self._heartbeat_loop(sim), name=f"sim-heartbeat-{node.name}")
            if self.run_pods and self._pod_task is None:
                self._pod_task = asyncio.create_task(
                    self._watch_loop("pods", self._on_pod), name="sim-pods")
            if self._node_task is None:
                self._node_task = asyncio.create_task(
                    self._watch_loop("nodes", self._on_node, label_selector=f"{SIMULATED_LABEL}=true"),
                    name="sim-node-faults")
        return self._handle(sim)

    async def stop_node(self, name: str) -> None:
        """Stop the agent; the Node object stays (like a stopped container, it will go NotReady)."""
        sim = self.nodes.get(name)
        if sim is None:
            return
        sim.running = False
        await self._cancel(sim.heartbeat)
        sim.heartbeat = None
        if not any(s.running for s in self.nodes.values()):
            await self._cancel(self._pod_task)
            await self._cancel(self._node_task)
            self._pod_task = self._node_task = None

    async def list_nodes(self) -> list[NodeHandle]:
        return [self._handle(s) for s in self.nodes.values()]

    async def delete(self, purge: bool = False) -> None:
        """Stop every agent and delete the Node objects (there is nothing else to remove)."""
        for name in list(self.nodes):
            await self.stop_node(name)
            for resource, ns in (("nodes", None), ("leases", LEASE_NAMESPACE)):
                try:
                    await self.client.delete(resource, name, ns)
                except errors.NotFound:
                    pass
        self.nodes.clear()

    async def close(self) -> None:
        for name in list(self.nodes):
            await self.stop_node(name)
        await self._cancel(self._node_task)
        self._node_task = None
        for t in list(self._pod_tasks):
            await self._cancel(t)

    def _handle(self, sim: SimulatedNode) -> NodeHandle:
        status = "stopped" if not sim.running or sim.fault == "killed" else (
            "paused" if sim.paused else "running")
        return NodeHandle(name=sim.cfg.name, provider=self.name, address=sim.ip, status=status,
                          details={"podCIDR": sim.pod_cidr, "pods": len(sim.ips.by_pod)})

    # --- node lifecycle lessons ----------------------------------------------------------------

    def pause_node(self, name: str) -> None:
        """Stop heartbeats (Lease and Ready) and pod handling: the node goes silent, as if unplugged."""
        self._set_fault(self.nodes[name], "paused")

    def unpause_node(self, name: str) -> None:
        """Resume: Ready is posted again at once and pods missed meanwhile are caught up."""
        self._set_fault(self.nodes[name], None)

    def _on_node(self, type_: str, node: dict[str, Any]) -> None:
        """The node watch: act when a simulated node's ``kubetui.dev/fault`` annotation changes."""
        sim = self.nodes.get(node["metadata"].get("name"))
        if type_ == "DELETED" or sim is None or not sim.running:
            return
        patch = None if sim.silent else allocatable_patch(node.get("status") or {})
        if patch is not None:
            self._spawn(self._patch_allocatable(sim, patch))
        value = (node["metadata"].get("annotations") or {}).get(FAULT_ANNOTATION) or None
        if value == sim.seen_annotation:
            return
        sim.seen_annotation = value
        if value is not None and value not in NODE_FAULTS:
            log.warning("simulated node %s: ignoring %s=%r (known: %s)", sim.cfg.name, FAULT_ANNOTATION,
                        value, ", ".join(NODE_FAULTS))
            return
        self._set_fault(sim, value)

    def _set_fault(self, sim: SimulatedNode, fault: str | None) -> None:
        before, sim.fault = sim.fault, fault
        if before == fault:
            return
        log.info("simulated node %s: %s", sim.cfg.name, fault or f"back after being {before}")
        if fault is None and sim.running:
            self._spawn(self._resume(sim, rebooted=before == "killed"))

    async def _resume(self, sim: SimulatedNode, rebooted: bool) -> None:
        """What a kubelet does when it runs again: renew the Lease, post Ready now, sync its pods.

        The Lease goes first so that anyone who sees Ready=True again also sees a fresh Lease.
        """
        try:
            if self.heartbeats and not sim.silent and not rebooted:
                await self._renew_lease(sim)
            if rebooted:
                await self._register(sim)
            elif self.heartbeats:
                await self._post_ready(sim)
            if self.heartbeats and not sim.silent and rebooted:
                await self._renew_lease(sim)
            if self.run_pods and not sim.silent:
                await self._resync_pods(sim, restart=rebooted)
        except asyncio.CancelledError:
            raise
        except Exception as e:         # the next heartbeat tries again
            log.warning("simulated node %s: resuming failed: %s", sim.cfg.name, e)

    # --- registration and heartbeats -------------------------------------------------------------

    async def _register(self, sim: SimulatedNode) -> None:
        now = rfc3339(self.clock.time())
        obj = node_object(sim.cfg, sim.index, now)
        try:
            created = await self.client.create("nodes", obj)
            sim.uid = created["metadata"].get("uid")
        except errors.AlreadyExists:
            # Re-registration after a restart: refresh capacity and conditions (the kubelet's
            # "tryUpdateNodeStatus"); labels set by users stay. A node a fault keeps down
            # (kubetui.dev/fault) comes up down: it posts nothing.
            existing = await self.client.get("nodes", sim.cfg.name)
            fault = (existing["metadata"].get("annotations") or {}).get(FAULT_ANNOTATION)
            if not sim.running and fault in NODE_FAULTS:
                sim.uid = existing["metadata"].get("uid")
                sim.fault = sim.seen_annotation = fault
                return
            current = await self.client.patch("nodes", sim.cfg.name, {"status": obj["status"]},
                                              subresource="status", patch_type=MERGE_PATCH)
            sim.uid = current["metadata"].get("uid")

    async def _patch_allocatable(self, sim: SimulatedNode, patch: dict[str, Any]) -> None:
        try:
            await self.client.patch("nodes", sim.cfg.name, {"status": {"allocatable": patch}},
                                    subresource="status", patch_type=MERGE_PATCH)
        except asyncio.CancelledError:
            raise
        except Exception as e:      # the next node event tries again
            log.warning("simulated node %s: updating allocatable failed: %s", sim.cfg.name, e)

    async def _renew_lease(self, sim: SimulatedNode) -> None:
        lease = lease_object(sim.cfg.name, sim.uid, self.timings.node_lease_duration_seconds,
                             rfc3339_micro(self.clock.time()))
        try:
            await self.client.patch("leases", sim.cfg.name, {"spec": lease["spec"]}, LEASE_NAMESPACE,
                                    patch_type=MERGE_PATCH)
        except errors.NotFound:
            try:
                await self.client.create("leases", lease, LEASE_NAMESPACE)
            except errors.AlreadyExists:
                pass

    async def _post_ready(self, sim: SimulatedNode) -> None:
        """Refresh the Ready condition's heartbeat (and turn it back True after a pause)."""
        node = await self.client.get("nodes", sim.cfg.name)
        now = rfc3339(self.clock.time())
        old = {c["type"]: c for c in (node.get("status") or {}).get("conditions") or ()}
        conds = node_conditions(now, now)
        for c in conds:
            prev = old.get(c["type"])
            if prev and prev.get("status") == c["status"]:
                c["lastTransitionTime"] = prev.get("lastTransitionTime", now)
        await self.client.patch("nodes", sim.cfg.name, {"status": {"conditions": conds}},
                                subresource="status", patch_type=MERGE_PATCH)

    async def _heartbeat_loop(self, sim: SimulatedNode) -> None:
        t = self.timings
        since_status = 0.0
        while True:
            await self.clock.sleep(t.node_lease_renew_seconds)
            if sim.silent:
                continue
            since_status += t.node_lease_renew_seconds
            try:
                await self._renew_lease(sim)
                if since_status >= t.node_status_update_seconds:
                    since_status = 0.0
                    await self._post_ready(sim)
            except asyncio.CancelledError:
                raise
            except Exception as e:      # the API may be restarting; try again next beat
                log.warning("simulated node %s: heartbeat failed: %s", sim.cfg.name, e)

    # --- pods ------------------------------------------------------------------------------------

    async def _watch_loop(self, resource: str, on_event: Any, label_selector: str | None = None) -> None:
        """List then watch ``resource`` (relisting when the watch breaks); ``on_event(type, obj)``.

        Pods: act on those bound to a running simulated node. Nodes: faults.
        """
        rv: str | None = None
        while True:
            try:
                if rv is None:
                    listed = await self.client.list(resource, label_selector=label_selector)
                    rv = listed["metadata"].get("resourceVersion")
                    for obj in listed.get("items") or ():
                        on_event("ADDED", obj)
                async for ev in self.client.watch(resource, resource_version=rv, label_selector=label_selector):
                    if ev.type == "BOOKMARK":
                        rv = ev.object["metadata"].get("resourceVersion") or rv
                        continue
                    if ev.type == "ERROR":
                        raise errors.StatusError.from_status(ev.object)
                    rv = ev.object["metadata"].get("resourceVersion") or rv
                    on_event(ev.type, ev.object)
            except asyncio.CancelledError:
                raise
            except errors.Gone:
                rv = None
            except Exception as e:
                log.warning("simulated nodes: %s watch failed (%s); relisting", resource, e)
                rv = None
                await self.clock.sleep(1.0)

    def _on_pod(self, type_: str, pod: dict[str, Any]) -> None:
        node_name = (pod.get("spec") or {}).get("nodeName")
        sim = self.nodes.get(node_name) if node_name else None
        if sim is None:
            return
        meta = pod["metadata"]
        key = f"{meta.get('namespace')}/{meta.get('name')}"
        if type_ == "DELETED":
            sim.ips.give_back(key)
            self._started_pods.discard(f"{key}/{meta.get('uid')}")
            return
        if not sim.running or sim.silent:
            return
        if meta.get("deletionTimestamp"):
            self._spawn(self._finish_deletion(sim, pod))
            return
        phase = (pod.get("status") or {}).get("phase")
        ephemeral = ephemeral_statuses(pod, rfc3339(self.clock.time()))   # kubectl debug: none runs here
        if ephemeral is not None:
            self._spawn(self.client.patch("pods", meta["name"], {"status": {"ephemeralContainerStatuses": ephemeral}},
                                          meta.get("namespace"), subresource="status", patch_type=MERGE_PATCH))
        ident = f"{key}/{meta.get('uid')}"
        if phase in (None, "", "Pending") and ident not in self._started_pods:
            self._started_pods.add(ident)
            self._spawn(self._start_pod(sim, pod, key, ident))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._pod_tasks.add(task)
        task.add_done_callback(self._pod_tasks.discard)

    async def _start_pod(self, sim: SimulatedNode, pod: dict[str, Any], key: str, ident: str) -> None:
        meta = pod["metadata"]
        status = running_status(pod, sim.ip, sim.ips.take(key), rfc3339(self.clock.time()))
        try:
            await self.client.patch("pods", meta["name"], {"status": status}, meta.get("namespace"),
                                    subresource="status", patch_type=MERGE_PATCH)
            self.pods_started += 1
            plan = run_plan(pod)
            if plan is not None:
                self._spawn(self._run_to_completion(sim, pod, status, ident, *plan))
        except errors.NotFound:
            sim.ips.give_back(key)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self._started_pods.discard(ident)
            log.warning("simulated node %s: starting %s failed: %s", sim.cfg.name, key, e)

    async def _run_to_completion(self, sim: SimulatedNode, pod: dict[str, Any], status: dict[str, Any],
                                 ident: str, seconds: float, code: int) -> None:
        """The containers "exit" after ``seconds``; OnFailure restarts a failure in place (with backoff)."""
        meta = pod["metadata"]
        restarts = 0
        while ident in self._started_pods:
            await self.clock.sleep(seconds)
            if ident not in self._started_pods or not sim.running or sim.silent:
                return
            now = rfc3339(self.clock.time())
            again = code != 0 and (pod.get("spec") or {}).get("restartPolicy") == "OnFailure"
            status = restarted_status(status, code, now) if again else finished_status(status, code, now)
            try:
                await self.client.patch("pods", meta["name"], {"status": status}, meta.get("namespace"),
                                        subresource="status", patch_type=MERGE_PATCH)
            except errors.NotFound:
                return
            if not again:
                return
            restarts += 1
            await self.clock.sleep(min(self.timings.crashloop_backoff_initial_seconds * 2 ** (restarts - 1),
                                       self.timings.crashloop_backoff_max_seconds))

    async def _resync_pods(self, sim: SimulatedNode, restart: bool) -> None:
        """After an outage: start pods bound meanwhile, finish deleted ones, restart the rest after a reboot."""
        listed = await self.client.list("pods", field_selector=f"spec.nodeName={sim.cfg.name}")
        for pod in listed.get("items") or ():
            status = pod.get("status") or {}
            live = status.get("phase") == "Running" and not pod["metadata"].get("deletionTimestamp")
            if live and restart:
                await self._restart_pod(sim, pod)
            elif live and any(c.get("type") == "Ready" and c.get("status") != "True"
                              for c in status.get("conditions") or ()):
                await self._repost_ready(pod)
            else:
                self._on_pod("MODIFIED", pod)

    async def _repost_ready(self, pod: dict[str, Any]) -> None:
        """Someone (the node lifecycle controller) marked a pod not Ready while we were silent:
        the kubelet's status manager writes back what it sees - its containers are ready."""
        now = rfc3339(self.clock.time())
        conds = []
        for c in (pod.get("status") or {}).get("conditions") or ():
            c = dict(c)
            if c.get("type") in ("Ready", "ContainersReady") and c.get("status") != "True":
                c.update({"status": "True", "lastTransitionTime": now})
                c.pop("reason", None)
                c.pop("message", None)
            conds.append(c)
        meta = pod["metadata"]
        try:
            await self.client.patch("pods", meta["name"], {"status": {"conditions": conds}}, meta.get("namespace"),
                                    subresource="status", patch_type=MERGE_PATCH)
        except errors.NotFound:
            pass

    async def _restart_pod(self, sim: SimulatedNode, pod: dict[str, Any]) -> None:
        """The machine rebooted: each container ran again (kubelet ``SyncPod`` after a new boot)."""
        meta = pod["metadata"]
        key = f"{meta.get('namespace')}/{meta.get('name')}"
        now = rfc3339(self.clock.time())
        status = running_status(pod, sim.ip, sim.ips.take(key), now)
        old = {c.get("name"): c for c in (pod.get("status") or {}).get("containerStatuses") or ()}
        for cs in status["containerStatuses"]:
            prev = old.get(cs["name"]) or {}
            started = ((prev.get("state") or {}).get("running") or {}).get("startedAt")
            cs["restartCount"] = int(prev.get("restartCount") or 0) + 1
            cs["containerID"] = "simulated://" + hashlib.sha256(
                f"{meta.get('uid')}/{cs['name']}/{cs['restartCount']}".encode()).hexdigest()[:32]
            cs["lastState"] = {"terminated": {"exitCode": 255, "reason": "Unknown", "startedAt": started,
                                              "finishedAt": now, "containerID": prev.get("containerID")}}
        status["startTime"] = (pod.get("status") or {}).get("startTime") or now
        try:
            await self.client.patch("pods", meta["name"], {"status": status}, meta.get("namespace"),
                                    subresource="status", patch_type=MERGE_PATCH)
        except errors.NotFound:
            sim.ips.give_back(key)

    async def _finish_deletion(self, sim: SimulatedNode, pod: dict[str, Any]) -> None:
        """The containers "stopped" at once: delete with grace 0, as the kubelet finally does."""
        meta = pod["metadata"]
        try:
            await self.client.delete("pods", meta["name"], meta.get("namespace"), grace_period_seconds=0,
                                     uid=meta.get("uid"))
            self.pods_finished += 1
        except (errors.NotFound, errors.Conflict):
            pass
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.warning("simulated node %s: deleting %s failed: %s", sim.cfg.name, meta.get("name"), e)

    @staticmethod
    async def _cancel(task: asyncio.Task[Any] | None) -> None:
        if task is None:
            return
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, Exception):
            pass
