"""The disruption controller: keep each PodDisruptionBudget's status true to its pods.

Upstream: ``pkg/controller/disruption/disruption.go`` (``trySync``:
``getPodsForPdb``, ``getExpectedPodCount`` through the pods' controllers'
scale, ``countHealthyPods``, ``buildDisruptedPodMap``, ``updatePdbStatus``).
It writes ``expectedPods``, ``desiredHealthy``, ``currentHealthy``,
``disruptionsAllowed``, ``observedGeneration``, the ``DisruptionAllowed``
condition, and forgets ``disruptedPods`` entries once the pod is gone or
two minutes passed. The Eviction API reads this status to allow or refuse
an eviction; the scheduler's preemption reads it to spare budgets. The
arithmetic is ``kubetui.api.disruption``.
"""

from __future__ import annotations

import copy
from typing import Any

from kubetui.api import errors
from kubetui.api.disruption import (DISRUPTED_POD_TIMEOUT, allowed_condition, compute_status, selects,
                                    sync_failed_condition)
from kubetui.api.resources import resource_for
from kubetui.clock import parse_rfc3339, rfc3339
from kubetui.client.informer import split_key
from kubetui.controllers.base import Controller
from kubetui.controllers.util import controller_ref, labels_of, meta

Obj = dict[str, Any]

# Controllers whose scale says how many pods a budget should expect (upstream's finders()).
SCALED = {"ReplicaSet": "replicasets", "ReplicationController": "replicationcontrollers",
          "StatefulSet": "statefulsets", "Deployment": "deployments"}


class DisruptionController(Controller):
    name = "disruption"
    kind = "PodDisruptionBudget"
    component = "controllermanager"
    workers = 1

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.pdb_informer = self.factory.informer("poddisruptionbudgets")
        self.pod_informer = self.factory.informer("pods")
        self.owners: dict[str, Any] = {}
        for kind, plural in SCALED.items():
            try:
                resource_for(plural)
            except KeyError:
                continue  # a kind this server does not serve
            self.owners[kind] = self.factory.informer(plural)
        self.pdb_informer.add_handler(self.enqueue, lambda old, new: self.enqueue(new), None)
        self.pod_informer.add_handler(self._pod_changed, lambda old, new: self._pod_changed(new), self._pod_changed)

    def _pod_changed(self, pod: Obj) -> None:
        """``addPod``/``updatePod``/``deletePod``: requeue the budgets that select it."""
        for pdb in self.pdb_informer.list(meta(pod).get("namespace")):
            if selects(pdb, labels_of(pod)):
                self.enqueue(pdb)

    def expected_from_controllers(self, pods: list[Obj]) -> int | None:
        """``getExpectedScale``: the sum of ``spec.replicas`` of the pods' distinct controllers (a
        ReplicaSet owned by a Deployment counts as the Deployment); None if a pod has none."""
        seen: dict[str, int] = {}
        for pod in pods:
            ref = controller_ref(pod)
            ns = meta(pod).get("namespace")
            owner = self._owner(ref, ns)
            if owner is None:
                return None
            if owner.get("kind") == "ReplicaSet" or (ref or {}).get("kind") == "ReplicaSet":
                parent = self._owner(controller_ref(owner), ns)
                if parent is not None and (controller_ref(owner) or {}).get("kind") == "Deployment":
                    owner = parent
            uid = meta(owner).get("uid", "")
            seen[uid] = int((owner.get("spec") or {}).get("replicas", 1) or 0)
        return sum(seen.values())

    def _owner(self, ref: Obj | None, ns: str | None) -> Obj | None:
        if not ref or ref.get("kind") not in self.owners:
            return None
        owner = self.owners[ref["kind"]].get(f"{ns}/{ref.get('name')}")
        if owner is None or meta(owner).get("uid") != ref.get("uid"):
            return None
        return owner

    async def reconcile(self, key: Any) -> float | None:
        ns, name = split_key(key)
        pdb = self.pdb_informer.get(key)
        if pdb is None:
            return None
        spec = pdb.get("spec") or {}
        pods = [p for p in self.pod_informer.list(ns) if selects(pdb, labels_of(p))]
        now = self.clock.time()
        old = pdb.get("status") or {}
        generation = int(meta(pdb).get("generation") or 0)
        # buildDisruptedPodMap: drop entries whose pod is gone, deleted, or that timed out.
        by_name = {meta(p)["name"]: p for p in pods}
        disrupted, again = {}, None
        for pod_name, ts in (old.get("disruptedPods") or {}).items():
            pod = by_name.get(pod_name)
            if pod is None or meta(pod).get("deletionTimestamp"):
                continue
            expires = parse_rfc3339(ts) + DISRUPTED_POD_TIMEOUT
            if expires > now:
                disrupted[pod_name] = ts
                again = min(again or expires - now, expires - now)
        status: Obj = {**old, "observedGeneration": generation}
        try:
            needs_scale = spec.get("maxUnavailable") is not None or isinstance(spec.get("minAvailable"), str)
            expected = self.expected_from_controllers(pods) if needs_scale else None
            counts = compute_status(spec, pods, expected, disrupted)
        except ValueError:
            msg = ("found no controllers for pods selected by this PodDisruptionBudget; set "
                   ".spec.minAvailable to an integer to use it with unmanaged pods")
            status.update({"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0})
            status["conditions"] = sync_failed_condition(old, rfc3339(now), generation, msg)
            self.event(pdb, "Warning", "CalculateExpectedPodCountFailed",
                       "Failed to calculate the number of expected pods: " + msg)
        else:
            status.update({"disruptionsAllowed": counts.disruptions_allowed, "currentHealthy": counts.current_healthy,
                           "desiredHealthy": counts.desired_healthy, "expectedPods": counts.expected_pods})
            status["conditions"] = allowed_condition(status, rfc3339(now), generation)
        if disrupted:
            status["disruptedPods"] = disrupted
        else:
            status.pop("disruptedPods", None)
        if status != old:
            body = copy.deepcopy(pdb)
            body["status"] = status
            try:
                await self.client.update("poddisruptionbudgets", body, ns, subresource="status")
            except errors.NotFound:
                return None
        return again
