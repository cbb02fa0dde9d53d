"""The Docker-only drills' self-test runs in the background while the local drills' modules run.

Both self-tests mostly wait (each drill's 10 s "wrong mitigation" windows, the prober's healthy streaks:
``kubetui drill test`` uses ~15% of one core), and they share nothing: the Docker drills get a Docker cluster
of their own (its nodes have their own network namespaces), the local drills a local cluster (pods on the
host's loopback). So the Docker drills' run (cluster up, ``kubetui drill test``, down and purged) starts with
the package's first test, in a thread of the test process, and ``test_drills_on_docker.py`` (collected after
``test_drills_local.py``: pytest runs a folder's modules in name order) only waits for its outcome. The run's
assertions are the same as when it ran in its own module's turn. The Docker lessons' self-tests, which
tests/lessons reads, start here too (``tests/lesson_selftests.py``), for the same reason.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from kubetui.drills.format import load_all

DOCKER_ONLY = [d.id for d in load_all() if "docker" in d.requires]
#: the fixture a test requests to read the Docker drills' self-test (``subprocess.CompletedProcess``)
FIXTURE = "docker_drills_selftest"


class _DockerDrills:
    """One background run: start a 2-node Docker cluster, self-test the Docker-only drills on it, remove it."""

    def __init__(self, tmp) -> None:
        self.name = f"drills-{uuid.uuid4().hex[:6]}"
        self.state = tmp / self.name
        self.cancelled = threading.Event()
        self.procs: list[subprocess.Popen] = []

    def run(self) -> subprocess.CompletedProcess:
        from tests.drills.test_drills_local import drain
        from tests.lesson_selftests import snapshot_env
        from tests.nodes.conftest import force_cleanup, start_headless
        from tests.test_cluster import stop
        env = snapshot_env()   # every child of this thread gets it (see tests/lesson_selftests.py: vfork, environ)
        try:
            proc, _ = start_headless(self.state, "--provider", "docker", "--nodes", "2", "--name", self.name,
                                     "--api-port", "0", "--node-cpus", "1", "--node-memory", "1Gi", env=env)
            self.procs.append(proc)
            drain(proc)
            try:
                if self.cancelled.is_set():
                    raise RuntimeError("cancelled: the drills package ended before the run started")
                test = subprocess.Popen([sys.executable, "-m", "kubetui", "drill", "test", *DOCKER_ONLY,
                                         "--state-dir", str(self.state)],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
                self.procs.append(test)
                try:
                    out, err = test.communicate(timeout=900)
                except subprocess.TimeoutExpired:
                    test.kill()
                    out, err = test.communicate()
                return subprocess.CompletedProcess(test.args, test.returncode, out, err)
            finally:
                try:
                    stop(proc)
                    subprocess.run([sys.executable, "-m", "kubetui", "down", "--state-dir", str(self.state),
                                    "--purge"], capture_output=True, text=True, timeout=120, env=env)
                finally:
                    force_cleanup(self.name, env=env)
        finally:
            self.procs.clear()

    def cancel(self) -> None:
        """The package ended without reading the outcome (interrupted): stop what runs; ``run`` cleans up."""
        self.cancelled.set()
        for p in list(self.procs)[1:]:          # the drill test, not the control plane: run() stops that one
            if p.poll() is None:
                p.kill()


@pytest.fixture(scope="package", autouse=True)
def _docker_lessons_in_background(request) -> None:
    """The Docker lessons' self-tests (read by tests/lessons, if selected) start now too: the drills mostly
    wait, so their clusters run beside the drills' rather than on the lessons package's clock."""
    from tests.lesson_selftests import start
    start(request, "docker")


@pytest.fixture(scope="package", autouse=True)
def _docker_drills_in_background(request, tmp_path_factory):
    """Starts the Docker drills' run with the package's first test when a selected test reads it."""
    if not any(FIXTURE in getattr(item, "fixturenames", ()) for item in request.session.items):
        yield None
        return
    from tests.conftest import docker_available
    if not docker_available()[0]:
        yield None                  # the Docker test itself skips (or fails in CI) through the Docker gate
        return
    job = _DockerDrills(tmp_path_factory.mktemp("drillsdocker"))
    pool = ThreadPoolExecutor(1, thread_name_prefix="docker-drills")
    future = pool.submit(job.run)
    try:
        yield future
    finally:
        if not future.done():
            job.cancel()
        pool.shutdown(wait=True)    # run() removes its cluster whatever happened


@pytest.fixture
def docker_drills_selftest(_docker_drills_in_background: Future | None) -> subprocess.CompletedProcess:
    """``kubetui drill test`` of the Docker-only drills on their own fresh Docker cluster (its outcome)."""
    if _docker_drills_in_background is None:
        pytest.fail("the Docker drills' background run did not start (no Docker engine answered)")
    return _docker_drills_in_background.result(timeout=1200)
