"""Hosted mode: the teacher starts a drill for everyone, and resets one learner's lab with no web TUI open.

One class (``kubetui class serve --hosted``, a subprocess, on a one-node
simulated class cluster) with two learners, shared by the module. A drill
for everyone starts on each learner's own drill cluster (the ``local``
provider: real pods, a prober) with the class's one seed; a learner's
reference mitigation, answer and report reach the teacher's gradebook as
theirs, the other learner's row stays empty. A reset of one learner's lab to
a lesson step is carried out by the class server itself, as that learner,
and leaves the other learner's objects alone.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from kubetui.classroom.hosted_drills import drill_of, plan
from kubetui.drills.format import find, incident
from kubetui.tui.kubectl import hosted_refusal, kubetui_refusal
from tests.classroom.test_class_server import Served, _free_port
from tests.classroom.test_hosted import _listening, _session
from tests.cluster_process import running_cluster

DRILL, SEED = "service-selector-typo", 7
LESSON = "deployments"


def kubetui(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kubetui", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.fixture(scope="module")
def hosted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hosted-drills")
    uid = uuid.uuid4().hex[:6]
    ann, ben = f"ann{uid}", f"ben{uid}"
    with running_cluster(tmp / "cluster", nodes=1):
        (tmp / "roster.csv").write_text(f"name\n{ann}\n{ben}\n")
        s = Served(tmp / "class", _free_port())
        log = open(tmp / "serve.log", "w")
        s.proc = subprocess.Popen(
            [sys.executable, "-m", "kubetui", "class", "serve", "--hosted", "--roster", str(tmp / "roster.csv"),
             "--state-dir", str(tmp / "cluster"), "--dir", str(s.folder), "--host", "127.0.0.1",
             "--port", str(s.port)], stdout=log, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 120
            while not (s.folder / "login-codes.csv").exists() or not _listening(s.port):
                assert s.proc.poll() is None, (tmp / "serve.log").read_text()
                assert time.monotonic() < deadline
                time.sleep(0.2)
            codes = {}
            for line in (s.folder / "login-codes.csv").read_text().splitlines()[1:]:
                name, ns, code = line.split(",")
                codes[name] = (ns, code)
            yield s, ann, ben, codes
        finally:
            s.proc.terminate()
            try:
                s.proc.wait(180)             # stopping the class stops the learners' private clusters
            except subprocess.TimeoutExpired:
                s.proc.kill()
            log.close()
            for d in (s.folder / "private").glob("*"):
                kubetui("down", "--state-dir", str(d), "--purge", timeout=120)


def as_learner(s: Served, name: str, ns: str) -> dict[str, str]:
    """The environment of the learner's web TUI (what its command bar's kubetui commands run with)."""
    return {**os.environ, "KUBETUI_CLASS_DIR": str(s.folder / "links" / ns), "KUBETUI_LEARNER": name,
            "KUBETUI_CLASS_LAB": "private"}


def kubectl(kubectl_bin: str, kubeconfig: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([kubectl_bin, f"--kubeconfig={kubeconfig}", *args], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("revoked, needs_docker, docker, want", [
    ({"a": False, "b": False}, False, False, ["local", "local"]),
    ({"a": False, "b": True}, False, True, ["local", None]),         # a revoked learner gets no drill
    ({"a": False}, True, True, ["docker"]),
    ({"a": False}, True, False, [None]),                             # told why, not skipped silently
])
def test_plan_says_where_each_learners_drill_runs(revoked, needs_docker, docker, want):
    plans = plan(revoked, needs_docker=needs_docker, docker_running=docker)
    assert [p.provider for p in plans] == want
    assert all(p.reason for p in plans if p.provider is None)
    assert drill_of("drill:x") == "x" and drill_of("deployments") is None


@pytest.mark.parametrize("words, refused", [
    (["drill", "answer", "2"], False),
    (["drill", "status"], False),
    (["drill", "answer", "2", "--state-dir", "/class/private/class-bob-drills"], True),
    (["drill", "answer", "--state-dir=/class/private/class-bob-drills", "2"], True),
    (["drill", "start", DRILL, "--seed", "1"], True),
    (["drill", "clean"], True),
])
def test_a_hosted_learners_command_bar_reaches_only_their_own_drill(words, refused):
    hosted = {"KUBETUI_CLASS_LAB": "private"}
    assert (kubetui_refusal(words, hosted) is not None) is refused
    assert hosted_refusal(["get", "pods", "--kubeconfig", "/class/users/class-bob.kubeconfig"], hosted)
    assert hosted_refusal(["get", "pods", "-n", "drill-x"], hosted) is None


@pytest.mark.slow
def test_a_drill_for_everyone_runs_on_each_learners_cluster_and_is_scored(hosted, kubectl_bin):
    s, ann, ben, codes = hosted
    # ben has his web TUI open on the class's cluster while the teacher starts the drill: his page is moved
    r, moved_to = asyncio.run(_drill_with_a_page_open(s, codes[ben]))
    assert r.returncode == 0, r.stdout + r.stderr
    assert moved_to == f"{s.url}/tui/"
    for name in (ann, ben):                                  # one line per learner, saying how it went
        assert f"{name}: drill {DRILL} (seed {SEED}) runs on their own local cluster" in r.stdout, r.stdout

    # each learner's own cluster runs the same incident (one seed: the same Service, the same typo)
    inc = incident(find(DRILL), SEED)
    clusters = {n: s.folder / "private" / f"{codes[n][0]}-drills" for n in (ann, ben)}
    assert len({str(c) for c in clusters.values()}) == 2
    for name, state in clusters.items():
        got = kubectl(kubectl_bin, state / "kubeconfig", "-n", f"drill-{DRILL}", "get", "svc", inc.target,
                      "-o", "json")
        assert got.returncode == 0, got.stderr
        assert json.loads(got.stdout)["spec"]["selector"] == {"app": inc.params["typo"]}
    # not on the class's cluster
    assert kubectl(kubectl_bin, s.folder.parent / "cluster" / "kubeconfig", "get", "ns",
                   f"drill-{DRILL}").returncode != 0

    # ann's web TUI now opens on her drill: its namespace and briefing
    screen = asyncio.run(_session(s, codes[ann][1], "kubetui drill status", []))
    assert f"drill-{DRILL}" in screen, screen[-2000:]

    # ann mitigates (the reference fix), answers and reads her report, from her web TUI's command bar
    env = as_learner(s, ann, codes[ann][0])
    mine = clusters[ann]
    fix = kubectl(kubectl_bin, mine / "kubeconfig", "-n", f"drill-{DRILL}", "patch", "svc", inc.target, "-p",
                  json.dumps({"spec": {"selector": {"app": inc.target}}}))
    assert fix.returncode == 0, fix.stderr
    deadline = time.monotonic() + 120
    while True:
        st = kubetui("drill", "status", "--state-dir", str(mine), env=env)
        if st.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert "MITIGATED" in st.stdout, st.stdout + st.stderr
    a = kubetui("drill", "answer", "the Service selector does not match the labels", "--state-dir", str(mine),
                env=env)
    assert a.returncode == 0, a.stdout + a.stderr
    rep = kubetui("drill", "report", "--state-dir", str(mine), env=env)
    assert rep.returncode == 0, rep.stderr

    # the score reaches the teacher's gradebook as ann's; ben's drill runs on, unscored and untouched
    deadline = time.monotonic() + 30
    while True:
        book = kubetui("class", "gradebook", "--dir", str(s.folder), timeout=60)
        rows = {row["Student"]: row for row in csv.DictReader(io.StringIO(book.stdout)) if row["Student"]}
        if rows.get(ann, {}).get(f"drill {DRILL}") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert int(rows[ann][f"drill {DRILL}"]) > 0, book.stdout
    assert rows.get(ben, {}).get(f"drill {DRILL}", "") == "", book.stdout
    got = kubectl(kubectl_bin, clusters[ben] / "kubeconfig", "-n", f"drill-{DRILL}", "get", "svc", inc.target,
                  "-o", "json")
    assert json.loads(got.stdout)["spec"]["selector"] == {"app": inc.params["typo"]}


async def _drill_with_a_page_open(s: Served, who: tuple[str, str]) -> tuple[subprocess.CompletedProcess, str]:
    """Log in as ``who`` and open their web TUI; once it shows their namespace, the teacher starts the drill;
    returns the teacher's command and the page the class told the browser to load (textual-serve's
    ``open_url``)."""
    import ssl

    import aiohttp

    from tests.classroom.test_hosted import ANSI

    ns, code = who
    ctx = ssl.create_default_context(cafile=str(s.folder / "pki" / "ca.crt"))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as http:
        async with http.post(f"{s.url}/login", data={"code": code}, allow_redirects=False) as resp:
            assert resp.status == 302
            session = resp.cookies["session"].value
        async with http.ws_connect(f"{s.url}/tui/ws?width=120&height=40",
                                   headers={"Cookie": f"session={session}"}) as ws:
            out, teacher, moved = bytearray(), None, ""
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and not moved:
                try:
                    m = await ws.receive(timeout=2)
                except asyncio.TimeoutError:
                    continue
                if m.type == aiohttp.WSMsgType.BINARY:
                    out.extend(m.data)
                    if teacher is None and ns.encode() in ANSI.sub(b"", bytes(out)):
                        teacher = asyncio.ensure_future(asyncio.to_thread(
                            kubetui, "class", "drill", DRILL, "--seed", str(SEED), "--dir", str(s.folder),
                            timeout=900))
                elif m.type == aiohttp.WSMsgType.TEXT:
                    kind, body = json.loads(m.data)[:2]
                    if kind == "open_url":
                        moved = body["url"]
                else:
                    break
            assert teacher is not None, ANSI.sub(b"", bytes(out))[-2000:]
            return await teacher, moved


@pytest.mark.slow
def test_a_reset_with_no_web_tui_open_restores_one_learners_namespace(hosted):
    from kubetui.client.http import HTTPClient

    s, ann, ben, codes = hosted
    users = s.folder / "users"

    async def make(ns):
        c = HTTPClient.from_kubeconfig(users / f"{ns}.kubeconfig")
        try:
            await c.create("configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "mine"}},
                           namespace=ns)
        finally:
            await c.close()

    async def names(ns, resource):
        c = HTTPClient.from_kubeconfig(users / f"{ns}.kubeconfig")
        try:
            return {o["metadata"]["name"] for o in (await c.list(resource, namespace=ns))["items"]}
        finally:
            await c.close()

    for name in (ann, ben):
        asyncio.run(make(codes[name][0]))
    # nobody has a web TUI open: the class server resets ben's lab itself, as ben
    r = kubetui("class", "reset", ben, "--lesson", LESSON, "--step", "2", "--dir", str(s.folder), timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{ben}: {LESSON} reset to step 2" in r.stdout, r.stdout
    # step 2 begins where step 1's solution left the lab: a Deployment web of 3 replicas, in ben's namespace
    assert "web" in asyncio.run(names(codes[ben][0], "deployments"))
    assert "mine" not in asyncio.run(names(codes[ben][0], "configmaps"))
    # ann's objects are untouched, and no lesson ran in her namespace
    assert "mine" in asyncio.run(names(codes[ann][0], "configmaps"))
    assert "web" not in asyncio.run(names(codes[ann][0], "deployments"))
    # the reset is recorded as ben's progress, as his TUI would have recorded it
    deadline = time.monotonic() + 30
    while True:
        events = _events(s, ben)
        if any(e.get("event") == "reset" and e.get("lesson") == LESSON for e in events) or \
                time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert any(e.get("event") == "reset" and e.get("lesson") == LESSON for e in events), events
    assert not any(e.get("lesson") == LESSON for e in _events(s, ann))


def _events(s: Served, name: str) -> list[dict]:
    """What the class recorded of ``name`` (its append-only event log)."""
    from kubetui.classroom.link import read_jsonl
    return [e for e in read_jsonl(s.folder / "events.jsonl") if e.get("learner") == name]


async def test_a_hosted_tui_follows_the_class_servers_reset_instead_of_doing_it_again(tmp_path):
    """The class server reset the lab already: the learner's TUI takes the note, its open run re-reads
    where it stands, and nothing is reset twice; a joined learner's kubetui still carries it out."""
    from kubetui.classroom.inbox import Inbox
    from kubetui.classwork import Lab, carry_out_pending

    box = Inbox(tmp_path)
    (tmp_path / "notes.jsonl").write_text(json.dumps({"n": 0, "kind": "reset", "lesson": LESSON, "step": 2}) + "\n")

    class Run:                       # the TUI's open LessonRun, as far as following needs it
        lesson = type("L", (), {"id": LESSON})()
        index, reloaded, reset = 0, 0, 0

        def reload(self):
            self.reloaded += 1
            self.index = 1

        async def reset_to(self, _step):          # what carrying it out would call (LessonRun.reset)
            self.reset += 1

    run = Run()
    lab = Lab(tmp_path / "nowhere", "ann", library=None)
    lines = await carry_out_pending(lab, box, run=run, env={"KUBETUI_CLASS_LAB": "shared"})
    assert lines == [f"The teacher reset your lab: lesson {LESSON} is back at step 2."]
    assert run.reloaded == 1 and run.reset == 0
    assert box.pending() == [] and await carry_out_pending(lab, box, run=run, env={"KUBETUI_CLASS_LAB": "shared"}) == []
    # join mode: the same note is this kubetui's to carry out (here it cannot: no cluster, and it says so)
    (tmp_path / "notes.jsonl").write_text(json.dumps({"n": 1, "kind": "drill", "drill": DRILL, "seed": 1}) + "\n")
    lines = await carry_out_pending(lab, box, run=None, env={})
    assert len(lines) == 1 and lines[0].startswith("Could not do what the teacher asked (drill)")


