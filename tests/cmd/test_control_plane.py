"""The control plane as its own process (issue 18; issue 12 items 13, 23, 25), with real processes.

`kubetui up` starts it in the background and returns; every command finds it
through its state dir; TUIs (Pilot, attached over HTTPS) show its live
counters and store; quitting a UI leaves it running and says so, or stops it
if the learner chose that; `kubetui down` stops it; after a SIGKILL `kubetui
up` brings it back with its state; a start that fails says so in one line and
leaves nothing running.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from kubetui.cli import main
from kubetui.cmd.cluster import after_last_ui
from kubetui.cmdutil import kubectl_path
from kubetui.statedir import (
    ENDPOINT_FILE, KEEP, STOP, endpoint, last_ui_choice, remember_last_ui_choice, running_pid, ui_registered,
)
from kubetui.tui.app import KubetuiApp
from kubetui.tui.backends import KubeconfigBackend
from kubetui.tui.screens.cluster_map import ClusterMapScreen
from kubetui.tui.screens.quit import LastUIQuitScreen
from kubetui.tui.widgets.control_plane import ComponentIndicator
from tests.cluster_process import kubetui, running_cluster
from tests.tui.test_app import wait_for, wait_screen

pytestmark = pytest.mark.slow

CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kept", "namespace": "default"},
             "data": {"a": "1"}}


def exited(pid: int) -> bool:
    """Gone, or a zombie nobody reaped (the control plane's parent, `kubetui up`, exited long ago)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    state = tmp_path_factory.mktemp("xdg") / "kubetui" / "lx1"   # where `--name lx1` looks ($XDG_DATA_HOME)
    with running_cluster(state) as kubeconfig:
        yield state, kubeconfig


def test_up_starts_a_background_control_plane_and_says_how_to_stop_it(cluster):
    state, kubeconfig = cluster
    pid = running_pid(state)
    assert pid is not None and pid != os.getpid()
    assert endpoint(state)["phase"] == "ready" and endpoint(state)["server"].startswith("https://127.0.0.1:")
    again = kubetui("up", "--state-dir", str(state))       # idempotent: finds it, starts nothing
    assert again.returncode == 0 and running_pid(state) == pid
    assert f"pid {pid}" in again.stdout and f"kubetui --state-dir {state} down" in again.stdout
    logs = kubetui("logs", "control-plane", "--state-dir", str(state))
    assert logs.returncode == 0 and f"ready {kubeconfig}" in logs.stdout


async def _attached_app(state, kubeconfig):
    backend = KubeconfigBackend(kubeconfig, state_dir=state)
    return KubetuiApp(backend), backend


async def test_two_attached_tuis_show_live_control_plane_counters_and_the_store(cluster):
    state, kubeconfig = cluster
    a, _ = await _attached_app(state, kubeconfig)
    b, backend_b = await _attached_app(state, kubeconfig)
    async with a.run_test(size=(120, 40)) as pa, b.run_test(size=(120, 40)) as pb:
        for pilot in (pa, pb):
            screen = await wait_screen(pilot, ClusterMapScreen, tries=500)
            for component in ("apiserver", "store", "scheduler", "controllers"):
                ind = screen.query_one(f"#cp-{component}", ComponentIndicator)
                await wait_for(pilot, lambda: ind.known, tries=2000)
                assert "asking" not in str(ind.render())
            api = screen.query_one("#cp-apiserver", ComponentIndicator)
            assert api.total > 0
        # A write shows up as store activity in the other TUI (live, from the control-plane process).
        store_box = b.screen.query_one("#cp-store", ComponentIndicator)
        before = store_box.total
        await a.backend.client.create("configmaps", dict(CONFIGMAP, metadata={"name": "live", "namespace": "default"}),
                                      "default")
        await wait_for(pb, lambda: store_box.total > before, tries=5000)
        # The store view: real create/mod revisions from the store, not a list rebuilt by the client.
        snap = await backend_b.store_view("/registry/configmaps/default/live")
        assert [k.key for k in snap.keys] == ["/registry/configmaps/default/live"]
        assert snap.keys[0].create_revision > 0 and snap.keys[0].version == 1 and snap.revision >= before
        await a.backend.client.delete("configmaps", "live", "default")


def test_web_finds_the_cluster_by_name(cluster, monkeypatch, capsys):
    """`kubetui web --name lx1` attaches to the running cluster (issue 12 item 13)."""
    import kubetui.tui.web as web

    state, kubeconfig = cluster
    served = []
    monkeypatch.setattr(web, "serve", lambda kc, **kw: served.append(kc))
    monkeypatch.setenv("XDG_DATA_HOME", str(state.parent.parent))
    monkeypatch.delenv("KUBETUI_STATE_DIR", raising=False)
    assert main(["web", "--name", "lx1", "--port", "0"]) == 0
    assert served == [kubeconfig]


def test_web_without_a_cluster_fails_with_one_line(tmp_path):
    r = kubetui("web", "--state-dir", str(tmp_path / "none"))
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "no cluster is running" in r.stderr
    assert "Traceback" not in r.stderr


def test_lessons_start_tui_uses_the_running_cluster(cluster, monkeypatch):
    """`kubetui lessons start meet-the-cluster --tui` attaches; no second control plane (issue 12 item 13)."""
    import kubetui.tui.backends as backends
    import kubetui.cmd.cluster as cmd_cluster

    state, kubeconfig = cluster
    pid = running_pid(state)
    calls = []
    monkeypatch.setattr(backends, "run_app", lambda **kw: calls.append(kw) or 0)
    remember = last_ui_choice(state)
    assert main(["--state-dir", str(state), "lessons", "start", "meet-the-cluster", "--tui"]) == 0
    assert calls[0]["kubeconfig"] == kubeconfig and calls[0]["lesson"] == "meet-the-cluster"
    assert running_pid(state) == pid
    assert cmd_cluster.running_pid(state) == pid and last_ui_choice(state) == remember


async def test_quitting_asks_once_and_remembers(cluster):
    state, kubeconfig = cluster
    (state / "ui.json").unlink(missing_ok=True)
    app, _ = await _attached_app(state, kubeconfig)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_screen(pilot, ClusterMapScreen, tries=500)
        await pilot.press("q")
        await wait_screen(pilot, LastUIQuitScreen)
        await pilot.press("escape")                      # changed my mind: stay
        await wait_screen(pilot, ClusterMapScreen)
        await pilot.press("q")
        await wait_screen(pilot, LastUIQuitScreen)
        await pilot.press("k")
    assert last_ui_choice(state) == KEEP
    app, _ = await _attached_app(state, kubeconfig)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_screen(pilot, ClusterMapScreen, tries=500)
        await pilot.press("q")                           # asked once: no question now
        await pilot.pause()
        assert not isinstance(app.screen, LastUIQuitScreen)
    assert running_pid(state) is not None


async def test_quitting_closes_the_https_session(cluster):
    """No `asyncio ERROR Unclosed client session` after quitting an attached TUI (issue 12 item 25):
    the app closes its client's aiohttp session on its own loop as it unmounts."""
    state, kubeconfig = cluster
    remember_last_ui_choice(state, KEEP)
    app, backend = await _attached_app(state, kubeconfig)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_screen(pilot, ClusterMapScreen, tries=500)
        await app.bridge.wait_synced("nodes")
        session = backend.client._session          # the one aiohttp.ClientSession the TUI talks through
        assert session is not None and not session.closed
        await pilot.press("q")
    assert session.closed


def test_quitting_the_last_ui_says_what_keeps_running(cluster):
    state, _ = cluster
    remember_last_ui_choice(state, KEEP)
    pid = running_pid(state)
    with ui_registered(state):
        text = after_last_ui(state)
    assert running_pid(state) == pid
    assert "keeps running" in text and f"pid {pid}" in text and f"kubetui --state-dir {state} down" in text


def test_kill_9_then_up_restarts_cleanly_with_state_intact(cluster):
    state, kubeconfig = cluster
    kubectl = [kubectl_path(), f"--kubeconfig={kubeconfig}"]
    r = subprocess.run([*kubectl, "apply", "-f", "-"], input=json.dumps(CONFIGMAP), capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    old = running_pid(state)
    os.kill(old, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while running_pid(state) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running_pid(state) is None                   # the lock went with the process
    assert (state / ENDPOINT_FILE).exists()              # stale files stay, but say nothing
    assert endpoint(state) is None
    up = kubetui("up", "--state-dir", str(state))
    assert up.returncode == 0, up.stderr
    new = running_pid(state)
    assert new not in (None, old)
    r = subprocess.run([*kubectl, "get", "configmap", "kept", "-o", "jsonpath={.data.a}"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and r.stdout == "1", r.stderr


def test_choosing_stop_stops_the_cluster_when_the_last_ui_closes(tmp_path):
    state = tmp_path / "stopme"
    with running_cluster(state, nodes=1):
        remember_last_ui_choice(state, STOP)
        with ui_registered(state, pid=os.getppid()):     # another UI still open: keeps running
            assert "keeps running" in after_last_ui(state)
            assert running_pid(state) is not None
        text = after_last_ui(state)
        assert running_pid(state) is None and "stopped" in text and "state stays" in text
    assert (state / "store").is_dir()


def test_down_stops_it(tmp_path):
    state = tmp_path / "down"
    with running_cluster(state, nodes=1):
        pid = running_pid(state)
        r = kubetui("down", "--state-dir", str(state))
        assert r.returncode == 0 and running_pid(state) is None
        assert exited(pid)


def test_a_failed_start_says_why_in_one_line_and_leaves_nothing_running(tmp_path):
    state = tmp_path / "broken"
    state.mkdir()
    (state / "store").write_text("a file where the store's directory belongs\n")
    r = kubetui("up", "--state-dir", str(state), "--provider", "simulated", "--nodes", "1", "--api-port", "0")
    assert r.returncode == 1, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("kubetui: error: the control plane did not start:") and "Traceback" not in r.stderr
    assert running_pid(state) is None and not (state / ENDPOINT_FILE).exists()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_kubetui_in_a_terminal_starts_the_control_plane_and_quitting_says_it_keeps_running(tmp_path):
    """The real `kubetui` in tmux: it starts the control plane in the background, the map shows, `q` asks
    once, and the terminal then says what keeps running, with no `Unclosed client session` (issue 12 item 25)."""
    from tests.tui.test_terminal import Tmux

    state = tmp_path / "term"
    tmux = Tmux(tmp_path)
    try:
        tmux.start(f"sh -c '{sys.executable} -m kubetui --state-dir {state} --provider simulated --nodes 1 "
                   f"--api-port 0; echo kubetui-exited-$?; sleep 60'")
        tmux.wait_for("node-1", timeout=60)
        pid = running_pid(state)
        assert pid is not None
        tmux.keys("q")
        tmux.wait_for("Asked once")
        tmux.keys("k")
        screen = tmux.wait_for("kubetui-exited-0")
        flat = " ".join(screen.split())
        assert "keeps running" in flat and f"pid {pid}" in flat and "down" in flat, screen
        assert "Unclosed" not in screen and "Traceback" not in screen, screen
        assert running_pid(state) == pid and last_ui_choice(state) == KEEP
    finally:
        tmux.kill()
        kubetui("down", "--state-dir", str(state))

