"""A node's image store (upstream: containerd's content store + snapshotter, ``/var/lib/containerd``).

A real node keeps every image it pulled as content-addressed blobs and
unpacks each layer once into a snapshot directory that every container of
every image using that layer shares; a container's root filesystem is an
overlay of those directories with a writable directory of its own on top.
kubetui's store does the same on the node's kubelet volume
(``/var/lib/kubelet/images``: ext4 under Docker, removed with the node), laid
out as::

    blobs/sha256/<diff_id>/        one unpacked layer (named by the digest of its
                                   uncompressed tar: the config's rootfs.diff_ids)
    blobs/sha256/<diff_id>.json    {"size": bytes unpacked}
    configs/sha256/<id>.json       an image's config, byte for byte (id = its digest,
                                   what ``docker images`` calls IMAGE ID)
    refs.json                      {"docker.io/library/nginx:latest": "sha256:<id>", ...}
    containers/<id>/               each container's upper and work dirs (``runtime.rootfs``)
    mountpoints/<key>/             the mount points an image lacks, one layer per image and set of
                                   mounts (``imagerun.mountpoint_layer``, Docker's "init layer")

Images come in (read and unpacked by :mod:`~kubetui.runtime.imagearchive`) as ``docker save`` archives (``manifest.json``) or OCI image
layouts (``oci-layout``/``index.json``), through :meth:`ImageStore.import_archive`
or ``python3 -m kubetui.runtime.imagestore import FILE`` (what ``kubetui image
load`` runs inside each node). Every layer is unpacked into a temporary
directory, its digest checked against the config, and only then renamed into
place: an archive that is corrupt, truncated or that tries to write outside
its layer (``../``, an absolute name, a path through a symlink, a hardlink
out) leaves nothing behind. Whiteouts (``.wh.NAME``, ``.wh..wh..opq``) become
overlayfs whiteouts (a 0/0 character device, the ``trusted.overlay.opaque``
xattr) so the layers stack as they do under containerd; device nodes are
skipped (the runtime gives each container its own minimal ``/dev``).

The images built into kubetui's node image sit in a second, read-only store
baked into the image (``/var/lib/kubetui/images``, :data:`BUILTIN_ROOT`):
``ImageStore(root, base=ImageStore(BUILTIN_ROOT))`` sees both.

Standard library only: this module runs inside the node.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import hashlib
import json
import logging
import os
import platform
import posixpath
import re
import secrets
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from kubetui.runtime.imagearchive import (  # noqa: F401  (re-exported: the errors and the unpacking)
    OPAQUE_MARKER, WHITEOUT_PREFIX, ImageInUse, ImageStoreError, _ArchiveReader, _one_line, _rmtree,
    is_whiteout, safe_member_path, unpack_layer, zlib_error,
)

from kubetui.runtime.imageref import DEFAULT_REGISTRY, _DIGEST, familiar, normalize  # noqa: F401 (re-exported)

log = logging.getLogger(__name__)

#: where a Docker node keeps the images loaded into it (on the kubelet's volume)
NODE_ROOT = "/var/lib/kubelet/images"
#: the images baked into the node image (read-only, on the node container's own filesystem)
BUILTIN_ROOT = "/var/lib/kubetui/images"

_HEX = re.compile(r"^[0-9a-f]{64}$")



def node_architecture() -> str:
    """The node's CPU architecture in Go's (and an image config's) spelling."""
    m = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386",
            "ppc64le": "ppc64le", "s390x": "s390x"}.get(m, m)


def _stat_key(path: Path) -> tuple | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _copy(img: "Image") -> "Image":
    """A caller's own copy of a cached image (its lists too: ``list()`` trims a base image's refs)."""
    c = copy.copy(img)
    c.refs, c.layers, c.layer_dirs, c.repo_digests = list(img.refs), list(img.layers), list(img.layer_dirs), \
        list(img.repo_digests)
    return c


