"""A joined learner's TUI and CLI show the teacher's messages and pause, hold checks while paused, and
carry out the teacher's reset: with a real class server on loopback, the fake cluster as the lab.

Every wait is on what the screen shows (bounded), never on time.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from kubetui.classroom import link as classlink
from kubetui.classroom.inbox import PAUSED_TEXT
from kubetui.lessons.progress import ProgressStore
from kubetui.tui.screens.cluster_map import ClusterMapScreen
from tests.classroom.test_class_server import CODE, Served, _free_port
from tests.tui.test_app import wait_screen
from tests.tui.test_lessons_panel import lesson_backend, lessons_dir, make, panel_of  # noqa: F401 - fixtures


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    s = Served(tmp_path_factory.mktemp("class"), _free_port())
    s.start()
    yield s
    s.stop()


async def until(pilot, predicate, what: str, tries: int = 1500) -> None:
    for _ in range(tries):
        if predicate():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"not reached: {what}")


def teacher(served: Served, path: str, body: dict) -> dict:
    return served.get(path, served.teacher, method="POST", body=body)


async def test_teacher_message_pause_and_reset_inside_the_learners_tui(served, tmp_path, monkeypatch,
                                                                       lessons_dir, lesson_backend):  # noqa: F811
    folder = tmp_path / "ada-class"
    classlink.join(served.url, CODE, "ada-tui", folder=folder)
    monkeypatch.setenv("KUBETUI_CLASS_DIR", str(folder))
    app = make(lesson_backend, lesson="01")
    said: list[str] = []            # every notification (a loaded machine may let a toast expire before we look)
    notify = app.notify
    app.notify = lambda message, **kw: (said.append(str(message)), notify(message, **kw))[1]
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_screen(pilot, ClusterMapScreen)
        await until(pilot, lambda: app.lesson is not None and app.lesson.run.started, "lesson started")
        panel = panel_of(app)
        await until(pilot, lambda: "node-1 has no label tier=practice yet" in panel.text, "step 1 failing")

        # a message to this learner: a notification, and the panel's class line
        await asyncio.to_thread(teacher, served, "messages", {"to": "ada-tui", "text": "look at node-1's labels"})
        await until(pilot, lambda: "Message from the teacher: look at node-1's labels" in panel.text, "message")
        assert any("look at node-1's labels" in m for m in said)

        # paused: said on screen, and a passing check does not pass the step
        await asyncio.to_thread(teacher, served, "pause", {"paused": True})
        await until(pilot, lambda: PAUSED_TEXT in panel.text, "paused shown")
        node1 = lesson_backend.client.objects["nodes"]["node-1"]
        node1["metadata"].setdefault("labels", {})["tier"] = "practice"
        lesson_backend.client.put("nodes", node1)
        await until(pilot, lambda: "The checks pass, but the step waits" in panel.text, "held")
        assert not ProgressStore(lesson_backend.state_dir, "ada").replay("scale-web").step("label").passed
        assert "step 1/2 ✓" not in panel.text

        # resumed: the held step passes at once
        await asyncio.to_thread(teacher, served, "pause", {"paused": False})
        await until(pilot, lambda: "✓ Step passed" in panel.text, "passed after resume")
        assert PAUSED_TEXT not in panel.text
        assert ProgressStore(lesson_backend.state_dir, "ada").replay("scale-web").step("label").passed

        # the teacher resets this learner's lab to step 1: the panel follows, the step starts over (the
        # label is gone first, or step 1's live check would rightly pass it again at once)
        await pilot.press("n")
        await until(pilot, lambda: "step 2/2" in panel.text, "step 2")
        del node1["metadata"]["labels"]["tier"]
        lesson_backend.client.put("nodes", node1)
        await asyncio.to_thread(teacher, served, "learners/ada-tui/reset", {"lesson": "scale-web", "step": 1})
        await until(pilot, lambda: "step 1/2" in panel.text and "step 1/2 ✓" not in panel.text, "reset to step 1")
        await until(pilot, lambda: any("back at step 1" in m for m in said), "reset said")
        rec = ProgressStore(lesson_backend.state_dir, "ada").replay("scale-web")
        assert rec.current == 0 and not rec.step("label").passed
        [reset] = [e for e in ProgressStore(lesson_backend.state_dir, "ada").events("scale-web")
                   if e["event"] == "reset"]
        assert reset["index"] == 0 and reset["cleared"] == ["label", "four"]


def test_lessons_cli_shows_messages_and_pause(served, tmp_path):
    folder = tmp_path / "cli-class"
    classlink.join(served.url, CODE, "cli-learner", folder=folder)
    teacher(served, "messages", {"to": "cli-learner", "text": "we start lesson 2 at ten"})
    teacher(served, "pause", {"paused": True})
    try:
        env = {**os.environ, "KUBETUI_CLASS_DIR": str(folder), "KUBETUI_PROGRESS_DIR": str(tmp_path / "progress")}
        r = subprocess.run([sys.executable, "-m", "kubetui", "lessons", "--state-dir", str(tmp_path / "state")],
                           env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert "[class] Message from the teacher: we start lesson 2 at ten" in r.stdout
        assert f"[class] {PAUSED_TEXT}" in r.stdout
        again = subprocess.run([sys.executable, "-m", "kubetui", "lessons", "--state-dir", str(tmp_path / "state")],
                               env=env, capture_output=True, text=True, timeout=60)
        assert "we start lesson 2" not in again.stdout and PAUSED_TEXT in again.stdout   # shown once; pause stays
    finally:
        teacher(served, "pause", {"paused": False})


def test_lab_env_checks_in_the_contexts_namespace(lesson_backend):  # noqa: F811
    """A hosted learner's TUI (a kubeconfig kept in one namespace, no cluster folder): the lessons engine
    checks (and a reset settles) in that namespace, where the learner may read."""
    from kubetui.tui.lesson import lab_env

    lesson_backend.namespace = "class-ann"
    assert lab_env(lesson_backend).namespace == "class-ann"
