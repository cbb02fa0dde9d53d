"""An in-memory ``Client`` and backend with realistic objects, for TUI tests and snapshots.

It implements the ``kubetui.client.base.Client`` verbs on dicts (one global
resourceVersion, watch fan-out, 410 for too-old versions is not modelled).
Acceptance tests use the real in-process cluster; this keeps widget tests
and snapshots fast and deterministic (fixed timestamps, fixed clock).
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
from typing import Any, AsyncIterator

from kubetui.api import errors
from kubetui.api.resources import resource_for
from kubetui.client.base import WatchEvent
from kubetui.tui.backend import ClientBackend, StartupPhase, StoreKey, StoreSnapshot

FIXED_NOW = 1_700_000_000.0


def ts(seconds_ago: float) -> str:
    return dt.datetime.fromtimestamp(FIXED_NOW - seconds_ago, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _merge(dst: dict, patch: dict) -> dict:
    for k, v in patch.items():
        if v is None:
            dst.pop(k, None)
        elif isinstance(v, dict) and isinstance(dst.get(k), dict):
            _merge(dst[k], v)
        else:
            dst[k] = copy.deepcopy(v)
    return dst


class FakeClient:
    """The ``Client`` protocol over dicts."""

    def __init__(self) -> None:
        self.rv = 100
        self.objects: dict[str, dict[str, dict]] = {}
        self._watchers: list[tuple[str, asyncio.Queue[WatchEvent | None]]] = []
        self.calls: list[tuple[str, str, str]] = []

    @staticmethod
    def _key(obj: dict) -> str:
        md = obj["metadata"]
        return f"{md['namespace']}/{md['name']}" if md.get("namespace") else md["name"]

    def _plural(self, resource: str) -> str:
        return resource_for(resource).plural

    def _emit(self, plural: str, kind: str, obj: dict) -> None:
        for res, q in self._watchers:
            if res == plural:
                q.put_nowait(WatchEvent(kind, copy.deepcopy(obj)))

    def put(self, resource: str, obj: dict, kind: str | None = None) -> dict:
        """Store ``obj`` with a fresh resourceVersion and tell watchers (test helper)."""
        plural = self._plural(resource)
        res = resource_for(plural)
        obj = copy.deepcopy(obj)
        obj.setdefault("apiVersion", res.api_version)
        obj.setdefault("kind", res.kind)
        obj["metadata"].setdefault("creationTimestamp", ts(0))
        obj["metadata"].setdefault("uid", f"uid-{obj['metadata']['name']}")
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        bucket = self.objects.setdefault(plural, {})
        key = self._key(obj)
        event = kind or ("MODIFIED" if key in bucket else "ADDED")
        bucket[key] = obj
        self._emit(plural, event, obj)
        return copy.deepcopy(obj)

    def _find(self, resource: str, name: str, namespace: str | None) -> dict:
        plural = self._plural(resource)
        key = f"{namespace}/{name}" if namespace and resource_for(plural).namespaced else name
        try:
            return self.objects.get(plural, {})[key]
        except KeyError:
            raise errors.NotFound(f'{plural} "{name}" not found', name=name, kind=plural) from None

    async def get(self, resource: str, name: str, namespace: str | None = None, *, subresource: str | None = None) -> dict:
        return copy.deepcopy(self._find(resource, name, namespace))

    async def list(self, resource: str, namespace: str | None = None, **kw: Any) -> dict:
        plural = self._plural(resource)
        items = [copy.deepcopy(o) for o in self.objects.get(plural, {}).values()
                 if namespace is None or o["metadata"].get("namespace") == namespace]
        return {"kind": resource_for(plural).kind + "List", "apiVersion": "v1",
                "metadata": {"resourceVersion": str(self.rv)}, "items": items}

    async def create(self, resource: str, obj: dict, namespace: str | None = None, **kw: Any) -> dict:
        obj = copy.deepcopy(obj)
        if namespace:
            obj["metadata"]["namespace"] = namespace
        self.calls.append(("create", self._plural(resource), obj["metadata"]["name"]))
        return self.put(resource, obj, "ADDED")

    async def update(self, resource: str, obj: dict, namespace: str | None = None, **kw: Any) -> dict:
        return self.put(resource, obj, "MODIFIED")

    async def patch(self, resource: str, name: str, patch: Any, namespace: str | None = None, *,
                    subresource: str | None = None, **kw: Any) -> dict:
        self.calls.append(("patch", self._plural(resource), name))
        obj = copy.deepcopy(self._find(resource, name, namespace))
        _merge(obj, patch)
        return self.put(resource, obj, "MODIFIED")

    async def delete(self, resource: str, name: str, namespace: str | None = None, **kw: Any) -> dict:
        plural = self._plural(resource)
        obj = self._find(resource, name, namespace)
        self.calls.append(("delete", plural, name))
        del self.objects[plural][self._key(obj)]
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self._emit(plural, "DELETED", obj)
        return copy.deepcopy(obj)

    async def watch(self, resource: str, namespace: str | None = None, *, resource_version: str | None = None,
                    **kw: Any) -> AsyncIterator[WatchEvent]:
        plural = self._plural(resource)
        q: asyncio.Queue[WatchEvent | None] = asyncio.Queue()
        entry = (plural, q)
        self._watchers.append(entry)
        try:
            if resource_version is None:
                for o in list(self.objects.get(plural, {}).values()):
                    yield WatchEvent("ADDED", copy.deepcopy(o))
            while True:
                ev = await q.get()
                if ev is None:
                    return
                yield ev
        finally:
            self._watchers.remove(entry)

    async def close(self) -> None:
        for _, q in self._watchers:
            q.put_nowait(None)


# -- realistic objects ------------------------------------------------------------

def node(name: str, *, ready: bool = True, cpu: str = "2", memory: str = "2Gi", role: str | None = None) -> dict:
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}
    if role:
        labels[f"node-role.kubernetes.io/{role}"] = ""
    return {
        "metadata": {"name": name, "labels": labels, "creationTimestamp": ts(3600)},
        "spec": {"podCIDR": "10.244.1.0/24"},
        "status": {
            "capacity": {"cpu": cpu, "memory": memory, "pods": "110"},
            "allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True" if ready else "Unknown",
                            "reason": "KubeletReady" if ready else "NodeStatusUnknown",
                            "lastHeartbeatTime": ts(5), "lastTransitionTime": ts(3600)}],
            "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}, {"type": "Hostname", "address": name}],
            "nodeInfo": {"kubeletVersion": "v1.30.0-kubetui", "containerRuntimeVersion": "kubetui://0.1",
                         "osImage": "kubetui node", "architecture": "amd64", "operatingSystem": "linux"},
        },
    }


def pod(name: str, *, node_name: str | None = "node-1", state: str = "Ready", ns: str = "default",
        owner: str | None = None, labels: dict | None = None, cpu: str = "100m", memory: str = "64Mi",
        ip: str = "10.244.1.5", age: float = 600) -> dict:
    """A pod in one of the map's chip states."""
    md: dict[str, Any] = {"name": name, "namespace": ns, "labels": labels or {"app": name.split("-")[0]},
                          "creationTimestamp": ts(age)}
    if owner:
        md["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": owner,
                                  "uid": f"uid-{owner}", "controller": True, "blockOwnerDeletion": True}]
    container_state: dict[str, Any] = {"running": {"startedAt": ts(age - 2)}}
    ready, phase, restarts = True, "Running", 0
    conds = [{"type": "PodScheduled", "status": "True"}]
    if state == "Pending":
        phase, container_state, ready, node_name = "Pending", {}, False, None
        conds = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                  "message": "0/3 nodes are available: 3 Insufficient cpu."}]
    elif state == "ContainerCreating":
        phase, container_state, ready = "Pending", {"waiting": {"reason": "ContainerCreating"}}, False
    elif state == "Running":
        ready = False
    elif state == "CrashLoopBackOff":
        container_state = {"waiting": {"reason": "CrashLoopBackOff",
                                       "message": "back-off 40s restarting failed container"}}
        ready, restarts = False, 4
    elif state == "OOMKilled":
        container_state = {"terminated": {"reason": "OOMKilled", "exitCode": 137}}
        ready, restarts = False, 1
    conds.append({"type": "Ready", "status": "True" if ready else "False"})
    p = {
        "metadata": md,
        "spec": {"nodeName": node_name, "containers": [{"name": "app", "image": "nginx:1.27",
                 "ports": [{"containerPort": 80, "protocol": "TCP"}],
                 "resources": {"requests": {"cpu": cpu, "memory": memory}}}],
                 "restartPolicy": "Always", "schedulerName": "default-scheduler",
                 "serviceAccountName": "default", "terminationGracePeriodSeconds": 30},
        "status": {"phase": phase, "conditions": conds, "qosClass": "Burstable",
                   "podIP": ip if node_name and state != "ContainerCreating" else None,
                   "hostIP": "172.18.0.2" if node_name else None,
                   "startTime": ts(age) if node_name else None,
                   "containerStatuses": [{"name": "app", "image": "nginx:1.27", "ready": ready,
                                          "restartCount": restarts, "state": container_state,
                                          "started": ready,
                                          "imageID": "docker.io/library/nginx@sha256:" + "4f" * 32,
                                          "containerID": "kubetui://" + "a1" * 32}] if node_name else []},
    }
    if not node_name:
        del p["spec"]["nodeName"]
    if state == "Terminating":
        md["deletionTimestamp"] = ts(-30)
        md["deletionGracePeriodSeconds"] = 30
    return p


