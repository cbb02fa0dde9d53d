"""Acceptance: walk lesson 03 (Deployments) in the TUI on a real cluster.

The same path as ``kubetui lessons start 03 --tui``: the control plane in its
own process with three simulated nodes, the TUI attached over HTTPS, the lesson panel beside the cluster map,
checks re-evaluated live from the watch bridge, the step's solution run with
the real kubectl against the cluster's API server, and progress written
through the engine so ``kubetui lessons`` lists the same thing.
"""

from __future__ import annotations

import pytest

from kubetui.cli import main as cli_main
from kubetui.lessons.progress import ProgressStore
from kubetui.tui.app import KubetuiApp
from kubetui.tui.backends import KubeconfigBackend
from kubetui.tui.screens.cluster_map import ClusterMapScreen
from kubetui.tui.widgets.lesson_panel import LessonPanel
from tests.cluster_process import running_cluster
from tests.tui.test_app import wait_screen
from tests.tui.test_lessons_panel import until

WRONG = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "hello", "image": "kubetui/hello:1"}]}}},
}


@pytest.fixture
def backend(tmp_path):
    state = tmp_path / "lesson"
    with running_cluster(state, nodes=3) as kubeconfig:
        yield KubeconfigBackend(kubeconfig, state_dir=state)


async def test_walk_lesson_03_in_the_tui(backend, capsys, monkeypatch):
    monkeypatch.delenv("KUBETUI_LESSONS_DIR", raising=False)
    app = KubetuiApp(backend, lesson="03", learner="ada")
    async with app.run_test(size=(150, 45)) as pilot:
        screen = await wait_screen(pilot, ClusterMapScreen, tries=2000)
        await until(pilot, lambda: app.lesson is not None and app.lesson.run.started, "lesson started", 3000)
        panel = screen.query_one(LessonPanel)
        await until(pilot, lambda: "Create a Deployment" in panel.text and "step 1/4" in panel.text, "step 1")
        assert "Which component creates the 3 Pod objects?" in panel.text

        # Predict first: the ReplicaSet controller (choice 2), with the keyboard.
        await until(pilot, lambda: app.focused is not None and app.focused.id == "lesson-choices", "choices focused")
        await pilot.press("down", "enter")
        await until(pilot, lambda: "✓ Right" in panel.text, "prediction verdict")

        # A wrong action: 2 replicas. The live check names what is wrong.
        await backend.client.create("deployments", WRONG, "default")
        await until(pilot, lambda: "deployment/web does not ask for 3 replicas" in panel.text, "failing message", 2000)
        assert not app.lesson.run.step_passed()

        # The fix the message suggests turns the step green on its own; the map highlights web's pods.
        await backend.client.patch("deployments", "web", {"spec": {"replicas": 3}}, "default")
        await until(pilot, lambda: "✓ Step passed" in panel.text, "step 1 green", 3000)
        web = {k for k, p in app.bridge.objects("pods").items()
               if p["metadata"].get("labels", {}).get("app") == "web"}
        await until(pilot, lambda: len(web) >= 3 and web <= set().union(
            *(p.lesson_pods for p in screen.panels.values())), "web pods highlighted")

        # Next step; its solution (the real kubectl) turns it green too.
        await pilot.press("n")
        await until(pilot, lambda: "Scale out" in panel.text and "step 2/4" in panel.text, "step 2")
        await until(pilot, lambda: "still asks for a different number of replicas than 5" in panel.text,
                    "step 2 failing", 2000)
        app.solve_lesson_step()
        await until(pilot, lambda: "✓ Step passed" in panel.text and "step 2/4 ✓" in panel.text, "step 2 green", 3000)

    rec = ProgressStore(backend.state_dir, "ada").replay("deployments")
    assert rec.step("create").passed and rec.step("create").prediction_correct
    assert rec.step("scale").passed and rec.step("scale").solution_used
    # `kubetui lessons` reads the same progress.
    assert cli_main(["--state-dir", str(backend.state_dir), "lessons", "--learner", "ada"]) == 0
    listing = capsys.readouterr().out
    assert any("deployments" in line and "step 2, 2/4 passed" in line for line in listing.splitlines()), listing
