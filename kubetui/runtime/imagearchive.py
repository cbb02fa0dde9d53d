"""Reading image archives and unpacking their layers safely (upstream: containerd's ``archive`` and ``images/archive`` packages).

An image arrives as a ``docker save`` tar (``manifest.json``: each image's
config and layer tars) or an OCI image layout (``index.json`` -> manifests ->
config and layer blobs, by digest). :class:`_ArchiveReader` finds the parts
and checks every digest it can; :func:`unpack_layer` writes one layer into an
empty directory and never outside it:

- a name that is absolute or climbs out with ``..`` is refused;
- no path is written through a symlink (a layer's own ``lib -> /`` cannot
  redirect the next entry onto the node), and symlinks are created as
  written, never followed: an absolute target resolves inside the
  container's root after ``pivot_root``;
- a hardlink must point at an earlier entry of the same layer;
- device nodes are skipped (each container gets its own minimal ``/dev``);
- whiteouts (``.wh.NAME``, ``.wh..wh..opq``) become what overlayfs reads as
  whiteouts: a 0/0 character device, the ``trusted.overlay.opaque`` xattr.

Standard library only: this runs inside the node.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import posixpath
import re
import shutil
import stat
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:  # imported when an image is read, not when the node agent starts (its idle memory)
    import tarfile

log = logging.getLogger(__name__)

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"


class ImageStoreError(Exception):
    """An image could not be imported, found or removed; the message is one line for the user."""


class ImageInUse(ImageStoreError):
    pass


class _HashingReader(io.RawIOBase):
    """Reads through ``f``, hashing every byte read (and counting them)."""

    def __init__(self, f: IO[bytes]) -> None:
        self.f, self.h, self.n = f, hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self.f.read(len(b))
        n = len(data)
        b[:n] = data
        self.h.update(data)
        self.n += n
        return n

    def drain(self) -> None:
        while self.read(1 << 20):
            pass



def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


def zlib_error():
    import zlib
    return zlib.error


class _ArchiveReader:
    """The parts of one archive: its manifests, configs and layer tars."""

    def __init__(self, tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], path: str) -> None:
        self.tar, self.members, self.path = tar, members, path

    def read(self, name: str, limit: int = 64 << 20) -> bytes:
        import tarfile
        m = self.members.get(posixpath.normpath(name.lstrip("/")))
        if m is None or not m.isfile():
            raise ImageStoreError(f"{self.path}: {name} is missing from the archive")
        if m.size > limit:
            raise ImageStoreError(f"{self.path}: {name} is too large ({m.size} bytes)")
        try:
            return self.tar.extractfile(m).read()
        except (tarfile.TarError, EOFError, OSError, zlib_error()) as e:
            raise ImageStoreError(f"{self.path}: archive is truncated or corrupt ({name}: {e})") from None

    def json(self, name: str):
        try:
            return json.loads(self.read(name))
        except ValueError as e:
            raise ImageStoreError(f"{self.path}: {name} is not valid JSON: {e}") from None

    def docker_entries(self) -> list[dict]:
        """``docker save``'s manifest.json: Config, RepoTags, Layers (paths in the tar)."""
        manifest = self.json("manifest.json")
        if not isinstance(manifest, list) or not manifest:
            raise ImageStoreError(f"{self.path}: manifest.json lists no image")
        out = []
        for m in manifest:
            try:
                cname, layers = m["Config"], list(m["Layers"])
            except (KeyError, TypeError):
                raise ImageStoreError(f"{self.path}: manifest.json entry without Config/Layers") from None
            hexname = re.search(r"([0-9a-f]{64})(?:\.json)?$", cname)
            out.append({"config": self.read(cname), "config_name": cname,
                        "config_digest": "sha256:" + hexname.group(1) if hexname else None,
                        "refs": list(m.get("RepoTags") or []),
                        "layers": [(l, _blob_digest(l)) for l in layers], "manifest_digest": None})
        return out

    def oci_entries(self, arch: str) -> list[dict]:
        """An OCI layout: index.json -> (image index ->) manifest -> config + layer blobs."""
        index = self.json("index.json")
        out = []
        for desc in index.get("manifests") or []:
            manifest, digest = self._manifest_for(desc, arch)
            ann = desc.get("annotations") or {}
            name = ann.get("io.containerd.image.name") or ""
            short = ann.get("org.opencontainers.image.ref.name") or ""
            refs = [name] if name else ([short] if short and not re.fullmatch(r"[\w][\w.-]*", short) else [])
            cdesc = manifest.get("config") or {}
            out.append({"config": self.blob(cdesc.get("digest", "")), "config_name": cdesc.get("digest"),
                        "config_digest": cdesc.get("digest"), "refs": refs,
                        "layers": [("blobs/" + l["digest"].replace(":", "/"), l["digest"])
                                   for l in manifest.get("layers") or []],
                        "manifest_digest": digest})
        if not out:
            raise ImageStoreError(f"{self.path}: index.json lists no image")
        return out

    def blob(self, digest: str) -> bytes:
        if not _DIGEST.match(digest or ""):
            raise ImageStoreError(f"{self.path}: bad digest {digest!r}")
        data = self.read("blobs/" + digest.replace(":", "/"))
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise ImageStoreError(f"{self.path}: blob {digest} does not match its digest (corrupt archive)")
        return data

    def _manifest_for(self, desc: dict, arch: str) -> tuple[dict, str]:
        media = desc.get("mediaType", "")
        doc = json.loads(self.blob(desc.get("digest", "")))
        if "index" in media or "manifest.list" in media or doc.get("manifests"):
            subs = doc.get("manifests") or []
            pick = next((d for d in subs if (d.get("platform") or {}).get("architecture") == arch
                         and (d.get("platform") or {}).get("os", "linux") == "linux"), None)
            pick = pick or next((d for d in subs if self._has_blob(d.get("digest", ""))), None)
            if pick is None:
                raise ImageStoreError(f"{self.path}: the image index has no manifest in the archive")
            return self._manifest_for(pick, arch)
        return doc, desc.get("digest", "")

    def _has_blob(self, digest: str) -> bool:
        return ("blobs/" + digest.replace(":", "/")) in self.members

    def unpack_layer(self, name: str, blob_digest: str | None, dest: Path) -> tuple[str, int]:
        """Unpack one layer tar into ``dest``; returns (diff_id, bytes unpacked)."""
        import gzip
        import tarfile
        m = self.members.get(posixpath.normpath(name.lstrip("/")))
        if m is None or not m.isfile():
            raise ImageStoreError(f"{self.path}: layer {name} is missing from the archive")
        raw = _HashingReader(self.tar.extractfile(m))
        buffered = io.BufferedReader(raw, 1 << 16)
        head = buffered.peek(4)[:4]
        if head[:2] == b"\x1f\x8b":
            stream: IO[bytes] = gzip.GzipFile(fileobj=buffered)
        elif head[:4] == b"\x28\xb5\x2f\xfd":
            raise ImageStoreError(f"{self.path}: layer {name} is zstd-compressed, which kubetui cannot unpack "
                                  f"(export it with gzip or uncompressed layers)")
        else:
            stream = buffered
        plain = _HashingReader(stream)
        try:
            size = unpack_layer(plain, dest, label=f"{self.path}: layer {name}")
            plain.drain()
            while buffered.read(1 << 20):
                pass
        except (tarfile.TarError, EOFError, zlib_error(), gzip.BadGzipFile) as e:
            raise ImageStoreError(f"{self.path}: layer {name} is truncated or corrupt: {e}") from None
        if blob_digest and "sha256:" + raw.h.hexdigest() != blob_digest:
            raise ImageStoreError(f"{self.path}: layer {name} does not match its digest {blob_digest} "
                                  f"(corrupt archive)")
        return "sha256:" + plain.h.hexdigest(), size


