"""``kubetui up``, ``kubetui down``, ``kubetui logs control-plane`` and ``kubetui`` (the TUI).

The control plane (store, API server, scheduler, controller manager) runs as
its own process, one per state directory, as kube-apiserver and friends run
apart from kubectl: ``kubetui up --headless`` in the foreground, or started in
the background by ``kubetui`` / ``kubetui up`` when none runs. Every command
finds it through the state directory (``kubetui.statedir``: a lock it holds,
its pid, its endpoint); any number of TUIs, web sessions and lesson runners
attach to it over the API; ``kubetui down`` stops it.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from kubetui.cluster.lifecycle import Cluster
from kubetui.cluster.settings import (
    ClusterSettings, StoreSwitchRefused, make_provider, node_names, settings_from_args as _settings_from_args,
)
from kubetui.cmdutil import CLIError, default_state_dir
from kubetui.providers.base import ClusterConfig
from kubetui.statedir import (
    ENDPOINT_FILE, KUBECONFIG_FILE, LOCK_FILE, LOG_FILE, PID_FILE, PROGRESS_FILE, STOP, endpoint,
    last_ui_choice, open_uis, read_progress, running_pid, ui_registered, write_json,
)

log = logging.getLogger(__name__)

#: how long `kubetui`/`kubetui up` wait for a control plane they started (Docker nodes may pull images)
START_TIMEOUT = 300.0


# -- the control-plane process (`kubetui up --headless`) -----------------------------------------


def settings_from_args(args: Any, state_dir: Path) -> ClusterSettings:
    """The cluster's settings with this command's flags (a refused ``--store`` switch is a CLIError)."""
    try:
        settings = _settings_from_args(args, state_dir)
    except StoreSwitchRefused as e:
        raise CLIError(str(e)) from None
    if settings.control_planes < 1:
        raise CLIError(f"--control-planes must be at least 1, not {settings.control_planes}")
    if settings.control_planes > 1 and (settings.store != "etcd" or settings.provider not in ("local", "docker")):
        raise CLIError("--control-planes N > 1 needs --store etcd (the control planes share one etcd cluster) "
                       "and --provider local or docker (control-plane nodes as processes or containers)")
    if settings.store == "etcd":
        from kubetui.store.etcdserver import INSTALL_HINT, find_binary
        if find_binary("etcd") is None:
            raise CLIError(INSTALL_HINT)
    return settings


def run_up(args: Any, state_dir: Path) -> int:
    settings_from_args(args, state_dir)  # refuses a --store switch even when the cluster runs
    if getattr(args, "headless", False):
        return serve(settings_from_args(args, state_dir), state_dir)
    already = running_pid(state_dir)
    missing = missing_node_containers(state_dir) if already is not None else []
    if missing:
        # `up` is idempotent: it brings the cluster to what cluster.json says. Only the
        # control plane's start (Cluster.up) creates node containers (it holds the nodes'
        # credentials), so restart it; the nodes that are still there keep running.
        print(f"kubetui: node container(s) missing (removed outside kubetui): {', '.join(missing)}; "
              f"restarting the control plane to re-create them", file=sys.stderr, flush=True)
        stop_control_plane(state_dir)
        already = None
    ensure_running(state_dir, settings_from_args(args, state_dir) if already is None else None,
                   wait_for="ready", say=lambda line: print(line, file=sys.stderr, flush=True))
    print(status_lines(state_dir, stopped=False, started=already is None))
    return 0


def _take_lock(state_dir: Path) -> int:
    """Hold the state dir's control-plane lock (or fail with who holds it)."""
    fd = os.open(state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    for _ in range(20):   # a `kubetui` checking liveness holds it (shared) for a moment
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            time.sleep(0.05)
    os.close(fd)
    pid = running_pid(state_dir)
    raise CLIError(f"cluster {state_dir.name!r} is already running (pid {pid}); "
                   f"use `kubetui kubectl …` or `kubetui --kubeconfig {state_dir / KUBECONFIG_FILE}`")


def serve(settings: ClusterSettings, state_dir: Path) -> int:
    """Run the control plane and bring up nodes, in the foreground, until SIGINT/SIGTERM."""
    state_dir.mkdir(parents=True, exist_ok=True)
    lock = _take_lock(state_dir)
    try:
        return asyncio.run(_serve(settings, state_dir))
    finally:
        for name in (PID_FILE, ENDPOINT_FILE):
            (state_dir / name).unlink(missing_ok=True)
        os.close(lock)   # releases the lock: the cluster is no longer running


async def _serve(settings: ClusterSettings, state_dir: Path) -> int:
    from rich.console import Console

    console = Console(stderr=True, soft_wrap=True)
    if settings.provider == "local":
        console.print("[yellow]kubetui: no Docker engine in use: nodes are local processes and pods run "
                      "without container isolation (use --provider docker for real containers)[/]")
    me = {"pid": os.getpid(), "name": settings.name, "provider": settings.provider, "phase": "starting",
          "log": str(state_dir / LOG_FILE), "kubeconfig": str(state_dir / KUBECONFIG_FILE)}
    (state_dir / PID_FILE).write_text(f"{os.getpid()}\n")
    write_json(state_dir / ENDPOINT_FILE, me)
    progress_file = open(state_dir / PROGRESS_FILE, "w", buffering=1)
    cluster: Cluster

    def progress(phase: str, detail: str) -> None:
        console.print(f"[cyan]{phase:>12}[/] {detail}")
        progress_file.write(json.dumps({"phase": phase, "detail": detail}) + "\n")
        cp = cluster.control_plane
        if me["phase"] == "starting" and cp is not None and cp.client is not None:
            # The API server answers from here on: UIs may attach while nodes come up.
            me.update(phase="serving", server=cp.apiserver.url)
            write_json(state_dir / ENDPOINT_FILE, me)

    cluster = Cluster(settings, state_dir, progress=progress)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        up = asyncio.create_task(cluster.up())
        waiting = asyncio.create_task(stop.wait())
        await asyncio.wait({up, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if not up.done():   # stopped while starting: not an error
            up.cancel()
            await asyncio.gather(up, return_exceptions=True)
            return 0
        waiting.cancel()
        kubeconfig = up.result()
        me.update(phase="ready", server=cluster.control_plane.apiserver.url)
        write_json(state_dir / ENDPOINT_FILE, me)
        progress_file.write(json.dumps({"phase": "ready", "detail": f"ready {kubeconfig}"}) + "\n")
        print(f"ready {kubeconfig}", flush=True)
        await stop.wait()
    except Exception as e:  # noqa: BLE001 - the CLI turns it into one line
        log.debug("up failed", exc_info=True)
        progress_file.write(json.dumps({"phase": "failed", "detail": str(e) or e.__class__.__name__}) + "\n")
        raise CLIError(str(e) or e.__class__.__name__) from None
    finally:
        # Never a half-started cluster: what started is stopped, and the lock and pid go.
        await cluster.stop()
        progress_file.close()
    return 0


# -- finding or starting it ---------------------------------------------------------------------


def headless_argv(state_dir: Path, settings: ClusterSettings | None) -> list[str]:
    """``kubetui up --headless`` for this state dir; cluster.json supplies the rest, but not ``--insecure-http``."""
    argv = [sys.executable, "-m", "kubetui", "up", "--headless", "--state-dir", str(state_dir)]
    saved = settings or ClusterSettings.load(state_dir)
    if saved is not None and saved.insecure_http:
        argv.append("--insecure-http")      # the one flag cluster.json does not bring back
    return argv


def ensure_running(state_dir: Path, settings: ClusterSettings | None, *, wait_for: str = "serving",
                   say: Callable[[str], None] = lambda line: None, timeout: float = START_TIMEOUT) -> Path:
    """The cluster's kubeconfig once its control plane answers, starting one in the background if none runs.

    ``wait_for``: ``serving`` (the API answers; nodes may still be coming) or ``ready`` (every node Ready).
    A control plane that fails to start exits (nothing half-started stays behind): raises a
    ``CLIError`` with its last words and where its log is.
    """
    proc: subprocess.Popen[bytes] | None = None
    log_path = state_dir / LOG_FILE
    if running_pid(state_dir) is None:
        if settings is None:
            settings = ClusterSettings.load(state_dir) or ClusterSettings(name=state_dir.name)
        state_dir.mkdir(parents=True, exist_ok=True)
        settings.save(state_dir)
        (state_dir / PROGRESS_FILE).unlink(missing_ok=True)
        say(f"starting the control plane of cluster {settings.name!r} ({settings.provider} nodes); "
            f"its log: {log_path}")
        with open(log_path, "ab") as logf:
            logf.write(f"--- kubetui up --headless, {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
            logf.flush()
            proc = subprocess.Popen(headless_argv(state_dir, settings), stdin=subprocess.DEVNULL, stdout=logf,
                                    stderr=subprocess.STDOUT, start_new_session=True)
    offset = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        phases, offset = read_progress(state_dir, offset)
        for p in phases:
            if p.get("phase") not in ("ready", "failed"):
                say(f"{p.get('phase', ''):>12} {p.get('detail', '')}")
        if any(p.get("phase") == "failed" for p in phases):
            break
        found = endpoint(state_dir)
        if found and (found.get("phase") == wait_for or found.get("phase") == "ready"):
            return state_dir / KUBECONFIG_FILE
        if proc is not None and proc.poll() is not None:
            if running_pid(state_dir) is None:
                break
            proc = None     # another `kubetui` started one first (ours found the lock taken): use that one
        if proc is None and found is None:
            raise CLIError(f"the control plane of {state_dir} stopped; see {log_path}")
        time.sleep(0.1)
    else:
        raise CLIError(f"the control plane did not come up within {timeout:.0f}s; see {log_path}")
    if proc is not None:
        try:
            proc.wait(timeout=30)       # it stops what it started before exiting
        except subprocess.TimeoutExpired:
            pass
    raise CLIError(f"the control plane did not start: {_last_error(log_path)} (log: {log_path})")


def _last_error(log_path: Path) -> str:
    try:
        lines = [ln.strip() for ln in log_path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "no log"
    for line in reversed(lines):
        if line.startswith("kubetui: error:"):
            return line.removeprefix("kubetui: error:").strip()
    return lines[-1] if lines else "no log"


def status_lines(state_dir: Path, *, stopped: bool, started: bool = False) -> str:
    """What runs (or stopped) and how to stop it: said whenever a UI closes or `up` returns."""
    settings = ClusterSettings.load(state_dir)
    name = settings.name if settings else state_dir.name
    if state_dir == default_state_dir(name):
        sel = "" if name == "default" else f" --name {name}"
    else:
        sel = f" --state-dir {state_dir}"
    if stopped:
        return (f"kubetui: cluster {name!r} stopped (control plane and nodes); its state stays in {state_dir}. "
                f"`kubetui{sel}` brings it back.")
    pid = running_pid(state_dir)
    nodes = ""
    if settings is not None and settings.provider == "docker":
        nodes = _docker_nodes(settings, sel)
    elif settings is not None and settings.provider == "local":
        nodes = f" and {settings.nodes} local node process(es)"
        from kubetui.providers.loopback import recorded
        block = recorded(state_dir)
        if block is not None:   # the loopback ranges this cluster owns on this machine (kubetui.agent.loopback)
            nodes += (f" (nodes and NodePorts at 127.{block.pods}.0.N, pods in 127.{block.pods}.N.0/24, "
                      f"ClusterIP 10.96.A.B at 127.{block.services}.A.B)")
    verb = "is up" if started else "keeps running"
    ingress = ""
    if settings is not None and settings.provider in ("docker", "local"):
        # the built-in ingress controller (IngressClass kubetui): where Ingresses are reached from here (with
        # several control planes, the host's load balancer in front of every control-plane node's data plane)
        ingress = (f" Ingress: http://127.0.0.1:{settings.ingress_http_port}, "
                   f"https://127.0.0.1:{settings.ingress_https_port}.")
    etcd = ""
    if settings is not None and settings.store == "etcd" and (state_dir / "etcd.json").exists():
        # where etcdctl reaches the cluster's etcd member, with the certificates kubeadm would name
        doc = json.loads((state_dir / "etcd.json").read_text())
        etcd = (f" etcd: `etcdctl --endpoints {doc['endpoint']} --cacert {doc['cacert']} --cert {doc['cert']} "
                f"--key {doc['key']} get /registry --prefix --keys-only`.")
    return (f"kubetui: cluster {name!r} {verb}: its control plane (pid {pid}, log {state_dir / LOG_FILE}){nodes}."
            f"{ingress}{etcd} Attach: `kubetui{sel}`; stop it: `kubetui{sel} down`.")


def missing_node_containers(state_dir: Path) -> list[str]:
    """The Docker node containers cluster.json says the cluster has but Docker has not."""
    settings = ClusterSettings.load(state_dir)
    if settings is None or settings.provider != "docker":
        return []
    from kubetui.providers.docker import node_container_states  # loads Docker's SDK
    from kubetui.providers.docker.nodespec import container_name

    states = node_container_states(settings.name)
    if states is None:
        return []
    return [container_name(settings.name, n) for n in _docker_node_names(settings) if n not in states]


def _docker_node_names(settings: ClusterSettings) -> list[str]:
    """Every node container the cluster has: its workers and, with several control planes, kind's
    ``<cluster>-control-plane``, ``...2``, ... containers."""
    from kubetui.cluster.ha import member_names
    cps = member_names(settings.name, settings.control_planes) if settings.control_planes > 1 else []
    return node_names(settings.nodes) + cps


def _docker_nodes(settings: ClusterSettings, sel: str) -> str:
    """The node containers Docker actually has, not the number the cluster was created with:
    a container removed from outside must not be reported as running."""
    from kubetui.providers.docker import node_container_states  # loads Docker's SDK
    from kubetui.providers.docker.nodespec import container_name

    name = settings.name
    states = node_container_states(name)
    if states is None:
        return f" and {settings.nodes} Docker node container(s) (kubetui-{name}-…; no Docker engine answers)"
    wanted = _docker_node_names(settings)
    running = sum(1 for n in wanted if states.get(n) == "running")
    text = f" and {running} of {len(wanted)} Docker node container(s) running (kubetui-{name}-…)"
    if settings.control_planes > 1:
        text += f", {settings.control_planes} of them control-plane nodes (etcd, API server, scheduler, controller manager)"
    missing = [container_name(name, n) for n in wanted if n not in states]
    if missing:
        text += (f"; MISSING (removed outside kubetui): {', '.join(missing)}: their nodes go NotReady. "
                 f"`kubetui{sel} up` re-creates them")
    return text


# -- stopping -----------------------------------------------------------------------------------


def stop_control_plane(state_dir: Path, timeout: float = 60.0) -> bool:
    """SIGTERM the control plane and wait until it let go of the state dir; True if one was running."""
    pid = running_pid(state_dir)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while running_pid(state_dir) is not None or not _exited(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.5)
            break
        time.sleep(0.05)
    return True


def _exited(pid: int) -> bool:
    """Gone, or a zombie (its parent, the `kubetui` that started it, may have exited without reaping it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True
    except OSError:   # no /proc (macOS): the lock going is enough
        return True


def run_down(args: Any, state_dir: Path) -> int:
    stop_control_plane(state_dir)
    settings = ClusterSettings.load(state_dir)
    if settings is not None and settings.provider in ("docker", "local"):
        provider = make_provider(settings, state_dir)
        asyncio.run(provider.delete(purge=args.purge))
    elif settings is None:
        # No record of the cluster: still clean up Docker leftovers labelled with its name.
        from kubetui.providers.docker import DockerProvider, docker_available  # loads Docker's SDK
        if docker_available():
            name = getattr(args, "name", None) or state_dir.name
            asyncio.run(DockerProvider(ClusterConfig(name=name, state_dir=state_dir)).delete())
    if args.purge and state_dir.exists():
        shutil.rmtree(state_dir)
    name = settings.name if settings is not None else state_dir.name
    print(f"cluster {name!r} is down" + (" and its state deleted" if args.purge else ""))
    return 0


def cmd_logs(args: Any, state_dir: Path) -> int:
    """``kubetui logs control-plane [-f]``: the control-plane process's log."""
    path = state_dir / LOG_FILE
    if not path.exists():
        raise CLIError(f"no control-plane log at {path}: the cluster was never started in the background")
    with open(path, "rb") as f:
        sys.stdout.buffer.write(f.read())
        sys.stdout.flush()
        while getattr(args, "follow", False):
            chunk = f.read()
            if chunk:
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
            elif running_pid(state_dir) is None:
                break
            else:
                time.sleep(0.2)
    return 0


# -- the TUI ------------------------------------------------------------------------------------


def run_tui(args: Any, state_dir: Path, **app_options: Any) -> int:
    """``kubetui``: the TUI on the cluster's control plane, which is started first if none runs."""
    from kubetui.tui.backends import run_app

    settings = app_options.pop("settings", None)
    kubeconfig = getattr(args, "kubeconfig", None)
    if kubeconfig:
        # `--kubeconfig` (each `kubetui web` session): a kubetui cluster's own kubeconfig sits in its
        # state dir, and this UI counts among its UIs; any other cluster is only attached to.
        kubeconfig = Path(kubeconfig)
        state_dir = kubeconfig.resolve().parent
        if running_pid(state_dir) is None:
            return run_app(kubeconfig=kubeconfig, **app_options)
    else:
        if running_pid(state_dir) is None and settings is None:
            settings = settings_from_args(args, state_dir)
        kubeconfig = ensure_running(state_dir, settings, wait_for="serving",
                                    say=lambda line: print(line, file=sys.stderr, flush=True))
    with ui_registered(state_dir):
        rc = run_app(kubeconfig=kubeconfig, state_dir=state_dir, **app_options)
    print(after_last_ui(state_dir), file=sys.stderr)
    return rc


def after_last_ui(state_dir: Path) -> str:
    """When a UI closes: stop the cluster if the user chose so and no other UI is open; say what runs."""
    if running_pid(state_dir) is None:
        return f"kubetui: cluster {state_dir.name!r} is not running."
    others = open_uis(state_dir)
    if last_ui_choice(state_dir) == STOP and not others:
        stop_control_plane(state_dir)
        settings = ClusterSettings.load(state_dir)
        if settings is not None and settings.provider in ("docker", "local"):
            asyncio.run(make_provider(settings, state_dir).delete(purge=False))
        return status_lines(state_dir, stopped=True)
    text = status_lines(state_dir, stopped=False)
    if others:
        text += f" ({len(others)} other UI(s) still open.)"
    return text
