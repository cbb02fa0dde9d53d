"""The teacher's actions reaching learners' kubetui: reset one learner's lab to a step, a drill for everyone,
drill scores back on the dashboard, the dashboard woken by a learner's check.

A real class server in its own process on loopback (``Served``); learners'
labs are real in-process clusters (simulated nodes), one per learner, as in
join mode each learner runs their own. Every wait is on a sync point.
"""

from __future__ import annotations

import asyncio
import json
import textwrap
import threading
import time

import pytest

from kubetui.classroom import link as classlink
from kubetui.classroom.inbox import Inbox
from kubetui.classroom.link import ClassError
from kubetui.classwork import Lab, carry_out_pending
from tests.classroom.test_class_server import CODE, Served, _free_port, kubetui, learner, run_learner

LESSON = textwrap.dedent('''\
    ---
    id: tiny
    title: Tiny
    cluster: {provider: any, nodes: 1}
    setup:
      - shell: kubectl create configmap base
    cleanup:
      - shell: kubectl delete configmap base one two --ignore-not-found
    ---
    ## Make one {#one}
    ```check
    - exists: {resource: configmaps, name: one}
      fail: "configmap one is missing"
    ```
    ```solution
    kubectl create configmap one
    ```
    ## Make two {#two}
    ```check
    - exists: {resource: configmaps, name: two}
      fail: "configmap two is missing"
    ```
    ```solution
    kubectl create configmap two
    ```
    ''')


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    s = Served(tmp_path_factory.mktemp("class"), _free_port())
    s.start()
    yield s
    s.stop()


def _join(served: Served, tmp, name: str):
    folder = tmp / f"{name}-class"
    classlink.join(served.url, CODE, name, folder=folder)
    return folder, json.loads((folder / "link.json").read_text())["token"]


async def _configmaps(client) -> set[str]:
    return {c["metadata"]["name"] for c in (await client.list("configmaps", namespace="default"))["items"]}


async def test_reset_of_one_learner_leaves_the_others_untouched(served, tmp_path):
    from kubetui.cluster import Cluster, ClusterSettings
    from kubetui.lessons import LessonLibrary, LessonRun
    from kubetui.lessons.runner import LabEnv

    (tmp_path / "lessons" / "01-tiny").mkdir(parents=True)
    (tmp_path / "lessons" / "01-tiny" / "lesson.md").write_text(LESSON)
    library = LessonLibrary.load(tmp_path / "lessons")
    labs, clusters = {}, []
    try:
        for name in ("ann", "ben"):                   # each learner's own cluster, each through the lesson
            cluster = Cluster(ClusterSettings(name=f"classroom-{name}", provider="simulated", nodes=1, api_port=0),
                              tmp_path / f"{name}-state")
            clusters.append(cluster)
            await cluster.up()
            client = cluster.control_plane.client
            run = LessonRun(library.get("tiny"), LabEnv.from_state_dir(tmp_path / f"{name}-state", client), name)
            await run.start()
            for _ in range(2):
                await run.solve()
                assert (await run.evaluate()).passed
                await run.next()
            assert run.complete and await _configmaps(client) >= {"base", "one", "two"}
            folder, token = await asyncio.to_thread(_join, served, tmp_path, name)
            labs[name] = (Lab(tmp_path / f"{name}-state", name, library, client=client), Inbox(folder), token)

        # a learner cannot reset another's lab, nor start a drill for the class
        with pytest.raises(ClassError, match="^403"):
            await asyncio.to_thread(served.get, "learners/ben/reset", labs["ann"][2], method="POST",
                                    body={"lesson": "tiny", "step": 1})
        with pytest.raises(ClassError, match="^403"):
            await asyncio.to_thread(served.get, "drills", labs["ann"][2], method="POST", body={"drill": "dns-broken"})
        # the teacher resets ann's lab to step 2 (the CLI's `kubetui class reset ann --lesson tiny --step 2`)
        got = await asyncio.to_thread(served.get, "learners/ann/reset", served.teacher, method="POST",
                                      body={"lesson": "tiny", "step": 2})
        assert got["lesson"] == "tiny" and got["step"] == 2
        with pytest.raises(ClassError, match="^422"):
            await asyncio.to_thread(served.get, "learners/ann/reset", served.teacher, method="POST",
                                    body={"lesson": "tiny", "step": 0})

        done = {}
        for name, (lab, box, _tok) in labs.items():     # each learner's kubetui fetches and carries out its notes
            await asyncio.to_thread(box.poll)
            done[name] = await carry_out_pending(lab, box)
        assert done["ann"] == ["The teacher reset your lab: lesson tiny is back at step 2."]
        assert done["ben"] == [] and not any(n["kind"] == "reset" for n in labs["ben"][1].notes())

        ann, ben = labs["ann"][0], labs["ben"][0]
        assert await _configmaps(ann.client) >= {"base", "one"} and "two" not in await _configmaps(ann.client)
        rec = LessonRun(library.get("tiny"), LabEnv.from_state_dir(ann.state_dir, ann.client), "ann").record
        assert rec.current == 1 and rec.step("one").passed and not rec.step("two").passed
        # ben's lab and progress: exactly as he left them
        assert await _configmaps(ben.client) >= {"base", "one", "two"}
        rec = LessonRun(library.get("tiny"), LabEnv.from_state_dir(ben.state_dir, ben.client), "ben").record
        assert rec.status == "complete" and rec.step("two").passed
        # a note is carried out once: a second follower finds nothing left to do
        assert await carry_out_pending(ann, labs["ann"][1]) == []
    finally:
        for cluster in clusters:
            await cluster.stop()