def sample_objects() -> list[tuple[str, dict]]:
    """A small cluster: 3 nodes, a 3-replica Deployment, a Service, pods in every chip state."""
    rs = "web-7d4b9c8f6"
    objs: list[tuple[str, dict]] = [
        ("namespaces", {"metadata": {"name": "default", "creationTimestamp": ts(3600)}, "status": {"phase": "Active"}}),
        ("namespaces", {"metadata": {"name": "kube-system", "creationTimestamp": ts(3600)}, "status": {"phase": "Active"}}),
        ("nodes", node("node-1")), ("nodes", node("node-2")), ("nodes", node("node-3", ready=False)),
        ("deployments", {"metadata": {"name": "web", "namespace": "default", "uid": "uid-web", "generation": 1,
                                      "labels": {"app": "web"}, "creationTimestamp": ts(600)},
                         "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                                  "strategy": {"type": "RollingUpdate",
                                               "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                                  "template": {"metadata": {"labels": {"app": "web"}},
                                               "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}},
                         "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3,
                                    "availableReplicas": 2, "observedGeneration": 1}}),
        ("replicasets", {"metadata": {"name": rs, "namespace": "default", "uid": f"uid-{rs}",
                                      "labels": {"app": "web", "pod-template-hash": "7d4b9c8f6"},
                                      "creationTimestamp": ts(600),
                                      "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                                           "name": "web", "uid": "uid-web", "controller": True}]},
                         "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}},
                         "status": {"replicas": 3, "readyReplicas": 2, "availableReplicas": 2}}),
        ("pods", pod("web-7d4b9c8f6-abcde", node_name="node-1", owner=rs, labels={"app": "web"}, ip="10.244.1.5")),
        ("pods", pod("web-7d4b9c8f6-fghij", node_name="node-2", owner=rs, labels={"app": "web"}, ip="10.244.2.7")),
        ("pods", pod("web-7d4b9c8f6-klmno", node_name="node-2", owner=rs, labels={"app": "web"},
                     state="ContainerCreating")),
        ("pods", pod("crasher", node_name="node-1", state="CrashLoopBackOff", age=300)),
        ("pods", pod("hog", node_name="node-2", state="OOMKilled", memory="256Mi", age=200)),
        ("pods", pod("big", state="Pending", cpu="4", age=120)),
        ("pods", pod("old", node_name="node-1", state="Terminating", age=900)),
        ("pods", pod("warming", node_name="node-1", state="Running", age=30)),
        ("services", {"metadata": {"name": "web", "namespace": "default", "creationTimestamp": ts(600)},
                      "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.20", "selector": {"app": "web"},
                               "ports": [{"port": 80, "targetPort": 80, "protocol": "TCP"}]}}),
        ("endpoints", {"metadata": {"name": "web", "namespace": "default", "creationTimestamp": ts(600)},
                       "subsets": [{"addresses": [{"ip": "10.244.1.5", "nodeName": "node-1",
                                                   "targetRef": {"kind": "Pod", "name": "web-7d4b9c8f6-abcde"}},
                                                  {"ip": "10.244.2.7", "nodeName": "node-2",
                                                   "targetRef": {"kind": "Pod", "name": "web-7d4b9c8f6-fghij"}}],
                                    "ports": [{"port": 80, "protocol": "TCP"}]}]}),
        ("configmaps", {"metadata": {"name": "web-config", "namespace": "default", "creationTimestamp": ts(600)},
                        "data": {"index.html": "<h1>hello</h1>", "mode": "lab"}}),
        ("secrets", {"metadata": {"name": "db-password", "namespace": "default", "creationTimestamp": ts(600)},
                     "type": "Opaque", "data": {"password": "czNjcjN0"}}),
    ]
    events = [
        ("Normal", "Scheduled", "Pod", "web-7d4b9c8f6-abcde", "default-scheduler",
         "Successfully assigned default/web-7d4b9c8f6-abcde to node-1", 590),
        ("Normal", "Pulled", "Pod", "web-7d4b9c8f6-abcde", "kubelet",
         'Container image "nginx:1.27" already present on machine', 588),
        ("Normal", "ScalingReplicaSet", "Deployment", "web", "deployment-controller",
         f"Scaled up replica set {rs} to 3", 600),
        ("Warning", "BackOff", "Pod", "crasher", "kubelet", "Back-off restarting failed container app in pod crasher_default(uid-crasher)", 20),
        ("Warning", "FailedScheduling", "Pod", "big", "default-scheduler",
         "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.", 60),
        ("Warning", "NodeNotReady", "Node", "node-3", "node-controller", "Node node-3 status is now: NodeNotReady", 45),
    ]
    for i, (typ, reason, kind, name, comp, msg, ago) in enumerate(events):
        objs.append(("events", {
            "metadata": {"name": f"{name}.17a{i:04x}", "namespace": "default", "creationTimestamp": ts(ago)},
            "involvedObject": {"kind": kind, "name": name, "namespace": "default"},
            "type": typ, "reason": reason, "message": msg, "source": {"component": comp},
            "firstTimestamp": ts(ago), "lastTimestamp": ts(ago), "count": 1}))
    return objs


