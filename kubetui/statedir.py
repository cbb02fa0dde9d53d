"""A cluster's state directory: what lives where, and whether its control plane runs.

Like kind's per-cluster files and kubeadm's ``/etc/kubernetes``, everything a
cluster is lives in one directory (``--state-dir``, else by ``--name``)::

    cluster.json          what `kubetui up` was asked for (kubetui.cluster.settings)
    kubeconfig            how kubectl, the TUI and the web UI reach the API server
    pki/                  the cluster CA, serving certificate, tokens
    store/                the store (etcd's data dir)
    controlplane.pid      the pid of the control-plane process serving this directory

A leaf: it imports nothing of kubetui, so the TUI, the web UI and every
command can find a running cluster without loading the control plane.
"""

from __future__ import annotations

import os
from pathlib import Path

SETTINGS_FILE = "cluster.json"
PID_FILE = "controlplane.pid"
KUBECONFIG_FILE = "kubeconfig"


def running_pid(state_dir: Path) -> int | None:
    """The pid of a live control plane serving this state dir, if any."""
    p = state_dir / PID_FILE
    try:
        pid = int(p.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid
