"""The namespace controller: empty a Terminating namespace, then let it go.

Upstream: ``pkg/controller/namespace/deletion/namespaced_resources_deleter.go``.
``kubectl delete namespace x`` only marks the namespace (phase Terminating,
deletionTimestamp); its ``spec.finalizers: [kubernetes]`` keeps it alive
while this controller deletes every namespaced object in it. Objects that
take time (graceful pods, finalizers) are waited for, with the conditions
``NamespaceContentRemaining`` / ``NamespaceFinalizersRemaining`` saying what is
left. When nothing remains, the controller removes ``kubernetes`` through the
namespace's ``finalize`` subresource and the API server deletes the namespace.
"""

from __future__ import annotations

import copy
from typing import Any

from kubetui.api import errors
from kubetui.api.resources import RESOURCES, custom_resources, storage_resource
from kubetui.clock import rfc3339
from kubetui.controllers.base import Controller
from kubetui.controllers.util import meta

Obj = dict[str, Any]
FINALIZER = "kubernetes"
# How long to wait before looking again while content is still going away.
RECHECK_SECONDS = 1.0


def namespaced_resources() -> list[str]:
    builtin = [r.plural for r in RESOURCES if r.namespaced and "delete" in r.verbs and "list" in r.verbs]
    # Custom resources too (upstream discovers every deletable namespaced resource).
    return builtin + [r.group_resource for r in custom_resources() if r.namespaced and storage_resource(r) is r]


class NamespaceController(Controller):
    name = "namespace"
    kind = "Namespace"
    component = "namespace-controller"

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.ns_informer = self.factory.informer("namespaces")
        self.ns_informer.add_handler(self.enqueue, lambda old, new: self.enqueue(new))

    async def reconcile(self, key: Any) -> float | None:
        ns = self.ns_informer.get(key)
        if ns is None or not meta(ns).get("deletionTimestamp"):
            return None
        if FINALIZER not in ((ns.get("spec") or {}).get("finalizers") or []):
            return None
        remaining: dict[str, int] = {}
        finalizers: dict[str, int] = {}
        for res in namespaced_resources():
            try:
                items = (await self.client.list(res, key))["items"]
            except errors.NotFound:
                continue
            for obj in items:
                m = meta(obj)
                remaining[res] = remaining.get(res, 0) + 1
                for f in m.get("finalizers") or []:
                    finalizers[f] = finalizers.get(f, 0) + 1
                if m.get("deletionTimestamp"):
                    continue
                try:
                    await self.client.delete(res, m["name"], key, propagation_policy="Background")
                except (errors.NotFound, errors.Conflict):
                    pass
        if remaining:
            await self._set_conditions(ns, remaining, finalizers)
            return RECHECK_SECONDS
        # Empty: one more look happens implicitly (the list above); release the namespace.
        body = copy.deepcopy(ns)
        body["spec"]["finalizers"] = [f for f in body["spec"]["finalizers"] if f != FINALIZER]
        try:
            await self.client.update("namespaces", body, subresource="finalize")
        except errors.NotFound:
            pass
        return None

    async def _set_conditions(self, ns: Obj, remaining: dict[str, int], finalizers: dict[str, int]) -> None:
        now = rfc3339(self.clock.time())
        content = ", ".join(f"{r} has {n} resource instances" for r, n in sorted(remaining.items()))
        wanted = [
            ("NamespaceContentRemaining", "True", "SomeResourcesRemain",
             f"Some resources are remaining: {content}"),
            ("NamespaceFinalizersRemaining", "True" if finalizers else "False",
             "SomeFinalizersRemain" if finalizers else "ContentHasNoFinalizers",
             "Some content in the namespace has finalizers remaining: "
             + ", ".join(f"{f} in {n} resource instances" for f, n in sorted(finalizers.items()))
             if finalizers else "All content-preserving finalizers finished"),
        ]
        status = copy.deepcopy(ns.get("status") or {})
        conds = {c["type"]: c for c in status.get("conditions") or []}
        changed = False
        for type_, st, reason, msg in wanted:
            cur = conds.get(type_)
            if cur and (cur.get("status"), cur.get("reason"), cur.get("message")) == (st, reason, msg):
                continue
            conds[type_] = {"type": type_, "status": st, "reason": reason, "message": msg,
                            "lastTransitionTime": now if not cur or cur.get("status") != st else cur.get("lastTransitionTime")}
            changed = True
        if not changed:
            return
        status["conditions"] = list(conds.values())
        body = copy.deepcopy(ns)
        body["status"] = status
        try:
            await self.client.update("namespaces", body, subresource="status")
        except (errors.NotFound, errors.Conflict):
            pass
