"""The class server and a joining learner as separate processes, over HTTPS with the class's own CA.

Sync points, not timings: the dashboard is long-polled with ``wait=SEQ``
(it answers once the server applied an event past SEQ).
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kubetui.classroom import link as classlink
from kubetui.classroom.link import ClassError, request

CODE = "TEST-CODE-2345"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    def __init__(self, folder: Path, port: int) -> None:
        self.folder, self.port = folder, port
        self.url = f"https://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None

    def start(self, rate: float = 200.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kubetui", "class", "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--dir", str(self.folder), "--code", CODE, "--rate", str(rate)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                assert self.proc.poll() is None, self.proc.stdout.read()
                time.sleep(0.1)
        raise AssertionError("class server did not listen")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)

    @property
    def ctx(self) -> ssl.SSLContext:
        return classlink.ssl_context((self.folder / "pki" / "ca.crt").read_text())

    @property
    def teacher(self) -> str:
        return (self.folder / "teacher.token").read_text().strip()

    def get(self, path: str, token: str | None = None, **kw):
        return request(f"{self.url}/class/v1/{path}", token=token, ctx=self.ctx, timeout=40, **kw)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    s = Served(tmp_path_factory.mktemp("class"), _free_port())
    s.start()
    yield s
    s.stop()


def learner(tmp: Path, name: str) -> dict[str, str]:
    env = {**os.environ, "KUBETUI_CLASS_DIR": str(tmp / f"{name}-class"), "KUBETUI_PROGRESS_DIR": str(tmp / f"{name}-progress")}
    return env


def run_learner(env: dict[str, str], code: str) -> None:
    """A learner's kubetui process: the lesson engine's ProgressStore appends (and so reports) events."""
    script = textwrap.dedent("""
        from pathlib import Path
        from kubetui.lessons.progress import ProgressStore
        s = ProgressStore(Path("/nonexistent-cluster"), "local-name")
    """) + textwrap.dedent(code)
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=60)


def kubetui(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kubetui", *args], env=env, capture_output=True, text=True, timeout=60)


def test_learner_joins_reports_and_the_dashboard_updates(served, tmp_path):
    env = learner(tmp_path, "alice")
    r = kubetui(env, "class", "join", served.url, "--code", CODE, "--name", "alice")
    assert r.returncode == 0, r.stderr
    link = json.loads((tmp_path / "alice-class" / "link.json").read_text())
    assert oct((tmp_path / "alice-class" / "link.json").stat().st_mode & 0o777) == "0o600"
    seq = served.get("dashboard", served.teacher)["seq"]

    run_learner(env, """
        s.append("pods", "step_start", "create", index=0)
        s.append("pods", "check", "create", passed=False, failing=0, message="no pod named web")
    """)
    view = served.get(f"dashboard?wait={seq + 1}&timeout=30", served.teacher)
    row = next(x for x in view["learners"] if x["learner"] == "alice")
    assert row["cells"]["pods/create"]["attempts"] == 1 and row["cells"]["pods/create"]["state"] == "working"
    # nothing but the progress event left the machine: no cluster path, no local learner name
    sent = served.get("learners/alice/events", served.teacher)
    assert sent and all("cluster" not in e and e["learner"] == "alice" for e in sent)
    assert "local-name" not in json.dumps(sent) and "nonexistent-cluster" not in json.dumps(sent)
    assert link["name"] == "alice"


def test_learners_forbidden_requests_are_refused(served, tmp_path):
    env_a, env_b = learner(tmp_path, "ann"), learner(tmp_path, "bob")
    for env, name in ((env_a, "ann"), (env_b, "bob")):
        assert kubetui(env, "class", "join", served.url, "--code", CODE, "--name", name).returncode == 0
    tok_a = json.loads((tmp_path / "ann-class" / "link.json").read_text())["token"]
    for path in ("dashboard", "learners/bob/events", "learners/ann/events", "gradebook.csv", "learners"):
        with pytest.raises(ClassError, match="^403"):
            served.get(path, tok_a)
    with pytest.raises(ClassError, match="^403"):
        served.get("messages", tok_a, method="POST", body={"text": "hi"})
    with pytest.raises(ClassError, match="^403"):
        served.get("learners/bob/revoke", tok_a, method="POST", body={})
    with pytest.raises(ClassError, match="^401"):
        served.get("dashboard", None)
    # a wrong class code, a taken name
    r = kubetui(learner(tmp_path, "eve"), "class", "join", served.url, "--code", "WRONG", "--name", "eve")
    assert r.returncode == 1 and "wrong class code" in r.stderr
    r = kubetui(learner(tmp_path, "eve2"), "class", "join", served.url, "--code", CODE, "--name", "bob")
    assert r.returncode == 1 and "already joined" in r.stderr
    # an event claiming to be someone else's is recorded as the sender's
    served.get("events", tok_a, method="POST",
               body={"events": [{"id": "spoof-000001", "event": "hint", "lesson": "pods", "step": "x", "learner": "bob"}]})
    assert any(e["id"] == "spoof-000001" for e in served.get("learners/ann/events", served.teacher))
    assert not any(e["id"] == "spoof-000001" for e in served.get("learners/bob/events", served.teacher))
    # a bad event refuses the whole batch, nothing half-stored
    with pytest.raises(ClassError, match="^422"):
        served.get("events", tok_a, method="POST", body={"events": [
            {"id": "good-0000001", "event": "hint", "lesson": "pods", "step": "x"}, {"id": "bad", "event": "x"}]})
    assert not any(e["id"] == "good-0000001" for e in served.get("learners/ann/events", served.teacher))
    # messages: ann sees what was sent to her and to all, never bob's
    served.get("messages", served.teacher, method="POST", body={"to": "bob", "text": "for bob", "kind": "hint"})
    served.get("messages", served.teacher, method="POST", body={"text": "for all"})
    texts = [m["text"] for m in served.get("inbox", tok_a)["messages"]]
    assert "for all" in texts and "for bob" not in texts
    # join mode cannot reset a learner's lab (it runs on their machine): said so, nothing done
    with pytest.raises(ClassError, match="^400: join mode"):
        served.get("learners/bob/reset", served.teacher, method="POST", body={})
    with pytest.raises(ClassError, match="^403"):
        served.get("learners/bob/reset", tok_a, method="POST", body={})
    # revoked: the next report gets 401
    served.get("learners/ann/revoke", served.teacher, method="POST", body={})
    with pytest.raises(ClassError, match="^401"):
        served.get("events", tok_a, method="POST", body={"events": []})


def test_offline_learner_queues_and_sends_later_once(tmp_path):
    s = Served(tmp_path / "class", _free_port())
    s.start()
    try:
        env = learner(tmp_path, "olga")
        assert kubetui(env, "class", "join", s.url, "--code", CODE, "--name", "olga").returncode == 0
        s.stop()                                                    # the class server goes away
        run_learner(env, """
            s.append("pods", "step_start", "create", index=0)
            s.append("pods", "hint", "create", index=0)
            s.append("pods", "step_pass", "create", index=0)
        """)
        outbox = tmp_path / "olga-class" / "outbox.jsonl"
        queued = outbox.read_text().splitlines()
        assert len(queued) == 3
        s.start()                                                   # back: same folder, events reloaded
        r = kubetui(env, "class", "sync")
        assert r.returncode == 0 and "sent 3" in r.stdout, r.stderr
        assert outbox.read_text() == ""
        # a resend (say the reply was lost) counts once
        tok = json.loads((tmp_path / "olga-class" / "link.json").read_text())["token"]
        again = s.get("events", tok, method="POST", body={"events": [json.loads(q) for q in queued]})
        assert again == {"accepted": 0, "duplicates": 3, "paused": False}
        cell = next(x for x in s.get("dashboard", s.teacher)["learners"] if x["learner"] == "olga")["cells"]["pods/create"]
        assert cell == {"state": "done", "hints": 1, "solution": False, "attempts": 0}
        csv_text = s.get("gradebook.csv", s.teacher)
        assert "olga,,,olga,,100.0" in csv_text
    finally:
        s.stop()


def test_rate_limit_per_client(tmp_path):
    s = Served(tmp_path / "class", _free_port())
    s.start(rate=2.0)                 # bursts of 6
    try:
        env = learner(tmp_path, "runaway")
        assert kubetui(env, "class", "join", s.url, "--code", CODE, "--name", "runaway").returncode == 0
        tok = json.loads((tmp_path / "runaway-class" / "link.json").read_text())["token"]
        codes = []
        for _ in range(12):
            try:
                s.get("inbox", tok)
                codes.append(200)
            except ClassError as e:
                codes.append(e.code)
        assert 429 in codes and codes[0] == 200
        # the runaway learner is limited, the rest of the class is not: another client still gets through
        assert s.get("dashboard", s.teacher)["seq"] >= 0
    finally:
        s.stop()


async def test_tui_dashboard_shows_a_learners_check(served, tmp_path):
    """The teacher's TUI: after a learner's failed checks its heatmap row shows the step as stuck."""
    import asyncio

    from textual.widgets import DataTable

    from kubetui.classroom.dashboard import DashboardApp

    env = learner(tmp_path, "tui-learner")
    assert kubetui(env, "class", "join", served.url, "--code", CODE, "--name", "tui-learner").returncode == 0
    app = DashboardApp(served.url, served.teacher, served.ctx)
    async with app.run_test(size=(140, 40)) as pilot:
        await asyncio.to_thread(run_learner, env, """
            s.append("svc", "step_start", "expose", index=0)
            for _ in range(3):
                s.append("svc", "check", "expose", passed=False, failing=0, message="no endpoints for svc web")
        """)
        for _ in range(600):       # sync point: the view the worker received carries the learner's row
            row = next((r for r in app.view["learners"] if r["learner"] == "tui-learner"), None)
            if row and row["cells"].get("svc/expose", {}).get("attempts") == 3:
                break
            await pilot.pause(0.05)
        assert row["cells"]["svc/expose"]["state"] == "stuck"
        table = app.query_one("#heat", DataTable)
        assert "!!" in str(table.get_cell("tui-learner", "svc/expose"))
        assert any(s["failingCheck"] == "no endpoints for svc web" for s in app.view["stuck"])


async def test_quitting_the_dashboard_does_not_wait_for_its_long_poll(served):
    """The dashboard's poll is held by the server up to 10 s when nothing changes. Quitting ends it: before,
    a thread worker sat in it, and the loop's shutdown (``asyncio.run``'s, as ``kubetui class dashboard``
    exits) waited for that thread until the server answered."""
    import asyncio

    from kubetui.classroom.dashboard import DashboardApp

    app = DashboardApp(served.url, served.teacher, served.ctx)
    async with app.run_test(size=(140, 40)) as pilot:
        for _ in range(600):       # sync point: the first view came, so the next poll is held by the server
            if app.view["seq"] >= 0:
                break
            await pilot.pause(0.05)
        assert app.view["seq"] >= 0
        await pilot.pause(0.3)
    # what asyncio.run does on the way out: nothing of the dashboard is left waiting in the executor
    await asyncio.wait_for(asyncio.get_running_loop().shutdown_default_executor(), 5)


def test_web_dashboard_needs_the_teachers_token(served):
    import http.client
    conn = http.client.HTTPSConnection("127.0.0.1", served.port, context=served.ctx, timeout=20)
    conn.request("GET", "/")
    r = conn.getresponse()
    assert r.status == 401
    r.read()
    conn.request("GET", "/?token=not-the-token")
    r = conn.getresponse()
    assert r.status == 401
    r.read()
    conn.request("GET", f"/?token={served.teacher}")
    r = conn.getresponse()
    assert r.status == 302 and "Secure" in r.getheader("Set-Cookie") and "HttpOnly" in r.getheader("Set-Cookie")
    cookie = r.getheader("Set-Cookie").split(";")[0]
    r.read()
    conn.request("GET", "/", headers={"Cookie": cookie})
    r = conn.getresponse()
    assert r.status == 200 and b"/class/v1/dashboard?wait=" in r.read()
    conn.close()