def test_a_drill_for_everyone_reaches_every_learner_with_one_seed(served, tmp_path, monkeypatch):
    from kubetui.drills import DrillRunner

    inboxes = {}
    for name in ("dee", "eli"):
        folder, _tok = _join(served, tmp_path, name)
        inboxes[name] = Inbox(folder)
        inboxes[name].poll()                        # up to date before the drill
    got = served.get("drills", served.teacher, method="POST", body={"drill": "service-selector-typo"})
    seed = got["seed"]
    assert isinstance(seed, int)
    started = []

    async def fake_start(self, drill, seed, alone=True):   # the drill itself is tested in tests/drills
        started.append((self.learner, drill.id, seed))

        class Rec:
            namespace = drill.namespace
        return None, Rec()

    monkeypatch.setattr(DrillRunner, "start", fake_start)
    monkeypatch.setattr("kubetui.drills.DrillEnv.unmet", lambda self, d: None)
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "kubeconfig").write_text("")
    from kubetui.cluster import ClusterSettings
    ClusterSettings(name="x", provider="local").save(tmp_path / "state")
    for name, box in inboxes.items():
        box.poll()
        [note] = box.pending()
        assert (note["kind"], note["drill"], note["seed"]) == ("drill", "service-selector-typo", seed)
        lines = asyncio.run(carry_out_pending(Lab(tmp_path / "state", name, None), box))
        assert "started drill service-selector-typo" in lines[0]
    assert started == [("dee", "service-selector-typo", seed), ("eli", "service-selector-typo", seed)]
    # an unknown drill is refused (422), nothing sent
    with pytest.raises(ClassError, match="^422"):
        served.get("drills", served.teacher, method="POST", body={"drill": "Not A Drill"})


def test_drill_scores_come_back_to_the_dashboard(served, tmp_path):
    env = learner(tmp_path, "fay")
    assert kubetui(env, "class", "join", served.url, "--code", CODE, "--name", "fay").returncode == 0
    seq = served.get("dashboard", served.teacher)["seq"]
    run_learner(env, """
        s.append("drill:dns-broken", "drill_start", None, drill="dns-broken", run="r1", seed=3)
        s.append("drill:dns-broken", "drill_score", None, drill="dns-broken", run="r1", score=72, mitigated=True)
    """)
    for _ in range(10):
        view = served.get(f"dashboard?wait={seq}&timeout=20", served.teacher)
        row = next((r for r in view["learners"] if r["learner"] == "fay"), None)
        if row and row["drillScores"]:
            break
        seq = view["seq"]
    assert row["drillScores"] == {"dns-broken": 72} and "dns-broken" in view["drills"]
    assert "fay,,,fay,," in served.get("gradebook.csv", served.teacher)