def _blob_digest(path: str) -> str | None:
    """Newer ``docker save`` names layers ``blobs/sha256/<digest>``: a digest to check."""
    m = re.fullmatch(r"blobs/sha256/([0-9a-f]{64})", posixpath.normpath(path))
    return "sha256:" + m.group(1) if m else None


# -- unpacking one layer safely -----------------------------------------------------------
def safe_member_path(name: str, label: str = "layer") -> str:
    """A tar member's name as a path relative to the layer directory, or ``ImageStoreError``.

    >>> safe_member_path("./usr/bin/env")
    'usr/bin/env'

    ``../etc/passwd``, ``a/../../x`` and ``/etc/passwd`` raise ``ImageStoreError``.
    """
    if name.startswith("/"):
        raise ImageStoreError(f'{label}: "{name}" is an absolute path')
    norm = posixpath.normpath(name)
    if norm == ".." or norm.startswith("../") or "\0" in name:
        raise ImageStoreError(f'{label}: "{name}" leaves the layer\'s directory')
    return "" if norm == "." else norm


def _check_parents(root: Path, rel: str, label: str) -> None:
    """No component of ``rel``'s parent may be a symlink: extraction never follows one."""
    cur = root
    for part in rel.split("/")[:-1]:
        cur = cur / part
        if cur.is_symlink():
            raise ImageStoreError(f'{label}: "{rel}" goes through the symlink "{cur.relative_to(root)}"')


def _make_parents(root: Path, rel: str) -> None:
    cur = root
    for part in rel.split("/")[:-1]:
        cur = cur / part
        if not cur.exists():
            cur.mkdir(mode=0o755)


def _clear(p: Path) -> None:
    """A later entry replaces an earlier one of the same name (tar semantics)."""
    if p.is_symlink() or (p.exists() and not p.is_dir()):
        p.unlink()


