"""The reconcile log of a rollout against an audit of the API requests (issue 19).

The control plane's components get a client that records every write it
carries at the API boundary (``Audit``, the "audit log" of this test: written
here, independent of the reconcile log's own ``RecordingClient``). After a
rolling update on simulated nodes, the writes listed in the reconcile log's
records must be exactly the writes the audit saw, Events aside (they are the
event recorder's, not a reconcile's). Then: filtering by object, the bound.
"""

from __future__ import annotations

import asyncio
import collections
import time
from pathlib import Path
from typing import Any

import pytest

from kubetui.client.base import STRATEGIC_MERGE_PATCH
from kubetui.client.reconciles import ReconcileLog
from kubetui.controllers.manager import ControllerManager
from kubetui.providers.base import ClusterConfig, NodeConfig
from kubetui.providers.simulated import SimulatedProvider
from kubetui.scheduler.scheduler import Scheduler

Obj = dict[str, Any]


class Audit:
    """A Client wrapper that notes each write request and its answer, as an audit backend would."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.writes: list[tuple] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def _note(self, verb: str, resource: str, ns: str | None, name: str, sub: str | None, call: Any) -> Any:
        entry = [verb, resource, sub, ns, name, None, None]
        self.writes.append(entry)  # type: ignore[arg-type]
        try:
            out = await call
        except Exception as e:
            entry[6] = type(e).__name__
            raise
        entry[5] = out["metadata"].get("resourceVersion")
        entry[4] = entry[4] or out["metadata"]["name"]
        return out

    async def create(self, resource: str, obj: Obj, namespace: str | None = None, **kw: Any) -> Any:
        return await self._note("create", resource, namespace, kw.get("name") or obj["metadata"].get("name"),
                                kw.get("subresource"), self.inner.create(resource, obj, namespace, **kw))

    async def update(self, resource: str, obj: Obj, namespace: str | None = None, **kw: Any) -> Any:
        return await self._note("update", resource, namespace, obj["metadata"]["name"], kw.get("subresource"),
                                self.inner.update(resource, obj, namespace, **kw))

    async def patch(self, resource: str, name: str, patch: Any, namespace: str | None = None, **kw: Any) -> Any:
        return await self._note("patch", resource, namespace, name, kw.get("subresource"),
                                self.inner.patch(resource, name, patch, namespace, **kw))

    async def delete(self, resource: str, name: str, namespace: str | None = None, **kw: Any) -> Any:
        return await self._note("delete", resource, namespace, name, None,
                                self.inner.delete(resource, name, namespace, **kw))


async def _until(pred: Any, what: str, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not await pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


async def _rolled_out(client: Any, name: str) -> bool:
    d = await client.get("deployments", name, "default")
    st, n = d.get("status") or {}, d["spec"]["replicas"]
    return (st.get("observedGeneration") == d["metadata"]["generation"]
            and st.get("updatedReplicas") == st.get("replicas") == st.get("availableReplicas") == n)


def _deployment(name: str, replicas: int, image: str) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "hello", "image": image}]}}}}


async def _set_image(api: Any, name: str, image: str) -> None:
    await api.patch("deployments", name, {"spec": {"template": {"spec": {"containers": [
        {"name": "hello", "image": image}]}}}}, "default", patch_type=STRATEGIC_MERGE_PATCH)


@pytest.fixture
async def rollout_cluster(api, clock):
    """Deployment + ReplicaSet controllers and the scheduler over an audited client, 2 simulated nodes."""
    audit = Audit(api)
    log = ReconcileLog(clock=clock)
    provider = SimulatedProvider(ClusterConfig("reconcile-log", Path(".")), api, clock, heartbeats=False)
    for i in range(2):
        await provider.start_node(NodeConfig(name=f"node-{i}", api_url="", token="", ca_pem="",
                                             cpus=32, memory="64Gi", max_pods=100))
    scheduler = Scheduler(audit, clock=clock, seed=1, record_explanations=False, reconcile_log=log)
    await scheduler.start()
    cm = ControllerManager(audit, clock=clock, controllers=["deployment", "replicaset"], resync_seconds=None,
                           reconcile_log=log)
    await cm.start()
    yield api, audit, log, cm, scheduler
    await cm.stop()
    await scheduler.stop()
    await provider.close()


async def _quiet(cm: ControllerManager, scheduler: Scheduler, log: ReconcileLog, audit: Audit) -> None:
    """Until no write is in flight and every record is published (bounded)."""
    for _ in range(200):
        await cm.settle()
        await scheduler.wait_for_bindings()
        for c in cm.controllers.values():
            await c.recorder.flush()
        before = (len(audit.writes), log.last_seq)
        await asyncio.sleep(0.01)
        if (len(audit.writes), log.last_seq) == before and not any(
                len(c.queue) or c.queue.processing for c in cm.controllers.values()):
            return
    raise AssertionError("the control plane never went quiet")


def _log_writes(log: ReconcileLog) -> list[tuple]:
    return [(w.verb, w.resource, w.subresource, w.namespace, w.name, w.rv_after,
             w.error.split(":")[0] if w.error else None)
            for r in log.since(0) for w in r.writes]


async def test_a_rollouts_reconcile_log_lists_the_same_writes_as_the_audit(rollout_cluster):
    api, audit, log, cm, scheduler = rollout_cluster
    await api.create("deployments", _deployment("web", 5, "kubetui/hello:1"), "default")
    await _until(lambda: _rolled_out(api, "web"), "web's first rollout")
    await _set_image(api, "web", "kubetui/hello:2")
    await _until(lambda: _rolled_out(api, "web"), "web's rollout to hello:2")
    await _quiet(cm, scheduler, log, audit)

    audited = [tuple(w) for w in audit.writes if w[1] != "events"]
    logged = _log_writes(log)
    assert len(audited) > 20                       # a rollout of 5 writes a lot: not a vacuous comparison
    missing = collections.Counter(audited) - collections.Counter(logged)
    extra = collections.Counter(logged) - collections.Counter(audited)
    assert not missing and not extra, f"not in the log: {list(missing)[:5]}; not audited: {list(extra)[:5]}"
    # Every kind of write of a rollout is there: new ReplicaSet, scale steps, pods, bindings, status.
    kinds = {(w[0], w[1], w[2]) for w in logged}
    assert {("create", "replicasets", None), ("update", "replicasets", None), ("create", "pods", None),
            ("delete", "pods", None), ("create", "pods", "binding"),
            ("update", "deployments", "status"), ("update", "replicasets", "status")} <= kinds

    # An update names the resourceVersion it was based on, and the one the server gave it
    # (a binding answers with a Status, as upstream's: it has none).
    for r in log.since(0):
        for w in r.writes:
            if w.error is None and w.subresource != "binding":
                assert w.rv_after and (w.verb != "update" or w.rv_before), w
                if w.rv_before and w.verb == "update":
                    assert int(w.rv_after) >= int(w.rv_before)   # equal: a no-op update (not stored)
    # And each one is a write the store holds at that revision (etcd's own history of the key).
    from kubetui.api.resources import resource_for
    store = api._kubetui_store
    checked = 0
    for r in log.since(0):
        for w in r.writes:
            if w.error is None and w.subresource != "binding" and w.verb != "delete" and w.rv_after != w.rv_before:
                key = resource_for(w.resource).key(w.name, w.namespace)
                assert int(w.rv_after) in {e.revision for e in store.history(key)}, (w, key)
                checked += 1
    assert checked > 20
    # Sequence numbers only grow; records carry their controller, object, timing and words.
    recs = log.since(0)
    assert [r.seq for r in recs] == list(range(recs[0].seq, recs[0].seq + len(recs)))
    assert {r.controller for r in recs} == {"deployment", "replicaset", "scheduler"}
    d = [r for r in recs if r.controller == "deployment"]
    assert all(r.object == "Deployment/default/web" and r.observed for r in d)
    assert any(o.startswith("want 5, have ") for r in d for o in r.observed)
    steps = [x for r in d for x in r.decided if x.get("action") == "scale"]
    assert any(s["text"].startswith("scale up rs web-") for s in steps)
    assert any(s["text"].startswith("scale down rs web-") and s["to"] == 0 for s in steps)
    assert all(isinstance(s["available"], int) for s in steps)      # what the rollout tab draws beside each
    rs = [r for r in recs if r.controller == "replicaset"]
    assert any(x["text"].startswith("create ") and x["text"].endswith(" pod") for r in rs for x in r.decided)
    assert all(r.owner == "Deployment/default/web" for r in rs)
    sched = [r for r in recs if r.controller == "scheduler"]
    assert len(sched) == 10 and all(r.decided[0]["text"].startswith(f"bind {r.name} to node-") for r in sched)
    assert all(any(w.subresource == "binding" for w in r.writes) for r in sched)


async def test_filtering_by_a_deployment_keeps_its_replicasets_and_pods(rollout_cluster):
    api, audit, log, cm, scheduler = rollout_cluster
    await api.create("deployments", _deployment("web", 2, "kubetui/hello:1"), "default")
    await api.create("deployments", _deployment("api", 2, "kubetui/hello:1"), "default")
    await _until(lambda: _rolled_out(api, "web"), "web")
    await _until(lambda: _rolled_out(api, "api"), "api")
    await _set_image(api, "web", "kubetui/hello:2")
    await _until(lambda: _rolled_out(api, "web"), "web's rollout")
    await _quiet(cm, scheduler, log, audit)

    web = log.since(0, object="Deployment/default/web")
    objects = {r.object for r in web}
    web_rss = {f"ReplicaSet/default/{rs['metadata']['name']}"
               for rs in (await api.list("replicasets", "default", label_selector="app=web"))["items"]}
    assert len(web_rss) == 2 and web_rss <= objects
    assert "Deployment/default/web" in objects
    created = {f"Pod/default/{w.name}" for r in log.since(0, object="Deployment/default/web")
               for w in r.writes if w.verb == "create" and w.resource == "pods" and not w.subresource}
    assert len(created) == 4                        # 2 pods, then 2 new ones in the rollout
    assert created <= objects                       # each pod's scheduling cycle is in the filter
    assert not any("api" in o for o in objects), sorted(objects)
    assert [r.seq for r in web] == sorted(r.seq for r in web)
    # One ReplicaSet: its own records and its pods', not its sibling's.
    one = sorted(web_rss)[0]
    mine = log.since(0, object=one)
    assert mine and all(r.object == one or r.owner == one for r in mine)


async def test_the_ring_is_bounded_and_keeps_the_newest(api, clock):
    log = ReconcileLog(capacity=25, clock=clock)
    cm = ControllerManager(api, clock=clock, controllers=["replicaset"], resync_seconds=None, reconcile_log=log)
    await cm.start()
    try:
        for i in range(40):
            await api.create("replicasets", {
                "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": f"rs-{i}", "namespace": "default"},
                "spec": {"replicas": 0, "selector": {"matchLabels": {"app": f"rs-{i}"}},
                         "template": {"metadata": {"labels": {"app": f"rs-{i}"}},
                                      "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}, "default")
            await cm.settle()
    finally:
        await cm.stop()
    assert log.last_seq >= 40
    assert len(log) == 25
    kept = log.since(0)
    assert [r.seq for r in kept] == list(range(log.last_seq - 24, log.last_seq + 1))
    assert log.oldest_seq == log.last_seq - 24
    assert kept[-1].name == "rs-39"
    assert log.since(log.last_seq - 3, tail=2) == kept[-2:]


async def test_the_workload_controllers_say_what_they_saw_and_decided(api, clock, manager_for):
    from ctrl_helpers import node
    await node(api, "node-1", clock)
    cm = await manager_for("statefulset", "daemonset", "job", "endpoints")
    template = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    await api.create("statefulsets", {"apiVersion": "apps/v1", "kind": "StatefulSet",
                                      "metadata": {"name": "db", "namespace": "default"},
                                      "spec": {"replicas": 2, "serviceName": "db", "podManagementPolicy": "Parallel",
                                               "selector": {"matchLabels": {"app": "x"}}, "template": template}},
                     "default")
    await api.create("daemonsets", {"apiVersion": "apps/v1", "kind": "DaemonSet",
                                    "metadata": {"name": "agent", "namespace": "default"},
                                    "spec": {"selector": {"matchLabels": {"app": "a"}},
                                             "template": {**template, "metadata": {"labels": {"app": "a"}}}}},
                     "default")
    await api.create("jobs", {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi", "namespace": "default"},
                              "spec": {"completions": 3, "parallelism": 2,
                                       "template": {"spec": {"restartPolicy": "Never",
                                                             "containers": [{"name": "c", "image": "perl"}]}}}},
                     "default")
    await api.create("services", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
                                  "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}]}}, "default")
    await cm.settle()

    def said(controller: str, obj: str) -> tuple[list[str], list[str]]:
        recs = [r for r in cm.reconcile_log.since(0) if r.controller == controller and r.object == obj]
        assert recs, f"no record of {controller} for {obj}"
        return [o for r in recs for o in r.observed], [d["text"] for r in recs for d in r.decided]

    observed, decided = said("statefulset", "StatefulSet/default/db")
    assert observed[0] == "want 2, have 0 pods" and {"create pod db-0", "create pod db-1"} <= set(decided)
    observed, decided = said("daemonset", "DaemonSet/default/agent")
    assert observed[0] == "want a pod on 1 of 1 nodes, have pods on 0" and "create a pod on node-1" in decided
    observed, decided = said("job", "Job/default/pi")
    assert observed[0].startswith("0 active, 0 succeeded, 0 failed of 3 completions") and "create 2 pods" in decided
    observed, decided = said("endpoints", "Service/default/web")
    assert observed[0].endswith("endpoint addresses for the Service's selector") and "create Endpoints web" in decided


async def test_the_garbage_collectors_records_name_the_dependent_by_kind(api, clock, manager_for):
    cm = await manager_for("garbage-collector")
    owner = await api.create("configmaps", {"metadata": {"name": "owner", "namespace": "default"}}, "default")
    await api.create("configmaps", {"metadata": {"name": "dependent", "namespace": "default", "ownerReferences": [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}]}}, "default")
    await cm.settle()
    await api.delete("configmaps", "owner", "default")
    for _ in range(50):
        await cm.settle()
        recs = [r for r in cm.reconcile_log.since(0) if any(w.verb == "delete" for w in r.writes)]
        if recs:
            break
        await asyncio.sleep(0.01)
    assert [r.object for r in recs] == ["ConfigMap/default/dependent"]
    assert recs[0].writes[0].text().startswith("delete configmaps default/dependent")