def test_the_dashboard_is_woken_by_a_learners_check(served, tmp_path):
    """The dashboard's long-poll answers when the check arrives, not when it times out (the 1 s target is
    measured by `kubetui bench class`)."""
    env = learner(tmp_path, "gus")
    assert kubetui(env, "class", "join", served.url, "--code", CODE, "--name", "gus").returncode == 0
    seq = served.get("dashboard", served.teacher)["seq"]
    box: dict = {}

    def poll():
        since = seq
        for _ in range(10):             # another event (not gus's) may wake it first: poll again
            t = time.monotonic()
            view = served.get(f"dashboard?wait={since}&timeout=30", served.teacher)
            box["seconds"] = time.monotonic() - t
            row = next((r for r in view["learners"] if r["learner"] == "gus"), None)
            if row and row["cells"].get("pods/create", {}).get("attempts") == 1:
                box["row"] = row
                return
            since = view["seq"]

    waiter = threading.Thread(target=poll)
    waiter.start()
    run_learner(env, 's.append("pods", "check", "create", passed=True)')
    waiter.join(120)
    assert box["row"]["cells"]["pods/create"]["state"] == "working"
    assert box["seconds"] < 29          # woken by the event: a 30 s long-poll that timed out would not see it


def test_learner_inbox_long_poll_wakes_on_a_message(served, tmp_path):
    folder, _tok = _join(served, tmp_path, "hal")
    box = Inbox(folder)
    box.poll()
    got: dict = {}
    waiter = threading.Thread(target=lambda: got.setdefault("notes", box.poll(wait=25)))
    waiter.start()
    served.get("messages", served.teacher, method="POST", body={"to": "hal", "text": "look at the events"})
    waiter.join(60)
    assert [n["text"] for n in got["notes"]] == ["look at the events"]


async def test_dashboard_keys_reset_a_learner_and_start_a_drill(served, tmp_path):
    """The teacher's TUI: ``r`` on a learner's row offers their current step and sends the reset to them
    alone; ``d`` starts a drill for everyone."""
    from textual.widgets import DataTable, Input

    from kubetui.classroom.dashboard import DashboardApp

    env = learner(tmp_path, "ivy")
    assert (await asyncio.to_thread(kubetui, env, "class", "join", served.url, "--code", CODE, "--name",
                                    "ivy")).returncode == 0
    await asyncio.to_thread(run_learner, env, 's.append("pods", "step_start", "scale", index=1)')
    folder = tmp_path / "ivy-class"
    other, _tok = await asyncio.to_thread(_join, served, tmp_path, "jo")
    app = DashboardApp(served.url, served.teacher, served.ctx)
    async with app.run_test(size=(140, 40)) as pilot:
        table = app.query_one("#heat", DataTable)
        for _ in range(600):        # sync point: the worker's view has ivy's row, on her current step
            if any(r["learner"] == "ivy" and r["current"] == "pods/scale" for r in app.view["learners"]):
                break
            await pilot.pause(0.05)
        table.move_cursor(row=table.get_row_index("ivy"))
        await pilot.press("r")
        box = app.query_one("#say", Input)
        assert box.display and box.value == "pods/scale"
        await pilot.press("enter")
        await pilot.press("d")
        box.value = "dns-broken 77"
        await pilot.press("enter")
        mine: list = []
        for _ in range(10):         # sync point: the learner's long-poll answers when a note arrives
            mine += await asyncio.to_thread(Inbox(folder).poll, 25)
            if {n["kind"] for n in mine} >= {"reset", "drill"}:
                break
        theirs = await asyncio.to_thread(Inbox(other).poll)
    assert [(n["kind"], n.get("lesson"), n.get("step")) for n in mine if n["kind"] == "reset"] == \
        [("reset", "pods", "scale")]
    assert [(n["drill"], n["seed"]) for n in mine if n["kind"] == "drill"] == [("dns-broken", 77)]
    assert [n["kind"] for n in theirs] == ["drill"]           # jo got the drill, not ivy's reset


