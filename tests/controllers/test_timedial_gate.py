"""The time dial's gate in the real controllers and scheduler (issue 19): pause, step, slow motion.

Everything runs on the real registry with simulated (KWOK-like) kubelets and a
fake clock under the dial, so nothing waits for wall-clock seconds: slow
motion is checked on the fake clock's timeline, not with a stopwatch.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

import pytest

from ctrl_helpers import deployment, replicaset
from test_deployment_rollouts import Observer, _rolled_out, _watch
from kubetui.client.base import STRATEGIC_MERGE_PATCH
from kubetui.controllers import deployment_util as du
from kubetui.controllers.manager import ControllerManager
from kubetui.providers.base import ClusterConfig, NodeConfig
from kubetui.providers.simulated import SimulatedProvider
from kubetui.scheduler.scheduler import Scheduler
from kubetui.timedial import TimeDial


async def _until(pred: Any, what: str, limit: float = 20.0, tick: Any = None) -> None:
    deadline = time.monotonic() + limit
    while not await pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        if tick is not None:
            await tick()
        else:
            await asyncio.sleep(0.002)


def _reconciles(cm: ControllerManager) -> int:
    return sum(c.stats.reconciles for c in cm.controllers.values())


@pytest.fixture
async def dialled(api, clock):
    """deployment + replicaset controllers, the scheduler and 3 simulated nodes, all behind one dial."""
    dial = TimeDial(clock, history=10_000)      # the slow-motion test reads every item's start
    provider = SimulatedProvider(ClusterConfig("timedial", Path(".")), api, clock, heartbeats=False)
    for i in range(3):
        await provider.start_node(NodeConfig(name=f"node-{i}", api_url="", token="", ca_pem="",
                                             cpus=64, memory="256Gi", max_pods=500))
    scheduler = Scheduler(api, clock=clock, seed=1, record_explanations=False, dial=dial)
    await scheduler.start()
    cm = ControllerManager(api, clock=clock, controllers=["deployment", "replicaset"], resync_seconds=None,
                           dial=dial)
    await cm.start()
    await cm.settle()
    yield dial, cm, scheduler, provider
    dial.resume()
    await cm.stop()
    await scheduler.stop()
    await provider.close()


async def test_paused_a_new_deployment_gets_no_replicaset_until_a_step(api, dialled):
    dial, cm, _, _ = dialled
    dial.pause()
    before = _reconciles(cm)
    await api.create("deployments", deployment("web", replicas=3), "default")

    async def held() -> bool:
        return ("deployment", "default/web") in dial.waiting()
    await _until(held, "the Deployment's key at the gate")
    for _ in range(50):               # time passes for everyone else: the API server, the informers
        await asyncio.sleep(0)
    assert (await api.list("replicasets", "default"))["items"] == []
    assert _reconciles(cm) == before

    ran = await dial.step(1)
    assert [(t.component, t.key) for t in ran] == [("deployment", "default/web")]
    assert _reconciles(cm) == before + 1       # exactly one reconcile
    rss = (await api.list("replicasets", "default"))["items"]
    assert len(rss) == 1 and rss[0]["spec"]["replicas"] == 3
    assert (await api.list("pods", "default"))["items"] == []   # the ReplicaSet controller has not run

    rs_key = f"default/{rss[0]['metadata']['name']}"

    async def rs_held() -> bool:
        return ("replicaset", rs_key) in dial.waiting()
    await _until(rs_held, "the ReplicaSet's key at the gate")
    # the next step runs what came first: a step reports it, whoever it is
    ran = []
    while not any(t.component == "replicaset" for t in ran):
        ran += await dial.step(1)
    assert len((await api.list("pods", "default"))["items"]) == 3
    pods = (await api.list("pods", "default"))["items"]
    assert not any(p["spec"].get("nodeName") for p in pods)     # the scheduler waits at the gate too

    async def pods_held() -> bool:
        return sum(1 for c, _ in dial.waiting() if c == "scheduler") >= 1
    await _until(pods_held, "a pod at the scheduler's gate")
    dial.resume()

    async def done() -> bool:
        return await _rolled_out(api, "web")
    await _until(done, "the Deployment to become available after resume")


async def test_a_rollout_in_slow_motion_keeps_its_fenceposts_and_spaces_each_controllers_work(api, clock, dialled):
    dial, cm, _, _ = dialled
    replicas, surge, unavailable = 5, "25%", "25%"
    fence = du.resolve_fenceposts(surge, unavailable, replicas)
    spec = {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}}
    await api.create("deployments", deployment("web", replicas=replicas, image="kubetui/hello:1", **spec), "default")

    async def done() -> bool:
        return await _rolled_out(api, "web")
    await _until(done, "the first rollout at 1x")
    obs = Observer({"web": (replicas, *fence)})
    obs.steady.add("web")
    rv = (await api.list("pods", "default"))["metadata"]["resourceVersion"]
    watches = [asyncio.create_task(_watch(api, "replicasets", rv, obs.on_rs)),
               asyncio.create_task(_watch(api, "pods", rv, obs.on_pod))]
    for p in (await api.list("pods", "default"))["items"]:
        obs.pods[p["metadata"]["name"]] = p

    dial.set_speed("0.1x")
    start = clock.monotonic()
    first = max((t.seq for t in dial.history), default=0)
    await api.patch("deployments", "web", {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "kubetui/hello:2"}]}}}}, "default", patch_type=STRATEGIC_MERGE_PATCH)

    async def tick() -> None:
        await clock.advance(0.25)
        await asyncio.sleep(0.001)
    try:
        await _until(done, "the rollout at 0.1x", tick=tick)
    finally:
        for w in watches:
            w.cancel()
        await asyncio.gather(*watches, return_exceptions=True)
    slow = clock.monotonic() - start
    assert not obs.violations, "\n".join(obs.violations[:20])
    # Each component's work items started at least (1/0.1 - 1) x base interval apart, on the dial's base clock.
    gap = dial.spacing()
    assert gap == pytest.approx(9 * dial.base_interval)
    starts: dict[str, list[float]] = {}
    for t in dial.history:
        if t.seq > first and t.how == "pace":          # not one that passed at 1x and finished after the speed changed
            starts.setdefault(t.component, []).append(t.started)
    assert len(starts.get("deployment", [])) >= 3
    for component, ts in starts.items():
        assert all(b - a >= gap - 1e-6 for a, b in zip(ts, ts[1:])), (component, ts)
    # so the rollout took at least that long for its deployment reconciles alone (fake seconds)
    assert slow >= gap * (len(starts["deployment"]) - 1)


async def test_pausing_and_resuming_a_busy_cluster_loses_no_work_and_deadlocks_nothing(api, clock, dialled):
    dial, cm, scheduler, provider = dialled
    rng = random.Random(19)
    pods_wanted = 1000
    for i in range(10):       # ReplicaSets, not Deployments: the Deployment controller would only add cost here
        await api.create("replicasets", replicaset(f"app{i}", replicas=pods_wanted // 10), "default")
    stop = asyncio.Event()
    steps = 0

    async def fiddle() -> None:
        nonlocal steps
        while not stop.is_set():
            dial.pause()
            await asyncio.sleep(rng.random() * 0.02)
            if rng.random() < 0.5:
                steps += len(await dial.step(rng.randint(1, 5), wait=0.01))
            dial.resume()
            await asyncio.sleep(rng.random() * 0.02)
            await clock.advance(0.05)        # backoffs and requeues on the (fake) clock move on too

    fiddler = asyncio.create_task(fiddle())

    async def all_running() -> bool:
        await asyncio.sleep(0.1)
        if scheduler.bound < pods_wanted or provider.pods_started < pods_wanted:
            return False          # cheap counters first: listing 1000 pods is not free
        items = (await api.list("pods", "default"))["items"]
        return (len(items) == pods_wanted
                and all(p["spec"].get("nodeName") and (p.get("status") or {}).get("phase") == "Running"
                        for p in items))
    try:
        await _until(all_running, "1000 pods bound and running through random pauses", limit=120)
    finally:
        stop.set()
        await fiddler
        dial.resume()
    assert steps > 0
    items = (await api.list("pods", "default"))["items"]
    assert len(items) == pods_wanted                       # nothing created twice
    assert len({p["metadata"]["name"] for p in items}) == pods_wanted

    async def tick() -> None:
        await clock.advance(0.5)
        await asyncio.sleep(0.01)

    async def counted() -> bool:        # each ReplicaSet's status caught up with its 100 running pods
        rss = (await api.list("replicasets", "default"))["items"]
        return all((r.get("status") or {}).get("readyReplicas") == pods_wanted // 10 for r in rss)
    try:
        await _until(counted, "every ReplicaSet to count its ready pods", limit=60, tick=tick)
    except AssertionError as e:
        rss = (await api.list("replicasets", "default"))["items"]
        raise AssertionError(f"{e}: {[(r['metadata']['name'], r.get('status')) for r in rss]}; "
                             f"at the gate: {dial.waiting()}; queues: "
                             f"{ {n: (c.queue.pending(), c.queue.processing, c.queue.waiting()) for n, c in cm.controllers.items()} }") from None
    await cm.settle()
    assert dial.waiting() == []
    assert not scheduler.queue.in_flight


@pytest.mark.parametrize("real_time_timers", [False, True])
async def test_a_pause_does_not_let_a_silent_node_expire_unless_timers_run_in_real_time(api, clock, real_time_timers):
    """The node lifecycle controller's grace period runs on the dial's clock: a node that falls silent
    while the control plane is paused has lost no grace when it resumes (with real-time timers it has)."""
    from test_node_lifecycle import cond, renew
    from ctrl_helpers import node
    from kubetui.timings import LAB

    dial = TimeDial(clock)
    await node(api, "node-1", clock)
    await renew(api, clock, "node-1")
    cm = ControllerManager(api, clock=clock, controllers=["node-lifecycle"], resync_seconds=None, dial=dial)
    await cm.start()
    try:
        await cm.settle()
        dial.pause(real_time_timers=real_time_timers)
        # node-1's kubelet stops; the wall clock runs on for twice the grace period
        await clock.advance(2 * LAB.node_monitor_grace_seconds, step=0.25)
        await cm.settle()
        assert cond(await api.get("nodes", "node-1"))["status"] == "True"     # paused: nobody looked
        dial.resume()
        await clock.advance(LAB.node_monitor_period_seconds + 0.5, step=0.25)   # one monitor pass
        await cm.settle()
        status = cond(await api.get("nodes", "node-1"))["status"]
        assert status == ("Unknown" if real_time_timers else "True")
        if not real_time_timers:
            # its grace runs out only on the dial's time, after the resume
            await clock.advance(LAB.node_monitor_grace_seconds, step=0.25)
            await cm.settle()
            assert cond(await api.get("nodes", "node-1"))["status"] == "Unknown"
    finally:
        dial.resume()
        await cm.stop()


async def test_after_a_pause_minreadyseconds_counts_on_the_kubelets_clock_not_the_dials(api, clock):
    """The dial's clock falls behind the wall clock by what it held back; a pod's Ready time is the kubelet's
    (wall clock), so a ReplicaSet must not count it unavailable for the length of every past pause."""
    from ctrl_helpers import node, run_pod

    dial = TimeDial(clock)
    await node(api, "node-1", clock)
    cm = ControllerManager(api, clock=clock, controllers=["replicaset"], resync_seconds=None, dial=dial)
    await cm.start()
    try:
        dial.pause()
        await clock.advance(100)
        dial.resume()
        assert dial.clock.lag() == pytest.approx(100)
        await api.create("replicasets", replicaset("slow", replicas=1, minReadySeconds=5), "default")
        await cm.settle()
        [pod] = (await api.list("pods", "default"))["items"]
        await run_pod(api, pod, clock)                   # Ready now, by the kubelet's (wall) clock
        await cm.settle()
        assert (await api.get("replicasets", "slow", "default"))["status"]["availableReplicas"] == 0
        await clock.advance(6, step=0.5)                 # minReadySeconds has passed
        await cm.settle()
        st = (await api.get("replicasets", "slow", "default"))["status"]
        assert (st["readyReplicas"], st["availableReplicas"]) == (1, 1)
    finally:
        await cm.stop()



@pytest.mark.parametrize("real_time_timers", [False, True])
async def test_a_jobs_active_deadline_does_not_run_out_behind_a_paused_control_plane(api, clock, real_time_timers):
    """activeDeadlineSeconds counts on the dial's clock: 30 s of deadline, 60 s paused, and the Job still
    has its 30 s on resume (with real-time timers it is over at once)."""
    from ctrl_helpers import settle
    from test_job import job, pods_of

    dial = TimeDial(clock)
    cm = ControllerManager(api, clock=clock, controllers=["job"], resync_seconds=None, dial=dial)
    await cm.start()
    try:
        await api.create("jobs", job(activeDeadlineSeconds=30, parallelism=1, completions=1), "default")
        await settle(cm)
        assert len(await pods_of(api)) == 1

        async def deadline_exceeded() -> bool:
            conds = ((await api.get("jobs", "pi", "default")).get("status") or {}).get("conditions") or []
            return any(c.get("reason") == "DeadlineExceeded" for c in conds)
        dial.pause(real_time_timers=real_time_timers)
        await clock.advance(60, step=1)
        await api.patch("jobs", "pi", {"metadata": {"labels": {"touched": "yes"}}}, "default")   # a reason to look
        dial.resume()
        await settle(cm, clock, 1, step=0.5)
        assert await deadline_exceeded() == real_time_timers
        if not real_time_timers:
            await settle(cm, clock, 30, step=1)                  # the deadline runs out on the dial's time
            assert await deadline_exceeded()
    finally:
        dial.resume()
        await cm.stop()
