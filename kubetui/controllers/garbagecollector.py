"""The garbage collector: delete dependents whose owners are gone, honour deletion propagation.

Upstream: ``pkg/controller/garbagecollector/`` (``garbagecollector.go``
attemptToDeleteItem / processDeletingDependentsItem / orphanDependents, and
``graph_builder.go``). Objects point at their owners through
``metadata.ownerReferences``. Three propagation policies (chosen on DELETE,
stored by the API server as finalizers):

* Background (default): the owner goes at once; afterwards the collector finds
  dependents whose owners no longer exist and deletes them.
* Foreground (finalizer ``foregroundDeletion``): the owner stays with a
  deletionTimestamp while the collector deletes its dependents; when no
  dependent with ``blockOwnerDeletion`` remains, the finalizer is removed and
  the owner goes.
* Orphan (finalizer ``orphan``): the collector removes the owner's entry from
  every dependent's ownerReferences, then removes the finalizer.

Instead of upstream's in-memory graph of every object, kubetui keeps an owner
uid index on one informer per watched resource. Before deleting anything
because an owner is "missing", it asks the API server (a live GET), so a slow
informer never causes a wrong deletion.
"""

from __future__ import annotations

import copy
from typing import Any

from kubetui.api import errors
from kubetui.api.resources import resource_for, resource_for_kind
from kubetui.client.informer import OWNER_INDEX, SharedInformer
from kubetui.controllers.base import Controller
from kubetui.controllers.util import is_deleting, meta

Obj = dict[str, Any]
FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"

# Resources whose objects own or are owned by others in a kubetui cluster.
GC_RESOURCES = ("pods", "replicasets", "deployments", "daemonsets", "statefulsets", "controllerrevisions", "jobs", "cronjobs", "replicationcontrollers", "services",
                "endpoints", "endpointslices",
                "configmaps", "secrets", "serviceaccounts", "persistentvolumeclaims", "leases", "nodes")


