"""``kubetui lessons test``: every lesson proves itself against a real cluster (for CI).

Killercoda and Instruqt lessons rot silently when Kubernetes moves on (the
Kubernetes Basics tutorial kept ``kubectl run --generator`` for years). A
kubetui lesson is tested like code:

    setup → for each step: its checks must FAIL (else "check cannot fail")
                           → run its solution → its checks must PASS within a timeout
          → cleanup (and every fault it injected reverted)

A step whose checks already pass before its solution is a defect: it would
congratulate a learner who did nothing. Results read as JUnit (``export.py``).

By default each lesson gets a fresh cluster in this process, shaped by its
``cluster:`` needs (provider, nodes, scheduler profile), in a temporary state
directory; ``attach`` runs against an existing cluster instead. A lesson that
acts on the control plane itself (``control_planes: 3``, ``store: etcd``: it
kills etcd members, restores a snapshot) gets a cluster started as a learner
starts one, ``kubetui up`` with the control plane in its own process, so the
lesson's ``kubetui fault``/``kubetui store snapshot restore`` act on it from
outside exactly as they do for the learner.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import subprocess
import sys
import tempfile
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator, Callable

from kubetui.lessons.checks import CheckResult, current_rv, evaluate, first_failure
from kubetui.lessons.format import Lesson
from kubetui.lessons.runner import ActionError, LabEnv, run_actions

log = logging.getLogger(__name__)

STEP_TIMEOUT = 90.0


@dataclass
class StepTest:
    step: str
    title: str
    passed: bool
    phase: str = ""              # before / solution / after: where it failed
    message: str = ""
    seconds: float = 0.0
    passed_before: list[str] = field(default_factory=list)   # checks already true before the solution


@dataclass
class LessonTest:
    lesson: str
    title: str
    steps: list[StepTest] = field(default_factory=list)
    error: str = ""              # setup/cleanup/cluster failure
    seconds: float = 0.0
    provider: str = ""
    cluster: str = ""            # the cluster it ran on (a fresh one is named lt-<lesson>-<random>)

    @property
    def passed(self) -> bool:
        return not self.error and bool(self.steps) and all(s.passed for s in self.steps)


def _why(results: list[CheckResult]) -> str:
    bad = first_failure(results)
    return f"{bad.message} [{bad.label}: {bad.detail}]" if bad else ""


async def _poll(lesson: Lesson, checks, env: LabEnv, since: float, since_rv: int | None,
                timeout: float) -> list[CheckResult]:
    deadline = time.monotonic() + timeout
    ctx = env.check_context(since=since, cwd=lesson.dir, since_rv=since_rv)
    while True:
        results = await evaluate(checks, ctx)
        if first_failure(results) is None or time.monotonic() >= deadline:
            return results
        await asyncio.sleep(0.25)


async def selftest_lesson(lesson: Lesson, env: LabEnv, *, step_timeout: float = STEP_TIMEOUT,
                      progress: Callable[[str], None] = lambda m: None) -> LessonTest:
    """Run one lesson's self-test on ``env`` (which it leaves as it found it)."""
    from kubetui.faults import FaultError, revert_all

    out = LessonTest(lesson.id, lesson.title, provider=env.provider_name, cluster=env.cluster_name)
    t0 = time.monotonic()
    problem = env.unmet_needs(lesson)
    if problem:
        out.error = problem
        return out
    try:
        await run_actions(lesson.setup, env, lesson.dir)
    except ActionError as e:
        out.error = f"setup failed: {e}"
    if not out.error:
        for i, step in enumerate(lesson.steps):
            st = StepTest(step.id, step.title, False)
            s0 = time.monotonic()
            out.steps.append(st)
            progress(f"{lesson.id} step {i + 1} {step.id}")
            if not step.checks:
                st.phase, st.message = "before", "step has no checks: nothing tells the learner they are done"
                break
            since, since_rv = time.time(), await current_rv(env.client)
            before = await evaluate(step.checks, env.check_context(since=since, cwd=lesson.dir, since_rv=since_rv))
            st.passed_before = [r.label for r in before if r.passed]
            if first_failure(before) is None:
                st.phase = "before"
                st.message = (f"check cannot fail: all {len(before)} check(s) pass before the solution "
                              f"({', '.join(st.passed_before)})")
                break
            if not step.solution:
                st.phase, st.message = "solution", "step has no solution: it cannot be skipped, reset or tested"
                break
            try:
                await run_actions(step.solution, env, lesson.dir)
            except ActionError as e:
                st.phase, st.message = "solution", str(e)
                break
            limit = max([step_timeout] + [c.timeout or 0 for c in step.checks])
            after = await _poll(lesson, step.checks, env, since, since_rv, limit)
            st.seconds = time.monotonic() - s0
            if first_failure(after) is not None:
                st.phase = "after"
                st.message = f"checks still fail {limit:.0f}s after the solution: {_why(after)}"
                break
            st.passed = True
    try:
        await run_actions(lesson.cleanup, env, lesson.dir)
    except ActionError as e:
        out.error = out.error or f"cleanup failed: {e}"
    try:
        await revert_all(env.fault_context())
    except FaultError as e:
        out.error = out.error or f"reverting faults failed: {e}"
    out.seconds = time.monotonic() - t0
    return out