def unpack_layer(stream: IO[bytes], dest: Path, label: str = "layer") -> int:
    """Unpack a layer tar read from ``stream`` into the empty directory ``dest``. Returns the
    bytes written. Never writes outside ``dest``; whiteouts become overlayfs whiteouts."""
    import tarfile
    as_root = os.geteuid() == 0
    total = 0
    dirs: list[tuple[Path, tarfile.TarInfo]] = []
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        for m in tar:
            rel = safe_member_path(m.name, label)
            if not rel:
                dirs.append((dest, m))
                continue
            _check_parents(dest, rel, label)
            _make_parents(dest, rel)
            target = dest / rel
            base = posixpath.basename(rel)
            parent = target.parent
            if base == OPAQUE_MARKER:
                # the directory hides everything below it in lower layers
                if not parent.exists():
                    parent.mkdir(mode=0o755)
                _set_opaque(parent, label)
                continue
            if base.startswith(WHITEOUT_PREFIX):
                name = base[len(WHITEOUT_PREFIX):]
                if name in ("", ".", ".."):
                    raise ImageStoreError(f'{label}: whiteout "{rel}" names no file')
                hidden = parent / name
                if hidden.is_dir() and not hidden.is_symlink():
                    _rmtree(hidden)
                else:
                    _clear(hidden)
                _mknod_whiteout(hidden, label)
                continue
            if m.isdir():
                if target.is_symlink() or (target.exists() and not target.is_dir()):
                    target.unlink()
                if not target.exists():
                    target.mkdir(mode=0o700)
                dirs.append((target, m))
                continue
            if target.is_dir() and not target.is_symlink():
                _rmtree(target)
            else:
                _clear(target)
            if m.isreg():
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                src = tar.extractfile(m)
                with os.fdopen(fd, "wb") as out:
                    left = m.size
                    while left > 0:
                        chunk = src.read(min(left, 1 << 20))
                        if not chunk:
                            raise ImageStoreError(f"{label}: truncated in {rel}")
                        out.write(chunk)
                        left -= len(chunk)
                total += m.size
            elif m.issym():
                # Kept as written, absolute targets too: they resolve inside the container's root
                # after pivot_root. Extraction never follows one (_check_parents).
                os.symlink(m.linkname, target)
            elif m.islnk():
                lrel = safe_member_path(m.linkname, label)
                _check_parents(dest, lrel, label)
                src_path = dest / lrel
                if not lrel:
                    raise ImageStoreError(f'{label}: hardlink "{rel}" has no target')
                if not (src_path.exists() or src_path.is_symlink()):
                    raise ImageStoreError(f'{label}: hardlink "{rel}" -> "{m.linkname}": target not in this layer')
                os.link(src_path, target, follow_symlinks=False)
                continue                                   # shares the target's mode and owner
            elif m.isfifo():
                os.mkfifo(target, 0o600)
            elif m.ischr() or m.isblk():
                log.warning("%s: skipping device node %s (containers get their own /dev)", label, rel)
                continue
            else:
                log.warning("%s: skipping %s of unknown type %r", label, rel, m.type)
                continue
            _apply_meta(target, m, as_root)
        # directories last: a read-only directory's mode must not stop its children being written
        for d, m in reversed(dirs):
            _apply_meta(d, m, as_root)
    return total


def _apply_meta(p: Path, m: tarfile.TarInfo, as_root: bool) -> None:
    if as_root:
        os.lchown(p, m.uid, m.gid)
    if not m.issym():
        os.chmod(p, m.mode & 0o7777)
    try:
        os.utime(p, (m.mtime, m.mtime), follow_symlinks=False)
    except (OSError, OverflowError, ValueError):
        pass
    for k, v in (m.pax_headers or {}).items():
        if k == "SCHILY.xattr.security.capability" and as_root:   # e.g. ping's cap_net_raw
            try:
                os.setxattr(p, "security.capability", v.encode("latin-1"), follow_symlinks=False)
            except OSError:
                pass


def _mknod_whiteout(p: Path, label: str) -> None:
    """overlayfs's whiteout: a character device 0/0 hides the name in the layers below."""
    try:
        os.mknod(p, 0o600 | stat.S_IFCHR, os.makedev(0, 0))
    except PermissionError as e:
        raise ImageStoreError(f"{label}: cannot make the whiteout for {p.name} (needs CAP_MKNOD): {e}") from None


def _set_opaque(d: Path, label: str) -> None:
    try:
        os.setxattr(d, "trusted.overlay.opaque", b"y")
    except OSError as e:
        raise ImageStoreError(f"{label}: cannot mark {d.name} opaque (needs CAP_SYS_ADMIN): {e}") from None


def _rmtree(p: Path) -> None:
    shutil.rmtree(p, ignore_errors=True)


def is_whiteout(p: str | os.PathLike[str]) -> bool:
    st = os.lstat(p)
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


