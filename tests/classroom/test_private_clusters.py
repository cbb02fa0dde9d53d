"""Hosted mode's private clusters: a ``scope: cluster`` lesson runs on the learner's own cluster.

The class server (its hosted part, in this process, with a fake clock) is
asked by two learners' TUIs to open a ``scope: cluster`` lesson: each gets a
simulated cluster of their own (not the class's, not each other's), their
next web session runs the lesson there, a namespace-scoped lesson brings them
back to the class's cluster, and a cluster nobody used for the idle time
stops (its state kept). Two one-node simulated clusters: a few seconds each.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from kubetui.classroom.private import PrivateCluster, PrivateClusters, cluster_for_lesson
from kubetui.clock import FakeClock
from kubetui.lessons import LessonLibrary, default_lessons_dir
from kubetui.statedir import running_pid
from kubetui.tui.hosted_lab import needs_move

CLUSTER_LESSON, NAMESPACE_LESSON = "rbac-for-a-team", "deployments"     # one node; shared


@pytest.mark.parametrize("running, unused_for, idle", [
    (True, 599, False), (True, 600, True), (True, 5000, True), (False, 5000, False)])
def test_idle_is_unused_for_the_idle_time_while_running(tmp_path, running, unused_for, idle):
    clock = FakeClock(1000.0)
    pcs = PrivateClusters(tmp_path, clock=clock, idle_seconds=600)
    pcs.clusters["ada"] = PrivateCluster("ada", tmp_path / "ada", running=running, last_used=1000.0 - unused_for)
    assert pcs.idle() == (["ada"] if idle else [])


@pytest.mark.parametrize("scope, lesson, env, moves", [
    ("cluster", "10", {"KUBETUI_CLASS_LAB": "shared"}, True),
    ("namespace", "03", {"KUBETUI_CLASS_LAB": "shared"}, False),
    ("cluster", "10", {"KUBETUI_CLASS_LAB": "private", "KUBETUI_CLASS_LESSON": "10"}, False),
    ("cluster", "16", {"KUBETUI_CLASS_LAB": "private", "KUBETUI_CLASS_LESSON": "10"}, True),
    ("namespace", "03", {"KUBETUI_CLASS_LAB": "private", "KUBETUI_CLASS_LESSON": "10"}, True),
    ("cluster", "10", {}, False),                     # not a hosted session: lessons run where they are
])
def test_a_hosted_session_moves_to_the_lab_a_lesson_needs(scope, lesson, env, moves):
    assert needs_move(scope, lesson, env) is moves


def test_lessons_that_touch_nodes_or_cluster_scoped_kinds_say_scope_cluster():
    lib = LessonLibrary.load(default_lessons_dir())
    assert lib.get("node-failure").scope == "cluster"               # pauses nodes
    assert lib.get(CLUSTER_LESSON).scope == "cluster"               # creates a namespace, Roles
    assert lib.get(NAMESPACE_LESSON).scope == "namespace"
    assert cluster_for_lesson("docker", 9) == ("simulated", 3)


def _hosted(tmp_path: Path, clock: FakeClock):
    from kubetui.apiserver.certs import ensure_pki
    from kubetui.classroom.server import ClassConfig, ClassServer
    from kubetui.cmd.classhosted import Hosted

    folder = tmp_path / "class"
    config, _teacher = ClassConfig.create_or_load(folder)
    ensure_pki(folder, "class", ["127.0.0.1"])
    class_kubeconfig = tmp_path / "class-cluster" / "kubeconfig"       # the class's cluster (not started here)
    learners = {n: {"namespace": f"class-{n}", "kubeconfig": str(class_kubeconfig)} for n in ("ada", "bob")}
    server = ClassServer(config)
    hosted = Hosted(server, folder, learners, "https://127.0.0.1:1", None, private_idle_seconds=600, clock=clock)
    tokens = {n: json.loads((folder / "links" / f"class-{n}" / "link.json").read_text())["token"] for n in learners}
    return server, hosted, tokens, class_kubeconfig


async def test_a_cluster_lesson_gets_each_learner_a_private_cluster_that_stops_when_idle(tmp_path):
    from kubetui.client.http import HTTPClient
    from kubetui.client.kubeconfig import load_kubeconfig

    clock = FakeClock(1_000_000.0)
    server, hosted, tokens, class_kubeconfig = _hosted(tmp_path, clock)
    client = TestClient(TestServer(server.app(hosted.routes)))
    await client.start_server()
    try:
        async def lab(name: str | None, lesson: str | None):
            headers = {"Authorization": f"Bearer {tokens[name]}"} if name else {}
            return await client.post("/class/v1/hosted/lab", json={"lesson": lesson}, headers=headers)

        assert (await lab(None, CLUSTER_LESSON)).status == 401               # only a learner moves themselves
        for name in ("ada", "bob"):
            r = await lab(name, CLUSTER_LESSON)
            assert r.status == 200, await r.text()
            assert (await r.json())["lab"] == "private"
        ada, bob = hosted.private.clusters["ada"], hosted.private.clusters["bob"]
        assert running_pid(ada.state_dir) and running_pid(bob.state_dir)
        servers = {n: load_kubeconfig(pc.kubeconfig).server for n, pc in (("ada", ada), ("bob", bob))}
        assert servers["ada"] != servers["bob"] and ada.state_dir != bob.state_dir
        assert class_kubeconfig.parent not in (ada.state_dir, bob.state_dir)
        # each is a working cluster of its own: what ada creates, bob's cluster does not have
        a, b = HTTPClient.from_kubeconfig(ada.kubeconfig), HTTPClient.from_kubeconfig(bob.kubeconfig)
        try:
            await a.create("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}})
            assert "team-a" in {n["metadata"]["name"] for n in (await a.list("namespaces"))["items"]}
            assert "team-a" not in {n["metadata"]["name"] for n in (await b.list("namespaces"))["items"]}
        finally:
            await a.close()
            await b.close()
        # ada's next web session runs the lesson on her cluster; a namespace lesson brings her back
        assert str(ada.state_dir) in hosted.session_command("ada")
        assert f"lessons start {CLUSTER_LESSON}" in hosted.session_command("ada")
        assert (await (await lab("ada", NAMESPACE_LESSON)).json())["lab"] == "shared"
        assert str(class_kubeconfig) in hosted.session_command("ada")
        assert str(ada.state_dir) not in hosted.session_command("ada")
        assert str(bob.state_dir) in hosted.session_command("bob")
        # nobody used ada's cluster for the idle time (bob pressed a key just now): hers stops, his runs
        await clock.advance(601)
        hosted.private.touch("bob")
        assert await hosted.private.reap() == ["ada"]
        assert running_pid(ada.state_dir) is None and (ada.state_dir / "kubeconfig").exists()   # state kept
        assert running_pid(bob.state_dir) is not None
    finally:
        await client.close()                                                  # stops every private cluster
    assert running_pid(hosted.private.clusters["bob"].state_dir) is None


DOCKER_LESSON = "services-and-dns"          # scope: cluster, requires docker


async def test_a_docker_lesson_without_an_engine_falls_back_and_says_what_differs(tmp_path, monkeypatch):
    """No Docker engine on the class machine: a simulated private cluster, and the learner's session opens
    with a notice of what it lacks (the old code gave the simulated cluster and said nothing)."""
    import kubetui.cmd.classhosted as classhosted

    monkeypatch.setattr(classhosted, "_docker_running", lambda: False)
    clock = FakeClock(1_000_000.0)
    server, hosted, tokens, _ = _hosted(tmp_path, clock)
    try:
        got = await hosted.choose_lab("ada", DOCKER_LESSON)
        assert got["lab"] == "private"
        pc = hosted.private.clusters["ada"]
        assert pc.provider == "simulated"
        cmd = hosted.session_command("ada")
        assert "KUBETUI_CLASS_NOTICE=" in cmd and "Docker engine does not run" in cmd
        assert f"lessons start {DOCKER_LESSON}" in cmd
    finally:
        await hosted.private.stop_all()


@pytest.mark.docker
async def test_a_docker_private_cluster_is_named_for_the_learner_and_goes_down_on_stop(tmp_path):
    """The engine runs: a lesson asking for Docker nodes gets them, in containers named after the learner's
    namespace (whose they are, at a glance), removed by `kubetui down` when the cluster stops."""
    import subprocess
    import uuid

    folder = f"hosted-{uuid.uuid4().hex[:6]}"           # the learner's namespace in a class
    pcs = PrivateClusters(tmp_path, clock=FakeClock(1000.0))

    def containers() -> list[str]:
        r = subprocess.run(["docker", "ps", "-a", "--format", "{{.Names}}", "--filter", f"name=kubetui-{folder}"],
                           capture_output=True, text=True, timeout=60)
        return r.stdout.split()
    try:
        pc = await pcs.ensure("ada", folder, provider="docker", nodes=1, docker=True)
        assert pc.provider == "docker" and running_pid(pc.state_dir)
        assert f"kubetui-{folder}-node-1" in containers()
        assert await pcs.stop("ada")
        assert running_pid(pc.state_dir) is None and containers() == []
    finally:
        await pcs.stop_all()
        subprocess.run([sys.executable, "-m", "kubetui", "down", "--state-dir", str(tmp_path / folder), "--purge"],
                       capture_output=True, timeout=120)