def populated_client() -> FakeClient:
    client = FakeClient()
    for resource, obj in sample_objects():
        client.put(resource, obj)
    return client


SAMPLE_EXPLANATION = {
    "apiVersion": "scheduling.kubetui.dev/v1alpha1", "kind": "PodSchedulingDecisions",
    "metadata": {"name": "web-7d4b9c8f6-abcde", "namespace": "default"},
    "attempts": [{
        "attempt": 1, "time": "2023-11-14T22:03:30.000000Z", "profile": "default-scheduler",
        "pod": {"namespace": "default", "name": "web-7d4b9c8f6-abcde", "uid": "uid-web-7d4b9c8f6-abcde"},
        "outcome": "Scheduled", "selectedNode": "node-1",
        "message": "Successfully assigned default/web-7d4b9c8f6-abcde to node-1",
        "numAllNodes": 3, "numNodesToFind": 3, "evaluatedNodes": 3, "feasibleNodes": 2,
        "preFilter": [], "preScoreSkipped": [], "scoringSkipped": "",
        "scorePlugins": [{"name": "NodeResourcesFit", "weight": 1},
                         {"name": "NodeResourcesBalancedAllocation", "weight": 1}],
        "nodes": [
            {"name": "node-1", "filter": {"verdict": "Passed"},
             "scores": [{"plugin": "NodeResourcesFit", "raw": 85, "normalized": 85, "weight": 1, "weighted": 85},
                        {"plugin": "NodeResourcesBalancedAllocation", "raw": 92, "normalized": 92, "weight": 1,
                         "weighted": 92}],
             "total": 177, "selected": True},
            {"name": "node-2", "filter": {"verdict": "Passed"},
             "scores": [{"plugin": "NodeResourcesFit", "raw": 70, "normalized": 70, "weight": 1, "weighted": 70},
                        {"plugin": "NodeResourcesBalancedAllocation", "raw": 88, "normalized": 88, "weight": 1,
                         "weighted": 88}],
             "total": 158, "selected": False},
            {"name": "node-3", "filter": {"verdict": "Rejected", "plugin": "TaintToleration",
                                          "code": "UnschedulableAndUnresolvable",
                                          "reasons": ["node(s) had untolerated taint {node.kubernetes.io/unreachable: }"]}},
        ]}],
}


