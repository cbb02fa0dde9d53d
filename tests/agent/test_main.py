"""Running node agents (kubetui/agent/main.py): several in one process, each frozen on its own."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from kubetui.agent.__main__ import split_commands
from kubetui.agent.main import AgentThread, agent_signals


class Counter:
    def __init__(self) -> None:
        self.started = self.stopped = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True


def test_a_frozen_agent_runs_nothing_until_thawed():
    agent = Counter()

    async def build():
        return agent
    t = AgentThread("kube-proxy", build)
    t.start()
    assert t.started.wait(5) and agent.started
    t.freeze()
    ran = asyncio.run_coroutine_threadsafe(asyncio.sleep(0, "ran"), t._loop)
    time.sleep(0.2)
    assert t.frozen and not ran.done()            # its loop is blocked: nothing of it runs
    t.thaw()
    assert ran.result(timeout=5) == "ran"
    t.freeze()
    t.request_stop()                              # stopping thaws first
    t.thread.join(5)
    assert not t.thread.is_alive() and agent.stopped and t.failed is None


def test_an_agent_that_fails_to_start_is_retried():
    attempts = []

    async def build():
        attempts.append(1)
        if len(attempts) < 2:
            raise ConnectionRefusedError("API server not up yet")
        return Counter()
    t = AgentThread("kubelet", build)
    t.RETRY_SECONDS = 0.01
    t.start()
    assert t.started.wait(5) and len(attempts) == 2 and t.failed is None
    t.request_stop()
    t.thread.join(5)


def test_each_agent_has_its_own_pair_of_signals():
    pairs = [agent_signals(i) for i in range(3)]
    flat = [s for p in pairs for s in p]
    assert len(set(flat)) == 6 and all(signal.SIGRTMIN <= s <= signal.SIGRTMAX for s in flat)


def test_split_commands():
    assert split_commands(["kubetui.kubelet", "--a", "1", "--", "kubetui.proxy", "--b"]) == [
        ["kubetui.kubelet", "--a", "1"], ["kubetui.proxy", "--b"]]


def test_run_agents_process_freezes_one_agent_by_name_and_stops_on_sigterm(tmp_path: Path):
    """Two agents in one process: freezing one leaves the other running (what kube-proxy-stop relies on)."""
    control = tmp_path / "agents.json"
    script = textwrap.dedent(f"""
        import asyncio, sys
        from pathlib import Path
        from kubetui.agent.main import run_agents

        class Ticker:
            def __init__(self, name):
                self.path = Path({str(tmp_path)!r}) / name
            async def start(self):
                self.task = asyncio.create_task(self.tick())
            async def tick(self):
                n = 0
                while True:
                    n += 1
                    self.path.write_text(str(n))
                    await asyncio.sleep(0.02)
            async def stop(self):
                self.task.cancel()
                self.path.with_suffix(".stopped").write_text("yes")

        async def build(name):
            return Ticker(name)
        sys.exit(run_agents([("kubelet", lambda: build("kubelet")), ("kube-proxy", lambda: build("kube-proxy"))],
                            control_file=Path({str(control)!r})))
    """)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        def ticks(name: str) -> int:
            try:
                return int((tmp_path / name).read_text() or 0)
            except (OSError, ValueError):
                return 0

        def wait_for(cond, timeout=20.0):
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                if cond():
                    return True
                time.sleep(0.05)
            return False
        assert wait_for(lambda: control.exists() and ticks("kubelet") > 0 and ticks("kube-proxy") > 0)
        ctl = json.loads(control.read_text())
        assert ctl["pid"] == proc.pid and set(ctl["agents"]) == {"kubelet", "kube-proxy"}
        subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; "
                        "from kubetui.agent.main import signal_agent; "
                        f"signal_agent('kube-proxy', 'freeze', Path({str(control)!r}))"], env=env, check=True)
        time.sleep(0.3)                               # a tick may have been under way
        frozen_at = ticks("kube-proxy")
        k = ticks("kubelet")
        assert wait_for(lambda: ticks("kubelet") > k + 5)     # the kubelet keeps going...
        assert ticks("kube-proxy") == frozen_at               # ...kube-proxy does not
        os.kill(proc.pid, agent_signals(1)[1])                # thaw
        assert wait_for(lambda: ticks("kube-proxy") > frozen_at)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        assert (tmp_path / "kubelet.stopped").exists() and (tmp_path / "kube-proxy.stopped").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
