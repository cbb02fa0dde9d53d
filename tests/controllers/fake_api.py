"""A small in-memory API server behind the ``Client`` protocol, for controller tests.

It keeps the semantics controllers depend on: resourceVersion per write and
compare-and-swap, uid/creationTimestamp/generation stamping, generateName,
defaulting, the status subresource, finalizers and deletionTimestamp
(``Foreground``/``Orphan`` propagation add the GC finalizers, as kube-apiserver
does), graceful pod deletion, label/field selectors, and watch from a
resourceVersion. Used until (and alongside) the real registry.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import uuid
from typing import Any, AsyncIterator

from kubetui.api import errors
from kubetui.api.defaults import apply_defaults
from kubetui.api.patch import json_patch, merge_patch
from kubetui.api.resources import resource_for
from kubetui.api.selectors import parse_field_selector, parse_label_selector
from kubetui.client.base import JSON_PATCH, WatchEvent
from kubetui.clock import Clock, rfc3339

Obj = dict[str, Any]


class FakeAPI:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.rv = itertools.count(100)
        self.objects: dict[tuple[str, str | None, str], Obj] = {}
        self.history: list[tuple[int, str, str, Obj]] = []  # (rv, resource, type, obj)
        self.watchers: list[tuple[str, str | None, asyncio.Queue[WatchEvent]]] = []
        self.writes: list[tuple[str, str, str]] = []  # (verb, resource, name) for assertions
        self._names = itertools.count(1)

    # --- helpers ---

    def _res(self, resource: str) -> Any:
        return resource_for(resource)

    def _emit(self, plural: str, type_: str, obj: Obj) -> None:
        rv = int(obj["metadata"]["resourceVersion"])
        self.history.append((rv, plural, type_, copy.deepcopy(obj)))
        for res, ns, q in self.watchers:
            if res == plural and (ns is None or obj["metadata"].get("namespace") == ns):
                q.put_nowait(WatchEvent(type_, copy.deepcopy(obj)))

    def _stamp(self, obj: Obj) -> None:
        obj["metadata"]["resourceVersion"] = str(next(self.rv))

    def _not_found(self, r: Any, name: str) -> errors.NotFound:
        return errors.NotFound(f'{r.group_resource} "{name}" not found', name=name, group=r.group, kind=r.plural)

    # --- verbs ---

    async def get(self, resource: str, name: str, namespace: str | None = None, *, subresource: str | None = None) -> Obj:
        r = self._res(resource)
        obj = self.objects.get((r.plural, namespace if r.namespaced else None, name))
        if obj is None:
            raise self._not_found(r, name)
        return copy.deepcopy(obj)

    async def list(self, resource: str, namespace: str | None = None, *, label_selector: str | None = None,
                   field_selector: str | None = None, limit: int | None = None, continue_: str | None = None) -> Obj:
        r = self._res(resource)
        ls = parse_label_selector(label_selector)
        fs = parse_field_selector(field_selector)
        items = [copy.deepcopy(o) for (p, ns, _), o in sorted(self.objects.items(), key=lambda kv: str(kv[0]))
                 if p == r.plural and (namespace is None or ns == namespace)
                 and ls.matches(o["metadata"].get("labels") or {}) and fs.matches(o)]
        return {"kind": f"{r.kind}List", "apiVersion": r.api_version,
                "metadata": {"resourceVersion": str(next(self.rv))}, "items": items}

    async def create(self, resource: str, obj: Obj, namespace: str | None = None, *, subresource: str | None = None,
                     name: str | None = None, dry_run: bool = False) -> Obj:
        r = self._res(resource)
        if subresource == "binding":
            pod = self.objects[(r.plural, namespace, name)]
            pod["spec"]["nodeName"] = obj["target"]["name"]
            self._stamp(pod)
            self._emit(r.plural, "MODIFIED", pod)
            return {"kind": "Status", "status": "Success"}
        obj = copy.deepcopy(obj)
        m = obj.setdefault("metadata", {})
        if r.namespaced:
            m["namespace"] = namespace or m.get("namespace") or "default"
        else:
            m.pop("namespace", None)
        if not m.get("name"):
            m["name"] = f"{m.get('generateName', 'x-')}{next(self._names):05d}"
        key = (r.plural, m.get("namespace"), m["name"])
        if key in self.objects:
            raise errors.AlreadyExists(f'{r.group_resource} "{m["name"]}" already exists', name=m["name"],
                                       group=r.group, kind=r.plural)
        if r.namespaced and ("namespaces", None, m["namespace"]) not in self.objects and r.plural != "events":
            raise errors.NotFound(f'namespaces "{m["namespace"]}" not found', name=m["namespace"], kind="namespaces")
        ns_obj = self.objects.get(("namespaces", None, m.get("namespace")))
        if ns_obj and ns_obj["metadata"].get("deletionTimestamp") and r.plural != "events":
            raise errors.Forbidden(f'unable to create new content in namespace {m["namespace"]} because it is being terminated')
        obj["apiVersion"], obj["kind"] = r.api_version, r.kind
        m["uid"] = str(uuid.uuid4())
        m["creationTimestamp"] = rfc3339(self.clock.time())
        if "spec" in obj or r.kind in ("Deployment", "ReplicaSet"):
            m["generation"] = 1
        apply_defaults(r, obj)
        self._stamp(obj)
        self.objects[key] = obj
        self.writes.append(("create", r.plural, m["name"]))
        self._emit(r.plural, "ADDED", obj)
        return copy.deepcopy(obj)

    async def update(self, resource: str, obj: Obj, namespace: str | None = None, *, subresource: str | None = None) -> Obj:
        r = self._res(resource)
        m = obj["metadata"]
        ns = (namespace or m.get("namespace")) if r.namespaced else None
        key = (r.plural, ns, m["name"])
        cur = self.objects.get(key)
        if cur is None:
            raise self._not_found(r, m["name"])
        if m.get("resourceVersion") and m["resourceVersion"] != cur["metadata"]["resourceVersion"]:
            raise errors.Conflict(f'Operation cannot be fulfilled on {r.group_resource} "{m["name"]}": the object '
                                  "has been modified; please apply your changes to the latest version and try again")
        new = copy.deepcopy(cur)
        if subresource == "status":
            new["status"] = copy.deepcopy(obj.get("status"))
        else:
            for k, v in obj.items():
                if k not in ("metadata", "status", "apiVersion", "kind"):
                    new[k] = copy.deepcopy(v)
            for k in ("labels", "annotations", "ownerReferences", "finalizers"):
                if k in m:
                    new["metadata"][k] = copy.deepcopy(m[k])
                else:
                    new["metadata"].pop(k, None)
            if r.kind == "Namespace" and "status" in obj:
                new["status"] = copy.deepcopy(obj["status"])
            apply_defaults(r, new)
            if new.get("spec") != cur.get("spec") and "generation" in new["metadata"]:
                new["metadata"]["generation"] += 1
        return self._commit(r, key, new, "update")

    def _commit(self, r: Any, key: tuple, new: Obj, verb: str) -> Obj:
        m = new["metadata"]
        if m.get("deletionTimestamp") and not m.get("finalizers") and not self._ns_blocked(new):
            if not (r.plural == "pods" and m.get("deletionGracePeriodSeconds")):
                return self._remove(r, key)
        self._stamp(new)
        self.objects[key] = new
        self.writes.append((verb, r.plural, m["name"]))
        self._emit(r.plural, "MODIFIED", new)
        return copy.deepcopy(new)

    def _ns_blocked(self, obj: Obj) -> bool:
        return obj.get("kind") == "Namespace" and bool((obj.get("spec") or {}).get("finalizers"))

    def _remove(self, r: Any, key: tuple) -> Obj:
        obj = self.objects.pop(key)
        self._stamp(obj)
        self.writes.append(("delete", r.plural, obj["metadata"]["name"]))
        self._emit(r.plural, "DELETED", obj)
        return copy.deepcopy(obj)

    async def patch(self, resource: str, name: str, patch: Any, namespace: str | None = None, *,
                    patch_type: str = "application/merge-patch+json", subresource: str | None = None,
                    field_manager: str | None = None, force: bool = False) -> Obj:
        cur = await self.get(resource, name, namespace)
        new = json_patch(cur, patch) if patch_type == JSON_PATCH else merge_patch(cur, patch)
        new["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
        if subresource == "scale":
            cur["spec"]["replicas"] = new["spec"]["replicas"]
            new = cur
        return await self.update(resource, new, namespace, subresource=subresource if subresource == "status" else None)

    async def delete(self, resource: str, name: str, namespace: str | None = None, *,
                     propagation_policy: str | None = None, grace_period_seconds: int | None = None,
                     resource_version: str | None = None, uid: str | None = None) -> Obj:
        r = self._res(resource)
        key = (r.plural, namespace if r.namespaced else None, name)
        cur = self.objects.get(key)
        if cur is None:
            raise self._not_found(r, name)
        if uid and cur["metadata"]["uid"] != uid:
            raise errors.Conflict(f"Precondition failed: UID in precondition: {uid}, UID in object meta: {cur['metadata']['uid']}")
        new = copy.deepcopy(cur)
        m = new["metadata"]
        fin = list(m.get("finalizers") or [])
        if propagation_policy == "Foreground" and "foregroundDeletion" not in fin:
            fin.append("foregroundDeletion")
        if propagation_policy == "Orphan" and "orphan" not in fin:
            fin.append("orphan")
        if r.plural in ("deployments", "replicasets") and propagation_policy is None:
            pass  # Background by default
        m["finalizers"] = fin
        if not fin:
            m.pop("finalizers")
        already = bool(m.get("deletionTimestamp"))
        if r.plural == "pods" and (cur.get("spec") or {}).get("nodeName"):
            grace = grace_period_seconds
            if grace is None:
                grace = int(cur["spec"].get("terminationGracePeriodSeconds", 30))
            if grace > 0:
                if not already:
                    m["deletionTimestamp"] = rfc3339(self.clock.time() + grace)
                    m["deletionGracePeriodSeconds"] = grace
                    return self._commit(r, key, new, "delete")
                return copy.deepcopy(cur)
            m.pop("deletionGracePeriodSeconds", None)
        if r.kind == "Namespace":
            if not already:
                m["deletionTimestamp"] = rfc3339(self.clock.time())
                new.setdefault("status", {})["phase"] = "Terminating"
                return self._commit(r, key, new, "delete")
            return copy.deepcopy(cur)
        if fin:
            if not already:
                m["deletionTimestamp"] = rfc3339(self.clock.time())
                m["deletionGracePeriodSeconds"] = 0
            return self._commit(r, key, new, "delete")
        return self._remove(r, key)

    def watch(self, resource: str, namespace: str | None = None, *, resource_version: str | None = None,
              label_selector: str | None = None, field_selector: str | None = None,
              timeout_seconds: int | None = None, allow_bookmarks: bool = False) -> AsyncIterator[WatchEvent]:
        r = self._res(resource)
        q: asyncio.Queue[WatchEvent] = asyncio.Queue()
        after = int(resource_version or 0)
        for rv, plural, type_, obj in self.history:
            if rv > after and plural == r.plural and (namespace is None or obj["metadata"].get("namespace") == namespace):
                q.put_nowait(WatchEvent(type_, copy.deepcopy(obj)))
        entry = (r.plural, namespace, q)
        self.watchers.append(entry)

        async def stream() -> AsyncIterator[WatchEvent]:
            try:
                while True:
                    yield await q.get()
            finally:
                if entry in self.watchers:
                    self.watchers.remove(entry)
        return stream()

    async def close(self) -> None:
        pass

    # --- test conveniences ---

    def objs(self, resource: str, namespace: str | None = None) -> list[Obj]:
        r = self._res(resource)
        return [o for (p, ns, _), o in sorted(self.objects.items(), key=lambda kv: str(kv[0]))
                if p == r.plural and (namespace is None or ns == namespace)]
