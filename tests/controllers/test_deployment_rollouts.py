"""Many rolling updates on simulated nodes, watched event by event (issue 12, item 1).

A rolling update only ever scales old ReplicaSets *down* (upstream
``rolling.go``: ``reconcileOldReplicaSets``); proportional scaling, which may
grow an old ReplicaSet, is for a change of the Deployment's replicas only.
And at every moment the pods respect the fenceposts: at least
``replicas - maxUnavailable`` available, at most ``replicas + maxSurge`` pods.

The test runs the real registry, Deployment and ReplicaSet controllers, the
scheduler and simulated (KWOK-like) kubelets that start and stop pods after
short random delays, so the controllers see their caches lag behind their own
writes as they do in a real cluster. A watch on ReplicaSets and Pods checks
every single update.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

import pytest

from kubetui.client.base import STRATEGIC_MERGE_PATCH
from kubetui.controllers import deployment_util as du
from kubetui.controllers.manager import ControllerManager
from kubetui.controllers.util import is_pod_ready
from kubetui.providers.base import ClusterConfig, NodeConfig
from kubetui.providers.simulated import SimulatedProvider
from kubetui.scheduler.scheduler import Scheduler

Obj = dict[str, Any]

# (replicas, maxSurge, maxUnavailable): percent and absolute, 0 on either side.
STRATEGIES = [
    (5, "25%", "25%"), (10, "25%", "25%"), (6, 1, 0), (7, 0, 1), (8, 2, 2),
    (9, "50%", 0), (5, 0, "40%"), (10, 3, "10%"), (6, "30%", 1), (8, 1, 3),
]
ROLLOUTS_EACH = 5          # 10 Deployments x 5 rollouts = 50 rollouts


class Observer:
    """Checks every ReplicaSet and Pod update against the rolling update's promises."""

    def __init__(self, deployments: dict[str, tuple[int, int, int]]) -> None:
        self.deployments = deployments      # name -> (replicas, surge, unavailable)
        self.rs_replicas: dict[str, int] = {}
        self.rs_shrunk: set[str] = set()    # ReplicaSets that have been scaled down once
        self.pods: dict[str, Obj] = {}
        self.steady: set[str] = set()       # Deployments whose first rollout finished
        self.violations: list[str] = []
        self.updates = 0

    def on_rs(self, type_: str, rs: Obj) -> None:
        name = rs["metadata"]["name"]
        n = int(rs["spec"].get("replicas", 1))
        before = self.rs_replicas.get(name)
        self.rs_replicas[name] = n
        self.updates += 1
        if before is None or type_ == "DELETED":
            return
        if n < before:
            self.rs_shrunk.add(name)
        elif n > before and name in self.rs_shrunk:
            self.violations.append(f"ReplicaSet {name} scaled down, then up again: {before} -> {n}")

    def on_pod(self, type_: str, pod: Obj) -> None:
        key = pod["metadata"]["name"]
        if type_ == "DELETED":
            self.pods.pop(key, None)
        else:
            self.pods[key] = pod
        app = (pod["metadata"].get("labels") or {}).get("app")
        if app in self.steady:
            self.check(app)

    def check(self, app: str) -> None:
        replicas, surge, unavailable = self.deployments[app]
        mine = [p for p in self.pods.values() if (p["metadata"].get("labels") or {}).get("app") == app
                and not p["metadata"].get("deletionTimestamp")]
        available = sum(1 for p in mine if is_pod_ready(p))
        if available < replicas - unavailable:
            self.violations.append(f"{app}: {available} available < {replicas} - {unavailable}")
        if len(mine) > replicas + surge:
            self.violations.append(f"{app}: {len(mine)} pods > {replicas} + {surge}")


async def _watch(client: Any, resource: str, rv: str, on_event: Any) -> None:
    async for ev in client.watch(resource, "default", resource_version=rv):
        if ev.type in ("ADDED", "MODIFIED", "DELETED"):
            on_event(ev.type, ev.object)


