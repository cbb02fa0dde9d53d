"""kubetui/hello's /healthz: 500 while the marker file exists (the probe-break fault), 500 forever when broken."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@pytest.fixture
def hello():
    """``start(**env)`` runs ``python -m kubetui.workloads.hello`` as a pod would; returns its base URL."""
    procs: list[subprocess.Popen] = []

    def start(**env: str) -> str:
        port = free_port()
        full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": PACKAGE_PARENT,
                "KUBETUI_POD_IP": "127.0.0.1", "PORT": str(port), **env}
        proc = subprocess.Popen([sys.executable, "-m", "kubetui.workloads.hello"], env=full,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return url
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"hello exited with {proc.returncode}")
                time.sleep(0.05)
        pytest.fail("hello never listened")

    yield start
    for p in procs:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def test_healthz_fails_while_the_default_per_pod_marker_exists(hello):
    pod = f"hello-test-{uuid.uuid4().hex[:8]}"
    marker = Path(f"/tmp/kubetui-unhealthy-{pod}")
    neighbour = Path(f"/tmp/kubetui-unhealthy-{pod}-other")
    url = hello(KUBETUI_POD_NAME=pod)
    try:
        assert get(url + "/healthz") == (200, "ok\n")
        neighbour.touch()               # another pod's marker on the same machine: not ours
        assert get(url + "/healthz")[0] == 200
        marker.touch()
        code, body = get(url + "/healthz")
        assert code == 500 and str(marker) in body
        assert get(url + "/")[0] == 200, "only the probe endpoint fails"
        marker.unlink()
        assert get(url + "/healthz") == (200, "ok\n")
    finally:
        marker.unlink(missing_ok=True)
        neighbour.unlink(missing_ok=True)


def test_healthz_marker_path_from_env_and_broken_stays_broken(hello, tmp_path):
    marker = tmp_path / "unhealthy"
    url = hello(KUBETUI_POD_NAME="a", KUBETUI_UNHEALTHY_FILE=str(marker))
    assert get(url + "/healthz")[0] == 200
    marker.write_text("")
    assert get(url + "/healthz")[0] == 500
    marker.unlink()
    assert get(url + "/healthz")[0] == 200

    broken = hello(KUBETUI_POD_NAME="b", KUBETUI_VERSION="broken", KUBETUI_UNHEALTHY_FILE=str(marker))
    code, body = get(broken + "/healthz")
    assert code == 500 and "broken" in body
    assert "version=broken" in get(broken + "/")[1]
