"""kube-scheduler's main loop: watch pods and nodes, pop a pod, pick a node, bind.

Upstream: ``pkg/scheduler/scheduler.go`` and ``schedule_one.go``. Informers
keep the cache (NodeInfos) and the queue current; the loop pops one pod at a
time and runs the *scheduling cycle* synchronously (filter, score, select,
assume), then starts the *binding cycle* in the background — a POST to the
pod's ``binding`` subresource — and moves on to the next pod without waiting.

On success the pod gets a ``Scheduled`` event ("Successfully assigned
default/web-1 to node-2"). On failure it gets a ``FailedScheduling`` event and
a ``PodScheduled=False`` condition (reason ``Unschedulable``) with the same
message, and goes back to the queue to wait for a cluster event. If the
DefaultPreemption PostFilter found room by evicting lower-priority pods
(``preemption.py``), the scheduler preempts them (``_preempt``) and sets the
pod's ``status.nominatedNodeName``; the pod is scheduled once they are gone.

Each cycle leaves a record in the reconcile log (``kubetui.client.reconciles``):
what the scheduler saw (nodes, feasible ones), what it decided (bind to a node
with its score, or why not) and its writes (the binding, status patches,
preemption's deletes), published when the binding cycle it started has ended.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kubetui.client.base import STRATEGIC_MERGE_PATCH, Client
from kubetui.client import reconciles
from kubetui.client.informer import SharedInformer
from kubetui.client.record import EventRecorder
from kubetui.clock import Clock, rfc3339
from kubetui.scheduler import framework as fw
from kubetui.scheduler.cache import SchedulerCache
from kubetui.scheduler.explain import AttemptRecord, ExplanationStore
from kubetui.scheduler.framework import PodInfo
from kubetui.scheduler.profiles import DEFAULT, build_profile
from kubetui.scheduler.queue import QueuedPodInfo, SchedulingQueue
from kubetui.scheduler.runtime import Framework, ScheduleResult
from kubetui.timedial import TimeDial
from kubetui.timings import LAB, Timings

log = logging.getLogger(__name__)

DEFAULT_SCHEDULER_NAME = "default-scheduler"
# How many pods the loop schedules before letting other tasks (watches, bindings) run.
_YIELD_EVERY = 8


def binding_for(namespace: str, name: str, node: str, uid: str | None = None) -> dict[str, Any]:
    """The ``Binding`` object POSTed to ``pods/{name}/binding``."""
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if uid:
        meta["uid"] = uid
    return {"apiVersion": "v1", "kind": "Binding", "metadata": meta,
            "target": {"apiVersion": "v1", "kind": "Node", "name": node}}


def _key(obj: dict[str, Any]) -> str:
    m = obj.get("metadata") or {}
    return f"{m.get('namespace') or 'default'}/{m.get('name')}"


def _node_changed(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether a node update could make a pending pod fit (upstream ``nodeSchedulingPropertiesChange``)."""
    o_meta, n_meta = old.get("metadata") or {}, new.get("metadata") or {}
    o_spec, n_spec = old.get("spec") or {}, new.get("spec") or {}
    o_st, n_st = old.get("status") or {}, new.get("status") or {}
    return (o_meta.get("labels") != n_meta.get("labels")
            or o_spec.get("taints") != n_spec.get("taints")
            or bool(o_spec.get("unschedulable")) != bool(n_spec.get("unschedulable"))
            or o_st.get("allocatable") != n_st.get("allocatable"))


