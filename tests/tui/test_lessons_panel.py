"""The lesson panel on the fake cluster: step text, predictions, live checks, hints, highlight, hot reload.

Fast and deterministic: the in-memory ``FakeClient`` is the cluster, a
lesson written to a temp folder (``$KUBETUI_LESSONS_DIR``) is the library.
The walk through a real lesson on a real in-process cluster is in
``test_lessons_panel_real.py``. Every wait is on a real condition, bounded.
"""

from __future__ import annotations

import asyncio
import os
import textwrap
from pathlib import Path

import pytest

from kubetui.clock import FakeClock
from kubetui.lessons.progress import ProgressStore
from kubetui.tui.app import KubetuiApp
from kubetui.tui.lesson import focus_targets, watched_resources
from kubetui.tui.screens.browser import BrowserScreen
from kubetui.tui.screens.cluster_map import ClusterMapScreen
from kubetui.tui.screens.lessons import LessonPickerScreen
from kubetui.tui.widgets.lesson_panel import LessonPanel
from tests.tui.fakes import FIXED_NOW, FakeBackend, pod
from tests.tui.test_app import wait_screen

LESSON = textwrap.dedent('''\
    ---
    id: scale-web
    title: Scale the web app
    cluster: {provider: any, nodes: 1}
    ---

    The web Deployment already runs.

    ## Label a node {#label}

    ```predict
    question: Which object carries a node's labels?
    choices: [The kubelet's config file, The Node object]
    answer: 1
    explain: Labels live in metadata, on the Node object itself.
    ```

    Give node-1 the label `tier=practice`.

    ```check
    - field: {resource: nodes, name: node-1, path: "{.metadata.labels.tier}", equals: practice}
      fail: "node-1 has no label tier=practice yet. Run: kubectl label node node-1 tier=practice"
    ```

    ```hint
    after_failures: 1
    text: "kubectl label node NODE key=value"
    ```

    ## Four web pods {#four}

    Make it four.

    ```check
    - field: {resource: deployments, name: web, path: "{.spec.replicas}", equals: 4}
      fail: "deployment/web does not ask for 4 replicas."
    ```
    ''')


async def until(pilot, predicate, what: str, tries: int = 400) -> None:
    """Bounded wait on a real condition, letting the app's workers and messages run."""
    for _ in range(tries):
        if predicate():
            return
        await pilot.pause(0.01)
    raise AssertionError(f"not reached: {what}")


