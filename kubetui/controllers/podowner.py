"""The event handlers of a controller that owns pods, written once.

Upstream each workload controller has its own copy of these (``addPod``,
``updatePod``, ``deletePod``, ``updateDaemonset``/``updateStatefulSet`` and
``deleteDaemonset``/``deleteStatefulSet`` in ``pkg/controller/daemon/daemon_controller.go``
and ``pkg/controller/statefulset/stateful_set.go``). They only compute a key and
enqueue it, as client-go's sample-controller does: a pod event wakes the
controller of the object that owns it (its controller ownerReference), an
orphan wakes every owner whose selector matches it (so it can be adopted), and
pod creations and deletions are counted against the owner's expectations.

A controller using this sets ``owner_kind``, ``owner_informer``, ``expectations``
and has ``queue``/``enqueue`` (``kubetui.controllers.base.Controller``).
"""

from __future__ import annotations

from typing import Any

from kubetui.controllers.util import (
    controller_ref, is_deleting, is_pod_ready, labels_of, meta, resolve_controller, selector_of,
)

Obj = dict[str, Any]


class PodOwnerHandlers:
    owner_kind: str = ""
    owner_informer: Any
    expectations: Any
    queue: Any
    enqueue: Any    # Controller.enqueue (the mixin comes first in the MRO: it must not define it)

    def _owner_updated(self, old: Obj, new: Obj) -> None:
        # A write of our own status changes nothing we decide from: skip it (a resync still comes).
        if old.get("spec") == new.get("spec") and {k: v for k, v in meta(old).items() if k != "resourceVersion"} \
                == {k: v for k, v in meta(new).items() if k != "resourceVersion"}:
            return
        self.enqueue(new)

    def _owner_deleted(self, owner: Obj) -> None:
        key = f"{meta(owner).get('namespace')}/{meta(owner).get('name')}"
        self.expectations.delete(key)
        self.queue.add(key)

    def _owner_key(self, pod: Obj) -> str | None:
        ns = meta(pod).get("namespace")
        owner = resolve_controller(controller_ref(pod), self.owner_informer, ns, self.owner_kind)
        return f"{ns}/{meta(owner)['name']}" if owner else None

    def _pod_added(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key:
            self.expectations.creation_observed(key)
            self.queue.add(key)
        elif controller_ref(pod) is None:
            for owner in self.owner_informer.list(meta(pod).get("namespace")):
                if selector_of(owner).matches(labels_of(pod)):
                    self.enqueue(owner)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        key = self._owner_key(new)
        if not key:
            return
        if is_deleting(new) and not is_deleting(old):
            # Upstream's updatePod treats a pod that starts terminating as deleted.
            self.expectations.deletion_observed(key, f"{meta(new).get('namespace')}/{meta(new).get('name')}")
        self.queue.add(key)
        if is_pod_ready(new) and not is_pod_ready(old):
            owner = self.owner_informer.get(key)
            min_ready = int(((owner or {}).get("spec") or {}).get("minReadySeconds") or 0)
            if min_ready:
                self.queue.add_after(key, min_ready + 1)

    def _pod_deleted(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key:
            self.expectations.deletion_observed(key, f"{meta(pod).get('namespace')}/{meta(pod).get('name')}")
            self.queue.add(key)
