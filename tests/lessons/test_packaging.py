"""A normal (non-editable) install has the lessons (issue 12, item 12).

Builds an sdist of this checkout, a wheel from that sdist (so both carry the
top-level ``lessons/``), installs the wheel into a fresh venv outside the
checkout, and runs the installed ``kubetui``: ``lessons list`` shows the ten
lessons and ``lessons start meet-the-cluster`` starts one against a simulated
cluster brought up by the installed kubetui. The runtime dependencies come
from this test's own venv through a ``.pth`` line (no downloads); the
editable install of the checkout is not visible there, so ``import kubetui``
is the wheel's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The lessons the checkout ships, in order: the installed wheel must list exactly these.
LESSON_IDS = [p.name.split("-", 1)[1] for p in sorted((Path(__file__).resolve().parents[2] / "lessons").iterdir())
              if (p / "lesson.md").is_file()]

pytestmark = pytest.mark.slow


def sh(*cmd: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120) -> str:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"{cmd} -> {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    tmp = tmp_path_factory.mktemp("wheel")
    # the sdist through setuptools' PEP 517 hook, then pip builds the wheel from that sdist
    sdist = sh(sys.executable, "-c", f"from setuptools import build_meta as b; print(b.build_sdist({str(tmp)!r}))",
               cwd=ROOT).strip().splitlines()[-1]
    sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp / "dist", tmp / sdist, cwd=tmp)
    (wheel,) = (tmp / "dist").glob("kubetui-*.whl")
    venv = tmp / "venv"
    sh(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp)
    python = venv / "bin" / "python"
    sh(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "-q", wheel, cwd=tmp)
    site = Path(sh(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp).strip())
    (site / "zz_runtime_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBETUI_", "PYTHON"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(tmp / "home")
    where = sh(python, "-c", "import kubetui; print(kubetui.__file__)", cwd=tmp, env=env)
    assert where.startswith(str(site)), where  # the wheel's kubetui, not the checkout's
    return tmp, env


def test_installed_wheel_lists_and_starts_the_shipped_lessons(installed):
    tmp, env = installed
    kubetui = tmp / "venv" / "bin" / "kubetui"
    state = tmp / "state"
    out = sh(kubetui, "lessons", "list", "--state-dir", state, cwd=tmp, env=env)
    assert [line.split()[1] for line in out.splitlines()[1:] if line.strip()] == LESSON_IDS
    up = subprocess.Popen([str(kubetui), "up", "--headless", "--provider", "simulated", "--nodes", "3",
                           "--state-dir", str(state), "--api-port", "0"], cwd=tmp, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = up.stdout.readline()
            if not line or line.startswith("ready "):
                break
        assert up.poll() is None, up.stderr.read()[-2000:]
        out = sh(kubetui, "lessons", "start", "meet-the-cluster", "--state-dir", state, cwd=tmp, env=env)
        assert "step 1/5" in out and "kubetui lessons predict meet-the-cluster" in out
    finally:
        up.terminate()
        try:
            up.wait(timeout=30)
        except subprocess.TimeoutExpired:
            up.kill()
            up.wait()