# -- images -------------------------------------------------------------------------------
@dataclass
class Image:
    """One image in the store: its config (OCI image config) and where its layers are."""

    id: str                                    # sha256:<digest of the config>
    refs: list[str]                            # normalised names pointing at it
    layers: list[str]                          # diff_ids, lowest first
    config: dict                               # the whole image config JSON
    size: int = 0                              # bytes unpacked, all layers
    layer_dirs: list[str] = field(default_factory=list)   # unpacked layers, lowest first
    builtin: bool = False                      # baked into the node image
    repo_digests: list[str] = field(default_factory=list)

    @property
    def repo_tags(self) -> list[str]:
        """The CRI ``Image.repo_tags`` (normalised names)."""
        return self.refs

    @property
    def pinned(self) -> bool:
        """The CRI ``Image.pinned``: built-in images are never garbage-collected."""
        return self.builtin

    @property
    def architecture(self) -> str:
        return self.config.get("architecture", "")

    @property
    def run_config(self) -> dict:
        """Entrypoint, Cmd, Env, WorkingDir, User, ExposedPorts (the config's ``config``)."""
        return self.config.get("config") or {}

    def to_json(self) -> dict:
        rc = self.run_config
        return {"id": self.id, "refs": self.refs, "names": [familiar(r) for r in self.refs],
                "repoDigests": self.repo_digests, "size": self.size, "layers": self.layers,
                "architecture": self.architecture, "os": self.config.get("os", ""),
                "builtin": self.builtin,
                "config": {k: rc.get(k) for k in ("Entrypoint", "Cmd", "Env", "WorkingDir", "User",
                                                  "ExposedPorts", "Labels") if rc.get(k) is not None}}


