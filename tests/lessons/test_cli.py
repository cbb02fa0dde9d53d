"""``kubetui lessons …`` and ``kubetui fault …`` against a real headless cluster (``kubetui up --headless``)."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from kubetui.cli import main


@pytest.fixture(scope="module")
def headless(tmp_path_factory):
    state = tmp_path_factory.mktemp("lessons-cli") / "state"
    proc = subprocess.Popen([sys.executable, "-m", "kubetui", "up", "--headless", "--state-dir", str(state),
                             "--api-port", "0", "--provider", "simulated", "--nodes", "3"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line or line.startswith("ready "):
            break
    if proc.poll() is not None:
        pytest.fail(f"kubetui up --headless failed: {proc.stderr.read()[-2000:]}")
    yield state
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_a_learner_session_from_the_command_line(headless, capsys, monkeypatch):
    monkeypatch.delenv("KUBETUI_STATE_DIR", raising=False)
    s = ["--state-dir", str(headless), "--learner", "ada"]
    code, out = run(capsys, "lessons", "list", *s)
    assert code == 0 and "deployments" in out and "not started" in out

    code, out = run(capsys, "lessons", "start", "3", *s)
    assert code == 0 and "step 1/4: Create a Deployment" in out
    code, out = run(capsys, "lessons", "predict", "2", *s)
    assert code == 0 and "Right." in out
    code, out = run(capsys, "lessons", "check", *s)          # nothing done yet: a grader sees exit 1
    assert code == 1 and "✗ There is no Deployment called web yet" in out
    code, out = run(capsys, "lessons", "hint", *s)
    assert code == 1 and "unlocks in" in out                  # after: 60s
    code, out = run(capsys, "lessons", "solve", *s)
    assert code == 0 and "kubectl create deployment web" in out
    for _ in range(100):                                      # the pods take a moment to run
        code, out = run(capsys, "lessons", "check", *s)
        if code == 0:
            break
        time.sleep(0.2)
    assert code == 0 and "✓ step 1 passed" in out and "Next:" in out
    code, out = run(capsys, "lessons", "show", *s)
    assert "step 2/4: Scale out" in out
    code, out = run(capsys, "lessons", "list", *s)
    assert "step 2, 1/4 passed" in out

    code, out = run(capsys, "lessons", "export", "--format", "csv", *s)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0]["learner"] == "ada" and rows[0]["step"] == "create" and rows[0]["passed"] == "true"
    assert int(rows[0]["attempts"]) >= 2                      # the failed check, then the passing one
    assert rows[0]["solution_used"] == "true" and rows[0]["prediction_correct"] == "true"
    code, out = run(capsys, "lessons", "export", "--format", "junit", *s)
    suite = ET.fromstring(out).find("testsuite")
    assert suite.get("name") == "deployments" and suite.get("tests") == "4"

    code, out = run(capsys, "lessons", "reset", "deployments", "--step", "3", *s)
    assert code == 0 and "step 3/4" in out, out
    code, out = run(capsys, "lessons", "check", *s)
    assert code == 1 and "No replacement pod has been created since this step began" in out

    code, out = run(capsys, "lessons", "start", "nope", *s)
    assert code == 1 and "no lesson 'nope'" in out


def test_fault_commands(headless, capsys):
    s = ["--state-dir", str(headless)]
    code, out = run(capsys, "fault", "list", *s)
    assert code == 0 and "node-pause" in out and "No active faults." in out
    # simulated nodes obey the kubetui.dev/fault annotation, so a node fault works from outside too
    code, out = run(capsys, "fault", "inject", "node-pause", "--target", "node-1", *s)
    assert code == 0 and "injected node-pause on node-1" in out
    pid = out.split("(id ")[1].split(",")[0]
    assert run(capsys, "fault", "revert", pid, *s)[0] == 0
    code, out = run(capsys, "fault", "inject", "cpu-hog", "--seed", "4", *s)
    assert code == 0 and "injected cpu-hog on node-" in out
    fid = out.split("(id ")[1].split(",")[0]
    code, out = run(capsys, "fault", "list", *s)
    assert fid in out
    code, out = run(capsys, "fault", "revert", fid, *s)
    assert code == 0 and "reverted cpu-hog" in out


@pytest.mark.slow
def test_lessons_test_writes_junit(tmp_path, capsys):
    junit = tmp_path / "lessons.xml"
    code, out = run(capsys, "lessons", "test", "meet-the-cluster", "--junit", str(junit))
    assert code == 0, out
    assert "PASS meet-the-cluster (simulated, 5 step(s)" in out
    root = ET.parse(junit).getroot()
    suite = root.find("testsuite")
    assert suite.get("name") == "meet-the-cluster" and suite.get("failures") == "0"
    assert len(suite.findall("testcase")) == 5


def test_broken_lesson_is_one_line_naming_file_and_line(tmp_path, capsys):
    d = tmp_path / "01-broken"
    d.mkdir()
    (d / "lesson.md").write_text("---\nid: b\ntitle: B\n---\n## s\n```check\n- exists: {}\n  fail: x\n```\n")
    code, out = run(capsys, "lessons", "list", "--lessons-dir", str(tmp_path), "--state-dir", str(tmp_path / "st"))
    assert code == 0
    warning = [line for line in out.splitlines() if line.startswith("kubetui: warning:")]
    assert warning == [f"kubetui: warning: {d / 'lesson.md'}:7: step 's': check 1: exists needs resource, name"]


TINY = """---
id: tiny-held
title: Tiny
---
## One {#one}
```check
- exists: {resource: configmaps, name: held-one}
  fail: "configmap held-one is missing"
```
```solution
kubectl create configmap held-one
```
## Two {#two}
```check
- exists: {resource: configmaps, name: held-two}
  fail: "configmap held-two is missing"
```
"""


def test_a_paused_class_holds_the_check_until_it_resumes(headless, capsys, monkeypatch, tmp_path):
    """A learner who joined a class the teacher paused: ``kubetui lessons check`` shows the checks but the step
    does not pass (exit 1, said why) until the class resumes. The server is unreachable here: the pause the
    learner's kubetui last heard of holds."""
    import json
    monkeypatch.delenv("KUBETUI_STATE_DIR", raising=False)
    (tmp_path / "lessons" / "01-tiny").mkdir(parents=True)
    (tmp_path / "lessons" / "01-tiny" / "lesson.md").write_text(TINY)
    cls = tmp_path / "class"
    cls.mkdir()
    (cls / "link.json").write_text(json.dumps({"url": "https://127.0.0.1:9", "name": "ada", "token": "t"}))
    (cls / "inbox.json").write_text(json.dumps({"next": 0, "paused": True}))
    monkeypatch.setenv("KUBETUI_CLASS_DIR", str(cls))
    s = ["--state-dir", str(headless), "--learner", "held", "--lessons-dir", str(tmp_path / "lessons")]
    assert run(capsys, "lessons", "start", "tiny-held", *s)[0] == 0
    assert run(capsys, "lessons", "solve", *s)[0] == 0
    code, out = run(capsys, "lessons", "check", *s)
    assert code == 1 and "[class] The class is paused by the teacher" in out
    assert "⏸ the checks pass, but the step does not advance yet" in out and "✓ step 1 passed" not in out
    code, out = run(capsys, "lessons", "show", *s)
    assert "step 1/2: One" in out and "✓" not in out.split("step 1/2")[1].split("\n")[0]
    (cls / "inbox.json").write_text(json.dumps({"next": 0, "paused": False}))
    code, out = run(capsys, "lessons", "check", *s)
    assert code == 0 and "✓ step 1 passed" in out
