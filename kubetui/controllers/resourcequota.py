"""The ResourceQuota controller: count what each namespace uses and write it into ``status.used``.

Upstream: ``pkg/controller/resourcequota/resource_quota_controller.go``
(``syncResourceQuota``: ``status.hard`` copies ``spec.hard``, ``status.used``
is recalculated from every object the quota matches, when a quota is new,
its limits change, or on the periodic resync) and
``resource_quota_monitor.go`` (replenishment: a deleted or finished pod, a
removed Service… requeues its namespace's quotas so freed room shows at
once; a *new* object does not, because admission already charged it). The admission plugin charges a create against ``status.used``
immediately; this controller is what gives the room back and corrects any
over-count. The arithmetic is ``kubetui.api.resourcequota`` (pure,
table-tested); this module only gathers objects and writes status.
"""

from __future__ import annotations

import copy
from typing import Any

from kubetui.api import errors
from kubetui.api.resourcequota import LEGACY_COUNTS, namespace_usage, pod_is_terminal
from kubetui.api.resources import resource_for
from kubetui.client.informer import split_key
from kubetui.controllers.base import Controller
from kubetui.controllers.util import meta

Obj = dict[str, Any]

# Kinds whose changes requeue their namespace's quotas (the monitors upstream starts for every quotable kind).
REPLENISHED = ("pods", "services", "configmaps", "secrets", "persistentvolumeclaims", "replicationcontrollers",
               "deployments", "replicasets")
# Other ``count/<resource>`` kinds are listed at sync time and recounted this often.
RECOUNT_SECONDS = 5.0


def tracked_resources(hard: dict[str, Any]) -> set[str]:
    """Which group-resources a quota's hard limits are about (``count/deployments.apps`` -> that)."""
    out: set[str] = set()
    legacy = {v: k for k, v in LEGACY_COUNTS.items()}
    for name in hard:
        if name.startswith("count/"):
            out.add(name[len("count/"):])
        elif name in legacy:
            out.add(legacy[name])
        elif name.startswith("services."):
            out.add("services")
        elif name == "requests.storage" or ".storageclass.storage.k8s.io/" in name:
            out.add("persistentvolumeclaims")
        else:
            out.add("pods")
    return out


class ResourceQuotaController(Controller):
    name = "resourcequota"
    kind = "ResourceQuota"
    component = "resourcequota-controller"
    workers = 1

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.rq_informer = self.factory.informer("resourcequotas")
        self.rq_informer.add_handler(self.enqueue, self._quota_updated, None)
        self.informers = {}
        for plural in REPLENISHED:
            inf = self.factory.informer(plural)
            self.informers[resource_for(plural).group_resource] = inf
            inf.add_handler(None, self._object_updated, self._replenish)

    def _quota_updated(self, old: Obj, new: Obj) -> None:
        """``updateQuota``: recount when the limits change (or on a resync), never because admission
        charged ``status.used``: the pod it charged for may not be in this controller's cache yet, and
        recounting then would give its room away (upstream enqueues only on a ``spec.hard`` change)."""
        hard = (new.get("spec") or {}).get("hard")
        if (meta(old).get("resourceVersion") == meta(new).get("resourceVersion")
                or (old.get("spec") or {}).get("hard") != hard or (new.get("status") or {}).get("hard") != hard):
            self.enqueue(new)

    def _object_updated(self, old: Obj, new: Obj) -> None:
        """Replenishment on update: a pod that finished (or is being deleted) no longer uses compute."""
        if (meta(new).get("deletionTimestamp") and not meta(old).get("deletionTimestamp")) or (
                pod_is_terminal(new) and not pod_is_terminal(old)):
            self._replenish(new)

    def _replenish(self, obj: Obj) -> None:
        """Something quotable went away: recount its namespace's quotas so the room shows at once."""
        for rq in self.rq_informer.list(meta(obj).get("namespace")):
            self.enqueue(rq)

    async def _objects(self, gr: str, ns: str) -> list[Obj] | None:
        if gr in self.informers:
            return self.informers[gr].list(ns)
        try:
            res = resource_for(gr)
        except KeyError:
            return None  # a quota on a kind this server does not serve counts nothing
        return (await self.client.list(res.plural, ns)).get("items") or []

    async def reconcile(self, key: Any) -> float | None:
        ns, name = split_key(key)
        rq = self.rq_informer.get(key)
        if rq is None:
            return None
        hard = (rq.get("spec") or {}).get("hard") or {}
        objects: dict[str, list[Obj]] = {}
        listed = False
        for gr in sorted(tracked_resources(hard)):
            items = await self._objects(gr, ns)
            if items is not None:
                objects[gr] = items
                listed = listed or gr not in self.informers
        status = {"hard": dict(hard), "used": namespace_usage(rq, objects)}
        if status != (rq.get("status") or {}):
            body = copy.deepcopy(rq)
            body["status"] = status
            try:
                await self.client.update("resourcequotas", body, ns, subresource="status")
            except errors.NotFound:
                return None
        return RECOUNT_SECONDS if listed else None
