"""A cluster whose control plane runs in its own process, as `kubetui` and `kubetui up` start it."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path
from typing import Iterator


def kubetui(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """Run the real `kubetui` command line in a child process."""
    return subprocess.run([sys.executable, "-m", "kubetui", *args], capture_output=True, text=True, timeout=timeout)


@contextlib.contextmanager
def running_cluster(state: Path, *args: str, nodes: int = 2) -> Iterator[Path]:
    """`kubetui up` (background control plane, simulated nodes); yields the kubeconfig; `kubetui down` after."""
    r = kubetui("up", "--state-dir", str(state), "--provider", "simulated", "--nodes", str(nodes),
                "--api-port", "0", *args)
    assert r.returncode == 0, r.stderr[-3000:]
    try:
        yield state / "kubeconfig"
    finally:
        kubetui("down", "--state-dir", str(state))
