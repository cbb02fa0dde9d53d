"""A cluster's state directory: what lives where, and whether its control plane runs.

Like kind's per-cluster files and kubeadm's ``/etc/kubernetes``, everything a
cluster is lives in one directory (``--state-dir``, else by ``--name``)::

    cluster.json              what `kubetui up` was asked for (kubetui.cluster.settings)
    kubeconfig                how kubectl, the TUI and the web UI reach the API server
    pki/, store/              the cluster CA and tokens; the store (etcd's data dir)
    controlplane.lock         held (flock) by the control-plane process for its whole life
    controlplane.pid          that process's pid
    controlplane.json         where it serves and how far it got: {"pid", "server", "phase", ...}
    controlplane.progress     its start-up phases, one JSON line each (the TUI's start-up screen)
    control-plane.log         its log (`kubetui logs control-plane`)
    ui.json                   the user's answer to "stop the cluster when its last UI closes?"
    ui/<pid>                  one file per open TUI or web server

The lock, not the pid file, says whether a control plane runs: a process
killed with SIGKILL leaves its pid file behind, but the kernel drops its lock.

A leaf: it imports nothing of kubetui, so the TUI, the web UI and every
command find a running cluster without loading the control plane.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path
from typing import Any, Iterator

SETTINGS_FILE = "cluster.json"
KUBECONFIG_FILE = "kubeconfig"
LOCK_FILE = "controlplane.lock"
PID_FILE = "controlplane.pid"
ENDPOINT_FILE = "controlplane.json"
PROGRESS_FILE = "controlplane.progress"
LOG_FILE = "control-plane.log"
PREFS_FILE = "ui.json"
UI_DIR = "ui"

#: ui.json's ``onLastUIQuit``: keep the cluster running, or stop it (control plane and nodes)
KEEP, STOP = "keep", "stop"


def lock_held(state_dir: Path) -> bool:
    """Whether some process holds the control-plane lock of this state dir."""
    try:
        fd = os.open(state_dir / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the shared lock we may have taken
    return False


def running_pid(state_dir: Path) -> int | None:
    """The pid of the live control plane serving this state dir, if any."""
    if not lock_held(state_dir):
        return None
    try:
        return int((state_dir / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


def endpoint(state_dir: Path) -> dict[str, Any] | None:
    """What the running control plane says about itself (``controlplane.json``), or None if none runs."""
    if running_pid(state_dir) is None:
        return None
    try:
        return json.loads((state_dir / ENDPOINT_FILE).read_text())
    except (OSError, ValueError):
        return {}


def write_json(path: Path, doc: dict[str, Any]) -> None:
    """Replace ``path`` atomically (readers never see half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    os.replace(tmp, path)


def read_progress(state_dir: Path, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Start-up phases written since byte ``offset``, and the offset to read from next."""
    try:
        with open(state_dir / PROGRESS_FILE, "rb") as f:
            f.seek(offset)
            data = f.read()
    except OSError:
        return [], offset
    end = data.rfind(b"\n") + 1       # only whole lines
    phases = []
    for line in data[:end].splitlines():
        with contextlib.suppress(ValueError):
            phases.append(json.loads(line))
    return phases, offset + end


# -- open UIs and what to do when the last one closes -----------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def ui_registered(state_dir: Path, pid: int | None = None) -> Iterator[None]:
    """Count this process among the cluster's open UIs while the block runs."""
    d = state_dir / UI_DIR
    d.mkdir(parents=True, exist_ok=True)
    me = d / str(pid or os.getpid())
    me.touch()
    try:
        yield
    finally:
        me.unlink(missing_ok=True)


def open_uis(state_dir: Path, *, besides: int | None = None) -> list[int]:
    """Pids of the UIs open on this cluster now (stale entries of dead processes are dropped)."""
    found = []
    for p in (state_dir / UI_DIR).glob("*") if (state_dir / UI_DIR).is_dir() else []:
        try:
            pid = int(p.name)
        except ValueError:
            continue
        if pid == besides:
            continue
        if _alive(pid):
            found.append(pid)
        else:
            p.unlink(missing_ok=True)
    return sorted(found)


def last_ui_choice(state_dir: Path) -> str | None:
    """``keep``, ``stop``, or None when the user was never asked."""
    try:
        choice = json.loads((state_dir / PREFS_FILE).read_text()).get("onLastUIQuit")
    except (OSError, ValueError, AttributeError):
        return None
    return choice if choice in (KEEP, STOP) else None


def remember_last_ui_choice(state_dir: Path, choice: str) -> None:
    if choice not in (KEEP, STOP):
        raise ValueError(f"onLastUIQuit must be {KEEP!r} or {STOP!r}, not {choice!r}")
    state_dir.mkdir(parents=True, exist_ok=True)
    write_json(state_dir / PREFS_FILE, {"onLastUIQuit": choice})