@pytest.fixture
def lessons_dir(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "lessons"
    (root / "01-scale-web").mkdir(parents=True)
    (root / "01-scale-web" / "lesson.md").write_text(LESSON)
    monkeypatch.setenv("KUBETUI_LESSONS_DIR", str(root))
    return root


@pytest.fixture
def lesson_backend(tmp_path) -> FakeBackend:
    be = FakeBackend()
    be.state_dir = tmp_path / "state"
    be.state_dir.mkdir()
    return be


def make(backend, **kw) -> KubetuiApp:
    app = KubetuiApp(backend, clock=FakeClock(FIXED_NOW), learner="ada", **kw)
    app.animation_level = "none"
    return app


def panel_of(app) -> LessonPanel:
    return app.screen.query_one(LessonPanel)


async def test_panel_shows_step_prediction_checks_and_hints(lessons_dir, lesson_backend):
    app = make(lesson_backend, lesson="01")
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_screen(pilot, ClusterMapScreen)
        await until(pilot, lambda: app.lesson is not None and app.lesson.run.started, "lesson started")
        panel = panel_of(app)
        await until(pilot, lambda: "Label a node" in panel.text and "step 1/2" in panel.text, "step 1 shown")
        assert panel.has_class("-shown")
        assert "Which object carries a node's labels?" in panel.text
        # The live check says what is wrong, in the teacher's words, without an attempt being counted.
        await until(pilot, lambda: "node-1 has no label tier=practice yet" in panel.text, "failing message")
        assert ProgressStore(lesson_backend.state_dir, "ada").replay("scale-web").step("label").attempts == 0

        # The prediction has the keyboard: pick choice 2 with down + enter.
        await until(pilot, lambda: app.focused is not None and app.focused.id == "lesson-choices", "choices focused")
        await pilot.press("down", "enter")
        await until(pilot, lambda: "✓ Right" in panel.text, "verdict")
        assert "Labels live in metadata" in panel.text
        assert ProgressStore(lesson_backend.state_dir, "ada").replay("scale-web").step("label").prediction_correct

        # A hint waits for a failed attempt; "c" is one.
        await pilot.press("h")
        await until(pilot, lambda: "unlocks after 1 more failed check" in panel.text, "hint locked")
        await pilot.press("c")
        await until(pilot, lambda: ProgressStore(lesson_backend.state_dir, "ada")
                    .replay("scale-web").step("label").failures == 1, "attempt recorded")
        await pilot.press("h")
        await until(pilot, lambda: "Hint 1/1: kubectl label node NODE key=value" in panel.text, "hint shown")

        # The learner labels the node: the check turns green on its own.
        node1 = lesson_backend.client.objects["nodes"]["node-1"]
        node1["metadata"].setdefault("labels", {})["tier"] = "practice"
        lesson_backend.client.put("nodes", node1)
        await until(pilot, lambda: "✓ Step passed" in panel.text, "step passed")
        assert "step 1/2 ✓" in panel.text

        await pilot.press("n")
        await until(pilot, lambda: "Four web pods" in panel.text and "step 2/2" in panel.text, "step 2")
        await until(pilot, lambda: "deployment/web does not ask for 4 replicas." in panel.text, "step 2 failing")
        assert "seen: .spec.replicas is 3" in panel.text or "seen:" in panel.text
        await pilot.press("p")
        await until(pilot, lambda: "Label a node" in panel.text, "back to step 1")
        # The same progress the CLI reads.
        rec = ProgressStore(lesson_backend.state_dir, "ada").replay("scale-web")
        assert rec.step("label").passed and rec.current == 0


async def test_map_highlights_what_the_step_is_about(lessons_dir, lesson_backend):
    app = make(lesson_backend, lesson="01")
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await wait_screen(pilot, ClusterMapScreen)
        await until(pilot, lambda: app.lesson is not None and app.lesson.run.started, "lesson started")
        await until(pilot, lambda: "node-1" in screen.panels and screen.panels["node-1"].has_class("-lesson-focus"),
                    "node-1 highlighted")
        assert not screen.panels["node-2"].has_class("-lesson-focus")
        app.answer_prediction(1)
        await pilot.press("n")
        # Step 2 is about deployment/web: its pods' chips are marked, the node-1 highlight follows them.
        web = {k for k, p in app.bridge.objects("pods").items() if p["metadata"]["labels"].get("app") == "web"}
        await until(pilot, lambda: set().union(*(p.lesson_pods for p in screen.panels.values())) == web,
                    "web pods marked")
        # ctrl+l hides the panel and the highlight.
        await pilot.press("ctrl+l")
        await until(pilot, lambda: not panel_of(app).has_class("-shown"), "panel hidden")
        await until(pilot, lambda: not any(p.has_class("-lesson-focus") for p in screen.panels.values()),
                    "highlight gone")


async def test_hot_reload_updates_the_panel_and_shows_a_broken_file(lessons_dir, lesson_backend):
    app = make(lesson_backend, lesson="scale-web")
    path = lessons_dir / "01-scale-web" / "lesson.md"
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_screen(pilot, ClusterMapScreen)
        await until(pilot, lambda: app.lesson is not None and app.lesson.run.started, "lesson started")
        panel = panel_of(app)
        await until(pilot, lambda: "Give node-1 the label" in panel.text, "step text")

        async def write_until(text: str, predicate, what: str) -> None:
            # The watcher may start after the first write: rewrite (bounded) until the panel reacts.
            for _ in range(40):
                path.write_text(text)
                for _ in range(25):
                    if predicate():
                        return
                    await pilot.pause(0.02)
            raise AssertionError(f"not reached: {what}")

        edited = LESSON.replace("Give node-1 the label", "Now give node-1 the label")
        await write_until(edited, lambda: "Now give node-1 the label" in panel.text, "edit shown")

        broken = edited.replace("answer: 1", "answer: [oops")
        await write_until(broken, lambda: "lesson.md:" in panel.text, "error shown")
        line = broken.splitlines().index("answer: [oops") + 1
        err = str(panel.query_one("#lesson-reload-error").visual)
        assert err.startswith(f"{path}:") and "\n" not in err
        assert int(err[len(str(path)) + 1:].split(":", 1)[0]) in (line, line + 1)
        # The last good version keeps working beside the error.
        assert "Now give node-1 the label" in panel.text
        await pilot.press("n")
        await until(pilot, lambda: "Four web pods" in panel.text, "still navigable")
        await pilot.press("2")
        await wait_screen(pilot, BrowserScreen)
        assert err in panel_of(app).text

        # Fixed again: the error goes.
        await write_until(edited, lambda: not panel_of(app).query_one("#lesson-reload-error").has_class("-shown"),
                          "error cleared")


async def test_ctrl_l_without_a_lesson_opens_the_picker(lessons_dir, lesson_backend):
    (lessons_dir / "02-broken").mkdir()
    (lessons_dir / "02-broken" / "lesson.md").write_text("no front matter\n")
    app = make(lesson_backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_screen(pilot, ClusterMapScreen)
        assert app.lesson is None and not panel_of(app).has_class("-shown")
        await pilot.press("ctrl+l")
        picker = await wait_screen(pilot, LessonPickerScreen)
        opts = picker.query_one("#lesson-picker-list")
        prompts = [str(opts.get_option_at_index(i).prompt) for i in range(opts.option_count)]
        assert any("Scale the web app" in p and "not started" in p for p in prompts)
        assert any("02-broken/lesson.md:1:" in p for p in prompts)
        await pilot.press("enter")
        await wait_screen(pilot, ClusterMapScreen)
        await until(pilot, lambda: app.lesson is not None and app.lesson.run.started, "lesson started")
        await until(pilot, lambda: "Label a node" in panel_of(app).text, "panel shows the lesson")


def test_focus_targets_follow_selectors():
    pods = {"default/web-1": pod("web-1"), "default/db-1": pod("db-1"), "other/web-2": pod("web-2", ns="other")}
    deploys = {"default/web": {"kind": "Deployment", "spec": {"selector": {"matchLabels": {"app": "web"}}}}}
    services = {"default/db": {"kind": "Service", "spec": {"selector": {"app": "db"}}}}
    objs = {"pods": pods, "deployments": deploys, "services": services}.get
    cases = [
        ([("pods", "app=web")], {"default/web-1"}),
        ([("pods", "db-1")], {"default/db-1"}),
        ([("deployments", "web")], {"default/web-1"}),
        ([("deploy", "web")], {"default/web-1"}),
        ([("services", "db")], {"default/db-1"}),
        ([("services", "missing")], set()),
        ([("replicasets", "app=web")], {"default/web-1"}),
    ]
    for focus, want in cases:
        assert focus_targets(focus, lambda r: objs(r) or {}).pods == want, focus


def test_watched_resources_of_lesson_03():
    from kubetui.lessons import LessonLibrary
    from kubetui.cmd.lessons import lessons_root
    import argparse
    lesson = LessonLibrary.load(lessons_root(argparse.Namespace())).get("deployments")
    assert watched_resources(lesson.steps[0]) == {"deployments", "replicasets", "pods"}
    assert "events" in watched_resources(lesson.steps[2])


def test_cli_lessons_start_tui_opens_the_app_with_the_lesson(lessons_dir, tmp_path, monkeypatch):
    import kubetui.tui.backends as backends
    from kubetui.cli import main
    from kubetui.cluster import ClusterSettings
    from kubetui.statedir import running_pid

    calls = []
    monkeypatch.setattr(backends, "run_app", lambda **kw: calls.append(kw) or 0)
    state = tmp_path / "new-cluster"
    try:
        assert main(["--state-dir", str(state), "--provider", "simulated", "lessons", "start", "01", "--tui",
                     "--learner", "ada"]) == 0
        kw = calls.pop()
        assert (kw["lesson"], kw["learner"], kw["fresh"], kw["lessons_dir"]) == ("scale-web", "ada", False, lessons_dir)
        # No cluster ran there: its control plane was started (its own process), shaped for the lesson,
        # and the TUI attached to it.
        settings = ClusterSettings.load(state)
        assert settings.provider == "simulated" and settings.nodes >= 1
        assert kw["kubeconfig"] == state / "kubeconfig" and running_pid(state) not in (None, os.getpid())
    finally:
        main(["--state-dir", str(state), "down"])

    kubeconfig = tmp_path / "other" / "kubeconfig"
    assert main(["--kubeconfig", str(kubeconfig), "lessons", "start", "scale-web", "--tui", "--fresh"]) == 0
    kw = calls.pop()
    assert kw["kubeconfig"] == kubeconfig and kw["fresh"] is True and "cluster" not in kw


def test_snapshot_map_with_the_lesson_panel(snap_compare, lessons_dir, lesson_backend):
    """The map beside a lesson at 140x40: prediction first, live failing check, highlighted node."""
    app = make(lesson_backend, lesson="01")

    async def before(pilot) -> None:
        await wait_screen(pilot, ClusterMapScreen)
        await until(pilot, lambda: app.lesson is not None and app.lesson.outcome is not None, "checked")
        await until(pilot, lambda: app.screen.panels.get("node-1") is not None
                    and app.screen.panels["node-1"].has_class("-lesson-focus"), "highlight")
        for _ in range(3):
            await pilot.pause()

    assert snap_compare(app, terminal_size=(140, 40), run_before=before)
