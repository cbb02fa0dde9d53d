"""Writes a volume's files so readers never see half of an update (upstream: ``pkg/volume/util/atomic_writer.go``).

ConfigMap, Secret, downwardAPI and projected volumes change while the pod
runs. The kubelet writes each version of the files into a fresh hidden
directory and switches one symlink, ``..data``, to it with a ``rename`` (atomic
on POSIX). What the container sees::

    config/                              (the volume, bind-mounted into the container)
      ..2024_05_01_12_00_00.123456789/   (this version's real files)
        app.properties
      ..data -> ..2024_05_01_12_00_00.123456789
      app.properties -> ..data/app.properties

A reader opening ``app.properties`` follows ``..data`` once, so it gets the
old file or the new one, never a mix. Because the links are relative, they
resolve inside the container too. A ``subPath`` mount of one key binds the
file the symlink points to *at mount time*: it never sees an update, as in
Kubernetes.
"""

from __future__ import annotations

import datetime
import logging
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DATA_DIR = "..data"
_DATA_TMP = "..data_tmp"


@dataclass(frozen=True)
class FileProjection:
    """One file of a volume: its bytes and permission bits (``defaultMode``/``items[].mode``)."""

    data: bytes
    mode: int = 0o644


class PayloadError(ValueError):
    """A file path that would escape the volume or clash with the writer's own names."""


def validate_path(path: str) -> None:
    """Upstream ``validatePath``: relative, no ``..`` element, not starting with ``..``.

    >>> validate_path("a/b.txt")
    >>> validate_path("../etc/passwd")
    Traceback (most recent call last):
    ...
    kubetui.kubelet.atomicwriter.PayloadError: invalid path "../etc/passwd": must not contain '..'
    """
    if not path:
        raise PayloadError("invalid path: must not be empty")
    if len(path) > 4096:
        raise PayloadError(f"invalid path {path[:40]!r}...: longer than 4096 characters")
    if os.path.isabs(path):
        raise PayloadError(f'invalid path "{path}": must be relative')
    if any(part == ".." for part in path.split("/")):
        raise PayloadError(f"invalid path \"{path}\": must not contain '..'")
    if path.startswith(".."):
        raise PayloadError(f"invalid path \"{path}\": must not start with '..'")


class AtomicWriter:
    """Keeps one volume directory equal to a payload, switching versions atomically."""

    def __init__(self, target_dir: str | os.PathLike[str], now=None) -> None:
        self.target = Path(target_dir)
        self._now = now or (lambda: datetime.datetime.now(datetime.timezone.utc))

    def current(self) -> dict[str, FileProjection] | None:
        """The payload the volume shows now (None before the first write)."""
        data = self.target / DATA_DIR
        if not data.is_symlink():
            return None
        root = self.target / os.readlink(data)
        out: dict[str, FileProjection] = {}
        for dirpath, _dirs, files in os.walk(root):
            for f in files:
                p = Path(dirpath) / f
                out[str(p.relative_to(root))] = FileProjection(p.read_bytes(), p.stat().st_mode & 0o7777)
        return out

    def write(self, payload: dict[str, FileProjection]) -> bool:
        """Make the volume show exactly ``payload``; False if it already did (nothing written)."""
        for path in payload:
            validate_path(path)
        self.target.mkdir(parents=True, exist_ok=True)
        if self.current() == payload:
            return False
        old = self.target / DATA_DIR
        old_version = os.readlink(old) if old.is_symlink() else None
        old_visible = self._visible_paths()
        # 1. this version's files, in a hidden directory of their own
        version = "..%s.%09d" % (self._now().strftime("%Y_%m_%d_%H_%M_%S"), secrets.randbelow(10 ** 9))
        vdir = self.target / version
        vdir.mkdir(mode=0o755)
        for path, f in payload.items():
            p = vdir / path
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(f.data)
            os.chmod(p, f.mode)
        # 2. ..data_tmp -> version, renamed over ..data: the one atomic switch
        tmp = self.target / _DATA_TMP
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(version, tmp)
        os.rename(tmp, old)
        # 3. the user-visible names: one relative link per top-level entry
        visible = {path.split("/", 1)[0] for path in payload}
        for name in visible:
            link = self.target / name
            if not link.is_symlink():
                os.symlink(f"{DATA_DIR}/{name}", link)
        # 4. what the new version no longer has, and the old version's files
        for name in old_visible - visible:
            (self.target / name).unlink(missing_ok=True)
        if old_version and old_version != version:
            shutil.rmtree(self.target / old_version, ignore_errors=True)
        return True

    def _visible_paths(self) -> set[str]:
        if not self.target.is_dir():
            return set()
        return {p.name for p in self.target.iterdir() if not p.name.startswith("..")}