class FakeBackend(ClientBackend):
    """A backend over ``FakeClient`` with every optional view filled in."""

    def __init__(self, client: FakeClient | None = None, *, with_progress: bool = False) -> None:
        super().__init__(client or populated_client(), cluster_name="lab")
        self.with_progress = with_progress
        self.activity = {"apiserver": 120, "store": 48, "scheduler": 9, "controllers": 30}
        self.log_lines = ["nginx: starting", "GET / 200", "GET /healthz 200"]
        self.progress_gate: asyncio.Event | None = None
        #: service name -> {"ip:port": "open" | "refused" | ...}
        self.probes: dict[str, dict[str, str]] = {}
        #: NetworkPolicy counters, as kubetui.client.views.policy_traffic's rules (a test sets them)
        self.policy_rules: list[dict] = []
        #: the control plane's reconcile log, as a real one (tests publish records into it)
        from kubetui.client.reconciles import ReconcileLog
        from kubetui.clock import FakeClock
        self.reconcile_log = ReconcileLog(clock=FakeClock(FIXED_NOW))
        #: what controlplanestatus answers (``ha_status()``); None: a cluster that does not serve it
        self.cp_status: dict | None = None

    def startup_progress(self) -> AsyncIterator[StartupPhase] | None:
        if not self.with_progress:
            return None

        async def phases() -> AsyncIterator[StartupPhase]:
            yield StartupPhase("image", "building the node image", "a Docker image with Python and the kubelet", 1, 3)
            yield StartupPhase("node-2", "starting node-2", "a Docker container that will run a kubelet", 2, 3)
            if self.progress_gate is not None:
                await self.progress_gate.wait()
            yield StartupPhase("ready", "cluster ready", "every node has registered and is Ready", 3, 3, done=True)
        return phases()

    def control_plane_activity(self) -> dict[str, int]:
        return dict(self.activity)

    async def store_view(self, prefix: str = "/registry/") -> StoreSnapshot:
        snap = await super().store_view(prefix)
        return StoreSnapshot(snap.revision, [StoreKey(k.key, k.mod_revision, k.mod_revision, 1) for k in snap.keys])

    async def explain(self, namespace: str, name: str) -> dict | None:
        return SAMPLE_EXPLANATION if name.startswith("web-") else None

    async def pod_logs(self, namespace: str, name: str, container: str | None = None, *, follow: bool = True,
                       tail: int | None = 200) -> AsyncIterator[str]:
        for line in self.log_lines:
            yield f"[{name}] {line}"

    def service_traffic(self, namespace: str, name: str) -> dict[str, int]:
        return {"10.244.1.5:80": 60, "10.244.2.7:80": 40} if name == "web" else {}

    def policy_traffic(self) -> list[dict]:
        return list(self.policy_rules)

    def service_probes(self, namespace: str, name: str) -> dict[str, str]:
        """What each endpoint's kube-proxy found knocking (a test sets ``probes``)."""
        return dict(self.probes.get(name, {}))

    async def control_plane_status(self) -> dict | None:
        return copy.deepcopy(self.cp_status)

    async def reconciles(self, *, since: int = 0, object: str | None = None, controller: str | None = None,
                         tail: int | None = None, wait: float | None = None, silent: bool = True) -> dict:
        """What the control plane's endpoint answers (``kubetui.cluster.views.reconciles``), from this log."""
        from kubetui.client.views import reconciles_object
        log = self.reconcile_log
        filters = {"object": object, "controller": controller, "tail": tail, "silent": silent}
        records = await log.wait(since, wait, **filters) if wait else log.since(since, **filters)
        return reconciles_object([r.to_dict() for r in records], log.oldest_seq, log.last_seq)


