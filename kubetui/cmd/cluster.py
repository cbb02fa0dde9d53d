"""``kubetui up``, ``kubetui down`` and ``kubetui`` (the TUI): the CLI's cluster commands."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path
from typing import Any

from kubetui.cluster.lifecycle import Cluster, ControlPlaneThread
from kubetui.cluster.settings import ClusterSettings, make_provider, settings_from_args
from kubetui.cmdutil import CLIError
from kubetui.providers.base import ClusterConfig
from kubetui.statedir import PID_FILE, running_pid

log = logging.getLogger(__name__)


def run_up(args: Any, state_dir: Path) -> int:
    if not getattr(args, "headless", False):
        return run_tui(args, state_dir)
    pid = running_pid(state_dir)
    if pid is not None:
        raise CLIError(f"cluster {state_dir.name!r} is already running (pid {pid}); "
                       f"use `kubetui kubectl …` or `kubetui --kubeconfig {state_dir / 'kubeconfig'}`")
    settings = settings_from_args(args, state_dir)
    return asyncio.run(_headless(settings, state_dir))


async def _headless(settings: ClusterSettings, state_dir: Path) -> int:
    from rich.console import Console

    console = Console(stderr=True)
    if settings.provider == "local":
        console.print("[yellow]kubetui: no Docker engine in use: nodes are local processes and pods run "
                      "without container isolation (use --provider docker for real containers)[/]")

    def progress(phase: str, detail: str) -> None:
        console.print(f"[cyan]{phase:>12}[/] {detail}")

    cluster = Cluster(settings, state_dir, progress=progress)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    pid_file = state_dir / PID_FILE
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        pid_file.write_text(f"{os.getpid()}\n")
        kubeconfig = await cluster.up()
        print(f"ready {kubeconfig}", flush=True)
        await stop.wait()
    except Exception as e:  # noqa: BLE001 - the CLI turns it into one line
        log.debug("up failed", exc_info=True)
        raise CLIError(str(e) or e.__class__.__name__) from None
    finally:
        await cluster.stop()
        pid_file.unlink(missing_ok=True)
    return 0


def run_down(args: Any, state_dir: Path) -> int:
    import shutil
    import time

    pid = running_pid(state_dir)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if running_pid(state_dir) is None:
                break
            time.sleep(0.1)
    settings = ClusterSettings.load(state_dir)
    if settings is not None and settings.provider in ("docker", "local"):
        provider = make_provider(settings, state_dir)
        asyncio.run(provider.delete(purge=args.purge))
    elif settings is None:
        # No record of the cluster: still clean up Docker leftovers labelled with its name.
        from kubetui.providers.docker import DockerProvider, docker_available
        if docker_available():
            name = getattr(args, "name", None) or state_dir.name
            asyncio.run(DockerProvider(ClusterConfig(name=name, state_dir=state_dir)).delete())
    if args.purge and state_dir.exists():
        shutil.rmtree(state_dir)
    print(f"cluster {state_dir.name!r} is down" + (" and its state deleted" if args.purge else ""))
    return 0


def run_tui(args: Any, state_dir: Path) -> int:
    """``kubetui``: attach to a running cluster, or bring one up in this process, and open the TUI."""
    from kubetui.tui.app import run_app
    kubeconfig = getattr(args, "kubeconfig", None)
    if kubeconfig is None and running_pid(state_dir) is not None:
        kubeconfig = str(state_dir / "kubeconfig")
    if kubeconfig:
        return run_app(kubeconfig=Path(kubeconfig))
    settings = settings_from_args(args, state_dir)
    return run_app(cluster=Cluster(settings, state_dir), thread_factory=ControlPlaneThread)
