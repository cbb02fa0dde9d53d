"""Running the real kubectl from the TUI's command bar (as k9s shells out to kubectl).

A learner types ``kubectl get pods -o wide`` and sees exactly what kubectl
prints, because it *is* kubectl, pointed at this cluster's kubeconfig.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path


def find_kubectl(explicit: str | None = None) -> str:
    """The kubectl binary: explicit, next to this Python (the venv's), or on PATH."""
    if explicit:
        return explicit
    beside = Path(sys.executable).with_name("kubectl")
    if beside.exists():
        return str(beside)
    return shutil.which("kubectl") or "kubectl"


def kubectl_argv(args: list[str], kubeconfig: Path | None, kubectl: str | None = None) -> list[str]:
    argv = [find_kubectl(kubectl)]
    if kubeconfig is not None:
        argv += ["--kubeconfig", str(kubeconfig)]
    return argv + args


def parse_command(line: str) -> list[str]:
    """Split a command-bar line into kubectl's arguments.

    >>> parse_command("kubectl get pods -n kube-system")
    ['get', 'pods', '-n', 'kube-system']
    >>> parse_command("get po")
    ['get', 'po']
    """
    words = shlex.split(line.strip())
    if words and words[0] in ("kubectl", "k"):
        words = words[1:]
    return words


@dataclass
class KubectlResult:
    argv: list[str]
    returncode: int
    output: str


async def run_kubectl(args: list[str], kubeconfig: Path | None, *, kubectl: str | None = None,
                      timeout: float = 30.0) -> KubectlResult:
    """Run kubectl to completion (bounded by ``timeout``) and capture stdout+stderr."""
    argv = kubectl_argv(args, kubeconfig, kubectl)
    env = dict(os.environ)
    # Editors and pagers would wait on a terminal the pane does not have.
    env.pop("KUBECTL_EXTERNAL_DIFF", None)
    env["KUBECTL_INTERACTIVE_DELETE"] = "false"
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, env=env)
    except FileNotFoundError:
        return KubectlResult(argv, 127, f"kubectl not found: {argv[0]}")
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        out, _ = await proc.communicate()
        return KubectlResult(argv, -9, out.decode("utf-8", "replace") + f"\n(timed out after {timeout:g}s)")
    return KubectlResult(argv, proc.returncode or 0, out.decode("utf-8", "replace"))
