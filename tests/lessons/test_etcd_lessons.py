"""The lessons on the control plane itself pass their self-test (``kubetui lessons test ID``), and a wrong
action fails the check meant for it.

Each asks for a cluster shape (``cluster: {control_planes: 3, store: etcd}``, ``{store: etcd}``), so the
self-test starts it as a learner does, ``kubetui up`` with the control plane in its own process
(``selftest.fresh_cluster``): the lessons' ``kubetui fault`` and ``kubetui store snapshot restore`` act on
it from outside. One cluster per lesson, shared by its self-test and the wrong-action case after it.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import time

import pytest

from kubetui.cmd.lessons import lessons_root
from kubetui.faults import inject, revert_all
from kubetui.lessons.checks import evaluate, first_failure
from kubetui.lessons.format import discover, load_lesson
from kubetui.lessons.selftest import fresh_cluster, provider_for, selftest_lesson

# the other lessons' self-tests (tests/lesson_selftests.py, in the background) are over first: these
# clusters run three API servers and three etcd members, and the lessons' etcdctl checks allow 1-2 s
pytestmark = [pytest.mark.etcd, pytest.mark.slow, pytest.mark.usefixtures("lesson_selftests_over")]

SHIPPED = {lesson.id: lesson for lesson in (load_lesson(p) for p in discover(lessons_root(argparse.Namespace())))}


def test_the_control_plane_lessons_ask_for_their_cluster_shape():
    cp, backup = SHIPPED["control-plane-is-a-cluster"], SHIPPED["etcd-backup-and-restore"]
    assert (cp.cluster.control_planes, cp.cluster.store, provider_for(cp)) == (3, "etcd", "local")
    assert (backup.cluster.control_planes, backup.cluster.store) == (1, "etcd")
    assert cp.cluster.out_of_process and backup.cluster.out_of_process
    # only these two need an out-of-process cluster; the others keep the cheaper in-process one
    assert {i for i, lesson in SHIPPED.items() if lesson.cluster.out_of_process} == {cp.id, backup.id}


def _passed(r) -> None:
    problems = [r.error] + [f"{s.step} [{s.phase}]: {s.message}" for s in r.steps if not s.passed]
    assert r.passed, "\n".join(p for p in problems if p)


def _kubectl(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([env.kubectl, f"--kubeconfig={env.kubeconfig}", "--request-timeout=10s", *args],
                          capture_output=True, text=True, timeout=60)


async def _until(what: str, ok, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(ok):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.5)


def _processes_of(state_dir) -> list[str]:
    """Every process whose command line names the cluster's state directory."""
    from pathlib import Path
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(state_dir) in cmdline and proc.name.isdigit():
            found.append(f"{proc.name}: {cmdline[:160]}")
    return found


async def test_control_plane_lesson_passes_and_one_dead_member_is_not_quorum_loss():
    lesson = SHIPPED["control-plane-is-a-cluster"]
    async with fresh_cluster(lesson) as env:
        state_dir = env.state_dir
        assert (env.control_planes, env.store, env.provider_name) == (3, "etcd", "local")
        r = await selftest_lesson(lesson, env, step_timeout=60)
        _passed(r)
        assert all(len(s.passed_before) < len(step.checks) for s, step in zip(r.steps, lesson.steps))

        # The wrong action: only one etcd member killed when the step asks for lost quorum. Two of three
        # still commit writes, so the check on the API server's etcd readiness must say quorum is not lost.
        step = lesson.steps[lesson.step_index("quorum-lost")]
        await inject(env.fault_context(), "etcd-member-kill", seed=3)
        try:
            await _until("a write with two of three members", lambda: _kubectl(
                env, "create", "configmap", "two-of-three", "--from-literal=a=b").returncode == 0
                or _kubectl(env, "get", "configmap", "two-of-three").returncode == 0)
            bad = first_failure(await evaluate(step.checks, env.check_context(cwd=lesson.dir)))
            assert bad is not None and "quorum is not lost yet" in bad.message, bad
        finally:
            await revert_all(env.fault_context())
    # kubetui down leaves nothing running, not even the processes the faults' reverts started again
    # (no children of the cluster's process: a control plane restarted that way outlived down)
    assert _processes_of(state_dir) == []


async def test_backup_lesson_passes_and_an_empty_namespace_is_no_restore():
    lesson = SHIPPED["etcd-backup-and-restore"]
    async with fresh_cluster(lesson) as env:
        assert env.store == "etcd"
        r = await selftest_lesson(lesson, env, step_timeout=60)
        _passed(r)
        assert all(len(s.passed_before) < len(step.checks) for s, step in zip(r.steps, lesson.steps))

        # The wrong action: recreating the lost namespace by hand instead of restoring the snapshot.
        # The namespace is there (Active), but not its objects: the check on the ConfigMap says so.
        await _until("namespace shop gone after cleanup",
                     lambda: _kubectl(env, "get", "namespace", "shop").returncode != 0)
        assert _kubectl(env, "create", "namespace", "shop").returncode == 0
        step = lesson.steps[lesson.step_index("restore")]
        results = await evaluate(step.checks, env.check_context(cwd=lesson.dir))
        assert results[0].passed, results[0].detail  # the namespace itself is Active
        bad = first_failure(results)
        assert bad is not None and "is not back" in bad.message and "settings" in bad.message, bad