class Scheduler:
    """One kube-scheduler with one profile, talking to the cluster through a ``Client``."""

    def __init__(self, client: Client, *, clock: Clock | None = None, timings: Timings = LAB,
                 profile: str = DEFAULT, seed: int = 0, recorder: Any = None,
                 scheduler_name: str = DEFAULT_SCHEDULER_NAME, informers: Any = None,
                 percentage_of_nodes_to_score: int = 0, record_explanations: bool = True,
                 reconcile_log: reconciles.ReconcileLog | None = None, dial: TimeDial | None = None) -> None:
        #: every scheduling cycle's record (shared with the controllers in a control plane)
        self.reconcile_log = reconcile_log if reconcile_log is not None else reconciles.ReconcileLog(clock=clock)
        # writes go through a client that adds them to the running cycle's record (Events do not)
        self.client = reconciles.RecordingClient(client)
        self.clock = clock or Clock()
        # the control plane's time dial: it gates each scheduling cycle, its clock times the backoffs
        self.dial = dial or TimeDial(self.clock)
        self.scheduler_name = scheduler_name
        self.cache = SchedulerCache()
        self.profile = build_profile(profile, self.cache)
        self.profile.percentage_of_nodes_to_score = percentage_of_nodes_to_score
        self.framework = Framework(self.profile, seed=seed)
        event_plugins: dict[str, set[str]] = {}
        for p in self.profile.plugins:
            for ev in getattr(p, "events", ()):
                event_plugins.setdefault(ev, set()).add(p.name)
        self.queue = SchedulingQueue(dial.clock if dial is not None else self.clock, timings, event_plugins)
        self.explanations_store = ExplanationStore()
        self.record_explanations = record_explanations
        if recorder is None:
            recorder = EventRecorder(client, scheduler_name, clock=self.clock)
        self.recorder = recorder
        self._factory = informers
        self.pods: SharedInformer | None = None
        self._informers: list[SharedInformer] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self._bindings: set[asyncio.Task[Any]] = set()
        # Counters for the TUI, tests and benchmarks.
        self.attempts = 0
        self.scheduled = 0
        self.failed = 0
        self.bound = 0
        self.binding_errors = 0
        self.preempted = 0

    # --- lifecycle -------------------------------------------------------------------------

    def _informer(self, resource: str) -> SharedInformer:
        if self._factory is not None:
            inf = self._factory.informer(resource)
        else:
            inf = SharedInformer(self.client, resource, clock=self.clock)
        self._informers.append(inf)
        return inf

    async def start(self) -> None:
        """Start informers, wait for their first list, then run the queue and the loop."""
        nodes = self._informer("nodes")
        nodes.add_handler(self._on_node_add, self._on_node_update, self._on_node_delete)
        for resource, event in (("persistentvolumeclaims", fw.PVC_CHANGE), ("persistentvolumes", fw.PV_CHANGE),
                                ("storageclasses", fw.STORAGECLASS_CHANGE), ("namespaces", fw.NAMESPACE_CHANGE)):
            inf = self._informer(resource)
            inf.add_handler(*self._volume_handlers(resource, event))
        # PodDisruptionBudgets: preemption spares the pods they protect where it can.
        pdbs = self._informer("poddisruptionbudgets")
        self.framework.preemption.pdbs = pdbs.list
        self.pods = self._informer("pods")
        self.pods.add_handler(self._on_pod_add, self._on_pod_update, self._on_pod_delete)
        for inf in self._informers:
            await inf.start()
        for inf in self._informers:
            await inf.wait_for_sync()
        self._tasks.append(asyncio.create_task(self.queue.run(), name="scheduler-queue-flush"))
        self._tasks.append(asyncio.create_task(self._loop(), name="scheduler-loop"))
        log.info("scheduler %s started with profile %s", self.scheduler_name, self.profile.name)

    async def stop(self) -> None:
        self.queue.close()
        for t in self._tasks:
            t.cancel()
        for t in list(self._bindings):
            t.cancel()
        for t in [*self._tasks, *self._bindings]:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks.clear()
        if self._factory is None:
            for inf in self._informers:
                await inf.stop()

    # --- informer handlers: only update the cache and the queue ---------------------------------

    def _on_node_add(self, node: dict[str, Any]) -> None:
        self.cache.add_or_update_node(node)
        self.queue.move_all_to_active_or_backoff(fw.NODE_ADD)

    def _on_node_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.cache.add_or_update_node(new)
        if _node_changed(old, new):
            self.queue.move_all_to_active_or_backoff(fw.NODE_UPDATE)

    def _on_node_delete(self, node: dict[str, Any]) -> None:
        self.cache.remove_node(node["metadata"]["name"])

    def _responsible_for(self, pod: dict[str, Any]) -> bool:
        spec = pod.get("spec") or {}
        return (spec.get("schedulerName") or DEFAULT_SCHEDULER_NAME) == self.scheduler_name

    def _on_pod_add(self, pod: dict[str, Any]) -> None:
        if (pod.get("spec") or {}).get("nodeName"):
            self.cache.add_or_update_pod(pod)
            # A pod on a node may be the peer a pending pod's affinity waits for (upstream AssignedPodAdd).
            self.queue.move_all_to_active_or_backoff(fw.POD_ADD)
            return
        if not self._pending(pod):
            return
        self.queue.add(PodInfo(pod))

    def _pending(self, pod: dict[str, Any]) -> bool:
        meta = pod.get("metadata") or {}
        phase = (pod.get("status") or {}).get("phase")
        return (self._responsible_for(pod) and not meta.get("deletionTimestamp")
                and phase not in ("Succeeded", "Failed") and not self.cache.is_assumed(_key(pod)))

    def _on_pod_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        key = _key(new)
        if (new.get("spec") or {}).get("nodeName"):
            was_counted = key in self.cache.pod_node
            self.queue.delete(key)
            self.cache.add_or_update_pod(new)
            if was_counted and key not in self.cache.pod_node:
                # An assigned pod finished: its requests are free again.
                self.queue.move_all_to_active_or_backoff(fw.POD_UPDATE)
            elif not (old.get("spec") or {}).get("nodeName"):
                # Just bound (by us or anyone): a new peer for pod affinity (upstream AssignedPodAdd).
                self.queue.move_all_to_active_or_backoff(fw.POD_ADD)
            elif (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels"):
                # Relabelled: it may now match (or stop matching) someone's affinity terms.
                self.queue.move_all_to_active_or_backoff(fw.POD_UPDATE)
            return
        if not self._pending(new):
            self.queue.delete(key)
            return
        if _spec_or_labels_changed(old, new):
            self.queue.update(PodInfo(new))
        elif self.queue.get(key) is None:
            self.queue.add(PodInfo(new))

    def _on_pod_delete(self, pod: dict[str, Any]) -> None:
        key = _key(pod)
        self.queue.delete(key)
        self.framework.nominate(PodInfo(pod), None)
        self.explanations_store.forget(key)
        if key in self.cache.pod_node:
            self.cache.remove_pod(key)
            self.queue.move_all_to_active_or_backoff(fw.POD_DELETE)

    def _volume_handlers(self, resource: str, event: str) -> tuple[Any, Any, Any]:
        table = {"persistentvolumeclaims": self.cache.pvcs, "persistentvolumes": self.cache.pvs,
                 "storageclasses": self.cache.storage_classes, "namespaces": self.cache.namespaces}[resource]

        def key(obj: dict[str, Any]) -> Any:
            m = obj.get("metadata") or {}
            return (m.get("namespace") or "default", m.get("name")) if resource == "persistentvolumeclaims" \
                else m.get("name")

        def on_add(obj: dict[str, Any]) -> None:
            table[key(obj)] = obj
            self.queue.move_all_to_active_or_backoff(event)

        def on_update(old: dict[str, Any], new: dict[str, Any]) -> None:
            on_add(new)

        def on_delete(obj: dict[str, Any]) -> None:
            table.pop(key(obj), None)

        return on_add, on_update, on_delete

    # --- the loop --------------------------------------------------------------------------

    async def _loop(self) -> None:
        n = 0
        while True:
            q = await self.queue.pop()
            ticket = await self.dial.admit("scheduler", q.key)    # the time dial's gate
            try:
                self.schedule_one(q)
            except Exception:      # a bug in one attempt must not stop scheduling
                log.exception("scheduling %s failed", q.key)
                self.queue.add_unschedulable(q, (), self.queue.scheduling_cycle, error=True)
            finally:
                self.dial.done(ticket)
            n += 1
            if n % _YIELD_EVERY == 0 or not self.queue.in_flight:
                await asyncio.sleep(0)

    def schedule_one(self, q: QueuedPodInfo) -> ScheduleResult | None:
        """The scheduling cycle for one popped pod (synchronous: nothing else runs meanwhile)."""
        pi = q.pod_info
        live = self.pods.get(pi.key) if self.pods is not None else pi.pod
        if live is None or (live.get("spec") or {}).get("nodeName") or not self._pending(live):
            self.queue.done(pi.key)
            return None
        rec = self.reconcile_log.begin("scheduler", "Pod", pi.namespace, pi.name)
        if rec is None:
            return self._schedule_cycle(q, pi, live)
        reconciles.set_owner_of(rec, live)
        token = reconciles.CURRENT.set(rec)
        try:
            result = self._schedule_cycle(q, pi, live)
        except Exception as e:
            self.reconcile_log.end(rec, f"error: {type(e).__name__}: {e}")
            raise
        finally:
            reconciles.CURRENT.reset(token)
        _record_result(rec, result)
        self.reconcile_log.end(rec)
        return result

    def _schedule_cycle(self, q: QueuedPodInfo, pi: PodInfo, live: dict[str, Any]) -> ScheduleResult:
        cycle = self.queue.scheduling_cycle
        result = self.framework.schedule_pod(pi, self.cache.node_list())
        self.attempts += 1
        rec = AttemptRecord(q.attempts, self.clock.time(), self.profile.name, pi.namespace, pi.name, pi.uid,
                            result)
        if self.record_explanations:
            self.explanations_store.record(rec)
        if result.scheduled:
            self.scheduled += 1
            host = result.suggested_host
            assert host is not None
            self.framework.nominate(pi, None)
            self.cache.assume_pod(pi, host)
            self.queue.done(pi.key)
            self._spawn(self._bind(q, host, rec))
        else:
            self.failed += 1
            self.queue.add_unschedulable(q, result.unschedulable_plugins(), cycle,
                                         error=bool(result.error) and result.error != result.message)
            pf = result.preemption
            if pf is not None and pf.nominated_node:
                # getLowerPriorityNominatedPods: pods nominated there earlier with a lower priority lose
                # their claim (they will be tried again from scratch).
                lower = [p for p in (self.framework.nominated.get(pf.nominated_node) or {}).values()
                         if p.priority < pi.priority]
                for p in lower:
                    self.framework.nominate(p, None)
                self.framework.nominate(pi, pf.nominated_node)
                self._spawn(self._preempt(live, pi, pf.nominated_node, pf.victims, lower))
            self._spawn(self._report_failure(live, rec.message))
        return result

    async def _preempt(self, pod: dict[str, Any], pi: PodInfo, node: str, victims: list[PodInfo],
                       cleared: list[PodInfo] = ()) -> None:  # type: ignore[assignment]
        """``prepareCandidate``: mark each victim ``DisruptionTarget`` (PreemptionByScheduler), delete it,
        record ``Preempted``; clear ``nominatedNodeName`` of lower-priority pods nominated to the node;
        then set the preemptor's ``status.nominatedNodeName``."""
        now = rfc3339(self.clock.time())
        for v in victims:
            cond = {"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
                    "message": f"{self.scheduler_name}: preempting to accommodate a higher priority pod",
                    "lastProbeTime": None, "lastTransitionTime": now}
            try:
                await self.client.patch("pods", v.name, {"status": {"conditions": [cond]}}, v.namespace,
                                        subresource="status", patch_type=STRATEGIC_MERGE_PATCH)
                await self.client.delete("pods", v.name, v.namespace)
            except asyncio.CancelledError:
                raise
            except Exception as e:      # already gone: nothing to preempt
                log.info("preempting %s for %s: %s", v.key, pi.key, e)
                continue
            self.preempted += 1
            await self._event(v.pod, "Normal", "Preempted", f"Preempted by pod {pi.uid} on node {node}")
        for p in cleared:
            try:
                await self.client.patch("pods", p.name, {"status": {"nominatedNodeName": None}}, p.namespace,
                                        subresource="status", patch_type=STRATEGIC_MERGE_PATCH)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.debug("clearing nominatedNodeName on %s failed: %s", p.key, e)
        try:
            await self.client.patch("pods", pi.name, {"status": {"nominatedNodeName": node}}, pi.namespace,
                                    subresource="status", patch_type=STRATEGIC_MERGE_PATCH)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.debug("setting nominatedNodeName on %s failed: %s", pi.key, e)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        # the cycle's record waits for the binding (and status writes) it starts
        self.reconcile_log.hold(reconciles.CURRENT.get(), task)
        self._bindings.add(task)
        task.add_done_callback(self._bindings.discard)

    async def _bind(self, q: QueuedPodInfo, host: str, rec: AttemptRecord) -> None:
        """The binding cycle: POST pods/{name}/binding."""
        pi = q.pod_info
        try:
            await self.client.create("pods", binding_for(pi.namespace, pi.name, host, pi.uid), pi.namespace,
                                     subresource="binding", name=pi.name)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self.binding_errors += 1
            self.cache.forget_pod(pi.key)
            message = f"Binding rejected: {e}"
            rec.binding_failed(message)
            log.info("binding %s to %s failed: %s", pi.key, host, e)
            await self._event(pi.pod, "Warning", "FailedScheduling", message)
            live = self.pods.get(pi.key) if self.pods is not None else None
            if live is not None and not (live.get("spec") or {}).get("nodeName"):
                self.queue.add_unschedulable(q, (), self.queue.scheduling_cycle, error=True)
            return
        self.bound += 1
        await self._event(pi.pod, "Normal", "Scheduled", rec.message)

    async def _event(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        """Record an Event (``EventRecorder.record`` aggregates repeats into ``count``, as client-go does)."""
        record = getattr(self.recorder, "record", None)
        if record is not None:
            await record(obj, type_, reason, message)
        else:
            self.recorder.event(obj, type_, reason, message)

    async def _report_failure(self, pod: dict[str, Any], message: str) -> None:
        """FailedScheduling event, and PodScheduled=False on the pod (if it changed)."""
        await self._event(pod, "Warning", "FailedScheduling", message)
        current = next((c for c in (pod.get("status") or {}).get("conditions") or ()
                        if c.get("type") == "PodScheduled"), None)
        if current and current.get("status") == "False" and current.get("message") == message:
            return
        cond = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message,
                "lastProbeTime": None, "lastTransitionTime": rfc3339(self.clock.time())}
        meta = pod.get("metadata") or {}
        try:
            await self.client.patch("pods", meta["name"], {"status": {"conditions": [cond]}},
                                    meta.get("namespace") or "default", subresource="status",
                                    patch_type=STRATEGIC_MERGE_PATCH)
        except asyncio.CancelledError:
            raise
        except Exception as e:     # the pod may be gone; the next attempt writes it again
            log.debug("updating PodScheduled on %s failed: %s", _key(pod), e)

    # --- reading ---------------------------------------------------------------------------

    def explanations(self, namespace: str, name: str) -> list[dict[str, Any]]:
        """The recorded attempts for a pod, oldest first (shape: ``kubetui.scheduler.explain``)."""
        return [r.to_dict() for r in self.explanations_store.attempts(namespace, name)]

    def stats(self) -> dict[str, Any]:
        pending = self.queue.pending()
        return {"profile": self.profile.name, "attempts": self.attempts, "scheduled": self.scheduled,
                "failed": self.failed, "bound": self.bound, "bindingErrors": self.binding_errors,
                "preempted": self.preempted,
                "queue": {k: len(v) for k, v in pending.items()}, "nodes": len(self.cache.node_list())}

    async def wait_for_bindings(self) -> None:
        """Wait for the background binding / reporting tasks started so far (tests, benchmarks)."""
        while self._bindings:
            await asyncio.gather(*list(self._bindings), return_exceptions=True)


def _record_result(rec: reconciles.ReconcileRecord, result: ScheduleResult) -> None:
    """The cycle's "observed" and "decided", in words."""
    rec.observe(f"{len(result.feasible)} of {result.num_all_nodes} nodes feasible "
                f"({result.evaluated_nodes} evaluated)")
    if result.scheduled:
        host = result.suggested_host
        score = max(result.totals) if result.totals else None
        rec.decide(f"bind {rec.name} to {host}" + (f" (score {score})" if score is not None else ""),
                   action="bind", node=host, score=score)
    else:
        rec.decide(f"unschedulable: {result.message}", action="unschedulable")
        pf = result.preemption
        if pf is not None and pf.nominated_node:
            victims = ", ".join(v.key for v in pf.victims) or "nothing"
            rec.decide(f"preempt {victims} on {pf.nominated_node}", action="preempt", node=pf.nominated_node)


def _spec_or_labels_changed(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Status-only updates (our own PodScheduled condition) must not retry the pod at once."""
    return (old.get("spec") != new.get("spec")
            or (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels"))
