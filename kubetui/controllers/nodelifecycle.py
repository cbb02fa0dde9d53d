"""The node lifecycle controller: notice silent nodes and taint unhealthy ones.

Upstream: ``pkg/controller/nodelifecycle/node_lifecycle_controller.go``
(monitorNodeHealth, tryUpdateNodeHealth, doNoExecuteTaintingPass,
doNoScheduleTaintingPass). Kubelets prove they are alive by renewing a Lease
in ``kube-node-lease`` (and by posting node status). The controller remembers
*when it last saw* either change, on its own clock (never trusting the
kubelet's timestamps); a node silent for longer than
``node_monitor_grace_seconds`` gets ``Ready=Unknown`` ("Kubelet stopped
posting node status."). Then the Ready condition becomes taints:

* Ready=False   -> ``node.kubernetes.io/not-ready``   NoSchedule + NoExecute
* Ready=Unknown -> ``node.kubernetes.io/unreachable`` NoSchedule + NoExecute

plus the other TaintNodesByCondition NoSchedule taints (memory/disk/pid
pressure, network-unavailable, unschedulable). When the kubelet comes back and
posts Ready=True, the taints go. Upstream rate-limits NoExecute tainting per
zone (``--node-eviction-rate``); kubetui's clusters are one zone of a few
nodes, so it taints at once.
"""

from __future__ import annotations

import copy
from typing import Any

from kubetui.api import errors
from kubetui.client import reconciles
from kubetui.clock import rfc3339
from kubetui.controllers.base import Controller
from kubetui.controllers.util import meta

Obj = dict[str, Any]

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
# TaintNodesByCondition: condition type -> (status that taints, taint key)
CONDITION_TAINTS = {
    "MemoryPressure": ("True", "node.kubernetes.io/memory-pressure"),
    "DiskPressure": ("True", "node.kubernetes.io/disk-pressure"),
    "PIDPressure": ("True", "node.kubernetes.io/pid-pressure"),
    "NetworkUnavailable": ("True", "node.kubernetes.io/network-unavailable"),
}
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
MANAGED_KEYS = {NOT_READY, UNREACHABLE, UNSCHEDULABLE, *(k for _, k in CONDITION_TAINTS.values())}
LEASE_NAMESPACE = "kube-node-lease"


def ready_status(node: Obj) -> str:
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") or "Unknown"
    return "Unknown"


