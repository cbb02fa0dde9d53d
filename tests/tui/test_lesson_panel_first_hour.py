"""The lesson panel as a new learner meets it (issue 12 item 21), on the fake cluster.

Code lines wrap instead of being cut; the checks and hints stay in sight however
long the step; Enter answers the prediction even after a click moved the focus
off the choices; starting a lesson whose objects already exist says so.
"""

from __future__ import annotations

import re
import textwrap

import pytest
from textual.geometry import Region
from textual.widgets import Label, Static
from textual.widgets._markdown import MarkdownFence

from kubetui.tui.screens.cluster_map import ClusterMapScreen
from tests.tui.fakes import pod
from tests.tui.test_app import wait_screen
from tests.tui.test_lessons_panel import lesson_backend, make, panel_of, until  # noqa: F401 - fixture

LONG_CODE = "kubectl → API server → store → scheduler → API server → store → kubelet → container runtime"
FILLER = "\n".join(f"Paragraph {i}: the control plane keeps the desired state; the nodes run it." for i in range(30))

LESSON = textwrap.dedent('''\
    ---
    id: first-hour
    title: First hour
    cluster: {provider: any, nodes: 1}
    ---

    ## Follow a pod {#follow}

    ```predict
    question: Which component picks the node?
    choices: [kubectl, The scheduler]
    answer: 1
    explain: The scheduler binds the pod.
    ```

    Follow it:

        %s

    %s

    ```check
    - exists: {resource: pods, name: hello}
      fail: "There is no pod called hello yet."
    ```

    ```hint
    text: "kubectl run hello --image=kubetui/hello:1"
    after_failures: 0
    ```

    ```solution
    kubectl run hello --image=kubetui/hello:1
    ```
    ''') % (LONG_CODE, FILLER.replace("\n", "\n\n    "))


@pytest.fixture
def lessons_dir(tmp_path, monkeypatch):
    root = tmp_path / "lessons"
    (root / "01-first-hour").mkdir(parents=True)
    (root / "01-first-hour" / "lesson.md").write_text(LESSON)
    monkeypatch.setenv("KUBETUI_LESSONS_DIR", str(root))
    return root


async def started(app, pilot):
    await wait_screen(pilot, ClusterMapScreen)
    await until(pilot, lambda: app.lesson is not None and app.lesson.run.started and not app.lesson.busy,
                "lesson started")
    panel = panel_of(app)
    await until(pilot, lambda: "Follow a pod" in panel.text and "checking…" not in panel.text,
                "step 1 and its checks shown")
    await pilot.pause()
    return panel


def visible(app, widget) -> bool:
    """Is (part of) ``widget`` really on screen: the topmost widget at a point of it is it or its child?"""
    region = widget.region.intersection(app.screen.region)
    for y in range(region.y, region.bottom):
        hit, _ = app.screen.get_widget_at(region.x + 1, y)
        if hit is widget or widget in hit.ancestors:
            return True
    return False


async def test_code_lines_wrap_instead_of_being_cut(lessons_dir, lesson_backend):
    app = make(lesson_backend, lesson="01")
    async with app.run_test(size=(100, 30)) as pilot:
        panel = await started(app, pilot)
        fence = next(f for f in panel.query(MarkdownFence) if "kubectl →" in f.code)
        label = fence.query_one(Label)
        assert label.outer_size.width <= fence.size.width, "the code line is wider than the panel: it is cut"
        lines = label.render_lines(Region(0, 0, *label.outer_size))
        shown = " ".join("".join(seg.text for seg in line).strip() for line in lines)
        assert re.sub(r"\s+", " ", shown).strip() == LONG_CODE


async def test_checks_and_the_hint_stay_in_sight_of_a_long_step(lessons_dir, lesson_backend):
    app = make(lesson_backend, lesson="01")
    async with app.run_test(size=(100, 30)) as pilot:
        panel = await started(app, pilot)
        assert visible(app, panel.query_one("#lesson-checks", Static)), "the checks are below the fold"
        await pilot.press("h")
        await until(pilot, lambda: "Hint 1/1: kubectl run hello" in panel.text, "hint given")
        await pilot.pause()
        await pilot.pause()
        assert visible(app, panel.query_one("#lesson-hints", Static)), "h gave a hint the learner cannot see"


async def test_enter_answers_the_prediction_after_a_click_moved_the_focus(lessons_dir, lesson_backend):
    app = make(lesson_backend, lesson="01")
    async with app.run_test(size=(140, 40)) as pilot:
        panel = await started(app, pilot)
        await until(pilot, lambda: app.focused is not None and app.focused.id == "lesson-choices", "choices focused")
        await pilot.press("down")
        await pilot.click("#lesson-body")          # reading the text: the focus moves to the panel's scroll
        assert app.focused is not None and app.focused.id != "lesson-choices"
        await pilot.press("enter")
        await until(pilot, lambda: "✓ Right (you picked 2)" in panel.text, "Enter answered the prediction")


async def test_starting_a_lesson_whose_objects_exist_warns(lessons_dir, lesson_backend):
    lesson_backend.client.put("pods", pod("hello", node_name="node-1"))
    app = make(lesson_backend, lesson="01")
    async with app.run_test(size=(140, 40)) as pilot:
        panel = await started(app, pilot)
        await until(pilot, lambda: "Already in the cluster before this lesson: pod/hello" in panel.text,
                    "leftover warned in the panel")
        assert any("pod/hello" in n.message for n in app._notifications)


async def test_no_warning_on_a_clean_cluster(lessons_dir, lesson_backend):
    app = make(lesson_backend, lesson="01")
    async with app.run_test(size=(140, 40)) as pilot:
        panel = await started(app, pilot)
        assert "Already in the cluster" not in panel.text
