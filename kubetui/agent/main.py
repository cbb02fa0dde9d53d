"""How a node agent process runs: logging, signals, start and stop (upstream: each component's
``cmd/<name>/app`` with ``component-base``'s logging flags and its SIGTERM handling).

Every agent (``python3 -m kubetui.kubelet``, ``kubetui.proxy``, ``kubetui.dns``)
is an object with ``async start()`` and ``async stop()``, built from its
command line by its ``__main__`` module's ``build(args)``. ``main`` runs one
agent: it logs to stderr in one format, starts the agent, waits for SIGTERM
or SIGINT, stops it.

``run_agents`` runs several in **one process**, each on its own thread with
its own event loop. That is how a Docker node runs its kubelet and kube-proxy
(``python3 -m kubetui.agent run kubetui.kubelet … -- kubetui.proxy …``): one
interpreter's worth of imports instead of two (the standard library alone is
about 10 MiB per interpreter), while each agent still keeps its own loop, so a
slow iptables sync never delays a pod start. Since a signal stops a whole
process, each agent can be frozen on its own, as ``kill -STOP`` would freeze
a separate process (the ``kubelet-stop`` and ``kube-proxy-stop`` faults):
``python3 -m kubetui.agent freeze kube-proxy`` / ``thaw kube-proxy``. A
frozen agent's thread blocks where it stands: no heartbeats, no watches, its
ports accept connections but nothing answers, until it is thawed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import select
import signal
import threading
from pathlib import Path
from typing import Any, Awaitable, Callable

log = logging.getLogger("kubetui.agent")

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: where ``run_agents`` says which signal freezes or thaws which of its agents
CONTROL_FILE = Path(os.environ.get("KUBETUI_AGENT_CONTROL", "/run/kubetui/agents.json"))

Builder = Callable[[], Awaitable[Any]]


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT)


def main(name: str, build: Builder, log_level: str = "INFO") -> int:
    """Run one agent in this process until SIGTERM/SIGINT."""
    setup_logging(log_level)
    return asyncio.run(_serve(name, build))


async def _serve(name: str, build: Builder) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    agent = await build()
    await agent.start()
    await stop.wait()
    log.info("%s stopping", name)
    await agent.stop()
    return 0


class AgentThread:
    """One agent on a thread of its own, with its own event loop; it can be frozen and thawed."""

    #: seconds between attempts when building or starting the agent fails
    RETRY_SECONDS = 1.0

    def __init__(self, name: str, build: Builder) -> None:
        self.name = name
        self.build = build
        self.started = threading.Event()
        self.failed: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._gate = threading.Event()
        self._gate.set()
        self.thread = threading.Thread(target=self._main, name=name, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as e:  # noqa: BLE001 - the thread's boundary: report, the process decides
            self.failed = e
            log.exception("%s ended", self.name)
        finally:
            self.started.set()

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        while True:
            try:
                agent = await self.build()
                await agent.start()
                break
            except Exception as e:  # noqa: BLE001 - e.g. the API server is not up yet: try again
                log.warning("%s failed to start: %s; retrying in %.0fs", self.name, e, self.RETRY_SECONDS)
                await asyncio.sleep(self.RETRY_SECONDS)
        self.started.set()
        await self._stop.wait()
        log.info("%s stopping", self.name)
        await agent.stop()

    def request_stop(self) -> None:
        self.thaw()
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)

    # -- kill -STOP for one agent ----------------------------------------------------------
    @property
    def frozen(self) -> bool:
        return not self._gate.is_set()

    def freeze(self) -> None:
        """Block this agent's event loop (between two of its callbacks) until ``thaw``."""
        if self.frozen or self._loop is None:
            return
        self._gate.clear()
        self._loop.call_soon_threadsafe(self._gate.wait)
        log.warning("%s frozen (as by SIGSTOP): it does nothing until thawed", self.name)

    def thaw(self) -> None:
        if self.frozen:
            self._gate.set()
            log.warning("%s thawed", self.name)


def agent_signals(index: int) -> tuple[int, int]:
    """(freeze, thaw) real-time signals of the ``index``-th agent of a ``run_agents`` process."""
    base = signal.SIGRTMIN + 2 * index
    if base + 1 > signal.SIGRTMAX:
        raise ValueError("too many agents in one process")
    return base, base + 1


def run_agents(agents: list[tuple[str, Builder]], log_level: str = "INFO",
               control_file: Path | None = None) -> int:
    """Run several agents in this process (one thread each) until SIGTERM/SIGINT."""
    setup_logging(log_level)
    control_file = control_file or CONTROL_FILE
    threads = [AgentThread(name, build) for name, build in agents]
    stop = threading.Event()
    control: dict[str, Any] = {"pid": os.getpid(), "agents": {}}
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    for i, t in enumerate(threads):
        freeze, thaw = agent_signals(i)
        signal.signal(freeze, lambda *_, t=t: t.freeze())
        signal.signal(thaw, lambda *_, t=t: t.thaw())
        control["agents"][t.name] = {"freeze": int(freeze), "thaw": int(thaw)}
    try:
        control_file.parent.mkdir(parents=True, exist_ok=True)
        control_file.write_text(json.dumps(control))
    except OSError as e:
        log.warning("cannot write %s (%s): agents cannot be frozen one by one", control_file, e)
    # The main thread only waits for signals. The kernel may deliver one to any thread, and
    # Python runs its handler on the main thread the next time that one runs Python code: the
    # wakeup pipe makes that at once (a freeze must take effect before `freeze` returns to its caller).
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    for t in threads:
        t.start()
    while not stop.is_set():
        if select.select([wake_r], [], [], 1.0)[0]:
            os.read(wake_r, 512)
        dead = [t.name for t in threads if not t.thread.is_alive()]
        if dead:
            log.error("%s ended unexpectedly: stopping the node's agents", ", ".join(dead))
            break
    for t in threads:
        t.request_stop()
    for t in threads:
        t.thread.join(timeout=30)
    return 1 if any(t.failed for t in threads) else 0


def signal_agent(name: str, action: str, control_file: Path | None = None) -> None:
    """``freeze``/``thaw`` one agent of the ``run_agents`` process described by ``control_file``."""
    control = json.loads((control_file or CONTROL_FILE).read_text())
    agents = control["agents"]
    if name not in agents:
        raise KeyError(f"no agent {name!r} in this process (agents: {', '.join(sorted(agents))})")
    os.kill(int(control["pid"]), agents[name][action])