class GarbageCollector(Controller):
    name = "garbage-collector"
    component = "garbage-collector-controller"
    workers = 2

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.informers: dict[str, SharedInformer] = {}
        for res in GC_RESOURCES:
            inf = self.factory.informer(res)
            self.informers[res] = inf
            inf.add_handler(lambda o, r=res: self._changed(r, o),
                            lambda old, new, r=res: self._changed(r, new),
                            lambda o, r=res: self._deleted(r, o))

    # keys are (resource, namespace-or-"", name)

    def _key(self, resource: str, obj: Obj) -> tuple[str, str, str]:
        return (resource, meta(obj).get("namespace") or "", meta(obj).get("name", ""))

    def _changed(self, resource: str, obj: Obj) -> None:
        m = meta(obj)
        fins = m.get("finalizers") or []
        if m.get("ownerReferences") or (m.get("deletionTimestamp") and (FOREGROUND in fins or ORPHAN in fins)):
            self.queue.add(self._key(resource, obj))

    def _deleted(self, resource: str, obj: Obj) -> None:
        uid = meta(obj).get("uid", "")
        # Its dependents may now be garbage ...
        for res, dep in self.dependents(uid):
            self.queue.add(self._key(res, dep))
        # ... and an owner waiting in foreground deletion may now be free to go.
        for ref in meta(obj).get("ownerReferences") or []:
            owner = self._cached_owner(ref, meta(obj).get("namespace"))
            if owner is not None:
                self.queue.add(owner)

    def dependents(self, uid: str) -> list[tuple[str, Obj]]:
        out = []
        for res, inf in self.informers.items():
            out += [(res, o) for o in inf.by_index(OWNER_INDEX, uid)]
        return out

    def _owner_resource(self, ref: Obj) -> str | None:
        r = resource_for_kind(ref.get("apiVersion", ""), ref.get("kind", ""))
        return r.plural if r else None

    def _cached_owner(self, ref: Obj, namespace: str | None) -> tuple[str, str, str] | None:
        res = self._owner_resource(ref)
        if res is None or res not in self.informers:
            return None
        r = resource_for(res)
        ns = namespace if r.namespaced else ""
        obj = self.informers[res].get(f"{ns}/{ref.get('name')}" if ns else ref.get("name", ""))
        if obj is None or meta(obj).get("uid") != ref.get("uid"):
            return None
        return (res, ns or "", ref.get("name", ""))

    async def _owner_state(self, ref: Obj, namespace: str | None) -> str:
        """'absent', 'deleting-foreground', 'deleting' or 'present' — checked live."""
        res = self._owner_resource(ref)
        if res is None:
            return "present"  # an owner kind kubetui does not serve: never collect on a guess
        r = resource_for(res)
        try:
            owner = await self.client.get(res, ref.get("name", ""), namespace if r.namespaced else None)
        except errors.NotFound:
            return "absent"
        if meta(owner).get("uid") != ref.get("uid"):
            return "absent"
        if is_deleting(owner):
            return "deleting-foreground" if FOREGROUND in (meta(owner).get("finalizers") or []) else "deleting"
        return "present"

    def record_object(self, key: Any) -> tuple[str | None, str | None, str]:
        """The dependent the key names, by its Kind (``("replicasets", "default", "web-7d9f")``)."""
        resource, ns, name = key
        try:
            kind = resource_for(resource).kind
        except KeyError:
            kind = resource
        return kind, ns or None, name

    async def reconcile(self, key: Any) -> float | None:
        resource, ns, name = key
        inf = self.informers[resource]
        obj = inf.get(f"{ns}/{name}" if ns else name)
        if obj is None:
            return None
        fins = meta(obj).get("finalizers") or []
        if is_deleting(obj) and ORPHAN in fins:
            await self._orphan_dependents(resource, obj)
            return None
        if is_deleting(obj) and FOREGROUND in fins:
            return await self._delete_dependents_first(resource, obj)
        if meta(obj).get("ownerReferences") and not is_deleting(obj):
            await self._collect_if_owners_gone(resource, obj)
        return None

    async def _collect_if_owners_gone(self, resource: str, obj: Obj) -> None:
        """``attemptToDeleteItem``: delete if every owner is gone; drop references to dead owners."""
        ns = meta(obj).get("namespace")
        refs = meta(obj).get("ownerReferences") or []
        states = [(ref, await self._owner_state(ref, ns)) for ref in refs]
        dangling = [ref for ref, s in states if s == "absent"]
        waiting = [ref for ref, s in states if s == "deleting-foreground"]
        solid = [ref for ref, s in states if s in ("present", "deleting")]
        if solid:
            if dangling:
                await self._remove_refs(resource, obj, {r.get("uid") for r in dangling})
            return
        if waiting:
            # An owner is being deleted in the foreground: go first, also in the foreground.
            policy = "Foreground"
        elif dangling:
            policy = "Background"
        else:
            return
        self.log.info("deleting %s %s/%s: owner(s) %s gone", resource, ns or "", meta(obj)["name"],
                      ", ".join(f"{r.get('kind')}/{r.get('name')}" for r in refs))
        try:
            await self.client.delete(resource, meta(obj)["name"], ns, propagation_policy=policy,
                                     uid=meta(obj).get("uid"))
        except (errors.NotFound, errors.Conflict):
            pass

    async def _delete_dependents_first(self, resource: str, owner: Obj) -> float | None:
        """``processDeletingDependentsItem``: remove the finalizer once no blocking dependent remains."""
        uid = meta(owner).get("uid", "")
        blocking = []
        for res, dep in self.dependents(uid):
            ref = next((r for r in meta(dep).get("ownerReferences") or [] if r.get("uid") == uid), {})
            if not is_deleting(dep):
                self.queue.add(self._key(res, dep))  # it will see its owner waiting and delete itself
            if ref.get("blockOwnerDeletion"):
                blocking.append(dep)
        if blocking:
            return None  # woken again as each dependent disappears
        await self._remove_finalizer(resource, owner, FOREGROUND)
        return None

    async def _orphan_dependents(self, resource: str, owner: Obj) -> None:
        uid = meta(owner).get("uid", "")
        for res, dep in self.dependents(uid):
            await self._remove_refs(res, dep, {uid})
        await self._remove_finalizer(resource, owner, ORPHAN)

    async def _remove_refs(self, resource: str, obj: Obj, uids: set[str]) -> None:
        if not await self._drop_from_metadata(resource, obj, "ownerReferences", lambda r: r.get("uid") in uids):
            raise errors.Conflict(f"could not remove ownerReferences from {resource} {meta(obj)['name']}")

    async def _remove_finalizer(self, resource: str, obj: Obj, finalizer: str) -> None:
        await self._drop_from_metadata(resource, obj, "finalizers", lambda f: f == finalizer)

    async def _drop_from_metadata(self, resource: str, obj: Obj, field: str, drop: Any) -> bool:
        """Remove the entries of ``metadata.<field>`` that ``drop`` picks, retrying on conflicts.

        True when done (or the object is gone); False after five conflicts in a row.
        """
        ns = meta(obj).get("namespace")
        for _ in range(5):
            body = copy.deepcopy(obj)
            kept = [x for x in meta(body).get(field) or [] if not drop(x)]
            if kept:
                body["metadata"][field] = kept
            else:
                body["metadata"].pop(field, None)
            try:
                await self.client.update(resource, body, ns)
                return True
            except errors.NotFound:
                return True
            except errors.Conflict:
                obj = await self.client.get(resource, meta(obj)["name"], ns)
        return False