class ImageStore:
    """The images one node holds. ``base`` is a read-only store beneath (the built-in images)."""

    def __init__(self, root: str | os.PathLike[str], base: "ImageStore | None" = None,
                 readonly: bool = False) -> None:
        self.root = Path(root)
        self.base = base
        self.readonly = readonly
        # What was read from disk, as containerd keeps its metadata in memory: a burst of pod starts
        # looks an image up several times per container, and re-reading and parsing every config and
        # layer record each time was most of the kubelet's CPU in a burst. refs.json and
        # repodigests.json are re-read when their stat changes (`kubetui image load` writes them from
        # another process); configs and layer sizes are content-addressed, so never change.
        self._files: dict[str, tuple[tuple, object]] = {}
        self._configs: dict[str, dict] = {}
        self._sizes: dict[str, int] = {}
        self._listed: tuple[tuple, list[Image], dict[str, Image]] | None = None

    # -- paths -------------------------------------------------------------------------
    def layer_dir(self, diff_id: str) -> Path:
        return self.root / "blobs" / "sha256" / diff_id.split(":", 1)[-1]

    def _config_path(self, image_id: str) -> Path:
        return self.root / "configs" / "sha256" / (image_id.split(":", 1)[-1] + ".json")

    def containers_dir(self) -> Path:
        return self.root / "containers"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer at a time (the kubelet and ``kubetui image load`` may both write)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _json_file(self, name: str, default):
        """A JSON file of the store's root, parsed again only when its stat says it changed."""
        path = self.root / name
        key = _stat_key(path)
        if key is None:
            return default
        hit = self._files.get(name)
        if hit is not None and hit[0] == key:
            return hit[1]
        value = json.loads(path.read_bytes())
        self._files[name] = (key, value)
        return value

    def _refs(self) -> dict[str, str]:
        try:
            return dict(self._json_file("refs.json", {}))
        except FileNotFoundError:
            return {}
        except ValueError as e:
            raise ImageStoreError(f"image store {self.root}: refs.json is corrupt: {e}") from e

    def _write_refs(self, refs: dict[str, str]) -> None:
        tmp = self.root / f".refs.{secrets.token_hex(4)}"
        tmp.write_text(json.dumps(refs, indent=1, sort_keys=True))
        os.replace(tmp, self.root / "refs.json")

    def _repo_digests(self) -> dict[str, list[str]]:
        try:
            return {k: list(v) for k, v in self._json_file("repodigests.json", {}).items()}
        except (OSError, ValueError, AttributeError):
            return {}

    def _layer_size(self, diff_id: str) -> int:
        size = self._sizes.get(diff_id)
        if size is not None:
            return size
        try:
            size = int(json.loads((self.layer_dir(diff_id).with_suffix(".json")).read_text())["size"])
        except (OSError, ValueError, KeyError):
            return 0                # not (yet) there: asked again next time
        self._sizes[diff_id] = size
        return size

    # -- reading -----------------------------------------------------------------------
    def _image(self, image_id: str, refs: list[str]) -> Image | None:
        config = self._configs.get(image_id)
        if config is None or not self._config_path(image_id).exists():
            try:
                config = json.loads(self._config_path(image_id).read_bytes())
            except (OSError, ValueError):
                self._configs.pop(image_id, None)
                return None
            self._configs[image_id] = config
        diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
        return Image(id=image_id, refs=sorted(refs), layers=diff_ids, config=config,
                     size=sum(self._layer_size(d) for d in diff_ids),
                     layer_dirs=[str(self.layer_dir(d)) for d in diff_ids],
                     builtin=self.readonly, repo_digests=self._repo_digests().get(image_id, []))

    def _own_images(self) -> list[Image]:
        by_id: dict[str, list[str]] = {}
        for ref, iid in self._refs().items():
            by_id.setdefault(iid, []).append(ref)
        out = []
        for iid, refs in sorted(by_id.items()):
            img = self._image(iid, refs)
            if img is not None:
                out.append(img)
        return out

    def _state(self) -> tuple:
        """What the listing depends on: the stat of refs.json and repodigests.json (here and below)."""
        key = (_stat_key(self.root / "refs.json"), _stat_key(self.root / "repodigests.json"))
        return key + (self.base._state(),) if self.base is not None else key

    def _listing(self) -> tuple[list[Image], dict[str, Image]]:
        """Every image and an index by name, made again only when the store changed: a container
        start looks its image up three times (the kubelet's image manager, CreateContainer, its
        config), and building the list each time was a fifth of a busy kubelet's Python time."""
        state = self._state()
        if self._listed is None or self._listed[0] != state:
            images = self._list_uncached()
            self._listed = (state, images, {r: i for i in reversed(images) for r in i.refs})
        return self._listed[1], self._listed[2]

    def list(self) -> list[Image]:
        """Every image, those loaded into this node first, then the built-in ones."""
        return [_copy(i) for i in self._listing()[0]]

    def _list_uncached(self) -> list[Image]:
        own = self._own_images()
        seen = {r for i in own for r in i.refs}
        if self.base is not None:
            for img in self.base.list():
                img.refs = [r for r in img.refs if r not in seen]
                if img.refs:
                    own.append(img)
        return own

    def resolve(self, ref: str) -> Image | None:
        """The image a reference names: a name (``nginx``, ``nginx:1.27``, ``docker.io/...``),
        ``name@sha256:...`` (a repo digest), or an image ID (``sha256:...`` or 12+ hex digits)."""
        ref = ref.strip()
        want_id = None
        if _DIGEST.match(ref):
            want_id = ref
        elif re.fullmatch(r"[0-9a-f]{12,64}", ref):
            want_id = ref
        images, by_ref = self._listing()
        if want_id:
            for img in images:
                if img.id == want_id or img.id.split(":", 1)[1].startswith(want_id):
                    return _copy(img)
            return None
        try:
            norm = normalize(ref)
        except ImageStoreError:
            return None
        if "@" in norm:
            name, _, digest = norm.partition("@")
            for img in images:
                if any(rd.endswith("@" + digest) for rd in img.repo_digests) or img.id == digest:
                    return _copy(img)
            return None
        img = by_ref.get(norm)
        return _copy(img) if img is not None else None

    def disk_usage(self) -> dict:
        """What the images use on this node: each layer counted once however many images share it."""
        layers: dict[str, int] = {}
        images = self.list()
        for img in images:
            if img.builtin:
                continue
            for d in img.layers:
                layers[d] = self._layer_size(d)
        return {"images": len(images), "layers": len(layers), "bytes": sum(layers.values()),
                "root": str(self.root)}

    # -- removing ----------------------------------------------------------------------
    def containers_using(self, image_id: str) -> list[str]:
        """The containers whose root filesystem is built on this image (``runtime.rootfs``)."""
        out = []
        d = self.containers_dir()
        if not d.is_dir():
            return out
        for c in d.iterdir():
            try:
                if (c / "image").read_text().strip() == image_id:
                    out.append(c.name)
            except OSError:
                continue
        return out

    def remove(self, ref_or_id: str) -> dict:
        """Untag a name (and delete the image when no name is left), or delete an image by ID.

        Refused while a container uses it, in Docker's words. Layers no remaining image uses
        are deleted. Returns ``{"untagged": [...], "deleted": [...]}``.
        """
        with self._locked():
            refs = self._refs()
            img = self.resolve(ref_or_id)
            if img is None:
                raise ImageStoreError(f"No such image: {ref_or_id}")
            if img.builtin:
                raise ImageStoreError(f"image {familiar(img.refs[0]) if img.refs else img.id} is built into "
                                      f"the node image and cannot be removed")
            by_id = ref_or_id.strip().startswith("sha256:") or bool(re.fullmatch(r"[0-9a-f]{12,64}", ref_or_id))
            untag = [r for r, i in refs.items() if i == img.id] if by_id else [normalize(ref_or_id)]
            remaining = [r for r, i in refs.items() if i == img.id and r not in untag]
            if not remaining:
                users = self.containers_using(img.id)
                if users:
                    raise ImageInUse(f'conflict: unable to remove repository reference "{ref_or_id}" '
                                     f"(must force) - container {users[0][:12]} is using its referenced "
                                     f"image {img.id.split(':', 1)[1][:12]}")
            for r in untag:
                refs.pop(r, None)
            self._write_refs(refs)
            deleted = []
            if not remaining:
                self._config_path(img.id).unlink(missing_ok=True)
                deleted.append(img.id)
                rd = self._repo_digests()
                if rd.pop(img.id, None) is not None:
                    (self.root / "repodigests.json").write_text(json.dumps(rd))
                deleted += self._remove_unused_layers()
                self._remove_mountpoint_layers(img.id)
            return {"untagged": untag, "deleted": deleted}

    def _remove_mountpoint_layers(self, image_id: str) -> None:
        """The runtime's mount point layers of a removed image (``imagerun.mountpoint_layer``)."""
        d = self.root / "mountpoints"
        for marker in d.glob("*.image") if d.is_dir() else []:
            try:
                if marker.read_text().strip() == image_id:
                    _rmtree(marker.with_suffix(""))
                    marker.unlink(missing_ok=True)
            except OSError:
                continue

    def _remove_unused_layers(self) -> list[str]:
        used = {d.split(":", 1)[-1] for img in self._own_images() for d in img.layers}
        gone = []
        blobs = self.root / "blobs" / "sha256"
        if not blobs.is_dir():
            return gone
        for p in blobs.iterdir():
            if p.is_dir() and p.name not in used and _HEX.match(p.name):
                _rmtree(p)
                p.with_suffix(".json").unlink(missing_ok=True)
                gone.append("sha256:" + p.name)
        return gone

    # -- importing ---------------------------------------------------------------------
    def import_archive(self, path: str | os.PathLike[str], tags: list[str] | None = None) -> list[Image]:
        """Import every image in a ``docker save`` tar or an OCI image layout tar (either may be
        gzip-compressed). ``tags`` names an untagged image (an OCI layout without ref names)."""
        import tarfile  # here, not at the top: the node agent imports this module at start (idle memory)
        if self.readonly:
            raise ImageStoreError(f"image store {self.root} is read-only")
        try:
            outer = tarfile.open(path, "r:*")
        except FileNotFoundError:
            raise ImageStoreError(f"open {path}: no such file or directory") from None
        except (tarfile.TarError, EOFError, OSError, zlib_error()) as e:
            raise ImageStoreError(f"{path} is not an image archive (a docker save or OCI tar): {_one_line(e)}") from None
        with outer:
            try:
                members = {posixpath.normpath(m.name.lstrip("/")): m for m in outer.getmembers()}
            except (tarfile.TarError, EOFError, OSError, zlib_error()) as e:
                raise ImageStoreError(f"{path}: archive is truncated or corrupt: {e}") from None
            reader = _ArchiveReader(outer, members, str(path))
            if "manifest.json" in members:
                entries = reader.docker_entries()
            elif "index.json" in members:
                entries = reader.oci_entries(node_architecture())
            else:
                raise ImageStoreError(f"{path} is not an image archive: no manifest.json (docker save) "
                                      f"or index.json (OCI layout) in it")
            with self._locked():
                created: list[Path] = []
                try:
                    results = [self._import_one(reader, e, tags, created) for e in entries]
                except BaseException:
                    for d in created:           # nothing half-imported: new layers go again
                        if not any(d.name in (l.split(":", 1)[-1]) for i in self._own_images() for l in i.layers):
                            _rmtree(d)
                            d.with_suffix(".json").unlink(missing_ok=True)
                    raise
        return results

    def _import_one(self, reader: "_ArchiveReader", entry: dict, tags: list[str] | None,
                    created: list[Path]) -> Image:
        config_bytes = entry["config"]
        image_id = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
        if entry.get("config_digest") and entry["config_digest"] != image_id:
            raise ImageStoreError(f"{reader.path}: config {entry['config_name']} does not match its digest "
                                  f"{entry['config_digest']} (corrupt archive)")
        try:
            config = json.loads(config_bytes)
            diff_ids = list(config["rootfs"]["diff_ids"])
        except (ValueError, KeyError, TypeError) as e:
            raise ImageStoreError(f"{reader.path}: image config is not valid: {e}") from None
        if len(diff_ids) != len(entry["layers"]):
            raise ImageStoreError(f"{reader.path}: the manifest lists {len(entry['layers'])} layers, "
                                  f"the config {len(diff_ids)}")
        for diff_id, (name, blob_digest) in zip(diff_ids, entry["layers"]):
            if not _DIGEST.match(diff_id or ""):
                raise ImageStoreError(f"{reader.path}: bad layer digest {diff_id!r} in the config")
            final = self.layer_dir(diff_id)
            if final.is_dir():
                continue                        # unpacked once, shared by every image using it
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.root / "tmp" / f"layer-{secrets.token_hex(6)}"
            tmp.mkdir(parents=True)
            try:
                got, size = reader.unpack_layer(name, blob_digest, tmp)
                if got != diff_id:
                    raise ImageStoreError(f"{reader.path}: layer {name} has digest {got}, the config says "
                                          f"{diff_id} (corrupt archive)")
                (final.with_suffix(".json")).write_text(json.dumps({"size": size}))
                os.rename(tmp, final)
                created.append(final)
            finally:
                if tmp.exists():
                    _rmtree(tmp)
        cpath = self._config_path(image_id)
        cpath.parent.mkdir(parents=True, exist_ok=True)
        if not cpath.exists():
            t = cpath.with_suffix(".tmp")
            t.write_bytes(config_bytes)
            os.replace(t, cpath)
        names = [normalize(t) for t in (entry["refs"] or tags or [])]
        refs = self._refs()
        for n in names:
            refs[n] = image_id
        self._write_refs(refs)
        if entry.get("manifest_digest") and names:
            # name@sha256:<manifest digest>: what a pull by digest resolves (containerd's RepoDigests)
            digests = [f"{n.rsplit(':', 1)[0]}@{entry['manifest_digest']}" for n in names]
            rd = self._repo_digests()
            rd[image_id] = sorted(set(rd.get(image_id, []) + digests))
            (self.root / "repodigests.json").write_text(json.dumps(rd))
        img = self._image(image_id, names)
        assert img is not None
        log.info("imported %s (%s, %d layers)", ", ".join(map(familiar, names)) or image_id,
                 image_id[:19], len(diff_ids))
        return img