def test_web_dashboard_resets_a_learner_and_starts_a_drill_in_chromium(served, tmp_path):
    """The teacher's web page: pick a learner and one of the heatmap's steps, reset; a drill id, start."""
    from tests.tui.test_web import _browser, _need_browser

    _need_browser()
    import re

    from playwright.sync_api import sync_playwright

    env = learner(tmp_path, "web-kid")
    assert kubetui(env, "class", "join", served.url, "--code", CODE, "--name", "web-kid").returncode == 0
    run_learner(env, 's.append("svc", "step_start", "expose", index=0)')
    box = Inbox(tmp_path / "web-kid-class")
    box.poll()
    with sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_context(ignore_https_errors=True).new_page()   # the class CA is not the browser's
            page.route(re.compile(r"^https?://(?!127\.0\.0\.1)"), lambda r: r.abort())
            page.goto(f"{served.url}/?token={served.teacher}")
            page.wait_for_selector("#rwho option:text-is('web-kid')", state="attached", timeout=30000)
            page.select_option("#rwho", "web-kid")
            page.select_option("#rstep", "svc/expose")
            page.click("#reset")
            page.wait_for_selector("#said:has-text('sent: reset web-kid')", timeout=30000)
            page.fill("#drill", "dns-broken")
            page.fill("#seed", "31")
            page.click("#startdrill")
            page.wait_for_selector("#said:has-text('seed 31')", timeout=30000)
        finally:
            browser.close()
    notes = box.poll()
    assert [(n["kind"], n.get("lesson"), n.get("step")) for n in notes if n["kind"] == "reset"] == \
        [("reset", "svc", "expose")]
    assert [(n["drill"], n["seed"]) for n in notes if n["kind"] == "drill"] == [("dns-broken", 31)]


def test_class_follow_once_carries_out_and_says_why_a_drill_cannot_run_here(served, tmp_path):
    """``kubetui class follow`` (command-line learners): prints the teacher's notes and carries out the drill,
    which a simulated cluster cannot run: said, in the drill runner's words, and not tried again."""
    from kubetui.cluster import ClusterSettings

    env = learner(tmp_path, "kim")
    assert kubetui(env, "class", "join", served.url, "--code", CODE, "--name", "kim").returncode == 0
    state = tmp_path / "kim-state"
    state.mkdir()
    ClusterSettings(name="kim", provider="simulated").save(state)
    (state / "kubeconfig").write_text("")
    served.get("messages", served.teacher, method="POST", body={"to": "kim", "text": "drill in 1 minute"})
    served.get("drills", served.teacher, method="POST", body={"drill": "dns-broken", "seed": 9})
    r = kubetui(env, "class", "follow", "--once", "--state-dir", str(state))
    assert r.returncode == 0, r.stderr
    assert "Message from the teacher: drill in 1 minute" in r.stdout
    assert "Could not do what the teacher asked (drill): drills need pods that really run" in r.stdout
    again = kubetui(env, "class", "follow", "--once", "--state-dir", str(state))
    assert "drill" not in again.stdout                  # taken once: not run (nor shown) again


async def test_stopping_the_server_answers_the_open_long_polls(tmp_path):
    """aiohttp waits for open requests before it exits: a learner's 30 s inbox long-poll held the class
    server's exit (Ctrl+C) for up to 30 s. Shutdown now answers every long-poll at once."""
    from aiohttp.test_utils import TestClient, TestServer

    from kubetui.classroom.server import ClassConfig, ClassServer

    config, _teacher = ClassConfig.create_or_load(tmp_path / "class", code=CODE)
    server = ClassServer(config)
    client = TestClient(TestServer(server.app()))
    await client.start_server()
    try:
        r = await client.post("/class/v1/join", json={"code": CODE, "name": "lou"})
        token = (await r.json())["token"]
        poll = asyncio.ensure_future(client.get("/class/v1/inbox?since=0&wait=30",
                                                headers={"Authorization": f"Bearer {token}"}))
        for _ in range(500):            # sync point: the long-poll waits on the server's condition
            if server._changed is not None and server._changed._waiters:
                break
            await asyncio.sleep(0.01)
        assert server._changed._waiters
        await client.app.shutdown()
        resp = await asyncio.wait_for(poll, 10)     # well before its 30 s: answered by the shutdown
        assert resp.status == 200 and (await resp.json())["messages"] == []
    finally:
        await client.close()