def provider_for(lesson: Lesson) -> str:
    """The provider a fresh test cluster uses for this lesson."""
    p = lesson.cluster.provider
    if p != "any":
        return p
    if lesson.cluster.control_planes > 1:
        return "local"  # several control planes run as local processes (cluster/ha.py)
    if "docker" in lesson.requires:
        return "docker"
    if "pods" in lesson.requires or "dns" in lesson.requires:
        return "local"
    return "simulated"


@asynccontextmanager
async def fresh_cluster(lesson: Lesson, root: Path | None = None) -> AsyncIterator[LabEnv]:
    """A throwaway cluster in this process, shaped like the lesson asks (torn down after)."""
    from kubetui.cluster import Cluster, ClusterSettings

    provider = provider_for(lesson)
    if lesson.cluster.out_of_process:
        async with _process_cluster(lesson, provider, root) as env:
            yield env
        return
    with tempfile.TemporaryDirectory(prefix=f"kubetui-lesson-{lesson.id}-", dir=root) as tmp:
        # Unique: two self-tests of one lesson at once (two CI jobs, or a teacher and CI on one
        # Docker host) must not replace each other's node containers.
        name = f"lt-{lesson.id[:20]}-{secrets.token_hex(3)}"
        settings = ClusterSettings(name=name, provider=provider, nodes=lesson.cluster.nodes, api_port=0,
                                   scheduler_profile=lesson.cluster.scheduler_profile or "default")
        cluster = Cluster(settings, Path(tmp))
        try:
            kubeconfig = await cluster.up()
            cp = cluster.control_plane
            yield LabEnv(cp.client, Path(tmp), kubeconfig, provider, name, provider=cluster.provider,
                         scheduler_profile=settings.scheduler_profile, nodes=settings.nodes)
        finally:
            await cluster.stop()
            if provider == "docker" and cluster.provider is not None:
                # a throwaway cluster: its containers, network and volumes all go
                await cluster.provider.delete(purge=True)


def _kubetui(*args: str, timeout: float) -> subprocess.CompletedProcess:
    """The real ``kubetui`` command line, as the learner runs it."""
    return subprocess.run([sys.executable, "-m", "kubetui", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


@asynccontextmanager
async def _process_cluster(lesson: Lesson, provider: str, root: Path | None) -> AsyncIterator[LabEnv]:
    """``kubetui up`` (its control plane in its own process) shaped like the lesson asks; ``kubetui down`` after."""
    need = lesson.cluster
    with tempfile.TemporaryDirectory(prefix=f"kubetui-lesson-{lesson.id}-", dir=root) as tmp:
        state = Path(tmp) / "cluster"
        name = f"lt-{lesson.id[:20]}-{secrets.token_hex(3)}"
        argv = ["up", "--state-dir", str(state), "--name", name, "--provider", provider, "--nodes", str(need.nodes),
                "--api-port", "0", "--control-planes", str(need.control_planes)]
        if need.store != "any":
            argv += ["--store", need.store]
        if need.scheduler_profile:
            argv += ["--scheduler-profile", need.scheduler_profile]
        env = None
        try:
            r = await asyncio.to_thread(_kubetui, *argv, timeout=300)
            if r.returncode != 0:
                raise RuntimeError(f"kubetui {' '.join(argv)} failed: {(r.stderr or r.stdout).strip()[-600:]}")
            env = LabEnv.from_state_dir(state)
            yield env
        finally:
            if env is not None:
                await env.client.close()
            await asyncio.to_thread(_kubetui, "down", "--state-dir", str(state), timeout=300)


async def selftest_lessons(lessons: list[Lesson], *, attach: LabEnv | None = None, step_timeout: float = STEP_TIMEOUT,
                       progress: Callable[[str], None] = lambda m: None) -> list[LessonTest]:
    results = []
    for lesson in lessons:
        if attach is not None:
            results.append(await selftest_lesson(lesson, attach, step_timeout=step_timeout, progress=progress))
            continue
        t0 = time.monotonic()
        try:
            async with fresh_cluster(lesson) as env:
                results.append(await selftest_lesson(lesson, env, step_timeout=step_timeout, progress=progress))
        except Exception as e:  # noqa: BLE001 - one lesson's broken cluster must not stop the others
            log.debug("lesson %s: cluster failed", lesson.id, exc_info=True)
            results.append(LessonTest(lesson.id, lesson.title, error=f"cluster failed: {e}",
                                      seconds=time.monotonic() - t0, provider=provider_for(lesson)))
    return results
