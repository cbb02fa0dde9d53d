"""The built-in images carry opt-2 bytecode for what runs there with ``python3 -OO`` (issue 18)."""

from __future__ import annotations

import sys
from pathlib import Path

from kubetui.runtime.imagebuild import optimized_bytecode


def test_programs_run_with_OO_get_the_opt2_bytecode_of_what_they_import(tmp_path: Path):
    pkg = tmp_path / "kubetui"
    (pkg / "dns").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "dns" / "__init__.py").write_text("")
    (pkg / "dns" / "__main__.py").write_text('"""doc"""\nfrom kubetui.dns import used\n')
    (pkg / "dns" / "used.py").write_text("X = 1\n")
    (pkg / "dns" / "unused.py").write_text("Y = 2\n")
    optimized_bytecode(pkg)     # OPTIMIZED_PROGRAMS: the DNS server
    tag = sys.implementation.cache_tag
    made = sorted(p.name for p in (pkg / "dns" / "__pycache__").iterdir())
    assert made == [f"__init__.{tag}.opt-2.pyc", f"__main__.{tag}.opt-2.pyc", f"used.{tag}.opt-2.pyc"]