def ha_status(*, leader: str = "lab-control-plane", term: int = 2, down: tuple[str, ...] = (),
              scheduler: str = "lab-control-plane2", controllers: str = "lab-control-plane3") -> dict:
    """A ``ControlPlaneStatus`` of three control-plane nodes on cluster ``lab`` (the shape
    ``kubetui.cluster.cpstatus`` serves), etcd member ``leader`` leading in ``term``, ``down`` members killed."""
    names = ["lab-control-plane", "lab-control-plane2", "lab-control-plane3"]
    healthy = [n not in down for n in names]
    has_quorum = sum(healthy) >= 2 and bool(leader)
    members = [{"name": n, "id": f"{0xa1 + i:x}c0ffee", "endpoint": f"https://127.0.0.1:{23790 + i}",
                "healthy": h and has_quorum, "isLeader": n == leader and has_quorum, "raftTerm": term if h else term - 1,
                "raftIndex": 4211 if h else 4100, "raftAppliedIndex": 4211 if h else 4100, "dbSize": 3_100_000,
                "dbSizeInUse": 2_900_000, "version": "3.5.1",
                "errors": [] if h and has_quorum else (["etcdserver: no leader"] if h else
                                                       ['dial tcp 127.0.0.1:2379: connect: connection refused'])}
               for i, (n, h) in enumerate(zip(names, healthy))]
    lease = lambda name, node: {"name": name, "namespace": "kube-system", "holderIdentity": f"{node}_4b1e",  # noqa: E731
                                "holderNode": node, "acquireTime": ts(120), "renewTime": ts(1),
                                "leaseDurationSeconds": 2, "leaseTransitions": 1, "found": True}
    return {"apiVersion": "controlplane.kubetui.dev/v1alpha1", "kind": "ControlPlaneStatus", "metadata": {},
            "servedBy": "lab-control-plane2", "topology": "stacked-etcd",
            "nodes": [{"name": n, "pid": 4000 + i, "process": "Running", "apiServer": f"127.0.0.1:{6440 + i}",
                       "apiServerReady": True, "etcdMember": n, "etcdHealthy": m["healthy"],
                       "etcdLeader": m["isLeader"],
                       "leads": [x for x, h in (("kube-scheduler", scheduler), ("kube-controller-manager", controllers))
                                 if h == n]}
                      for i, (n, m) in enumerate(zip(names, members))],
            "store": {"backend": "etcd", "revision": 4187},
            "etcd": {"members": members, "leader": leader if has_quorum else "", "raftTerm": term, "quorum": 2,
                     "healthyMembers": sum(1 for m in members if m["healthy"]), "reachableMembers": sum(healthy),
                     "hasQuorum": sum(healthy) >= 2},
            "apiServers": [{"node": n, "address": f"127.0.0.1:{6440 + i}", "healthy": True, "connections": 1,
                            "served": 40 + i, "lastError": ""} for i, n in enumerate(names)],
            "recentRequests": ["lab-control-plane", "lab-control-plane2", "lab-control-plane3", "lab-control-plane"],
            "leases": [lease("kube-scheduler", scheduler), lease("kube-controller-manager", controllers)],
            "errors": []}