def node_store(root: str = NODE_ROOT, builtin: str = BUILTIN_ROOT) -> ImageStore:
    """This node's store: what was loaded into it over what the node image brings."""
    base = ImageStore(builtin, readonly=True) if Path(builtin).is_dir() else None
    return ImageStore(root, base=base)


# -- the command line the host runs inside a node (kubetui image load|ls) ------------------
def main(argv: list[str] | None = None) -> int:
    import argparse
    p = argparse.ArgumentParser(prog="python3 -m kubetui.runtime.imagestore",
                                description="the node's image store (what `kubetui image` runs in a node)")
    p.add_argument("--root", default=NODE_ROOT)
    p.add_argument("--builtin-root", default=BUILTIN_ROOT)
    sub = p.add_subparsers(dest="cmd", required=True)
    imp = sub.add_parser("import", help="import a docker save or OCI archive (- reads stdin)")
    imp.add_argument("file")
    imp.add_argument("--tag", action="append", default=[], help="name an untagged image")
    ls = sub.add_parser("ls", help="list images")
    ls.add_argument("--json", action="store_true")
    rm = sub.add_parser("rm", help="untag or remove an image")
    rm.add_argument("ref")
    sub.add_parser("df", help="disk usage")
    a = p.parse_args(argv)
    store = node_store(a.root, a.builtin_root)
    try:
        if a.cmd == "import":
            path = a.file
            spool = None
            if path == "-":
                (store.root / "tmp").mkdir(parents=True, exist_ok=True)
                spool = store.root / "tmp" / f"stdin-{secrets.token_hex(6)}.tar"
                with open(spool, "wb") as f:
                    shutil.copyfileobj(sys.stdin.buffer, f, 1 << 20)
                path = str(spool)
            try:
                images = store.import_archive(path, tags=a.tag or None)
            finally:
                if spool:
                    spool.unlink(missing_ok=True)
            out = {"images": [i.to_json() for i in images]}
        elif a.cmd == "ls":
            images = store.list()
            if not a.json:
                for i in images:
                    for r in i.refs:
                        print(f"{familiar(r):50} {i.id.split(':', 1)[1][:12]}  {i.size / 1e6:8.1f}MB"
                              f"{'  (built in)' if i.builtin else ''}")
                return 0
            out = {"images": [i.to_json() for i in images], "usage": store.disk_usage()}
        elif a.cmd == "rm":
            out = store.remove(a.ref)
        else:
            out = store.disk_usage()
    except ImageStoreError as e:
        print(f"error: {_one_line(e)}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"error: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        return 1
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
