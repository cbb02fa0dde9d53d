"""Acceptance: walk lesson 05 (Services and DNS) in the TUI on a real Docker cluster.

The TUI attaches to ``kubetui up --headless --provider docker`` (a separate
process, as a learner would run it) through its kubeconfig; the lesson's
setup runs, the panel shows step 1, a wrong Service (targetPort 80, where the
pods do not listen) shows the failing check's message, the step's solution
(the real ``kubectl expose``) turns it green, and ``n`` shows the next step.
"""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from kubetui.tui.app import KubetuiApp
from kubetui.tui.backends import KubeconfigBackend
from kubetui.tui.screens.cluster_map import ClusterMapScreen
from kubetui.tui.widgets.lesson_panel import LessonPanel
from tests.conftest import docker_available, require_or_skip
from tests.nodes.conftest import force_cleanup, start_headless
from tests.test_cluster import stop
from tests.tui.test_app import wait_screen
from tests.tui.test_lessons_panel import until

pytestmark = [pytest.mark.docker, pytest.mark.slow]

WRONG = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
         "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 80}]}}


@pytest.fixture
def headless(tmp_path):
    require_or_skip(*docker_available())
    name = f"l5{uuid.uuid4().hex[:8]}"
    state = tmp_path / name
    proc = None
    try:
        proc, kubeconfig = start_headless(state, "--provider", "docker", "--nodes", "3", "--name", name,
                                          "--api-port", "0", "--node-cpus", "1", "--node-memory", "1Gi")
        yield kubeconfig
    finally:
        try:
            if proc is not None:
                stop(proc)
            subprocess.run([sys.executable, "-m", "kubetui", "down", "--state-dir", str(state), "--purge"],
                           capture_output=True, text=True, timeout=120)
        finally:
            force_cleanup(name)


async def test_walk_lesson_05_in_the_tui(headless, monkeypatch):
    monkeypatch.delenv("KUBETUI_LESSONS_DIR", raising=False)
    backend = KubeconfigBackend(headless)
    app = KubetuiApp(backend, lesson="05", learner="ada")
    async with app.run_test(size=(150, 45)) as pilot:
        screen = await wait_screen(pilot, ClusterMapScreen, tries=2000)
        # setup: web (3 replicas) and a busybox client, waited for by the lesson itself
        await until(pilot, lambda: app.lesson is not None and app.lesson.run.started, "lesson started", 20000)
        panel = screen.query_one(LessonPanel)
        await until(pilot, lambda: "Expose the Deployment" in panel.text and "step 1/" in panel.text, "step 1")
        await until(pilot, lambda: app.focused is not None and app.focused.id == "lesson-choices", "choices focused")
        await pilot.press("down", "enter")                  # "A mix of the 3 pod names"
        await until(pilot, lambda: "✓ Right" in panel.text, "prediction verdict")

        # A wrong action: the Service forwards to port 80, where hello does not listen.
        await backend.client.create("services", WRONG, "default")
        await until(pilot, lambda: "Requests to http://web from client fail" in panel.text,
                    "the http check's failing message", 12000)
        assert not app.lesson.run.step_passed()

        # Undo it; the step's solution (kubectl expose, the real kubectl) turns the step green.
        await backend.client.delete("services", "web", "default")
        app.solve_lesson_step()
        await until(pilot, lambda: "✓ Step passed" in panel.text, "step 1 green", 12000)

        await pilot.press("n")
        await until(pilot, lambda: "Names, namespaces and search paths" in panel.text and "step 2/" in panel.text,
                    "step 2")
    await backend.client.close()
