"""``pods/eviction``: the Eviction API, honouring PodDisruptionBudgets.

Upstream: ``pkg/registry/core/pod/storage/eviction.go``. ``kubectl drain``
POSTs a ``policy/v1`` Eviction for each pod. The pod's budget decides
(``kubetui.api.disruption.decide_eviction``): while it allows a disruption,
its ``status.disruptionsAllowed`` is decremented and the pod recorded in
``status.disruptedPods`` (compare-and-swap, so two concurrent evictions
cannot both take the last disruption), the pod gets the ``DisruptionTarget``
condition, then it is deleted. Otherwise 429 ``Cannot evict pod as it would
violate the pod's disruption budget.`` with a ``DisruptionBudget`` cause,
and ``kubectl drain`` retries every 5 seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubetui.api import errors
from kubetui.api.disruption import decide_eviction, selects
from kubetui.api.errors import BadRequest
from kubetui.api.resources import Resource, resource_for
from kubetui.clock import rfc3339

if TYPE_CHECKING:
    from kubetui.apiserver.registry import Registry

Obj = dict[str, Any]


def _status_success(code: int = 201) -> Obj:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code}


def _refusal(code: int, message: str, cause: str) -> errors.StatusError:
    causes = [{"reason": "DisruptionBudget", "message": cause}] if cause else None
    if code == 429:
        return errors.TooManyRequests(message, causes=causes)
    if code == 403:
        return errors.Forbidden(message, causes=causes)
    return errors.InternalError(message, causes=causes)


async def evict(registry: "Registry", resource: Resource, namespace: str | None, name: str | None,
                eviction: Obj, dry_run: bool) -> Obj:
    name = name or (eviction.get("metadata") or {}).get("name")
    if not name:
        raise BadRequest("name is required for an eviction")
    opts = eviction.get("deleteOptions") or {}
    dry_run = dry_run or bool(opts.get("dryRun"))
    pdb_res = resource_for("poddisruptionbudgets")
    for _ in range(5):
        pod = await registry.get(resource, namespace, name)
        labels = (pod.get("metadata") or {}).get("labels") or {}
        pdbs = [kv.value for kv in registry.store.range(pdb_res.key("", namespace), copy=False)
                if selects(kv.value, labels)]
        decision = decide_eviction(pod, pdbs)
        if not decision.delete:
            raise _refusal(decision.code, decision.message, decision.cause)
        if decision.decrement and not dry_run:
            pdb = pdbs[0]
            now = rfc3339(registry.clock.time())

            def take(work: Obj, old: Obj) -> Obj:
                st = work.setdefault("status", {})
                if int(st.get("disruptionsAllowed") or 0) <= 0:
                    raise errors.Conflict("the budget changed")  # re-decide from the fresh budget
                st["disruptionsAllowed"] = int(st["disruptionsAllowed"]) - 1
                st.setdefault("disruptedPods", {})[name] = now
                work["metadata"]["resourceVersion"] = pdb["metadata"]["resourceVersion"]
                return work
            try:
                await registry._guaranteed_update(pdb_res, namespace, pdb["metadata"]["name"], take,
                                                  subresource="status", dry_run=False)
            except errors.Conflict:
                continue
        if not dry_run:
            await _mark_disruption_target(registry, resource, namespace, name)
        pre = opts.get("preconditions") or {}
        await registry.delete(resource, namespace, name, grace_period_seconds=opts.get("gracePeriodSeconds"),
                              propagation_policy=opts.get("propagationPolicy"), preconditions=pre,
                              dry_run=dry_run)
        return _status_success()
    raise errors.TooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.")


async def _mark_disruption_target(registry: "Registry", resource: Resource, namespace: str | None,
                                  name: str) -> None:
    """``addConditionAndDeletePod``: ``DisruptionTarget=True``, reason ``EvictionByEvictionAPI``."""
    now = rfc3339(registry.clock.time())

    def mark(work: Obj, old: Obj) -> Obj:
        conds = [c for c in (work.setdefault("status", {}).get("conditions") or [])
                 if c.get("type") != "DisruptionTarget"]
        conds.append({"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI",
                      "message": "Eviction API: evicting", "lastProbeTime": None, "lastTransitionTime": now})
        work["status"]["conditions"] = conds
        return work
    try:
        await registry._guaranteed_update(resource, namespace, name, mark, subresource="status", dry_run=False)
    except errors.NotFound:
        pass
