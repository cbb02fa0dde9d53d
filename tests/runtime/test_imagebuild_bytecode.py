"""The built-in images carry opt-2 bytecode for what runs there with ``python3 -OO`` (issue 18)."""

from __future__ import annotations

import compileall
import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from kubetui.runtime.imagebuild import app_layer, optimized_bytecode

PKG = Path(__file__).resolve().parents[2] / "kubetui"


def test_programs_run_with_OO_get_the_opt2_bytecode_of_what_they_import(tmp_path: Path):
    pkg = tmp_path / "kubetui"
    (pkg / "dns").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "dns" / "__init__.py").write_text("")
    (pkg / "dns" / "__main__.py").write_text('"""doc"""\nfrom kubetui.dns import used\n')
    (pkg / "dns" / "used.py").write_text("X = 1\n")
    (pkg / "dns" / "unused.py").write_text("Y = 2\n")
    optimized_bytecode(pkg)     # OPTIMIZED_IMPORTS: the DNS server
    tag = sys.implementation.cache_tag
    made = sorted(p.name for p in (pkg / "dns" / "__pycache__").iterdir())
    assert made == [f"__init__.{tag}.opt-2.pyc", f"__main__.{tag}.opt-2.pyc", f"used.{tag}.opt-2.pyc"]


def test_the_app_layers_bytecode_is_used_not_recompiled_at_every_start(tmp_path: Path):
    """A ``.pyc`` is valid only while its source has the mtime it recorded: the app layer used to
    write every file with mtime 0, so each pod compiled kubetui's modules at start."""
    pkg = tmp_path / "src" / "kubetui"
    shutil.copytree(PKG / "dns", pkg / "dns", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PKG / "__init__.py", pkg / "__init__.py")
    compileall.compile_dir(str(pkg), quiet=1)
    root = tmp_path / "root"
    tarfile.open(fileobj=io.BytesIO(app_layer(pkg))).extractall(root)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(root / "opt" / "kubetui"), PYTHONDONTWRITEBYTECODE="1")
    r = subprocess.run([sys.executable, "-S", "-v", "-c", "import kubetui.dns.wire"], cwd=root, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    wire = [line for line in r.stderr.splitlines() if "kubetui/dns/wire" in line]
    assert any(".pyc matches " in line for line in wire), wire
    assert not any("stale" in line for line in r.stderr.splitlines() if "kubetui" in line), wire