def _slow_kubelets(provider: SimulatedProvider, rng: random.Random) -> None:
    """Simulated kubelets that take a moment (0-4 ms) to start and to stop each pod."""
    start, finish = provider._start_pod, provider._finish_deletion

    async def slow_start(*args: Any) -> None:
        await asyncio.sleep(rng.random() * 0.004)
        await start(*args)

    async def slow_finish(*args: Any) -> None:
        await asyncio.sleep(rng.random() * 0.004)
        await finish(*args)

    provider._start_pod = slow_start          # type: ignore[method-assign]
    provider._finish_deletion = slow_finish   # type: ignore[method-assign]


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


@pytest.fixture
async def sim_cluster(api, clock):
    provider = SimulatedProvider(ClusterConfig("rollouts", Path(".")), api, clock, heartbeats=False)
    _slow_kubelets(provider, random.Random(12))
    for i in range(3):
        await provider.start_node(NodeConfig(name=f"node-{i}", api_url="", token="", ca_pem="",
                                             cpus=64, memory="256Gi", max_pods=200))
    scheduler = Scheduler(api, clock=clock, seed=1, record_explanations=False)
    await scheduler.start()
    cm = ControllerManager(api, clock=clock, controllers=["deployment", "replicaset"], resync_seconds=None)
    await cm.start()
    yield api
    await cm.stop()
    await scheduler.stop()
    await provider.close()


async def test_fifty_rollouts_never_grow_an_old_replicaset_nor_break_the_fenceposts(sim_cluster):
    api = sim_cluster
    deployments = {}
    for i, (replicas, surge, unavailable) in enumerate(STRATEGIES):
        d = {"maxSurge": surge, "maxUnavailable": unavailable}
        deployments[f"web{i}"] = (replicas, *du.resolve_fenceposts(surge, unavailable, replicas))
    obs = Observer(deployments)
    rv = (await api.list("pods", "default"))["metadata"]["resourceVersion"]
    watches = [asyncio.create_task(_watch(api, "replicasets", rv, obs.on_rs)),
               asyncio.create_task(_watch(api, "pods", rv, obs.on_pod))]

    async def roll(i: int, replicas: int, surge: Any, unavailable: Any) -> None:
        name = f"web{i}"
        body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
                "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                         "strategy": {"type": "RollingUpdate",
                                      "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}},
                         "template": {"metadata": {"labels": {"app": name}},
                                      "spec": {"containers": [{"name": "hello", "image": "kubetui/hello:1"}]}}}}
        await api.create("deployments", body, "default")
        await _until(lambda: _rolled_out(api, name), f"{name}'s first rollout")
        obs.steady.add(name)
        for version in range(2, 2 + ROLLOUTS_EACH):
            # kubectl set image deployment/NAME hello=kubetui/hello:N
            await api.patch("deployments", name, {"spec": {"template": {"spec": {"containers": [
                {"name": "hello", "image": f"kubetui/hello:{version}"}]}}}}, "default",
                patch_type=STRATEGIC_MERGE_PATCH)
            await _until(lambda: _rolled_out(api, name), f"{name}'s rollout to hello:{version}")

    try:
        await asyncio.gather(*(roll(i, *s) for i, s in enumerate(STRATEGIES)))
    finally:
        for w in watches:
            w.cancel()
        await asyncio.gather(*watches, return_exceptions=True)
    assert obs.updates > 0
    assert not obs.violations, "\n".join(obs.violations[:20])
    # Every old ReplicaSet ended at 0, each Deployment has its 1 + ROLLOUTS_EACH revisions.
    rss = (await api.list("replicasets", "default"))["items"]
    assert len(rss) == len(STRATEGIES) * (1 + ROLLOUTS_EACH)
    for name, (replicas, _, _) in deployments.items():
        sizes = sorted(int(r["spec"]["replicas"]) for r in rss if r["metadata"]["labels"]["app"] == name)
        assert sizes == [0] * ROLLOUTS_EACH + [replicas]