def desired_taints(node: Obj) -> set[tuple[str, str]]:
    """(key, effect) taints the node's conditions call for."""
    out: set[tuple[str, str]] = set()
    ready = ready_status(node)
    if ready == "False":
        out |= {(NOT_READY, "NoSchedule"), (NOT_READY, "NoExecute")}
    elif ready == "Unknown":
        out |= {(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")}
    for c in (node.get("status") or {}).get("conditions") or []:
        rule = CONDITION_TAINTS.get(c.get("type", ""))
        if rule and c.get("status") == rule[0]:
            out.add((rule[1], "NoSchedule"))
    if (node.get("spec") or {}).get("unschedulable"):
        out.add((UNSCHEDULABLE, "NoSchedule"))
    return out


def reconcile_taints(node: Obj, now: str) -> list[Obj] | None:
    """The node's new ``spec.taints`` (others' taints kept), or None if nothing changes.

    NoExecute taints carry ``timeAdded``: tolerationSeconds count from it.
    """
    current = list((node.get("spec") or {}).get("taints") or [])
    want = desired_taints(node)
    keep = [t for t in current if t.get("key") not in MANAGED_KEYS or (t.get("key"), t.get("effect")) in want]
    have = {(t.get("key"), t.get("effect")) for t in keep}
    added = []
    for key, effect in sorted(want - have):
        taint: Obj = {"key": key, "effect": effect}
        if effect == "NoExecute":
            taint["timeAdded"] = now
        added.append(taint)
    if not added and len(keep) == len(current):
        return None
    return keep + added


class NodeLifecycleController(Controller):
    name = "node-lifecycle"
    kind = "Node"
    component = "node-controller"

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.node_informer = self.factory.informer("nodes")
        self.lease_informer = self.factory.informer("leases", LEASE_NAMESPACE)
        # node -> monotonic time of the last sign of life the controller observed (probeTimestamp)
        self.last_seen: dict[str, float] = {}
        self.node_informer.add_handler(self._node_added, self._node_updated, self._node_deleted)
        self.lease_informer.add_handler(self._lease_changed, lambda old, new: self._lease_updated(old, new))

    def _node_added(self, node: Obj) -> None:
        self.last_seen.setdefault(meta(node)["name"], self.clock.monotonic())
        self.enqueue(node)

    def _node_updated(self, old: Obj, new: Obj) -> None:
        if _heartbeat(old) != _heartbeat(new) and ready_status(new) != "Unknown":
            self.last_seen[meta(new)["name"]] = self.clock.monotonic()
        self.enqueue(new)

    def _node_deleted(self, node: Obj) -> None:
        self.last_seen.pop(meta(node)["name"], None)

    def _lease_changed(self, lease: Obj) -> None:
        name = meta(lease).get("name", "")
        self.last_seen[name] = self.clock.monotonic()
        self.queue.add(name)

    def _lease_updated(self, old: Obj, new: Obj) -> None:
        if (old.get("spec") or {}).get("renewTime") != (new.get("spec") or {}).get("renewTime"):
            self._lease_changed(new)

    def loops(self) -> list[Any]:
        return [self._monitor]

    async def _monitor(self) -> None:
        """``monitorNodeHealth`` every node_monitor_period: look at every node."""
        while True:
            await self.clock.sleep(self.timings.node_monitor_period_seconds)
            for node in self.node_informer.list():
                self.enqueue(node)

    def silent_for(self, name: str) -> float:
        return self.clock.monotonic() - self.last_seen.get(name, self.clock.monotonic())

    async def reconcile(self, key: Any) -> float | None:
        cached = self.node_informer.get(key)
        if cached is None:
            return None
        node = copy.deepcopy(cached)
        now = rfc3339(self.clock.time())
        silent, grace = self.silent_for(key), self.timings.node_monitor_grace_seconds
        reconciles.observe(f"Ready={ready_status(node)}; last heartbeat {silent:.1f}s ago (grace {grace:g}s)")
        if silent > grace:
            reconciles.decide("no heartbeat within the grace period: the kubelet's conditions become Unknown",
                              action="mark-unknown")
            node = await self._mark_unknown(node, now)
        taints = reconcile_taints(node, now)
        if taints is not None:
            reconciles.decide("set taints " + (", ".join(f"{t.get('key')}:{t.get('effect')}" for t in taints)
                                                or "(none)"), action="taint")
            node.setdefault("spec", {})["taints"] = taints
            try:
                await self.client.update("nodes", node)
            except errors.NotFound:
                return None
        if ready_status(node) != "True":
            await self._mark_pods_not_ready(key, now)
        return None

    async def _mark_pods_not_ready(self, node_name: str, now: str) -> None:
        """``MarkPodsNotReady``: a pod on a node that is not Ready is not Ready either.

        Its kubelet cannot say so, so the controller does: the pods' Ready
        condition turns False and the endpoints controllers take them out of
        every Service at once, long before eviction replaces them.
        """
        pods = await self.client.list("pods", field_selector=f"spec.nodeName={node_name}")
        for pod in pods.get("items") or []:
            conds = (pod.get("status") or {}).get("conditions") or []
            if meta(pod).get("deletionTimestamp") or not any(
                    c.get("type") == "Ready" and c.get("status") == "True" for c in conds):
                continue
            reconciles.decide(f"mark pod {meta(pod).get('namespace')}/{meta(pod)['name']} not Ready (its node is not)",
                              action="pod-not-ready")
            for c in conds:
                if c.get("type") == "Ready":
                    c.update({"status": "False", "lastTransitionTime": now})
            try:
                await self.client.update("pods", pod, meta(pod).get("namespace"), subresource="status")
            except (errors.NotFound, errors.Conflict):
                continue  # gone, or changed under us: the next monitor pass looks again
            self.event(pod, "Warning", "NodeNotReady", "Node is not ready")

    async def _mark_unknown(self, node: Obj, now: str) -> Obj:
        """``tryUpdateNodeHealth``: every condition the kubelet owns becomes Unknown."""
        conditions = (node.get("status") or {}).get("conditions") or []
        changed = False
        seen = set()
        for c in conditions:
            seen.add(c.get("type"))
            if c.get("type") in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure") and c.get("status") != "Unknown":
                c.update({"status": "Unknown", "reason": "NodeStatusUnknown",
                          "message": "Kubelet stopped posting node status.", "lastTransitionTime": now})
                changed = True
        if "Ready" not in seen:
            conditions.append({"type": "Ready", "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                               "message": "Kubelet never posted node status.", "lastHeartbeatTime": now,
                               "lastTransitionTime": now})
            node.setdefault("status", {})["conditions"] = conditions
            changed = True
        if not changed:
            return node
        self.log.info("node %s: no heartbeat for %.1fs, marking Ready=Unknown", meta(node)["name"],
                      self.silent_for(meta(node)["name"]))
        self.event(node, "Normal", "NodeNotReady", f"Node {meta(node)['name']} status is now: NodeNotReady")
        return await self.client.update("nodes", node, subresource="status")


def _heartbeat(node: Obj) -> Any:
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return (c.get("lastHeartbeatTime"), c.get("status"))
    return None