async def test_drill_starts_are_bounded_and_a_learner_whose_cluster_did_not_start_is_told(tmp_path):
    """Thirty learners do not start thirty clusters at once on the teacher's two cores; a learner whose
    drill cluster did not start gets a message saying why, and the teacher a line for them."""
    from kubetui.classroom.hosted_drills import CONCURRENCY, HostedDrills

    notes: list[tuple[str, str]] = []
    running, most = 0, 0

    class Server:
        learners = {n: {"revoked": n == "eve"} for n in ("ada", "bob", "cy", "dee", "eve")}

        async def _note(self, to, kind, text, **_):
            notes.append((to, text))

    class Private:
        async def ensure(self, key, folder, **_):
            nonlocal running, most
            running += 1
            most = max(most, running)
            await asyncio.sleep(0.05)
            running -= 1
            raise RuntimeError(f"starting {key}'s private cluster: no room")

    class Hosted:
        server, private, folder = Server(), Private(), tmp_path
        learners = {n: {"namespace": f"class-{n}"} for n in Server.learners}

    drills = HostedDrills(Hosted(), docker_running=lambda: False, needs_docker=lambda d: False)
    also = await drills.start(DRILL, 3)
    assert most == CONCURRENCY
    assert also[-1] == "eve: not started (revoked)"
    assert all(line.startswith(f"{n}: failed: their drill cluster did not start") for n, line in
               zip(("ada", "bob", "cy", "dee"), also))
    assert sorted(to for to, _ in notes) == ["ada", "bob", "cy", "dee"]       # the revoked learner: nothing
    assert all("your drill cluster did not start: starting" in text for _, text in notes)
    # a drill that needs Docker, and no engine: not started, and each learner is told why
    notes.clear()
    drills = HostedDrills(Hosted(), docker_running=lambda: False, needs_docker=lambda d: True)
    also = await drills.start(DRILL, 3)
    assert also[0] == "ada: not started (this drill needs Docker nodes, and the Docker engine does not run on " \
                      "the class machine)"
    assert len(notes) == 4 and "cannot run for you here" in notes[0][1]
