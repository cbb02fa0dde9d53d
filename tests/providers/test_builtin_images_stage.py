"""The node image's build stage for the built-in images copies every module it runs."""

from __future__ import annotations

import ast
from pathlib import Path

import kubetui
from kubetui.providers.docker import image

PKG = Path(kubetui.__file__).parent


def _kubetui_imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kubetui."):
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("kubetui.")}
    return out


def _module_file(name: str) -> Path | None:
    rel = Path(*name.split(".")[1:])
    for p in (PKG / rel.with_suffix(".py"), PKG / rel / "__init__.py"):
        if p.is_file():
            return p
    return None


def test_the_images_stage_copies_what_imagebuild_imports():
    copied = {PKG / f for f in image.IMAGES_STAGE_FILES}

    def is_copied(p: Path) -> bool:
        return any(p == c or c in p.parents for c in copied)
    todo, seen, missing = [PKG / "runtime" / "imagebuild.py"], set(), []
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        if not is_copied(f):
            missing.append(str(f.relative_to(PKG)))
        for name in _kubetui_imports(f):
            p = _module_file(name)
            if p is not None:
                todo.append(p)
    assert missing == []
    assert "COPY --from=images /var/lib/kubetui/images /var/lib/kubetui/images" in image.dockerfile("base")
