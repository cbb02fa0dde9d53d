"""The taint eviction controller: delete pods that do not tolerate a node's NoExecute taints.

Upstream: ``pkg/controller/tainteviction/taint_eviction.go`` (the "taint
manager"). For each pod on a node with NoExecute taints:

* a taint the pod does not tolerate -> evict now;
* tolerated with ``tolerationSeconds`` -> evict that long after the taint's
  ``timeAdded`` (the smallest such value wins);
* tolerated forever (no tolerationSeconds) -> stay.

Eviction is a DELETE of the pod, with the Event ``TaintManagerEviction``
"Marking for deletion Pod default/web-1" and a ``DisruptionTarget`` condition.

The DefaultTolerationSeconds admission plugin gives every pod tolerations for
``not-ready`` and ``unreachable`` (NoExecute, ``tolerationSeconds`` = 300 on a
real cluster, ``timings.default_toleration_seconds`` here). If a pod reaches
this controller without them, it is treated as if admission had added them, so
the eviction timer is the pod's toleration or else the default.
"""

from __future__ import annotations

import copy
from typing import Any

from kubetui.api import errors
from kubetui.client.informer import NODE_INDEX
from kubetui.clock import parse_rfc3339, rfc3339
from kubetui.controllers.base import Controller
from kubetui.controllers.nodelifecycle import NOT_READY, UNREACHABLE
from kubetui.controllers.util import is_deleting, meta

Obj = dict[str, Any]


def tolerates(toleration: Obj, taint: Obj) -> bool:
    """``Toleration.ToleratesTaint``: effect (empty = all), key (empty + Exists = all), operator."""
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    if toleration.get("key") and toleration["key"] != taint.get("key"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Exists":
        return True
    if not toleration.get("key"):
        return False  # an empty key must use Exists
    return (toleration.get("value") or "") == (taint.get("value") or "")


def with_default_tolerations(tolerations: list[Obj], default_seconds: int) -> list[Obj]:
    """Add DefaultTolerationSeconds' not-ready/unreachable tolerations if the pod lacks them."""
    out = list(tolerations)
    for key in (NOT_READY, UNREACHABLE):
        probe = {"key": key, "effect": "NoExecute"}
        if not any(tolerates(t, probe) for t in out):
            out.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                        "tolerationSeconds": default_seconds})
    return out


def eviction_time(pod: Obj, taints: list[Obj], default_seconds: int) -> float | None:
    """When (epoch seconds) the pod must go because of these taints; None = never.

    >>> taint = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": "2023-11-14T22:13:20Z"}
    >>> eviction_time({"spec": {}}, [taint], 300) - 1_700_000_000
    300.0
    """
    tolerations = with_default_tolerations((pod.get("spec") or {}).get("tolerations") or [], default_seconds)
    when: float | None = None
    for taint in taints:
        if taint.get("effect") != "NoExecute":
            continue
        matching = [t for t in tolerations if tolerates(t, taint)]
        added = parse_rfc3339(taint["timeAdded"]) if taint.get("timeAdded") else 0.0
        if not matching:
            return added if added else 0.0  # not tolerated: evict now
        seconds = [int(t["tolerationSeconds"]) for t in matching if t.get("tolerationSeconds") is not None]
        if not seconds:
            continue  # tolerated forever
        t_evict = added + max(0, min(seconds))
        when = t_evict if when is None else min(when, t_evict)
    return when


class TaintEvictionController(Controller):
    name = "taint-eviction"
    kind = "Pod"
    component = "taint-eviction-controller"

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.node_informer = self.factory.informer("nodes")
        self.pod_informer = self.factory.informer("pods")
        self.node_informer.add_handler(self._node_changed, lambda old, new: self._node_updated(old, new))
        self.pod_informer.add_handler(self.enqueue, lambda old, new: self._pod_updated(old, new))

    def _node_changed(self, node: Obj) -> None:
        for pod in self.pod_informer.by_index(NODE_INDEX, meta(node)["name"]):
            self.enqueue(pod)

    def _node_updated(self, old: Obj, new: Obj) -> None:
        if (old.get("spec") or {}).get("taints") != (new.get("spec") or {}).get("taints"):
            self._node_changed(new)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if ((old.get("spec") or {}).get("nodeName") != (new.get("spec") or {}).get("nodeName")
                or (old.get("spec") or {}).get("tolerations") != (new.get("spec") or {}).get("tolerations")):
            self.enqueue(new)

    async def reconcile(self, key: Any) -> float | None:
        pod = self.pod_informer.get(key)
        if pod is None or is_deleting(pod):
            return None
        node_name = (pod.get("spec") or {}).get("nodeName")
        node = self.node_informer.get(node_name) if node_name else None
        if node is None:
            return None
        taints = [t for t in (node.get("spec") or {}).get("taints") or [] if t.get("effect") == "NoExecute"]
        if not taints:
            return None
        when = eviction_time(pod, taints, self.timings.default_toleration_seconds)
        if when is None:
            return None
        wait = when - self.clock.time()
        if wait > 0:
            return wait
        await self._evict(pod)
        return None

    async def _evict(self, pod: Obj) -> None:
        ns, name = meta(pod).get("namespace"), meta(pod)["name"]
        self.event(pod, "Normal", "TaintManagerEviction", f"Marking for deletion Pod {ns}/{name}")
        body = copy.deepcopy(pod)
        conditions = [c for c in (body.get("status") or {}).get("conditions") or [] if c.get("type") != "DisruptionTarget"]
        conditions.append({"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
                           "message": "Taint manager: deleting due to NoExecute taint",
                           "lastTransitionTime": rfc3339(self.clock.time())})
        body.setdefault("status", {})["conditions"] = conditions
        try:
            await self.client.update("pods", body, ns, subresource="status")
        except errors.StatusError:
            pass  # the condition is informative; the deletion is what matters
        try:
            await self.client.delete("pods", name, ns)
        except errors.NotFound:
            pass
